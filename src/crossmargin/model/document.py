"""The portfolio document, version 1: its structure and its conversion to model objects.

A document is a mapping already parsed from JSON or YAML. Numbers may be ``Decimal``, ``int``, ``str``
or ``float`` (a float is read through its shortest text, so ``0.1`` becomes ``Decimal("0.1")``). The
pydantic models below check structure only (keys, types, enums); ranges and cross-references are
checked by the model constructors. :func:`portfolio_from_document` reports the first problem as one
:class:`InputError` whose field is the path of the offending value in the document, e.g.
``instruments.BTC-PERP.tiers[1].mmr`` or ``accounts[3] (id 'alice').positions[0].size``.
The reference is ``docs/portfolio-document.md``.
"""

import json
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from crossmargin.model.accounts import Account, Position
from crossmargin.model.assets import Asset, WeightBand, WeightSchedule
from crossmargin.model.errors import UNPRINTABLE, InputError, field_prefix
from crossmargin.model.instruments import ContractKind, Instrument, OptionRight, TierBasis
from crossmargin.model.market import Market
from crossmargin.model.numbers import bounded, exact, non_negative, within
from crossmargin.model.portfolio import Portfolio
from crossmargin.model.tiers import TierSpec, TierTable

SCHEMA_ID = "urn:crossmargin:schema:portfolio-document:1"
"""The ``$id`` of the document's JSON Schema."""

_KEY = "[key]"  # the last element of a pydantic error location that blames a mapping key
_ESCAPED_UNPRINTABLE = re.compile(r"\\(?:[bfnrt]|u00[01]|u007[fF]|u00[89]|u202[89]|u[dD][89a-fA-F])")  # in ASCII JSON
_UNION_MEMBER = re.compile(r"^(decimal|[a-z][a-z-]*\[.*\])$")  # e.g. list[tuple[...]], function-after[...]

_Item = TypeVar("_Item")
_Built = TypeVar("_Built")


def _version_one(value: object) -> object:
    if type(value) is int and value == 1:
        return value
    raise PydanticCustomError(
        "document_version",
        "unsupported document version {version}: this crossmargin reads version 1",
        {"version": repr(value)},
    )


def _id_text(value: object) -> object:
    """Integer account ids are read as their decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _given(*keys: str) -> dict[str, Any]:
    """JSON Schema clause: every key in ``keys`` is present and not null."""
    return {"required": list(keys), "properties": {key: {"not": {"type": "null"}} for key in keys}}


def _bounded(value: Decimal) -> Decimal:
    """A document number as the input boundary takes it (:func:`crossmargin.model.numbers.bounded`)."""
    try:
        return bounded(value, "")
    except InputError as err:
        raise PydanticCustomError("number_range", "{reason}", {"reason": err.message}) from None


Number = Annotated[Decimal, AfterValidator(_bounded)]
"""Every number of the document: finite, in range and of at most 50 significant digits, ``-0`` read as 0."""
FAST = Field(fail_fast=True)
"""Every list and mapping of the document stops at its first bad entry: a file of a million bad entries costs
one error, not a million (pydantic would otherwise build every one, seconds and gigabytes)."""
WeightBands = Annotated[list[tuple[Number, Number]], FAST, Field(min_length=1)]
Name = Annotated[str, Field(min_length=1)]
AccountId = Annotated[Name, BeforeValidator(_id_text, json_schema_input_type=Name | int)]


class _Part(BaseModel):
    """Every object of the document rejects keys it does not define."""

    model_config = ConfigDict(extra="forbid")


class AssetDocument(_Part):
    """A collateral asset: weights (haircuts) of holdings and weights of liabilities, on two sides.

    The maintenance side decides liquidation; the initial side (holdings weighed lower, liabilities
    higher) decides free collateral. Give exactly one of weight and weight_bands, and at most one of
    initial_weight and initial_weight_bands.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [_given("weight"), _given("weight_bands")],
            "not": _given("initial_weight", "initial_weight_bands"),
        }
    )

    weight: Number | None = Field(
        default=None,
        description="Maintenance weight of every unit held, in [0, 1]: a holding counts as "
        "amount x price x weight (1 - weight is the haircut). Exactly one of weight and weight_bands.",
    )
    weight_bands: WeightBands | None = Field(
        default=None,
        description="Marginal maintenance weights by amount held: [[from_amount, weight], ...] with "
        "from_amount in asset units (the first 0, strictly ascending) and weights in [0, 1]; the units "
        "from one from_amount up to the next count at that band's weight.",
    )
    initial_weight: Number | None = Field(
        default=None,
        description="Initial-side weight of every unit held, in [0, 1], never above the maintenance "
        "weight. Default (with initial_weight_bands also absent): the maintenance schedule.",
    )
    initial_weight_bands: WeightBands | None = Field(
        default=None,
        description="Initial-side weights by amount, in the form of weight_bands; at every amount at "
        "most the maintenance weight.",
    )
    liability_weight: Number = Field(
        default=Decimal(1),
        json_schema_extra={"default": 1},
        description="Maintenance weight of a negative balance (a liability), >= 1: it counts as "
        "amount x price x liability_weight.",
    )
    initial_liability_weight: Number | None = Field(
        default=None,
        description="Initial-side liability weight, >= liability_weight. Default: liability_weight.",
    )
    imf_factor: Number = Field(
        default=Decimal(0),
        json_schema_extra={"default": 0},
        description="Size discount (Drift's IMF factor), >= 0, with flat weights only: a holding of a units "
        "counts at min(weight, 1.1 / (1 + imf_factor x sqrt(a))), a liability at "
        "max(liability_weight, 0.8 x liability_weight + imf_factor x sqrt(a)). 0: none.",
    )

    @model_validator(mode="after")
    def one_schedule_per_side(self) -> Self:
        """Exactly one maintenance schedule and at most one initial schedule."""
        if (self.weight is None) == (self.weight_bands is None):
            raise PydanticCustomError("weight_choice", "give exactly one of weight and weight_bands")
        if self.initial_weight is not None and self.initial_weight_bands is not None:
            raise PydanticCustomError(
                "initial_weight_choice", "give at most one of initial_weight and initial_weight_bands"
            )
        return self


