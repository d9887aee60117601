"""A realized-volatility index per underlying, from its price updates at irregular times (float64 model
figures, not ledger money).

Units: time in seconds. A *variance rate* is the variance of the log price per second (1/s); its square root
is a volatility per sqrt(second); the annualized volatility is that times ``sqrt(SECONDS_PER_YEAR)``, with a
year of 365 x 86,400 = 31,536,000 s (the calendar year of the document's ``vols`` and of option time), so
an annualized 0.8 is 80 % a year, 0.8 / sqrt(31,536,000) = 1.4246e-4 per sqrt(second).

Returns (:class:`EwmaVarianceRate`): an exponentially weighted average of squared log returns per unit time.
With prices ``p_0, p_1, ...`` at times ``t_0 <= t_1 <= ...``, the return ``r_j = ln(p_j / p_(j-1))`` over
``dt_j = t_j - t_(j-1)`` estimates the variance rate over its interval as ``r_j ** 2 / dt_j``. The index at
``t_n`` is the time average of these estimates over the instants ``u`` of ``(t_0, t_n]``, each instant
weighted ``2 ** (-(t_n - u) / h)`` (its age halving the weight every half-life ``h`` seconds):

    rate_n = sum_j (r_j ** 2 / dt_j) W_j / sum_j W_j,    W_j = integral over (t_(j-1), t_j] of 2 ** (-(t_n - u) / h) du

kept as two decayed sums: with ``d_j = 2 ** (-dt_j / h)`` and ``s_j = (h / ln 2)(1 - d_j)`` (the weight of
an interval ending now; ``dt_j`` for a short one),

    A_j = d_j A_(j-1) + (s_j / dt_j) r_j ** 2     (weighted squared log returns)
    B_j = d_j B_(j-1) + s_j                        (weighted time, s)
    rate = A_j / B_j                               (1/s)

Zero-mean, as RiskMetrics' EWMA (:mod:`crossmargin.margin.ewma`), whose recursion takes one row as its unit of
time; here each return counts for the time it spans, however irregular the updates. For a log price that
is Brownian with variance rate ``sigma ** 2`` (no drift), ``E[r_j ** 2] = sigma ** 2 dt_j``, so the estimate
is unbiased whatever the spacing; before any decay it is the plain realized variance over the elapsed time.
An interval longer than ``max_gap_s`` (a feed silent for a day, or a document's price followed by a feed
that starts later) gives no estimate: its instants get no weight, what came before still decays over it.
The index is as of the last update (time without an update is counted when the next one comes). Two
updates at one time add their return with no time: the rate stays undefined (None) until time has passed.

Ranges (:class:`RangeVarianceRate`), when open-high-low-close bars of a fixed length are at hand (exchange
candles): per bar of ``W`` seconds, Parkinson's (1980) ``(ln(H/L)) ** 2 / (4 ln 2)`` or Garman and Klass's
(1980) ``0.5 (ln(H/L)) ** 2 - (2 ln 2 - 1) (ln(C/O)) ** 2``, unbiased estimates of the bar's variance for a
continuously watched driftless Brownian log price (about five and seven times as efficient as one squared
close-to-close return); averaged over bars with the same half-life weights (each bar weighs its ``W``
seconds). High and low watched at a few points (a range made from sparse updates) understate the
true range, so these are for real bars.

The index of a book (:class:`RealizedVolatilityIndex`) keeps one :class:`RealizedVolatility` per priced
asset (underlyings and collateral alike), each with one return estimator per half-life (1 hour, 4 hours and
1 day by default, :data:`HALF_LIVES_S`). The engine loop feeds it every index price that changed
(:mod:`crossmargin.live.loop`); its annualized figure is what
:meth:`crossmargin.margin.volatility.VolatilityIndex.observe` takes, should margin be scaled by it.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from crossmargin.model import InputError

SECONDS_PER_YEAR = 365.0 * 86400.0
"""Seconds in the year annualized figures are per (365 days of 86,400 s)."""
HALF_LIVES_S = (3600.0, 14400.0, 86400.0)
"""The index's default half-lives, seconds: one hour, four hours and one day (the first is its headline
figure)."""
MAX_GAP_S = 86400.0
"""The longest interval between two prices whose return the index counts, seconds (see module doc)."""
_LN2 = math.log(2.0)


def annualized(variance_rate: float) -> float:
    """The annualized volatility of a variance rate (1/s): ``sqrt(rate x SECONDS_PER_YEAR)``."""
    return math.sqrt(variance_rate * SECONDS_PER_YEAR)


def per_sqrt_second(volatility: float) -> float:
    """An annualized volatility per sqrt(second): ``volatility / sqrt(SECONDS_PER_YEAR)``."""
    return volatility / math.sqrt(SECONDS_PER_YEAR)


def interval_weights(dt: float, half_life_s: float) -> tuple[float, float]:
    """``(d, s)`` of an interval of ``dt`` seconds (>= 0) under a half-life of ``half_life_s`` seconds (module
    doc): ``d = 2 ** (-dt / h)``, the decay of what came before, and ``s = (h / ln 2)(1 - d)``, the interval's
    own weight in seconds."""
    if not (math.isfinite(dt) and dt >= 0.0):
        raise InputError("dt", f"must be a finite number of seconds >= 0, got {dt!r}")
    exponent = -dt * _LN2 / half_life_s
    return math.exp(exponent), -math.expm1(exponent) * half_life_s / _LN2


def check_positive(value: float, name: str) -> float:
    """``value`` if it is a finite number > 0, else an InputError naming ``name``."""
    if not (math.isfinite(value) and value > 0.0):
        raise InputError(name, f"must be a finite number > 0, got {value!r}")
    return value


@dataclass
class EwmaVarianceRate:
    """Exponentially weighted squared log returns per unit time, one half-life (see module doc):
    ``squares`` (``A``, log-return squared) and ``seconds`` (``B``, s) are its decayed sums."""

    half_life_s: float
    squares: float = 0.0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self.half_life_s, "half_life_s")

    def add(self, log_return: float, dt: float) -> None:
        """Take a log return spanning ``dt`` seconds (>= 0) after the last."""
        if not math.isfinite(log_return):
            raise InputError("log_return", f"must be finite, got {log_return!r}")
        keep, weight = interval_weights(dt, self.half_life_s)
        self.squares = keep * self.squares + (weight / dt if dt > 0.0 else 1.0) * log_return * log_return
        self.seconds = keep * self.seconds + weight

    def skip(self, dt: float) -> None:
        """Let ``dt`` seconds pass with no estimate (a gap): what came before decays."""
        keep, _ = interval_weights(dt, self.half_life_s)
        self.squares *= keep
        self.seconds *= keep

    @property
    def rate(self) -> float | None:
        """The variance rate (1/s); None before any time has passed."""
        return self.squares / self.seconds if self.seconds > 0.0 else None


class RangeEstimator(StrEnum):
    """A bar's variance from its range (see module doc)."""

    PARKINSON = "parkinson"
    GARMAN_KLASS = "garman-klass"


