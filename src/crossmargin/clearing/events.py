"""The events the clearing state applies. Each is a frozen record (a msgspec Struct);
:class:`~crossmargin.clearing.state.ClearingState` validates it completely before changing anything, and
logs it once applied.

Units: sizes in contracts (positive), prices in quote currency per unit of the underlying (an asset's in the
base currency), amounts in the named asset's units. ``long`` names the leg of a position (hedge mode holds
one long and one short).

Serialised form (:func:`encode_event`, :func:`decode_event`): msgspec JSON, the event's kind in ``type``
(its snake_case name), every Decimal as its string (``1.50`` stays ``1.50``), sets and mapping keys sorted
so that equal events encode to equal bytes; decoding gives back an equal event.
"""

from decimal import Decimal
from enum import StrEnum

import msgspec

from crossmargin.clearing.ledger import LedgerAccount
from crossmargin.model import InputError

MARKET = "@market"
"""The outside market: the counterparty of liquidation fills and collateral sales, and the holder of the
positions opposite the book's net open interest (so long and short open interest always match)."""


class Taker(StrEnum):
    """Who takes a liquidated position: the market (depth), an auto-deleveraged account, or the backstop."""

    MARKET = "market"
    ADL = "adl"
    BACKSTOP = "backstop"


class OpenAccount(msgspec.Struct, frozen=True, tag_field="type", tag="open_account"):
    """A new user account ``account``: no balances, no positions (its id not yet taken, printable, at most
    :data:`MAX_ACCOUNT_ID` characters)."""

    account: str


MAX_ACCOUNT_ID = 128
"""The longest account id an :class:`OpenAccount` may give."""


class Deposit(msgspec.Struct, frozen=True, tag_field="type", tag="deposit"):
    """``amount`` (> 0) of ``asset`` into the account's cross balance from outside."""

    account: str
    asset: str
    amount: Decimal


class Withdraw(msgspec.Struct, frozen=True, tag_field="type", tag="withdraw"):
    """``amount`` (> 0) of ``asset`` out of the cross balance: within the free collateral at the guarded
    market, and only while no price the account depends on is frozen (see :class:`Guard`)."""

    account: str
    asset: str
    amount: Decimal


class Trade(msgspec.Struct, frozen=True, tag_field="type", tag="trade"):
    """``buyer`` buys ``size`` contracts of ``instrument`` from ``seller`` at ``price``; each pays its fee
    (settle units) to the fee pool. One-way: the fill opens, adds, reduces, flips or closes the position.
    Each side but the market's passes the initial-margin check at its guarded market unless the fill only
    reduces its position; a side that would add risk while a price it depends on is frozen is refused
    (see :class:`Guard`)."""

    buyer: str
    seller: str
    instrument: str
    size: Decimal
    price: Decimal
    buyer_fee: Decimal = Decimal(0)
    seller_fee: Decimal = Decimal(0)


class Funding(msgspec.Struct, frozen=True, tag_field="type", tag="funding"):
    """A funding payment on ``instrument``: longs pay shorts ``rate`` x notional at the mark (negative rate:
    shorts pay longs), settled on every open position through the funding account."""

    instrument: str
    rate: Decimal


class PriceUpdate(msgspec.Struct, frozen=True, tag_field="type", tag="price_update"):
    """New asset prices (base currency per unit) and instrument marks, merged into the market (the guard
    stays as it is)."""

    prices: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}


class MarginMultipliers(msgspec.Struct, frozen=True, tag_field="type", tag="margin_multipliers"):
    """Underlying -> the multiplier (> 0) of the maintenance and initial requirements of every position on
    it from now on, merged into the market's (1: back to the tables; an underlying not named keeps its own)."""

    multipliers: dict[str, Decimal]


class OpenInterestLimits(msgspec.Struct, frozen=True, tag_field="type", tag="open_interest_limits"):
    """Instrument -> the long open interest (contracts, >= 0; the market's positions counted) above which a
    trade that raises it is refused from now on, merged into the limits set before; None lifts the
    instrument's limit. Trades that lower the open interest, and liquidations, are never refused by it."""

    limits: dict[str, Decimal | None]


