"""Rule choices and liquidation terms: what a rulebook decides beyond its tables.

Tables (tiers, weights) live on the assets and instruments; these are the few decisions that differ
between venues and are read by the margin maths (:class:`RuleChoices`) or kept for the liquidation
engine (:class:`LiquidationTerms`).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from crossmargin.model.assets import Side
from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, finite, within


class PriceMove(StrEnum):
    """What moves when a liquidation price is solved for."""

    UNDERLYING = "underlying"  # every mark and collateral price on the position's underlying
    INSTRUMENT = "instrument"  # the position's own mark only (Binance's published formula)


class Valuation(StrEnum):
    """The price a margin requirement values a position at."""

    MARK = "mark"  # the instrument's mark: the requirement follows the market
    ENTRY = "entry"  # the position's entry price: fixed until the position changes


@dataclass(frozen=True)
class MarginValuation:
    """The price each margin requirement values a position at, by side and margin mode.

    A requirement's notional (settle units) is ``|size| x contract_size x price`` (inverse: ``/ price``)
    with the price the position's mark or its entry price; that notional picks the requirement's bracket
    and is multiplied by its rates. The fee to close is at the entry's bankruptcy price either way. Bybit
    valued every requirement at entry until 2 Sep 2025; since then (and on OKX) cross requirements and
    isolated maintenance follow the mark while isolated initial margin stays at entry
    (docs/venues/bybit-uta.md §4.3, docs/venues/okx.md §4.3).
    """

    cross_initial: Valuation = Valuation.MARK
    cross_maintenance: Valuation = Valuation.MARK
    isolated_initial: Valuation = Valuation.MARK
    isolated_maintenance: Valuation = Valuation.MARK

    def at_entry(self, side: Side, isolated: bool) -> bool:
        """Whether the ``side`` requirement of an isolated (else cross) position is valued at its entry price."""
        if isolated:
            choice = self.isolated_initial if side is Side.INITIAL else self.isolated_maintenance
        else:
            choice = self.cross_initial if side is Side.INITIAL else self.cross_maintenance
        return choice is Valuation.ENTRY


@dataclass(frozen=True)
class ScenarioMargin:
    """Scenario (portfolio) margin, as Deribit's portfolio margin and CME SPAN compute it: a pool's
    maintenance margin is the worst loss of its positions over a grid of moves, plus add-ons.

    - ``moves``: relative moves of each underlying's price (every mark on it moves with it; options are
      repriced), e.g. -0.16 .. +0.16; ``vol_shocks``: relative changes of every option volatility on it
      (-0.3: 30 % lower), each combined with every move.
    - ``short_option_minimum``: an underlying's worst loss is at least this share of the underlying
      notional of the options sold on it (a far out-of-the-money short still needs margin).
    - ``delta_addon``: this share of the underlying's net delta notional (its positions' deltas at the
      price) is added; ``concentration_rate`` x the gross notional above ``concentration_threshold``
      (base currency) is added per underlying.
    - ``correlation_credit`` in [0, 1]: underlyings offset each other only up to this share: the grid
      part is ``sum W - credit x (sum W - max W)`` over the underlyings' worst losses ``W``.
    - ``initial_factor`` (>= 1): initial margin is maintenance x this.
    """

    moves: tuple[Decimal, ...]
    vol_shocks: tuple[Decimal, ...] = (ZERO,)
    short_option_minimum: Decimal = ZERO
    delta_addon: Decimal = ZERO
    concentration_threshold: Decimal | None = None
    concentration_rate: Decimal = ZERO
    correlation_credit: Decimal = ZERO
    initial_factor: Decimal = ONE

    def __post_init__(self) -> None:
        if not self.moves:
            raise InputError("scenario_margin.moves", "give at least one move")
        for k, move in enumerate(self.moves):
            if finite(move, f"scenario_margin.moves[{k}]") <= -1:
                raise InputError(f"scenario_margin.moves[{k}]", f"a price cannot fall by 100 % or more, got {move}")
        if not self.vol_shocks:
            raise InputError("scenario_margin.vol_shocks", "give at least one shock (0: none)")
        for k, shock in enumerate(self.vol_shocks):
            if finite(shock, f"scenario_margin.vol_shocks[{k}]") <= -1:
                raise InputError(f"scenario_margin.vol_shocks[{k}]", f"a volatility cannot fall by 100 %, got {shock}")
        within(self.short_option_minimum, ZERO, ONE, "scenario_margin.short_option_minimum")
        within(self.delta_addon, ZERO, ONE, "scenario_margin.delta_addon")
        within(self.concentration_rate, ZERO, ONE, "scenario_margin.concentration_rate")
        within(self.correlation_credit, ZERO, ONE, "scenario_margin.correlation_credit")
        if (
            self.concentration_threshold is not None
            and finite(self.concentration_threshold, "scenario_margin.concentration_threshold") < 0
        ):
            raise InputError("scenario_margin.concentration_threshold", "must not be negative")
        if finite(self.initial_factor, "scenario_margin.initial_factor") < 1:
            raise InputError("scenario_margin.initial_factor", f"must be at least 1, got {self.initial_factor}")


@dataclass(frozen=True)
class VarFloor:
    """Maintenance margin at least the pool's value at risk: the delta-normal VaR at ``level`` over
    ``horizon_days`` of its positions' deltas and its balances, each asset's daily volatility its
    annualized ``vols`` entry (at moneyness 1) over sqrt(365), correlated by the market's correlations."""

    level: Decimal
    horizon_days: Decimal = ONE

    def __post_init__(self) -> None:
        if not ZERO < finite(self.level, "var_floor.level") < ONE:
            raise InputError("var_floor.level", f"must be between 0 and 1, got {self.level}")
        if finite(self.horizon_days, "var_floor.horizon_days") <= 0:
            raise InputError("var_floor.horizon_days", f"must be positive, got {self.horizon_days}")