@dataclass(frozen=True)
class Bar:
    """One bar of ``seconds`` from ``start`` (s): open, high, low and close prices (> 0, the high and low
    bounding the others)."""

    start: float
    seconds: float
    open: float
    high: float
    low: float
    close: float

    def __post_init__(self) -> None:
        check_positive(self.seconds, "seconds")
        for name in ("open", "high", "low", "close"):
            check_positive(getattr(self, name), name)
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise InputError("high", f"a bar needs low <= open, close <= high, got {self}")


def bar_variance(bar: Bar, estimator: RangeEstimator = RangeEstimator.PARKINSON) -> float:
    """The variance of the log price over ``bar`` by ``estimator`` (see module doc; not per second). Garman and
    Klass's can be slightly negative for a bar whose close is far from its open within a narrow range; it is
    kept so (clipping would bias the average up)."""
    spread = math.log(bar.high / bar.low)
    if estimator is RangeEstimator.PARKINSON:
        return spread * spread / (4.0 * _LN2)
    body = math.log(bar.close / bar.open)
    return 0.5 * spread * spread - (2.0 * _LN2 - 1.0) * body * body


@dataclass
class RangeVarianceRate:
    """The half-life weighted average of bars' range variances per unit time (see module doc):
    ``variance`` and ``seconds`` are its decayed sums; bars come in time order."""

    half_life_s: float
    estimator: RangeEstimator = RangeEstimator.PARKINSON
    variance: float = 0.0
    seconds: float = 0.0
    end: float | None = None

    def __post_init__(self) -> None:
        check_positive(self.half_life_s, "half_life_s")

    def add(self, bar: Bar) -> None:
        """Take the next bar (starting at or after the last one's end): what came before decays over the time
        from the last bar's end to this one's end."""
        if self.end is not None and bar.start < self.end:
            raise InputError("start", f"a bar starting at or after {self.end}, got {bar.start}")
        end = bar.start + bar.seconds
        keep = 2.0 ** (-(end - (self.end if self.end is not None else end)) / self.half_life_s)
        self.variance = keep * self.variance + bar_variance(bar, self.estimator)
        self.seconds = keep * self.seconds + bar.seconds
        self.end = end

    @property
    def rate(self) -> float | None:
        """The variance rate (1/s); None before the first bar."""
        return self.variance / self.seconds if self.seconds > 0.0 else None


