"""The margin properties under every rule choice and term a rulebook can set.

:func:`venue_like` draws a random book under random rules varying every rule term either evaluator (the
exact maths, the risk book) reads: each term is named in :data:`VARIED`, and the terms of the model no
evaluator reads are named in :data:`NOT_READ` with the reader they have. A term added to the model
(a field of :class:`~crossmargin.model.RuleChoices`, :class:`~crossmargin.model.Instrument`,
:class:`~crossmargin.model.Asset` or a term class they hold) without a generator fails
:func:`test_every_rule_term_of_the_model_is_varied_or_named_unread`; a term listed as varied that the
generator never varies fails :func:`test_the_generator_varies_every_term_it_lists`.

Properties here (the exact path): a liquidation price is where its pool's status changes (under every rule
the solver follows: not a scenario grid, a VaR floor, volatility scaling or an option, where it gives no
price); cross never needs more collateral than isolated; with initial margin on the entry value, the
largest order that passes is still the edge of passing orders. Where a property does not hold under a term,
the test says why and leaves that term out. The mirror == exact property on the same
books is in ``tests/engine/test_book.py``.
"""

import typing
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import UnionType
from typing import Any

from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from crossmargin.margin.account import cross_pool, evaluate_account
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.valuation import with_option_marks
from crossmargin.margin.whatif import check_order, compare_modes
from crossmargin.model import (
    Asset,
    ContractKind,
    Instrument,
    OptionRight,
    Portfolio,
    Position,
    RuleChoices,
    TierSpec,
    TierTable,
    WeightBand,
    WeightSchedule,
    exact,
)
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import (
    MarginValuation,
    PriceMove,
    ScenarioMargin,
    Valuation,
    VarFloor,
    VolatilityScaling,
)
from tests.builders import GENERIC, D, div, tiers
from tests.margin.test_properties import assert_liquidation_prices_are_status_changes, random_books

NOW = datetime(2025, 1, 1, tzinfo=UTC)
OPTION = "BTC-OPT"  # an option on BTC, settled in USDT, sometimes held by the account

# Every rule term either evaluator reads, as ``Class.field``; venue_like varies each.
VARIED = frozenset(
    {
        *(f"RuleChoices.{name}" for name in ("liquidate_at_equality", "liquidation_threshold")),
        *(f"RuleChoices.{name}" for name in ("liquidation_price_moves", "liquidate_without_requirement")),
        *(f"RuleChoices.{name}" for name in ("withdrawal_notional_floor", "pnl_in_settle_collateral")),
        *(f"RuleChoices.{name}" for name in ("scenario_margin", "var_floor", "volatility_scaling")),
        "RuleChoices.margin_valuation",
        *(f"MarginValuation.{f.name}" for f in fields(MarginValuation)),
        *(f"ScenarioMargin.{f.name}" for f in fields(ScenarioMargin)),
        *(f"VarFloor.{f.name}" for f in fields(VarFloor)),
        *(f"VolatilityScaling.{name}" for name in ("reference", "floor", "cap")),
        *(f"Instrument.{f.name}" for f in fields(Instrument) if f.name != "name"),
        "TierTable.tiers",
        "TierTable.maintenance_fraction",
        *(f"RiskTier.{name}" for name in ("max_notional", "mmr", "imr", "maint_amount")),
        *(f"Asset.{f.name}" for f in fields(Asset) if f.name != "name"),
        "WeightSchedule.bands",
        "WeightBand.from_amount",
        "WeightBand.weight",
    }
)
# The model's terms no evaluator reads, with what does.
NOT_READ = {
    "RuleChoices.name": "a label",
    "Instrument.name": "a label (positions and marks refer to it)",
    "Asset.name": "a label (balances and prices refer to it)",
    "VolatilityScaling.half_life_days": "read by margin.volatility.VolatilityIndex over time, not by an evaluator",
    "VolatilityScaling.max_daily_fall": "read by margin.volatility.VolatilityIndex over time, not by an evaluator",
}