@dataclass(frozen=True)
class VolatilityScaling:
    """Margin requirements that follow a volatility index, bounded so they cannot whipsaw.

    Every position's maintenance and initial requirement is multiplied by ``m = clamp(index / reference,
    floor, cap)`` of its underlying, where ``index`` is the underlying's annualized volatility at
    moneyness 1 in the market's ``vols`` (for a live book, the smoothed index that
    :class:`crossmargin.margin.volatility.VolatilityIndex` keeps). ``floor`` >= 1 is the
    anti-procyclicality floor (calm markets never margin below the tables); ``cap`` bounds a spike.
    Over time the multiplier follows the index up at once and down by at most ``max_daily_fall`` of
    itself a day, so a short calm after a shock does not release margin.
    """

    reference: Decimal
    floor: Decimal = ONE
    cap: Decimal = Decimal(3)
    half_life_days: Decimal = Decimal(5)
    max_daily_fall: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        if finite(self.reference, "volatility_scaling.reference") <= 0:
            raise InputError("volatility_scaling.reference", f"must be positive, got {self.reference}")
        if finite(self.floor, "volatility_scaling.floor") < 1:
            raise InputError(
                "volatility_scaling.floor", f"must be at least 1 (never below the tables), got {self.floor}"
            )
        if finite(self.cap, "volatility_scaling.cap") < self.floor:
            raise InputError("volatility_scaling.cap", f"must be at least the floor {self.floor}, got {self.cap}")
        if finite(self.half_life_days, "volatility_scaling.half_life_days") <= 0:
            raise InputError("volatility_scaling.half_life_days", f"must be positive, got {self.half_life_days}")
        within(self.max_daily_fall, ZERO, ONE, "volatility_scaling.max_daily_fall")


