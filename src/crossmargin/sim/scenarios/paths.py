"""Turning a :class:`~crossmargin.sim.scenarios.model.Scenario` into price paths (float64 NumPy arrays).

The grid is ``times = k x step_seconds`` for ``k = 0 .. steps``. Each asset's factor path is built
from its spec (see :mod:`crossmargin.sim.scenarios.model` for the maths of each kind):

- :class:`Table`: the points, interpolated (``linear``: ``numpy.interp``; ``hold``: the last point at
  or before each time), held after the last point.
- :class:`Process`: ``exp`` of the cumulative sum of per-step log-returns, 1.0 at ``t = 0``.
- :class:`Follow`: ``target ** beta``, times ``exp`` of the cumulative independent noise when ``sigma`` > 0.

Factors are clipped to ``[e^-700, e^700]`` (:data:`FLOOR`, :data:`CEILING`) so they stay finite and positive.

**Random draws, and why a path is a pure function of (scenario, seed, asset set).** Every asset that
needs random numbers draws them from its *own* generator,
``numpy.random.default_rng(SeedSequence([seed, w0, w1, w2, w3]))`` where ``w0..w3`` are the first 16
bytes of ``sha256(asset name)`` read as four little-endian uint32 words. Within that stream the draws
come in a fixed order: ``steps`` standard normals (the diffusion shock, or the follower's noise), then,
for a process with jumps, ``steps`` Poisson jump counts and ``steps`` standard normals for the jump
sizes (one normal per step: ``n`` jumps of N(mean, sd²) sum to N(n mean, n sd²)). The diffusion
shocks of the scenario's :class:`Process` assets are then correlated as ``L @ Z``, with ``L`` the
Cholesky factor of the correlation matrix and the rows of ``Z`` in sorted asset-name order. So an
asset's path never depends on which *other* assets are asked for, and asking for more follower assets
leaves every stochastic asset's draws unchanged. NumPy's ``SeedSequence`` and ``PCG64`` are specified
bit for bit, so a seed gives the same arrays on any machine and in any process.
"""

import hashlib
from collections.abc import Sequence

import numpy as np

from crossmargin.model.errors import InputError
from crossmargin.sim.scenarios.model import Follow, PathSpec, Process, Scenario, ScenarioPath, Table

YEAR_SECONDS = 365 * 86400
"""Seconds in the year that annualized ``sigma`` and ``mu`` refer to."""

DAY_SECONDS = 86400
"""Seconds in the day that jump ``intensity`` (jumps a day) refers to."""

FLOOR, CEILING = float(np.exp(-700.0)), float(np.exp(700.0))
"""Factors are clipped to [e^-700, e^700] so that they stay finite and positive in float64, whatever the
parameters (a path that reaches the bounds has left any meaning behind long before)."""


def generate(scenario: Scenario, seed: int, assets: Sequence[str]) -> ScenarioPath:
    """The path of ``scenario`` for every asset in ``assets``, random draws keyed by ``seed`` (an int >= 0).

    Assets the scenario does not name follow its ``"*"`` rule, or stay at 1.0 without one. Named assets
    that are not asked for are not returned (but are computed when an asked asset follows them).
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError("seed", f"must be a whole number >= 0, got {seed!r}")
    if isinstance(assets, str):
        raise InputError("assets", "must be a sequence of asset names, not one string")
    wanted = list(dict.fromkeys(assets))
    for i, asset in enumerate(wanted):
        if not isinstance(asset, str) or not asset:
            raise InputError(f"assets[{i}]", f"must be a non-empty asset name, got {asset!r}")
    times = np.arange(scenario.steps + 1, dtype=np.float64) * scenario.step_seconds
    builder = _Builder(scenario, int(seed), times)
    factors = {asset: _frozen(np.clip(builder.factor(asset), FLOOR, CEILING)) for asset in wanted}
    return ScenarioPath(
        times=_frozen(times), factors=factors, depth=_frozen(depth(scenario, times)), faults=scenario.faults
    )


def depth(scenario: Scenario, times: np.ndarray) -> np.ndarray:
    """The order-book depth multiplier at ``times``: the product of the scenario's schedules (1.0 without)."""
    curve = np.ones_like(times, dtype=np.float64)
    for schedule in scenario.liquidity:
        ts, multipliers = zip(*schedule, strict=True)
        curve *= np.interp(times, np.asarray(ts, dtype=np.float64), np.asarray(multipliers, dtype=np.float64))
    return curve


def table_factors(table: Table, times: np.ndarray) -> np.ndarray:
    """The factors of ``table`` at ``times`` (linear or hold interpolation; held after the last point)."""
    ts = np.asarray(table.times, dtype=np.float64)
    fs = np.asarray(table.factors, dtype=np.float64)
    if table.interpolate == "linear":
        return np.asarray(np.interp(times, ts, fs), dtype=np.float64)
    index = np.searchsorted(ts, times, side="right") - 1
    return fs[np.maximum(index, 0)]


