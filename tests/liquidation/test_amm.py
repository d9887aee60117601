"""AMM liquidity: a constant-product sell and buy worked by hand, concentrated-liquidity swaps within a range
and across ticks from the v3 whitepaper's formulas, a stableswap pool against the invariant solved a second
way (its quadratic in y, D by bisection), the pools read from documents and run through the engine, and
properties (hypothesis)."""

from dataclasses import replace
from decimal import Context, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crossmargin.clearing.state import ClearingState
from crossmargin.liquidation.amm import (
    MAX_TICK,
    ConcentratedLiquidity,
    ConstantProduct,
    Pool,
    Stableswap,
    sqrt_price,
    stableswap_balances,
    stableswap_invariant,
    stableswap_y,
)
from crossmargin.liquidation.liquidity import Quote, Side, scaled_depth
from crossmargin.liquidation.liquidity_document import liquidity_from_dict
from crossmargin.live import events as live
from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model.document_text import parse_document
from crossmargin.model.errors import InputError
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from tests.builders import GENERIC, banded, book, linear, position, tiers

D = Decimal
SELL, BUY = Side.SELL, Side.BUY
WIDE = Context(prec=100)  # the second methods work at twice the ledger's digits
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portfolio.yaml"


def close(x: Decimal | Fraction, expected: Fraction | Decimal, tolerance: Fraction = Fraction(1, 10**44)) -> bool:
    expected = Fraction(expected)
    return abs(Fraction(x) - expected) <= tolerance * max(Fraction(1), abs(expected))


def wide_decimal(x: Fraction) -> Decimal:
    return WIDE.divide(D(x.numerator), D(x.denominator))


def wide(x: Fraction) -> Fraction:
    """``x`` rounded to 100 digits (keeps the second methods' fractions small)."""
    return Fraction(wide_decimal(x))


def wide_sqrt(x: Fraction | Decimal | int) -> Fraction:
    return Fraction(wide_decimal(Fraction(x)).sqrt(WIDE))


# --- constant product ------------------------------------------------------------------------------------

ETH_POOL = ConstantProduct(D(100), D(300000), D("0.003"))  # 100 ETH / 300,000 USDC: k = 3e7, price 3000


def test_a_constant_product_sell_by_hand():
    q = ETH_POOL.quote(SELL, D(10), D(3000))
    # at mark 3000 the pool holds x = sqrt(3e7 / 3000) = 100 ETH and y = 300,000 USDC, its reserves as given.
    # 10 ETH in, 0.3 % fee: 9.97 into the curve; out = 300000 x 9.97 / (100 + 9.97) = 2,991,000 / 109.97
    # = 27,198.3268...; average 2,719.83268... per ETH
    out = Fraction(300000) * Fraction("9.97") / Fraction("109.97")
    assert q.filled == 10 and close(q.notional, out) and close(q.average_price, out / 10)
    # the pool's price after: 300000 x 100 / 109.97^2 = 30,000,000 / 12,093.4009 = 2,480.69...; the last unit
    # gets (1 - 0.003) of it: 2,473.25...
    after = Fraction(30000000) / Fraction("109.97") ** 2
    assert close(q.worst_price, after * Fraction("0.997"))
    assert close(ETH_POOL.price_after(q), after)
    # the whole move stays (permanent impact 1): the mark goes to the pool's price, not to the worst fill
    assert close(ETH_POOL.impacted_mark(q), after)
    # the invariant: (100 + 9.97) x (300000 - out) = 3e7 (the fee paid out, not added to the pool)
    assert close(Fraction("109.97") * (300000 - Fraction(q.notional)), Fraction(30000000))


def test_a_constant_product_buy_by_hand_and_its_cap_at_twice_the_mark():
    q = ETH_POOL.quote(BUY, D(10), D(3000))
    # 10 ETH out leave 90: the pool needs 3e7 / 90 - 300000 = 33,333.33 USDC in, 33,333.33 / 0.997 paid
    cost = (Fraction(30000000, 90) - 300000) / Fraction("0.997")
    assert q.filled == 10 and close(q.notional, cost)  # 33,433.63..., 3,343.36 per ETH
    assert close(q.worst_price, Fraction(30000000, 90**2) / Fraction("0.997"))  # 3703.70 / 0.997 = 3714.85
    # the last unit may cost 2 x 3000: the pool's price 3e7 / x^2 reaches 6000 x 0.997 at
    # x = sqrt(3e7 / 5982) = 70.817...: 29.18 ETH at most
    big = ETH_POOL.quote(BUY, D(1000), D(3000))
    assert close(big.filled, 100 - wide_sqrt(Fraction(30000000, 5982)), Fraction(1, 10**40))
    assert close(big.worst_price, Fraction(6000), Fraction(1, 10**40)) and big.requested == 1000
    # a fee of half the trade or more leaves no buy within twice the mark
    assert replace(ETH_POOL, fee=D("0.5")).quote(BUY, D(1), D(3000)).filled == 0


