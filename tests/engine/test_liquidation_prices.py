"""The array path's liquidation prices (:mod:`crossmargin.engine.liquidation_prices`): books worked by hand, and
every figure held to the exact solver (:func:`crossmargin.margin.account.evaluate_account`) on random books
under random rules (:func:`tests.margin.test_rule_properties.venue_like`) and on synthetic books under every
bundled rulebook.

Tolerance: a price within ``RELATIVE`` of the exact one plus ``OF_MARK`` of the mark (a price that close to
zero is float error of the mark's size), NaN exactly where the exact solver gives None, or a price outside
the range searched (``SCALE_MIN`` to ``SCALE_MAX`` times the mark). Left out of the comparison: a pool whose
health at the mark is within float error of zero (the float decides its status there, and so which direction
is searched first: module doc), and instruments with a ``margin_quantum`` (the exact solver decides status on
rounded requirements between its roots on unrounded lines, so it can answer up to a quantum's worth of price
away: ``tests/margin/test_rule_properties.py``).
"""

import math
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook
from crossmargin.engine.liquidation_prices import (
    SCALE_MAX,
    SCALE_MIN,
    LiquidationPrices,
    Outcome,
    book_liquidation_prices,
    confirmed,
)
from crossmargin.margin.account import cross_pool, evaluate_account, isolated_pool, solver_follows, solver_prices
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import Asset, InputError, Portfolio, RuleChoices, WeightSchedule, exact
from crossmargin.model.rules import PriceMove
from crossmargin.sim.population import BookShape, synthetic_book
from crossmargin.venues import available, rulebook
from tests.builders import BINANCE_LIKE, GENERIC, D, book, div, inverse, linear, position, tiers
from tests.engine.test_book import scaled
from tests.margin.test_rule_properties import unquantized, venue_like

RELATIVE = 1e-9
OF_MARK = 1e-12
USDT = Asset.simple("USDT")
BTC = Asset.simple("BTC")
INSTRUMENT_ALONE = replace(GENERIC, liquidation_price_moves=PriceMove.INSTRUMENT)


def priced(portfolio: Portfolio, rules: RuleChoices = GENERIC) -> tuple[RiskBook, LiquidationPrices]:
    risk = RiskBook(portfolio, rules)
    return risk, book_liquidation_prices(risk)


def figures_of(portfolio: Portfolio, rules: RuleChoices = GENERIC) -> list[tuple[float, Outcome]]:
    """The first account's positions' (price, outcome), in the order of its document."""
    risk, prices = priced(portfolio, rules)
    slots = risk.slot_range_of(portfolio.accounts[0].id)
    return [(float(prices.price[j]), Outcome(int(prices.outcome[j]))) for j in slots]


def one_linear(balance: str, size: str, table=None, isolated: str | None = None) -> Portfolio:
    instrument = linear("BTC-PERP") if table is None else linear("BTC-PERP", table=table)
    return book(
        [USDT], [instrument], {"USDT": "1"}, {"BTC-PERP": "20000"},
        [("a", {"USDT": balance}, [position("BTC-PERP", size, "20000", isolated)])],
    )  # fmt: skip


def inverse_long(collateral: dict[str, str]) -> Portfolio:
    """Long 1000 BTCUSD (100 USD a contract, mmr 0.5 %) from 50000, marked 50000."""
    return book(
        [USDT, BTC], [inverse("BTCUSD", size="100")], {"USDT": "1", "BTC": "50000"}, {"BTCUSD": "50000"},
        [("a", collateral, [position("BTCUSD", "1000", "50000")])],
    )  # fmt: skip


def assert_close(figure: float, expected: Decimal, mark: Decimal) -> None:
    assert abs(figure - float(expected)) <= RELATIVE * float(expected) + OF_MARK * float(mark), (figure, expected)


def test_linear_long_on_usdt_collateral():
    # 1000 USDT, long 0.5 BTC-PERP (1 BTC a contract) from 20000, one bracket mmr 0.4 %. At mark P:
    #   equity = 1000 + 0.5 x (P - 20000) = 0.5 P - 9000;  maintenance = 0.5 x P x 0.004 = 0.002 P
    #   healthy at 20000 (1000 > 40), a long looks down: 0.5 P - 9000 = 0.002 P  ->  P = 9000 / 0.498 = 18072.289...
    ((figure, outcome),) = figures_of(one_linear("1000", "0.5"))
    assert outcome is Outcome.PRICED
    assert_close(figure, div(9000, "0.498"), D(20000))


