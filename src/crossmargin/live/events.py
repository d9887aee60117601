"""The engine loop's events: what comes in, what goes out, and their serialisation for the log.

Every event carries ``seq`` (its position in its stream: inbound events are numbered 1, 2, ... in the order
the loop must apply them; outbound events likewise in the order the loop emitted them), ``time`` (event
time, seconds on the feed's clock) and an identifier: an inbound event its own ``id`` (the producer's, unique
in the log), an outbound event the ``cause``: the ``id`` of the inbound event that made it.

Units: prices in the quote currency per unit of the underlying (an asset's in the base currency), sizes in
contracts (a trade's positive, a liquidation's signed: negative sells), amounts in the named asset's units,
figures (equity, margins) in the base currency.

The serialisation is msgspec JSON in an envelope ``{"version": 1, "event": {...}}`` with the event's kind in
``type`` and every Decimal as a string, so that :func:`decode_inbound` (:func:`decode_outbound`) of
:func:`encode` gives back an equal event, digit for digit.
"""

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

from crossmargin.model import InputError

VERSION = 1
"""The version of the serialised form; a record of another version is refused."""


class Inbound(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """An event the loop applies: ``seq`` from 1 in log order, ``time`` in seconds, ``id`` unique."""

    seq: int
    time: Decimal
    id: str


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """``price`` of ``symbol`` reported by ``source`` (an asset's in the base currency, an instrument's a traded
    price in mark units) stamped ``at`` seconds (None: the event's time), with an optional confidence
    half-width in the price's units."""

    source: str
    symbol: str
    price: Decimal
    confidence: Decimal | None = None
    at: Decimal | None = None


class Prices(Inbound, frozen=True, kw_only=True, tag="prices"):
    """Source quotes taken together: each goes to the oracle, then the book is priced once."""

    quotes: tuple[Quote, ...]


class Clock(Inbound, frozen=True, kw_only=True, tag="clock"):
    """Time passes to ``time`` with no price: sources that went silent turn stale, the policy acts on it."""


class OpenAccount(Inbound, frozen=True, kw_only=True, tag="open_account"):
    """A new, empty ``account`` (no balances, no positions)."""

    account: str


class Deposit(Inbound, frozen=True, kw_only=True, tag="deposit"):
    """``amount`` (> 0) of ``asset`` into ``account``'s cross balance."""

    account: str
    asset: str
    amount: Decimal


class Withdrawal(Inbound, frozen=True, kw_only=True, tag="withdrawal"):
    """``amount`` (> 0) of ``asset`` out of ``account``'s cross balance, if the policy's prices allow it."""

    account: str
    asset: str
    amount: Decimal


class Trade(Inbound, frozen=True, kw_only=True, tag="trade"):
    """``buyer`` buys ``size`` (> 0) contracts of ``instrument`` from ``seller`` at ``price``; fees in the
    instrument's settle asset. ``impact``: the permanent move of the instrument's mark the trade leaves (mark
    units, signed; 0 by default: a trade reported from a venue, whose prices come from the oracle), for a
    market order that walked the depth (a risk agent's sale): the mark moves by it as by a liquidation's fills,
    displaced from the oracle's mark and fading with the resilience half-life."""

    buyer: str
    seller: str
    instrument: str
    size: Decimal
    price: Decimal
    buyer_fee: Decimal = Decimal(0)
    seller_fee: Decimal = Decimal(0)
    impact: Decimal = Decimal(0)


class Funding(Inbound, frozen=True, kw_only=True, tag="funding"):
    """A funding payment on a perpetual: longs pay shorts ``rate`` x notional at the mark (negative: shorts
    pay longs)."""

    instrument: str
    rate: Decimal


class ParameterChange(Inbound, frozen=True, kw_only=True, tag="parameters"):
    """A change of the loop's parameters from now on: ``depth``, the multiplier of every instrument's
    configured liquidity depth (1: as configured; 0.1: a tenth of it)."""

    depth: Decimal


class MarginMultipliers(Inbound, frozen=True, kw_only=True, tag="margin_multipliers"):
    """A venue's risk action from now on: underlying -> the multiplier (> 0) of the maintenance and initial
    requirements of every position on it (its maximum leverage divided by the same), merged into those set
    before; 1 puts the underlying back on its tables. Both evaluators apply it
    (:func:`crossmargin.margin.volatility.requirement_multiplier`)."""

    multipliers: dict[str, Decimal]


class OpenInterestLimits(Inbound, frozen=True, kw_only=True, tag="open_interest_limits"):
    """A venue's risk action from now on: instrument -> the long open interest (contracts, >= 0) above which a
    trade that raises it is refused, merged into the limits set before; None lifts the instrument's limit.
    Trades that lower the open interest, and liquidations, pass whatever the limit."""

    limits: dict[str, Decimal | None]


InboundEvent = (
    Prices
    | Clock
    | OpenAccount
    | Deposit
    | Withdrawal
    | Trade
    | Funding
    | ParameterChange
    | MarginMultipliers
    | OpenInterestLimits
)


class Outbound(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """An event the loop emits: ``seq`` from 1 in emission order, ``time`` of its cause, ``cause`` its id."""

    seq: int
    time: Decimal
    cause: str


class Rejected(Outbound, frozen=True, kw_only=True, tag="rejected"):
    """The cause was refused and changed nothing: ``field`` is what was wrong, ``message`` why."""

    field: str
    message: str


class PriceStatus(Outbound, frozen=True, kw_only=True, tag="price_status"):
    """A symbol's oracle price after the cause: its ``status`` (valid, degraded, unconfirmed, invalid), the
    ``sources`` it stands on and why; ``source``/``ignored``: the quote that caused it and why the oracle
    set it aside (None: it was taken)."""

    symbol: str
    status: str
    price: Decimal
    reason: str
    sources: tuple[str, ...]
    source: str | None = None
    ignored: str | None = None


class AccountStatus(Outbound, frozen=True, kw_only=True, tag="account"):
    """An account's standing changed: ``state`` is ``liquidatable`` (below maintenance and every price it is
    valued at one the policy liquidates on), ``liquidation_suppressed`` (below maintenance but held by the
    policy), ``frozen`` or ``unfrozen`` (a price it depends on has, or no longer has, a status the policy
    freezes on). Figures of its cross pool, exact; ``statuses`` of the prices it depends on."""

    account: str
    state: str
    equity: Decimal
    maintenance_margin: Decimal
    statuses: dict[str, str]


class Figures(Outbound, frozen=True, kw_only=True, tag="figures"):
    """The exact figures of an account whose money or positions the cause changed (cross pool)."""

    account: str
    equity: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    liquidatable: bool


class LiquidationFill(Outbound, frozen=True, kw_only=True, tag="liquidation"):
    """``size`` signed contracts of ``account``'s ``instrument`` closed at ``fill_price`` (fee and slippage
    in settle units) against ``taker`` (market, adl, backstop); ``bankruptcy_price``: where the pool's net
    value would have been zero (None: no positive price)."""

    account: str
    instrument: str
    size: Decimal
    fill_price: Decimal
    fee: Decimal
    slippage: Decimal | None
    taker: str
    bankruptcy_price: Decimal | None


class Deleveraged(Outbound, frozen=True, kw_only=True, tag="adl"):
    """``account``'s opposite position reduced by ``size`` signed contracts at ``fill_price`` to take the
    bankrupt position of ``from_account``; ``reason`` tells the account why."""

    account: str
    instrument: str
    size: Decimal
    fill_price: Decimal
    from_account: str
    reason: str


class CollateralSold(Outbound, frozen=True, kw_only=True, tag="collateral_sale"):
    """``sold`` of ``sell_asset`` sold to the market for ``bought`` of ``buy_asset`` the account owed."""

    account: str
    sell_asset: str
    sold: Decimal
    buy_asset: str
    bought: Decimal


class InsurancePaid(Outbound, frozen=True, kw_only=True, tag="insurance"):
    """The insurance fund paid ``amount`` of ``asset`` toward the account's deficit."""

    account: str
    asset: str
    amount: Decimal


class Socialized(Outbound, frozen=True, kw_only=True, tag="socialized"):
    """The account's deficit in ``asset`` paid by other accounts: ``shares`` maps account id to amount."""

    account: str
    asset: str
    shares: dict[str, Decimal]


class BadDebt(Outbound, frozen=True, kw_only=True, tag="bad_debt"):
    """``amount`` of ``asset`` of the account's deficit nobody bore, booked as bad debt."""

    account: str
    asset: str
    amount: Decimal


class MarkMoved(Outbound, frozen=True, kw_only=True, tag="mark_moved"):
    """The permanent impact of liquidation fills moved ``instrument``'s mark from ``before`` to ``mark``; it
    stays until the oracle's mark of the instrument changes."""

    instrument: str
    before: Decimal
    mark: Decimal


OutboundEvent = (
    Rejected
    | PriceStatus
    | AccountStatus
    | Figures
    | LiquidationFill
    | Deleveraged
    | CollateralSold
    | InsurancePaid
    | Socialized
    | BadDebt
    | MarkMoved
)

E = TypeVar("E")


class _Record(msgspec.Struct, Generic[E], frozen=True):
    version: int
    event: E


_ENCODER = msgspec.json.Encoder()
_INBOUND = msgspec.json.Decoder(_Record[InboundEvent])
_OUTBOUND = msgspec.json.Decoder(_Record[OutboundEvent])


def encode(event: Inbound | Outbound) -> bytes:
    """One event as a JSON record of the current :data:`VERSION` (one line: no newline inside)."""
    return _ENCODER.encode(_Record(VERSION, event))


def _decoded(decoder: msgspec.json.Decoder[_Record[E]], data: bytes | str) -> E:
    try:
        record = decoder.decode(data)
    except msgspec.ValidationError as err:
        raise InputError("event", f"not a valid event record: {err}") from None
    except msgspec.DecodeError as err:
        raise InputError("event", f"not JSON: {err}") from None
    if record.version != VERSION:
        raise InputError("version", f"records of version {record.version} are not read here (this is {VERSION})")
    return record.event


def decode_inbound(data: bytes | str) -> InboundEvent:
    """The inbound event of a record written by :func:`encode`; a malformed record raises InputError."""
    return _decoded(_INBOUND, data)


def decode_outbound(data: bytes | str) -> OutboundEvent:
    """The outbound event of a record written by :func:`encode`; a malformed record raises InputError."""
    return _decoded(_OUTBOUND, data)
