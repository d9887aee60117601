"""The liquidation-price property under every rule choice and instrument term a rulebook can set.

The solver follows each segment's closed form; the status it reports is checked here against the
exact evaluator at the scaled prices, with random uPnL weights, fee terms, size premiums, tiers by
size, maintenance fractions, size-discounted collateral, liquidation thresholds, ``<=``,
instrument-only moves and uPnL joining its settle asset's balance.
"""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.whatif import compare_modes
from crossmargin.model import Asset, Portfolio, RuleChoices, TierSpec, TierTable, WeightSchedule, exact
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import PriceMove
from tests.builders import D
from tests.margin.test_properties import assert_liquidation_prices_are_status_changes, random_books


@st.composite
def venue_like(draw) -> tuple[Portfolio, RuleChoices]:
    portfolio = draw(random_books())
    rates = st.sampled_from([D(0), D("0.0005"), D("0.001")])
    instruments = {}
    for name, instrument in portfolio.instruments.items():
        changes: dict[str, object] = {
            "upnl_weight": draw(st.sampled_from([D(1), D("0.5"), D(0)])),
            "close_fee_rate": draw(rates),
            "liquidation_fee_rate": draw(rates),
        }
        changes["initial_upnl_weight"] = changes["upnl_weight"]
        if not instrument.inverse:
            changes["imf_factor"] = draw(st.sampled_from([D(0), D("0.0001"), D("0.001")]))
        if draw(st.booleans()):
            changes["tier_basis"] = TierBasis.SIZE
            changes["tiers"] = TierTable.build(
                [TierSpec(D(100), D("0.005"), D("0.01")), TierSpec(None, D("0.01"), D("0.02"), maint_amount=D(0))]
            )
        elif draw(st.booleans()):
            changes["tiers"] = TierTable.build(
                [TierSpec(t.max_notional, None, t.imr) for t in instrument.tiers.tiers], D("0.5")
            )
        instruments[name] = replace(instrument, **changes)
    assets = dict(portfolio.assets)
    if draw(st.booleans()):
        eth = WeightSchedule.flat(D("0.9"))
        assets["ETH"] = Asset("ETH", eth, WeightSchedule.flat(D("0.85")), D("1.05"), D("1.1"), D("0.01"))
    rules = RuleChoices(
        "random",
        liquidate_at_equality=draw(st.booleans()),
        liquidation_threshold=draw(st.sampled_from([D(1), D("1.05")])),
        liquidation_price_moves=draw(st.sampled_from(list(PriceMove))),
        pnl_in_settle_collateral=draw(st.booleans()),
    )
    return replace(portfolio, instruments=instruments, assets=assets), rules


@given(venue_like())
def test_liquidation_price_is_where_status_changes_under_any_rules(case: tuple[Portfolio, RuleChoices]):
    assert_liquidation_prices_are_status_changes(*case)


@given(venue_like())
def test_cross_never_needs_more_collateral_than_isolated_under_any_rules(case: tuple[Portfolio, RuleChoices]):
    # Not with uPnL inside the settle collateral: there the cross pool haircuts a coin-settled profit with
    # the coin's balance, while an isolated pool holds its settle coin unweighted, so isolated can need less.
    portfolio, rules = case
    rules = replace(rules, pnl_in_settle_collateral=False)
    comparison = compare_modes(portfolio.accounts[0], portfolio, rules)
    # quotients (inverse PnL, square roots) are rounded at the 50th digit, once per position
    with exact():
        allowed = comparison.isolated.collateral_required * (1 + D("1E-40")) + D("1E-40")
    assert comparison.cross.collateral_required <= allowed