def test_linear_short_looks_up():
    # short 1 from 20000 with 1000 USDT: 1000 - (P - 20000) = 0.004 P  ->  P = 21000 / 1.004 = 20916.33...
    ((figure, outcome),) = figures_of(one_linear("1000", "-1"))
    assert outcome is Outcome.PRICED
    assert_close(figure, div(21000, "1.004"), D(20000))


def test_isolated_pool_is_priced_on_its_own_margin():
    # the isolated pool holds 1000 USDT (the 50 cross USDT do not count): the long's price above
    ((figure, _),) = figures_of(one_linear("50", "0.5", isolated="1000"))
    assert_close(figure, div(9000, "0.498"), D(20000))


def test_a_liquidation_below_a_tier_edge():
    # long 10 from 20000 (notional 200000: the second bracket, 0.5 % less 50) with 151200 USDT. The second
    # bracket's line 151200 + 10 (P - 20000) - (0.05 P - 50) = 9.95 P - 48750 is zero at 4899.497..., below
    # 5000 where the notional leaves the bracket (edge 50000 / 10); below it, the first bracket (0.4 %, no
    # amount): 151200 + 10 (P - 20000) - 0.04 P = 9.96 P - 48800  ->  P = 48800 / 9.96 = 4899.598...
    ((figure, _),) = figures_of(one_linear("151200", "10", table=BINANCE_LIKE))
    assert_close(figure, div(48800, "9.96"), D(20000))
    assert figure < 5000


def test_a_fully_covered_long_has_none():
    # 20000 USDT behind a long 1 from 20000: equity P, maintenance 0.004 P: healthy at every price
    ((figure, outcome),) = figures_of(one_linear("20000", "1"))
    assert outcome is Outcome.NONE and math.isnan(figure)


def test_inverse_long_with_its_coin_as_collateral():
    # 1 BTC and long 1000 x 100 USD from 50000; BTC's price moves with the mark (the underlying moves). In BTC:
    # equity 1 + 100000 (1/50000 - 1/P) = 3 - 100000 / P, maintenance 100000 / P x 0.005 = 500 / P;
    # in USD (x P): 3 P - 100000 = 500  ->  P = 33500
    ((figure, _),) = figures_of(inverse_long({"BTC": "1"}))
    assert_close(figure, D(33500), D(50000))


def test_inverse_long_on_usdt_when_its_mark_moves_alone():
    # 1000 USDT; the mark moves, the BTC price is held at 50000 (liquidation_price_moves: instrument).
    # uPnL 100000 (1/50000 - 1/P) BTC x 50000 = 100000 - 5e9 / P USD; maintenance 100000 / P x 0.005 BTC x
    # 50000 = 2.5e7 / P USD: 1000 + 100000 - 5e9 / P = 2.5e7 / P  ->  P = 5.025e9 / 101000 = 49752.475...
    ((figure, _),) = figures_of(inverse_long({"USDT": "1000"}), INSTRUMENT_ALONE)
    assert_close(figure, div("5.025E9", 101000), D(50000))
    # when BTC's price moves with it: 1000 + (2 - 100000 / P) x P = 500  ->  P = 99500 / 2 = 49750
    ((figure, _),) = figures_of(inverse_long({"USDT": "1000"}))
    assert_close(figure, D(49750), D(50000))


def test_a_liquidatable_pool_gets_the_price_it_recovers_at():
    # 100 USDT, long 1 from 20100 marked 20000: 100 + (P - 20100) = 0.004 P at P = 20000 / 0.996, above the mark
    portfolio = book(
        [USDT], [linear("BTC-PERP")], {"USDT": "1"}, {"BTC-PERP": "20000"},
        [("a", {"USDT": "100"}, [position("BTC-PERP", "1", "20100")])],
    )  # fmt: skip
    ((figure, _),) = figures_of(portfolio)
    assert_close(figure, div(20000, "0.996"), D(20000))


