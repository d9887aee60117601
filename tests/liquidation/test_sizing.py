"""Liquidation sizing (crossmargin.liquidation.sizing) against Drift's program vectors (docs/venues/drift-v2.md
section 8, V12 and V14: programs/drift/src/math/liquidation/tests.rs @ 0ae3e3b) and a property holding the
engine's ``sizing: shortage`` close equal to the record's formula (section 7.1) worked afresh on random accounts."""

from dataclasses import replace
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from crossmargin.clearing.state import INSURANCE_FUND, LIQUIDATOR, ClearingState
from crossmargin.liquidation.engine import Liquidator
from crossmargin.liquidation.liquidity import LinearImpact
from crossmargin.liquidation.sizing import contracts_to_cover, fewest_steps, insurance_rate, step_up
from crossmargin.model import exact
from crossmargin.model.rules import BufferBasis, LiquidationTerms, Shortfall, Sizing
from crossmargin.venues import rulebook
from tests.builders import GENERIC, D, banded, book, linear, position, tiers
from tests.liquidation.test_state_machine import BTC, INSTRUMENTS, USDT, shortfall

NANO = D("0.000000001")  # the program's base precision (BASE_PRECISION 1e9)


def floor_nano(x: Decimal) -> Decimal:
    return (x / NANO).to_integral_value("ROUND_FLOOR") * NANO


@pytest.mark.parametrize(
    ("fee", "insurance", "quote", "base"),
    [
        # V12 (l.1-138): shortage $10, margin ratio 1000 (10 %), oracle $100.
        # 10 / (100 x 10 %) = 1 base (1000000000)
        ("0", "0", "1", "1"),
        # USDC at 0.99 / 1.01: 10 / (99 x 10 %) = 1.01010101 (1010101010); 10 / (101 x 10 %) = 0.990099009
        ("0", "0", "0.99", "1.010101010"),
        ("0", "0", "1.01", "0.990099009"),
        # liquidator fee 1 %: 10 / (100 x 9 %) = 1.111111111 (10 / 9 base)
        ("0.01", "0", "1", "1.111111111"),
        # and an IF fee of 1 %: 10 / (100 x 9 % - 100 x 1 %) = 1.25 (1250000000)
        ("0.01", "0.01", "1", "1.25"),
    ],
)
def test_v12_base_to_cover_a_shortage(fee: str, insurance: str, quote: str, base: str):
    with exact():
        per_settle = D(100)  # one SOL's notional in USDC at the $100 oracle
        contracts = contracts_to_cover(D(10), D("0.1"), D(fee), D(insurance), per_settle * D(quote), per_settle)
    assert contracts is not None
    assert floor_nano(contracts) == D(base)


def test_v12_no_amount_covers_when_the_fee_takes_what_a_close_frees():
    # math/liquidation.rs l.42: margin ratio <= liquidation fee -> u64::MAX (the whole position)
    assert contracts_to_cover(D(10), D("0.05"), D("0.05"), D(0), D(100), D(100)) is None


@pytest.mark.parametrize(
    ("shortage", "fee", "expected"),
    [
        # V14 (l.638 calculate_perp_if_fee): $100 oracle, USDC $1, 10 base (notional $1000), margin ratio 5 %,
        # max IF fee 5 %: shortage $20 -> 95 % x (5 % - 1 % - 2 %) = 1.9 % (19000)
        ("20", "0.01", "0.019"),
        # $1 -> 95 % x (5 % - 1 % - 0.1 %) = 3.705 % (37050)
        ("1", "0.01", "0.03705"),
        # $1000 -> the shortage takes more than the ratio leaves: 0
        ("1000", "0.01", "0"),
        # liquidator fee 10 % >= the 5 % ratio: 0
        ("20", "0.1", "0"),
    ],
)
def test_v14_insurance_fee(shortage: str, fee: str, expected: str):
    rate = insurance_rate(D("0.05"), D("0.95"), D("0.05"), D(fee), D(shortage), D(1000))
    assert rate == D(expected)


def test_v14_insurance_fee_without_a_notional_is_zero():
    # V14: zero oracle price, zero base -> 0 (no notional)
    assert insurance_rate(D("0.05"), D("0.95"), D("0.05"), D("0.01"), D(20), D(0)) == 0


def test_step_up_rounds_to_the_order_step():
    # standardize_base_asset_amount_ceil: 1.80 stays, 0.00195 -> 0.01, 297.636530559 -> 297.64 (step 0.01)
    assert [step_up(D(x), D("0.01")) for x in ("1.80", "0.00195", "297.636530559")] == [
        D("1.80"),
        D("0.01"),
        D("297.64"),
    ]


USDC = banded("USDC", [("0", "1")])
STEP = D("0.01")


