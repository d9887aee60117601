"""A forecast round's closes filled against the depth (:mod:`crossmargin.sim.forecast_fills`), worked by hand.

The depth: ``DepthLevels(((0.01, 10), (0.02, 10)), permanent_impact=0.5)``, the mark at 100: a sell fills 10
units at 99 then 10 at 98; a buy 10 at 101 then 10 at 102; the mark keeps half of the move to the last fill.
"""

from decimal import Decimal

import numpy as np
import pytest

from crossmargin.engine.rule_arrays import instrument_arrays
from crossmargin.liquidation.liquidity import AtMark, DepthLevels, LinearImpact, LiquidityModel, Side
from crossmargin.model.rules import Shortfall
from crossmargin.sim.forecast_adl import Ledger
from crossmargin.sim.forecast_fills import (
    EXACT,
    Closes,
    Orders,
    PositionArrays,
    Relative,
    TurnPools,
    Turns,
    account_order,
    fill_round,
    in_turn,
    sizes,
)
from tests.builders import D, linear

LEVELS = DepthLevels(((D("0.01"), D(10)), (D("0.02"), D(10))), permanent_impact=D("0.5"))
MARKS = np.array([100.0])
REL = 1e-12


def closes(*rows: tuple[bool, float, int]) -> Closes:
    """Closes on instrument 0 from (long, units, account's place) rows."""
    return Closes(
        np.zeros(len(rows), dtype=np.int64),
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows], dtype=np.int64),
    )


def test_a_round_as_one_order_per_side() -> None:
    filled = fill_round(closes((True, 6.0, 0), (True, 8.0, 1)), [LEVELS], MARKS, Orders.ROUND)
    # 14 sold: 10 at 99 and 4 at 98, average (990 + 392) / 14; the last at 98, so the mark moves to
    # 100 + 0.5 (98 - 100) = 99
    assert filled.price == pytest.approx([1382 / 14, 1382 / 14], rel=REL)
    assert list(filled.share) == [1.0, 1.0]
    assert filled.marks == pytest.approx([99.0], rel=REL)


def test_a_round_account_by_account() -> None:
    filled = fill_round(closes((True, 6.0, 0), (True, 8.0, 1)), [LEVELS], MARKS, Orders.ACCOUNT)
    # first account: 6 at 99 (the first level), the mark to 100 + 0.5 (99 - 100) = 99.5; second: 8 at
    # 99.5 x 0.99 = 98.505, the mark to 99.5 + 0.5 (98.505 - 99.5) = 99.0025
    assert filled.price == pytest.approx([99.0, 98.505], rel=REL)
    assert filled.marks == pytest.approx([99.0025], rel=REL)
    swapped = fill_round(closes((True, 6.0, 1), (True, 8.0, 0)), [LEVELS], MARKS, Orders.ACCOUNT)
    # the other order: 8 at 99, then 6 at 98.505; the same mark at the end (each account moves it by a factor)
    assert swapped.price == pytest.approx([98.505, 99.0], rel=REL)
    assert swapped.marks == pytest.approx([99.0025], rel=REL)


def test_one_account_s_orders_move_the_mark_together() -> None:
    filled = fill_round(closes((True, 6.0, 0), (True, 4.0, 0), (True, 8.0, 1)), [LEVELS], MARKS, Orders.ACCOUNT)
    # account 0's two orders (6 and 4) both fill at 99 from the mark 100, and their moves add up: 2 x (-0.5),
    # to 99; account 1's 8 then fill at 99 x 0.99 = 98.01, the mark to 99 - 0.5 x 0.99 = 98.505
    assert filled.price == pytest.approx([99.0, 99.0, 98.01], rel=REL)
    assert filled.marks == pytest.approx([98.505], rel=REL)


def test_a_short_s_close_buys() -> None:
    filled = fill_round(closes((False, 15.0, 0)), [LEVELS], MARKS, Orders.ROUND)
    # 10 at 101 and 5 at 102: (1010 + 510) / 15; the mark to 100 + 0.5 x 2 = 101
    assert filled.price == pytest.approx([1520 / 15], rel=REL)
    assert filled.marks == pytest.approx([101.0], rel=REL)
    both = fill_round(closes((True, 14.0, 0), (False, 15.0, 1)), [LEVELS], MARKS, Orders.ROUND)
    # the sell's move (-1) and the buy's (+1) add up to nothing
    assert both.marks == pytest.approx([100.0], rel=REL)


