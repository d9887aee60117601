"""Rule choices and liquidation terms: what a rulebook decides beyond its tables.

Tables (tiers, weights) live on the assets and instruments; these are the few decisions that differ
between venues and are read by the margin maths (:class:`RuleChoices`) or kept for the liquidation
engine (:class:`LiquidationTerms`).
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, finite, within


class PriceMove(StrEnum):
    """What moves when a liquidation price is solved for."""

    UNDERLYING = "underlying"  # every mark and collateral price on the position's underlying
    INSTRUMENT = "instrument"  # the position's own mark only (Binance's published formula)


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
    """

    name: str
    liquidate_at_equality: bool = False
    liquidation_threshold: Decimal = ONE
    liquidation_price_moves: PriceMove = PriceMove.UNDERLYING
    liquidate_without_requirement: bool = True
    withdrawal_notional_floor: Decimal = ZERO
    pnl_in_settle_collateral: bool = False

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


@dataclass(frozen=True)
class LiquidationTerms:
    """How a venue fills a liquidation: parameters for the liquidation engine.

    ``fee_rate`` is a fraction of the liquidated notional; ``insurance_fund_share`` the part of that
    fee paid to the insurance fund (the rest goes to the liquidator); ``adl_ranking`` names the ranking
    formula documented in docs/liquidation.md. A partial liquidation closes just enough to bring equity
    back to ``threshold x MM x (1 + buffer)``; a pool whose equity is below ``full_close_below x MM`` is
    closed in full. ``collateral_discount`` is the discount at which collateral is sold to repay a
    liability once a pool has no positions left. ``bankruptcy_adjustment`` and ``spread_to_maintenance``
    shape the limit price of ``fill_price: fillable`` (dYdX's ``bankruptcy_adjustment_ppm`` and
    ``spread_to_maintenance_margin_ratio_ppm``, as ratios).
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

    def __post_init__(self) -> None:
        within(self.fee_rate, ZERO, ONE, "fee_rate")
        within(self.insurance_fund_share, ZERO, ONE, "insurance_fund_share")
        within(self.buffer, ZERO, ONE, "buffer")
        within(self.full_close_below, ZERO, ONE, "full_close_below")
        within(self.collateral_discount, ZERO, ONE, "collateral_discount")
        if finite(self.bankruptcy_adjustment, "bankruptcy_adjustment") < 1:
            raise InputError("bankruptcy_adjustment", f"must be at least 1, got {self.bankruptcy_adjustment}")
        if finite(self.spread_to_maintenance, "spread_to_maintenance") <= 0:
            raise InputError("spread_to_maintenance", f"must be positive, got {self.spread_to_maintenance}")
        if not self.adl_ranking:
            raise InputError("adl_ranking", "must name a ranking")
