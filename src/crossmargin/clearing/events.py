"""The events the clearing state applies. Each is a frozen record; :class:`~crossmargin.clearing.state.ClearingState`
validates it completely before changing anything, and logs it once applied.

Units: sizes in contracts (positive), prices in quote currency per unit of the underlying, amounts in the
named asset's units. ``long`` names the leg of a position (hedge mode holds one long and one short).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from crossmargin.clearing.ledger import LedgerAccount

MARKET = "@market"
"""The outside market: the counterparty of liquidation fills and collateral sales, and the holder of the
positions opposite the book's net open interest (so long and short open interest always match)."""


class Taker(StrEnum):
    """Who takes a liquidated position: the market (depth), an auto-deleveraged account, or the backstop."""

    MARKET = "market"
    ADL = "adl"
    BACKSTOP = "backstop"


@dataclass(frozen=True)
class Deposit:
    """``amount`` (> 0) of ``asset`` into the account's cross balance from outside."""

    account: str
    asset: str
    amount: Decimal


@dataclass(frozen=True)
class Withdraw:
    """``amount`` (> 0) of ``asset`` out of the cross balance: within free collateral, prices trusted."""

    account: str
    asset: str
    amount: Decimal


@dataclass(frozen=True)
class Trade:
    """``buyer`` buys ``size`` contracts of ``instrument`` from ``seller`` at ``price``; each pays its fee
    (settle units) to the fee pool. One-way: the fill opens, adds, reduces, flips or closes the position."""

    buyer: str
    seller: str
    instrument: str
    size: Decimal
    price: Decimal
    buyer_fee: Decimal = Decimal(0)
    seller_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class Funding:
    """A funding payment on ``instrument``: longs pay shorts ``rate`` x notional at the mark (negative rate:
    shorts pay longs), settled on every open position through the funding account."""

    instrument: str
    rate: Decimal


@dataclass(frozen=True)
class PriceUpdate:
    """New asset prices and marks (merged into the market); ``untrusted``: symbols whose oracle price is
    not valid now (withdrawals depending on them are refused)."""

    prices: Mapping[str, Decimal] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    untrusted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LiquidationStart:
    """The account enters liquidation: it must be liquidatable now (exact evaluation)."""

    account: str


@dataclass(frozen=True)
class LiquidationFill:
    """``size`` contracts of the account's ``long``/short leg of ``instrument`` closed at ``price`` against
    ``counterparty`` (who takes the opposite side: the market, an auto-deleveraged account reducing its
    opposite position, or the backstop). The liquidation fee is paid from the pool the position belongs to:
    ``fee_insurance`` to the insurance fund, ``fee_liquidator`` to the liquidator (settle units)."""

    account: str
    instrument: str
    long: bool
    size: Decimal
    price: Decimal
    counterparty: str
    taker: Taker = Taker.MARKET
    fee_insurance: Decimal = Decimal(0)
    fee_liquidator: Decimal = Decimal(0)


@dataclass(frozen=True)
class CollateralSale:
    """Collateral sold to the market at a discount to repay a liability: ``sold`` of ``sell_asset`` out of the
    cross balance, ``bought`` of ``buy_asset`` in (the account must be in liquidation and owe ``buy_asset``)."""

    account: str
    sell_asset: str
    sold: Decimal
    buy_asset: str
    bought: Decimal


@dataclass(frozen=True)
class InsuranceCover:
    """The insurance fund pays ``amount`` of ``asset`` toward a negative balance of ``pool`` (a user or
    isolated ledger account); from its own ``asset`` if it holds it, else from its base currency bought
    at ``cost`` (base units) from the market."""

    pool: LedgerAccount
    asset: str
    amount: Decimal
    cost: Decimal


@dataclass(frozen=True)
class SocializedLoss:
    """A negative balance of ``pool`` in ``asset`` paid by other accounts' cross balances: ``shares`` maps
    account id to the amount it pays."""

    pool: LedgerAccount
    asset: str
    shares: Mapping[str, Decimal]


@dataclass(frozen=True)
class WriteOff:
    """A negative balance nobody bears, booked as bad debt."""

    pool: LedgerAccount
    asset: str
    amount: Decimal


@dataclass(frozen=True)
class LiquidationEnd:
    """The account leaves liquidation (healthy, or with no positions left)."""

    account: str


Event = (
    Deposit
    | Withdraw
    | Trade
    | Funding
    | PriceUpdate
    | LiquidationStart
    | LiquidationFill
    | CollateralSale
    | InsuranceCover
    | SocializedLoss
    | WriteOff
    | LiquidationEnd
)
