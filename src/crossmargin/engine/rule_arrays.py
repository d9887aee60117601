"""The margin rules as float64 arrays: the kernels' view of the same rule data the exact evaluator reads.

Every instrument's tier table, fee terms, size premium, uPnL weights and rounding, every asset's weight
bands, liability weights and size discount, and the rulebook's choices (liquidation threshold and ``<=``,
requirement-free pools, margin valuation, uPnL inside the settle collateral) are copied here from the model
objects (never restated), padded to a common width, into typed namedtuples of arrays (:class:`RuleArrays`,
built once a book) that a kernel takes as one argument; the terms the market sets (open-interest scaling,
the volatility multiplier) are worked by their exact forms into :class:`MarketArrays`. Numba types a
namedtuple by its fields and caches kernels taking one. :mod:`crossmargin.engine.terms` evaluates each term;
the tests hold the kernels equal to :mod:`crossmargin.margin` on random books.

A term no instrument of a book uses (every instrument at the value that leaves it out: no fee, no size premium,
uPnL at full weight, no quantum...) can be handed to a kernel as a :class:`Uniform` instead of its array
(:func:`trimmed`, by groups of terms): Numba then compiles the kernel for that value, as a constant, and the
term drops out of the loop (one compiled kernel per set of such groups, each cached on disk).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from crossmargin.margin.positions import open_interest_rate
from crossmargin.margin.volatility import requirement_multiplier
from crossmargin.model import Asset, Instrument, Market, RuleChoices, Side
from crossmargin.model.instruments import TierBasis
from crossmargin.model.numbers import ZERO, exact
from crossmargin.model.rules import MarginValuation

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
INDEX = npt.NDArray[np.integer[Any]]  # index arrays of any integer width
B1 = npt.NDArray[np.bool_]


class InstrumentTerms(NamedTuple):
    """Per instrument ``i`` and bracket ``k`` (padded with an unreachable edge of +inf): what the kernels read."""

    contract_size: F64
    inverse: B1
    size_basis: B1  # tier_basis: size
    settle: INDEX  # index into the asset arrays (unsigned: no check for a negative index)
    edges: F64  # [i, k] upper edge of bracket k (+inf for the last)
    mmr: F64
    imr: F64
    amount: F64
    liquidation_fee: F64
    close_fee: F64
    imf: F64
    upnl_weight: F64
    initial_upnl_weight: F64
    upnl_cap: F64  # +inf: no cap
    quantum: F64  # margin_quantum; 0: exact
    maintenance_fraction: F64  # nan: none


class InstrumentArrays(InstrumentTerms):
    """:class:`InstrumentTerms` with the instruments' names, a plain attribute the kernels never see: Numba
    types a namedtuple by its fields, and a tuple of names among them would be unboxed on every call."""

    names: tuple[str, ...]

    def index(self, name: str) -> int:  # type: ignore[override]  # a name's row, not tuple.index
        """Position of instrument ``name`` in the arrays."""
        return self.names.index(name)


@dataclass(frozen=True)
class Uniform:
    """One value of an instrument term that every instrument holds, standing in for the term's array: ``u[i]`` is
    ``value`` for every ``i``. Its Numba type carries the value (:mod:`crossmargin.engine.terms`), so a kernel
    reading it is compiled with the value as a constant."""

    value: float | bool

    def __getitem__(self, index: object) -> float | bool:
        """The value, whatever the index (an instrument, or an instrument and a bracket)."""
        return self.value


NEUTRAL: dict[str, float | bool] = {
    "inverse": False,
    "size_basis": False,
    "liquidation_fee": 0.0,
    "close_fee": 0.0,
    "imf": 0.0,
    "quantum": 0.0,
    "maintenance_fraction": math.nan,
    "upnl_weight": 1.0,
    "initial_upnl_weight": 1.0,
    "upnl_cap": math.inf,
}
"""Each instrument term that can be left out, and the value at which it is: a linear contract, brackets by
notional, no fees, no size premium (nor discount of a profit), no rounding, no maintenance fraction, uPnL at
full weight without a cap."""

TERM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("inverse",),
    ("size_basis", "liquidation_fee", "close_fee", "imf", "quantum", "maintenance_fraction"),
    ("upnl_weight", "initial_upnl_weight", "upnl_cap"),
)
"""The terms of :data:`NEUTRAL` in the groups :func:`trimmed` leaves out together (a group only when no
instrument uses any of its terms), so that a kernel is compiled for at most eight sets of terms, however the
books vary: the contract's form, the requirement's extras, the weighting of uPnL."""


class Trimmed(InstrumentArrays):
    """:class:`InstrumentArrays` with the groups of terms no instrument uses (:data:`TERM_GROUPS`) held as
    :class:`Uniform` values (:func:`trimmed`). Numba types it once, not on every call
    (:mod:`crossmargin.engine.terms`)."""


def _held_at(values: npt.NDArray[Any], value: float | bool) -> bool:
    """Whether every entry of ``values`` is ``value`` (NaN: every entry NaN)."""
    return bool(np.isnan(values).all() if math.isnan(value) else (values == value).all())


def trimmed(arrays: InstrumentArrays) -> InstrumentArrays:
    """``arrays`` with each group of :data:`TERM_GROUPS` whose every term every instrument holds at its neutral
    value (:data:`NEUTRAL`) as :class:`Uniform` values: a kernel given these is compiled without those terms
    and computes the same floats (the same formulas on the same values)."""
    unused = {
        name
        for group in TERM_GROUPS
        if all(_held_at(getattr(arrays, name), NEUTRAL[name]) for name in group)
        for name in group
    }
    columns = (
        Uniform(NEUTRAL[name]) if name in unused else column
        for name, column in zip(arrays._fields, arrays, strict=True)
    )
    lean = Trimmed._make(columns)
    lean.names = arrays.names
    return lean


class AssetTerms(NamedTuple):
    """Per asset ``a`` and weight band ``b`` (padded with +inf starts), for each side: what the kernels read."""

    band_from: F64  # [a, b]
    weight: F64  # [side, a, b] marginal weight; side 0 maintenance, 1 initial
    offset: F64  # [side, a, b]: weighted(x) = offset + weight x on band b
    liability: F64  # [side, a]
    imf: F64  # [a]


class AssetArrays(AssetTerms):
    """:class:`AssetTerms` with the assets' names (as :class:`InstrumentArrays`)."""

    names: tuple[str, ...]

    def index(self, name: str) -> int:  # type: ignore[override]  # a name's row, not tuple.index
        """Position of asset ``name`` in the arrays."""
        return self.names.index(name)