def test_the_pool_follows_the_mark_along_its_curve():
    # at 1200 the same pool (k = 3e7) holds sqrt(3e7 / 1200) = sqrt(25000) = 158.11 ETH and 189,736.66 USDC
    assert close(ETH_POOL.base_at(D(1200)), wide_sqrt(25000))
    # a sell at 1200 is priced as from those reserves: 9.97 in, out = 1200 x 158.11 x 9.97 / 168.08
    x = wide_sqrt(25000)
    q = ETH_POOL.quote(SELL, D(10), D(1200))
    assert close(q.notional, 1200 * x * Fraction("9.97") / (x + Fraction("9.97")), Fraction(1, 10**40))


def test_with_the_whole_impact_the_next_quote_starts_where_the_fill_left_the_pool():
    first = ETH_POOL.quote(SELL, D(10), D(3000))
    mark = ETH_POOL.impacted_mark(first)
    # the pool after the fill holds 109.97 ETH; re-centred at its new price it holds the same
    assert close(ETH_POOL.base_at(mark), Fraction("109.97"), Fraction(1, 10**40))
    # so two sells of 10 get what one of 20 would: 300000 x 19.94 / 119.94 in all
    second = ETH_POOL.quote(SELL, D(10), mark)
    both = Fraction(300000) * Fraction("19.94") / Fraction("119.94")
    assert close(Fraction(first.notional) + Fraction(second.notional), both, Fraction(1, 10**40))


def test_a_lower_permanent_impact_keeps_part_of_the_pools_move():
    pool = replace(ETH_POOL, permanent_impact=D("0.25"))
    q = pool.quote(SELL, D(10), D(3000))
    after = Fraction(30000000) / Fraction("109.97") ** 2  # 2480.69
    assert close(pool.impacted_mark(q), 3000 + (after - 3000) / 4)  # 3000 - 519.31 / 4 = 2870.17


# --- concentrated liquidity ------------------------------------------------------------------------------

ONE_RANGE = ConcentratedLiquidity.from_positions([(-1000, 1000, D(10000))], D("0.003"))
TWO_RANGES = ConcentratedLiquidity.from_positions([(-1000, 1000, D(10000)), (-4000, -500, D(20000))])


def test_the_price_of_a_tick():
    # sqrt(1.0001^t) = 1.0001^(t/2): for even t a rational number, here to the 45th digit
    assert sqrt_price(0) == 1
    assert close(sqrt_price(-500), Fraction(10000, 10001) ** 250)
    assert close(sqrt_price(80000), Fraction(10001, 10000) ** 40000, Fraction(1, 10**45))
    assert close(sqrt_price(-1), wide_sqrt(Fraction(10000, 10001)), Fraction(1, 10**45))


def test_a_concentrated_sell_within_one_range():
    q = ONE_RANGE.quote(SELL, D(10), D(1))
    # price 1 (tick 0), L = 10000 on [-1000, 1000). 10 in, 0.3 % fee: 9.97 into the range.
    # 1/sqrt(P') = 1/sqrt(P) + dx / L = 1 + 9.97 / 10000 = 1.000997, so sqrt(P') = 1 / 1.000997
    # dy = L (sqrt(P) - sqrt(P')) = 10000 (1 - 1 / 1.000997) = 9.97 / 1.000997 = 9.96007 (the same as a
    # constant-product pool of virtual reserves L / sqrt(P) = 10000 and L sqrt(P) = 10000: 10000 x 9.97 / 10009.97)
    out = Fraction("9.97") / Fraction("1.000997")
    assert q.filled == 10 and close(q.notional, out) and close(q.average_price, out / 10)
    # still above tick -1000 (price 0.905): the last unit at 0.997 x P' = 0.997 / 1.000997^2 = 0.99501
    assert close(q.worst_price, Fraction("0.997") / Fraction("1.000997") ** 2)
    assert close(ONE_RANGE.impacted_mark(q), 1 / Fraction("1.000997") ** 2)


def test_a_concentrated_sell_crossing_a_tick():
    q = TWO_RANGES.quote(SELL, D(300), D(1))
    # From sqrt(P) = 1 down to tick -500, sqrt(P_b) = 1.0001^-250 = r = 0.975309912, only L = 10000 is active:
    # dx1 = 10000 (1/r - 1) = 10000 x 0.025313839 = 253.138 and dy1 = 10000 (1 - r) = 246.889.
    r = Fraction(10000, 10001) ** 250
    dx1, dy1 = 10000 * (1 / r - 1), 10000 * (1 - r)
    # Below tick -500 the second position joins: L = 30000 takes the other 300 - 253.138 = 46.862:
    # 1/sqrt(P') = 1/r + 46.862 / 30000, sqrt(P') = 0.973828, dy2 = 30000 (r - sqrt(P')) = 44.508
    inside = 1 / (1 / r + (300 - dx1) / 30000)
    dy2 = 30000 * (r - inside)
    # 291.397 for 300: average 0.971324; the last unit at P' = 0.948340
    assert q.filled == 300 and close(q.notional, dy1 + dy2) and close(q.worst_price, inside**2)


