"""Each rule term's float form (:mod:`crossmargin.engine.terms`) against its exact form, term by term.

The terms are drawn by the generator of ``tests/margin/test_rule_properties.py`` (every instrument and asset
term it varies) on the venues' lattices (prices in cents, whole contracts), with notionals put exactly on tier
edges now and then, and each float term is held to its exact form within ``RELATIVE`` (a float term is a few
operations: its error is some 1e-16 relative). The liquidation verdict is checked on figures a float holds
exactly, where it must agree to the last case (``<=`` at equality, no requirement). The whole books are in
``tests/engine/test_book.py``; here a wrong term is named by its test.
"""

import importlib
import inspect
import re
from dataclasses import replace
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numba.core.dispatcher import Dispatcher

from crossmargin.engine import terms
from crossmargin.engine.rule_arrays import asset_arrays, choice_arrays, initial_rates, instrument_arrays
from crossmargin.margin import positions as pos
from crossmargin.margin.pools import is_liquidatable
from crossmargin.model import Instrument, Market, RuleChoices, Side, exact
from crossmargin.model.rules import MarginValuation, Valuation
from crossmargin.model.size_premium import discounted_weight, premium_rate
from tests.builders import D
from tests.margin.test_properties import ASSETS, INSTRUMENTS
from tests.margin.test_rule_properties import asset_terms, instrument_terms

RELATIVE = 1e-12
SETTLES = ["USDT", "BTC", "ETH"]
SIDES = {terms.MAINTENANCE: Side.MAINTENANCE, terms.INITIAL: Side.INITIAL}
# every term function of engine/terms.py, each checked here against its exact form
CHECKED = {
    "notional", "unrealized_pnl", "round_down", "round_up", "margined_notional", "bracket", "bracket_key",
    "premium_rate", "discounted_weight", "close_fee", "maintenance_requirement", "initial_requirement",
    "counted_pnl", "weighted_amount", "valued_at_entry", "is_liquidatable",
}  # fmt: skip


def near(mirror: float, truth: Decimal, scale: Decimal | None = None) -> bool:
    """Within ``RELATIVE`` of 1 + the figure, or of ``scale`` (a difference of prices: relative to them)."""
    size = abs(float(truth if scale is None else scale))
    return abs(mirror - float(truth)) <= RELATIVE * (1.0 + size)


@st.composite
def positions(draw) -> tuple[Instrument, Decimal, Decimal, Decimal, Decimal]:
    """(instrument with every term drawn, size, entry, mark, open interest): a third of the marks put the
    notional exactly on a tier edge."""
    spec = draw(instrument_terms(draw(st.sampled_from(INSTRUMENTS))))
    size = D(draw(st.integers(1, 300))) * draw(st.sampled_from([1, -1]))
    mark = D(draw(st.integers(1_000_000, 6_000_000))).scaleb(-2) if not spec.name.startswith("ETH") else D(2500)
    edges = spec.tiers.edges()
    if edges and draw(st.integers(0, 2)) == 0:
        edge = draw(st.sampled_from(edges))
        size = D(draw(st.sampled_from([1, 2, 4, 5, 8, 10, 20, 25, 50, 100]))) * (1 if size > 0 else -1)
        units = abs(size) * spec.contract_size
        with exact():
            mark = units / edge if spec.inverse else edge / units
    entry = (mark * (1 + D(draw(st.integers(-2000, 2000))).scaleb(-4))).quantize(D("0.01"))
    interest = draw(st.sampled_from([D(0), D(30), D(1_250_000), D(5_000_000)]))
    return spec, size, entry if entry > 0 else mark, mark, interest


@given(positions())
def test_notional_and_unrealized_pnl(case):
    spec, size, entry, mark, _ = case
    units = float(abs(size) * spec.contract_size)
    assert near(terms.notional(units, float(mark), spec.inverse), pos.notional(spec, size, mark))
    pnl = terms.unrealized_pnl(float(size), float(spec.contract_size), float(entry), float(mark), spec.inverse)
    assert near(pnl, pos.unrealized_pnl(spec, size, entry, mark), pos.notional(spec, size, min(entry, mark)))


