"""The stress runner on a hand-built scenario (who is liquidated at which step, worked by hand), Monte Carlo
determinism locally and on a Dask cluster, local workers after the parent ran parallel kernels, and
``crossmargin demo``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.stress.montecarlo import distribution, monte_carlo
from crossmargin.sim.stress.runner import StressConfig, run
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))

CRASH = scenario_from_dict(
    {
        "name": "two-steps",
        "title": "BTC -10 % a minute, twice",
        "step_seconds": 60,
        "assets": {"BTC": {"table": [[0, 1.0], [60, 0.9], [120, 0.8]]}},
        "fixed": ["USDT"],
    }
)


def config(fund: str = "20") -> StressConfig:
    portfolio = book(
        [USDT, BTC],
        [PERP],
        {"BTC": "100"},
        {"BTC-PERP": "100"},
        [
            ("a", {"USDT": "150"}, [position("BTC-PERP", "10", "100")]),
            ("b", {"USDT": "1000"}, [position("BTC-PERP", "-10", "100")]),
            ("c", {"USDT": "25"}, [position("BTC-PERP", "2", "100")]),
        ],
        base="USDT",
    )
    terms = LiquidationTerms(partial=False)
    return StressConfig("cross", portfolio, GENERIC, terms, {}, D(fund), OracleConfig())


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


def test_tail_measures_by_hand():
    # 20 losses 1..20: the 0.95 quantile (inverted cdf) is the 19th value, 19; ES the mean of {19, 20}
    sample = distribution([float(v) for v in range(1, 21)], (0.95,))
    assert sample.var == {"0.95": 19.0} and sample.expected_shortfall == {"0.95": 19.5}


RANDOM = scenario_from_dict(
    {
        "name": "random-walk",
        "step_seconds": 60,
        "steps": 8,
        "assets": {"BTC": {"gbm": {"sigma": 30.0}}},  # about 4 % a minute: some paths liquidate c or a
        "fixed": ["USDT"],
    }
)


def test_monte_carlo_is_the_same_in_process_and_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    seeds = [11, 12, 13, 14]
    local = monte_carlo([config("5")], RANDOM, seeds, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = monte_carlo([config("5")], RANDOM, seeds, scheduler=cluster.scheduler_address)
    assert remote == local
    assert len(local[0].bad_debt.values) == 4
    # seeds matter: a path's notional is not the same for every seed
    assert len(set(local[0].liquidated_notional.values)) > 1


AFTER_PARALLEL_KERNELS = """
import json

from crossmargin.engine import kernels
from crossmargin.engine.book import RiskBook
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.montecarlo import monte_carlo
from crossmargin.venues import rulebook

portfolio = synthetic_book(30, 3)
generic = rulebook("generic")
configs = list(
    cross_and_isolated(
        portfolio, generic.rules, generic.liquidation, default_liquidity(portfolio),
        default_insurance_fund(portfolio), OracleConfig(),
    )
)
scenario = scenario_from_dict(
    {
        "name": "walk", "step_seconds": 60, "steps": 8, "fixed": ["USDT", "USDC"],
        "assets": {"BTC": {"gbm": {"sigma": 30.0}}, "*": {"follow": "BTC", "beta": 1.5}},
    }
)
seeds = [1, 2]
here = monte_carlo(configs, scenario, seeds, workers=1)
kernels.PARALLEL_ITEMS = 1  # from here on every shared-out kernel runs on the threads (and would in a fork)
RiskBook(portfolio, generic.rules)  # GNU OpenMP's threads have run in this process
pooled = monte_carlo(configs, scenario, seeds, workers=2)
print(json.dumps({"same": pooled == here, "notional": [r.liquidated_notional.values for r in here]}))
"""


def test_local_workers_run_after_the_parent_ran_parallel_kernels():
    # A worker forked from a process whose parallel kernels ran on GNU OpenMP is terminated at its first
    # parallel kernel ("fork() called from a process already using GNU OpenMP") and the pool breaks.
    done = subprocess.run(
        [sys.executable, "-c", AFTER_PARALLEL_KERNELS],
        env={**os.environ, "NUMBA_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert answer["same"]  # the pool's paths are the in-process paths, seed for seed
    assert all(len(set(values)) == 2 for values in answer["notional"])  # and the two seeds differ


def test_demo_writes_the_report_and_the_summary(tmp_path: Path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--seed", "3", "--accounts", "30"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    for mode in ("cross", "isolated"):
        assert {"liquidations", "liquidated_notional", "bad_debt", "insurance_fund_end"} <= set(summary[mode])
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "flash" in page.lower()