def test_depth_that_runs_out_fills_a_share() -> None:
    filled = fill_round(closes((True, 25.0, 0)), [LEVELS], MARKS, Orders.ROUND)
    # 20 of 25 fill (10 at 99, 10 at 98: average 98.5), the last at 98: the mark to 99
    assert list(filled.share) == [0.8]
    assert filled.price == pytest.approx([98.5], rel=REL)
    assert filled.marks == pytest.approx([99.0], rel=REL)


class QuotedOnly(LiquidityModel):
    """A linear book without a float mirror: quoted exactly, as depth at prices is."""

    def __init__(self, depth_units: Decimal, permanent_impact: Decimal) -> None:
        self.linear = LinearImpact(depth_units, permanent_impact)
        self.permanent_impact = permanent_impact

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        return self.linear._fill(side, units, mark)

    def _scaled(self, factor: Decimal) -> LiquidityModel:
        return self.linear._scaled(factor)

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal:
        return self.linear._units_within(side, mark, offset)


def exact_sells(units: list[float]) -> tuple[list[float], float]:
    # LinearImpact(1000, permanent 1): a sell of n at mark m averages m (1 - n / 2000) and moves the mark to
    # m (1 - n / 1000); in turn:
    mark, prices = 100.0, []
    for n in units:
        prices.append(mark * (1 - n / 2000))
        mark *= 1 - n / 1000
    return prices, mark


def test_account_orders_each_quoted_or_read_off_a_grid() -> None:
    linear = QuotedOnly(D(1000), permanent_impact=D(1))
    few = [1.0, 3.0, 10.0, 40.0]  # up to EXACT distinct sizes: each quoted, so exact
    filled = fill_round(closes(*((True, u, k) for k, u in enumerate(few))), [linear], MARKS, Orders.ACCOUNT)
    prices, mark = exact_sells(few)
    assert filled.price == pytest.approx(prices, rel=REL) and filled.marks == pytest.approx([mark], rel=REL)
    many = [0.6 + 0.37 * k for k in range(EXACT + 8)]  # more: read off the grid STEP ** k, within 0.1 %
    filled = fill_round(closes(*((True, u, k) for k, u in enumerate(many))), [linear], MARKS, Orders.ACCOUNT)
    prices, mark = exact_sells(many)
    assert filled.price == pytest.approx(prices, rel=1e-3) and filled.marks == pytest.approx([mark], rel=1e-3)
    assert filled.price[0] != pytest.approx(prices[0], rel=REL)  # read off the grid, not quoted


def test_account_orders_on_a_float_mirror_are_each_priced() -> None:
    linear = LinearImpact(D(1000), permanent_impact=D(1))
    many = [0.6 + 0.37 * k for k in range(EXACT + 8)]  # beyond EXACT sizes, still each order its own price
    filled = fill_round(closes(*((True, u, k) for k, u in enumerate(many))), [linear], MARKS, Orders.ACCOUNT)
    prices, mark = exact_sells(many)
    assert filled.price == pytest.approx(prices, rel=REL) and filled.marks == pytest.approx([mark], rel=REL)


def test_the_grid_of_sizes() -> None:
    assert list(sizes(np.array([3.0, 1.0, 3.0]))) == [1.0, 3.0]
    grid = sizes(np.linspace(1.0, 16.0, EXACT + 1))
    # the powers of 2 ** (1 / 4) from 1 to 16: 17 of them
    assert grid == pytest.approx([2 ** (k / 4) for k in range(17)], rel=1e-12)


def test_fills_at_the_mark_without_depth() -> None:
    filled = fill_round(closes((True, 5.0, 0), (False, 7.0, 1)), [AtMark()], MARKS, Orders.ACCOUNT)
    assert list(filled.price) == [100.0, 100.0] and list(filled.marks) == [100.0]


def test_the_order_of_accounts_is_by_id() -> None:
    assert list(account_order(["b", "a", "c", "a0"])) == [2, 0, 3, 1]