def test_a_concentrated_buy_within_a_range_and_one_past_the_liquidity():
    q = TWO_RANGES.quote(BUY, D(300), D(1))
    # up from price 1 only L = 10000 (to tick 1000): 1/sqrt(P') = 1 - 300 / 10000 = 0.97,
    # dy = 10000 (1 / 0.97 - 1) = 300 / 0.97 = 309.278 paid, the last unit at 1 / 0.97^2 = 1.06281
    assert close(q.notional, Fraction(300) / Fraction("0.97")) and close(q.worst_price, 1 / Fraction("0.97") ** 2)
    # above tick 1000 there is no liquidity: a buy gets 10000 (1 - 1.0001^-500) = 487.68 at most, for
    # 10000 (1.0001^500 - 1) = 512.68, the last at 1.0001^1000 = 1.10517 (below twice the mark: no cap)
    whole = TWO_RANGES.quote(BUY, D(600), D(1))
    top = Fraction(10001, 10000) ** 500
    assert close(whole.filled, 10000 * (1 - 1 / top)) and close(whole.notional, 10000 * (top - 1))
    assert close(whole.worst_price, top**2) and whole.requested == 600


def test_a_swap_jumps_over_a_range_without_liquidity():
    # L = 1000 on [-200, 0) and on [-1000, -600): between ticks -600 and -200 there is none.
    pool = ConcentratedLiquidity.from_positions([(-200, 0, D(1000)), (-1000, -600, D(1000))])
    q = pool.quote(SELL, D(20), D(1))
    # [-200, 0) takes 1000 (1.0001^100 - 1) = 10.0496 for 1000 (1 - 1.0001^-100) = 9.9504; the price jumps to
    # tick -600 (sqrt 1.0001^-300 = s) at no cost and the other 9.9504 go in there:
    # 1/sqrt(P') = 1/s + 9.9504 / 1000, dy = 1000 (s - sqrt(P'))
    a, s = Fraction(10000, 10001) ** 100, Fraction(10000, 10001) ** 300
    first_in, first_out = 1000 * (1 / a - 1), 1000 * (1 - a)
    inside = 1 / (1 / s + (20 - first_in) / 1000)
    assert close(q.notional, first_out + 1000 * (s - inside)) and close(q.worst_price, inside**2)


def test_positions_and_liquidity_per_tick_are_the_same_pool():
    # two positions: +10000 at -1000, +20000 at -4000, -20000 at -500, -10000 at 1000
    ticks = ((-4000, D(20000)), (-1000, D(10000)), (-500, D(-20000)), (1000, D(-10000)))
    assert ConcentratedLiquidity(ticks) == TWO_RANGES
    # positions that meet with the same liquidity leave no initialized tick between them
    joined = ConcentratedLiquidity.from_positions([(-100, 0, D(5)), (0, 100, D(5))])
    assert joined.ticks == ((-100, D(5)), (100, D(-5)))


def test_a_mark_on_a_tick_takes_the_range_on_each_side():
    # L = 30000 on [-1000, 0) and 10000 on [0, 1000); at price 1, tick 0 itself, a sell walks the first and a
    # buy the second. Within a range the pool is a constant-product one of virtual reserves L / sqrt(P) base
    # and L sqrt(P) quote: selling 1 gets 30000 x 1 / 30001, buying 1 costs 10000 x 1 / 9999.
    pool = ConcentratedLiquidity.from_positions([(-1000, 0, D(30000)), (0, 1000, D(10000))])
    assert close(pool.quote(SELL, D(1), D(1)).notional, Fraction(30000, 30001))
    assert close(pool.quote(BUY, D(1), D(1)).notional, Fraction(10000, 9999))