@settings(max_examples=150, deadline=None)
@given(
    health=st.integers(-60, 99),
    hundredths=st.integers(1, 5000),
    long=st.booleans(),
    entry=st.integers(60, 140).map(D),
    mmr=st.sampled_from(["0.03", "0.05"]),
    buffer=st.sampled_from(["0", "0.001", "0.02"]),
    fee=st.sampled_from(["0", "0.0075", "0.01"]),
    insurance=st.sampled_from(["0", "0.0075", "0.01"]),
    isolated=st.booleans(),
)
def test_shortage_sizing_closes_what_the_program_formula_gives(
    health, hundredths, long, entry, mmr, buffer, fee, insurance, isolated
):
    # One SOL-PERP position on USDC at a $100 mark, under the drift-v2 choices with random parameters. Worked afresh
    # from the record (docs/venues/drift-v2.md 5, 7.1), not through crossmargin.liquidation.sizing:
    # TC = deposit + PnL, TC buffer = buffer x min(PnL, 0), MR = mmr x N, MR buffer = buffer x N (N = |size| x 100);
    # shortage S = MR + MR buffer - TC - TC buffer; m = mmr + buffer; IF = min(rate, 95 % x max(0, m - fee - S / N));
    # the close is S / (100 (m - fee) - 100 IF) rounded up to 0.01, at most the position (all of it when TC <= 0).
    size = D(hundredths) / 100 * (1 if long else -1)
    mark = D(100)
    # the deposit that leaves total collateral at health % of the maintenance requirement (liquidatable below 100)
    usdc = max(D(0), D(mmr) * abs(size) * mark * health / 100 - size * (mark - entry))
    perp = linear("SOL-PERP", underlying="SOL", settle="USDC", table=tiers((None, mmr, "0.1")))
    leg = position("SOL-PERP", str(size), str(entry), isolated_margin=str(usdc) if isolated else None)
    accounts = [("u", {} if isolated else {"USDC": str(usdc)}, [leg])]
    portfolio = book([USDC], [perp], {}, {"SOL-PERP": str(mark)}, accounts, base="USDC")
    state = ClearingState(portfolio, rulebook("drift-v2").rules)
    assume(state.liquidatable("u"))
    terms = replace(
        rulebook("drift-v2").liquidation,
        fee_rate=D(fee),
        insurance_fee_rate=D(insurance),
        buffer=D(buffer),
        size_steps=(("SOL-PERP", STEP),),
    )
    assert terms.sizing is Sizing.SHORTAGE and terms.buffer_basis is BufferBasis.NOTIONAL
    with exact():
        n = abs(size) * mark
        pnl = size * (mark - entry)
        tc = usdc + pnl
        shortage = D(mmr) * n + D(buffer) * n - tc - D(buffer) * min(pnl, D(0))
        m = D(mmr) + D(buffer)
        rate = min(D(insurance), D("0.95") * max(D(0), m - D(fee) - shortage / n)) if m > D(fee) else D(0)
        per = mark * (m - D(fee)) - mark * rate
        if tc <= 0 or m <= D(fee) or per <= 0:
            expected = abs(size)
        else:
            expected = min(abs(size), (shortage / per / STEP).to_integral_value(ROUND_CEILING) * STEP)
        fees = expected * mark * (D(fee) + rate)
    event("partial" if expected < abs(size) else "whole position")
    notices = Liquidator(state, terms).liquidate("u")
    closed = [n for n in notices if n["event"] == "liquidation"]
    assert closed[0]["size"] == (-expected if long else expected)
    assert closed[0]["fee"] == fees.quantize(D("1e-18"), "ROUND_DOWN")
    with exact():
        paid = state.ledger.balance(INSURANCE_FUND, "USDC") + state.ledger.balance(LIQUIDATOR, "USDC")
    assert paid >= fees - D("1e-17")  # the fees in full (not capped at bankruptcy); the fund may also cover debt


def test_maintenance_basis_keeps_the_search_sizing_unchanged():
    # The defaults: buffer on maintenance, search sizing, no insurance fee, fee capped at bankruptcy, no steps.
    terms = LiquidationTerms()
    assert (terms.buffer_basis, terms.sizing, terms.insurance_fee_rate, terms.insurance_fee_headroom) == (
        BufferBasis.MAINTENANCE,
        Sizing.SEARCH,
        D(0),
        None,
    )
    assert terms.cap_fee_at_bankruptcy and terms.size_steps == () and terms.size_step("X") is None
    stepped = LiquidationTerms(size_steps=(("*", D("0.1")), ("SOL-PERP", D("0.01"))))
    assert (stepped.size_step("SOL-PERP"), stepped.size_step("BTC-PERP")) == (D("0.01"), D("0.1"))


