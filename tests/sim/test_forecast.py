"""The cascade forecast (:mod:`crossmargin.sim.forecast`): a two-account cascade worked by hand, the shock's
reach, and the property that a larger move never liquidates less.

The hand book (:func:`hand_book`, base USD): USDT at weight 1 and X (the underlying, priced 100) at 0.5;
X-PERP linear on X, contract 1 X, settled in USDT, one tier (maintenance rate 0.01, no maintenance amount),
marked 100; generic rules (liquidatable when equity < MM) and the generic liquidation terms (fee 0). With the
mark at P, an account of ``u`` USDT long ``q`` from 100 has equity ``u + q (P - 100)`` and MM ``0.01 q P``:

- a: 1000 USDT, long 100: 1000 + 100 (P - 100) = P      ->  99 P = 9000    ->  P = 90.9090...
- b: 700 USDT, long 50:   700 + 50 (P - 100) = 0.5 P    ->  49.5 P = 4300  ->  P = 86.8686...

X-PERP's depth: one level of 1000 X at 10 % from the mark, half of a fill's move staying in the mark
(``DepthLevels(((0.1, 1000),), permanent_impact=0.5)``).
"""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook
from crossmargin.liquidation.liquidity import DepthLevels
from crossmargin.model import InputError, Portfolio
from crossmargin.model.rules import LiquidationTerms
from crossmargin.sim.forecast import Orders, forecast, forecast_move, prepare, shock_of
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

TERMS = rulebook("generic").liquidation
X_PERP = linear("X-PERP", underlying="X", table=tiers((None, "0.01", "0.02")))
DEPTH = {"X-PERP": DepthLevels(((D("0.1"), D(1000)),), permanent_impact=D("0.5"))}
ABS = 1e-9


def hand_book(*accounts: tuple[str, str, str]) -> Portfolio:
    """The hand book's market with ``accounts`` of (id, USDT, size of a long from 100)."""
    return book(
        [banded("USDT", [("0", "1")]), banded("X", [("0", "0.5")])],
        [X_PERP],
        {"USDT": "1", "X": "100"},
        {"X-PERP": "100"},
        [(name, {"USDT": usdt}, [position("X-PERP", size, "100")]) for name, usdt, size in accounts],
    )


A_AND_B = hand_book(("a", "1000", "100"), ("b", "700", "50"))


@pytest.mark.parametrize("orders", list(Orders))
def test_a_two_account_cascade_by_hand(orders: Orders) -> None:
    risk = RiskBook(A_AND_B, GENERIC)
    prepared = prepare(risk, TERMS, DEPTH, 10_000.0)
    result = forecast_move(prepared, shock_of(risk, "X"), -0.1, orders)
    # Round 1, X -10 %: the mark is 90, past a's 90.909 (not b's 86.87). a: equity 1000 - 1000 = 0 <= 0: closed
    # whole, 100 X sold at 90 x 0.9 = 81 (notional 8100); the mark moves by half of 81 - 90: 85.5. Net value
    # 1000 + 100 (81 - 100) = -900: a shortfall of 900, paid by the fund (10000).
    # Round 2: 85.5 is past b's 86.87. b: equity 700 + 50 (85.5 - 100) = -25: closed whole, 50 X sold at
    # 85.5 x 0.9 = 76.95 (notional 3847.5); the mark to 85.5 - 0.5 x 8.55 = 81.225. Net value
    # 700 + 50 (76.95 - 100) = -452.5, paid by the fund.
    # Round 3: no price is left between 81.225 and the mark: the fixed point.
    first, second = result.rounds
    assert (first.number, first.price, first.positions, first.accounts) == (1, 90.0, 1, 1)
    assert first.notional == pytest.approx(8100, abs=ABS) and first.shortfall == pytest.approx(900, abs=ABS)
    assert first.marks["X-PERP"] == pytest.approx(85.5, abs=ABS)
    assert (second.number, second.positions, second.accounts) == (2, 1, 1)
    assert second.price == pytest.approx(85.5, abs=ABS)
    assert second.notional == pytest.approx(3847.5, abs=ABS) and second.shortfall == pytest.approx(452.5, abs=ABS)
    assert result.converged and (result.positions, result.accounts) == (2, 2)
    assert (result.start_price, result.shocked_price) == (100.0, 90.0)
    assert result.final_price == pytest.approx(81.225, abs=ABS)
    assert result.liquidated_notional == pytest.approx(8100 + 3847.5, abs=ABS)
    # slippage: 100 x (90 - 81) + 50 x (85.5 - 76.95) = 900 + 427.5
    assert result.slippage == pytest.approx(1327.5, abs=ABS)
    assert result.shortfall == pytest.approx(1352.5, abs=ABS)
    assert result.insurance_fund_draw == pytest.approx(1352.5, abs=ABS) and result.beyond_fund == 0.0
    assert result.insurance_fund_end == pytest.approx(10_000 - 1352.5, abs=ABS)
    assert list(result.liquidated.round) == [1, 2]
    assert [risk.owners[int(p)].account for p in result.liquidated.pool] == ["a", "b"]
    # each was triggered by its own position's liquidation price: the move that liquidates it
    assert list(result.liquidated.trigger) == [risk.slot_range_of("a")[0], risk.slot_range_of("b")[0]]
    assert result.liquidated.notional == pytest.approx([8100, 3847.5], abs=ABS)
    assert result.liquidated.shortfall == pytest.approx([900, 452.5], abs=ABS)


