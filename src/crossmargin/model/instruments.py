"""Derivative instruments: linear and inverse perpetuals and dated futures, and European options.

Sign and unit conventions (used throughout crossmargin):

- A position's ``size`` is in contracts, positive long, negative short.
- A *linear* contract is ``contract_size`` units of the underlying, quoted and settled in the settle
  asset (BTCUSDT: 1 contract = 0.001 BTC, PnL in USDT). Its mark is in settle units per underlying.
- An *inverse* contract is ``contract_size`` units of the quote currency (usually USD), settled in the
  underlying coin (BTCUSD coin-margined: 1 contract = 100 USD, PnL in BTC). Its mark is in quote units
  per underlying. Notional, margin and tier brackets are then in the settle coin.
- An *option* (European call or put, ``strike`` and ``expiry``) on ``contract_size`` units of the
  underlying is quoted in its settle asset per unit of underlying: a premium in USDC for a linear
  option, in the underlying coin for a coin-settled one (``settle == underlying``, Deribit's BTC
  options). Its PnL is linear in that premium (``inverse`` is False for every option), so the margin
  maths treat it like a linear contract whose mark is the premium. The strike is in the settle asset
  (linear) or the base currency (coin-settled).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, finite, non_negative, positive, within
from crossmargin.model.tiers import TierTable


class TierBasis(StrEnum):
    """What a tier table's ``max_notional`` bounds."""

    NOTIONAL = "notional"  # position notional in settle units (most venues)
    SIZE = "size"  # position size x contract_size: underlying units (linear), quote units (inverse); OKX


class ContractKind(StrEnum):
    """What kind of contract an instrument is."""

    PERPETUAL = "perpetual"
    FUTURE = "future"
    OPTION = "option"


class OptionRight(StrEnum):
    """A European option's right: to buy (call) or to sell (put) at the strike at expiry."""

    CALL = "call"
    PUT = "put"


@dataclass(frozen=True)
class Instrument:
    """A tradable contract on ``underlying``, margined and settled in ``settle``.

    ``upnl_weight`` and ``initial_upnl_weight`` (in [0, 1], the initial one not above the other) are
    the weights at which a *positive* unrealized PnL counts toward equity on each side; losses always
    count in full. ``close_fee_rate`` (fraction of notional) adds the estimated fee to close the
    position at its bankruptcy price to both margin requirements, as Bybit does;
    ``liquidation_fee_rate`` adds the liquidation fee on the notional at the mark to the maintenance
    requirement, as OKX does. ``tier_basis`` says whether the tiers bound notional or size.

    Size and open-interest scaling: ``imf_factor`` raises both margin rates with the square root of the
    position's size in underlying units and discounts positive uPnL for initial margin (Drift);
    ``initial_upnl_cap`` caps, in settle units, the positive uPnL one position adds to initial equity
    (Drift: 100 USDC); ``open_interest_caps`` (lower, upper; settle-unit notionals) scale the initial rate
    linearly up to 1 as the instrument's open interest grows between them, the scaled rate rounded down
    to ``rate_quantum`` (dYdX: ppm); ``margin_quantum`` truncates the notional the requirements are
    computed on and rounds each requirement up to a multiple of it (settle units), a maintenance rate
    given as a fraction of the initial one being applied to the rounded initial requirement (dYdX).
    """

    name: str
    kind: ContractKind
    underlying: str
    settle: str
    contract_size: Decimal
    inverse: bool
    tiers: TierTable
    expiry: datetime | None = None
    upnl_weight: Decimal = ONE
    initial_upnl_weight: Decimal = ONE
    close_fee_rate: Decimal = ZERO
    liquidation_fee_rate: Decimal = ZERO
    tier_basis: TierBasis = TierBasis.NOTIONAL
    imf_factor: Decimal = ZERO
    initial_upnl_cap: Decimal | None = None
    open_interest_caps: tuple[Decimal, Decimal] | None = None
    margin_quantum: Decimal | None = None
    rate_quantum: Decimal | None = None
    strike: Decimal | None = None
    right: OptionRight | None = None

    @property
    def coin_settled(self) -> bool:
        """Settled in the underlying itself: an inverse contract or a coin-settled option."""
        return self.settle == self.underlying

    def __post_init__(self) -> None:
        positive(self.contract_size, "contract_size")
        self._check_option()
        if self.inverse and self.settle != self.underlying:
            raise InputError(
                "settle",
                f"an inverse contract settles in its underlying ({self.underlying!r}), not {self.settle!r}",
            )
        if not self.inverse and self.settle == self.underlying and self.kind is not ContractKind.OPTION:
            raise InputError(
                "settle",
                f"a linear contract settles in its quote asset, not its underlying {self.underlying!r} "
                "(coin-margined contracts are inverse: set inverse: true)",
            )
        if self.kind is ContractKind.PERPETUAL and self.expiry is not None:
            raise InputError("expiry", "a perpetual has no expiry")
        within(self.upnl_weight, ZERO, ONE, "upnl_weight")
        within(self.initial_upnl_weight, ZERO, self.upnl_weight, "initial_upnl_weight")
        within(self.close_fee_rate, ZERO, ONE, "close_fee_rate")
        within(self.liquidation_fee_rate, ZERO, ONE, "liquidation_fee_rate")
        if non_negative(self.imf_factor, "imf_factor") and self.inverse:
            raise InputError("imf_factor", "a size premium is for linear contracts (size in underlying units)")
        if self.initial_upnl_cap is not None:
            non_negative(self.initial_upnl_cap, "initial_upnl_cap")
        if self.open_interest_caps is not None:
            lower, upper = self.open_interest_caps
            non_negative(lower, "open_interest_caps[0]")
            if finite(upper, "open_interest_caps[1]") <= lower:
                raise InputError("open_interest_caps[1]", f"the upper cap must exceed the lower ({lower}), got {upper}")
        if self.margin_quantum is not None:
            positive(self.margin_quantum, "margin_quantum")
        if self.rate_quantum is not None:
            positive(self.rate_quantum, "rate_quantum")

    def _check_option(self) -> None:
        if self.kind is not ContractKind.OPTION:
            if self.strike is not None or self.right is not None:
                raise InputError("strike" if self.strike is not None else "right", "only an option has one")
            return
        if self.strike is None:
            raise InputError("strike", "an option needs a strike")
        positive(self.strike, "strike")
        if self.right is None:
            raise InputError("right", "an option needs a right: call or put")
        if self.expiry is None:
            raise InputError("expiry", "an option needs an expiry")
        if self.inverse:
            raise InputError(
                "inverse", "an option's PnL is linear in its premium: a coin-settled option settles in its underlying"
            )