class TierDocument(_Part):
    """One risk bracket. Notional and amounts are in settle-asset units; rates are fractions.

    A position of notional n in this bracket needs maintenance margin n x mmr - maint_amount and
    initial margin n x imr.
    """

    max_notional: Number | None = Field(
        description="Largest position notional (settle-asset units, > 0, inclusive) in this bracket; "
        "strictly ascending from bracket to bracket; null for the last, open bracket only.",
    )
    mmr: Number | None = Field(
        default=None,
        description="Maintenance margin rate in [0, 1]; never falls from one bracket to the next. May be "
        "left out when the instrument gives maintenance_fraction (then mmr = imr x maintenance_fraction).",
    )
    imr: Number | None = Field(
        default=None,
        description="Initial margin rate in (0, 1], at least mmr; never falls from one bracket to the "
        "next. Default 1 / max_leverage; give imr, max_leverage or both (agreeing).",
    )
    max_leverage: Number | None = Field(
        default=None, description="Maximum leverage, >= 1; implies imr = 1 / max_leverage."
    )
    maint_amount: Number | None = Field(
        default=None,
        description="Maintenance amount (settle-asset units, >= 0, at most the lower edge x mmr). "
        "Default: derived so maintenance margin is continuous at bracket edges, "
        "maint_amount[k] = maint_amount[k-1] + max_notional[k-1] x (mmr[k] - mmr[k-1]), 0 for the first.",
    )