def test_a_shortfall_beyond_the_fund_is_taken_over_off_the_market() -> None:
    risk = RiskBook(A_AND_B, GENERIC)
    prepared = prepare(risk, TERMS, DEPTH, 1000.0)
    result = forecast_move(prepared, shock_of(risk, "X"), -0.1)
    # Round 1 as by hand above: the fund pays a's 900 and keeps 100. Round 2: b's fill at 76.95 would leave
    # -452.5, more than the 100 left: b is taken over at its bankruptcy price (700 + 50 (p - 100) = 0: p = 86,
    # notional 50 x 86 = 4300) by auto-deleveraging, off the market: the mark stays at 85.5, and the takers
    # lose b's net value at the mark, 25.
    assert result.final_price == pytest.approx(85.5, abs=ABS)
    assert result.liquidated_notional == pytest.approx(8100 + 4300, abs=ABS)
    assert result.insurance_fund_draw == pytest.approx(900, abs=ABS)
    assert result.beyond_fund == pytest.approx(25, abs=ABS) and result.shortfall_rule == "adl"
    assert result.insurance_fund_end == pytest.approx(100, abs=ABS)


def test_a_move_short_of_every_liquidation_price_liquidates_nobody() -> None:
    risk = RiskBook(A_AND_B, GENERIC)
    result = forecast_move(prepare(risk, TERMS, DEPTH, 0.0), shock_of(risk, "X-PERP"), -0.09)
    # 91 is above a's 90.909: nobody is crossed
    assert result.rounds == () and result.converged and result.final_price == pytest.approx(91, abs=ABS)
    assert result.liquidated_notional == result.shortfall == 0.0


def test_a_rise_liquidates_the_shorts_and_buys() -> None:
    portfolio = hand_book(("c", "1000", "-100"))
    risk = RiskBook(portfolio, GENERIC)
    result = forecast_move(prepare(risk, TERMS, DEPTH, 0.0), shock_of(risk, "X"), 0.1)
    # c short 100: 1000 - 100 (P - 100) = P -> P = 108.9108...; at 110 its equity is 0: closed whole, bought at
    # 110 x 1.1 = 121 (notional 12100); the mark moves by half of 11: 115.5. Net value 1000 - 100 x 21 = -1100,
    # beyond an empty fund: taken over at its bankruptcy price 110 (notional 11000) off the market.
    assert result.final_price == pytest.approx(110, abs=ABS)
    assert result.liquidated_notional == pytest.approx(11_000, abs=ABS)
    assert result.beyond_fund == pytest.approx(0, abs=ABS)


def test_the_shock_of_a_name() -> None:
    risk = RiskBook(A_AND_B, GENERIC)
    underlying, instrument = shock_of(risk, "X"), shock_of(risk, "X-PERP")
    assert (underlying.instruments, underlying.asset, underlying.reference) == ((0,), 1, 0)
    assert (instrument.instruments, instrument.asset) == ((0,), None)
    assert shock_of(risk, None) == underlying  # the underlying of the largest open notional
    with pytest.raises(InputError, match="instrument: 'Y' is neither an instrument nor an underlying"):
        shock_of(risk, "Y")


def test_a_move_of_minus_one_or_below_is_refused() -> None:
    risk = RiskBook(A_AND_B, GENERIC)
    with pytest.raises(InputError, match="moves: a move must be above -1"):
        forecast_move(prepare(risk, TERMS, DEPTH, 0.0), shock_of(risk, "X"), -1.0)


