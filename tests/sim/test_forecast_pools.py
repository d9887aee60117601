"""Pools valued at the forecast's own market (:mod:`crossmargin.sim.forecast_pools`): by hand on a small book,
and against a second method on generated books: the risk book itself, built or ticked to the same market
(its figures and verdicts), and its own liquidation prices."""

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from crossmargin.engine import terms
from crossmargin.engine.book import RiskBook
from crossmargin.engine.liquidation_prices import Outcome, book_liquidation_prices, move_arrays
from crossmargin.engine.risk_requirements import slots_by_pool
from crossmargin.engine.rule_arrays import MarketArrays
from crossmargin.model import Portfolio
from crossmargin.sim.forecast_pools import Holdings, gathered, liquidation_prices, unrealized_pnl, value_pools
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook
from tests.builders import GENERIC, banded, book, linear, position, tiers

RULEBOOKS = ("generic", "bybit-uta", "binance-usdm", "drift-v2")  # plain, uPnL in the settle collateral, ...


def holdings(risk: RiskBook) -> Holdings:
    first, order = slots_by_pool(risk.pool, risk.pool_count)
    return Holdings(
        risk.size.copy(), risk.entry, risk.instrument, risk.bracket.copy(), risk.balance, risk.haircut, first, order
    )


def moved(risk: RiskBook, marks: dict[str, float], prices: dict[str, float]) -> MarketArrays:
    """The risk book's market arrays with some marks and prices replaced."""
    new_marks, new_prices = risk.marks.copy(), risk.prices.copy()
    for name, value in marks.items():
        new_marks[risk.instruments.index(name)] = value
    for name, value in prices.items():
        new_prices[risk.assets.index(name)] = value
    return risk.market_arrays._replace(marks=new_marks, prices=new_prices)


def test_one_pool_by_hand() -> None:
    portfolio = book(
        [banded("USDT", [("0", "1")]), banded("X", [("0", "0.5")])],
        [linear("X-PERP", underlying="X", table=tiers((None, "0.01", "0.02")))],
        {"USDT": "1", "X": "100"},
        {"X-PERP": "100"},
        [("a", {"USDT": "1000", "X": "10"}, [position("X-PERP", "100", "100")])],
    )
    risk = RiskBook(portfolio, GENERIC)
    values = value_pools(np.array([0]), holdings(risk), moved(risk, {"X-PERP": 90}, {"X": 90}), risk.rule_arrays)
    # at 90: equity 1000 + 10 x 90 x 0.5 + 100 (90 - 100) = 450; MM 0.01 x 100 x 90 = 90; net value (X at full
    # price) 1000 + 900 - 1000 = 900; the position's notional 9000 and counted uPnL -1000
    assert (values.equity[0], values.maintenance[0], values.net_value[0]) == pytest.approx((450, 90, 900))
    assert not values.liquidatable[0]
    assert (values.position_mm[0], values.notional[0], values.counted[0]) == pytest.approx((90, 9000, -1000))


@pytest.mark.parametrize("name", RULEBOOKS)
def test_the_book_s_own_figures_at_its_market(name: str) -> None:
    risk = RiskBook(synthetic_book(300, seed=3), rulebook(name).rules)
    pools = np.arange(risk.pool_count, dtype=np.int64)[::-1].copy()
    values = value_pools(pools, holdings(risk), risk.market_arrays, risk.rule_arrays)
    assert values.equity == pytest.approx(risk.figures[pools, 0], rel=1e-12, abs=1e-8)
    assert values.maintenance == pytest.approx(risk.figures[pools, 2], rel=1e-12, abs=1e-8)
    assert np.array_equal(values.liquidatable, risk.liquidatable[pools])


