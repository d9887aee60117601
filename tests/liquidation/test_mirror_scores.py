"""ADL queues ordered from the float mirror's bounds give exactly the exact ranking: by hand (ties by
account id, a pool with no positive net value last, the bound above every exact score), and against a
ranking from scratch at the pinned market on stress runs of generated books (property)."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.clearing.events import PriceUpdate
from crossmargin.clearing.state import ClearingState
from crossmargin.engine.book import RiskBook
from crossmargin.liquidation.mirror_scores import pinned_scores
from crossmargin.liquidation.ranking import RANKINGS, AdlQueues, Candidate, candidate
from crossmargin.model import Market, exact
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.load import load_scenario, scenario_from_dict
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.runner import Run, StressConfig, assets_of, run
from crossmargin.venues import rulebook
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))
FLOAT_RANKINGS = ["profit_x_leverage", "mark_over_entry_x_notional_over_account_value", "pro_rata_base_size"]


def ranked_at(
    state: ClearingState, market: Market, instrument: str, long: bool, bankrupt: str, ranking: str
) -> list[Candidate]:
    """Every holder of the leg scored exactly at ``market``, sorted: the second method."""
    keyed = []
    for account_id in state.holders(instrument, long):
        if account_id == bankrupt or account_id in state.in_liquidation:
            continue
        found = candidate(state, instrument, long, account_id, market)
        if found is not None:
            with exact():
                keyed.append((-RANKINGS[ranking](found, state, market.mark(instrument)), account_id, found))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [c for _, _, c in keyed]


def test_ties_and_empty_pools_by_hand():
    # Shorts at 1000, mark 940: t1 and t2 are the same position on the same money (score
    # 60/1000 x 940/(1000+60) = 0.0532 each, so t1 before t2); u owes 80 against a PnL of 60, net value -20:
    # ranked last (-1E30). The bounds: t1 = t2 >= 0.0532, u below every other.
    shorts = [
        ("t2", {"USDT": "1000"}, [position("BTC-PERP", "-1", "1000")]),
        ("u", {"USDT": "-80"}, [position("BTC-PERP", "-1", "1000")]),
        ("t1", {"USDT": "1000"}, [position("BTC-PERP", "-1", "1000")]),
        ("long", {"USDT": "100000"}, [position("BTC-PERP", "3", "940")]),
    ]
    portfolio = book([USDT, BTC], [PERP], {"BTC": "940"}, {"BTC-PERP": "940"}, shorts, base="USDT")
    state = ClearingState(portfolio, GENERIC)
    mirror = RiskBook(portfolio, GENERIC)
    queues = AdlQueues(state, "profit_x_leverage", mirror)
    queues.pin()
    bounds, pools = pinned_scores(mirror, "profit_x_leverage").ordered("BTC-PERP", False)
    accounts = [mirror.owners[int(p)].account for p in pools]
    assert accounts[2] == "u" and bounds[2] < -9e29
    assert bounds[0] == bounds[1] >= 60 / 1000 * 940 / 1060
    assert [c.account for c in queues.order("BTC-PERP", True, "long")] == ["t1", "t2", "u"]
    # only the two that could be first, and then u, were scored: each at most once
    assert len(queues.queues[("BTC-PERP", False)].version) == 3


def test_a_holder_is_scored_only_when_it_could_be_next():
    # Forty shorts at 1000 with balances 1000, 2000, ... : at mark 940 the first (least money, most
    # leverage) ranks first. Taking only the first needs just it scored: every other bound is lower.
    shorts = [(f"s{k:02d}", {"USDT": str(1000 * (k + 1))}, [position("BTC-PERP", "-1", "1000")]) for k in range(40)]
    shorts.append(("long", {"USDT": "100000"}, [position("BTC-PERP", "40", "940")]))
    portfolio = book([USDT, BTC], [PERP], {"BTC": "940"}, {"BTC-PERP": "940"}, shorts, base="USDT")
    state = ClearingState(portfolio, GENERIC)
    queues = AdlQueues(state, "profit_x_leverage", RiskBook(portfolio, GENERIC))
    queues.pin()
    first = next(iter(queues.order("BTC-PERP", True, "long")))
    assert first.account == "s00"
    assert len(queues.queues[("BTC-PERP", False)].version) == 1
    state.apply(PriceUpdate(prices={"BTC": D(700)}, marks={"BTC-PERP": D(700)}))
    everyone = [c.account for c in queues.order("BTC-PERP", True, "long")]
    assert everyone == [f"s{k:02d}" for k in range(40)]


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), ranking=st.sampled_from(FLOAT_RANKINGS))
def test_mirror_ordered_queues_equal_the_exact_ranking_through_a_crash(seed: int, ranking: str):
    portfolio = synthetic_book(120, seed, instruments=4)
    generic = rulebook("generic")
    terms = replace(generic.liquidation, adl_ranking=ranking)
    config = cross_and_isolated(
        portfolio, generic.rules, terms, default_liquidity(portfolio), default_insurance_fund(portfolio) / 50,
        OracleConfig(),
    )[0]  # fmt: skip
    run = Run(config, generate(load_scenario("flash-crash"), seed, assets_of(config.portfolio)))
    queues = run.liquidator.adl
    assert queues.mirror is run.book
    reached = 0
    for _ in range(4):
        run.step()
        queues.pin()  # the loop pins before an event's first liquidation; here after every step of the crash
        pinned = queues.pinned
        assert pinned is not None
        for instrument in sorted(portfolio.instruments):
            for long in (True, False):
                holders = run.state.holders(instrument, not long)
                bankrupt = holders[0] if holders else "nobody"
                kept = list(queues.order(instrument, long, bankrupt))
                assert kept == ranked_at(run.state, pinned, instrument, not long, bankrupt, ranking)
                reached += len(kept)
    assert reached > 0


def test_a_step_after_the_last_position_is_gone_pins_empty_queues():
    # One account: 10 USDT, long 1 BTC-PERP from 100 (MM 5 % x 100 = 5). At t=60 the mark is 80: equity
    # 10 - 20 = -10, bankrupt, closed in full: nobody short to deleverage and no fund, so the market account
    # takes it at the bankruptcy price 100 - 10 / 1 = 90 (notional 90). The step at t=120 then pins ADL queues
    # over a book without a single position (np.bincount of nothing).
    portfolio = book(
        [USDT, BTC], [PERP], {"BTC": "100"}, {"BTC-PERP": "100"},
        [("alice", {"USDT": "10"}, [position("BTC-PERP", "1", "100")])], base="USDT",
    )  # fmt: skip
    scenario = scenario_from_dict(
        {
            "name": "fall-then-flat",
            "title": "BTC -20 %, then flat",
            "step_seconds": 60,
            "assets": {"BTC": {"table": [[0, 1.0], [60, 0.8], [120, 0.8]]}},
            "fixed": ["USDT"],
        }
    )
    config = StressConfig("cross", portfolio, GENERIC, LiquidationTerms(partial=False), {}, D(0), OracleConfig())
    result = run(config, scenario, seed=0)
    assert [(s.liquidations, s.liquidated_notional) for s in result.steps] == [(1, 90.0), (0, 0.0)]
    assert result.positions == 0


def test_a_bound_by_size_is_the_size_widened_and_random_has_none():
    # pro_rata_base_size: |size| x (1 + 1e-12), then widened once more by its own 1e-12: above every exact size
    holders = [(f"s{k}", {"USDT": "1000"}, [position("BTC-PERP", f"-{k}", "1000")]) for k in (1, 2, 3)]
    holders.append(("long", {"USDT": "100000"}, [position("BTC-PERP", "6", "940")]))
    portfolio = book([USDT, BTC], [PERP], {"BTC": "940"}, {"BTC-PERP": "940"}, holders, base="USDT")
    mirror = RiskBook(portfolio, GENERIC)
    bounds, pools = pinned_scores(mirror, "pro_rata_base_size").ordered("BTC-PERP", False)
    assert [mirror.owners[int(p)].account for p in pools] == ["s3", "s2", "s1"]
    for bound, size in zip(bounds, (3.0, 2.0, 1.0), strict=True):
        assert size < bound <= size * (1 + 1e-12) ** 2 * (1 + 1e-15)
    with pytest.raises(ValueError, match="no float bound for ranking 'random'"):
        pinned_scores(mirror, "random")