class InstrumentDocument(_Part):
    """A derivative contract: a perpetual, a dated future (linear or inverse) or a European option."""

    kind: ContractKind = Field(description="perpetual, future or option.")
    underlying: Name = Field(description="The asset whose price the contract tracks, e.g. BTC.")
    settle: Name = Field(
        description="The asset the contract is margined and settled in (PnL, notional, tiers, "
        "isolated margin); it needs a price unless it is the base currency.",
    )
    contract_size: Number = Field(
        description="What one contract is, > 0: units of the underlying (linear), or of the quote "
        "currency, e.g. USD (inverse).",
    )
    inverse: StrictBool = Field(
        default=False,
        description="True for an inverse (coin-margined) contract: contract_size is in quote units and "
        "PnL, notional and margin are in the settle coin. For an option: settled and quoted in its "
        "underlying coin (settle = underlying, premium in coin per unit, strike in the base currency), as "
        "Deribit lists BTC options; its contract_size stays in underlying units.",
    )
    strike: Number | None = Field(
        default=None,
        description="Options only, > 0: the strike, in the settle asset (linear) or the base currency "
        "(inverse, coin-settled).",
    )
    right: OptionRight | None = Field(default=None, description="Options only: call or put (European).")
    expiry: AwareDatetime | None = Field(
        default=None,
        description="Expiry as an ISO 8601 date-time with a UTC offset, e.g. 2025-03-28T08:00:00Z; futures "
        "and options only (options need one).",
    )
    tiers: Annotated[list[TierDocument], FAST] = Field(
        min_length=1, description="Risk brackets by position notional (or size), ascending; the last may be open."
    )
    tier_basis: TierBasis = Field(
        default=TierBasis.NOTIONAL,
        description="What max_notional bounds: notional (settle units, default) or size: |size| x "
        "contract_size, in underlying units (linear) or quote units (inverse), as OKX tiers positions.",
    )
    maintenance_fraction: Number | None = Field(
        default=None,
        description="In [0, 1]: a tier without mmr gets mmr = imr x maintenance_fraction (Hyperliquid: 0.5, "
        "maintenance is half the initial margin at max leverage; dYdX: the liquidity tier's maintenance "
        "fraction).",
    )
    upnl_weight: Number = Field(
        default=Decimal(1),
        json_schema_extra={"default": 1},
        description="Weight in [0, 1] at which a positive unrealized PnL counts toward equity for "
        "maintenance; losses always count in full.",
    )
    initial_upnl_weight: Number | None = Field(
        default=None,
        description="Weight in [0, upnl_weight] of a positive unrealized PnL for initial margin and "
        "withdrawals. Default: upnl_weight.",
    )
    initial_upnl_cap: Number | None = Field(
        default=None,
        description="Largest positive uPnL (settle units, after weights) one position adds to initial "
        "equity (Drift: 100). Default: no cap.",
    )
    imf_factor: Number = Field(
        default=Decimal(0),
        json_schema_extra={"default": 0},
        description="Size premium (Drift's IMF factor), >= 0, linear contracts only: each margin rate r "
        "becomes max(r, 0.8 r + imf_factor x sqrt(|size| x contract_size)), and positive uPnL p counts "
        "for initial margin at min(initial_upnl_weight, 1.1 / (1 + imf_factor x sqrt(p))). 0: none.",
    )
    close_fee_rate: Number = Field(
        default=Decimal(0),
        json_schema_extra={"default": 0},
        description="Fee rate in [0, 1] on the notional at the bankruptcy price, added to both margin "
        "requirements as the estimated fee to close (Bybit).",
    )
    liquidation_fee_rate: Number = Field(
        default=Decimal(0),
        json_schema_extra={"default": 0},
        description="Fee rate in [0, 1] on the notional at the mark, added to the maintenance "
        "requirement (OKX adds the liquidation fee).",
    )
    open_interest_caps: tuple[Number, Number] | None = Field(
        default=None,
        description="[lower, upper] open-interest notionals (settle units): between them the initial rate "
        "rises linearly from the tier's imr to 1 (dYdX). Needs open_interest for the instrument.",
    )
    margin_quantum: Number | None = Field(
        default=None,
        description="Truncate the notional margin is computed on to a multiple of this and round each "
        "requirement up to a multiple of it (settle units, > 0), as a venue computing in integers does "
        "(dYdX: 0.000001 USDC). Default: exact.",
    )
    rate_quantum: Number | None = Field(
        default=None,
        description="Round the open-interest-scaled initial rate down to a multiple of this (> 0; dYdX: "
        "0.000001, whole ppm). Default: exact.",
    )


class ReportedPosition(_Part):
    """The venue's own figures of an imported position (``crossmargin import``): evaluation ignores them,
    ``crossmargin reconcile`` sets ours beside them. Money in the instrument's settle asset; null or absent: the
    venue did not report it."""

    liquidation_price: Number | None = Field(default=None, description="In the units of the instrument's mark.")
    initial_margin: Number | None = Field(default=None, description="In the settle asset.")
    maintenance_margin: Number | None = Field(default=None, description="In the settle asset.")
    unrealized_pnl: Number | None = Field(default=None, description="In the settle asset; negative is a loss.")
    leverage: Number | None = Field(default=None, description="The user's leverage setting at the venue.")
    price_tick: Number | None = Field(default=None, description="The market's price increment, mark units.")


class ReportedAccount(_Part):
    """The venue's own figures of an imported account (``crossmargin import``): evaluation ignores them,
    ``crossmargin reconcile`` sets ours beside them. Null or absent: the venue did not report it."""

    venue: Name = Field(description="The exchange that reported the figures (its ccxt id, e.g. binanceusdm).")
    currency: Name = Field(description="The currency of the money figures below.")
    scope: Literal["total", "cross"] = Field(
        default="total",
        description="What the figures cover: total, the cross pool and the isolated positions together; cross, "
        "the cross pool alone.",
    )
    equity: Number | None = Field(default=None, description="Margin balance: collateral plus unrealized PnL.")
    initial_margin: Number | None = Field(default=None, description="Of the open positions.")
    maintenance_margin: Number | None = Field(default=None, description="Of the open positions.")
    margin_ratio: Number | None = Field(default=None, description="As the venue defines and reports it.")
    free_collateral: Number | None = Field(default=None, description="What the venue says is available.")
    open_orders_initial_margin: Number | None = Field(
        default=None, description="Initial margin held for open orders (not in the document's positions)."
    )


