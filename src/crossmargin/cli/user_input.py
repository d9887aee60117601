"""Values typed on the command line and the errors about them: exact decimals within the input bounds, and
every :class:`~crossmargin.model.InputError` ended as ``error: <field>: <message>`` on stderr with exit code 2,
naming the option the user typed where the lower layers know only their argument's name."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

import typer

from crossmargin.model import InputError
from crossmargin.model.numbers import bounded

USAGE_ERROR = 2


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an :class:`InputError` into ``error: <field>: <message>`` on stderr and exit code 2."""
    try:
        yield
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=USAGE_ERROR) from None


OPTION_OF_FIELD = {
    "account": "--account",
    "asset": "--withdraw",
    "instrument": "--order",
    "size": "--size",
    "price": "--price",
}


@contextmanager
def named_by_option() -> Iterator[None]:
    """Name the option in errors about a value given on the command line (the margin layer knows
    only its argument's name, e.g. ``size``; the user typed ``--size``)."""
    try:
        yield
    except InputError as err:
        option = OPTION_OF_FIELD.get(err.field)
        if option is None:
            raise
        raise InputError(option, err.message) from None


def parse_decimal(text: str, option: str) -> Decimal:
    """The exact decimal written in ``text`` (never through a float), within the input bounds of
    :func:`~crossmargin.model.numbers.bounded`; the error names ``option``."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(option, f"not a decimal number: {text!r}") from None
    return bounded(value, option)
