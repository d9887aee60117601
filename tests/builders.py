"""Small builders for test books (exact Decimals from strings)."""

from decimal import Decimal

from crossmargin.model import (
    Account,
    Asset,
    ContractKind,
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
