"""The one error type of the model layer: a bad input, named by its field."""

from collections.abc import Iterator
from contextlib import contextmanager


class InputError(ValueError):
    """Raised for input that cannot be evaluated; ``field`` is the path of the offending value.

    Paths read like the portfolio document: ``instruments.BTC-PERP.tiers[1].mmr`` or
    ``accounts[0] (id 'alice').positions[2].size``. Layers above prefix the path as the error travels
    up (see :meth:`within`), so the message a user sees names the whole path.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def within(self, prefix: str) -> "InputError":
        """The same error with ``prefix`` put in front of its field path."""
        if not self.field:
            return InputError(prefix, self.message)
        joiner = "" if self.field.startswith("[") else "."
        return InputError(f"{prefix}{joiner}{self.field}", self.message)


@contextmanager
def field_prefix(prefix: str) -> Iterator[None]:
    """Put ``prefix`` in front of the field of any :class:`InputError` raised in the block."""
    try:
        yield
    except InputError as err:
        raise err.within(prefix) from None
