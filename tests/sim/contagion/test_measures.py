"""Contagion measures (:mod:`crossmargin.sim.contagion.measures`) on the shipped two-venue cascade, whose runs
are worked by hand in tests/sim/contagion/test_runner.py; the Monte Carlo gives the same distributions in
process, on local processes and on Dask."""

import pytest

from crossmargin.sim.contagion.measures import measure, monte_carlo
from crossmargin.sim.contagion.model import load_contagion, venue_configs

TWO = load_contagion("two-venue")
CONFIGS = venue_configs(TWO)


def test_amplification_propagation_and_links_by_hand():
    found = measure(TWO, CONFIGS)
    # apart: alpha liquidates the whale (877.5), beta nobody; linked: beta also liquidates t (868.725)
    assert (found.total_apart.liquidations, found.total.liquidations) == (1, 2)
    assert found.amplification["total"]["liquidated_notional"] == pytest.approx((877.5 + 868.725) / 877.5)
    assert found.amplification["alpha"]["liquidations"] == 1.0
    assert found.amplification["beta"]["liquidations"] is None  # from nothing: no ratio
    # both at t = 60: the induced liquidation on beta comes in the same step as alpha's first
    p = found.propagation
    assert (p.origin, p.first_s, p.induced_venue, p.delay_s) == ("alpha", 60.0, "beta", 0.0)
    # each link alone is necessary: without either, beta's 868.725 is gone; no bad debt either way
    carried = {e.name: e.carried["liquidated_notional"] for e in found.links}
    assert carried == {"arbitrage": pytest.approx(868.725), "trader-t": pytest.approx(868.725)}
    assert found.carrier == "arbitrage"  # a tie, the first link named


def test_the_same_seeds_give_the_same_distributions_in_process_and_on_local_processes():
    here = monte_carlo(TWO, CONFIGS, [1, 2], workers=1)
    there = monte_carlo(TWO, CONFIGS, [1, 2], workers=2)
    assert here == there
    # a table path: every seed the same totals, 1746.225 linked and 877.5 apart
    assert here["linked"]["liquidated_notional"].values == pytest.approx((1746.225, 1746.225))
    assert here["apart"]["liquidated_notional"].values == (877.5, 877.5)


def test_the_same_seeds_give_the_same_distributions_on_dask():
    distributed = pytest.importorskip("distributed")
    here = monte_carlo(TWO, CONFIGS, [3], workers=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        assert monte_carlo(TWO, CONFIGS, [3], scheduler=c.scheduler_address) == here