def _v3_by_bisection(positions, mark: Decimal, side: Side, units: Decimal) -> tuple[Fraction, Fraction]:
    """Second method: the base that moves sqrt(P) from sqrt(mark) to s is X(s), a sum over the positions of
    L (1/s' - 1/s'') on the part of [s, sqrt(mark)] each covers; s is found by bisection (100 digits), then
    the quote Y(s) summed the same way. (units in, notional) of a swap of ``units`` with no fee."""
    start = wide_sqrt(mark)

    def covered(lower: int, upper: int, a: Fraction, b: Fraction) -> tuple[Fraction, Fraction] | None:
        low, high = max(a, Fraction(sqrt_price(lower))), min(b, Fraction(sqrt_price(upper)))
        return (low, high) if low < high else None

    def moved(s: Fraction) -> tuple[Fraction, Fraction]:
        a, b = (s, start) if side is SELL else (start, s)
        base = quote = Fraction(0)
        for lower, upper, liquidity in positions:
            part = covered(lower, upper, a, b)
            if part:
                base += Fraction(liquidity) * (1 / part[0] - 1 / part[1])
                quote += Fraction(liquidity) * (part[1] - part[0])
        return base, quote

    low, high = (Fraction(0), start) if side is SELL else (start, start * 2)
    for _ in range(200):
        middle = wide((low + high) / 2)
        base, _ = moved(middle)
        if (base < Fraction(units)) == (side is SELL):
            high = middle
        else:
            low = middle
    return moved(high)


@pytest.mark.parametrize("side", [SELL, BUY])
def test_realistic_eth_ranges_agree_with_a_bisection_on_the_moved_base(side):
    # ETH near 3000 USDC: tick 80067 is 1.0001^80067 = 2999.9; three overlapping positions
    positions = [(79000, 81000, D(400000)), (79800, 80400, D(1500000)), (80100, 80200, D(2000000))]
    pool = ConcentratedLiquidity.from_positions(positions)
    q = pool.quote(side, D(150), D(3000))
    base, quote = _v3_by_bisection(positions, D(3000), side, D(150))
    assert q.filled == 150 and close(base, Fraction(150), Fraction(1, 10**40))
    assert close(q.notional, quote, Fraction(1, 10**38))


# --- stableswap ------------------------------------------------------------------------------------------


def y_by_quadratic(amplification: Fraction, invariant: Fraction, x: Fraction) -> Fraction:
    """Second method: for two coins the invariant Ann (x + y) + D = Ann D + D^3 / (4 x y) times 4 x y is the
    quadratic 4 Ann x y^2 + 4 x (Ann x + D - Ann D) y - D^3 = 0 in y; its positive root (100 digits)."""
    ann = 2 * amplification
    a, b, c = 4 * ann * x, 4 * x * (ann * x + invariant - ann * invariant), -(invariant**3)
    return (-b + wide_sqrt(b * b - 4 * a * c)) / (2 * a)


def d_by_bisection(amplification: Fraction, x: Fraction, y: Fraction) -> Fraction:
    """Second method: f(D) = Ann (x + y) + D - Ann D - D^3 / (4 x y) falls with D from f(0) > 0 to f(x + y) <= 0:
    bisection to 1e-60 of x + y."""
    ann, total = 2 * amplification, x + y
    low, high = Fraction(0), total
    while high - low > total / 10**60:
        middle = wide((low + high) / 2)
        if ann * total + middle - ann * middle - middle**3 / (4 * x * y) > 0:
            low = middle
        else:
            high = middle
    return high


BALANCED = Stableswap(D(2000), D(1000000), D(1000000), D("0.0004"))  # A = 2000 (Curve's), 1M / 1M, 0.04 %


def test_a_balanced_pool_with_large_a_trades_near_one_for_one():
    # balanced, D = x + y = 2,000,000 exactly: Ann S + D = 4000 x 2e6 + 2e6 = Ann D + D^3 / (4 x 1e12) ✓
    assert BALANCED.invariant == 2000000
    q = BALANCED.quote(SELL, D(1000), D(1))
    # x' = 1,001,000; y' from the quadratic; out (1e6 - y') x (1 - 0.0004): 999.5 less about 2e-4
    y_after = y_by_quadratic(Fraction(2000), Fraction(2000000), Fraction(1001000))
    out = (1000000 - y_after) * Fraction("0.9996")
    assert close(q.notional, out, Fraction(1, 10**40))
    assert Fraction("0.9995") < Fraction(q.average_price) < Fraction("0.9996")  # 1:1 less the fee and ~2e-7
    # the invariant holds after the trade (fee paid out): D of (1,001,000, y') is 2e6 to 1e-20
    assert close(d_by_bisection(Fraction(2000), Fraction(1001000), y_after), Fraction(2000000), Fraction(1, 10**20))


def test_curves_get_d_agrees_with_a_bisection_for_an_unbalanced_pool():
    d = stableswap_invariant(D(100), D(1500000), D(400000))
    assert close(d, d_by_bisection(Fraction(100), Fraction(1500000), Fraction(400000)), Fraction(1, 10**40))
    assert close(stableswap_y(D(100), d, D(1600000)), y_by_quadratic(Fraction(100), Fraction(d), Fraction(1600000)))