def term_classes(root: type, found: dict[str, type] | None = None) -> dict[str, type]:
    """``root`` and every dataclass its fields' annotations reach (through unions and containers), by name."""
    found = {} if found is None else found
    found[root.__name__] = root
    pending = list(typing.get_type_hints(root).values())
    while pending:
        hint = pending.pop()
        if isinstance(hint, type) and is_dataclass(hint):
            if hint.__name__ not in found:
                term_classes(hint, found)
            continue
        if isinstance(hint, UnionType) or typing.get_origin(hint) is not None:
            pending.extend(typing.get_args(hint))
    return found


def model_terms() -> set[str]:
    """Every field of the rule classes and the term classes they hold, as ``Class.field``."""
    classes: dict[str, type] = {}
    for root in (RuleChoices, Instrument, Asset):
        term_classes(root, classes)
    return {f"{name}.{f.name}" for name, cls in classes.items() for f in fields(cls)}


def term_objects(case: tuple[Portfolio, RuleChoices]) -> Iterator[object]:
    """Every rule object of a drawn case: the rules and what they hold, every instrument and asset and theirs."""
    portfolio, rules = case
    pending: list[object] = [rules, *portfolio.instruments.values(), *portfolio.assets.values()]
    while pending:
        item = pending.pop()
        if isinstance(item, tuple):
            pending.extend(item)
        elif is_dataclass(item):
            yield item
            pending.extend(getattr(item, f.name) for f in fields(item))


def values_of(term: str, case: tuple[Portfolio, RuleChoices]) -> set[object]:
    """The values ``term`` (``Class.field``) takes in a drawn case."""
    owner, name = term.split(".")
    return {getattr(item, name) for item in term_objects(case) if type(item).__name__ == owner}


def amounts(values: list[str]) -> st.SearchStrategy[Decimal]:
    return st.sampled_from([D(v) for v in values])


@st.composite
def instrument_terms(draw, instrument: Instrument) -> Instrument:
    """Every instrument term drawn: uPnL weights and cap, fees, size premium, tiers (by size, with a
    maintenance fraction), open-interest caps and rate quantum, margin quantum; a future gets an expiry."""
    coin = instrument.settle != "USDT"  # settle-unit terms in BTC for the inverse contract
    weight = draw(amounts(["1", "0.5", "0"]))
    rates = amounts(["0", "0.0005", "0.001"])
    changes: dict[str, Any] = {
        "upnl_weight": weight,
        "initial_upnl_weight": draw(st.sampled_from([weight, weight / 2, D(0)])),
        "close_fee_rate": draw(rates),
        "liquidation_fee_rate": draw(rates),
        "initial_upnl_cap": draw(st.sampled_from([None, D(0), D("0.002") if coin else D(100)])),
        "open_interest_caps": draw(st.sampled_from([None, (D(20), D(40)) if coin else (D(10**6), D(2 * 10**6))])),
        "rate_quantum": draw(st.sampled_from([None, D("0.000001"), D("0.001")])),
        "margin_quantum": draw(st.sampled_from([None, D("1E-8")] if coin else [None, D("0.000001"), D("0.01")])),
    }
    if not instrument.inverse:
        changes["imf_factor"] = draw(amounts(["0", "0.0001", "0.001"]))
    if instrument.name == "BTC-FUT" and draw(st.booleans()):
        changes["kind"], changes["expiry"] = ContractKind.FUTURE, NOW + timedelta(days=90)
    if draw(st.booleans()):
        changes["tier_basis"] = TierBasis.SIZE
        changes["tiers"] = TierTable.build(
            [TierSpec(D(100), D("0.005"), D("0.01")), TierSpec(None, D("0.01"), D("0.02"), maint_amount=D(0))]
        )
    elif draw(st.booleans()):
        fraction = draw(amounts(["0.5", "0.6"]))
        changes["tiers"] = TierTable.build(
            [TierSpec(t.max_notional, None, t.imr) for t in instrument.tiers.tiers], fraction
        )
    return replace(instrument, **changes)


