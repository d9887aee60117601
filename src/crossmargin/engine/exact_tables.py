"""The compiled exact path's tables: every number as a *scaled integer* (a signed 64-bit mantissa ``m`` and a
decimal exponent ``e``, the value ``m x 10**e``, read from the ``Decimal`` exactly by :func:`held`; a balance's
mantissa in two words, by :func:`held_wide`), laid out as NumPy arrays for the kernels of
:mod:`crossmargin.engine.exact_pools`.

- :class:`MarketTables` (:func:`market_tables`): per instrument its contract size, mark, settle asset, uPnL
  weights and cap, and its tiers (bound, rates, amount); per asset its price, weight bands and liability
  weights; the rulebook's verdict choices. An instrument or asset with a term the path does not follow, or a
  number of more than 18 digits, is left out (its index -1), and so is every pool that holds it.
- :class:`PoolTable`: the pools themselves (balances and positions as CSR ranges), gathered from the risk
  book's exact columns by :mod:`crossmargin.engine.book_exact`.

The path follows the linear terms (``notional x rate - amount`` per tier, weight bands, liability weights, uPnL
weights and the initial uPnL cap, settle prices, requirements at the mark or at entry, tiers by notional or by
size). It leaves to ``Decimal`` a term that is not a product of the inputs: an inverse contract or an option
(quotients, a premium), a size premium (a square root), a fee to close, open-interest caps, margin quanta
(rounding), scenario or VaR margin, volatility scaling or a margin multiplier, or uPnL inside the settle
collateral (:func:`supported_rules`). A tier's initial rate of more digits (``1 / 9``) leaves only the initial
margin to ``Decimal``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from crossmargin.margin.pools import scaled_requirements
from crossmargin.model import ContractKind, Instrument, Portfolio, RuleChoices, Side
from crossmargin.model.assets import Asset
from crossmargin.model.instruments import TierBasis
from crossmargin.model.numbers import EXACT, ZERO, exact

I64 = np.ndarray  # int64 arrays

_LARGEST = 10**18  # mantissas up to 18 digits: within a signed 64-bit word with room to spare
_WIDEST = 10**38  # up to 38 digits: within a signed 128-bit integer
NOT_HELD = 127
"""The exponent (a signed byte's largest) that marks a number the scaled integers do not hold."""


class Unsupported(Exception):
    """A number or term the compiled path does not hold exactly (the pool goes to the ``Decimal`` evaluator)."""


def split(value: Decimal) -> tuple[int, int]:
    """``(m, e)`` with ``value == m x 10**e`` exactly and ``|m| < 10**18``; :class:`Unsupported` otherwise."""
    m, e = held(value)
    if e == NOT_HELD:
        raise Unsupported(f"{value} has more than 18 digits")
    return m, e


def held(value: Decimal) -> tuple[int, int]:
    """:func:`split`'s ``(m, e)``, or ``(0, NOT_HELD)`` where ``value`` has more than 18 digits (or an exponent
    beyond a signed byte)."""
    return _within(value, _LARGEST)


def held_wide(value: Decimal) -> tuple[int, int]:
    """:func:`held` for a number of up to 38 digits (a mantissa for two 64-bit words: a ledger balance, posted to
    at 1E-18)."""
    return _within(value, _WIDEST)


def _within(value: Decimal, largest: int) -> tuple[int, int]:
    """``(m, e)`` with ``value == m x 10**e`` and ``|m| < largest``, else ``(0, NOT_HELD)``. Read from the number's
    text (plain digits, one point: half the time of Decimal's own tuple), its exponent form by the tuple."""
    if not value.is_finite():
        return 0, NOT_HELD
    text = str(value)
    if "E" in text:
        exponent = int(value.as_tuple().exponent)
        mantissa = int(value.scaleb(-exponent, EXACT))
    else:
        point = text.find(".")
        mantissa = int(text) if point < 0 else int(text[:point] + text[point + 1 :])
        exponent = 0 if point < 0 else point + 1 - len(text)
    if not -largest < mantissa < largest or not -NOT_HELD < exponent < NOT_HELD:
        return 0, NOT_HELD
    return mantissa, exponent


class _Numbers:
    """A growing column of scaled integers (mantissas and exponents)."""

    def __init__(self) -> None:
        self.m: list[int] = []
        self.e: list[int] = []

    def add(self, pair: tuple[int, int]) -> None:
        self.m.append(pair[0])
        self.e.append(pair[1])

    def arrays(self) -> tuple[I64, I64]:
        return np.array(self.m, dtype=np.int64), np.array(self.e, dtype=np.int64)


class InstrumentTable(NamedTuple):
    """Per instrument: contract size, mark, settle asset, uPnL weights (maintenance, initial), the initial uPnL
    cap (``has_cap``), whether tiers bound size; its tiers ``tier_start[i]:tier_start[i + 1]``."""

    cs_m: I64
    cs_e: I64
    mark_m: I64
    mark_e: I64
    settle: I64
    upnl_m: I64
    upnl_e: I64
    iupnl_m: I64
    iupnl_e: I64
    cap_m: I64
    cap_e: I64
    has_cap: np.ndarray
    by_size: np.ndarray
    tier_start: I64


class TierTable(NamedTuple):
    """Per tier: its bound (``open``: none), the initial rate (``im_held``: False where it has more than 18
    digits, a quotient such as ``1 / 9``, whose products the ``Decimal`` context rounds), the maintenance rate
    (with the liquidation fee rate) and the maintenance amount."""

    max_m: I64
    max_e: I64
    open: np.ndarray
    im_m: I64
    im_e: I64
    im_held: np.ndarray
    mm_m: I64
    mm_e: I64
    amount_m: I64
    amount_e: I64


class AssetTable(NamedTuple):
    """Per asset: price; per side (0 maintenance, 1 initial) and asset its weight bands
    ``band_lo[s, a]:band_hi[s, a]`` and its liability weight."""

    price_m: I64
    price_e: I64
    band_lo: I64
    band_hi: I64
    from_m: I64
    from_e: I64
    weight_m: I64
    weight_e: I64
    liability_m: I64
    liability_e: I64


class PoolTable(NamedTuple):
    """Per pool: whether it is valued (``eligible``), haircut, isolated; its balances (a mantissa of two words,
    :mod:`crossmargin.engine.wide_integers`, up to 38 digits) and its positions (CSR ranges)."""

    eligible: np.ndarray
    haircut: np.ndarray
    isolated: np.ndarray
    balance_start: I64
    balance_asset: I64
    balance_hi: np.ndarray
    balance_lo: np.ndarray
    balance_e: I64
    position_start: I64
    instrument: I64
    size_m: I64
    size_e: I64
    entry_m: I64
    entry_e: I64


class ChoiceTable(NamedTuple):
    """The rulebook's verdict: threshold, ``<=`` with positions, verdict without a requirement; and whether each
    requirement is valued at entry (``at_entry[side, isolated]``)."""

    threshold_m: int
    threshold_e: int
    at_equality: bool
    without_requirement: bool
    at_entry: np.ndarray


def supported_rules(rules: RuleChoices, portfolio: Portfolio) -> bool:
    """Whether pools under ``rules`` at ``portfolio``'s market can be valued by the compiled path at all."""
    return not (
        rules.scenario_margin is not None
        or rules.var_floor is not None
        or rules.pnl_in_settle_collateral
        or scaled_requirements(rules, portfolio)
    )


def _supported_instrument(instrument: Instrument) -> bool:
    return not (
        instrument.inverse
        or instrument.kind is ContractKind.OPTION
        or instrument.imf_factor
        or instrument.close_fee_rate
        or instrument.open_interest_caps is not None
        or instrument.margin_quantum is not None
    )


class _Builder:
    """Collects a portfolio's instruments, assets and pools as the compiled path's tables."""

    def __init__(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self.instruments: dict[str, int] = {}
        self.assets: dict[str, int] = {}
        self.bad_instruments: set[str] = set()
        self.bad_assets: set[str] = set()
        self.ins = {name: _Numbers() for name in ("cs", "mark", "upnl", "iupnl", "cap")}
        self.settle: list[int] = []
        self.has_cap: list[bool] = []
        self.by_size: list[bool] = []
        self.tier_start = [0]
        self.tiers = {name: _Numbers() for name in ("max", "im", "mm", "amount")}
        self.open: list[bool] = []
        self.initial_held: list[bool] = []
        self.price = _Numbers()
        self.bands: list[list[tuple[int, int]]] = [[], []]
        self.band = {name: _Numbers() for name in ("from", "weight")}
        self.liability = [_Numbers(), _Numbers()]

    @staticmethod
    def _remembered(known: dict[str, int], refused: set[str], name: str, make: Callable[[str], int]) -> int:
        """``make(name)``'s index in the tables, made once (a refusal is remembered too)."""
        if name in refused:
            raise Unsupported(name)
        if name not in known:
            try:
                known[name] = make(name)
            except Unsupported:
                refused.add(name)
                raise
        return known[name]

    def asset(self, name: str) -> int:
        return self._remembered(self.assets, self.bad_assets, name, self._asset)

    def instrument(self, name: str) -> int:
        return self._remembered(
            self.instruments, self.bad_instruments, name, lambda n: self._instrument(self.portfolio.instruments[n])
        )

    def _asset(self, name: str) -> int:
        market = self.portfolio.market
        if name != market.base and name not in market.prices:  # an asset no account holds may go unpriced
            raise Unsupported(f"{name}: no price")
        price = market.price(name)
        asset: Asset | None = self.portfolio.assets.get(name)
        m, e = split(price)
        rows: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]] = []
        liabilities = []
        for side in (Side.MAINTENANCE, Side.INITIAL):
            if asset is None:  # a settle asset held by no pool's balances: its weights are never read
                rows.append(([], []))
                liabilities.append((1, 0))
                continue
            if asset.imf_factor:
                raise Unsupported(f"{name}: size-discounted weights")
            bands = asset.schedule(side).bands
            rows.append(([split(b.from_amount) for b in bands], [split(b.weight) for b in bands]))
            liabilities.append(split(asset.liability(side)))
        index = len(self.price.m)
        self.price.add((m, e))
        for s, (froms, weights) in enumerate(rows):
            start = len(self.band["from"].m)
            for pair, weight in zip(froms, weights, strict=True):
                self.band["from"].add(pair)
                self.band["weight"].add(weight)
            self.bands[s].append((start, len(self.band["from"].m)))
            self.liability[s].add(liabilities[s])
        return index

    def _instrument(self, spec: Instrument) -> int:
        if not _supported_instrument(spec):
            raise Unsupported(f"{spec.name}: a term outside the compiled path")
        if spec.name not in self.portfolio.market.marks:  # an instrument no account holds may go unmarked
            raise Unsupported(f"{spec.name}: no mark")
        settle = self.asset(spec.settle)
        values = {
            "cs": split(spec.contract_size),
            "mark": split(self.portfolio.market.mark(spec.name)),
            "upnl": split(spec.upnl_weight),
            "iupnl": split(spec.initial_upnl_weight),
            "cap": split(spec.initial_upnl_cap if spec.initial_upnl_cap is not None else ZERO),
        }
        tiers = []
        with exact():
            for tier in spec.tiers.tiers:
                try:
                    initial, initial_held = split(tier.imr), True
                except Unsupported:  # a rate of more digits (1 / max leverage): the initial margin goes to Decimal
                    initial, initial_held = (0, 0), False
                tiers.append(
                    (
                        split(tier.max_notional if tier.max_notional is not None else ZERO),
                        initial,
                        split(tier.mmr + spec.liquidation_fee_rate),
                        split(tier.maint_amount),
                        tier.max_notional is None,
                        initial_held,
                    )
                )
        index = len(self.settle)
        for name, pair in values.items():
            self.ins[name].add(pair)
        self.settle.append(settle)
        self.has_cap.append(spec.initial_upnl_cap is not None)
        self.by_size.append(spec.tier_basis is TierBasis.SIZE)
        for bound, im, mm, amount, is_open, initial_held in tiers:
            for name, pair in (("max", bound), ("im", im), ("mm", mm), ("amount", amount)):
                self.tiers[name].add(pair)
            self.open.append(is_open)
            self.initial_held.append(initial_held)
        self.tier_start.append(len(self.open))
        return index

    def instrument_table(self) -> InstrumentTable:
        cs, mark, upnl, iupnl, cap = (self.ins[n].arrays() for n in ("cs", "mark", "upnl", "iupnl", "cap"))
        return InstrumentTable(
            *cs, *mark, np.array(self.settle, dtype=np.int64), *upnl, *iupnl, *cap,
            np.array(self.has_cap, dtype=np.bool_), np.array(self.by_size, dtype=np.bool_),
            np.array(self.tier_start, dtype=np.int64),
        )  # fmt: skip

    def tier_table(self) -> TierTable:
        bound, im, mm, amount = (self.tiers[n].arrays() for n in ("max", "im", "mm", "amount"))
        held = np.array(self.initial_held, dtype=np.bool_)
        return TierTable(*bound, np.array(self.open, dtype=np.bool_), *im, held, *mm, *amount)

    def asset_table(self) -> AssetTable:
        count = len(self.price.m)
        lo = np.zeros((2, count), dtype=np.int64)
        hi = np.zeros((2, count), dtype=np.int64)
        liability_m = np.zeros((2, count), dtype=np.int64)
        liability_e = np.zeros((2, count), dtype=np.int64)
        for s in (0, 1):
            for a, (start, end) in enumerate(self.bands[s]):
                lo[s, a], hi[s, a] = start, end
            liability_m[s], liability_e[s] = self.liability[s].arrays()
        return AssetTable(*self.price.arrays(), lo, hi, *self.band["from"].arrays(), *self.band["weight"].arrays(),
                          liability_m, liability_e)  # fmt: skip


