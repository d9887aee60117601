"""A rulebook: one venue's rule choices, liquidation terms and default tables, read from a bundled file.

A rulebook file (``venues/data/<name>.yaml``) holds ``name``, ``title``, ``tables_taken`` (the date the
tables were taken), ``sources`` (what each table or rule was learned from), ``rules``
(:class:`~crossmargin.model.rules.RuleChoices` fields), ``liquidation``
(:class:`~crossmargin.model.rules.LiquidationTerms` fields) and default ``assets`` and ``instruments``
written exactly as in the portfolio document. A document that names the rulebook gets those tables; its
own ``assets`` and ``instruments`` entries override them by name.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.rules import (
    BufferBasis,
    FillPrice,
    LiquidationTerms,
    MarginValuation,
    PriceMove,
    RuleChoices,
    ScenarioMargin,
    Shortfall,
    Sizing,
    Valuation,
    VarFloor,
    VolatilityScaling,
)

CONTRACT_FIELDS = ("kind", "underlying", "settle", "contract_size", "inverse", "expiry")
"""What an instrument is, as opposed to how a venue margins it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceFile(_Strict):
    """Where a table or rule was learned: a page or a repository path."""

    what: str
    where: str
    taken: str | None = None


class ScenarioMarginFile(_Strict):
    """The ``rules.scenario_margin`` section: :class:`ScenarioMargin` fields."""

    moves: list[Decimal]
    vol_shocks: list[Decimal] = [Decimal(0)]
    short_option_minimum: Decimal = Decimal(0)
    delta_addon: Decimal = Decimal(0)
    concentration_threshold: Decimal | None = None
    concentration_rate: Decimal = Decimal(0)
    correlation_credit: Decimal = Decimal(0)
    initial_factor: Decimal = Decimal(1)


class VarFloorFile(_Strict):
    """The ``rules.var_floor`` section: :class:`VarFloor` fields."""

    level: Decimal
    horizon_days: Decimal = Decimal(1)


class VolatilityScalingFile(_Strict):
    """The ``rules.volatility_scaling`` section: :class:`VolatilityScaling` fields."""

    reference: Decimal
    floor: Decimal = Decimal(1)
    cap: Decimal = Decimal(3)
    half_life_days: Decimal = Decimal(5)
    max_daily_fall: Decimal = Decimal("0.1")


class MarginValuationFile(_Strict):
    """The ``rules.margin_valuation`` section: :class:`MarginValuation` fields (``mark`` or ``entry``)."""

    cross_initial: Valuation = Valuation.MARK
    cross_maintenance: Valuation = Valuation.MARK
    isolated_initial: Valuation = Valuation.MARK
    isolated_maintenance: Valuation = Valuation.MARK


class RulesFile(_Strict):
    """The ``rules`` section: :class:`RuleChoices` fields."""

    liquidate_at_equality: bool = False
    liquidation_threshold: Decimal = Decimal(1)
    liquidation_price_moves: PriceMove = PriceMove.UNDERLYING
    liquidate_without_requirement: bool = True
    withdrawal_notional_floor: Decimal = Decimal(0)
    pnl_in_settle_collateral: bool = False
    scenario_margin: ScenarioMarginFile | None = None
    var_floor: VarFloorFile | None = None
    volatility_scaling: VolatilityScalingFile | None = None
    margin_valuation: MarginValuationFile = MarginValuationFile()

    def choices(self, name: str) -> RuleChoices:
        """The :class:`RuleChoices` this section describes, for a rulebook called ``name``."""
        fields = self.model_dump(exclude={"scenario_margin", "var_floor", "volatility_scaling", "margin_valuation"})
        grid = self.scenario_margin
        scenario = None
        if grid is not None:
            terms = grid.model_dump()
            terms["moves"], terms["vol_shocks"] = tuple(grid.moves), tuple(grid.vol_shocks)
            scenario = ScenarioMargin(**terms)
        floor = None if self.var_floor is None else VarFloor(**self.var_floor.model_dump())
        scaling = self.volatility_scaling
        volatility = None if scaling is None else VolatilityScaling(**scaling.model_dump())
        valuation = MarginValuation(**self.margin_valuation.model_dump())
        return RuleChoices(
            name,
            **fields,
            scenario_margin=scenario,
            var_floor=floor,
            volatility_scaling=volatility,
            margin_valuation=valuation,
        )


