"""The stress runner (:mod:`crossmargin.sim.stress.runner`) on the hand-built two-step crash
(tests/sim/stress/conftest.py): who is liquidated at which step, worked by hand, and a run as a pure function
of its inputs. That the runner is the engine loop fed its steps: tests/live/test_paths.py."""

from crossmargin.sim.stress.runner import run
from tests.sim.stress.conftest import CRASH, config


def test_who_is_liquidated_at_which_step_by_hand():
    result = run(config(), CRASH, seed=0)
    first, second = result.steps
    # t=60, mark 90: c has 25 - 2 x 10 = 5 < MM 5 % x 180 = 9 and is closed at the mark (no depth model):
    # one fill of 180; a keeps 150 - 100 = 50 >= 45.
    assert (first.t, first.liquidations, first.liquidated_notional, first.adl_events) == (60.0, 1, 180.0, 0)
    # t=120, mark 80: a has 150 - 200 = -50, a loss beyond the fund (20): its long goes at the bankruptcy
    # price 80 + 50 / 10 = 85 to the short b (auto-deleveraged): notional 10 x 85 = 850.
    assert (second.liquidations, second.liquidated_notional, second.adl_events) == (1, 850.0, 1)
    assert [(m.t, m.account, m.price, m.taker) for m in result.marks] == [
        (60.0, "c", 90.0, "market"),
        (120.0, "a", 85.0, "adl"),
    ]
    assert second.bad_debt == 0.0 and second.insurance_fund == 20.0
    assert second.marks == {"BTC-PERP": 80.0}
    # equity (full value) before at 100 and after: a 150 -> 0, b 1000 -> 1000 + 10 x (100 - 85) = 1150,
    # c 25 -> 25 - 20 = 5
    assert result.equity_before == (150.0, 1000.0, 25.0)
    assert result.equity_after == (0.0, 1150.0, 5.0)
    assert (result.liquidations, result.liquidated_notional, result.adl_events) == (2, 1030.0, 1)


def test_a_run_is_a_pure_function_of_its_inputs():
    assert run(config(), CRASH, seed=3) == run(config(), CRASH, seed=3)
