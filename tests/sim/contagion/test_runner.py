"""The joint runner (:mod:`crossmargin.sim.contagion.runner`): the shipped two-venue cascade worked by hand,
and its properties: every link off is every venue run alone (digests equal), money is conserved on every
venue's ledger, a run is a pure function of its inputs."""

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.sim.contagion.model import contagion_from_dict, load_contagion, venue_configs
from crossmargin.sim.contagion.runner import apart, market_path, run_contagion
from crossmargin.sim.stress.runner import Run

TWO = load_contagion("two-venue")
CONFIGS = venue_configs(TWO)


def test_the_induced_liquidation_on_beta_by_hand():
    result = run_contagion(TWO, CONFIGS)
    alpha, beta = result.venue("alpha"), result.venue("beta")
    # t = 60, BTC index 100 x 0.9 = 90 on both venues (BTC-PERP: mmr 5 %, imr 5.5 %, linear depth 200 BTC,
    # half of a fill's move staying).
    # alpha, prices: the whale (142 USDT, long 10 from 100) has 142 - 10 x 10 = 42 < MM 5 % x 900 = 45: closed
    # whole (partial: false) into the depth: last unit at 90 x (1 - 10/200) = 85.5, average
    # 90 x (1 - 10/400) = 87.75, the mark moved to 90 + 0.5 x (85.5 - 90) = 87.75. Notional 10 x 87.75 = 877.5.
    assert [(f.t, f.account, f.price, f.notional) for f in alpha.fills] == [(60.0, "whale", 87.75, 877.5)]
    # t on alpha (85 USDT, long 5 from 100) at 87.75: equity 85 - 5 x 12.25 = 23.75 >= MM 5 % x 438.75 = 21.9375
    # (not liquidated) but < IM 5.5 % x 438.75 = 24.13125: it needs 24.13125 - 23.75 = 0.38125.
    # Transfers: t on beta (153.8 USDT, long 10 from 100) at 90: equity 53.8, IM 5.5 % x 900 = 49.5, free
    # collateral 4.3 >= 0.38125: it withdraws 0.38125 from beta and deposits it on alpha at once (delay 0).
    first_alpha, first_beta = alpha.steps[0], beta.steps[0]
    assert first_beta.transfers_out == first_alpha.transfers_in == 0.38125
    # Arbitrage: alpha's own price 87.75 / 100 = 0.8775 of its start, beta's 0.9: a gap of 0.0225. Closing it
    # takes n of notional with 0.8775 x 0.5 x (n / 87.75) / 200 + 0.9 x 0.5 x (n / 90) / 200 = n / 20000
    # = 0.0225: n = 450, above the capacity 6 a second x 60 s = 360: the arbitrageur sells 360 / 90 = 4 BTC on
    # beta (last unit 90 x (1 - 4/200) = 88.2, average 90 x (1 - 4/400) = 89.1, the mark to 90 - 0.5 x 1.8 = 89.1;
    # notional 4 x 89.1 = 356.4) and buys 360 / 87.75 = 4.1025641 BTC on alpha.
    assert first_beta.arbitrage_notional == pytest.approx(356.4, abs=1e-9)
    # t on beta at 89.1: 153.8 - 0.38125 - 10 x 10.9 = 44.41875 < MM 5 % x 891 = 44.55: liquidated, whole, into
    # beta's depth at 89.1: last unit 89.1 x (1 - 10/200) = 84.645, average 89.1 x (1 - 10/400) = 86.8725, the
    # mark to 89.1 - 0.5 x 4.455 = 86.8725; notional 868.725. (Without the transfer: 44.8 >= 44.55, no.)
    assert [(f.t, f.account, f.price) for f in beta.fills] == [(60.0, "t", 86.8725)]
    assert beta.fills[0].notional == pytest.approx(868.725, abs=1e-9)
    assert (first_beta.liquidations, first_beta.prices.liquidations) == (1, 0)  # set off by the link, not prices
    assert first_beta.own == {"BTC": 86.8725}
    # t's beta account after the fill: 153.41875 - 10 x (100 - 86.8725) = 22.14375 >= 0: no bad debt, fund whole
    assert beta.bad_debt == 0.0 and beta.insurance_fund_drawdown == 0.0
    # either link alone carries nothing to beta
    for link in ("arbitrage", "trader-t"):
        assert run_contagion(TWO, CONFIGS, links_off={link}).venue("beta").liquidations == 0