def test_a_depegged_pool_sits_where_its_price_is_the_mark_and_keeps_its_invariant():
    pool = Stableswap(D(200), D(5000000), D(5000000), D("0.0004"))  # D = 1e7
    x, y = stableswap_balances(pool.amplification, pool.invariant, D("0.97"))
    # second method for the price: -dy/dx of the quadratic's y(x), a central difference at 100 digits
    h = Fraction(1, 10**25)
    slope = (y_by_quadratic(Fraction(200), Fraction(10**7), Fraction(x) + h) -
             y_by_quadratic(Fraction(200), Fraction(10**7), Fraction(x) - h)) / (2 * h)  # fmt: skip
    assert close(-slope, Fraction("0.97"), Fraction(1, 10**30)) and x > y  # the cheap coin piles up
    assert close(Fraction(y), y_by_quadratic(Fraction(200), Fraction(10**7), Fraction(x)), Fraction(1, 10**40))
    q = pool.quote(SELL, D(100000), D("0.97"))
    # the trade: x + 100,000 in, y' out of the quadratic, the fee on the output
    y_after = y_by_quadratic(Fraction(200), Fraction(10**7), Fraction(x) + 100000)
    assert close(q.notional, (Fraction(y) - y_after) * Fraction("0.9996"), Fraction(1, 10**30))
    assert close(d_by_bisection(Fraction(200), Fraction(x) + 100000, y_after), Fraction(10**7), Fraction(1, 10**20))
    # a sell into a depegged pool slips more than the same sell into a balanced one (less of the cheap coin's
    # side is left to absorb it)
    at_peg = pool.quote(SELL, D(100000), D(1))
    assert 1 - at_peg.average_price / 1 < 1 - q.average_price / D("0.97")


def test_a_stableswap_buy_pays_the_quadratics_price_with_the_fee_on_what_it_takes():
    q = BALANCED.quote(BUY, D(1000), D(1))
    # 1000 / 0.9996 taken out of x, y' - 1e6 paid
    taken = Fraction(1000) / Fraction("0.9996")
    y_after = y_by_quadratic(Fraction(2000), Fraction(2000000), 1000000 - taken)
    assert close(q.notional, y_after - 1000000, Fraction(1, 10**40))


# --- what every pool shares ------------------------------------------------------------------------------


def test_units_within_put_the_last_unit_at_the_edge():
    # the constant-product pool of 100 ETH at 3000, no fee: the price 3e7 / x^2 reaches 3000 x 0.81 = 2430 at
    # x = 100 / 0.9 = 111.11: 11.11 ETH sold, for 3000 x 100 x 11.11 / 111.11 = 30,000 USDC
    pool = replace(ETH_POOL, fee=D(0))
    units = pool.units_within(SELL, D(3000), D("0.19"))
    assert units is not None and close(units, Fraction(100, 9), Fraction(1, 10**40))
    assert close(pool.quote(SELL, units, D(3000)).notional, Fraction(30000), Fraction(1, 10**40))
    # second method: each pool's own quote of those units puts the last one at the edge, 1 % away
    for model, mark in ((ETH_POOL, D(3000)), (TWO_RANGES, D(1)), (BALANCED, D(1))):
        for side, edge in ((SELL, mark * D("0.99")), (BUY, mark * D("1.01"))):
            units = model.units_within(side, mark, D("0.01"))
            assert units is not None and units > 0
            assert close(model.quote(side, units, mark).worst_price, edge, Fraction(1, 10**30))
    # a fee above the offset leaves nothing within it
    assert ETH_POOL.units_within(SELL, D(3000), D("0.001")) == 0


def test_scaled_depth_scales_a_pools_reserves_and_liquidity():
    assert scaled_depth(ETH_POOL, D("0.1")) == ConstantProduct(D(10), D(30000), D("0.003"))
    doubled = scaled_depth(TWO_RANGES, D(2))
    assert isinstance(doubled, ConcentratedLiquidity)
    assert doubled.ticks == tuple((t, n * 2) for t, n in TWO_RANGES.ticks)
    tenth = scaled_depth(BALANCED, D("0.1"))
    assert isinstance(tenth, Stableswap) and tenth.invariant == 200000
    # a tenth of the depth, the same sell: 10 into a pool of x = 10 at 3000
    q = scaled_depth(replace(ETH_POOL, fee=D(0)), D("0.1")).quote(SELL, D(10), D(3000))
    assert close(q.notional, Fraction(3000 * 10 * 10, 20))  # 15,000: half the price on average


# --- documents -------------------------------------------------------------------------------------------


