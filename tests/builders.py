"""Small builders for test books (exact Decimals from strings), and for hostile input: the files every reader
(document, feed, scenario, parameter set) must take or refuse in one line ``error: <field>: <message>``."""

import json
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from crossmargin.model import (
    Account,
    Asset,
    ContractKind,
    InputError,
    Instrument,
    Market,
    Portfolio,
    Position,
    RuleChoices,
    TierSpec,
    TierTable,
    WeightBand,
    WeightSchedule,
    exact,
)
from crossmargin.model.errors import LONGEST

GENERIC = RuleChoices("generic")


def div(a: Decimal | int | str, b: Decimal | int | str) -> Decimal:
    """``a / b`` at the ledger's precision (the default context has only 28 digits)."""
    with exact():
        return Decimal(a) / Decimal(b)


def D(text: str | int) -> Decimal:
    """An exact Decimal."""
    return Decimal(str(text))


def tiers(*rows: tuple[str | None, str, str]) -> TierTable:
    """Brackets from (max_notional, mmr, imr) rows, maintenance amounts derived."""
    return TierTable.build([TierSpec(None if m is None else D(m), D(mmr), imr=D(imr)) for m, mmr, imr in rows])


ONE_TIER = tiers((None, "0.004", "0.008"))
COIN_TIER = tiers((None, "0.005", "0.01"))
BINANCE_LIKE = tiers(("50000", "0.004", "0.008"), ("250000", "0.005", "0.01"), (None, "0.01", "0.02"))


def linear(name: str, underlying: str = "BTC", settle: str = "USDT", size: str = "1", table: TierTable = ONE_TIER):
    return Instrument(name, ContractKind.PERPETUAL, underlying, settle, D(size), False, table)


def inverse(name: str, underlying: str = "BTC", size: str = "100", table: TierTable = COIN_TIER):
    return Instrument(name, ContractKind.PERPETUAL, underlying, underlying, D(size), True, table)


def banded(name: str, bands: list[tuple[str, str]], initial: list[tuple[str, str]] | None = None) -> Asset:
    """An asset with marginal weight bands [(from_amount, weight)]."""
    schedule = WeightSchedule(tuple(WeightBand(D(a), D(w)) for a, w in bands))
    initial_schedule = (
        schedule if initial is None else WeightSchedule(tuple(WeightBand(D(a), D(w)) for a, w in initial))
    )
    return Asset(name, schedule, initial_schedule)


def position(instrument: str, size: str, entry: str, isolated_margin: str | None = None) -> Position:
    return Position(instrument, D(size), D(entry), None if isolated_margin is None else D(isolated_margin))


def book(
    assets: list[Asset],
    instruments: list[Instrument],
    prices: dict[str, str],
    marks: dict[str, str],
    accounts: list[tuple[str, dict[str, str], list[Position]]],
    base: str = "USD",
) -> Portfolio:
    """A portfolio from plain parts."""
    return Portfolio(
        base=base,
        rulebook="generic",
        assets={a.name: a for a in assets},
        instruments={i.name: i for i in instruments},
        market=Market(base, {k: D(v) for k, v in prices.items()}, {k: D(v) for k, v in marks.items()}),
        accounts=tuple(
            Account(i, {k: D(v) for k, v in balances.items()}, tuple(positions)) for i, balances, positions in accounts
        ),
    )


# --- hostile input ---------------------------------------------------------------------------------------

TINY, HUGE, LONG = "1e-999999999", "1e999999999", "1" * 5000
HOSTILE_BOOK = """\
version: 1
base: USD
assets:
  USDT: {weight: 1}
  BTC: {weight: 0.95, initial_weight: 0.9}
instruments:
  BTC-PERP:
    kind: perpetual
    underlying: BTC
    settle: USDT
    contract_size: 1
    tiers: [{max_notional: null, mmr: 0.004, imr: 0.008}]
prices: {USDT: 1, BTC: 20000}
marks: {BTC-PERP: 20000}
accounts:
  - id: alice
    balances: {USDT: 1000}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
"""
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_runner = CliRunner()


