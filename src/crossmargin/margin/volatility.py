"""Volatility-scaled requirements (:class:`~crossmargin.model.rules.VolatilityScaling`): the multiplier of
an underlying's margin requirements, and the smoothed index and slow release a live book keeps over time.

``multiplier`` is the static rule: ``clamp(index / reference, floor, cap)`` with the index the
underlying's annualized volatility at moneyness 1 in the market's ``vols`` (an underlying without one
keeps the floor). :class:`VolatilityIndex` is its dynamic form: it smooths the observed volatility by an
exponential moving average of half-life ``half_life_days`` and lets the multiplier fall by at most
``max_daily_fall`` of itself a day (rises apply at once), the anti-procyclicality that keeps margin from
whipsawing with every calm hour after a shock.

:func:`requirement_multiplier` is what both evaluators apply to a position's requirements: the static
multiplier under volatility scaling (1 without it) times the market's margin multiplier of the underlying,
which a venue's risk action sets (:attr:`crossmargin.model.Market.margin_multipliers`).
"""

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.valuation import atm_vol
from crossmargin.model import Market
from crossmargin.model.numbers import ONE
from crossmargin.model.rules import VolatilityScaling

SECONDS_PER_DAY = 86400.0


def multiplier(market: Market, underlying: str, terms: VolatilityScaling) -> Decimal:
    """The static multiplier of ``underlying``'s requirements (see module doc), 6 decimals."""
    index = atm_vol(market, underlying)
    if index is None:
        return terms.floor
    ratio = Decimal(f"{index / float(terms.reference):.6f}")
    return min(terms.cap, max(terms.floor, ratio))


def requirement_multiplier(market: Market, underlying: str, terms: VolatilityScaling | None) -> Decimal:
    """The multiplier of the requirements of a position on ``underlying``: :func:`multiplier` under ``terms``
    (1 without volatility scaling) x the market's margin multiplier of ``underlying`` (1 when none is set)."""
    scaled = ONE if terms is None else multiplier(market, underlying, terms)
    return scaled * market.margin_multiplier(underlying)


@dataclass
class VolatilityIndex:
    """One underlying's smoothed volatility and multiplier over time (see module doc); ``observe`` a new
    volatility at time ``t`` (seconds) and read ``multiplier``."""

    terms: VolatilityScaling
    smoothed: float | None = None
    multiplier: float = 1.0
    t: float | None = None

    def observe(self, vol: float, t: float) -> float:
        """Take a volatility observed at ``t`` (after the last); the new multiplier."""
        if vol < 0 or (self.t is not None and t < self.t):
            raise ValueError(f"a volatility >= 0 at a time not before {self.t}, got {vol} at {t}")
        floor, cap = float(self.terms.floor), float(self.terms.cap)
        if self.smoothed is None or self.t is None:
            self.smoothed, self.t = vol, t
            self.multiplier = min(cap, max(floor, vol / float(self.terms.reference)))
            return self.multiplier
        days = (t - self.t) / SECONDS_PER_DAY
        keep = 0.5 ** (days / float(self.terms.half_life_days))
        self.smoothed = keep * self.smoothed + (1 - keep) * vol
        target = min(cap, max(floor, self.smoothed / float(self.terms.reference)))
        lowest = self.multiplier * (1 - float(self.terms.max_daily_fall)) ** days
        self.multiplier = max(target, lowest) if target < self.multiplier else target
        self.t = t
        return self.multiplier