@dataclass
class RealizedVolatility:
    """One underlying's return estimators, one per half-life, fed its price updates (see module doc)."""

    half_lives_s: tuple[float, ...] = HALF_LIVES_S
    max_gap_s: float = MAX_GAP_S
    price: float | None = None
    t: float | None = None
    returns: int = 0
    estimators: tuple[EwmaVarianceRate, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.half_lives_s:
            raise InputError("half_lives_s", "needs at least one half-life")
        check_positive(self.max_gap_s, "max_gap_s")
        self.estimators = tuple(EwmaVarianceRate(h) for h in self.half_lives_s)

    def observe(self, t: float, price: float) -> None:
        """Take the price at ``t`` seconds (not before the last update's time); the first only starts the
        index, one after a gap longer than :attr:`max_gap_s` starts it again (history decayed, kept)."""
        check_positive(price, "price")
        if not math.isfinite(t) or (self.t is not None and t < self.t):
            raise InputError("t", f"a finite time not before {self.t}, got {t!r}")
        if self.price is not None and self.t is not None:
            dt = t - self.t
            if dt > self.max_gap_s:
                for estimator in self.estimators:
                    estimator.skip(dt)
            else:
                log_return = math.log(price / self.price)
                for estimator in self.estimators:
                    estimator.add(log_return, dt)
                self.returns += 1
        self.price, self.t = price, t

    def variance_rate(self, half_life_s: float | None = None) -> float | None:
        """The variance rate (1/s) at ``half_life_s`` (one of :attr:`half_lives_s`; default: the first);
        None before any time has passed."""
        if half_life_s is None:
            return self.estimators[0].rate
        for estimator in self.estimators:
            if estimator.half_life_s == half_life_s:
                return estimator.rate
        raise InputError("half_life_s", f"one of {list(self.half_lives_s)}, got {half_life_s!r}")

    def annualized(self, half_life_s: float | None = None) -> float | None:
        """The annualized volatility at ``half_life_s`` (as :meth:`variance_rate`)."""
        rate = self.variance_rate(half_life_s)
        return None if rate is None else annualized(rate)


class RealizedVolatilityIndex:
    """A :class:`RealizedVolatility` per asset, created at its first price (see module doc)."""

    def __init__(self, half_lives_s: tuple[float, ...] = HALF_LIVES_S, max_gap_s: float = MAX_GAP_S) -> None:
        if not half_lives_s:
            raise InputError("half_lives_s", "needs at least one half-life")
        for h in half_lives_s:
            check_positive(h, "half_lives_s")
        check_positive(max_gap_s, "max_gap_s")
        self.half_lives_s = half_lives_s
        self.max_gap_s = max_gap_s
        self.assets: dict[str, RealizedVolatility] = {}

    def observe(self, t: float, prices: Mapping[str, float]) -> None:
        """Take each asset's price at ``t`` seconds (assets not named keep theirs)."""
        for asset, price in prices.items():
            if asset not in self.assets:
                self.assets[asset] = RealizedVolatility(self.half_lives_s, self.max_gap_s)
            try:
                self.assets[asset].observe(t, price)
            except InputError as err:
                raise err.within(f"prices.{asset}") from None

    def annualized(self, half_life_s: float | None = None) -> dict[str, float]:
        """Asset -> annualized volatility at ``half_life_s`` (default: the first), assets with an estimate
        only, sorted by name."""
        found = {name: index.annualized(half_life_s) for name, index in sorted(self.assets.items())}
        return {name: value for name, value in found.items() if value is not None}