def _alone(scenario, configs, seed):
    """Each venue stepped by the single-venue runner alone, on the joint path with its own faults."""
    path = market_path(scenario, configs, seed)
    digests = {}
    for venue in scenario.venues:
        run = Run(configs[venue.name], replace(path, faults=path.faults + venue.faults))
        for _ in range(len(path.times) - 1):
            run.step()
        digests[venue.name] = (run.loop.digest(), run.result().steps)
    return digests


RANDOM = contagion_from_dict(
    {
        "name": "random-pair",
        "market": {
            "name": "walk", "step_seconds": 60, "steps": 6, "fixed": ["USDT", "USDC"],
            "assets": {
                "BTC": {"jump": {"sigma": 2.0, "intensity": 200, "mean": -0.05, "sd": 0.02}},
                "*": {"follow": "BTC", "beta": 1.2},
            },
        },
        "venues": {
            "big": {"book": {"generate": 40, "seed": 1}, "oracle": [{"venue": "small", "weight": 0.3}]},
            "small": {
                "book": {"generate": 30, "seed": 2}, "depth": 0.05,
                "faults": [{"stale": {"symbol": "BTC", "source": "s1", "start": 60, "end": 240}}],
            },
        },
        "links": [
            {"arbitrage": {"name": "arb", "venues": ["big", "small"], "capacity": 20000, "delay": 60}},
            {"traders": {"name": "both", "venues": ["big", "small"], "share": 0.3, "transfer_delay": 60}},
            {"shared_collateral": {"name": "usdc", "asset": "USDC", "priced_by": "small", "venues": ["big"]}},
        ],
    }
)  # fmt: skip
RANDOM_CONFIGS = venue_configs(RANDOM)


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_every_link_off_is_every_venue_run_alone(seed):
    joint = apart(RANDOM, RANDOM_CONFIGS, seed)
    alone = _alone(RANDOM, RANDOM_CONFIGS, seed)
    for venue in joint.venues:
        digest, steps = alone[venue.name]
        assert venue.digest == digest
        assert tuple(s.prices for s in venue.steps) == steps


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**16), off=st.sets(st.sampled_from(["arb", "both", "usdc", "oracle:big<-small"])))
def test_money_is_conserved_on_every_venue_ledger(seed, off):
    from crossmargin.sim.contagion.runner import JointRun

    joint = JointRun(RANDOM, RANDOM_CONFIGS, seed, off)
    for _ in range(len(joint.times) - 1):
        joint.step()
    for run in joint.runs.values():
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for (_, asset), amount in run.state.ledger.snapshot().items():
            totals[asset] += amount
        assert all(total == 0 for total in totals.values()), totals


def test_links_change_the_run_and_a_run_is_a_pure_function_of_its_inputs():
    linked = run_contagion(RANDOM, RANDOM_CONFIGS, 5)
    assert linked == run_contagion(RANDOM, RANDOM_CONFIGS, 5)
    alone = apart(RANDOM, RANDOM_CONFIGS, 5)
    assert [v.digest for v in linked.venues] != [v.digest for v in alone.venues]
    # the arbitrage traded, the oracle mix moved big's quotes
    assert sum(s.arbitrage_notional for v in linked.venues for s in v.steps) > 0


def test_an_unknown_link_switched_off_is_refused():
    from crossmargin.model import InputError

    with pytest.raises(InputError, match="links_off"):
        run_contagion(TWO, CONFIGS, links_off={"nope"})
