"""A book through a scenario under several configurations, compared: what ``crossmargin stress`` runs and what
the service's stress runs run (:mod:`crossmargin.service.stress_runs`), so both make the same report of the
same inputs.

1. :func:`compared_configs`: the book all cross and all isolated
   (:func:`~crossmargin.sim.stress.configs.cross_and_isolated`), then the same cross book under each other
   rulebook named. A book without liquidity gets the calibrated default depth, one without an insurance fund
   the default fund (:mod:`crossmargin.sim.stress.configs`).
2. :func:`check_configs`: what the engine loop cannot price or mirror is refused before any run starts.
3. :func:`stress_comparison`: every configuration through the scenario's path drawn with ``seed`` (and, with
   ``paths`` > 1, the first two through ``paths`` seeded paths: the Monte Carlo), as a
   :class:`~crossmargin.sim.stress.results.StressReport`.

Progress goes to a :data:`Tasks` callback: it is told of each piece of work (a description and its steps)
when the piece starts and answers the function to call with (steps done, steps) after each step.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.engine.book import check_mirrored
from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.live.policy import check_oracle_priced
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.errors import field_prefix
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.scenarios.model import Scenario
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.montecarlo import monte_carlo
from crossmargin.sim.stress.results import MonteCarloResult, StressReport
from crossmargin.sim.stress.runner import StressConfig, run
from crossmargin.venues import rulebook

Advance = Callable[[int, int], None]
"""Told (steps done, steps) after each step of one piece of work."""
Tasks = Callable[[str, int], Advance]
"""Told (description, steps) as a piece of work starts; answers where its steps are reported."""


@dataclass(frozen=True)
class StressBook:
    """A book to stress and what decides its liquidations.

    ``liquidity``: each instrument's depth model at depth multiplier 1 (empty: the calibrated defaults for
    every marked instrument); ``insurance_fund``: the fund at the start, base currency (None: the default,
    1 % of the held collateral).
    """

    portfolio: Portfolio
    rules: RuleChoices
    terms: LiquidationTerms
    liquidity: Mapping[str, LiquidityModel]
    insurance_fund: Decimal | None
    oracle: OracleConfig


def compared_configs(book: StressBook, rulebooks: Sequence[str] = ()) -> list[StressConfig]:
    """``cross``, ``isolated``, then the cross book under each of ``rulebooks`` (labelled by its name; an
    unknown name raises InputError naming ``rulebook``)."""
    portfolio = book.portfolio
    liquidity = book.liquidity or default_liquidity(portfolio)
    fund = default_insurance_fund(portfolio) if book.insurance_fund is None else book.insurance_fund
    configs = list(cross_and_isolated(portfolio, book.rules, book.terms, liquidity, fund, book.oracle))
    for name in rulebooks:
        other = rulebook(name)
        configs.append(replace(configs[0], label=name, rules=other.rules, terms=other.liquidation))
    return configs


def check_configs(configs: Sequence[StressConfig]) -> None:
    """Refuse, before any run, a configuration the engine loop cannot price from an oracle (an option) or the
    risk book cannot mirror; the error's field starts with the configuration's label."""
    for config in configs:
        with field_prefix(config.label):
            check_oracle_priced(config.portfolio)
            check_mirrored(config.portfolio, config.rules)


def stress_comparison(
    scenario: Scenario,
    configs: Sequence[StressConfig],
    described: str,
    seed: int,
    paths: int = 1,
    scheduler: str | None = None,
    workers: int | None = None,
    tasks: Tasks | None = None,
) -> StressReport:
    """Every configuration through the path of ``scenario`` drawn with ``seed``, one after the other (each a
    piece of work of the path's steps, described ``"<scenario>: <label>"``); with ``paths`` > 1 the first two
    configurations through the seeds ``seed .. seed + paths - 1`` too (one piece of ``paths`` x 2 steps, on
    ``workers`` local processes or the Dask scheduler at ``scheduler``:
    :func:`~crossmargin.sim.stress.montecarlo.monte_carlo`). ``described``: the report's account of the book."""
    runs = []
    for config in configs:
        advance = None if tasks is None else tasks(f"{scenario.name}: {config.label}", scenario.steps)
        runs.append(run(config, scenario, seed, advance))
    carlo: tuple[MonteCarloResult, ...] = ()
    if paths > 1:
        advance = None if tasks is None else tasks(f"Monte Carlo, {paths} paths x 2", paths * 2)
        carlo = monte_carlo(configs[:2], scenario, [seed + n for n in range(paths)], scheduler, workers, advance)
    return StressReport(
        scenario.name, scenario.title, scenario.description, scenario.sources, described, tuple(runs), carlo
    )
