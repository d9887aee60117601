"""Seeded synthetic books with the shape of a real derivatives venue.

:func:`synthetic_book` draws a whole :class:`~crossmargin.model.Portfolio` from one seed:

- **Instruments.** ``instruments`` linear USDT-settled perpetuals (BTC-PERP, ETH-PERP, SOL-PERP on
  BTC/ETH/SOL near 60000/3000/150 USD, then ``ALTn-PERP`` on ``ALTn`` priced log-uniformly between 0.01
  and 500 USD), two inverse perpetuals (BTCUSD-PERP: 100 USD a contract, settled in BTC; ETHUSD-PERP:
  10 USD, settled in ETH) and one dated linear future (BTC-FUT). Each has a tier table scaled to its
  popularity: 4 to 8 brackets, the maintenance rate rising from 0.4%-2% to 25%-50% and the maximum
  leverage falling from 125/75/50/20 to 1-4, maintenance amounts derived by the model.
- **Collateral.** USDT (weight 1), USDC (0.98 / 0.95, liability 1.02 / 1.05), BTC (marginal bands),
  ETH (0.9 / 0.85) and SOL (0.85 / 0.8). Most accounts hold USDT, some hold coins, a few owe USDC.
- **Positions.** A heavy-tailed count per account (a geometric body and a truncated Zipf tail, mean
  about 4), instruments drawn by popularity without repetition (one-way mode), entries within
  ``entry_spread`` of the mark, about 10% isolated.
- **Leverage.** Each account has an equity scale (log-normal, median ``equity_median`` USD, sigma
  ``equity_sigma``) and a *margin usage* ``u``, uniform on [0.2, 0.9]: it sets aside ``u x scale`` as
  margin for its positions, split over them by a flat Dirichlet draw. Each position's leverage (its
  notional over the margin set aside for it, a pure number) is log-uniform from 1x to its instrument's
  maximum, capped by the bracket its notional lands in; the size is then rounded to a whole number of
  lots (at least one). An account's leverage (cross notional over cross equity) is thus about ``u`` x
  its positions' leverage (``synthetic_book(3000, seed=7)``: median 5.2x, 90th percentile 17x).
- **Health at t = 0.** Every account is solvent unless asked otherwise (``distressed_share``, default
  0): its cross collateral, valued at the *initial* weights (USD), is the margin set aside for its cross
  positions divided by ``u`` (its equity scale, less the part set aside for isolated positions) but at
  least their initial margin / 0.9, plus their unrealized losses (profits come on top, uncounted), and at
  least 10 USD; each isolated position holds an initial margin x U(1.2, 3) (settle units) and its loss is
  kept under 90 % of what that margin holds beyond IM / 0.9, the margin raised where needed to also cover
  IM / 0.9 with IM valued at the entry price (venues that value isolated initial margin at entry). So
  every pool's initial equity is at least its initial margin / 0.9 (initial margin at most 90 % of it,
  at the mark, and at the entry for an isolated position): every account meets its initial margin,
  and, maintenance margin never exceeding initial margin, its equity is at least 1.11 x its maintenance
  margin: none is liquidatable under a liquidation threshold up to 1.11 (the shipped rulebooks' highest
  is 1.05). A ``distressed_share`` of accounts (each account independently with that probability) instead
  has its cross equity (maintenance weights) drawn uniformly between 0.8 and 1.2 x its cross maintenance
  margin (about half of them below it) and its isolated losses between 90 % and 110 % of what each
  margin holds beyond the maintenance margin, so that screening has work to do at once.

Units: sizes in contracts (``contract_size`` units of the underlying for a linear contract, of USD for
an inverse one), marks in settle units per underlying (USD per coin for an inverse contract), balances
and isolated margins in asset units, money in the base currency (USD) unless named otherwise.

Every number is drawn in float64 with NumPy in vectorized batches and then quantized to a lot, tick or
asset quantum: each ``Decimal`` is an integer mantissa times a power of ten, so it is short and exact.
The same seed gives an equal portfolio; the instruments and the market come from the seed alone (not
the number of accounts).
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from crossmargin.model import (
    Account,
    Asset,
    ContractKind,
    Instrument,
    Market,
    Portfolio,
    Position,
    Side,
    TierSpec,
    TierTable,
    WeightBand,
    WeightSchedule,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BASE = "USD"
RULEBOOK = "generic"
FUTURE_EXPIRY = datetime(2026, 3, 27, 8, tzinfo=UTC)
"""BTC-FUT's expiry: the quarterly contract a few months after the book's reference date, 2026-01-02."""


@dataclass(frozen=True)
class BookShape:
    """The knobs of a synthetic book (shares are fractions of accounts or positions, money in USD).

    Positions per account: with probability ``tail_share`` a truncated Zipf draw (exponent
    ``tail_exponent`` on 1..``max_positions``), else a geometric draw with success probability
    ``geometric_p``; never more than there are instruments. The defaults give a mean of about 4.
    ``distressed_share`` (in [0, 1], default 0: every account solvent at t = 0) is each account's
    probability of starting around its maintenance margin (see the module doc).
    """

    geometric_p: float = 0.35
    tail_share: float = 0.3
    tail_exponent: float = 1.0
    max_positions: int = 30
    btc_share: float = 0.35
    eth_share: float = 0.22
    popularity_exponent: float = 1.1
    long_share: float = 0.55
    equity_median: float = 2000.0
    equity_sigma: float = 1.6
    entry_sigma: float = 0.05
    entry_spread: float = 0.15
    isolated_share: float = 0.1
    coin_share: float = 0.3
    usdc_share: float = 0.08
    liability_share: float = 0.03
    distressed_share: float = 0.0


DEFAULT_SHAPE = BookShape()

_BASIS_POINT = Decimal("0.0001")
_FIRST_MMR_BP = {125: 40, 75: 50, 50: 100, 20: 200}
"""The first bracket's maintenance rate, in basis points, by the instrument's maximum leverage."""
_BRACKET_GROWTH = 3.5
_FIRST_CAP_PER_SHARE = 1_000_000.0
"""First bracket's cap in USD per unit of popularity share (BTC's 35% share: 350 000 USD)."""
_MIN_FIRST_CAP = 5_000.0
_LOT_VALUE = 100.0
"""A linear contract's lot is the largest power of ten of the underlying worth at most this (USD)."""
_MIN_COLLATERAL = 10.0
"""The least weighted collateral (USD) an account is given, whatever its unrealized PnL."""
_USAGE = (0.2, 0.9)
"""The bounds of an account's margin usage, uniform between them: the share of its equity scale it sets
aside as margin. The upper one also caps a healthy pool's initial margin at that share of its initial
equity."""
_ISOLATED_MARGIN = (1.2, 3.0)
"""An isolated position's margin over its initial margin, uniform between these."""
_EDGE = 1.0 + 1e-9
"""The initial margin's bracket is read at the notional x this, so that a float notional just below a
bracket's edge whose exact value is above it is never margined at the lower bracket's rate."""
_CHUNK = 65_536
"""Accounts per batch when drawing instruments (bounds the accounts x instruments key matrix)."""

