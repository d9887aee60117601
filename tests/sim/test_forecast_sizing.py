"""How much of a pool the forecast closes and who pays what it leaves (:mod:`crossmargin.sim.forecast_sizing`),
worked by hand on one pool of two positions.

The pool: maintenance margin 100, the positions' margins 60 and 40 (largest first), notionals 6000 and 4000,
counted uPnL -10 and -5; equity as each test says. Threshold 1.
"""

from decimal import Decimal

import numpy as np
import pytest

from crossmargin.model.rules import BufferBasis, LiquidationTerms, Shortfall
from crossmargin.sim.forecast_pools import PoolValues
from crossmargin.sim.forecast_sizing import cover, fee_rate, fund_share, plan_closes, settled

GENERIC_LIKE = LiquidationTerms(buffer=Decimal("0.1"), full_close_below=Decimal("0.5"))
INSTRUMENT = np.array([1, 0], dtype=np.int64)
LONG = np.array([True, True])
NONE = np.zeros(1)


def pool(equity: float, net_value: float = 0.0) -> PoolValues:
    return PoolValues(
        np.array([equity]), np.array([100.0]), np.array([net_value]), np.array([True]),
        np.array([7, 3], dtype=np.int64), np.array([0, 0], dtype=np.int64), np.array([60.0, 40.0]),
        np.array([6000.0, 4000.0]), np.array([-10.0, -5.0]),
    )  # fmt: skip


def shares(equity: float, terms: LiquidationTerms = GENERIC_LIKE, cost: float = 0.0) -> list[float]:
    plan = plan_closes(pool(equity), terms, 1.0, np.full(2, cost), NONE, INSTRUMENT, LONG)
    return [float(x) for x in plan.share]


def test_a_pool_at_half_its_margin_is_closed_down_to_its_target() -> None:
    # 50 is not below 0.5 x 100: partial from the start. To the target 1.1 x 100 = 110 the pool needs 60; the
    # first position frees 1.1 x 60 = 66 whole: 60 / 66 of it. The second is not needed.
    assert shares(50.0) == pytest.approx([60 / 66, 0.0])


def test_a_pool_below_half_its_margin_closes_whole_positions_first() -> None:
    # 40 < 50: the first position goes whole. Then equity 40, margin 40: 40 is not below 20, so partial: the
    # target 1.1 x 40 = 44 needs 4, of the 44 the second position frees whole: 4 / 44.
    assert shares(40.0) == pytest.approx([1.0, 4 / 44])
    # with costs of 0.1 % of the notional: the first costs 6, leaving equity 34 (not below 20): the target 44
    # needs 10, of the 44 - 4 the second frees net of its own costs: 10 / 40
    assert shares(40.0, cost=0.001) == pytest.approx([1.0, 0.25])


def test_closed_out_without_partial_liquidation_or_equity() -> None:
    assert shares(90.0, LiquidationTerms(partial=False)) == [1.0, 1.0]
    assert shares(0.0) == [1.0, 1.0]
    plan = plan_closes(pool(-5.0), GENERIC_LIKE, 1.0, np.zeros(2), NONE, INSTRUMENT, LONG)
    assert list(plan.full) == [True]
    assert list(plan_closes(pool(50.0), GENERIC_LIKE, 1.0, np.zeros(2), NONE, INSTRUMENT, LONG).full) == [False]


def test_a_notional_buffer_as_drift_writes_it() -> None:
    terms = LiquidationTerms(buffer=Decimal("0.02"), buffer_basis=BufferBasis.NOTIONAL)
    # first position: requirement 100 + 0.02 x 10000 = 300, collateral 80 + 0.02 x (-15) = 79.7: 220.3 short;
    # it frees 60 + 0.02 x 6000 + 0.02 x 10 = 180.2 whole: not enough, closed whole. Second: 40 + 0.02 x 4000
    # = 120 against 80 + 0.02 x (-5) = 79.9: 40.1 short, of the 40 + 80 + 0.1 = 120.1 it frees.
    assert shares(80.0, terms) == pytest.approx([1.0, 40.1 / 120.1])