@dataclass(frozen=True)
class RuleChoices:
    """How a rulebook decides.

    - ``liquidate_at_equality``: a pool with positions is liquidatable when
      ``equity <= threshold x maintenance`` instead of ``<``.
    - ``liquidation_threshold`` (>= 1): the multiple of maintenance margin below which equity is
      liquidatable (Binance portfolio margin liquidates at uniMMR = equity / MM of 1.05).
    - ``liquidation_price_moves``: what moves when a liquidation price is solved for.
    - ``liquidate_without_requirement``: whether a pool whose maintenance margin is zero (no positions)
      can be liquidatable when its equity is negative (dYdX: no, it needs a requirement above zero).
    - ``withdrawal_notional_floor``: a withdrawal must leave initial equity at or above this share of
      the open notional, when that exceeds the initial margin (Hyperliquid: 0.1).
    - ``pnl_in_settle_collateral``: a position's uPnL joins its settle asset's balance in the cross pool
      before that asset's weights apply (OKX multi-currency, Bybit UTA and Binance Multi-Assets value
      each currency's equity, cash plus uPnL, at its collateral rate); otherwise uPnL counts on its own.
    - ``scenario_margin``: pools with positions are margined on the worst loss of a scenario grid
      (:class:`ScenarioMargin`) instead of each position's tiers.
    - ``var_floor``: a pool's maintenance margin is at least its value at risk (:class:`VarFloor`), and
      its initial margin at least that maintenance.
    - ``volatility_scaling``: every position's requirements x a bounded volatility multiplier
      (:class:`VolatilityScaling`).
    - ``margin_valuation``: whether each requirement values a position at its mark or at its entry price,
      for cross and isolated positions (:class:`MarginValuation`; every one at the mark by default).
    """

    name: str
    liquidate_at_equality: bool = False
    liquidation_threshold: Decimal = ONE
    liquidation_price_moves: PriceMove = PriceMove.UNDERLYING
    liquidate_without_requirement: bool = True
    withdrawal_notional_floor: Decimal = ZERO
    pnl_in_settle_collateral: bool = False
    scenario_margin: ScenarioMargin | None = None
    var_floor: VarFloor | None = None
    volatility_scaling: VolatilityScaling | None = None
    margin_valuation: MarginValuation = field(default_factory=MarginValuation)

    def __post_init__(self) -> None:
        within(self.withdrawal_notional_floor, ZERO, ONE, "withdrawal_notional_floor")
        if finite(self.liquidation_threshold, "liquidation_threshold") < 1:
            raise InputError("liquidation_threshold", f"must be at least 1, got {self.liquidation_threshold}")


class FillPrice(StrEnum):
    """The price a liquidation is filled at, before fees."""

    BANKRUPTCY = "bankruptcy"  # the price at which the account's equity is exactly zero
    MARKET = "market"  # against the order book / liquidity model
    FILLABLE = "fillable"  # a venue formula between mark and bankruptcy price (dYdX)


class Shortfall(StrEnum):
    """Who bears a loss beyond the account's equity once the insurance fund is empty."""

    ADL = "adl"  # auto-deleveraging of profitable opposite positions
    SOCIALIZED = "socialized"  # spread over all accounts (or all profitable ones)
    BACKSTOP = "backstop"  # a backstop vault / liquidity provider takes the position


class BufferBasis(StrEnum):
    """What a liquidation's ``buffer`` is a share of: where a liquidation stops."""

    MAINTENANCE = "maintenance"  # equity >= threshold x MM x (1 + buffer)
    NOTIONAL = "notional"  # equity + buffer x losses >= threshold x MM + buffer x liability value (Drift)


class Sizing(StrEnum):
    """How a partial liquidation chooses how much of a position to close."""

    SEARCH = "search"  # the smallest step whose close, at its quoted price and fee, reaches the target
    SHORTAGE = "shortage"  # the closed form that frees the margin shortage at the mark, rounded up (Drift)