def test_moves_share_one_preparation_and_report_progress() -> None:
    risk = RiskBook(A_AND_B, GENERIC)
    seen: list[tuple[int, int]] = []
    results = forecast(
        prepare(risk, TERMS, DEPTH, 10_000.0),
        shock_of(risk, "X"),
        [-0.05, -0.1],
        advance=lambda k, n: seen.append((k, n)),
    )
    assert seen == [(1, 2), (2, 2)]
    assert [r.accounts for r in results] == [0, 2]  # 95 crosses nobody (a's 90.909 is below it)


# ------------------------------------------------------------------ the larger move never liquidates less
# Liquidated notional is measured at the book's marks (``liquidated_size``: the contracts closed, valued as
# before the shock): at the fill prices a larger fall closes the same contracts for less money (one account
# closed whole at 81 rather than 85 is less notional), so that figure is monotone only in what is closed.
# A fund that pays every shortfall keeps every close on the market (a pool taken over off the market moves
# no price, and a larger move could take over a pool whose fills a smaller one sent to the market).

accounts = st.lists(
    st.tuples(st.integers(60, 5000), st.integers(1, 200)), min_size=1, max_size=6
)  # (USDT, long size from 100)


@settings(max_examples=40, deadline=None)
@given(accounts, st.floats(0.01, 0.6), st.floats(0.01, 0.6), st.booleans(), st.sampled_from(list(Orders)))
def test_liquidated_notional_is_monotone_in_the_size_of_the_move(
    holdings: list[tuple[int, int]], one: float, other: float, partial: bool, orders: Orders
) -> None:
    portfolio = hand_book(*((f"u{n}", str(usdt), str(size)) for n, (usdt, size) in enumerate(holdings)))
    risk = RiskBook(portfolio, GENERIC)
    terms = LiquidationTerms(partial=partial, buffer=Decimal("0.1"), full_close_below=Decimal("0.5"))
    prepared = prepare(risk, terms, DEPTH, 1e12)  # a fund that pays every shortfall: nothing taken off the market
    small, large = sorted((one, other))
    shock = shock_of(risk, "X")
    less, more = (forecast_move(prepared, shock, -move, orders) for move in (small, large))
    assert more.liquidated_size >= less.liquidated_size * (1 - 1e-12)
    assert more.accounts >= less.accounts
    if orders is Orders.ACCOUNT:  # each account's orders move the mark by a factor of their own: more go lower
        assert more.final_price <= less.final_price * (1 + 1e-12)
    # (one order a round for all: the depth's levels charge each order from its first level, so the same
    # accounts liquidated over more rounds, as a smaller move spreads them, can move the mark further)
    assert np.all(np.isfinite([more.liquidated_notional, less.liquidated_notional]))


def test_a_rulebook_without_liquidation_prices_is_refused() -> None:
    grid = rulebook("scenario-margin")  # a scenario grid: the solver gives no liquidation price
    risk = RiskBook(synthetic_book(20, seed=1), grid.rules)
    with pytest.raises(InputError, match="rulebook: its requirement is not solved for liquidation prices"):
        prepare(risk, grid.liquidation, {}, 0.0)


def test_a_close_at_the_market_realizes_its_pnl_into_the_pool_s_balance() -> None:
    # p: 1000 USDT, long 100 X from 100 (mmr 1 %). X -9.2 %: mark 90.8, equity 1000 - 920 = 80 < MM 90.8, above
    # zero: closed in part, at the mark (no depth model: no slippage, no impact, one round). The units closed,
    # u = notional / 90.8, realize u x (90.8 - 100) into p's USDT, less the fees: a second reading of the same
    # close, from the forecast's totals.
    from crossmargin.sim.forecast import _Cascade

    risk = RiskBook(hand_book(("p", "1000", "100")), GENERIC)
    prepared = prepare(risk, TERMS, {}, 10_000.0)
    cascade = _Cascade(prepared, shock_of(risk, "X"), -0.092, Orders.ACCOUNT)
    result = cascade.result(-0.092, cascade.run(100))
    assert result.converged and result.positions == 1 and result.slippage == 0.0
    units = result.liquidated_notional / 90.8
    assert 0.0 < units < 100.0
    usdt = risk.assets.names.index("USDT")
    expected = 1000.0 + units * (90.8 - 100.0) - result.fees
    assert cascade.balance[usdt, risk.cross_pool["p"]] == pytest.approx(expected, abs=1e-6)
