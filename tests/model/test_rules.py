"""Rule choices and liquidation terms: defaults, what each margin-valuation choice selects, the size steps a
liquidation closes in, and every refused term named by its field."""

import pytest

from crossmargin.model import InputError, RuleChoices, Side
from crossmargin.model.rules import (
    LiquidationTerms,
    MarginValuation,
    PriceMove,
    ScenarioMargin,
    Valuation,
    VarFloor,
    VolatilityScaling,
)
from tests.builders import D


def test_defaults_value_at_the_mark_and_liquidate_below_maintenance():
    rules = RuleChoices("generic")
    assert (rules.liquidation_threshold, rules.liquidate_at_equality, rules.liquidation_price_moves) == (
        D(1), False, PriceMove.UNDERLYING,
    )  # fmt: skip
    assert not any(rules.margin_valuation.at_entry(side, iso) for side in Side for iso in (False, True))


def test_each_margin_valuation_choice_selects_one_requirement():
    # Bybit since 2 Sep 2025 (and OKX): only isolated initial margin stays at the entry price
    bybit = MarginValuation(isolated_initial=Valuation.ENTRY)
    chosen = {(side, iso) for side in Side for iso in (False, True) if bybit.at_entry(side, iso)}
    assert chosen == {(Side.INITIAL, True)}
    cross_mm = MarginValuation(cross_maintenance=Valuation.ENTRY)
    assert {(s, i) for s in Side for i in (False, True) if cross_mm.at_entry(s, i)} == {(Side.MAINTENANCE, False)}


def test_size_steps_from_a_mapping_are_sorted_pairs_with_a_default():
    terms = LiquidationTerms(size_steps={"SOL-PERP": D("0.01"), "*": D("0.001")})  # type: ignore[arg-type]
    assert terms.size_steps == (("*", D("0.001")), ("SOL-PERP", D("0.01")))
    assert (terms.size_step("SOL-PERP"), terms.size_step("BTC-PERP")) == (D("0.01"), D("0.001"))
    assert LiquidationTerms().size_step("BTC-PERP") is None


def test_a_scenario_grid_and_the_other_sections_take_valid_terms():
    grid = ScenarioMargin((D("-0.16"), D(0), D("0.16")), vol_shocks=(D("-0.3"), D("0.3")), initial_factor=D("1.2"))
    assert grid.moves[0] == D("-0.16") and grid.correlation_credit == 0
    assert VarFloor(D("0.99")).horizon_days == 1
    scaling = VolatilityScaling(D("0.5"))
    assert (scaling.floor, scaling.cap, scaling.max_daily_fall) == (D(1), D(3), D("0.1"))


BAD = [
    ("liquidation threshold below 1", lambda: RuleChoices("x", liquidation_threshold=D("0.99")),
     "liquidation_threshold"),
    ("notional floor above 1", lambda: RuleChoices("x", withdrawal_notional_floor=D("1.5")),
     "withdrawal_notional_floor"),
    ("no move", lambda: ScenarioMargin(()), "scenario_margin.moves"),
    ("a fall of 100 %", lambda: ScenarioMargin((D(-1),)), "scenario_margin.moves[0]"),
    ("no vol shock", lambda: ScenarioMargin((D(0),), vol_shocks=()), "scenario_margin.vol_shocks"),
    ("vol shock -100 %", lambda: ScenarioMargin((D(0),), vol_shocks=(D(0), D(-1))), "scenario_margin.vol_shocks[1]"),
    ("credit above 1", lambda: ScenarioMargin((D(0),), correlation_credit=D(2)), "scenario_margin.correlation_credit"),
    ("negative concentration threshold", lambda: ScenarioMargin((D(0),), concentration_threshold=D(-1)),
     "scenario_margin.concentration_threshold"),
    ("initial factor below 1", lambda: ScenarioMargin((D(0),), initial_factor=D("0.9")),
     "scenario_margin.initial_factor"),
    ("VaR level 1", lambda: VarFloor(D(1)), "var_floor.level"),
    ("VaR horizon 0", lambda: VarFloor(D("0.99"), D(0)), "var_floor.horizon_days"),
    ("reference 0", lambda: VolatilityScaling(D(0)), "volatility_scaling.reference"),
    ("floor below 1", lambda: VolatilityScaling(D("0.5"), floor=D("0.9")), "volatility_scaling.floor"),
    ("cap below floor", lambda: VolatilityScaling(D("0.5"), floor=D(2), cap=D("1.5")), "volatility_scaling.cap"),
    ("half life 0", lambda: VolatilityScaling(D("0.5"), half_life_days=D(0)), "volatility_scaling.half_life_days"),
    ("daily fall above 1", lambda: VolatilityScaling(D("0.5"), max_daily_fall=D(2)),
     "volatility_scaling.max_daily_fall"),
    ("fee rate above 1", lambda: LiquidationTerms(fee_rate=D("1.01")), "fee_rate"),
    ("fund share negative", lambda: LiquidationTerms(insurance_fund_share=D(-1)), "insurance_fund_share"),
    ("headroom above 1", lambda: LiquidationTerms(insurance_fee_headroom=D(2)), "insurance_fee_headroom"),
    ("unnamed step", lambda: LiquidationTerms(size_steps=(("", D(1)),)), "size_steps"),
    ("step zero", lambda: LiquidationTerms(size_steps=(("BTC-PERP", D(0)),)), "size_steps.BTC-PERP"),
    ("buffer above 1", lambda: LiquidationTerms(buffer=D(2)), "buffer"),
    ("bankruptcy adjustment below 1", lambda: LiquidationTerms(bankruptcy_adjustment=D("0.5")),
     "bankruptcy_adjustment"),
    ("spread 0", lambda: LiquidationTerms(spread_to_maintenance=D(0)), "spread_to_maintenance"),
    ("no ranking", lambda: LiquidationTerms(adl_ranking=""), "adl_ranking"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_term_is_refused_naming_its_field(make, field):
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field
