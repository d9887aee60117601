"""The liquidation-price property under every rule choice and instrument term a rulebook can set.

The solver follows each segment's closed form; the status it reports is checked here against the
exact evaluator at the scaled prices, with random uPnL weights, fee terms, size premiums, tiers by
size, maintenance fractions, size-discounted collateral, liquidation thresholds, ``<=``,
instrument-only moves, uPnL joining its settle asset's balance and requirements valued at the entry
price (any of the four: cross or isolated, initial or maintenance). With initial margin on the entry value,
the largest order that passes is still the edge of passing orders.
"""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.whatif import check_order, compare_modes
from crossmargin.model import Asset, Portfolio, RuleChoices, TierSpec, TierTable, WeightSchedule, exact
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import MarginValuation, PriceMove, Valuation
from tests.builders import GENERIC, D
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
        margin_valuation=MarginValuation(*(draw(st.sampled_from(list(Valuation))) for _ in range(4))),
    )
    return replace(portfolio, instruments=instruments, assets=assets), rules


@given(venue_like())
def test_liquidation_price_is_where_status_changes_under_any_rules(case: tuple[Portfolio, RuleChoices]):
    assert_liquidation_prices_are_status_changes(*case)


@given(venue_like())
def test_cross_never_needs_more_collateral_than_isolated_under_any_rules(case: tuple[Portfolio, RuleChoices]):
    # Not with uPnL inside the settle collateral: there the cross pool haircuts a coin-settled profit with
    # the coin's balance, while an isolated pool holds its settle coin unweighted, so isolated can need less.
    # Nor with initial margin valued differently in the two modes (at entry in one, at the mark in the
    # other, the same position needs different margin): isolated values it as cross does here.
    portfolio, rules = case
    valuation = replace(rules.margin_valuation, isolated_initial=rules.margin_valuation.cross_initial)
    rules = replace(rules, pnl_in_settle_collateral=False, margin_valuation=valuation)
    comparison = compare_modes(portfolio.accounts[0], portfolio, rules)
    # quotients (inverse PnL, square roots) are rounded at the 50th digit, once per position
    with exact():
        allowed = comparison.isolated.collateral_required * (1 + D("1E-40")) + D("1E-40")
    assert comparison.cross.collateral_required <= allowed


@given(random_books(), st.sampled_from(["BTC-PERP", "BTC-FUT", "BTC-INV", "ETH-PERP"]), st.booleans(), st.data())
def test_max_size_is_the_edge_of_passing_orders_with_initial_margin_at_entry(
    portfolio: Portfolio, instrument, buy, data
):
    # The order's notional at its price joins the position's entry value, so the initial requirement's bracket
    # changes where that value crosses an edge, not where the value at the mark does.
    rules = replace(GENERIC, margin_valuation=MarginValuation(Valuation.ENTRY, isolated_initial=Valuation.ENTRY))
    account = portfolio.accounts[0]
    offset = D(data.draw(st.integers(-300, 300))).scaleb(-4)  # order price within 3 % of the mark
    price = (portfolio.market.mark(instrument) * (1 + offset)).quantize(D("0.01"))
    sign = 1 if buy else -1
    top = check_order(account, portfolio, rules, instrument, D(sign), price).max_size
    if top is None:
        return
    with exact():
        inside = [top * k / 10 for k in range(1, 10)] + [top * (1 - D("1E-12"))]
        outside = top * (1 + D("1E-12")) + D("1E-30")
    for quantity in inside:
        if quantity > 0:
            assert check_order(account, portfolio, rules, instrument, sign * quantity, price).passes
    assert not check_order(account, portfolio, rules, instrument, sign * outside, price).passes