@given(positions(), st.sampled_from(list(SIDES)), st.booleans())
def test_requirements_bracket_and_rounding(case, side, at_entry):
    # notional (at the mark or the entry) -> margined notional -> bracket -> requirement, each step both ways
    spec, size, entry, mark, interest = case
    price = entry if at_entry else mark
    t = instrument_arrays({spec.name: spec}, SETTLES)
    t_rates = initial_rates(t, {spec.name: spec}, Market("USD", open_interest={spec.name: interest}))
    with exact():
        margined = pos.margined_notional(spec, pos.notional(spec, size, price))
        requirement = pos.requirement_terms(spec, size, entry, margined, SIDES[side], interest).of(margined)
        bracket = pos.bracket_index(spec, size, margined)
    units = float(abs(size) * spec.contract_size)
    float_margined = terms.margined_notional(terms.notional(units, float(price), spec.inverse), float(t.quantum[0]))
    # an exact value within SNAP of a multiple of the quantum without being one is rounded exactly and snapped
    # in float: one quantum off, as engine/terms.py documents (the screen's band absorbs it)
    snapped = float(spec.margin_quantum or 0)
    assert any(near(float_margined + k * snapped, margined) for k in (0, -1, 1)), (float_margined, margined)
    k = terms.bracket(terms.bracket_key(units, float_margined, 0, t), 0, 0, t.edges)
    assert k == bracket
    q, e = float(size), float(entry)
    if side == terms.MAINTENANCE:
        mirror = terms.maintenance_requirement(float_margined, units, q, e, 0, k, t)
    else:
        mirror = terms.initial_requirement(float_margined, units, q, e, 0, k, t, t_rates)
    assert any(near(mirror + k * snapped, requirement) for k in (0, -1, 1)), (mirror, requirement)


@given(positions(), st.sampled_from(list(SIDES)))
def test_close_fee_at_the_bankruptcy_price(case, side):
    # the fee is the difference the close fee rate makes to the requirement (a linear one: no quantum)
    spec, size, entry, mark, _ = case
    spec = replace(spec, margin_quantum=None, close_fee_rate=D("0.00055"))
    with exact():
        margined = pos.notional(spec, size, mark)
        with_fee = pos.requirement_terms(spec, size, entry, margined, SIDES[side])
        without = pos.requirement_terms(replace(spec, close_fee_rate=D(0)), size, entry, margined, SIDES[side])
        fee = without.amount - with_fee.amount
    t = instrument_arrays({spec.name: spec}, SETTLES)
    k = pos.bracket_index(spec, size, margined)
    assert near(terms.close_fee(float(size), float(entry), 0, k, t), fee)


@given(
    st.integers(-5_000_000, 5_000_000).map(lambda n: D(n).scaleb(-4)),
    st.sampled_from([D("0.000001"), D("0.01"), D("1E-8")]),
)
def test_rounding_to_a_quantum(value, quantum):
    # the exact forms truncate notionals and round requirements up; on the lattice the float lands on them
    instrument = replace(INSTRUMENTS[0], margin_quantum=quantum)
    with exact():
        truncated = pos.margined_notional(instrument, abs(value))
        rounded = pos.Requirement(D(1), D(0), quantum).of(value)
    assert near(terms.round_down(float(abs(value)), float(quantum)), truncated)
    assert near(terms.round_up(float(value), float(quantum)), rounded)