def table_factor(table: Table, t: float) -> float:
    """The factor of ``table`` at one time ``t`` (seconds): :func:`table_factors` at that time (a venue's own
    path, :class:`~crossmargin.sim.scenarios.model.VenuePrice`, is read one step at a time)."""
    return float(table_factors(table, np.asarray([t], dtype=np.float64))[0])


def stream(seed: int, asset: str) -> np.random.Generator:
    """The random generator of ``asset`` under ``seed``: independent of every other asset's."""
    digest = hashlib.sha256(asset.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


class _Builder:
    """Factor paths of one realization, computed on demand and memoized (followers reuse targets)."""

    def __init__(self, scenario: Scenario, seed: int, times: np.ndarray) -> None:
        self.scenario = scenario
        self.seed = seed
        self.times = times
        self.steps = scenario.steps
        self.dt = scenario.step_seconds / YEAR_SECONDS
        self.specs = dict(scenario.assets)
        self.memo: dict[str, np.ndarray] = {}
        self.shocks: dict[str, np.ndarray] | None = None
        self.draws: dict[str, np.random.Generator] = {}

    def factor(self, asset: str) -> np.ndarray:
        if asset not in self.memo:
            spec = self.specs.get(asset, self.scenario.others)
            self.memo[asset] = np.ones_like(self.times) if spec is None else self._build(asset, spec)
        return self.memo[asset]

    def _build(self, asset: str, spec: PathSpec) -> np.ndarray:
        if isinstance(spec, Table):
            return table_factors(spec, self.times)
        if isinstance(spec, Follow):
            path = np.power(self.factor(spec.target), spec.beta)
            if spec.sigma > 0:
                z = self._generator(asset).standard_normal(self.steps)
                noise = -0.5 * spec.sigma**2 * self.dt + spec.sigma * np.sqrt(self.dt) * z
                path = path * np.exp(_cumulative(noise))
            return np.asarray(path, dtype=np.float64)
        z = self._shock(asset)
        return np.asarray(np.exp(_cumulative(process_log_returns(spec, z, self._generator(asset), self.dt))))

    def _generator(self, asset: str) -> np.random.Generator:
        if asset not in self.draws:
            self.draws[asset] = stream(self.seed, asset)
        return self.draws[asset]

    def _shock(self, asset: str) -> np.ndarray:
        """The (correlated) diffusion shocks of a process asset; an unnamed one's are its own, uncorrelated."""
        if asset not in self.specs:
            return self._generator(asset).standard_normal(self.steps)
        if self.shocks is None:
            names = self.scenario.random_assets
            raw = np.stack([self._generator(name).standard_normal(self.steps) for name in names])
            if self.scenario.correlation:
                raw = np.linalg.cholesky(self.scenario.correlation_matrix(names)) @ raw
            self.shocks = dict(zip(names, raw, strict=True))
        return self.shocks[asset]


def process_log_returns(process: Process, z: np.ndarray, draws: np.random.Generator, dt: float) -> np.ndarray:
    """Per-step log-returns of ``process`` for shocks ``z`` (one a step); jump draws come from ``draws``.

    ``r = mu dt - h/2 + sqrt(h) z + J``; ``h = sigma² dt``, or with clustering the GARCH(1,1) variance
    ``h[0] = sigma² dt``, ``h[k+1] = omega + alpha e[k]² + beta h[k]`` where ``e = sqrt(h) z + J`` is the
    step's whole shock (so a jump raises the volatility after it) and ``omega = (1 - alpha - beta) sigma² dt``.
    """
    steps = z.shape[0]
    jumps = np.zeros(steps)
    if process.jumps is not None:
        counts = draws.poisson(process.jumps.intensity * dt * YEAR_SECONDS / DAY_SECONDS, steps)
        sizes = draws.standard_normal(steps)
        jumps = counts * process.jumps.mean + np.sqrt(counts) * process.jumps.sd * sizes
    base = process.sigma**2 * dt
    if process.clustering is None:
        return np.asarray((process.mu * dt - 0.5 * base) + np.sqrt(base) * z + jumps, dtype=np.float64)
    alpha, beta = process.clustering.alpha, process.clustering.beta
    omega = (1 - alpha - beta) * base
    h = np.empty(steps)
    shock = np.empty(steps)
    variance = base
    for k in range(steps):
        h[k] = variance
        shock[k] = np.sqrt(variance) * z[k] + jumps[k]
        variance = omega + alpha * shock[k] ** 2 + beta * variance
    return process.mu * dt - 0.5 * h + shock


def _cumulative(log_returns: np.ndarray) -> np.ndarray:
    """Log-factor path: 0 at ``t = 0``, then the running sum of the per-step log-returns."""
    path = np.zeros(log_returns.shape[0] + 1)
    np.cumsum(log_returns, out=path[1:])
    return path


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