def _choices(rules: RuleChoices) -> ChoiceTable:
    m, e = split(rules.liquidation_threshold)
    at_entry = np.array(
        [[rules.margin_valuation.at_entry(side, isolated) for isolated in (False, True)]
         for side in (Side.MAINTENANCE, Side.INITIAL)],
        dtype=np.bool_,
    )  # fmt: skip
    return ChoiceTable(m, e, rules.liquidate_at_equality, rules.liquidate_without_requirement, at_entry)


@dataclass(frozen=True)
class MarketTables:
    """The market side of the compiled path: instruments (with their marks), tiers, assets (with their prices)
    and the rulebook's choices; and where each of a list of instrument and asset names sits in them
    (``instrument_map``, ``asset_map``; -1 where the path does not hold it, e.g. an inverse contract)."""

    instruments: InstrumentTable
    tiers: TierTable
    assets: AssetTable
    choices: ChoiceTable
    instrument_map: np.ndarray
    asset_map: np.ndarray


def market_tables(
    portfolio: Portfolio, rules: RuleChoices, instrument_names: Sequence[str], asset_names: Sequence[str]
) -> MarketTables:
    """The market tables of ``portfolio``'s instruments and assets at its market, under ``rules`` (whose
    threshold raises :class:`Unsupported` where it has more than 18 digits)."""
    builder = _Builder(portfolio)

    def index(add: Callable[[str], int], name: str) -> int:
        try:
            return add(name)
        except Unsupported:
            return -1

    instrument_map = np.array([index(builder.instrument, n) for n in instrument_names], dtype=np.int64)
    asset_map = np.array([index(builder.asset, n) for n in asset_names], dtype=np.int64)
    return MarketTables(
        builder.instrument_table(), builder.tier_table(), builder.asset_table(), _choices(rules), instrument_map,
        asset_map,
    )  # fmt: skip