_QUANTA = {
    "USDT": Decimal("0.01"),
    "USDC": Decimal("0.01"),
    "BTC": Decimal("0.000001"),
    "ETH": Decimal("0.00001"),
    "SOL": Decimal("0.001"),
}
"""The smallest unit of each collateral asset: balances and isolated margins are multiples of it."""


def _bands(*rows: tuple[int, str]) -> WeightSchedule:
    """A weight schedule from ``(from_amount, weight)`` rows (asset units, fraction)."""
    return WeightSchedule(tuple(WeightBand(Decimal(start), Decimal(weight)) for start, weight in rows))


ASSETS: dict[str, Asset] = {
    "USDT": Asset.simple("USDT"),
    "USDC": Asset("USDC", _bands((0, "0.98")), _bands((0, "0.95")), Decimal("1.02"), Decimal("1.05")),
    "BTC": Asset("BTC", _bands((0, "0.95"), (10, "0.9"), (50, "0.8")), _bands((0, "0.9"), (10, "0.85"), (50, "0.75"))),
    "ETH": Asset.simple("ETH", Decimal("0.9"), Decimal("0.85")),
    "SOL": Asset.simple("SOL", Decimal("0.85"), Decimal("0.8")),
}
"""The collateral assets of every synthetic book."""

_STABLE_PRICES = {"USDT": Decimal(1), "USDC": Decimal("0.9999")}
_MAJORS = (("BTC", 60_000.0, 125, 8), ("ETH", 3_000.0, 125, 8), ("SOL", 150.0, 75, 7))
"""Underlying, reference price (USD), maximum leverage and bracket count of the major perpetuals."""
_COINS = ("BTC", "ETH", "SOL")
_COIN_PICK = (0.5, 0.3, 0.2)
_COIN_ONLY_SHARE = 0.25
"""Of the accounts holding coins, the share holding no stablecoins."""