class LiquidationFile(_Strict):
    """The ``liquidation`` section: :class:`LiquidationTerms` fields."""

    fee_rate: Decimal = Decimal(0)
    insurance_fund_share: Decimal = Decimal(1)
    partial: bool = True
    fill_price: FillPrice = FillPrice.MARKET
    shortfall: Shortfall = Shortfall.ADL
    adl_ranking: str = "profit_x_leverage"
    buffer: Decimal = Decimal(0)
    full_close_below: Decimal = Decimal(0)
    collateral_discount: Decimal = Decimal("0.05")
    bankruptcy_adjustment: Decimal = Decimal(1)
    spread_to_maintenance: Decimal = Decimal("1.5")
    buffer_basis: BufferBasis = BufferBasis.MAINTENANCE
    sizing: Sizing = Sizing.SEARCH
    insurance_fee_rate: Decimal = Decimal(0)
    insurance_fee_headroom: Decimal | None = None
    cap_fee_at_bankruptcy: bool = True
    size_steps: dict[str, Decimal] = {}

    @field_validator("size_steps", mode="before")
    @classmethod
    def _steps_as_mapping(cls, value: Any) -> Any:
        """Instrument -> step, also from the (instrument, step) pairs :class:`LiquidationTerms` holds."""
        if isinstance(value, list | tuple) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
            return dict(value)
        return value


class RulebookFile(_Strict):
    """A bundled rulebook file."""

    name: str
    title: str
    tables_taken: str
    sources: list[SourceFile] = []
    notes: str = ""
    rules: RulesFile = RulesFile()
    liquidation: LiquidationFile = LiquidationFile()
    assets: dict[str, Any] = {}
    instruments: dict[str, Any] = {}


@dataclass(frozen=True)
class Source:
    """Where a table or rule was learned."""

    what: str
    where: str
    taken: str | None


@dataclass(frozen=True)
class Rulebook:
    """A venue's rules: choices for the maths, terms for the liquidation engine, default tables."""

    name: str
    title: str
    tables_taken: str
    rules: RuleChoices
    liquidation: LiquidationTerms
    assets: Mapping[str, Any] = field(default_factory=dict)
    instruments: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()
    notes: str = ""

    def apply_to(self, document: Mapping[str, Any], tables_win: bool = False) -> dict[str, Any]:
        """``document`` with this rulebook's tables filled in.

        The document's own ``assets`` and ``instruments`` entries override the rulebook's by name, unless
        ``tables_win`` (used to compare venues on one book): then the venue's risk terms apply (asset
        weights; an instrument's tiers, fees and weights) while an instrument the document defines keeps
        what the contract is (:data:`CONTRACT_FIELDS`), so the same positions mean the same exposure
        under every venue.
        """
        merged = dict(document)
        if any(not isinstance(document.get(key) or {}, Mapping) for key in ("assets", "instruments")):
            return merged  # not a mapping of names: left for validation to name the section
        own_assets = dict(document.get("assets") or {})
        merged["assets"] = {**own_assets, **self.assets} if tables_win else {**self.assets, **own_assets}
        own_instruments = dict(document.get("instruments") or {})
        if not tables_win:
            merged["instruments"] = {**self.instruments, **own_instruments}
            return merged
        instruments = {**own_instruments, **self.instruments}
        for name, entry in own_instruments.items():
            if name in self.instruments and isinstance(entry, Mapping):
                contract = {key: entry[key] for key in CONTRACT_FIELDS if key in entry}
                instruments[name] = {**self.instruments[name], **contract}
        merged["instruments"] = instruments
        return merged


def rulebook_from_data(data: Mapping[str, Any], origin: str) -> Rulebook:
    """Validate a parsed rulebook file and build its :class:`Rulebook`; errors name ``origin``."""
    try:
        parsed = RulebookFile.model_validate(dict(data))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(f"{origin}: {where}", first["msg"]) from None
    try:
        portfolio_from_document(
            {"version": 1, "base": "USD", "assets": parsed.assets, "instruments": parsed.instruments}
        )
    except InputError as err:
        raise InputError(f"{origin}: {err.field}", err.message) from None
    try:
        rules = parsed.rules.choices(parsed.name)
    except InputError as err:
        raise InputError(f"{origin}: {err.within('rules').field}", err.message) from None
    try:
        liquidation = LiquidationTerms(**parsed.liquidation.model_dump())
    except InputError as err:
        raise InputError(f"{origin}: {err.within('liquidation').field}", err.message) from None
    return Rulebook(
        name=parsed.name,
        title=parsed.title,
        tables_taken=parsed.tables_taken,
        rules=rules,
        liquidation=liquidation,
        assets=parsed.assets,
        instruments=parsed.instruments,
        sources=tuple(Source(s.what, s.where, s.taken) for s in parsed.sources),
        notes=parsed.notes,
    )