@dataclass(frozen=True)
class LiquidationTerms:
    """How a venue fills a liquidation: parameters for the liquidation engine.

    ``fee_rate`` is a fraction of the liquidated notional; ``insurance_fund_share`` the part of that
    fee paid to the insurance fund (the rest goes to the liquidator); ``adl_ranking`` names the ranking
    formula documented in docs/liquidation.md. A partial liquidation closes just enough to bring the pool
    back to its target: under ``buffer_basis: maintenance`` ``equity >= threshold x MM x (1 + buffer)``;
    under ``notional`` (Drift's liquidation mode) ``equity + buffer x (its negative uPnLs) >= threshold x
    MM + buffer x liability value`` (the positions' notional plus the unweighted value of its negative
    balances). A pool whose equity is below ``full_close_below x MM`` is closed in full.
    ``collateral_discount`` is the discount at which collateral is sold to repay a liability once a pool
    has no positions left. ``bankruptcy_adjustment`` and ``spread_to_maintenance`` shape the limit price
    of ``fill_price: fillable`` (dYdX's ``bankruptcy_adjustment_ppm`` and
    ``spread_to_maintenance_margin_ratio_ppm``, as ratios).

    Sizing and fees (:mod:`crossmargin.liquidation.sizing`):

    - ``sizing``: ``search`` closes the smallest step whose close, at the price the liquidity quotes and
      with its fee, reaches the target; ``shortage`` closes ``shortage / (n x (m - fee_rate) - n_settle x
      insurance rate)`` contracts (n a contract's notional at the mark, m the share of notional a close
      frees: the position's maintenance rate plus the buffer) rounded up to the step, and the pool's
      liquidation ends once a close covers it (Drift's ``liquidate_perp``); where the depth's slippage
      would make that close leave the pool further below maintenance, the search sizes it instead.
    - ``insurance_fee_rate``: a fee on the liquidated notional paid whole to the insurance fund, on top of
      ``fee_rate``; with ``insurance_fee_headroom`` h it is at most ``h x (m - fee_rate - s / N)``, s the
      position's share of the shortage (by maintenance margin) and N its notional, never below zero
      (Drift's ``if_liquidation_fee`` and ``calculate_perp_if_fee``, h = 0.95).
    - ``cap_fee_at_bankruptcy``: the fees never take a pool below zero net value (dYdX); false charges them
      in full and covers what they leave owed like any other deficit (Drift).
    - ``size_steps``: (instrument, step) pairs, ``*`` for every other instrument: a liquidation closes
      multiples of the step (contracts; Drift's ``order_step_size``); without one, a power of ten no
      bigger than a thousandth of the position.
    """

    fee_rate: Decimal = ZERO
    insurance_fund_share: Decimal = ONE
    partial: bool = True
    fill_price: FillPrice = FillPrice.MARKET
    shortfall: Shortfall = Shortfall.ADL
    adl_ranking: str = "profit_x_leverage"
    buffer: Decimal = ZERO
    full_close_below: Decimal = ZERO
    collateral_discount: Decimal = Decimal("0.05")
    bankruptcy_adjustment: Decimal = ONE
    spread_to_maintenance: Decimal = Decimal("1.5")
    buffer_basis: BufferBasis = BufferBasis.MAINTENANCE
    sizing: Sizing = Sizing.SEARCH
    insurance_fee_rate: Decimal = ZERO
    insurance_fee_headroom: Decimal | None = None
    cap_fee_at_bankruptcy: bool = True
    size_steps: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        within(self.fee_rate, ZERO, ONE, "fee_rate")
        within(self.insurance_fund_share, ZERO, ONE, "insurance_fund_share")
        within(self.insurance_fee_rate, ZERO, ONE, "insurance_fee_rate")
        if self.insurance_fee_headroom is not None:
            within(self.insurance_fee_headroom, ZERO, ONE, "insurance_fee_headroom")
        steps = self.size_steps
        pairs = tuple(sorted(steps.items())) if isinstance(steps, dict) else tuple(steps)
        for name, step in pairs:
            if not name:
                raise InputError("size_steps", "name an instrument (or * for every other one)")
            if finite(step, f"size_steps.{name}") <= 0:
                raise InputError(f"size_steps.{name}", f"must be positive, got {step}")
        object.__setattr__(self, "size_steps", pairs)
        within(self.buffer, ZERO, ONE, "buffer")
        within(self.full_close_below, ZERO, ONE, "full_close_below")
        within(self.collateral_discount, ZERO, ONE, "collateral_discount")
        if finite(self.bankruptcy_adjustment, "bankruptcy_adjustment") < 1:
            raise InputError("bankruptcy_adjustment", f"must be at least 1, got {self.bankruptcy_adjustment}")
        if finite(self.spread_to_maintenance, "spread_to_maintenance") <= 0:
            raise InputError("spread_to_maintenance", f"must be positive, got {self.spread_to_maintenance}")
        if not self.adl_ranking:
            raise InputError("adl_ranking", "must name a ranking")

    def size_step(self, instrument: str) -> Decimal | None:
        """The step a liquidation closes ``instrument`` in (contracts), if the terms give one."""
        steps = dict(self.size_steps)
        return steps.get(instrument, steps.get("*"))