def invoke(args: list[str]) -> Result:
    """The real ``crossmargin`` command, in process."""
    from crossmargin.cli.main import app  # the command line loads only for the tests that run it

    return _runner.invoke(app, args)


def assert_refused(result: Result, field: str | None = None, words: str = "") -> str:
    """Exit code 2, nothing on stdout, and exactly one line ``error: <field>: <message>`` on stderr."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("error: ") and "Traceback" not in line and "Usage:" not in line
    if field is not None:
        assert line.startswith(f"error: {field}: "), line
    assert words in line, line
    return line


def controls(text: str) -> list[str]:
    """The control characters, line and paragraph separators and lone surrogates in ``text``."""
    return [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")]


def assert_one_line(error: InputError) -> None:
    """The error's text is one line of at most LONGEST characters without control characters, its field first."""
    text = str(error)
    assert not controls(text) and len(text) <= LONGEST, text
    if error.field and not controls(error.field):
        assert text.startswith(f"{error.field}: "), text


def write(path: Path, content: str | bytes) -> Path:
    """``content`` written to ``path`` (text as UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


class Raw(str):
    """Text written into a JSON document as it is (a hostile number literal)."""


def as_json(value: Any) -> str:
    """``value`` as JSON text; a :class:`Raw` is written verbatim, a Decimal in plain notation."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {as_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(as_json(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar of a parsed file with its path of keys and indices."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def numeric(value: Any) -> list[tuple[Any, ...]]:
    """The paths of the numbers (not booleans) of a parsed file."""
    return [path for path, leaf in leaves(value) if isinstance(leaf, int | Decimal) and not isinstance(leaf, bool)]


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {key: replaced(item, rest, new) if key == head else item for key, item in value.items()}
    return [replaced(item, rest, new) if index == head else item for index, item in enumerate(value)]


def dotted(path: tuple[Any, ...], accounts: list[Any] | None = None) -> str:
    """A path as crossmargin's errors write it: keys joined by dots, indices in brackets, and in a portfolio
    document an account named by its id: ``accounts[1] (id 'hedged').positions[0].size``."""
    text = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            text += f"[{part}]"
            if accounts is not None and i == 1 and path[0] == "accounts":
                text += f" (id {str(accounts[part]['id'])!r})"
        else:
            text += f".{part}" if text else str(part)
    return text


# Literals every reader must refuse wherever a number goes: outside the input boundary.
OUT_OF_BOUNDS_JSON = [TINY, HUGE, LONG, "0." + LONG, "-" + LONG, "1e-31", "1e30", "9" * 51, "NaN", "-Infinity"]
OUT_OF_BOUNDS_YAML = ["1.0e-999999999", "1.0e+999999999", LONG, "0." + LONG, "1.0e-31", ".nan", ".inf", "-.inf"]
# Anything else a number could be replaced by; each may be accepted or refused.
OTHER = [
    "-0",
    "0",
    "-1",
    "1e-30",
    "0.1",
    "true",
    "null",
    '"abc"',
    '"1e-999999999"',
    "[]",
    "{}",
    '"\\u0000"',
    "[[[[1]]]]",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**60), 10**60) | st.text(max_size=8) | st.sampled_from(OTHER).map(Raw),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


def mutated_text(data: st.DataObject, text: str) -> str:
    """``text`` with a few edits: a slice deleted or repeated, random text put in."""
    draw = data.draw
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        edit = draw(st.sampled_from(["delete", "repeat", "insert"]))
        if edit == "delete":
            text = text[:start] + text[end:]
        elif edit == "repeat":
            text = text[:end] + text[start:end] + text[end:]
        else:
            text = text[:start] + draw(st.text(max_size=20)) + text[start:]
    return text
