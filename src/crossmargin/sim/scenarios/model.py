"""A stress scenario as data: price-path specs per asset, oracle faults and a liquidity schedule.

Units and conventions, everywhere in this package:

- **Times** are seconds from the start of the scenario (``t = 0``), as floats.
- A **factor** is an asset's price divided by its price at ``t = 0`` (1.0 at the start; 0.7 is 30 % down).
  Paths are factors, so one scenario moves a book at any price level.
- **Volatilities** (``sigma``) and **drifts** (``mu``) are annualized, on log-returns, with a 365-day year:
  a step of ``step_seconds`` has ``dt = step_seconds / (365 * 86400)`` years.
- **Depth** is a multiplier on order-book depth: 1.0 normal, 0.2 a fifth of the normal depth.
- **Oracle sources** of every symbol are named ``s1``, ``s2``, ``s3``; a fault names one of them.

The classes here are plain frozen records checked on construction; :mod:`crossmargin.sim.scenarios.load`
builds them from YAML and :mod:`crossmargin.sim.scenarios.paths` turns a :class:`Scenario` into a
:class:`ScenarioPath`. A bad value raises :class:`~crossmargin.model.errors.InputError` naming its field.
"""

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crossmargin.model.errors import InputError

SOURCES = ("s1", "s2", "s3")
"""The oracle sources the runner gives every symbol; faults name one of them."""

OTHERS = "*"
"""The asset key of the rule for every asset a scenario does not name."""


def _finite(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, f"must be a finite number, got {value!r}")
    return float(value)


def _positive(value: float, field: str) -> float:
    if _finite(value, field) <= 0:
        raise InputError(field, f"must be positive, got {value!r}")
    return float(value)


def _non_negative(value: float, field: str) -> float:
    if _finite(value, field) < 0:
        raise InputError(field, f"must not be negative, got {value!r}")
    return float(value)


def _name(value: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, f"must be a non-empty name, got {value!r}")
    return value


def _source(value: str) -> str:
    if value not in SOURCES:
        raise InputError("source", f"must be one of {', '.join(SOURCES)}, got {value!r}")
    return value


def _window(start: float, end: float) -> None:
    _non_negative(start, "start")
    if _finite(end, "end") <= start:
        raise InputError("end", f"must be after start ({start}), got {end!r}")


# --- faults -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaleSource:
    """Oracle source ``source`` stops reporting ``symbol`` during ``[start, end)`` seconds."""

    symbol: str
    source: str
    start: float
    end: float

    def __post_init__(self) -> None:
        _name(self.symbol, "symbol")
        _source(self.source)
        _window(self.start, self.end)


@dataclass(frozen=True)
class Spike:
    """At time ``at`` (seconds), oracle source ``source`` reports ``symbol`` at its price x ``factor``, once."""

    symbol: str
    source: str
    at: float
    factor: float

    def __post_init__(self) -> None:
        _name(self.symbol, "symbol")
        _source(self.source)
        _non_negative(self.at, "at")
        _positive(self.factor, "factor")


@dataclass(frozen=True)
class ThinMarket:
    """A manipulated thin market: during ``[start, end)`` every traded-price source of instrument or asset
    ``symbol`` reports its price x ``factor``."""

    symbol: str
    start: float
    end: float
    factor: float

    def __post_init__(self) -> None:
        _name(self.symbol, "symbol")
        _window(self.start, self.end)
        _positive(self.factor, "factor")


@dataclass(frozen=True)
class Depeg:
    """A collateral depeg on one venue: during ``[start, end)`` oracle source ``source`` reports ``asset`` at
    ``price`` (base currency, an absolute price, not a factor)."""

    asset: str
    source: str
    start: float
    end: float
    price: float

    def __post_init__(self) -> None:
        _name(self.asset, "asset")
        _source(self.source)
        _window(self.start, self.end)
        _positive(self.price, "price")


@dataclass(frozen=True)
class VenuePrice:
    """A venue-specific price: during ``[start, end)`` oracle source ``source`` (one venue) prices ``asset`` on
    its own book while the other sources report the market's path. It reports either ``price`` (base
    currency, an absolute price) or, with ``factors``, the asset's price at ``t = 0`` x the table's factor at
    ``t`` (the venue's own path, on the scenario's clock and interpolated like an asset's table). Whether the
    book's accounts see it depends on the oracle: the median of the sources filters one venue out, own-venue
    pricing (``price_source``, docs/oracle.md) takes it."""

    asset: str
    source: str
    start: float
    end: float
    price: float | None = None
    factors: "Table | None" = None  # defined below, with the path specs

    def __post_init__(self) -> None:
        _name(self.asset, "asset")
        _source(self.source)
        _window(self.start, self.end)
        if (self.price is None) == (self.factors is None):
            raise InputError("price", "give exactly one of price, factors")
        if self.price is not None:
            _positive(self.price, "price")
        elif not isinstance(self.factors, Table):
            raise InputError("factors", f"must be a table of factors, got {type(self.factors).__name__}")


