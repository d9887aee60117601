"""The recorded-responses format read by ``crossmargin import VENUE --from-file`` (docs/import.md).

One JSON object: ``venue`` (a ccxt exchange id), one key per ccxt method called holding exactly what that
method returned (ccxt's unified structures, each with the venue's own payload under ``info``), and optionally
``raw`` (a venue endpoint's payload by endpoint name), ``sources`` and ``notes`` (fixtures only, ignored).

Reading checks the shape the importer relies on and nothing more; a bad value raises
:class:`~crossmargin.model.InputError` naming its path in the file, e.g. ``fetch_positions[1].entryPrice``.
Numbers are read exactly: a JSON number or a numeric string (the venues' own payloads write numbers as text)
becomes the ``Decimal`` of its text; an empty string or ``null`` is an absent value.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from crossmargin.model import InputError
from crossmargin.model.numbers import bounded

VENUES = ("binanceusdm", "binancecoinm", "bybit", "okx", "hyperliquid", "dydx")
"""The ccxt exchange ids crossmargin imports."""

REQUIRED = ("fetch_positions", "fetch_balance", "fetch_markets")
"""Methods every recording holds."""

IGNORED = ("sources", "notes")
"""Keys of a fixture that say where its figures came from; the importer does not read them."""


@dataclass(frozen=True)
class Responses:
    """One venue's recorded ccxt responses, checked for shape (values are the parsed JSON, numbers exact).

    ``markets`` is ``fetch_markets`` keyed by unified symbol; ``tiers`` is ``fetch_leverage_tiers`` (symbol
    -> tiers); ``tickers`` is ``fetch_tickers`` with ``fetch_mark_prices`` entries filling what it lacks;
    ``calls`` every method recorded, by name, as recorded.
    """

    venue: str
    positions: tuple[Mapping[str, Any], ...]
    balance: Mapping[str, Any]
    markets: Mapping[str, Mapping[str, Any]]
    tiers: Mapping[str, Sequence[Mapping[str, Any]]]
    tickers: Mapping[str, Mapping[str, Any]]
    raw: Mapping[str, Any]
    calls: Mapping[str, Any]

    def market(self, symbol: str, field: str) -> Mapping[str, Any]:
        """The market of ``symbol``; an error naming ``field`` when ``fetch_markets`` lacks it."""
        try:
            return self.markets[symbol]
        except KeyError:
            raise InputError(field, f"no market {symbol!r} in fetch_markets (record the markets held)") from None

    def per_symbol(self, method: str, symbol: str) -> Mapping[str, Any] | None:
        """The entry for ``symbol`` of a per-symbol method's mapping (``fetch_leverages``,
        ``fetch_margin_modes``), None when the method or the symbol was not recorded."""
        entries = self.calls.get(method)
        if not isinstance(entries, Mapping):
            return None
        entry = entries.get(symbol)
        return entry if isinstance(entry, Mapping) else None


def read_responses(data: Any) -> Responses:
    """Check a parsed recording and return its :class:`Responses`; errors name the offending path."""
    record = mapping_at(data, "")
    venue = text(record, "venue", "")
    if venue is None:
        raise InputError("venue", f"required: the ccxt exchange id, one of {', '.join(VENUES)}")
    if venue not in VENUES:
        raise InputError("venue", f"unknown venue {venue!r}; crossmargin imports {', '.join(VENUES)}")
    for key in record:
        if key not in ("venue", "raw", *IGNORED) and not key.startswith("fetch_"):
            raise InputError(key, "not a key of a recording (venue, fetch_<method>, raw, sources, notes)")
    for method in REQUIRED:
        if record.get(method) is None:
            raise InputError(method, f"required: what ccxt's {method} returned")
    positions = tuple(
        mapping_at(entry, f"fetch_positions[{i}]") for i, entry in enumerate(listing(record, "fetch_positions"))
    )
    markets: dict[str, Mapping[str, Any]] = {}
    for i, entry in enumerate(listing(record, "fetch_markets")):
        where = f"fetch_markets[{i}]"
        market = mapping_at(entry, where)
        symbol = required_text(market, "symbol", where)
        if symbol in markets:
            raise InputError(f"{where}.symbol", f"market {symbol!r} recorded twice")
        markets[symbol] = market
    tiers = {
        symbol: tuple(mapping_at(tier, f"fetch_leverage_tiers.{symbol}[{j}]") for j, tier in enumerate(entries))
        for symbol, entries in _symbol_lists(record, "fetch_leverage_tiers").items()
    }
    marks = _symbol_mappings(record, "fetch_mark_prices")
    tickers = {**marks, **_symbol_mappings(record, "fetch_tickers")}
    for symbol, ticker in tickers.items():
        if symbol in marks:
            filled = {k: v for k, v in marks[symbol].items() if ticker.get(k) is None}
            tickers[symbol] = {**ticker, **filled}
    raw = {} if record.get("raw") is None else record["raw"]
    if not isinstance(raw, Mapping):
        raise InputError("raw", f"must be a mapping of endpoint name -> payload, got {_kind(raw)}")
    return Responses(
        venue=venue,
        positions=positions,
        balance=mapping_at(record["fetch_balance"], "fetch_balance"),
        markets=markets,
        tiers=tiers,
        tickers=tickers,
        raw=raw,
        calls={key: value for key, value in record.items() if key.startswith("fetch_")},
    )


def _symbol_mappings(record: Mapping[str, Any], method: str) -> dict[str, Mapping[str, Any]]:
    entries = record.get(method) or {}
    found = mapping_at(entries, method)
    return {symbol: mapping_at(value, f"{method}.{symbol}") for symbol, value in found.items()}


def _symbol_lists(record: Mapping[str, Any], method: str) -> dict[str, Sequence[Any]]:
    entries = mapping_at(record.get(method) or {}, method)
    lists: dict[str, Sequence[Any]] = {}
    for symbol, value in entries.items():
        if not isinstance(value, list):
            raise InputError(f"{method}.{symbol}", f"must be a list, got {_kind(value)}")
        lists[symbol] = value
    return lists


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def mapping_at(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping; else an error naming ``where``."""
    if not isinstance(value, Mapping):
        raise InputError(where, f"must be a mapping, got {_kind(value)}")
    return value