class PositionDocument(_Part):
    """An open position; its PnL, notional and margin are in the instrument's settle asset."""

    instrument: Name = Field(description="Name of an instrument under instruments.")
    size: Number = Field(description="Size in contracts: positive long, negative short, never zero.")
    entry_price: Number = Field(description="Average entry price, > 0, in the units of the instrument's mark.")
    isolated_margin: Number | None = Field(
        default=None,
        description="Margin allocated to this position alone, in the settle asset, >= 0, held apart from "
        "the account's balances. Absent or null: the position is cross-margined.",
    )
    reported: ReportedPosition | None = Field(
        default=None, description="The venue's own figures of an imported position; evaluation ignores them."
    )


class AccountDocument(_Part):
    """An account: its balances (the cross collateral pool) and its open positions."""

    id: AccountId = Field(description="Unique, non-empty account id; an integer is read as its decimal text.")
    balances: Annotated[dict[str, Number], FAST] = Field(
        default={},
        description="Asset -> amount in asset units; negative is owed (a liability). Every asset must be "
        "listed under assets and, unless the amount is 0, have a price.",
    )
    positions: Annotated[list[PositionDocument], FAST] = Field(
        default=[], description="Open positions, at most one per instrument."
    )
    venue: Name | None = Field(
        default=None,
        description="The venue the account is at: the name of the rulebook it is margined under, with that "
        "rulebook's tables (e.g. okx). Absent or null: the document's rulebook. The command line resolves the "
        "name.",
    )
    owner: AccountId | None = Field(
        default=None,
        description="Who holds the account, a free name (an integer is read as its decimal text): the accounts "
        "of one owner, at any venues, are viewed together. Absent or null: the account's own id.",
    )
    reported: ReportedAccount | None = Field(
        default=None, description="The venue's own figures of an imported account; evaluation ignores them."
    )


class GuardsDocument(_Part):
    """Checks on one symbol's price sources (fractions of the price; seconds of the feed's clock)."""

    max_age_s: Number | None = Field(
        default=None, description="A source is fresh when updated at most this long ago (> 0; default 60)."
    )
    quorum: StrictInt | None = Field(
        default=None,
        description="Fresh agreeing sources for a valid price (>= 1; default 1; fewer: unconfirmed or invalid).",
    )
    max_deviation: Number | None = Field(
        default=None, description="A source further than this fraction from the median is ignored (default 0.02)."
    )
    max_confidence: Number | None = Field(
        default=None,
        description="A source whose confidence half-width exceeds this fraction is ignored (default 0.02).",
    )
    max_jump: Number | None = Field(
        default=None,
        description="An index further than this fraction from its EMA trips the circuit breaker (default 0.25).",
    )
    ema_half_life_s: Number | None = Field(default=None, description="Half-life of the EMAs, seconds (default 300).")
    peg: Number | None = Field(default=None, description="Peg of a pegged asset, in base (e.g. 1 for a stablecoin).")
    peg_tolerance: Number | None = Field(
        default=None, description="A pegged asset below peg x (1 - peg_tolerance) is degraded (default 0.01)."
    )
    price_source: Name | None = Field(
        default=None,
        description="median (default): the median of agreeing fresh sources; a source's name: own-venue pricing, "
        "the index is that source's fresh price (the median of the fresh sources while it is not fresh).",
    )


class PolicyDocument(_Part):
    """What the engine does with prices of each status (valid, degraded, unconfirmed, invalid)."""

    liquidate_on: Annotated[list[Literal["valid", "degraded", "unconfirmed", "invalid"]], FAST] | None = Field(
        default=None,
        description="Statuses every price of an account must have for it to be liquidated (default valid, degraded).",
    )
    freeze_on: Annotated[list[Literal["valid", "degraded", "unconfirmed", "invalid"]], FAST] | None = Field(
        default=None, description="Statuses that freeze an account valued at them (default invalid)."
    )
    conservative_on: Annotated[list[Literal["valid", "degraded", "unconfirmed", "invalid"]], FAST] | None = Field(
        default=None,
        description="Statuses at which collateral counts at the worse of index and EMA "
        "(default degraded, unconfirmed).",
    )