def test_from_dict_builds_each_pool():
    cp = liquidity_from_dict({"model": "constant_product", "base_reserve": 100, "quote_reserve": "300000",
                              "fee": 0.003}, "liquidity.ETH-PERP")  # fmt: skip
    assert cp == ETH_POOL and cp.permanent_impact == 1
    by_positions = liquidity_from_dict(
        {"model": "concentrated", "positions": [[-1000, 1000, 10000], [-4000, "-500", 20000]]}, "l"
    )
    by_ticks = liquidity_from_dict(
        {"model": "concentrated", "ticks": [[-4000, 20000], [-1000, 10000], [-500, -20000], [1000.0, -10000]]}, "l"
    )
    assert by_positions == by_ticks == TWO_RANGES
    swap = liquidity_from_dict({"model": "stableswap", "amplification": 2000, "base_reserve": 1000000,
                                "quote_reserve": 1000000, "fee": "0.0004", "permanent_impact": 0.5}, "l")  # fmt: skip
    assert swap == replace(BALANCED, permanent_impact=D("0.5"))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"model": "constant_product", "base_reserve": 100}, "l.quote_reserve"),
        ({"model": "constant_product", "base_reserve": 0, "quote_reserve": 1}, "l.base_reserve"),
        ({"model": "constant_product", "base_reserve": 1, "quote_reserve": 1, "fee": 1}, "l.fee"),
        ({"model": "constant_product", "base_reserve": 1, "quote_reserve": 1, "fee": "x"}, "l.fee"),
        ({"model": "constant_product", "base_reserve": 1, "quote_reserve": 1, "permanent_impact": 2},
         "l.permanent_impact"),
        ({"model": "constant_product", "base_reserve": 1, "quote_reserve": 1, "positions": []}, "l.positions"),
        ({"model": "concentrated"}, "l.positions"),
        ({"model": "concentrated", "positions": [[0, 1, 1]], "ticks": [[0, 1], [1, -1]]}, "l.positions"),
        ({"model": "concentrated", "positions": []}, "l.positions"),
        ({"model": "concentrated", "positions": [[0, 1]]}, "l.positions[0]"),
        ({"model": "concentrated", "positions": [[0, 0, 1]]}, "l.positions[0].tick_upper"),
        ({"model": "concentrated", "positions": [[0.5, 1, 1]]}, "l.positions[0].tick_lower"),
        ({"model": "concentrated", "positions": [[0, MAX_TICK + 1, 1]]}, "l.positions[0].tick_upper"),
        ({"model": "concentrated", "positions": [[0, 10, 0]]}, "l.positions[0].liquidity"),
        ({"model": "concentrated", "positions": [[0, 10, 1]], "fee": -0.1}, "l.fee"),
        ({"model": "concentrated", "ticks": [[0, 5], [10, -4]]}, "l.ticks"),
        ({"model": "concentrated", "ticks": [[0, 5], [-10, -5]]}, "l.ticks[1].tick"),
        ({"model": "concentrated", "ticks": [[0, -5], [10, 5]]}, "l.ticks[0].liquidity_net"),
        ({"model": "concentrated", "ticks": [[0, 5], [5, 0], [10, -5]]}, "l.ticks[1].liquidity_net"),
        ({"model": "concentrated", "ticks": [[True, 5], [10, -5]]}, "l.ticks[0].tick"),
        ({"model": "concentrated", "ticks": "0:5"}, "l.ticks"),
        ({"model": "stableswap", "amplification": "0.5", "base_reserve": 1, "quote_reserve": 1},
         "l.amplification"),
        ({"model": "stableswap", "base_reserve": 1, "quote_reserve": 1}, "l.amplification"),
        ({"model": "stableswap", "amplification": 10, "base_reserve": 1, "quote_reserve": "NaN"},
         "l.quote_reserve"),
    ],
)  # fmt: skip
def test_from_dict_names_the_bad_field(raw, field):
    with pytest.raises(InputError) as err:
        liquidity_from_dict(raw, "l")
    assert err.value.field == field


def test_a_documents_liquidity_section_takes_the_pools():
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("liquidity:")
    rest = text[start:].split("\n")
    end = next(i for i, line in enumerate(rest[1:], 1) if line and not line.startswith(" "))
    section = (
        "liquidity:\n"
        "  BTC-PERP: {model: concentrated, positions: [[100000, 102000, 50000], [100500, 101200, 80000]],"
        " fee: 0.0005}\n"
        "  ETH-PERP: {model: constant_product, base_reserve: 2000, quote_reserve: 6000000, fee: 0.003}\n"
        "  '*': {model: stableswap, amplification: 200, base_reserve: 1000000, quote_reserve: 1000000}\n"
    )
    config = loop_config_of(parse_document(text[:start] + section + "\n".join(rest[end:]), EXAMPLE.name))
    assert config.liquidity["BTC-PERP"] == ConcentratedLiquidity.from_positions(
        [(100000, 102000, D(50000)), (100500, 101200, D(80000))], D("0.0005")
    )
    assert config.liquidity["ETH-PERP"] == ConstantProduct(D(2000), D(6000000), D("0.003"))
    assert config.liquidity["BTCUSD-PERP"] == Stableswap(D(200), D(1000000), D(1000000))
    bad = section.replace("[100000, 102000, 50000]", "[100000, 102000.5, 50000]")
    with pytest.raises(InputError) as err:
        loop_config_of(parse_document(text[:start] + bad + "\n".join(rest[end:]), EXAMPLE.name))
    assert err.value.field.startswith("liquidity.BTC-PERP.positions[0]")