class Guard(msgspec.Struct, frozen=True, tag_field="type", tag="guard"):
    """The oracle policy at the point of decision; it replaces the previous guard whole.

    - ``frozen``: symbols (assets or instruments) whose price has a status the policy freezes on. An account
      that depends on one (a held or owed asset other than the base currency, a position's instrument or its
      settle asset, and for a trade the traded instrument) may not withdraw and may not add risk: a trade
      side that does not only reduce its position is refused.
    - ``held`` / ``owed``: for assets whose price has a status the policy values conservatively, the price
      (base currency per unit) a held balance counts at (the lower of index and EMA) and the price an owed
      balance counts at (the higher). Withdrawals and the initial-margin check of trades are made at the
      account's *guarded market*: the current market with each asset the account holds priced at
      ``held[asset]`` and each it owes at ``owed[asset]`` (where given). Liquidation is decided at the
      market itself.
    """

    frozen: frozenset[str] = frozenset()
    held: dict[str, Decimal] = {}
    owed: dict[str, Decimal] = {}


class LiquidationStart(msgspec.Struct, frozen=True, tag_field="type", tag="liquidation_start"):
    """The account enters liquidation: it must be liquidatable now (exact evaluation)."""

    account: str


class LiquidationFill(msgspec.Struct, frozen=True, tag_field="type", tag="liquidation_fill"):
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


class CollateralSale(msgspec.Struct, frozen=True, tag_field="type", tag="collateral_sale"):
    """Collateral sold to the market at a discount to repay a liability: ``sold`` of ``sell_asset`` out of the
    cross balance, ``bought`` of ``buy_asset`` in (the account must be in liquidation and owe ``buy_asset``)."""

    account: str
    sell_asset: str
    sold: Decimal
    buy_asset: str
    bought: Decimal


class InsuranceCover(msgspec.Struct, frozen=True, tag_field="type", tag="insurance_cover"):
    """The insurance fund pays ``amount`` of ``asset`` toward a negative balance of ``pool`` (a user or
    isolated ledger account); from its own ``asset`` if it holds it, else from its base currency bought
    at ``cost`` (base units) from the market."""

    pool: LedgerAccount
    asset: str
    amount: Decimal
    cost: Decimal


class SocializedLoss(msgspec.Struct, frozen=True, tag_field="type", tag="socialized_loss"):
    """A negative balance of ``pool`` in ``asset`` paid by other accounts' cross balances: ``shares`` maps
    account id to the amount it pays (asset units, each > 0)."""

    pool: LedgerAccount
    asset: str
    shares: dict[str, Decimal]


class WriteOff(msgspec.Struct, frozen=True, tag_field="type", tag="write_off"):
    """A negative balance nobody bears, booked as bad debt."""

    pool: LedgerAccount
    asset: str
    amount: Decimal


class LiquidationEnd(msgspec.Struct, frozen=True, tag_field="type", tag="liquidation_end"):
    """The account leaves liquidation (healthy, or with no positions left)."""

    account: str


Event = (
    OpenAccount
    | Deposit
    | Withdraw
    | Trade
    | Funding
    | PriceUpdate
    | MarginMultipliers
    | OpenInterestLimits
    | Guard
    | LiquidationStart
    | LiquidationFill
    | CollateralSale
    | InsuranceCover
    | SocializedLoss
    | WriteOff
    | LiquidationEnd
)

_ENCODER = msgspec.json.Encoder(order="deterministic")
_DECODER = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """``event`` as one line of JSON (see module doc)."""
    return _ENCODER.encode(event)


def decode_event(data: bytes | str) -> Event:
    """The event :func:`encode_event` wrote; a malformed one raises :class:`~crossmargin.model.InputError`
    (field ``event``). Only the form is checked here: :meth:`ClearingState.apply` validates the content."""
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as err:
        raise InputError("event", f"not a valid event: {err}") from None
    except msgspec.DecodeError as err:
        raise InputError("event", f"not JSON: {err}") from None