class OracleDocument(GuardsDocument):
    """The oracle's settings for a replay: default guards, per-symbol guards and the policy."""

    symbols: Annotated[dict[str, GuardsDocument], FAST] = Field(
        default={}, description="Symbol -> guards overriding the defaults."
    )
    policy: PolicyDocument = Field(default_factory=PolicyDocument, description="The engine's policy per status.")


class LiquidityDocument(_Part):
    """The depth a liquidation order fills against (units of the underlying; offsets and impacts are fractions
    of the mark; a sell walks below the mark, a buy above; levels, linear and sqrt are symmetric, a book has
    its own sides, a pool is re-centred on the mark at each fill)."""

    model: Literal["mark", "levels", "linear", "sqrt", "book", "constant_product", "concentrated", "stableswap"] = (
        Field(
            description="mark: at the mark, no slippage; levels: depth per price level; linear: the price moves "
            "linearly with the size filled; sqrt: average impact coefficient x sqrt(size / depth_units); book: "
            "bid and ask levels; constant_product: an x y = k pool (Uniswap v2); concentrated: liquidity on tick "
            "ranges (Uniswap v3); stableswap: a two-coin Curve pool."
        )
    )
    levels: Annotated[list[tuple[Number, Number]], FAST] | None = Field(
        default=None, description="levels: [offset from the mark (fraction, increasing), units available] pairs."
    )
    bids: Annotated[list[tuple[Number, Number]], FAST] | None = Field(
        default=None, description="book: [offset below the mark (fraction, increasing), units] pairs a sell walks."
    )
    asks: Annotated[list[tuple[Number, Number]], FAST] | None = Field(
        default=None, description="book: [offset above the mark (fraction, increasing), units] pairs a buy walks."
    )
    depth_units: Number | None = Field(
        default=None, description="linear: units that move the price all the way to zero; sqrt: the depth scale."
    )
    coefficient: Number | None = Field(default=None, description="sqrt: the impact coefficient.")
    base_reserve: Number | None = Field(
        default=None,
        description="constant_product, stableswap: the pool's base (underlying) at any one moment; with "
        "quote_reserve it fixes the pool's invariant, the pool sitting where its price is the mark.",
    )
    quote_reserve: Number | None = Field(
        default=None, description="constant_product, stableswap: the pool's quote at the same moment."
    )
    amplification: Number | None = Field(
        default=None, description="stableswap: the pool's A as Curve publishes it (>= 1; twice the whitepaper's A)."
    )
    positions: Annotated[list[tuple[StrictInt, StrictInt, Number]], FAST] | None = Field(
        default=None,
        description="concentrated: [tick_lower, tick_upper, liquidity] positions, price 1.0001^tick in the "
        "mark's units; or give ticks.",
    )
    ticks: Annotated[list[tuple[StrictInt, Number]], FAST] | None = Field(
        default=None,
        description="concentrated: [tick, liquidity_net] per initialized tick, ticks increasing; or give positions.",
    )
    fee: Number | None = Field(
        default=None, description="constant_product, concentrated, stableswap: the pool's fee (fraction). Default 0."
    )
    permanent_impact: Number | None = Field(
        default=None,
        description="Fraction (0..1) of the move from the mark to the worst fill price (for a pool: to its price "
        "after the fill) that stays in the mark. Default 0, for a pool 1.",
    )