@dataclass(frozen=True)
class _Listing:
    """An instrument with what the generator needs: its mark and tick (mark units), its lot (contracts),
    its first bracket's maximum leverage and its popularity (share of positions)."""

    instrument: Instrument
    mark: Decimal
    tick: Decimal
    lot: Decimal
    max_leverage: int
    popularity: float


def _pow10(exponent: int) -> Decimal:
    """``10 ** exponent`` as an exact Decimal written without an exponent."""
    return Decimal(10**exponent) if exponent >= 0 else Decimal(1).scaleb(exponent)


def _significant(value: float, digits: int) -> Decimal:
    """``value`` (> 0) rounded to ``digits`` significant digits, built from an integer mantissa."""
    exponent = math.floor(math.log10(value)) - digits + 1
    return Decimal(round(value / 10.0**exponent)) * _pow10(exponent)


def _tick(price: float) -> Decimal:
    """The price step of a mark near ``price``: six significant digits (BTC at 60000: 0.1)."""
    return _pow10(math.floor(math.log10(price)) - 5)


def _on_grid(value: float, step: Decimal) -> Decimal:
    """The multiple of ``step`` nearest ``value`` (at least one step)."""
    return Decimal(max(1, round(value / float(step)))) * step


def _tier_table(rng: np.random.Generator, max_leverage: int, brackets: int, first_cap: float) -> TierTable:
    """A Binance-like table: ``brackets`` brackets from ``first_cap`` (settle units) growing 3.5x each.

    Leverage falls geometrically from ``max_leverage`` to 1-4 and the maintenance rate rises from the
    first bracket's to 50% (end leverage 1-2) or 25% (3-4), both rounded down (leverage to an integer,
    the rate to a basis point, never above the initial rate) so every bracket stays valid.
    """
    end_leverage = int(rng.integers(1, 5))
    start_bp = _FIRST_MMR_BP[max_leverage]
    end_bp = 5000 if end_leverage <= 2 else 2500
    steps = np.linspace(0.0, 1.0, brackets)
    leverages = np.floor(max_leverage * (end_leverage / max_leverage) ** steps).astype(np.int64)
    rates = np.floor(start_bp * (end_bp / start_bp) ** steps).astype(np.int64)
    leverages[0], leverages[-1] = max_leverage, end_leverage
    rates[0], rates[-1] = start_bp, end_bp
    rates = np.minimum(rates, 10_000 // leverages)
    specs = [
        TierSpec(
            None if k == brackets - 1 else _significant(first_cap * _BRACKET_GROWTH**k, 2),
            (Decimal(int(rates[k])) * _BASIS_POINT).normalize(),
            max_leverage=Decimal(int(leverages[k])),
        )
        for k in range(brackets)
    ]
    return TierTable.build(specs)


def _popularity(names: list[str], shape: BookShape) -> dict[str, float]:
    """Share of positions per instrument: BTC and ETH fixed, Zipf over the rest in ``names`` order."""
    rest = np.arange(1, len(names) - 1, dtype=np.float64) ** -shape.popularity_exponent
    rest *= (1.0 - shape.btc_share - shape.eth_share) / rest.sum()
    return dict(zip(names, [shape.btc_share, shape.eth_share, *rest.tolist()], strict=True))


def _listings(
    rng: np.random.Generator, instruments: int, shape: BookShape
) -> tuple[list[_Listing], dict[str, Decimal]]:
    """The instruments of the book and the asset and underlying prices (USD)."""
    alts = instruments - len(_MAJORS)
    prices: dict[str, Decimal] = dict(_STABLE_PRICES)
    for coin, reference, _, _ in _MAJORS:
        prices[coin] = _significant(reference * math.exp(rng.uniform(-0.03, 0.03)), 5)
    alt_prices = np.exp(rng.uniform(math.log(0.01), math.log(500.0), alts))
    for n, price in enumerate(alt_prices.tolist(), start=1):
        prices[f"ALT{n}"] = _significant(price, 5)
    ranked = [
        "BTC-PERP",
        "ETH-PERP",
        "SOL-PERP",
        "BTCUSD-PERP",
        "BTC-FUT",
        "ETHUSD-PERP",
        *(f"ALT{n}-PERP" for n in range(1, alts + 1)),
    ]
    popularity = _popularity(ranked, shape)

    def listing(
        name: str, underlying: str, inverse: bool, leverage: int, brackets: int, future: bool = False
    ) -> _Listing:
        index = float(prices[underlying])
        basis = rng.uniform(0.005, 0.02) if future else rng.normal(0.0, 0.0005)
        mark_value = index * (1.0 + basis)
        tick = _tick(mark_value)
        settle = underlying if inverse else "USDT"
        first_cap = max(_FIRST_CAP_PER_SHARE * popularity[name], _MIN_FIRST_CAP) / float(prices[settle])
        instrument = Instrument(
            name=name,
            kind=ContractKind.FUTURE if future else ContractKind.PERPETUAL,
            underlying=underlying,
            settle=settle,
            contract_size=Decimal(100 if underlying == "BTC" else 10) if inverse else Decimal(1),
            inverse=inverse,
            tiers=_tier_table(rng, leverage, brackets, first_cap),
            expiry=FUTURE_EXPIRY if future else None,
        )
        lot = Decimal(1) if inverse else _pow10(math.floor(math.log10(_LOT_VALUE / index)))
        return _Listing(instrument, _on_grid(mark_value, tick), tick, lot, leverage, popularity[name])

    listings = [listing(f"{coin}-PERP", coin, False, leverage, brackets) for coin, _, leverage, brackets in _MAJORS]
    for n in range(1, alts + 1):
        leverage, brackets = (50, 6) if n <= 6 else (20, 4 + n % 2)
        listings.append(listing(f"ALT{n}-PERP", f"ALT{n}", False, leverage, brackets))
    listings.append(listing("BTCUSD-PERP", "BTC", True, 125, 8))
    listings.append(listing("ETHUSD-PERP", "ETH", True, 75, 7))
    listings.append(listing("BTC-FUT", "BTC", False, 50, 6, future=True))
    return listings, prices


@dataclass(frozen=True)
class _Arrays:
    """Per-instrument floats (index = listing order) and the tier tables padded to one width.

    ``caps`` holds each table's finite bracket edges then +inf; ``leverage`` is ``1 / imr``.
    """

    mark: FloatArray
    contract_size: FloatArray
    lot: FloatArray
    tick: FloatArray
    inverse: BoolArray
    settle_price: FloatArray
    settle_quantum: FloatArray
    max_leverage: FloatArray
    popularity: FloatArray
    caps: FloatArray
    mmr: FloatArray
    leverage: FloatArray
    maint_amount: FloatArray

    @classmethod
    def of(cls, listings: list[_Listing], prices: dict[str, Decimal]) -> "_Arrays":
        width = max(len(item.instrument.tiers.tiers) for item in listings)
        caps = np.full((len(listings), width), np.inf)
        mmr = np.zeros((len(listings), width))
        leverage = np.ones((len(listings), width))
        maint_amount = np.zeros((len(listings), width))
        for j, item in enumerate(listings):
            for k, tier in enumerate(item.instrument.tiers.tiers):
                if tier.max_notional is not None:
                    caps[j, k] = float(tier.max_notional)
                mmr[j, k] = float(tier.mmr)
                leverage[j, k] = 1.0 / float(tier.imr)
                maint_amount[j, k] = float(tier.maint_amount)

        def column(values: list[float]) -> FloatArray:
            return np.array(values, dtype=np.float64)

        return cls(
            mark=column([float(item.mark) for item in listings]),
            contract_size=column([float(item.instrument.contract_size) for item in listings]),
            lot=column([float(item.lot) for item in listings]),
            tick=column([float(item.tick) for item in listings]),
            inverse=np.array([item.instrument.inverse for item in listings]),
            settle_price=column([float(prices[item.instrument.settle]) for item in listings]),
            settle_quantum=column([float(_QUANTA[item.instrument.settle]) for item in listings]),
            max_leverage=column([float(item.max_leverage) for item in listings]),
            popularity=column([item.popularity for item in listings]),
            caps=caps,
            mmr=mmr,
            leverage=leverage,
            maint_amount=maint_amount,
        )

    def brackets(self, instrument: IntArray, notional: FloatArray) -> IntArray:
        """The bracket of each position: the first whose cap is at least its notional (settle units)."""
        out = np.zeros(len(instrument), dtype=np.int64)
        for j in range(len(self.mark)):
            chosen = instrument == j
            out[chosen] = np.searchsorted(self.caps[j], notional[chosen], side="left")
        return out


def _position_counts(rng: np.random.Generator, accounts: int, shape: BookShape, cap: int) -> IntArray:
    """Positions per account: a geometric body mixed with a truncated Zipf tail, at most ``cap``."""
    support = np.arange(1, cap + 1)
    pmf = support.astype(np.float64) ** -shape.tail_exponent
    tail = rng.choice(support, accounts, p=pmf / pmf.sum())
    body = rng.geometric(shape.geometric_p, accounts)
    counts = np.where(rng.random(accounts) < shape.tail_share, tail, body)
    return np.minimum(counts, cap).astype(np.int64)


def _pick_instruments(rng: np.random.Generator, counts: IntArray, popularity: FloatArray) -> IntArray:
    """For each account, ``counts`` distinct instruments drawn by popularity without replacement.

    Gumbel top-k: the instruments with the largest ``log(weight) + Gumbel noise`` are a successive
    weighted sample. Returned flat, account by account, in draw order.
    """
    log_weight = np.log(popularity)
    rank = np.arange(len(popularity))
    picks = [np.empty(0, dtype=np.int64)]
    for start in range(0, len(counts), _CHUNK):
        chunk = counts[start : start + _CHUNK]
        keys = log_weight + rng.gumbel(size=(len(chunk), len(popularity)))
        order = np.argsort(-keys, axis=1)
        picks.append(order[rank < chunk[:, None]].astype(np.int64))
    return np.concatenate(picks)


def _amount_for(asset: Asset, weighted: FloatArray, side: Side = Side.MAINTENANCE) -> FloatArray:
    """Asset units whose ``side``-weighted amount is ``weighted`` (inverts the weight bands)."""
    bands = asset.schedule(side).bands
    starts = [float(band.from_amount) for band in bands]
    weights = [float(band.weight) for band in bands]
    starts.append(starts[-1] + 1e18)
    levels = [0.0]
    for k, weight in enumerate(weights):
        levels.append(levels[-1] + weight * (starts[k + 1] - starts[k]))
    return np.asarray(np.interp(weighted, levels, starts), dtype=np.float64)


def _mantissas(values: FloatArray, quantum: float | FloatArray) -> IntArray:
    """``values`` as integer multiples of ``quantum`` (nearest)."""
    return np.rint(values / quantum).astype(np.int64)


@dataclass(frozen=True)
class _Draws:
    """A drawn book before it becomes objects: integer mantissas of every Decimal.

    Positions are flat (account by account): ``instrument`` index, ``size`` in lots (signed),
    ``entry`` in ticks, ``isolated`` in settle quanta (-1: cross). ``counts`` positions per account;
    ``balances`` per asset of :data:`ASSETS`, in that asset's quanta; ``distressed`` per account.
    """

    counts: IntArray
    instrument: IntArray
    size: IntArray
    entry: IntArray
    isolated: IntArray
    balances: dict[str, IntArray]
    distressed: BoolArray


def _draw(
    rng: np.random.Generator, accounts: int, arrays: _Arrays, prices: dict[str, Decimal], shape: BookShape
) -> _Draws:
    """Draw every account of the book (see the module doc for the shape)."""
    counts = _position_counts(rng, accounts, shape, min(shape.max_positions, len(arrays.mark)))
    instrument = _pick_instruments(rng, counts, arrays.popularity)
    owner = np.repeat(np.arange(accounts), counts)
    positions = len(instrument)
    sign = np.where(rng.random(positions) < shape.long_share, 1, -1)

    # Margin posted per position (USD): a log-normal account scale split by a flat Dirichlet draw.
    scale = shape.equity_median * np.exp(shape.equity_sigma * rng.standard_normal(accounts))
    usage = rng.uniform(*_USAGE, accounts)
    split = rng.exponential(1.0, positions)
    posted = (scale * usage)[owner] * split / np.bincount(owner, split, accounts)[owner]

    # Leverage log-uniform up to the first bracket's, then capped by the bracket the notional lands in.
    leverage = np.exp(rng.uniform(0.0, 1.0, positions) * np.log(arrays.max_leverage[instrument]))
    settle_price = arrays.settle_price[instrument]
    bracket = arrays.brackets(instrument, posted * leverage / settle_price)
    leverage = np.minimum(leverage, arrays.leverage[instrument, bracket])
    target = posted * leverage / settle_price

    # Size in lots; the notional (settle units) of the quantized size.
    mark = arrays.mark[instrument]
    contract_size = arrays.contract_size[instrument]
    inverse = arrays.inverse[instrument]
    per_lot = arrays.lot[instrument] * contract_size * np.where(inverse, 1.0 / mark, mark)
    lots = np.maximum(1, np.rint(target / per_lot)).astype(np.int64)
    notional = lots * per_lot
    bracket = arrays.brackets(instrument, notional)
    maintenance = notional * arrays.mmr[instrument, bracket] - arrays.maint_amount[instrument, bracket]
    initial = notional / arrays.leverage[instrument, arrays.brackets(instrument, notional * _EDGE)]

    # Isolated margin 1.2 to 3 times the initial margin, rounded up to the settle quantum.
    distressed = rng.random(accounts) < shape.distressed_share
    isolated = rng.random(positions) < shape.isolated_share
    quantum = arrays.settle_quantum[instrument]
    margin = np.ceil(initial * rng.uniform(*_ISOLATED_MARGIN, positions) / quantum) * quantum

    # Entry price: PnL as a fraction of notional, an isolated loss kept inside what its margin holds beyond
    # IM / 0.9 (beyond the maintenance margin for the distressed), then turned into the entry and rounded in
    # the holder's favour.
    ratio = 1.0 + np.clip(rng.normal(0.0, shape.entry_sigma, positions), -shape.entry_spread, shape.entry_spread)
    gain = np.where(inverse, sign * (1.0 / ratio - 1.0), sign * (1.0 - ratio))
    room = np.where(distressed[owner], margin - maintenance, margin - initial / _USAGE[1]) / notional
    loss_share = np.where(distressed[owner], rng.uniform(0.9, 1.1, positions), rng.uniform(0.0, 0.9, positions))
    capped = np.where(distressed[owner], -loss_share * room, np.maximum(gain, -loss_share * room))
    gain = np.where(isolated, capped, gain)
    ratio = np.where(inverse, 1.0 / (1.0 + sign * gain), 1.0 - sign * gain)
    tick = arrays.tick[instrument]
    ticks = np.where(sign > 0, np.floor(mark * ratio / tick), np.ceil(mark * ratio / tick))
    lowest = np.maximum(1.0, np.ceil(mark * (1.0 - shape.entry_spread) / tick))
    entry = np.clip(ticks, lowest, np.floor(mark * (1.0 + shape.entry_spread) / tick)).astype(np.int64)
    entry_price = entry * tick
    units = sign * lots * arrays.lot[instrument] * contract_size
    pnl_settle = np.where(inverse, units * (1.0 / entry_price - 1.0 / mark), units * (mark - entry_price))
    pnl = pnl_settle * settle_price

    # A healthy isolated margin also covers its initial margin valued at the entry price (the rule of venues
    # that value isolated initial margin at entry): raised, where it falls short, to IM at entry / 0.9 plus
    # the loss. A loss's entry notional is larger than the mark's, and may sit in a higher bracket.
    at_entry = np.abs(units) * np.where(inverse, 1.0 / entry_price, entry_price)
    entry_initial = at_entry / arrays.leverage[instrument, arrays.brackets(instrument, at_entry * _EDGE)]
    floor = np.ceil((entry_initial / _USAGE[1] - np.minimum(pnl_settle, 0.0)) / quantum) * quantum
    margin = np.where(distressed[owner], margin, np.maximum(margin, floor))

    # Cross collateral: the margin set aside / usage (at least IM / 0.9) plus the losses, at the initial
    # weights (healthy), or maintenance-weighted equity around the maintenance margin (distressed).
    cross = ~isolated
    cross_maintenance = np.bincount(owner, maintenance * settle_price * cross, accounts)
    cross_pnl = np.bincount(owner, pnl * cross, accounts)
    cross_initial = np.bincount(owner, initial * settle_price * cross, accounts)
    cross_loss = np.bincount(owner, np.minimum(pnl, 0.0) * cross, accounts)
    cross_posted = np.bincount(owner, posted * cross, accounts)
    healthy = np.maximum(cross_posted / usage, cross_initial / _USAGE[1]) - cross_loss
    around = cross_maintenance * rng.uniform(0.8, 1.2, accounts) - cross_pnl
    collateral = np.maximum(np.where(distressed, around, healthy), _MIN_COLLATERAL)
    return _Draws(
        counts=counts,
        instrument=instrument,
        size=sign * lots,
        entry=entry,
        isolated=np.where(isolated, _mantissas(margin, quantum), -1),
        balances=_balances(rng, collateral, prices, shape, ~distressed),
        distressed=distressed,
    )


def _balances(
    rng: np.random.Generator,
    collateral: FloatArray,
    prices: dict[str, Decimal],
    shape: BookShape,
    initial: BoolArray,
) -> dict[str, IntArray]:
    """Balances (in asset quanta) whose weighted value is ``collateral`` (USD, per account): at the
    initial weights where ``initial`` (each balance rounded up to its quantum, so the value reaches
    ``collateral``), else at the maintenance weights (rounded to the nearest quantum).

    A few accounts owe USDC (5-30% of their collateral, made up by more of the rest); some hold one
    coin for part or all of it; some hold part of their stablecoins in USDC; USDT takes the rest.
    """
    accounts = len(collateral)
    usdc = ASSETS["USDC"]
    usdc_price = float(prices["USDC"])
    owes = rng.random(accounts) < shape.liability_share
    owed = np.where(owes, collateral * rng.uniform(0.05, 0.3, accounts), 0.0)
    liability = np.where(initial, float(usdc.initial_liability_weight), float(usdc.liability_weight))
    gross = collateral + owed * liability

    holds_coin = rng.random(accounts) < shape.coin_share
    coin_only = rng.random(accounts) < _COIN_ONLY_SHARE
    coin_part = np.where(holds_coin, np.where(coin_only, 1.0, rng.uniform(0.2, 0.9, accounts)), 0.0)
    coin = rng.choice(len(_COINS), accounts, p=_COIN_PICK)
    stable = gross * (1.0 - coin_part)
    holds_usdc = (rng.random(accounts) < shape.usdc_share) & ~owes
    usdc_part = stable * np.where(holds_usdc, rng.uniform(0.1, 0.6, accounts), 0.0)
    usdc_weight = np.where(initial, float(usdc.initial_weight.bands[0].weight), float(usdc.weight.bands[0].weight))

    def quanta(values: FloatArray, name: str) -> IntArray:
        scaled = values / float(_QUANTA[name])
        return np.where(initial, np.ceil(scaled), np.rint(scaled)).astype(np.int64)

    balances = {
        "USDT": quanta(stable - usdc_part, "USDT"),
        "USDC": quanta((usdc_part / usdc_weight - owed) / usdc_price, "USDC"),
    }
    for k, name in enumerate(_COINS):
        weighted = np.where(coin == k, gross * coin_part, 0.0) / float(prices[name])
        units = np.where(
            initial,
            _amount_for(ASSETS[name], weighted, Side.INITIAL),
            _amount_for(ASSETS[name], weighted, Side.MAINTENANCE),
        )
        balances[name] = quanta(units, name)
    return balances


def _accounts(draws: _Draws, listings: list[_Listing]) -> tuple[Account, ...]:
    """The drawn accounts as model objects (each Decimal an integer mantissa times its quantum)."""
    names = [item.instrument.name for item in listings]
    lots = [item.lot for item in listings]
    ticks = [item.tick for item in listings]
    quanta = [_QUANTA[item.instrument.settle] for item in listings]
    positions = [
        Position(
            names[j], Decimal(size) * lots[j], Decimal(entry) * ticks[j], None if m < 0 else Decimal(m) * quanta[j]
        )
        for j, size, entry, m in zip(
            draws.instrument.tolist(),
            draws.size.tolist(),
            draws.entry.tolist(),
            draws.isolated.tolist(),
            strict=True,
        )
    ]
    assets = list(draws.balances)
    asset_quanta = [_QUANTA[name] for name in assets]
    rows = zip(*(draws.balances[name].tolist() for name in assets), strict=True)
    ends = np.cumsum(draws.counts).tolist()
    width = max(7, len(str(len(ends))))
    accounts = []
    start = 0
    for i, (end, row) in enumerate(zip(ends, rows, strict=True)):
        balances = {name: Decimal(m) * q for name, q, m in zip(assets, asset_quanta, row, strict=True) if m}
        accounts.append(Account(f"acct-{i:0{width}d}", balances, tuple(positions[start:end])))
        start = end
    return tuple(accounts)


def synthetic_book(accounts: int, seed: int = 0, instruments: int = 24, shape: BookShape = DEFAULT_SHAPE) -> Portfolio:
    """A seeded synthetic book of ``accounts`` accounts on ``instruments`` linear perpetuals (at least 3)
    plus two inverse perpetuals and one dated future, base USD, rulebook ``generic``.

    The same ``seed`` (and arguments) gives an equal portfolio; the instruments and market depend only on
    ``seed``, ``instruments`` and ``shape``. See the module doc for the shape and units. With the default
    ``shape.distressed_share`` of 0 every account meets its initial margin at t = 0.
    """
    return drawn_book(accounts, seed, instruments, shape)[0]


def drawn_book(
    accounts: int, seed: int = 0, instruments: int = 24, shape: BookShape = DEFAULT_SHAPE
) -> tuple[Portfolio, frozenset[str]]:
    """:func:`synthetic_book` with the ids of the accounts drawn distressed (each with probability
    ``shape.distressed_share``; the others meet their initial margin)."""
    if accounts < 0:
        raise ValueError(f"accounts must not be negative, got {accounts}")
    if instruments < len(_MAJORS):
        raise ValueError(f"instruments must be at least {len(_MAJORS)} (BTC, ETH and SOL), got {instruments}")
    if not 0.0 <= shape.distressed_share <= 1.0:
        raise ValueError(f"distressed_share must be from 0 to 1, got {shape.distressed_share}")
    rng = np.random.default_rng(seed)
    listings, prices = _listings(rng, instruments, shape)
    arrays = _Arrays.of(listings, prices)
    draws = _draw(rng, accounts, arrays, prices, shape)
    market = Market(
        BASE,
        prices=prices,
        marks={item.instrument.name: item.mark for item in listings},
    )
    portfolio = Portfolio(
        base=BASE,
        rulebook=RULEBOOK,
        assets=dict(ASSETS),
        instruments={item.instrument.name: item.instrument for item in listings},
        market=market,
        accounts=_accounts(draws, listings),
    )
    distressed = frozenset(a.id for a, flag in zip(portfolio.accounts, draws.distressed.tolist(), strict=True) if flag)
    return portfolio, distressed