# --- the engine ------------------------------------------------------------------------------------------


def test_a_cascade_through_a_constant_product_pool():
    # Two longs of 10 BTC-PERP at 1000 on 1000 and 1100 USDT, mark 940 (MM 5 %): a has equity 400 < 470, b
    # 500 >= 470. The pool holds 1000 BTC at 940 (k = 9.4e8), no fee, the whole move permanent.
    usdt, btc = banded("USDT", [("0", "1")]), banded("BTC", [("0", "0.8")])
    perp = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))
    accounts = [
        ("a", {"USDT": "1000"}, [position("BTC-PERP", "10", "1000")]),
        ("b", {"USDT": "1100"}, [position("BTC-PERP", "10", "1000")]),
    ]
    portfolio = book([usdt, btc], [perp], {"BTC": "940"}, {"BTC-PERP": "940"}, accounts, base="USDT")
    state = ClearingState(portfolio, GENERIC, D(0))
    pool = ConstantProduct(D(1000), D(940000))
    terms = replace(LiquidationTerms(), partial=False)
    loop = EngineLoop(LoopConfig(portfolio, GENERIC, terms, OracleConfig(), {"BTC-PERP": pool}), state=state)
    out = loop.handle(live.Clock(seq=1, time=D(0), id="clock"))
    fills = [(e.account, e.size, Fraction(e.fill_price)) for e in out if isinstance(e, live.LiquidationFill)]
    # a sells 10: 940 x 1000 x 10 / 1010 = 9306.93, average 930.693; the pool's price 940 x (1000 / 1010)^2
    # = 921.478 becomes the mark. b at 921.478: equity 1100 + 10 x (921.478 - 1000) = 314.78 < MM 460.74.
    # The pool re-centred there holds 1010 BTC again: b sells 10 at 921.478 x 1010 / 1020 = 912.444 on average,
    # and the mark goes to 940 x (1000 / 1020)^2 = 903.499: the two sells got what one of 20 would.
    assert [(a, s) for a, s, _ in fills] == [("a", D(-10)), ("b", D(-10))]
    assert close(fills[0][2], Fraction(940 * 1000, 1010), Fraction(1, 10**30))
    assert close(fills[1][2], Fraction(940 * 10**6, 1010 * 1020), Fraction(1, 10**30))
    assert close(state.market.mark("BTC-PERP"), Fraction(940 * 10**6, 1020**2), Fraction(1, 10**30))
    assert 10 * (fills[0][2] + fills[1][2]) - Fraction(940 * 1000 * 20, 1020) < Fraction(1, 10**20)


# --- properties ------------------------------------------------------------------------------------------

units_st = st.decimals(min_value=D("0.001"), max_value=D(1000), places=3)
fees = st.sampled_from([D(0), D("0.0005"), D("0.003"), D("0.01")])
impacts = st.decimals(min_value=D(0), max_value=D(1), places=2)
product_pools = st.builds(
    ConstantProduct,
    st.decimals(min_value=D(1), max_value=D(100000), places=2),
    st.decimals(min_value=D(1), max_value=D(10**8), places=2),
    fees,
    impacts,
)
concentrated_pools = st.builds(
    ConcentratedLiquidity.from_positions,
    st.lists(
        st.tuples(
            st.integers(-3000, 2999), st.integers(1, 3000), st.decimals(min_value=D(10), max_value=D(10**6), places=0)
        ).map(lambda p: (p[0], min(p[0] + p[1], 3000), p[2])),
        min_size=1,
        max_size=5,
    ),
    fees,
    impacts,
)
stableswap_pools = st.builds(
    Stableswap,
    st.decimals(min_value=D(1), max_value=D(5000), places=0),
    st.decimals(min_value=D(1000), max_value=D(10**7), places=0),
    st.decimals(min_value=D(1000), max_value=D(10**7), places=0),
    fees,
    impacts,
)
pools: st.SearchStrategy[Pool] = st.one_of(product_pools, concentrated_pools, stableswap_pools)
marks_near_one = st.decimals(min_value=D("0.8"), max_value=D("1.25"), places=4)