@given(
    st.sampled_from([D("0.004"), D("0.02"), D("0.5"), D("0.9")]),
    st.sampled_from([D(0), D("0.0001"), D("0.001"), D("0.5")]),
    st.integers(0, 10**7).map(lambda n: D(n).scaleb(-3)),
)
def test_size_premium_and_discount(rate, imf, amount):
    assert near(terms.premium_rate(float(rate), float(imf), float(amount)), premium_rate(rate, imf, amount))
    assert near(terms.discounted_weight(float(rate), float(imf), float(amount)), discounted_weight(rate, imf, amount))


@given(positions(), st.integers(-(10**7), 10**7).map(lambda n: D(n).scaleb(-2)))
def test_counted_pnl_on_both_sides(case, pnl):
    spec = case[0]
    t = instrument_arrays({spec.name: spec}, SETTLES)
    maintenance, initial = terms.counted_pnl(float(pnl), 0, t)
    with exact():
        assert near(maintenance, pos.counted_pnl(spec, pnl, Side.MAINTENANCE))
        assert near(initial, pos.counted_pnl(spec, pnl, Side.INITIAL))


@given(st.data(), st.integers(-2_000_000, 200_000_000).map(lambda n: D(n).scaleb(-2)))
def test_weighted_amount_through_bands_liabilities_and_discount(data, amount):
    assets = data.draw(asset_terms({a.name: a for a in ASSETS}))
    arrays = asset_arrays(assets)
    for a, asset in enumerate(assets.values()):
        for side, exact_side in SIDES.items():
            with exact():
                truth = asset.weighted_amount(amount, exact_side)
            assert near(terms.weighted_amount(float(amount), a, side, arrays), truth), (asset, amount, side)


@given(st.sampled_from(list(Valuation)), st.sampled_from(list(Valuation)), st.sampled_from(list(Valuation)))
def test_valued_at_entry_in_each_mode_and_side(cross_initial, cross_maintenance, isolated_initial):
    valuation = MarginValuation(cross_initial, cross_maintenance, isolated_initial, Valuation.ENTRY)
    at_entry = choice_arrays(RuleChoices("r", margin_valuation=valuation)).at_entry
    for isolated in (False, True):
        for side, exact_side in SIDES.items():
            assert terms.valued_at_entry(at_entry, isolated, side) == valuation.at_entry(exact_side, isolated)


@given(
    st.integers(-64, 64),
    st.integers(0, 64),
    st.sampled_from([D(1), D("1.25"), D("1.5")]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_liquidation_verdict_to_the_last_case(equity, maintenance, threshold, at_equality, without, has_positions):
    # figures a float holds exactly (quarters), so equality is equality in both
    rules = RuleChoices(
        "r", liquidate_at_equality=at_equality, liquidation_threshold=threshold, liquidate_without_requirement=without
    )
    e, m = D(equity) / 4, D(maintenance) / 4
    choices = choice_arrays(rules)
    positions = np.array([int(has_positions)])
    verdict = (choices.threshold, choices.at_equality, choices.without_requirement)
    mirror = terms.is_liquidatable(float(e), float(m), positions, 0, *verdict)
    assert mirror == is_liquidatable(e, m, has_positions, rules)


def exact_form_named(function: object) -> object:
    """The exact form the first ``:func:``/``:meth:`` of ``function``'s docstring names, imported."""
    match = re.search(r":(?:func|meth):`~?([\w.]+)`", inspect.getdoc(function) or "")
    assert match, f"{function} names no exact form"
    path = match.group(1).split(".")
    for split in range(len(path) - 1, 0, -1):
        try:
            found: object = importlib.import_module(".".join(path[:split]))
        except ModuleNotFoundError:
            continue
        for name in path[split:]:
            found = getattr(found, name)
        return found
    raise AssertionError(f"{match.group(1)} does not resolve")


def test_every_term_is_checked_here_and_names_its_exact_form():
    functions = {
        name: value
        for name, value in vars(terms).items()
        if isinstance(value, Dispatcher) and value.py_func.__module__ == terms.__name__
    }
    assert set(functions) == CHECKED
    for function in functions.values():
        assert callable(exact_form_named(function.py_func))