class ChoiceArrays(NamedTuple):
    """The rulebook's choices the kernels read (:class:`~crossmargin.model.RuleChoices`)."""

    threshold: float  # liquidation_threshold
    at_equality: bool  # liquidate_at_equality
    without_requirement: bool  # liquidate_without_requirement
    at_entry: B1  # margin_valuation: [mode, side], mode 0 cross, 1 isolated; side 0 maintenance, 1 initial
    folded: bool  # pnl_in_settle_collateral


class RuleArrays(NamedTuple):
    """Every rule the kernels read, built once from the model objects and passed as one argument."""

    instruments: InstrumentArrays
    assets: AssetArrays
    choices: ChoiceArrays
    in_use: InstrumentArrays  # the instruments' terms without those no instrument uses (:func:`trimmed`)


class MarketArrays(NamedTuple):
    """The market and the rule terms it sets, per instrument (``marks``, and per bracket ``initial_rate``: the
    initial rate after open-interest scaling; ``scale``: the multiplier of both requirements, volatility
    scaling's x the market's margin multiplier of the underlying, 1 without either) and per asset (``prices``,
    base currency)."""

    marks: F64
    prices: F64
    initial_rate: F64
    scale: F64


SIDES = (Side.MAINTENANCE, Side.INITIAL)


def valuation_table(valuation: MarginValuation) -> B1:
    """``[mode, side]``: whether a requirement values its position at the entry price (else at the mark);
    mode 0 cross, 1 isolated; side 0 maintenance, 1 initial (the kernels' side order)."""
    return np.array(
        [[valuation.at_entry(side, isolated) for side in SIDES] for isolated in (False, True)], dtype=np.bool_
    )


def instrument_arrays(instruments: Mapping[str, Instrument], assets: Sequence[str]) -> InstrumentArrays:
    """The float arrays of every instrument; ``assets`` gives the order settle assets are indexed in."""
    items = list(instruments.values())
    width = max((len(i.tiers.tiers) for i in items), default=1)
    n = len(items)

    def table(fill: float) -> F64:
        return np.full((n, width), fill, dtype=np.float64)

    edges, mmr, imr, amount = table(np.inf), table(0.0), table(1.0), table(0.0)
    for row, instrument in enumerate(items):
        for k, tier in enumerate(instrument.tiers.tiers):
            edges[row, k] = (
                np.inf
                if tier.max_notional is None or k == len(instrument.tiers.tiers) - 1
                else float(tier.max_notional)
            )
            mmr[row, k], imr[row, k], amount[row, k] = float(tier.mmr), float(tier.imr), float(tier.maint_amount)
        for k in range(len(instrument.tiers.tiers), width):
            mmr[row, k], imr[row, k], amount[row, k] = mmr[row, k - 1], imr[row, k - 1], amount[row, k - 1]

    def column(values: Sequence[float]) -> F64:
        return np.array(values, dtype=np.float64)

    def optional(value: object, absent: float) -> float:
        return absent if value is None else float(value)  # type: ignore[arg-type]

    arrays = InstrumentArrays(
        contract_size=column([float(i.contract_size) for i in items]),
        inverse=np.array([i.inverse for i in items], dtype=np.bool_),
        size_basis=np.array([i.tier_basis is TierBasis.SIZE for i in items], dtype=np.bool_),
        settle=np.array([assets.index(i.settle) for i in items], dtype=np.uint16),
        edges=edges,
        mmr=mmr,
        imr=imr,
        amount=amount,
        liquidation_fee=column([float(i.liquidation_fee_rate) for i in items]),
        close_fee=column([float(i.close_fee_rate) for i in items]),
        imf=column([float(i.imf_factor) for i in items]),
        upnl_weight=column([float(i.upnl_weight) for i in items]),
        initial_upnl_weight=column([float(i.initial_upnl_weight) for i in items]),
        upnl_cap=column([optional(i.initial_upnl_cap, np.inf) for i in items]),
        quantum=column([optional(i.margin_quantum, 0.0) for i in items]),
        maintenance_fraction=column([optional(i.tiers.maintenance_fraction, np.nan) for i in items]),
    )
    arrays.names = tuple(instruments)
    return arrays


