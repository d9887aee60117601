"""What a stress run produces: a run's totals summed by hand from its steps, the insurance fund's end and
largest drawdown, a run without steps, a step's identity without its wall time, and a run's step records
carrying the index prices and marks of each step, by hand."""

from dataclasses import fields

from crossmargin.sim.stress.results import RunResult, StepRecord
from crossmargin.sim.stress.runner import run as run_scenario
from tests.sim.stress.conftest import CRASH, config

PRICES = {"BTC": 100.0, "ETH": 5.0}
MARKS = {"BTC-PERP": 100.0}


def step(t: float, liquidations: int, notional: float, slippage: float, adl: int, bad_debt: float, fund: float):
    return StepRecord(t, PRICES, MARKS, liquidations, notional, slippage, adl, bad_debt, fund, 0, seconds=0.5)


STEPS = (
    step(60.0, 1, 180.0, 2.5, 0, 0.0, 1000.0),
    step(120.0, 3, 1200.0, 10.0, 2, 40.0, 700.0),  # the fund's low: 700
    step(180.0, 0, 0.0, 0.0, 1, 55.5, 900.0),
)


def run(steps: tuple[StepRecord, ...]) -> RunResult:
    return RunResult("cross", steps, (), (1000.0, 25.0), (900.0, 0.0), 1000.0, accounts=2, positions=3)


def test_a_runs_totals_by_hand():
    result = run(STEPS)
    # liquidations 1 + 3 + 0; notional 180 + 1200; slippage 2.5 + 10; ADL 0 + 2 + 1
    assert (result.liquidations, result.liquidated_notional, result.slippage, result.adl_events) == (4, 1380.0, 12.5, 3)
    # bad debt is cumulative: the last step's; the fund ends at 900 after a low of 700: drawdown 1000 - 700
    assert (result.bad_debt, result.insurance_fund_end, result.insurance_fund_drawdown) == (55.5, 900.0, 300.0)
    assert result.summary() == {
        "liquidations": 4, "liquidated_notional": 1380.0, "slippage": 12.5, "adl_events": 3, "bad_debt": 55.5,
        "insurance_fund_start": 1000.0, "insurance_fund_end": 900.0, "insurance_fund_drawdown": 300.0,
        "accounts": 2, "positions": 3,
    }  # fmt: skip


def test_a_fund_that_only_grows_has_no_drawdown_and_a_run_without_steps_keeps_its_start():
    growing = run((step(60.0, 0, 0.0, 0.0, 0, 0.0, 1200.0),))
    assert growing.insurance_fund_drawdown == 0.0 and growing.insurance_fund_end == 1200.0
    empty = run(())
    assert (empty.liquidations, empty.bad_debt, empty.insurance_fund_end, empty.insurance_fund_drawdown) == (
        0, 0.0, 1000.0, 0.0,
    )  # fmt: skip


def test_a_steps_wall_time_is_not_part_of_its_identity():
    first = STEPS[0]
    assert first == StepRecord(60.0, PRICES, MARKS, 1, 180.0, 2.5, 0, 0.0, 1000.0, 0, seconds=9.0)
    assert first != StepRecord(60.0, PRICES, MARKS, 1, 180.0, 2.5, 0, 0.0, 999.0, 0, seconds=0.5)
    # the index prices are part of it
    assert first != StepRecord(60.0, {"BTC": 99.0, "ETH": 5.0}, MARKS, 1, 180.0, 2.5, 0, 0.0, 1000.0, 0, seconds=0.5)
    # every field but the wall time takes part in ==: the fields a step's JSON record carries
    assert [f.name for f in fields(StepRecord) if f.compare] == [
        "t", "prices", "marks", "liquidations", "liquidated_notional", "slippage", "adl_events", "bad_debt",
        "insurance_fund", "accounts_at_risk", "volatility", "agents",
    ]  # fmt: skip


def test_a_runs_steps_carry_each_steps_index_prices_and_marks_by_hand():
    # The two-step crash of tests/sim/stress/conftest.py: BTC 100 -> 90 -> 80 a minute apart, USDT (the base)
    # fixed. No depth model: the fills are at the mark and move nothing, so index and mark follow the path.
    result = run_scenario(config(), CRASH, seed=0)
    first, second = result.steps
    assert (first.t, first.prices, first.marks) == (60.0, {"BTC": 90.0}, {"BTC-PERP": 90.0})  # no USDT: the base
    assert (second.t, second.prices, second.marks) == (120.0, {"BTC": 80.0}, {"BTC-PERP": 80.0})
    # c closed at step 1 (one fill of 2 x 90 = 180), a deleveraged at step 2 at its bankruptcy price 85
    # (10 x 85 = 850); the fund (20) untouched, no bad debt
    fills = [(s.liquidations, s.liquidated_notional, s.adl_events) for s in result.steps]
    assert fills == [(1, 180.0, 0), (1, 850.0, 1)]
    assert [(s.insurance_fund, s.bad_debt) for s in result.steps] == [(20.0, 0.0), (20.0, 0.0)]
