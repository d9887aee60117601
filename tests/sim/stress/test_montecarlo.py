"""Monte Carlo (:mod:`crossmargin.sim.stress.montecarlo`): tail measures by hand, determinism in process and
on a Dask cluster, and local workers after the parent ran parallel kernels."""

import json
import os
import subprocess
import sys

import pytest

from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.stress.montecarlo import distribution, monte_carlo
from tests.sim.stress.conftest import config


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