@st.composite
def option_terms(draw) -> Instrument:
    """An option on BTC settled in USDT: its right, strike and expiry drawn."""
    return Instrument(
        OPTION,
        ContractKind.OPTION,
        "BTC",
        "USDT",
        D("0.1"),
        False,
        tiers((None, "0.1", "0.15")),
        NOW + timedelta(days=draw(st.sampled_from([30, 200]))),
        strike=draw(amounts(["30000", "45000"])),
        right=draw(st.sampled_from(list(OptionRight))),
    )


def schedule(bands: list[tuple[str, str]]) -> WeightSchedule:
    return WeightSchedule(tuple(WeightBand(D(start), D(weight)) for start, weight in bands))


@st.composite
def asset_terms(draw, assets: dict[str, Asset]) -> dict[str, Asset]:
    """Every asset term drawn: weight bands on both sides, liability weights, a size discount."""
    liabilities = draw(st.sampled_from([(D(1), D(1)), (D("1.05"), D("1.1"))]))
    usdt = draw(st.sampled_from([[("0", "1")], [("0", "1"), ("1000000", "0.95")]]))
    btc = draw(
        st.sampled_from(
            [
                ([("0", "0.95"), ("5", "0.9")], [("0", "0.9"), ("5", "0.8")]),
                ([("0", "0.95"), ("1", "0.9"), ("50", "0.5")], [("0", "0.9"), ("1", "0.85"), ("50", "0.4")]),
            ]
        )
    )
    changed = {
        **assets,
        "USDT": Asset("USDT", schedule(usdt), schedule(usdt), *liabilities),
        "BTC": Asset("BTC", schedule(btc[0]), schedule(btc[1])),
    }
    if draw(st.booleans()):
        eth = WeightSchedule.flat(D("0.9"))
        imf = draw(amounts(["0.01", "0.5"]))  # ETH balances are -5 .. 20: at 0.5 the discount and premium bind
        changed["ETH"] = Asset("ETH", eth, WeightSchedule.flat(D("0.85")), D("1.05"), D("1.1"), imf)
    return changed


@st.composite
def rule_choices(draw) -> RuleChoices:
    """Every rule choice drawn, with a scenario grid, a VaR floor and volatility scaling now and then."""
    grid = None
    if draw(st.integers(0, 4)) == 0:
        grid = ScenarioMargin(
            moves=draw(st.sampled_from([(D("-0.1"), D(0), D("0.1")), (D("-0.16"), D("-0.08"), D("0.08"), D("0.16"))])),
            vol_shocks=draw(st.sampled_from([(D(0),), (D("-0.3"), D(0), D("0.3"))])),
            short_option_minimum=draw(amounts(["0", "0.01"])),
            delta_addon=draw(amounts(["0", "0.01"])),
            concentration_threshold=draw(st.sampled_from([None, D(100000)])),
            concentration_rate=draw(amounts(["0", "0.001"])),
            correlation_credit=draw(amounts(["0", "0.5"])),
            initial_factor=draw(amounts(["1", "1.3"])),
        )
    floor = (
        VarFloor(draw(amounts(["0.95", "0.99"])), draw(amounts(["1", "2"]))) if draw(st.integers(0, 4)) == 0 else None
    )
    scaling = None
    if draw(st.integers(0, 3)) == 0:
        scaling = VolatilityScaling(
            draw(amounts(["0.5", "0.8"])), draw(amounts(["1", "1.2"])), draw(amounts(["2", "3"]))
        )
    return RuleChoices(
        "random",
        liquidate_at_equality=draw(st.booleans()),
        liquidation_threshold=draw(amounts(["1", "1.05"])),
        liquidation_price_moves=draw(st.sampled_from(list(PriceMove))),
        liquidate_without_requirement=draw(st.booleans()),
        withdrawal_notional_floor=draw(amounts(["0", "0.1"])),
        pnl_in_settle_collateral=draw(st.booleans()),
        scenario_margin=grid,
        var_floor=floor,
        volatility_scaling=scaling,
        margin_valuation=MarginValuation(*(draw(st.sampled_from(list(Valuation))) for _ in range(4))),
    )


