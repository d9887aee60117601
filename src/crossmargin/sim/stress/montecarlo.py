"""Monte Carlo: one configuration over N seeded paths of a scenario, on local processes or a Dask cluster.

Each path is a pure function of (configuration, scenario, seed): it runs the whole scenario
(:func:`~crossmargin.sim.stress.runner.run`) and keeps three losses (base currency): bad debt, the
insurance fund's largest drawdown, and the liquidated notional. The same seeds give the same numbers
wherever the paths run: in this process, on local worker processes (the default), or on the Dask
distributed scheduler at ``scheduler`` (``tcp://host:port``).

Local worker processes are started with ``spawn``, never forked: Numba's parallel kernels run on GNU
OpenMP here (its ``omp`` threading layer; TBB is not installed), whose thread pool does not survive a fork,
so a child forked from a process that already ran one (the comparison runs before the Monte Carlo do) is
terminated at its first parallel kernel. Each worker gets its share of the cores for its own kernels
(Numba's threads divided by the workers), so the workers do not fight over the cores.

:func:`check_scheduler` tells whether an address leads to a Dask scheduler before any work starts.

Tail measures of a loss sample at level q: VaR is the smallest sample value with at least q of the
samples at or below it (the empirical q-quantile, ``numpy.quantile(..., method="inverted_cdf")``),
expected shortfall the mean of the samples at or above the VaR.
"""

import asyncio
import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numba
import numpy as np

from crossmargin.model import InputError
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


SCHEDULER_TIMEOUT_S = 5.0  # to connect to a scheduler and to hear its answer
SCHEMES = ("tcp", "tls")


def _star(task: tuple[StressConfig, Scenario, int]) -> PathLosses:
    return path_losses(*task)


def _start_worker(threads: int) -> None:
    """A local worker's first act: use ``threads`` threads for Numba's parallel kernels."""
    numba.set_num_threads(threads)


async def _identity(address: str, timeout: float) -> Any:
    """What the Dask server at ``address`` says it is (its answer to ``identity``)."""
    from distributed.comm.core import connect
    from distributed.security import Security

    arguments = Security().get_connection_args("client")  # type: ignore[no-untyped-call]
    comm = await connect(address, timeout=timeout, **arguments)  # type: ignore[no-untyped-call]
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def check_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT_S) -> None:
    """Refuse, with an :class:`~crossmargin.model.InputError` on field ``scheduler``, an address that does not
    lead to a Dask scheduler: one that does not parse as ``[tcp://|tls://]host:port``, a host that does not
    resolve, a port where nothing listens or that does not answer within ``timeout`` seconds, and a server
    that does not answer Dask's ``identity`` request as a scheduler within ``timeout`` seconds (a web server,
    a scheduler's dashboard)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=False)
    except ValueError as err:
        raise InputError("scheduler", f"not an address: {err}") from None
    if scheme not in SCHEMES:
        raise InputError("scheduler", f"expected tcp://host:port (or tls://), got {address!r}")
    try:
        host, port = parse_host_port(location)
    except ValueError:
        raise InputError("scheduler", f"expected tcp://host:port with a port number, got {address!r}") from None
    if not host or not 0 < port < 65536:
        raise InputError("scheduler", f"expected tcp://host:port with a host and a port 1-65535, got {address!r}")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror as err:
        raise InputError("scheduler", f"cannot resolve host {host!r}: {err.strerror}") from None
    except TimeoutError:
        raise InputError("scheduler", f"no answer from {host}:{port} within {timeout:g} s") from None
    except OSError as err:
        raise InputError("scheduler", f"cannot connect to {host}:{port}: {err.strerror or err}") from None
    full = f"{scheme}://{location}"
    try:
        answer = asyncio.run(asyncio.wait_for(_identity(full, timeout), timeout))
    except Exception:  # any failure to speak Dask's protocol: a timeout, a closed stream, a garbled frame
        answer = None
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise InputError(
            "scheduler",
            f"{full} does not answer as a Dask scheduler within {timeout:g} s (a scheduler listens on port 8786 "
            "by default; 8787 is its dashboard)",
        )


def monte_carlo(
    configs: Sequence[StressConfig],
    scenario: Scenario,
    seeds: Sequence[int],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    levels: Sequence[float] = LEVELS,
) -> tuple[MonteCarloResult, ...]:
    """Every configuration over every seed; in process with ``workers=1``, on ``workers`` local processes
    (default: one per core) started with ``spawn`` (module doc), on the Dask cluster at ``scheduler`` when
    given (results in seed order either way)."""
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
        processes = min(workers or os.cpu_count() or 1, len(tasks)) or 1
        threads = max(1, numba.get_num_threads() // processes)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, context, _start_worker, (threads,)) as pool:
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
