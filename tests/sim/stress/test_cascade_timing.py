"""Calibration evidence: a stress run's liquidations come from the scenario and the book, not from the
simulator.

- With impact switched off (liquidity at the mark), every step's marks are the scenario's path exactly,
  liquidations or not (property).
- On a flat path a solvent generated book liquidates nothing and no mark moves from where the oracle puts
  it (between the index and the document's mark); a book of distressed accounts is liquidated at once, and
  the displacement its fills leave fades by half every half-life back to the solvent book's marks.
- On the shipped real-crash paths, a book whose liquidation prices are spread evenly below the start is
  liquidated when the path makes new lows: liquidations per 30-minute window follow the fall of the path's
  running low in that window, and the busiest window is the one where the low falls fastest. (A static book
  is liquidated only at new lows: a position closed is not reopened.) The runner before issue 17 put most
  liquidations in the first minutes, whatever the path did later.
"""

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.liquidation.liquidity import AtMark
from crossmargin.model import Asset, Portfolio
from crossmargin.model.numbers import from_float
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.population import DEFAULT_SHAPE, BookShape, synthetic_book
from crossmargin.sim.scenarios.load import load_scenario, scenario_from_dict
from crossmargin.sim.scenarios.model import Scenario
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.results import RunResult
from crossmargin.sim.stress.runner import StressConfig, assets_of, run
from crossmargin.venues import rulebook
from tests.builders import D, book, linear, position

START = 20000
MMR = Decimal("0.004")
WINDOW_S = 1800


def spread_book(lowest: float, accounts: int = 100) -> Portfolio:
    """``accounts`` accounts, each long 1 BTC-PERP from 20000 (mmr 0.004) with USDT collateral c putting its
    liquidation price L = (20000 - c) / (1 - 0.004) at 20000 x (1 - f), f evenly spaced up to
    1.05 x (1 - lowest): c = 20000 - 0.996 x L."""
    rows = []
    for i in range(accounts):
        fall = (i + 0.5) / accounts * (1 - lowest) * 1.05
        collateral = START - (1 - float(MMR)) * START * (1 - fall)
        rows.append((f"a{i}", {"USDT": f"{collateral:.2f}"}, [position("BTC-PERP", "1", str(START))]))
    return book(
        [Asset.simple("USDT")], [linear("BTC-PERP")], {"USDT": "1", "BTC": str(START)}, {"BTC-PERP": str(START)}, rows
    )


def stressed(portfolio: Portfolio, scenario: Scenario, depth: bool = True) -> RunResult:
    generic = rulebook("generic")
    liquidity = default_liquidity(portfolio) if depth else {"BTC-PERP": AtMark()}
    config = StressConfig("cross", portfolio, generic.rules, generic.liquidation, liquidity, D(10**6), OracleConfig())
    return run(config, scenario)


def window_starts(times: np.ndarray) -> np.ndarray:
    return np.arange(times[0], times[-1] - WINDOW_S + 1, 60.0)