@st.composite
def venue_like(draw) -> tuple[Portfolio, RuleChoices]:
    """A random book (:func:`~tests.margin.test_properties.random_books`) under random rules, varying every
    term of :data:`VARIED`; the market has open interest on every instrument, a volatility for every asset
    (a smile for the option), correlations and a valuation time, so every rule can be evaluated. One book in
    four has its cross pool's equity put at, or 0.1 % either side of, the liquidation boundary, where the
    verdict's terms (threshold, ``<=``, pools without a requirement) decide."""
    portfolio = draw(random_books())
    instruments = {name: draw(instrument_terms(instrument)) for name, instrument in portfolio.instruments.items()}
    account = portfolio.accounts[0]
    market = portfolio.market
    if draw(st.booleans()):
        instruments[OPTION] = draw(option_terms())
        size = draw(amounts(["-3", "2"]))
        entry = draw(amounts(["150", "4000"]))
        margin = draw(st.sampled_from([None, D(2000)]))
        account = replace(account, positions=(*account.positions, Position(OPTION, size, entry, margin)))
    interest = {
        name: draw(amounts(["0", "25", "30", "100"] if spec.settle != "USDT" else ["0", "1250000", "5000000"]))
        for name, spec in instruments.items()
    }
    names = ("USDT", "BTC", "ETH")
    market = replace(
        market,
        open_interest=interest,
        valuation_time=NOW,
        vols={
            "USDT": ((D(1), D("0.01")),),
            "BTC": draw(st.sampled_from([((D(1), D("0.6")),), ((D("0.8"), D("0.7")), (D(1), D("0.55")))])),
            "ETH": ((D(1), D("0.8")),),
        },
        correlations={(a, b): D("0.5") for a in names for b in names if a < b},
    )
    book = replace(
        portfolio,
        instruments=instruments,
        assets=draw(asset_terms(dict(portfolio.assets))),
        market=market,
        accounts=(account,),
    )
    book, rules = with_option_marks(book), draw(rule_choices())
    near = draw(st.sampled_from([None, D("-0.001"), D(0), D("0.001")]))
    return (book if near is None else near_boundary(book, rules, near)), rules


def near_boundary(portfolio: Portfolio, rules: RuleChoices, offset: Decimal) -> Portfolio:
    """``portfolio`` with the account's USDT balance moved so that its cross pool's equity is ``threshold x
    maintenance x (1 + offset)`` (``offset x 100`` without a requirement), where the equity is linear in that
    balance (a few steps of the secant otherwise; the balance is then only near)."""
    account = portfolio.accounts[0]
    with exact():
        for _ in range(4):
            figures = evaluate_pool(cross_pool(account), portfolio, rules)
            required = figures.maintenance_margin * rules.liquidation_threshold
            target = required * (1 + offset) if required else offset * 100
            if figures.equity == target:
                break
            balances = {**account.balances, "USDT": account.balances.get("USDT", D(0)) + target - figures.equity}
            account = replace(account, balances=balances)
            portfolio = replace(portfolio, accounts=(account,))
    return portfolio


def test_every_rule_term_of_the_model_is_varied_or_named_unread():
    terms = model_terms()
    assert not VARIED & NOT_READ.keys()
    assert terms - VARIED - NOT_READ.keys() == set(), "a rule term without a generator: add it to venue_like"
    assert (VARIED | NOT_READ.keys()) - terms == set(), "the lists name a term the model no longer has"


def test_the_generator_varies_every_term_it_lists():
    # For each term: a drawn case where it is present, with two values (several instruments) or else a case
    # where it takes other values.
    search = settings(phases=[Phase.generate], max_examples=2000, database=None)
    for term in sorted(VARIED):

        def present(case: tuple[Portfolio, RuleChoices], term: str = term) -> bool:
            return bool(values_of(term, case))

        seen = values_of(term, find(venue_like(), present, settings=search))
        if len(seen) < 2:

            def other(case: tuple[Portfolio, RuleChoices], term: str = term, seen: set[object] = seen) -> bool:
                return values_of(term, case) not in (seen, set())

            find(venue_like(), other, settings=search)