def listing(record: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
    """``record[key]`` if it is a list (absent or null: empty); else an error naming the key's path."""
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(_path(where, key), f"must be a list, got {_kind(value)}")
    return value


def text(record: Mapping[str, Any], key: str, where: str) -> str | None:
    """``record[key]`` as text; None when absent, null or empty. A number is written as its text."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InputError(_path(where, key), f"must be text, got {_kind(value)}")
    return str(value)


def required_text(record: Mapping[str, Any], key: str, where: str) -> str:
    """``record[key]`` as text; an error naming it when absent."""
    value = text(record, key, where)
    if value is None:
        raise InputError(_path(where, key), "required")
    return value


def number(record: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    """``record[key]`` as an exact decimal: a JSON number or a numeric string; None when absent, null or ``""``.
    NaN, infinities, booleans, other text and numbers beyond the document's bounds are errors naming the path."""
    value = record.get(key)
    field = _path(where, key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputError(field, f"must be a number, got {value!r}")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, float):
        value = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise InputError(field, f"must be a number, got {value!r}") from None
    if not isinstance(value, Decimal):
        raise InputError(field, f"must be a number, got {_kind(value)}")
    return bounded(value, field)


def required_number(record: Mapping[str, Any], key: str, where: str) -> Decimal:
    """``record[key]`` as an exact decimal (see :func:`number`); an error naming it when absent."""
    value = number(record, key, where)
    if value is None:
        raise InputError(_path(where, key), "required: a number")
    return value


def positive_number(record: Mapping[str, Any], key: str, where: str) -> Decimal:
    """``record[key]`` as an exact decimal > 0; an error naming it when absent or not positive."""
    value = required_number(record, key, where)
    if value <= 0:
        raise InputError(_path(where, key), f"must be positive, got {value}")
    return value


def flag(record: Mapping[str, Any], key: str, where: str) -> bool | None:
    """``record[key]`` as a boolean (``true``/``false``, or the text ``"true"``/``"false"``); None when absent."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(_path(where, key), f"must be true or false, got {value!r}")