def test_a_held_position_settled_in_the_moving_coin():
    # 1000 USDT; short 10 BTC-PERP (USDT) from 100 and long 100 ETHBTC-PERP (underlying ETH, settled in BTC) from
    # 0.1, both at their entry, mmr 5 %, BTC at 100 USD. BTC moves by s: the short's uPnL 1000 - 1000 s, its
    # maintenance 50 s, the held ETHBTC position's 0.5 BTC = 50 s USD: H = 2000 - 1100 s, the BTC-PERP at
    # 2000 / 11 (both paths; the exact one once held that 50 fixed: 1950 / 1050 x 100 = 185.71). ETH moves the
    # ETHBTC mark m: H = 1000 + 100 (m - 0.1) x 100 - 100 m x 0.05 x 100 - 50 = 9500 m - 50, at 50 / 9500.
    table = tiers((None, "0.05", "0.1"))
    portfolio = book(
        [USDT, BTC], [linear("BTC-PERP", table=table), linear("ETHBTC-PERP", "ETH", "BTC", table=table)],
        {"USDT": "1", "BTC": "100", "ETH": "10"}, {"BTC-PERP": "100", "ETHBTC-PERP": "0.1"},
        [("a", {"USDT": "1000"}, [position("BTC-PERP", "-10", "100"), position("ETHBTC-PERP", "100", "0.1")])],
    )  # fmt: skip
    expected = [div(2000, 11), div(50, 9500)]
    (btc, btc_outcome), (eth, eth_outcome) = figures_of(portfolio)
    assert btc_outcome == eth_outcome == Outcome.PRICED
    assert_close(btc, expected[0], D(100))
    assert_close(eth, expected[1], D("0.1"))
    exact_prices = [p.liquidation_price for p in evaluate_account(portfolio.accounts[0], portfolio, GENERIC).positions]
    assert all(x is not None and abs(x - y) < D("1e-40") for x, y in zip(exact_prices, expected, strict=True))


def test_what_is_not_solved_and_empty_slots():
    # a scenario grid's worst loss is not of the solver's shape (the exact path gives None too)
    risk, prices = priced(inverse_long({"USDT": "1000"}), rulebook("scenario-margin").rules)
    (slot,) = risk.slot_range_of("a")
    assert prices.outcome[slot] == Outcome.NOT_SOLVED and math.isnan(prices.price[slot])
    (exact_result,) = evaluate_account(risk.accounts["a"], risk.portfolio_of(["a"]), risk.rules).positions
    assert exact_result.liquidation_price is None
    empty = prices.pool < 0
    assert empty.any() and (prices.outcome[empty] == Outcome.EMPTY).all() and np.isnan(prices.price[empty]).all()
    assert prices.pool[slot] == risk.cross_pool["a"] and prices.instrument[slot] == risk.instruments.index("BTCUSD")


def test_a_moving_amount_with_a_size_discount_is_refused_by_both_paths():
    # uPnL inside the settle collateral, settled in a coin whose weight shrinks with the square root of the
    # amount: not piecewise linear; the exact solver refuses it, the array path flags it
    discounted = Asset("BTC", WeightSchedule.flat(D("0.9")), WeightSchedule.flat(D("0.9")), imf_factor=D("0.01"))
    portfolio = replace(inverse_long({"BTC": "1"}), assets={"USDT": USDT, "BTC": discounted})
    rules = replace(GENERIC, pnl_in_settle_collateral=True)
    assert figures_of(portfolio, rules)[0][1] is Outcome.UNSUPPORTED
    with pytest.raises(InputError):
        evaluate_account(portfolio.accounts[0], portfolio, rules)


def test_confirmed_gives_the_exact_price_of_each_slot():
    portfolio = book(
        [USDT], [linear("BTC-PERP"), linear("ETH-PERP", underlying="ETH")], {"USDT": "1"},
        {"BTC-PERP": "20000", "ETH-PERP": "1000"},
        [("a", {"USDT": "1000"}, [position("ETH-PERP", "-2", "1000", "500"), position("BTC-PERP", "0.5", "20000")])],
    )  # fmt: skip
    risk, prices = priced(portfolio)
    btc, eth = confirmed(risk, "a")  # cross first, then isolated
    assert (btc.instrument, btc.long, btc.isolated) == ("BTC-PERP", True, False)
    assert (eth.instrument, eth.long, eth.isolated) == ("ETH-PERP", False, True)
    assert btc.price is not None and abs(btc.price - div(9000, "0.498")) < D("1E-40")
    # the isolated short: 500 - 2 (P - 1000) = 2 x 0.004 P  ->  P = 2500 / 2.008
    assert eth.price is not None and abs(eth.price - div(2500, "2.008")) < D("1E-40")
    assert sorted([btc.slot, eth.slot]) == sorted(risk.slot_range_of("a"))
    assert_close(float(prices.price[btc.slot]), btc.price, btc.mark)
    assert_close(float(prices.price[eth.slot]), eth.price, eth.mark)