def test_what_a_close_leaves() -> None:
    slippage, filled = np.array([-30.0, -10.0]), np.array([1000.0, 500.0])
    terms = LiquidationTerms(fee_rate=Decimal("0.01"))
    full, owed, held, cross = np.array([True]), np.array([0.0]), np.array([500.0]), np.array([True])
    # net value 100, slippage 40, fees 1 % of 1500 = 15: 45 left
    left = settled(pool(0.0, 100.0), terms, filled, slippage, full, owed, held, cross)
    assert (left.net_value[0], left.fees[0], left.slippage[0]) == pytest.approx((45.0, 15.0, -40.0))
    # net value 20: 40 of slippage leaves -20, and the fees are capped at what is left (nothing): shortfall 20
    left = settled(pool(0.0, 20.0), terms, filled, slippage, full, owed, held, cross)
    assert (left.net_value[0], left.fees[0], left.shortfall[0]) == pytest.approx((-20.0, 0.0, 20.0))
    uncapped = LiquidationTerms(fee_rate=Decimal("0.01"), cap_fee_at_bankruptcy=False)
    left = settled(pool(0.0, 20.0), uncapped, filled, slippage, full, owed, held, cross)
    assert left.shortfall[0] == pytest.approx(35)
    # a cross pool closed out owing 95 sells 95 / 0.95 = 100 of its 500 at a 5 % discount to repay it: it loses 5
    left = settled(pool(0.0, 100.0), terms, filled, slippage, full, np.array([95.0]), held, cross)
    assert left.net_value[0] == pytest.approx(40.0)
    # holding only 40, it sells all of it and loses 2; closed in part, or isolated, it sells nothing
    left = settled(pool(0.0, 100.0), terms, filled, slippage, full, np.array([95.0]), np.array([40.0]), cross)
    assert left.net_value[0] == pytest.approx(43.0)
    for whole, crossed in ((np.array([False]), cross), (full, np.array([False]))):
        left = settled(pool(0.0, 100.0), terms, filled, slippage, whole, np.array([95.0]), held, crossed)
        assert left.net_value[0] == pytest.approx(45.0)


def test_who_pays_a_shortfall() -> None:
    shortfall, at_mark = np.array([10.0, 50.0, 5.0]), np.array([8.0, 40.0, 4.0])
    # the fund (20) pays the first (10 left); the second (50) is more than that: taken over at its bankruptcy
    # price, its takers losing 40; the third (5) fits: 5 left
    paid = cover(shortfall, at_mark, 20.0, LiquidationTerms(shortfall=Shortfall.ADL))
    assert (list(paid.draw), list(paid.beyond), list(paid.taken_over), paid.left) == (
        [10.0, 0.0, 5.0], [0.0, 40.0, 0.0], [False, True, False], 5.0
    )  # fmt: skip
    # spread over the others: the fund pays what it has (10 of the 50, then nothing) and the rest is spread
    paid = cover(shortfall, at_mark, 20.0, LiquidationTerms(shortfall=Shortfall.SOCIALIZED))
    assert (list(paid.draw), list(paid.beyond), list(paid.taken_over), paid.left) == (
        [10.0, 10.0, 0.0], [0.0, 40.0, 5.0], [False, False, False], 0.0
    )  # fmt: skip


def test_the_fees_and_the_fund_s_part() -> None:
    terms = LiquidationTerms(
        fee_rate=Decimal("0.01"), insurance_fund_share=Decimal("0.5"), insurance_fee_rate=Decimal("0.005")
    )
    # 1 % + 0.5 %; the fund takes half of the 1 % and all of the 0.5 %: (0.005 + 0.005) / 0.015
    assert fee_rate(terms) == pytest.approx(0.015)
    assert fund_share(terms) == pytest.approx(2 / 3)
    assert fund_share(LiquidationTerms()) == 0.0
