"""The buffer: the move over a reaction time, the exact figure worked by hand, and the float screen against it."""

import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.margin.realized_volatility import SECONDS_PER_YEAR
from crossmargin.model.numbers import exact
from crossmargin.sim.agents.buffer import (
    Buffer,
    correlated_risk,
    cross_pools,
    exact_buffer,
    exposures,
    move_sigmas,
    screened_buffers,
)
from tests.sim.agents.conftest import REACTION_S, document, hedged_document, loop_of

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


def test_the_correlated_risk_nets_a_hedged_pair_worked_by_hand():
    # 2000 USDT, long 1 BTC-PERP (20000), short 8 ETH-PERP (1000): exposures BTC +20000, ETH -8000; s = 0.05
    # each; rho 0.9: (1000)^2 + (400)^2 - 2 x 0.9 x 1000 x 400 = 1,000,000 + 160,000 - 720,000 = 440,000;
    # risk sqrt(440,000) = 663.3249581; the gross risk 1000 + 400 = 1400
    doc = hedged_document()
    doc["accounts"][0]["positions"].append({"instrument": "ETH-PERP", "size": "-8", "entry_price": "1000"})
    state = loop_of(doc).state
    sigmas = move_sigmas({}, ["BTC", "ETH"], 0.5, REACTION_S)
    figures = state.pool_figures("a")
    assert exposures(figures, state.instruments) == {"BTC": D(20000), "ETH": D(-8000)}
    found = exact_buffer(figures, state.rules, state.instruments, sigmas, lambda u, v: D("0.9"))
    # equity 2000, MM 0.004 x (20000 + 8000) = 112: health 1888
    assert found.health == D(1888)
    with exact():
        assert found.risk == D(440000).sqrt()
    assert exact_buffer(figures, state.rules, state.instruments, sigmas).risk == D(1400)


@settings(max_examples=200, deadline=None)
@given(
    g=st.lists(st.decimals(D(-50000), D(50000), places=2), min_size=1, max_size=3),
    s=st.lists(st.decimals(D("0.001"), D("0.2"), places=4), min_size=3, max_size=3),
    rho=st.lists(st.decimals(D(-1), D(1), places=3), min_size=3, max_size=3),
)
def test_the_correlated_risk_is_never_above_the_gross(g, s, rho):
    names = ["A", "B", "C"][: len(g)]
    pairs = {("A", "B"): rho[0], ("A", "C"): rho[1], ("B", "C"): rho[2]}

    def correlation(u, v):
        return pairs.get((u, v), pairs.get((v, u)))

    exposure = dict(zip(names, g, strict=False))
    sigmas = dict(zip(["A", "B", "C"], s, strict=True))
    gross = sum(abs(exposure[u]) * sigmas[u] for u in names)
    assert correlated_risk(exposure, sigmas, correlation) <= gross