def new_low_falls(times: np.ndarray, factors: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per window [s, s + 30 min): how far the path's running low falls in it (a fraction of the start, as
    the liquidation prices are spread)."""
    low = np.minimum.accumulate(factors)

    def low_at(t: float) -> float:
        return float(low[max(int(np.searchsorted(times, t, side="right")) - 1, 0)])

    return np.array([low_at(s) - low_at(s + WINDOW_S) for s in starts])


def first_liquidations(result: RunResult, starts: np.ndarray) -> np.ndarray:
    """Per window: the accounts liquidated for the first time in it."""
    first: dict[str, float] = {}
    for mark in result.marks:
        first.setdefault(mark.account, mark.t)
    at = np.array(sorted(first.values()))
    return np.array([np.count_nonzero((at > s) & (at <= s + WINDOW_S)) for s in starts])


@pytest.mark.parametrize("name", ["may-2021", "march-2020", "ftx-2022", "luna-2022"])
def test_liquidations_follow_the_paths_new_lows(name):
    scenario = load_scenario(name)
    portfolio = spread_book(min(generate(scenario, 0, ["BTC"]).factors["BTC"]))
    path = generate(scenario, 0, assets_of(portfolio))
    result = stressed(portfolio, scenario)
    times, factors = np.array(path.times), np.array(path.factors["BTC"])
    starts = window_starts(times)
    falls, counts = new_low_falls(times, factors, starts), first_liquidations(result, starts)
    # every account whose liquidation price the path reached is liquidated (the path's low is within the
    # spread of 1.05 x the fall), and none before the path reached it
    assert counts.sum() >= 90
    assert np.corrcoef(falls, counts)[0, 1] > 0.9
    # the window where the low falls fastest is the busiest, up to one account (a slow grind such as LUNA's
    # has several windows of nearly the same fall)
    fastest = int(np.argmax(falls))
    assert counts[fastest] >= counts.max() - 1, (starts[fastest], starts[int(np.argmax(counts))])


SCENARIO = {
    "name": "random-path",
    "title": "a random path",
    "description": "BTC along a random table",
    "sources": [{"what": "none", "where": "here"}],
    "step_seconds": 60,
    "steps": 30,
    "fixed": ["USDT"],
}


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.5, 1.5), min_size=1, max_size=5))
def test_without_impact_the_marks_are_the_path(levels):
    # a path of factors starts at 1; the feed carries each price to 12 significant digits (from_float)
    levels = [1.0, *levels]
    points = [[i * 1800 / (len(levels) - 1), level] for i, level in enumerate(levels)]
    scenario = scenario_from_dict({**SCENARIO, "assets": {"BTC": {"table": points}}})
    portfolio = spread_book(0.5, accounts=20)
    path = generate(scenario, 0, assets_of(portfolio))
    result = stressed(portfolio, scenario, depth=False)
    for k, step in enumerate(result.steps, start=1):
        assert step.marks["BTC-PERP"] == float(from_float(START * path.factors["BTC"][k]))


FLAT = {
    **SCENARIO,
    "name": "flat",
    "steps": 20,
    "assets": {"BTC": {"table": [[0, 1.0], [1200, 1.0]]}, "*": {"follow": "BTC", "beta": 1.0}},
    "fixed": ["USDT", "USDC"],
}


def flat_runs(shape: BookShape) -> tuple[Portfolio, tuple[RunResult, RunResult]]:
    portfolio = synthetic_book(300, 7, shape=shape)
    generic = rulebook("generic")
    configs = cross_and_isolated(
        portfolio,
        generic.rules,
        generic.liquidation,
        default_liquidity(portfolio),
        default_insurance_fund(portfolio),
        OracleConfig(),
    )
    scenario = scenario_from_dict(FLAT)
    return portfolio, (run(configs[0], scenario), run(configs[1], scenario))


def test_a_flat_path_on_a_solvent_book_liquidates_nothing_and_keeps_every_mark_within_its_basis():
    portfolio, runs = flat_runs(DEFAULT_SHAPE)
    market = portfolio.market
    for result in runs:
        assert sum(step.liquidations for step in result.steps) == 0, result.label
        first = result.steps[0].marks
        for step in result.steps:
            assert step.marks == first  # nothing moves the marks: no drift, no impact
            for name, mark in step.marks.items():
                # the document's mark is index + basis; the oracle's mark lies between the index and it
                index, doc_mark = (
                    float(market.prices[portfolio.instruments[name].underlying]),
                    float(market.marks[name]),
                )
                assert min(index, doc_mark) <= mark <= max(index, doc_mark), name


def test_a_liquidation_waves_displacement_of_the_marks_fades_back_to_the_solvent_books():
    # every account distressed: the first step liquidates many of them and their fills displace the marks;
    # 60 s half-lives later (the default) the marks are those of the same market with nothing liquidated:
    # after the last liquidation, k steps of 60 s leave 2^-k of the displacement
    _, quiet = flat_runs(DEFAULT_SHAPE)
    _, waves = flat_runs(replace(DEFAULT_SHAPE, distressed_share=1.0))
    for calm, wave in zip(quiet, waves, strict=True):
        assert wave.steps[0].liquidations > 50, wave.label
        assert any(abs(wave.steps[0].marks[n] / m - 1) > 1e-5 for n, m in calm.steps[0].marks.items())
        last = max(k for k, step in enumerate(wave.steps) if step.liquidations)
        assert last < 10
        displaced = max(abs(wave.steps[last].marks[n] / m - 1) for n, m in calm.steps[last].marks.items())
        remaining = max(abs(wave.steps[-1].marks[n] / m - 1) for n, m in calm.steps[-1].marks.items())
        halvings = len(wave.steps) - 1 - last
        assert remaining <= displaced * 2.0**-halvings + 1e-11, (wave.label, displaced, remaining, halvings)