def solver_follows(rules: RuleChoices) -> RuleChoices:
    """``rules`` without what the liquidation-price solver gives no price under."""
    return replace(rules, scenario_margin=None, var_floor=None, volatility_scaling=None)


def without_options(portfolio: Portfolio) -> Portfolio:
    accounts = tuple(
        replace(a, positions=tuple(p for p in a.positions if p.instrument != OPTION)) for a in portfolio.accounts
    )
    return replace(portfolio, accounts=accounts)


def unquantized(portfolio: Portfolio) -> Portfolio:
    """``portfolio`` without ``margin_quantum`` on any instrument."""
    instruments = {name: replace(spec, margin_quantum=None) for name, spec in portfolio.instruments.items()}
    return replace(portfolio, instruments=instruments)


@given(venue_like())
def test_liquidation_price_is_where_status_changes_under_any_rules(case: tuple[Portfolio, RuleChoices]):
    # Not with a margin quantum: the solver follows each requirement's unrounded line (the venues' published
    # formulas do), so with rounding up the status changes up to a quantum's worth of price away from it.
    # Nor for a pool on its boundary to the ledger's precision (hypothesis finds 50-digit balances that put it
    # 1E-29 away): its liquidation price is the mark to 1E-30 or closer, and the helper's probes, steps of
    # (answer - mark), do not move. Such a pool's health is zero to 1E-20 (base currency).
    portfolio, rules = unquantized(without_options(case[0])), solver_follows(case[1])
    result = evaluate_account(portfolio.accounts[0], portfolio, rules)
    at_mark = [
        item
        for item in result.positions
        if item.liquidation_price is not None and abs(div(item.liquidation_price, item.figures.mark) - 1) < D("1E-30")
    ]
    for item in at_mark:
        pool = result.cross if item.pool is None else item.pool
        assert abs(pool.equity - pool.maintenance_margin * rules.liquidation_threshold) < D("1E-20")
    if at_mark:
        return
    assert_liquidation_prices_are_status_changes(portfolio, rules)


@given(venue_like())
def test_no_liquidation_price_where_the_solver_has_no_closed_form(case: tuple[Portfolio, RuleChoices]):
    # a scenario grid, a VaR floor, a volatility multiplier or an option's premium: none is a + b s + d / s
    portfolio, rules = case
    account = portfolio.accounts[0]
    unsolved_rules = rules != solver_follows(rules)
    result = evaluate_account(account, portfolio, rules)
    cross_option = any(p.instrument == OPTION and not p.isolated for p in account.positions)
    for item in result.positions:
        option_in_pool = cross_option if not item.isolated else item.figures.position.instrument == OPTION
        if unsolved_rules or option_in_pool:
            assert item.liquidation_price is None


@given(venue_like())
def test_cross_never_needs_more_collateral_than_isolated_under_any_rules(case: tuple[Portfolio, RuleChoices]):
    # Not with uPnL inside the settle collateral: there the cross pool haircuts a coin-settled profit with
    # the coin's balance, while an isolated pool holds its settle coin unweighted, so isolated can need less.
    # Nor with initial margin valued differently in the two modes (at entry in one, at the mark in the
    # other, the same position needs different margin): isolated values it as cross does here. Nor under a
    # scenario grid or a VaR floor: they charge the risk of the cross pool's collateral (its coins move with
    # the grid and count in the VaR), which the all-isolated view turns into settle-asset margins, and a
    # concentration add-on charges the gross notional above a threshold that isolated pools each stay under.
    portfolio, rules = case
    valuation = replace(rules.margin_valuation, isolated_initial=rules.margin_valuation.cross_initial)
    rules = replace(
        rules, pnl_in_settle_collateral=False, margin_valuation=valuation, scenario_margin=None, var_floor=None
    )
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