def test_pools_in_turn_by_hand() -> None:
    # four longs of a linear contract (size 1) from 100, the mark at 100; every order fills 1 % below the mark
    # it meets and moves it by -0.5 %. Pools 0, 1 and 2-3 are three accounts, in that order; the fund holds 3.
    sizes = np.array([10.0, 10.0, 10.0, 5.0])
    positions = PositionArrays(
        np.arange(4, dtype=np.int64), np.zeros(4, dtype=np.int64), sizes, sizes, np.ones(4),
        np.zeros(4, dtype=np.bool_), np.full(4, 100.0), np.ones(4),
    )  # fmt: skip
    relative = Relative(np.full(4, 0.99), np.ones(4), np.full(4, -0.005))
    every = np.arange(4, dtype=np.int64)
    pools = TurnPools(
        every, np.array([0, 1, 2, 2]), every, every, every + 1, every, np.array([5.0, 50.0, 15.0, 1.0]), np.zeros(4),
        np.array([0.0, 1.0, 0.0, 0.0]),
    )  # fmt: skip
    t = instrument_arrays({"X-PERP": linear("X-PERP", underlying="X")}, ["USDT"])

    def turns(shortfall: Shortfall) -> tuple[Turns, Ledger]:
        ledger = Ledger(
            sizes.copy(), np.full(4, 100.0), np.zeros(4, dtype=np.int64), every, np.zeros((1, 4)), every,
            np.zeros(4, dtype=np.bool_), np.zeros(4),
        )  # fmt: skip
        found = in_turn(pools, positions, relative, 3.0, shortfall is Shortfall.SOCIALIZED, MARKS, None, ledger, t,
                        np.ones(1))  # fmt: skip
        return found, ledger

    adl, ledger = turns(Shortfall.ADL)
    # pool 0 at 100: net value 5, filled at 99: 5 - 10 = -5, more than the fund (3): taken over off the market
    # at its bankruptcy price (5 + 10 (p - 100) = 0: p = 99.5), its takers losing nothing (worth 5 at the
    # mark); the mark stays at 100. Pool 1: 50 - 10 = 40, to the market; its fee income (1) into the fund (4);
    # the mark to 99.5. Account 2 meets 99.5: pool 2 is worth 15 - 5 = 10 there, filled at 98.505:
    # 10 - 9.95 = 0.05, to the market; pool 3 is worth 1 - 2.5 = -1.5, filled at 98.505: -1.5 - 4.975 =
    # -6.475 beyond the fund: taken over at 99.5 + 1.5 / 5 = 99.8, its takers losing 1.5. The account's one
    # order moves the mark by 99.5 x -0.5 %: 99.0025.
    assert list(adl.taken_over) == [True, False, False, True]
    assert adl.met == pytest.approx([100, 100, 99.5, 99.5], rel=REL)
    assert adl.price == pytest.approx([99.5, 99, 98.505, 99.8], rel=REL)
    assert list(adl.closed) == [10.0, 10.0, 10.0, 5.0] and list(ledger.size) == [0.0, 0.0, 0.0, 0.0]
    assert adl.beyond == pytest.approx([0, 0, 0, 1.5], rel=REL) and list(adl.draw) == [0, 0, 0, 0]
    assert adl.marks == pytest.approx([99.0025], rel=REL) and adl.fund == pytest.approx(4)
    spread, _ = turns(Shortfall.SOCIALIZED)
    # spread instead: the fund pays 3 of pool 0's 5 (2 spread), and every pool goes to the market: the mark to
    # 99.5 after pool 0, 99.0025 after pool 1 (fund 0 + 1), then account 2 meets 99.0025: pool 2 worth
    # 15 - 9.975 = 5.025, filled at 98.012475: 5.025 - 9.90025 = -4.87525 (the fund pays its 1, 3.87525
    # spread); pool 3 worth 1 - 4.9875 = -3.9875, filled at 98.012475: -3.9875 - 4.950125 = -8.937625, spread
    assert not spread.taken_over.any()
    assert spread.draw == pytest.approx([3, 0, 1, 0], rel=REL)
    assert spread.beyond == pytest.approx([2, 0, 3.87525, 8.937625], rel=REL)
    # the mark: 99.0025 less 0.5 % for each of account 2's two orders
    assert spread.marks == pytest.approx([99.0025 * (1 - 0.01)], rel=REL)