@pytest.mark.parametrize("name", RULEBOOKS)
def test_a_market_of_its_own_as_the_book_ticked_there(name: str) -> None:
    portfolio = synthetic_book(300, seed=4)
    risk = RiskBook(portfolio, rulebook(name).rules)
    market = portfolio.market
    marks = {n: float(m) * 0.8 for n, m in market.marks.items() if portfolio.instruments[n].underlying == "BTC"}
    prices = {"BTC": float(market.prices["BTC"]) * 0.8}
    ticked = RiskBook(portfolio, rulebook(name).rules)
    ticked.tick(
        marks={n: Decimal(repr(v)) for n, v in marks.items()}, prices={a: Decimal(repr(v)) for a, v in prices.items()}
    )
    pools = np.arange(risk.pool_count, dtype=np.int64)
    values = value_pools(pools, holdings(risk), moved(risk, marks, prices), risk.rule_arrays)
    assert values.equity == pytest.approx(ticked.figures[pools, 0], rel=1e-9, abs=1e-6)
    assert values.maintenance == pytest.approx(ticked.figures[pools, 2], rel=1e-9, abs=1e-6)
    assert np.array_equal(values.liquidatable, ticked.liquidatable[pools])


def halved(portfolio: Portfolio, account: str) -> Portfolio:
    """``portfolio`` with the first position of ``account`` halved."""
    accounts = []
    for item in portfolio.accounts:
        if item.id == account:
            first, *rest = item.positions
            item = replace(item, positions=(replace(first, size=first.size / 2), *rest))
        accounts.append(item)
    return replace(portfolio, accounts=tuple(accounts))


def test_the_forecast_s_sizes_as_a_book_of_those_sizes() -> None:
    portfolio = synthetic_book(60, seed=5)
    account = next(a for a in portfolio.accounts if len(a.positions) >= 2 and a.positions[0].isolated_margin is None)
    risk = RiskBook(portfolio, GENERIC)
    held = holdings(risk)
    first_slot = risk.slot_range_of(account.id)[0]
    held.size[first_slot] /= 2
    smaller = RiskBook(halved(portfolio, account.id), GENERIC)
    pool = risk.cross_pool[account.id]
    values = value_pools(np.array([pool]), held, risk.market_arrays, risk.rule_arrays)
    assert values.equity[0] == pytest.approx(smaller.figures[smaller.cross_pool[account.id], 0], rel=1e-12)
    assert values.maintenance[0] == pytest.approx(smaller.figures[smaller.cross_pool[account.id], 2], rel=1e-12)


@pytest.mark.parametrize("name", RULEBOOKS)
def test_liquidation_prices_as_the_book_s_own(name: str) -> None:
    risk = RiskBook(synthetic_book(300, seed=6), rulebook(name).rules)
    pools = np.arange(risk.pool_count, dtype=np.int64)[::-1].copy()
    slots, price, due = liquidation_prices(
        pools, holdings(risk), risk.market_arrays, risk.rule_arrays, move_arrays(risk)
    )
    own = book_liquidation_prices(risk)
    expected = np.where(own.outcome == Outcome.PRICED, own.price, np.nan)[slots]
    assert np.array_equal(np.isnan(price), np.isnan(expected))
    assert price[~np.isnan(price)] == pytest.approx(expected[~np.isnan(expected)], rel=1e-12)
    assert np.array_equal(due, risk.liquidatable[pools])


def test_the_slots_of_some_pools_in_their_order() -> None:
    first = np.array([0, 2, 2, 5])  # pool 0: slots 10, 11; pool 1: none; pool 2: 12, 13, 14
    order = np.array([10, 11, 12, 13, 14])
    slots, owner = gathered(np.array([2, 0, 1]), first, order)
    assert list(slots) == [12, 13, 14, 10, 11] and list(owner) == [0, 0, 0, 1, 1]


def test_the_pnl_as_the_engine_s_own_term() -> None:
    rng = np.random.default_rng(11)
    size, contract = rng.normal(0, 10, 40), rng.choice([1.0, 10.0, 100.0], 40)
    entry, mark, inverse = rng.uniform(50, 150, 40), rng.uniform(50, 150, 40), rng.random(40) < 0.5
    mine = unrealized_pnl(size, contract, entry, mark, inverse)
    theirs = [terms.unrealized_pnl(*args) for args in zip(size, contract, entry, mark, inverse, strict=True)]
    assert mine == pytest.approx(theirs, rel=1e-15, abs=1e-12)