@settings(deadline=None)
@given(pools, st.sampled_from(Side), units_st, units_st, marks_near_one)
def test_a_bigger_order_fills_more_at_no_better_average(pool, side, a, b, mark):
    small, big = pool.quote(side, min(a, b), mark), pool.quote(side, max(a, b), mark)
    assert small.filled <= big.filled
    assume(small.filled > 0)
    # equal sizes (or sizes the depth cuts to the same fill) may differ in the 50th digit
    slack = Fraction(mark) / 10**40
    if side is SELL:
        assert Fraction(big.average_price) <= Fraction(small.average_price) + slack
    else:
        assert Fraction(big.average_price) >= Fraction(small.average_price) - slack


@settings(deadline=None)
@given(pools, st.sampled_from(Side), units_st, marks_near_one)
def test_average_lies_between_the_mark_and_the_worst_price_and_so_does_the_impacted_mark(pool, side, units, mark):
    q = pool.quote(side, units, mark)
    low, high = (q.worst_price, q.mark) if side is SELL else (q.mark, q.worst_price)
    assert low <= q.average_price <= high
    assert low <= pool.impacted_mark(q) <= high
    after = pool.price_after(q)
    assert low <= after <= high  # the pool's price lies between the mark and the fee-laden worst price


@settings(deadline=None)
@given(pools, st.sampled_from(Side), units_st, marks_near_one)
def test_the_worst_price_is_the_marginal_price_of_the_notional(pool, side, units, mark):
    # second method: d(notional)/d(units) by a central difference
    q = pool.quote(side, units, mark)
    assume(q.filled == units)
    h = units / 10**6
    above, below = pool.quote(side, units + h, mark), pool.quote(side, units - h, mark)
    assume(above.filled == units + h)
    marginal = (above.notional - below.notional) / (2 * h)
    assert abs(marginal - q.worst_price) <= D("1E-5") * mark


@settings(deadline=None)
@given(product_pools, st.sampled_from(Side), units_st, st.decimals(min_value=D(1), max_value=D(100000), places=2))
def test_a_constant_product_trade_keeps_x_y_equal_to_k(pool, side, units, mark):
    q = pool.quote(side, units, mark)
    x = Fraction(pool.base_at(mark))
    k = Fraction(pool.base_reserve) * Fraction(pool.quote_reserve)
    keep = 1 - Fraction(pool.fee)
    if side is SELL:  # the curve got filled x (1 - fee) base and gave the notional
        after = (x + Fraction(q.filled) * keep) * (Fraction(mark) * x - Fraction(q.notional))
    else:  # it gave the filled base and got the notional less the fee
        after = (x - Fraction(q.filled)) * (Fraction(mark) * x + Fraction(q.notional) * keep)
    assert close(after, k, Fraction(1, 10**40))


@settings(deadline=None, max_examples=40)
@given(stableswap_pools, st.sampled_from(Side), units_st, marks_near_one)
def test_a_stableswap_trade_keeps_its_invariant(pool, side, units, mark):
    x, y = stableswap_balances(pool.amplification, pool.invariant, mark)
    q = pool.quote(side, units, mark)
    assume(q.filled > 0)
    keep = 1 - Fraction(pool.fee)
    # the pool's prices carry a scale of mark / (its price at x, y), 1 to ~1e-45: ignored at 1e-20
    if side is SELL:
        x_after, y_after = Fraction(x) + Fraction(q.filled), Fraction(y) - Fraction(q.notional) / keep
    else:
        x_after, y_after = Fraction(x) - Fraction(q.filled) / keep, Fraction(y) + Fraction(q.notional)
    d = d_by_bisection(Fraction(pool.amplification), x_after, y_after)
    assert close(d, Fraction(pool.invariant), Fraction(1, 10**20))


@settings(deadline=None)
@given(pools, st.sampled_from(Side), units_st, marks_near_one)
def test_quoting_is_pure(pool, side, units, mark):
    before = repr(pool)
    assert pool.quote(side, units, mark) == pool.quote(side, units, mark)
    assert repr(pool) == before


def test_bad_quotes_and_pools_name_their_field():
    for build, field in [
        (lambda: ETH_POOL.quote(SELL, D(0), D(3000)), "units"),
        (lambda: ETH_POOL.quote(BUY, D(1), D("NaN")), "mark"),
        (lambda: ETH_POOL.units_within(SELL, D(3000), D(1)), "offset"),
        (lambda: ConcentratedLiquidity(()), "ticks"),
        (lambda: ConcentratedLiquidity(((0, D(1)),)), "ticks"),
        (lambda: ConcentratedLiquidity.from_positions([]), "positions"),
        (lambda: Stableswap(D(10), D(1), D(-1)), "quote_reserve"),
    ]:
        with pytest.raises(InputError) as err:
            build()
        assert err.value.field == field
    assert isinstance(ETH_POOL.quote(SELL, D(1), D(3000)), Quote)
