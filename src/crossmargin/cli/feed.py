"""Reading a price feed: JSON lines ``{"t", "source", "symbol", "price", "confidence"?}``, numbers exact."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from crossmargin.model import InputError
from crossmargin.model.document_text import parse_json
from crossmargin.oracle.feed import SourceUpdate

_KEYS = {"t", "source", "symbol", "price", "confidence"}


def read_feed(path: Path) -> Iterator[SourceUpdate]:
    """The updates of the feed file at ``path``, in file order; blank lines are skipped.

    A bad line raises :class:`InputError` naming the file, the line and the field.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(str(path), f"cannot be read: {err.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        item = parse_json(line, where)
        if not isinstance(item, dict):
            raise InputError(where, "a feed line is a JSON object")
        unknown = set(item) - _KEYS
        if unknown:
            raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown key (t, source, symbol, price, confidence)")
        try:
            yield SourceUpdate(
                t=_number(item, "t"),
                source=_text(item, "source"),
                symbol=_text(item, "symbol"),
                price=_number(item, "price"),
                confidence=None if item.get("confidence") is None else _number(item, "confidence"),
            )
        except InputError as err:
            raise err.within(where) from None


def _number(item: dict[str, object], key: str) -> Decimal:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InputError(key, f"must be a number, got {value!r}")
    return Decimal(value)


def _text(item: dict[str, object], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InputError(key, f"must be a string, got {value!r}")
    return value