class PortfolioDocument(_Part):
    """A book to evaluate: assets, instruments, market prices and accounts. All prices are in the base currency."""

    model_config = ConfigDict(
        title="crossmargin portfolio document, version 1",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID,
        },
    )

    version: Annotated[Literal[1], BeforeValidator(_version_one)] = Field(
        description="Document format version: the integer 1."
    )
    base: Name = Field(description="Reporting (base) currency, e.g. USD: every price is in it; its own price is 1.")
    rulebook: str = Field(
        default="generic",
        description="Name of the rulebook (venue rules) to evaluate with: the venue of every account that names none.",
    )
    assets: Annotated[dict[str, AssetDocument], FAST] = Field(default={}, description="Collateral assets by name.")
    instruments: Annotated[dict[str, InstrumentDocument], FAST] = Field(default={}, description="Instruments by name.")
    prices: Annotated[dict[str, Number], FAST] = Field(
        default={},
        description="Asset -> price of one unit in the base currency, > 0. The base currency is 1 and may be left out.",
    )
    marks: Annotated[dict[str, Number], FAST] = Field(
        default={},
        description="Instrument -> mark price, > 0: settle units per underlying unit (linear) or quote "
        "units per underlying unit (inverse). Every instrument held in a position needs one.",
    )
    open_interest: Annotated[dict[str, Number], FAST] = Field(
        default={},
        description="Instrument -> open interest as a notional in settle units, >= 0, for instruments "
        "with open_interest_caps. Default: none.",
    )
    valuation_time: AwareDatetime | None = Field(
        default=None,
        description="When options are valued (ISO 8601 with a UTC offset): time to expiry is counted from "
        "it in years of 365 days. Needed by every option without a mark.",
    )
    vols: Annotated[dict[str, Number | Annotated[list[tuple[Number, Number]], FAST]], FAST] = Field(
        default={},
        description="Option instrument or underlying -> annualized volatility (0.6 = 60 %): a number (flat), "
        "or a smile as [moneyness K/F, vol] points ascending in moneyness, interpolated linearly and flat "
        "beyond its ends. An option uses its own entry, else its underlying's.",
    )
    rate: Number = Field(
        default=Decimal(0),
        json_schema_extra={"default": 0},
        description="Annual continuously compounded rate discounting option values (Black-76). Default 0.",
    )
    correlations: Annotated[dict[str, Annotated[dict[str, Number], FAST]], FAST] = Field(
        default={},
        description="Asset -> asset -> correlation of their returns in [-1, 1], for a rulebook's VaR floor, "
        "e.g. {BTC: {ETH: 0.8}}. A pair left out counts as 1 (no diversification).",
    )
    accounts: Annotated[list[AccountDocument], FAST] = Field(default=[], description="Accounts, with unique ids.")
    oracle: OracleDocument | None = Field(
        default=None,
        description="Oracle settings for replaying a price feed (crossmargin replay); defaults when absent.",
    )
    insurance_fund: Number = Field(
        default=Decimal(0),
        description="Opening balance of the insurance fund in the base currency, >= 0 (crossmargin replay).",
    )
    liquidity: Annotated[dict[str, LiquidityDocument], FAST] = Field(
        default={},
        description="Instrument (or * for every other one) -> the depth its liquidations fill against. "
        "Absent: liquidations fill at the mark with no slippage.",
    )


def document_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of portfolio document version 1, generated from its models.

    The same schema is shipped as ``crossmargin/schemas/portfolio-v1.schema.json``. It checks
    structure; ranges and cross-references are checked by :func:`portfolio_from_document`.
    """
    return PortfolioDocument.model_json_schema()


def portfolio_from_document(data: Mapping[str, Any]) -> Portfolio:
    """Validate a parsed portfolio document (version 1) and build the :class:`Portfolio` it describes.

    Prices are in the base currency, sizes in contracts (positive long), amounts in asset units,
    notionals and isolated margin in the instrument's settle asset. The whole document is checked
    before anything is returned; the first problem raises :class:`InputError` naming its path.
    """
    document = _validated(data)
    non_negative(document.insurance_fund, "insurance_fund")
    with exact():
        return _portfolio(document)


def asset_from_dict(name: str, data: Any) -> Asset:
    """One asset written as a portfolio document's ``assets`` entry (weights, bands, liability weights)."""
    if not isinstance(data, Mapping):
        raise InputError("", f"an asset is a mapping of keys, got {type(data).__name__}")
    try:
        document = AssetDocument.model_validate(dict(data))
    except ValidationError as err:
        raise _input_error(err.errors(include_url=False), data) from None
    with exact():
        return _asset(name, document)


def tiers_from_list(data: Any, notional_basis: bool = True) -> TierTable:
    """A tier table written as an instrument's ``tiers`` list (each bracket gives its mmr)."""
    if not isinstance(data, list) or not data:
        raise InputError("", "a tier table is a non-empty list of brackets")
    documents = []
    for index, bracket in enumerate(data):
        if not isinstance(bracket, Mapping):
            raise InputError(f"[{index}]", f"a bracket is a mapping of keys, got {type(bracket).__name__}")
        try:
            documents.append(TierDocument.model_validate(dict(bracket)))
        except ValidationError as err:
            raise _input_error(err.errors(include_url=False), bracket).within(f"[{index}]") from None
    specs = [TierSpec(t.max_notional, t.mmr, t.imr, t.max_leverage, t.maint_amount) for t in documents]
    with exact():
        return TierTable.build(specs, None, notional_basis)


def _validated(data: Mapping[str, Any]) -> PortfolioDocument:
    if not isinstance(data, Mapping):
        raise InputError("", f"a portfolio document is a mapping of keys, got {type(data).__name__}")
    _printable(data)
    try:
        return PortfolioDocument.model_validate(dict(data))
    except ValidationError as err:
        raise _input_error(err.errors(include_url=False), data) from None


