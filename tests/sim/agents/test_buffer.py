"""The buffer: the move over a reaction time, the exact figure worked by hand, and the float screen against it."""

import math
from decimal import Decimal

from crossmargin.margin.realized_volatility import SECONDS_PER_YEAR
from crossmargin.sim.agents.buffer import Buffer, cross_pools, exact_buffer, move_sigmas, screened_buffers
from tests.sim.agents.conftest import REACTION_S, document, loop_of

D = Decimal


def test_the_move_over_the_reaction_time_takes_the_floor_where_the_index_is_lower_or_silent():
    # sqrt(3600 / year) = 0.0106600...; 0.8 x that = 0.0085280, the floor 0.5 x that = 0.0053300
    sigmas = move_sigmas({"BTC": 0.8, "ETH": 0.1}, ["BTC", "ETH", "SOL"], 0.5, 3600)
    assert math.isclose(float(sigmas["BTC"]), 0.8 * math.sqrt(3600 / SECONDS_PER_YEAR), rel_tol=1e-11)
    assert sigmas["ETH"] == sigmas["SOL"]
    assert math.isclose(float(sigmas["SOL"]), 0.5 * math.sqrt(3600 / SECONDS_PER_YEAR), rel_tol=1e-11)


def test_a_long_position_worked_by_hand_and_the_screen_agrees():
    # 3000 USDT, long 1 BTC from 20000 marked 19000: equity 3000 - 1000 = 2000, MM 0.004 x 19000 = 76,
    # health 1924; s = 0.5 x sqrt(1/100) = 0.05, risk 19000 x 0.05 = 950; buffer 1924 / 950
    loop = loop_of(document(balance=3000, mark=19000))
    sigmas = move_sigmas({}, ["BTC"], 0.5, REACTION_S)
    state = loop.state
    found = exact_buffer(state.pool_figures("a"), state.rules, state.instruments, sigmas)
    assert found == Buffer(D(1924), D(950))
    (screened,) = screened_buffers(loop.book, ["a"], sigmas)
    assert math.isclose(screened, 1924 / 950, rel_tol=1e-12)
    assert math.isinf(screened_buffers(loop.book, ["nobody"], sigmas)[0])
    pools = cross_pools(loop.book, ["nobody", "a"])  # kept by a caller: the same screen
    assert list(pools) == [-1, loop.book.cross_pool["a"]]
    kept = screened_buffers(loop.book, ["nobody", "a"], sigmas, pools)
    assert math.isinf(kept[0]) and kept[1] == screened


def test_no_positions_is_an_infinite_buffer():
    assert Buffer(D(5), D(0)).value == D("Infinity")