def asset_arrays(assets: Mapping[str, Asset]) -> AssetArrays:
    """The float arrays of every asset's weights."""
    items = list(assets.values())
    starts = [sorted({b.from_amount for side in SIDES for b in a.schedule(side).bands}) for a in items]
    width = max((len(s) for s in starts), default=1)
    n = len(items)
    band_from = np.full((n, width), np.inf, dtype=np.float64)
    weight = np.zeros((2, n, width), dtype=np.float64)
    offset = np.zeros((2, n, width), dtype=np.float64)
    liability = np.ones((2, n), dtype=np.float64)
    for a, asset in enumerate(items):
        for b, start in enumerate(starts[a]):
            band_from[a, b] = float(start)
            for s, side in enumerate(SIDES):
                schedule = asset.schedule(side)
                weight[s, a, b] = float(schedule.weight_at(start))
                offset[s, a, b] = float(schedule.weighted_amount(start) - schedule.weight_at(start) * start)
        for s, side in enumerate(SIDES):
            liability[s, a] = float(asset.liability(side))
    arrays = AssetArrays(
        band_from=band_from,
        weight=weight,
        offset=offset,
        liability=liability,
        imf=np.array([float(a.imf_factor) for a in items], dtype=np.float64),
    )
    arrays.names = tuple(assets)
    return arrays


def choice_arrays(rules: RuleChoices) -> ChoiceArrays:
    """The rule choices the kernels read."""
    return ChoiceArrays(
        threshold=float(rules.liquidation_threshold),
        at_equality=rules.liquidate_at_equality,
        without_requirement=rules.liquidate_without_requirement,
        at_entry=valuation_table(rules.margin_valuation),
        folded=rules.pnl_in_settle_collateral,
    )


def rule_arrays(assets: Mapping[str, Asset], instruments: Mapping[str, Instrument], rules: RuleChoices) -> RuleArrays:
    """Every rule of a book as the kernels read it (instruments' settle assets indexed in ``assets``' order)."""
    terms = instrument_arrays(instruments, list(assets))
    return RuleArrays(terms, asset_arrays(assets), choice_arrays(rules), trimmed(terms))


def initial_rates(arrays: InstrumentArrays, instruments: Mapping[str, Instrument], market: Market) -> F64:
    """``[i, k]``: bracket ``k``'s initial rate after open-interest scaling at ``market``'s open interest, by
    the exact :func:`~crossmargin.margin.positions.open_interest_rate` (rounded down to ``rate_quantum``)."""
    rates = arrays.imr.copy()
    for i, name in enumerate(arrays.names):
        instrument = instruments[name]
        if instrument.open_interest_caps is None:
            continue
        interest = market.open_interest.get(name, ZERO)
        with exact():
            for k, tier in enumerate(instrument.tiers.tiers):
                rates[i, k] = float(open_interest_rate(instrument, tier.imr, interest))
        rates[i, len(instrument.tiers.tiers) :] = rates[i, len(instrument.tiers.tiers) - 1]
    return rates


def unless_unpriced(market: Market, asset: str) -> float:
    """``asset``'s price in base currency, 0 where the market has none: then no account holds it and no
    position settles in it (a portfolio refuses either without a price), so the price is read nowhere until
    a tick gives one."""
    return float(market.price(asset)) if asset == market.base or asset in market.prices else 0.0


def market_arrays(
    arrays: RuleArrays, instruments: Mapping[str, Instrument], market: Market, rules: RuleChoices
) -> MarketArrays:
    """``market`` as the kernels read it: marks (1 for an instrument without one), prices (0 for an asset
    without one: :func:`unless_unpriced`), the initial rates
    after open-interest scaling and each instrument's requirement multiplier (:func:`scales`)."""
    t = arrays.instruments
    return MarketArrays(
        marks=np.array([float(market.marks.get(name, 1)) for name in t.names], dtype=np.float64),
        prices=np.array([unless_unpriced(market, a) for a in arrays.assets.names], dtype=np.float64),
        initial_rate=initial_rates(t, instruments, market),
        scale=scales(t.names, instruments, market, rules),
    )


def scales(names: Sequence[str], instruments: Mapping[str, Instrument], market: Market, rules: RuleChoices) -> F64:
    """Each named instrument's requirement multiplier (volatility scaling x the market's margin multiplier of
    its underlying), by the exact :func:`~crossmargin.margin.volatility.requirement_multiplier`."""
    scaling = rules.volatility_scaling
    with exact():
        values = [float(requirement_multiplier(market, instruments[n].underlying, scaling)) for n in names]
    return np.array(values, dtype=np.float64)