def _printable(data: Mapping[str, Any]) -> None:
    """Every text of a document (names, ids, keys, enums, dates) is printable: a control character or a lone
    surrogate (a NUL in an id, an escape sequence in an asset name) is an error naming where it is. The
    document is first written as ASCII JSON in one call, where every such character shows as an escape; only
    a document with such an escape is walked to find it."""
    try:
        if not _ESCAPED_UNPRINTABLE.search(json.dumps(data, default=str, skipkeys=True)):
            return
    except ValueError:  # an int too long to write (a caller's, never a parsed file's): walk instead
        pass
    pending: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while pending:  # in document order: a collection's own texts, then its collections, first to last
        loc, node = pending.pop()
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        inner = []
        for key, value in items:
            if isinstance(key, str) and UNPRINTABLE.search(key):
                raise InputError(_path(loc, data), f"key {key!r}: names are printable text, without control characters")
            if isinstance(value, str) and UNPRINTABLE.search(value):
                raise InputError(_path((*loc, key), data), f"{value!r} is not printable text (control characters)")
            if isinstance(value, Mapping | list | tuple):
                inner.append(((*loc, key), value))
        pending += reversed(inner)


def _input_error(errors: Sequence[ErrorDetails], data: Mapping[str, Any]) -> InputError:
    """One error for pydantic's list: the first, with a count of the others. Where the first is one member's
    complaint about a value that may take several forms (``vols``: a number or a smile), the members' errors
    are one error: the one that reaches deepest into the value is reported (a smile's bad point, not "not a
    number")."""
    first = errors[0]
    member = next((i for i, key in enumerate(first["loc"]) if _union_member(key)), None)
    alternatives = [first]
    if member is not None:
        prefix = first["loc"][:member]
        alternatives = [
            error
            for error in errors
            if error["loc"][:member] == prefix and len(error["loc"]) > member and _union_member(error["loc"][member])
        ]
        first = max(alternatives, key=lambda error: len(_path(error["loc"], data)))
    loc = first["loc"]
    message = first["msg"]
    if loc and loc[-1] == _KEY:
        message = f"key {loc[-2]!r}: {message}"
    others = len(errors) - len(alternatives)
    if others:
        message += f" (and {others} more error{'s' if others > 1 else ''})"
    return InputError(_path(loc, data), message)