def test_shortage_sizing_never_leaves_a_pool_further_below_maintenance_under_slippage():
    # Found by the state machine: 1 BTC (weight 0.8) and a long of 18 BTC-PERP at 100 (mmr 5 %), no USDT, a linear
    # depth of 50 BTC with 30 % permanent impact, buffer 10 % on maintenance, IF fee 0.75 % uncapped. The formula
    # prices its close at the mark; after the first close moves the mark to 97.6 it would sell 10.28 at an average
    # 87.57 (slippage 103.1) and leave the pool 100.5 below maintenance against 40.8 before. The search, counting
    # the slippage, sizes that close instead, so each liquidation leaves the pool no further below maintenance.
    accounts = [("a", {"USDT": "0", "BTC": "1"}, [position("BTC-PERP", "18", "100")])]
    portfolio = book([USDT, BTC], INSTRUMENTS, {"BTC": "100"}, {"BTC-PERP": "100", "ETH-PERP": "20"}, accounts, "USDT")
    state = ClearingState(portfolio, GENERIC)
    terms = LiquidationTerms(
        shortfall=Shortfall.SOCIALIZED,
        buffer=D("0.1"),
        sizing=Sizing.SHORTAGE,
        insurance_fee_rate=D("0.0075"),
        cap_fee_at_bankruptcy=False,
    )
    liquidator = Liquidator(state, terms, {"BTC-PERP": LinearImpact(D(50), permanent_impact=D("0.3"))})
    rounds = 0
    while state.liquidatable("a") and rounds < 5:
        before = shortfall(state, "a")
        liquidator.liquidate("a")
        assert shortfall(state, "a") <= before
        liquidator.apply_impact()
        rounds += 1
    assert rounds >= 2  # the second round is the one the formula alone got wrong


@settings(max_examples=400, deadline=None)
@given(
    steps=st.integers(1, 5000),
    answer_share=st.floats(0, 1.2),
    guess_share=st.floats(-0.5, 2.5),
    slope=st.floats(0.001, 1000),
    curvature=st.floats(-0.9, 5),
    noise=st.lists(st.floats(-1, 1), min_size=7, max_size=7),
    at_zero=st.floats(-1e6, 1),
)
def test_fewest_steps_finds_the_first_restoring_step_in_few_probes(
    steps, answer_share, guess_share, slope, curvature, noise, at_zero
):
    # A second method: the answer is fixed first (the first n that restores; none when it lies beyond the steps,
    # then every step is closed), and the surplus the search steers by is a curved line through it, bent by
    # noise: the search must find the answer exactly whatever its guess and however poor the surplus as a guide,
    # and its halving keeps it within four probes per halving of the 1..steps range.
    answer = max(1, round(answer_share * steps))
    probes: list[int] = []

    def probe(n: int) -> tuple[bool, Decimal]:
        probes.append(n)
        assert 1 <= n <= steps
        bent = (n - answer + 0.5) * slope * (1 + curvature * n / steps) + noise[n % 7] * slope
        return n >= answer, Decimal(repr(bent))

    found = fewest_steps(probe, steps, round(guess_share * steps), Decimal(repr(at_zero)))
    assert found == min(answer, steps)
    assert len(probes) <= 4 * (steps.bit_length() + 1) + 1


def test_fewest_steps_on_a_straight_surplus_takes_two_probes_from_a_right_guess():
    # restored from 417 on, the surplus a straight line through 416.5: the guess 417 restores, the line through
    # (0, -416.5) and (417, 0.5) crosses at 416.5, rounded up to 417, kept inside (0, 417): 416, which does not
    probes: list[int] = []

    def probe(n: int) -> tuple[bool, Decimal]:
        probes.append(n)
        return n >= 417, Decimal(n) - Decimal("416.5")

    assert fewest_steps(probe, 1000, 417, Decimal("-416.5")) == 417
    assert probes == [417, 416]


def test_fewest_steps_from_a_short_guess_reaches_past_it_along_the_line():
    # restored from 600 on, the surplus n - 599.5; the guess 400 falls short (surplus -199.5); the line through
    # (0, -599.5) and (400, -199.5) rises 1 a step, so it crosses 199.5 steps on: ceil(199.5) = 200, probe 600
    # restores; the bracket (400, 600) with surpluses -199.5 and 0.5 crosses at 400 + ceil(199.5 / 200 * 200) = 600,
    # kept inside: 599, which does not restore. Three probes, never the full close.
    probes: list[int] = []

    def probe(n: int) -> tuple[bool, Decimal]:
        probes.append(n)
        return n >= 600, Decimal(n) - Decimal("599.5")

    assert fewest_steps(probe, 1000, 400, Decimal("-599.5")) == 600
    assert probes == [400, 600, 599]


def test_fewest_steps_gives_every_step_when_none_short_of_the_last_restores():
    # nothing restores: the guess 900 misses, the line (0, -1000) to (900, -100) reaches 100 further: capped at 999,
    # which misses too; the answer is the whole position (1000) without probing it
    probes: list[int] = []

    def probe(n: int) -> tuple[bool, Decimal]:
        probes.append(n)
        return False, Decimal(n) - Decimal(1000)

    assert fewest_steps(probe, 1000, 900, Decimal(-1000)) == 1000
    assert probes == [900, 999]
