"""The one error type of the model layer: a bad input, named by its field."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

LONGEST = 1000
"""Characters of an error's text (``field: message``) shown; the rest is cut, so a message quoting a hostile
value stays readable."""
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""Control characters, line and paragraph separators and lone surrogates: never part of a name or an id (the
readers refuse them there) and shown escaped in an error's text."""


class InputError(ValueError):
    """Raised for input that cannot be evaluated; ``field`` is the path of the offending value.

    Paths read like the portfolio document: ``instruments.BTC-PERP.tiers[1].mmr`` or
    ``accounts[0] (id 'alice').positions[2].size``. Layers above prefix the path as the error travels
    up (see :meth:`within`), so the message a user sees names the whole path.

    Its text (``str(error)``) is always one line of at most :data:`LONGEST` characters: control characters
    (a newline in a key, a NUL in a name) and lone surrogates are shown escaped, as ``\\n`` or ``\\x00``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(_one_line(f"{field}: {message}" if field else message))

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


def _one_line(text: str) -> str:
    """``text`` with control characters escaped and cut to :data:`LONGEST` characters."""
    text = UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)
    if len(text) <= LONGEST:
        return text
    return f"{text[: LONGEST - 40]}… ({len(text) - LONGEST + 40} more characters)"