Fault = StaleSource | Spike | ThinMarket | Depeg | VenuePrice


def fault_symbol(fault: Fault) -> str:
    """The symbol (asset or instrument) ``fault`` changes the reports of."""
    return fault.asset if isinstance(fault, Depeg | VenuePrice) else fault.symbol


def fault_kind(fault: Fault) -> str:
    """The YAML key of ``fault``'s kind."""
    kinds: dict[type, str] = {
        StaleSource: "stale", Spike: "spike", ThinMarket: "thin_market", Depeg: "depeg", VenuePrice: "venue_price",
    }  # fmt: skip
    return kinds[type(fault)]


# --- path specs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A deterministic path given by points: ``factors[i]`` at ``times[i]`` seconds.

    ``times`` start at 0 and increase strictly; ``factors`` are positive and ``factors[0] == 1``. Between
    points the factor is ``"linear"``-ly interpolated or the last point's value is ``"hold"``-ed; after
    the last point it is held. ``origin`` says where the points came from (``"inline"`` or a file name).
    """

    times: tuple[float, ...]
    factors: tuple[float, ...]
    interpolate: Literal["linear", "hold"] = "linear"
    origin: str = "inline"

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.factors):
            raise InputError("points", "a table needs at least one point, and a factor for every time")
        if self.times[0] != 0:
            raise InputError("points[0]", f"a table starts at t = 0, got t = {self.times[0]!r}")
        if self.factors[0] != 1:
            raise InputError("points[0]", f"a table of factors starts at 1.0, got {self.factors[0]!r}")
        for i, (t, f) in enumerate(zip(self.times, self.factors, strict=True)):
            _non_negative(t, f"points[{i}].t")
            _positive(f, f"points[{i}].factor")
            if i and t <= self.times[i - 1]:
                raise InputError(f"points[{i}].t", f"times must increase, got {t!r} after {self.times[i - 1]!r}")
        if self.interpolate not in ("linear", "hold"):
            raise InputError("interpolate", f"must be linear or hold, got {self.interpolate!r}")

    @property
    def span(self) -> float:
        """Seconds from the start to the last point."""
        return self.times[-1]


@dataclass(frozen=True)
class Jumps:
    """Poisson jumps: ``intensity`` jumps a day on average (at most 1,000: beyond that a path is noise at the
    price floor, not a crash); each jump's log-size is N(``mean``, ``sd``²), ``mean`` and ``sd`` at most 10
    in size (a jump of e^10)."""

    intensity: float
    mean: float
    sd: float

    def __post_init__(self) -> None:
        _non_negative(self.intensity, "intensity")
        if self.intensity > 1000:
            raise InputError("intensity", f"must be at most 1000 jumps a day, got {self.intensity!r}")
        _finite(self.mean, "mean")
        _non_negative(self.sd, "sd")
        if abs(self.mean) > 10 or self.sd > 10:
            raise InputError("mean" if abs(self.mean) > 10 else "sd", "a jump's log-size must be within 10 in size")


@dataclass(frozen=True)
class Clustering:
    """GARCH(1,1) volatility clustering: per-step variance ``h' = omega + alpha e² + beta h``, with
    ``omega = (1 - alpha - beta) sigma² dt`` so that the long-run variance is the process's ``sigma``."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        _non_negative(self.alpha, "alpha")
        _non_negative(self.beta, "beta")
        if self.alpha + self.beta >= 1:
            raise InputError("beta", f"alpha + beta must be below 1 (stationary), got {self.alpha + self.beta!r}")


@dataclass(frozen=True)
class Process:
    """A random path: log-returns of a diffusion with annualized volatility ``sigma`` and drift ``mu``.

    Per step: ``r = mu dt - h/2 + sqrt(h) z + J`` with ``z`` a standard normal shock (correlated across
    assets by the scenario's correlation), ``h = sigma² dt`` (or the GARCH variance with ``clustering``)
    and ``J`` the sum of the step's jumps (none without ``jumps``). Jumps are not compensated: negative
    mean jumps pull the path down, which is the crash.
    """

    sigma: float
    mu: float = 0.0
    jumps: Jumps | None = None
    clustering: Clustering | None = None

    def __post_init__(self) -> None:
        _positive(self.sigma, "sigma")
        if self.sigma > 50:
            raise InputError("sigma", f"must be at most 50 (5000 % a year), got {self.sigma!r}")
        _finite(self.mu, "mu")

    @property
    def kind(self) -> Literal["gbm", "jump", "garch"]:
        """The YAML key of this process."""
        if self.clustering is not None:
            return "garch"
        return "jump" if self.jumps is not None else "gbm"


