"""What a stress run produces: a run's totals summed by hand from its steps, the insurance fund's end and
largest drawdown, a run without steps, and a step's identity without its wall time."""

from crossmargin.sim.stress.results import RunResult, StepRecord


def step(t: float, liquidations: int, notional: float, slippage: float, adl: int, bad_debt: float, fund: float):
    return StepRecord(t, {"BTC-PERP": 100.0}, liquidations, notional, slippage, adl, bad_debt, fund, 0, seconds=0.5)


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
    assert first == StepRecord(60.0, {"BTC-PERP": 100.0}, 1, 180.0, 2.5, 0, 0.0, 1000.0, 0, seconds=9.0)
    assert first != StepRecord(60.0, {"BTC-PERP": 100.0}, 1, 180.0, 2.5, 0, 0.0, 999.0, 0, seconds=0.5)
