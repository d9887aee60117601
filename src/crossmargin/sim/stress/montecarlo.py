"""Monte Carlo: one configuration over N seeded paths of a scenario, on local processes or a Dask cluster.

Each path is a pure function of (configuration, scenario, seed): it runs the whole scenario
(:func:`~crossmargin.sim.stress.runner.run`) and keeps three losses (base currency): bad debt, the
insurance fund's largest drawdown, and the liquidated notional. The same seeds give the same numbers
wherever the paths run: in this process, on local worker processes (the default), or on the Dask
distributed scheduler at ``scheduler`` (``tcp://host:port``).

Tail measures of a loss sample at level q: VaR is the smallest sample value with at least q of the
samples at or below it (the empirical q-quantile, ``numpy.quantile(..., method="inverted_cdf")``),
expected shortfall the mean of the samples at or above the VaR.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from crossmargin.sim.scenarios.model import Scenario
from crossmargin.sim.stress.results import Distribution, MonteCarloResult
from crossmargin.sim.stress.runner import StressConfig, run

LEVELS = (0.95, 0.99)

PathLosses = tuple[float, float, float]
"""(bad debt, insurance-fund drawdown, liquidated notional) of one path, base currency."""


def path_losses(config: StressConfig, scenario: Scenario, seed: int) -> PathLosses:
    """Run one seeded path and keep its losses."""
    result = run(config, scenario, seed)
    return result.bad_debt, result.insurance_fund_drawdown, result.liquidated_notional


def distribution(values: Sequence[float], levels: Sequence[float] = LEVELS) -> Distribution:
    """The sample with its VaR and expected shortfall at each level (module doc)."""
    sample = np.asarray(values, dtype=np.float64)
    var: dict[str, float] = {}
    shortfall: dict[str, float] = {}
    for level in levels:
        cut = float(np.quantile(sample, level, method="inverted_cdf")) if sample.size else 0.0
        var[str(level)] = cut
        tail = sample[sample >= cut]
        shortfall[str(level)] = float(tail.mean()) if tail.size else cut
    return Distribution(tuple(float(v) for v in sample), var, shortfall)


def _star(task: tuple[StressConfig, Scenario, int]) -> PathLosses:
    return path_losses(*task)


def monte_carlo(
    configs: Sequence[StressConfig],
    scenario: Scenario,
    seeds: Sequence[int],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    levels: Sequence[float] = LEVELS,
) -> tuple[MonteCarloResult, ...]:
    """Every configuration over every seed; in process with ``workers=1``, on local processes by default,
    on the Dask cluster at ``scheduler`` when given (results in seed order either way)."""
    tasks = [(config, scenario, seed) for config in configs for seed in seeds]
    losses: list[PathLosses] = []
    if scheduler is not None:
        from distributed import Client, as_completed

        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            futures = client.map(_star, tasks, pure=False)
            index = {future.key: n for n, future in enumerate(futures)}
            done: dict[int, PathLosses] = {}
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                done[index[future.key]] = future.result()
                if progress is not None:
                    progress(len(done), len(tasks))
            losses = [done[n] for n in range(len(tasks))]
    elif workers == 1:
        for n, task in enumerate(tasks, start=1):
            losses.append(_star(task))
            if progress is not None:
                progress(n, len(tasks))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for n, item in enumerate(pool.map(_star, tasks), start=1):
                losses.append(item)
                if progress is not None:
                    progress(n, len(tasks))
    results = []
    for k, config in enumerate(configs):
        mine = losses[k * len(seeds) : (k + 1) * len(seeds)]
        results.append(
            MonteCarloResult(
                label=config.label,
                seeds=tuple(seeds),
                bad_debt=distribution([m[0] for m in mine], levels),
                insurance_fund_drawdown=distribution([m[1] for m in mine], levels),
                liquidated_notional=distribution([m[2] for m in mine], levels),
            )
        )
    return tuple(results)