@dataclass(frozen=True)
class Follow:
    """Log-returns ``beta`` x those of asset ``target``, plus, with ``sigma`` > 0, an independent
    zero-mean-factor noise of annualized volatility ``sigma``: ``log f = beta log f_target + noise``."""

    target: str
    beta: float = 1.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        _name(self.target, "follow")
        if self.target == OTHERS:
            raise InputError("follow", "must name an asset, not the '*' rule")
        _finite(self.beta, "beta")
        _non_negative(self.sigma, "sigma")
        if self.sigma > 50:
            raise InputError("sigma", f"must be at most 50 (5000 % a year), got {self.sigma!r}")


PathSpec = Table | Process | Follow


def is_random(spec: PathSpec) -> bool:
    """Whether the path of ``spec`` depends on the seed."""
    return isinstance(spec, Process) or (isinstance(spec, Follow) and spec.sigma > 0)


# --- the scenario -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ScenarioPath:
    """One realization of a scenario, on the grid ``times`` (read-only float64 arrays).

    ``factors[asset]`` is the asset's price over its price at ``t = 0``; ``depth`` the order-book depth
    multiplier; ``faults`` the oracle and market faults, in seconds on the same clock.
    """

    times: np.ndarray
    factors: dict[str, np.ndarray]
    depth: np.ndarray
    faults: tuple[Fault, ...]


