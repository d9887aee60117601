"""Reading a price feed: JSON lines ``{"t", "source", "symbol", "price", "confidence"?}``, numbers exact; and
reading engine events, one record a line as the service's log holds them."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from crossmargin.live.events import InboundEvent, decode_inbound
from crossmargin.model import InputError
from crossmargin.model.document_text import MAX_BYTES, decoded, parse_json
from crossmargin.model.errors import UNPRINTABLE
from crossmargin.model.numbers import bounded, shown
from crossmargin.oracle.feed import SourceUpdate

_KEYS = {"t", "source", "symbol", "price", "confidence"}

MAX_UPDATES = 100_000
"""Most updates (non-blank lines) one feed may hold, checked before any line is parsed. A replay applies
about 900 (the example book, four accounts) to 3,700 (one account) updates a second, the oracle, the exact
margin check of every account and the liquidation engine running on each, while the file is read at about
115,000 lines a second: the replay is the cost. So a replay at the limit takes half a minute to two minutes,
not the quarter of an hour a million-line feed took."""


def read_feed(path: Path) -> Iterator[SourceUpdate]:
    """The updates of the feed file at ``path``, in file order; blank lines are skipped.

    The file is UTF-8 (a byte-order mark is dropped), at most :data:`~crossmargin.model.document_text.MAX_BYTES`
    and :data:`MAX_UPDATES` lines, both checked before the first line is read; the generator raises on its
    first step. A bad line raises :class:`InputError` naming the file, the line and the field.
    """
    lines = _lines(path)
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


def read_events(path: Path) -> list[InboundEvent]:
    """The inbound events recorded in the file at ``path`` (as ``crossmargin log`` prints them), in file
    order; blank lines are skipped, a bad record raises InputError naming the file and line."""
    events = []
    for number, line in enumerate(_lines(path), start=1):
        if line.strip():
            try:
                events.append(decode_inbound(line))
            except InputError as err:
                raise err.within(f"{path}:{number}") from None
    return events


def _lines(path: Path) -> list[str]:
    """The lines of the feed file, once its size and its count of updates are known to be within the limits."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a feed") from None
    except OSError as err:
        raise InputError(str(path), f"cannot be read: {err.strerror}") from None
    lines = decoded(data, str(path)).split("\n")  # JSON lines end in \n only (a \r before it is blank)
    updates = sum(1 for line in lines if line.strip())
    if updates > MAX_UPDATES:
        raise InputError(str(path), f"holds {updates:,} updates; a replay takes at most {MAX_UPDATES:,}")
    return lines


def _number(item: dict[str, object], key: str) -> Decimal:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InputError(key, f"must be a number, got {_shown(value)}")
    return bounded(Decimal(value), key)


def _shown(value: object) -> str:
    """A feed value as an error repeats it (a number through :func:`~crossmargin.model.numbers.shown`)."""
    return shown(value) if isinstance(value, int | Decimal) and not isinstance(value, bool) else repr(value)


def _text(item: dict[str, object], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InputError(key, f"must be a string, got {_shown(value)}")
    if UNPRINTABLE.search(value):
        raise InputError(key, f"{value!r} is not printable text (control characters)")
    return value