def _path(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """The document path of a pydantic error location, walking the raw data for keys vs indices. The label
    pydantic puts in a location for the member of a union (``vols``: a number or a smile) is no part of it."""
    path = ""
    node: Any = data
    for key in loc:
        if key == _KEY:
            break
        if _union_member(key) and not (isinstance(node, Mapping) and key in node):
            continue
        if isinstance(node, Mapping):
            path = f"{path}.{key}" if path else str(key)
            node = node.get(key)
        elif isinstance(node, list | tuple) and isinstance(key, int):
            item = node[key] if key < len(node) else None  # a tuple's missing item is named past the end
            path += f"[{key}]" + (_id_note(item) if path == "accounts" else "")
            node = item
        else:
            break
    return path


def _union_member(key: int | str) -> bool:
    """Whether an element of a pydantic error location is the label of a union's member."""
    return isinstance(key, str) and _UNION_MEMBER.match(key) is not None


def account_label(index: int, raw_account: object) -> str:
    """How errors name the document's account at ``index``: ``accounts[3] (id 'alice')``, or ``accounts[3]``
    when its raw entry has no usable id."""
    return f"accounts[{index}]{_id_note(raw_account)}"


def _id_note(raw_account: object) -> str:
    """`` (id 'alice')`` for a raw account whose id is usable, else nothing."""
    if not isinstance(raw_account, Mapping):
        return ""
    account_id = _id_text(raw_account.get("id"))
    return f" (id {account_id!r})" if isinstance(account_id, str) else ""


def _each(section: str, items: Mapping[str, _Item], build: Callable[[str, _Item], _Built]) -> dict[str, _Built]:
    built: dict[str, _Built] = {}
    for name, item in items.items():
        with field_prefix(f"{section}.{name}"):
            built[name] = build(name, item)
    return built


def _portfolio(document: PortfolioDocument) -> Portfolio:
    assets = _each("assets", document.assets, _asset)
    instruments = _each("instruments", document.instruments, _instrument)
    vols = {
        name: ((Decimal(1), given),) if isinstance(given, Decimal) else tuple(given)
        for name, given in document.vols.items()
    }
    market = Market(
        document.base,
        dict(document.prices),
        dict(document.marks),
        dict(document.open_interest),
        document.valuation_time,
        vols,
        document.rate,
        {(a, b): rho for a, row in document.correlations.items() for b, rho in row.items()},
    )
    accounts = tuple(_account(i, account) for i, account in enumerate(document.accounts))
    return Portfolio(document.base, document.rulebook, assets, instruments, market, accounts)


def _schedule(flat: Decimal | None, bands: list[tuple[Decimal, Decimal]] | None, key: str) -> WeightSchedule | None:
    """The schedule written as ``key`` (flat) or ``key_bands``; None when neither is given."""
    if bands is not None:
        with field_prefix(f"{key}_bands"):
            return WeightSchedule(tuple(WeightBand(start, weight) for start, weight in bands))
    if flat is None:
        return None
    try:
        return WeightSchedule.flat(flat)
    except InputError as err:
        raise InputError(key, err.message) from None


def _asset(name: str, document: AssetDocument) -> Asset:
    weight = _schedule(document.weight, document.weight_bands, "weight")
    if weight is None:
        raise InputError("weight", "give exactly one of weight and weight_bands")
    initial = _schedule(document.initial_weight, document.initial_weight_bands, "initial_weight") or weight
    liability = document.liability_weight
    initial_liability = document.initial_liability_weight
    try:
        return Asset(
            name,
            weight,
            initial,
            liability,
            liability if initial_liability is None else initial_liability,
            document.imf_factor,
        )
    except InputError as err:
        if err.field == "initial_weight" and document.initial_weight_bands is not None:
            raise InputError("initial_weight_bands", err.message) from None
        raise


def _instrument(name: str, document: InstrumentDocument) -> Instrument:
    specs = [TierSpec(t.max_notional, t.mmr, t.imr, t.max_leverage, t.maint_amount) for t in document.tiers]
    if document.maintenance_fraction is not None:
        within(document.maintenance_fraction, Decimal(0), Decimal(1), "maintenance_fraction")
    with field_prefix("tiers"):
        tiers = TierTable.build(specs, document.maintenance_fraction, document.tier_basis is TierBasis.NOTIONAL)
    upnl_weight = document.upnl_weight
    option = document.kind is ContractKind.OPTION
    if option and document.inverse != (document.settle == document.underlying):
        raise InputError(
            "inverse",
            "a coin-settled option (settle = underlying) is inverse: true; a linear one settles in its quote asset",
        )
    return Instrument(
        name,
        document.kind,
        document.underlying,
        document.settle,
        document.contract_size,
        document.inverse and not option,
        tiers,
        document.expiry,
        upnl_weight=upnl_weight,
        initial_upnl_weight=upnl_weight if document.initial_upnl_weight is None else document.initial_upnl_weight,
        close_fee_rate=document.close_fee_rate,
        liquidation_fee_rate=document.liquidation_fee_rate,
        tier_basis=document.tier_basis,
        imf_factor=document.imf_factor,
        initial_upnl_cap=document.initial_upnl_cap,
        open_interest_caps=document.open_interest_caps,
        margin_quantum=document.margin_quantum,
        rate_quantum=document.rate_quantum,
        strike=document.strike,
        right=document.right,
    )


def _account(index: int, document: AccountDocument) -> Account:
    with field_prefix(f"accounts[{index}] (id {document.id!r})"):
        positions: list[Position] = []
        for j, position in enumerate(document.positions):
            with field_prefix(f"positions[{j}]"):
                if position.isolated_margin is not None:
                    non_negative(position.isolated_margin, "isolated_margin")
                positions.append(
                    Position(position.instrument, position.size, position.entry_price, position.isolated_margin)
                )
        return Account(document.id, dict(document.balances), tuple(positions), document.venue, document.owner)


def clearing_section(data: Mapping[str, Any]) -> tuple[Decimal, dict[str, dict[str, Any]]]:
    """The insurance fund (base units, checked >= 0) and the liquidity models as plain mappings (instrument
    or ``*`` -> the model's set fields); unknown instruments are named by their path."""
    document = _validated(data)
    non_negative(document.insurance_fund, "insurance_fund")
    for name in document.liquidity:
        if name != "*" and name not in document.instruments:
            raise InputError(f"liquidity.{name}", f"unknown instrument {name!r}")
    return document.insurance_fund, {
        name: model.model_dump(exclude_none=True) for name, model in document.liquidity.items()
    }


def oracle_section(data: Mapping[str, Any]) -> OracleDocument:
    """The validated ``oracle`` section of a document (defaults when absent); errors name ``oracle...``."""
    return _validated(data).oracle or OracleDocument()