def on_the_boundary(pool_equity: Decimal, pool_maintenance: Decimal, threshold: Decimal) -> bool:
    """A pool whose health at the mark is within float error of zero (as ``tests/engine/test_book.py`` decides
    where the float verdict must equal the exact one)."""
    equity, required = float(pool_equity), float(pool_maintenance * threshold)
    return abs(equity - required) <= RELATIVE * (2.0 + abs(equity) + abs(required))


def assert_equal_to_the_exact_solver(risk: RiskBook, prices: LiquidationPrices, account_id: str) -> list[float]:
    """Every position of the account: the array figure against the exact one (module doc); the relative
    differences of those compared with a price."""
    portfolio = risk.portfolio_of([account_id])
    account = portfolio.accounts[0]
    rules = risk.rules
    pools = {None: cross_pool(account)} | {
        (p.instrument, p.size > 0): isolated_pool(p, portfolio) for p in account.positions if p.isolated
    }
    compared = []
    for item in confirmed(risk, account_id):
        figure, outcome = float(prices.price[item.slot]), Outcome(int(prices.outcome[item.slot]))
        pool = pools[(item.instrument, item.long) if item.isolated else None]
        context = (account_id, item, figure, outcome)
        instruments = [portfolio.instruments[p.instrument] for p in pool.positions]
        solved = solver_follows(rules) and all(solver_prices(instrument) for instrument in instruments)
        assert (outcome is Outcome.NOT_SOLVED) == (not solved), context
        with exact():
            figures = evaluate_pool(pool, portfolio, rules)
        if on_the_boundary(figures.equity, figures.maintenance_margin, rules.liquidation_threshold):
            continue
        if item.price is None:
            assert outcome in (Outcome.NONE, Outcome.NOT_SOLVED) and math.isnan(figure), context
            continue
        scale = float(item.price / item.mark)
        if not SCALE_MIN * 1.01 < scale < SCALE_MAX / 1.01:
            assert outcome is Outcome.NONE or abs(figure - float(item.price)) <= RELATIVE * float(item.price), context
            continue
        assert outcome is Outcome.PRICED, context
        assert abs(figure - float(item.price)) <= RELATIVE * float(item.price) + OF_MARK * float(item.mark), context
        compared.append(abs(figure - float(item.price)) / float(item.price))
    return compared


@given(venue_like(), st.sampled_from(["1", "0.8", "1.25"]))
def test_every_figure_equals_the_exact_solver_on_random_books_under_random_rules(
    case: tuple[Portfolio, RuleChoices], move
):
    portfolio, rules = case
    risk, _ = priced(unquantized(portfolio), rules)
    if move != "1":  # the positions that do not move are read from the book's figures after a tick
        risk.tick(marks=scaled(portfolio, D(move)), prices={"BTC": portfolio.market.prices["BTC"] * D(move)})
    differences = assert_equal_to_the_exact_solver(risk, book_liquidation_prices(risk), "acct")
    # steer the search toward the largest difference (a root near a stretch's end found a 1e-7 one)
    target(math.log10(max(differences, default=0.0) + 1e-18), label="log10 relative difference")


@pytest.mark.parametrize("name", available())
def test_every_figure_equals_the_exact_solver_on_a_synthetic_book(name):
    # a quarter of the accounts start around their maintenance margin: liquidatable pools look the other way
    portfolio = synthetic_book(40, seed=3, shape=BookShape(distressed_share=0.25))
    risk, prices = priced(portfolio, rulebook(name).rules)
    compared = sum(len(assert_equal_to_the_exact_solver(risk, prices, a.id)) for a in portfolio.accounts)
    held = prices.pool >= 0
    if name == "scenario-margin":
        assert compared == 0 and (prices.outcome[held] == Outcome.NOT_SOLVED).all()
    else:
        recovering = held & (prices.outcome == Outcome.PRICED) & risk.liquidatable[prices.pool]
        assert compared > 50 and (prices.outcome[held] == Outcome.NONE).any() and recovering.any()