@dataclass(frozen=True)
class Scenario:
    """A named stress scenario: what moves how, which oracle sources fail, how deep the books stay.

    ``assets`` are the named assets' path specs (sorted by name); ``others`` the ``"*"`` rule for assets
    the scenario does not name (``None``: they stay at 1.0). ``correlation`` holds ``(a, b, rho)`` with
    ``a < b`` between the shocks of :class:`Process` assets. ``liquidity`` holds depth schedules of
    ``(t, multiplier)`` points, interpolated linearly and held after the last point; the depth is their
    product (one schedule per scenario composed in). ``includes`` names the scenarios composed in.
    """

    name: str
    title: str
    description: str
    sources: tuple[tuple[str, str], ...]
    step_seconds: int
    steps: int
    assets: tuple[tuple[str, PathSpec], ...] = ()
    others: PathSpec | None = None
    correlation: tuple[tuple[str, str, float], ...] = ()
    faults: tuple[Fault, ...] = ()
    liquidity: tuple[tuple[tuple[float, float], ...], ...] = ()
    includes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _name(self.name, "name")
        for field, value in (("step_seconds", self.step_seconds), ("steps", self.steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(field, f"must be a whole number >= 1, got {value!r}")
        specs = dict(self.assets)
        if len(specs) != len(self.assets) or OTHERS in specs:
            raise InputError("assets", "asset names must be unique, and '*' goes in `others`")
        for name, spec in (*self.assets, (OTHERS, self.others)):
            if isinstance(spec, Follow) and spec.target not in specs:
                raise InputError(f"assets.{name}.follow", f"follows {spec.target!r}, which the scenario does not name")
        for name in specs:
            self._check_chain(name, specs)
        self._check_correlation(specs)
        for i, schedule in enumerate(self.liquidity):
            _check_schedule(schedule, f"liquidity[{i}]" if len(self.liquidity) > 1 else "liquidity")

    def _check_chain(self, name: str, specs: dict[str, PathSpec]) -> None:
        seen = [name]
        spec = specs[name]
        while isinstance(spec, Follow):
            if spec.target in seen:
                raise InputError(
                    f"assets.{name}.follow", f"follow rules form a cycle: {' -> '.join([*seen, spec.target])}"
                )
            seen.append(spec.target)
            spec = specs[spec.target]

    def _check_correlation(self, specs: dict[str, PathSpec]) -> None:
        names = self.random_assets
        pairs: set[tuple[str, str]] = set()
        for a, b, rho in self.correlation:
            field = f"correlation.{a}.{b}"
            for asset in (a, b):
                if not isinstance(specs.get(asset), Process):
                    raise InputError(field, f"{asset!r} is not a gbm/jump/garch asset of the scenario")
            if a >= b:
                raise InputError(field, "pairs are stored with the names in sorted order and differ")
            if (a, b) in pairs:
                raise InputError(field, "is given twice")
            pairs.add((a, b))
            if not -1 <= _finite(rho, field) <= 1:
                raise InputError(field, f"must be between -1 and 1, got {rho!r}")
        if self.correlation:
            try:
                np.linalg.cholesky(self.correlation_matrix(names))
            except np.linalg.LinAlgError:
                raise InputError(
                    "correlation", "is not positive definite: no set of shocks can have these correlations"
                ) from None

    @property
    def random_assets(self) -> tuple[str, ...]:
        """The named assets driven by a :class:`Process`, sorted: the rows of the correlation matrix."""
        return tuple(name for name, spec in self.assets if isinstance(spec, Process))

    def correlation_matrix(self, names: Sequence[str]) -> np.ndarray:
        """The correlation matrix of the shocks of ``names`` (identity where no correlation is given)."""
        index = {name: i for i, name in enumerate(names)}
        matrix = np.eye(len(names))
        for a, b, rho in self.correlation:
            if a in index and b in index:
                matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
        return matrix

    @property
    def stochastic(self) -> bool:
        """True when any path component is random (then the seed matters)."""
        return any(is_random(spec) for _, spec in self.assets) or (self.others is not None and is_random(self.others))

    @property
    def duration(self) -> float:
        """Seconds from the start to the end of the path: ``steps x step_seconds``."""
        return float(self.steps * self.step_seconds)

    def spec(self, asset: str) -> PathSpec | None:
        """The path spec that moves ``asset``: its own, else the ``"*"`` rule, else ``None`` (held at 1.0)."""
        return dict(self.assets).get(asset, self.others)

    def warnings(
        self, assets: Collection[str], instruments: Collection[str] = (), base: str | None = None
    ) -> tuple[str, ...]:
        """What of the scenario changes nothing on a book whose sources report ``assets`` (its priced assets,
        the base ``base`` left out) and whose marked instruments are ``instruments``: each named asset the book
        has no price for and none of its assets follows (a path on the base only when it moves: fixing the
        base at 1.0 agrees with it), and
        each fault on a symbol the book's sources never report (an asset for ``depeg`` and ``venue_price``, an
        asset or an instrument for the others), once per kind, symbol and source. One line each, naming the
        scenario and the symbol, in the scenario's order: paths, then faults."""
        priced, marked = set(assets), set(instruments)

        def missing(symbol: str, wanted: str) -> str:
            if symbol == base:
                return f"{symbol} is the book's base currency (priced 1 by definition)"
            if symbol in marked:
                return f"{symbol} is an instrument of the book, and {wanted}"
            return f"the book has no {symbol}"

        followed: set[str] = set()  # named assets whose paths the book's assets follow
        for asset in priced:
            spec = self.spec(asset)
            while isinstance(spec, Follow) and spec.target not in followed:
                followed.add(spec.target)
                spec = self.spec(spec.target)
        lines = []
        for name, spec in self.assets:
            fixed = isinstance(spec, Table) and all(f == 1 for f in spec.factors)
            if name not in priced | followed and not (name == base and fixed):
                lines.append(
                    f"{self.name}: the path of {name} is not used: "
                    + missing(name, "a path moves an asset (an instrument's mark follows its underlying)")
                )
        seen: set[tuple[str, str, str]] = set()
        for fault in self.faults:
            symbol, kind = fault_symbol(fault), fault_kind(fault)
            source = getattr(fault, "source", "")
            if (kind, symbol, source) in seen:
                continue
            seen.add((kind, symbol, source))
            reported = symbol in priced or (symbol in marked and not isinstance(fault, Depeg | VenuePrice))
            if not reported:
                on = f" (source {source})" if source else ""
                lines.append(
                    f"{self.name}: the {kind} fault on {symbol}{on} changes nothing: "
                    + missing(symbol, f"a {kind} fault prices an asset")
                )
        return tuple(lines)


def _check_schedule(points: tuple[tuple[float, float], ...], field: str) -> None:
    if not points:
        raise InputError(field, "a depth schedule needs at least one point")
    if points[0][0] != 0:
        raise InputError(f"{field}[0]", f"a depth schedule starts at t = 0, got t = {points[0][0]!r}")
    for i, (t, multiplier) in enumerate(points):
        _non_negative(t, f"{field}[{i}].t")
        _positive(multiplier, f"{field}[{i}].multiplier")
        if i and t <= points[i - 1][0]:
            raise InputError(f"{field}[{i}].t", f"times must increase, got {t!r} after {points[i - 1][0]!r}")
