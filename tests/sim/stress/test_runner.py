"""The stress runner (:mod:`crossmargin.sim.stress.runner`) on the hand-built two-step crash
(tests/sim/stress/conftest.py): who is liquidated at which step, worked by hand, and a run as a pure function
of its inputs. That the runner is the engine loop fed its steps: tests/live/test_paths.py."""

import math

import pytest

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


def test_each_step_records_the_realized_volatility_by_hand():
    first, second = run(config(), CRASH, seed=0).steps
    # t = 60: one return ln(0.9) = -0.1053605 over 60 s: rate 0.0111008 / 60 = 1.85013e-4 a second,
    # annualized sqrt(1.85013e-4 x 31,536,000) = 76.384 (7,638 %: a 10 % fall in a minute)
    assert first.volatility == {"BTC": pytest.approx(math.sqrt(math.log(0.9) ** 2 / 60 * 31_536_000), rel=1e-9)}
    # t = 120: ln(80 / 90) = -0.1177830 too; with the hour's half-life the first minute has aged one minute,
    # d = 2^(-1/60) = 0.9885140, and both span 60 s: rate = (d x 0.0111008 + 0.0138728) / (60 (1 + d))
    # = 0.0248461 / 119.3108 = 2.08248e-4, annualized 81.04
    d = 2 ** (-1 / 60)
    rate = (d * math.log(0.9) ** 2 + math.log(8 / 9) ** 2) / (60 * (1 + d))
    assert second.volatility["BTC"] == pytest.approx(math.sqrt(rate * 31_536_000), rel=1e-9)
    assert second.volatility["BTC"] == pytest.approx(81.04, abs=0.01)


def test_without_agents_a_run_records_nothing_of_them_and_inert_agents_change_no_figure():
    from dataclasses import replace

    from crossmargin.report.stress import step_json
    from crossmargin.sim.agents.config import agents_from_dict

    plain = run(config(), CRASH)
    assert plain.agents == "" and plain.actions == ()
    assert all(step.agents is None and "agents" not in step_json(step) for step in plain.steps)
    assert set(plain.summary()) == {
        "liquidations", "liquidated_notional", "slippage", "adl_events", "bad_debt", "insurance_fund_start",
        "insurance_fund_end", "insurance_fund_drawdown", "accounts", "positions",
    }  # fmt: skip
    # a venue whose reference no volatility reaches and traders who never find a buffer that low: both run,
    # neither acts, and every figure of the run is the plain run's
    inert = agents_from_dict({"venue": {"reference_volatility": 1e9}, "trader": {"threshold": 1e-9, "target": 1e-9}})
    quiet = run(replace(config(), agents=inert), CRASH)
    assert quiet.agents == "trader+venue" and quiet.actions == ()
    assert [replace(step, agents=None) for step in quiet.steps] == list(plain.steps)
    assert quiet.marks == plain.marks and quiet.equity_after == plain.equity_after


def test_hedging_traders_hedge_in_a_generated_book_and_the_run_counts_their_hedges():
    from dataclasses import replace

    from crossmargin.oracle.config import OracleConfig
    from crossmargin.sim.agents.config import agents_from_dict
    from crossmargin.sim.population import synthetic_book
    from crossmargin.sim.scenarios.load import load_scenario
    from crossmargin.sim.stress.comparison import StressBook, compared_configs
    from crossmargin.venues import rulebook

    generic = rulebook("generic")
    book = StressBook(synthetic_book(30, 7), generic.rules, generic.liquidation, {}, None, OracleConfig())
    agents = agents_from_dict({"trader": {"hedge": True, "threshold": 8, "target": 10}})
    hedging = replace(compared_configs(book)[0], agents=agents)
    result = run(hedging, load_scenario("flash-crash"), 7)
    hedges = [a for a in result.actions if a.note.startswith("hedge ")]
    assert hedges and result.agent_hedges == len(hedges) == result.summary()["agent_hedges"]
    assert all(not a.refused for a in result.actions)
    opened = {(a.account, a.instrument) for a in hedges}
    held = {(account.id, p.instrument) for account in book.portfolio.accounts for p in account.positions}
    assert not opened & held  # a hedge opens an instrument the account did not hold
    assert run(hedging, load_scenario("flash-crash"), 7) == result
