"""A venue's risk agent: margin requirements that rise with the volatility index at once and come down
slowly, published as the loop's :class:`~crossmargin.live.events.MarginMultipliers` events.

For each underlying ``u`` margined (every instrument's, or those named), after each price batch at time
``t`` (seconds), with ``v`` its annualized realized volatility (the loop's index; none yet: the reference)::

    target = clamp(v / reference_volatility, 1, cap)
    level  = target                                              when target >= the level before (a rise: at once)
           = max(target, level_before x (1 - max_daily_fall) ^ days)   otherwise (a release, days = dt / 86400)
    published = level (to 12 digits) rounded up to a multiple of ``step``, at most the cap

and a :class:`~crossmargin.live.events.MarginMultipliers` event is answered when a published multiplier
differs from the one the state holds. The multiplier scales every requirement of positions on ``u``, both
maintenance and initial (a maximum leverage ``1 / imr`` falls to ``1 / (m x imr)``): the exact evaluator and
the risk book's kernels apply it alike (:func:`crossmargin.margin.volatility.requirement_multiplier`).
Raising maintenance in a crash liquidates sooner: whether that lowers the bad debt or only adds
liquidations is what the evidence (docs/agents.md) measures. Not done: open-interest limits and an
initial-only multiplier (they act on new orders, and a stress run has no order flow; the multiplier acts on
the standing book).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from crossmargin.live import events as live
from crossmargin.margin.volatility import SECONDS_PER_DAY
from crossmargin.model.numbers import exact, from_float
from crossmargin.sim.agents.config import VenueAgentConfig
from crossmargin.sim.agents.protocol import Action, AgentView


@dataclass
class MultiplierPath:
    """One underlying's multiplier over time (module doc): :meth:`observe` a volatility at a time, read the
    published multiplier."""

    config: VenueAgentConfig
    level: float = 1.0
    t: float | None = None
    published: Decimal = field(default=Decimal(1))

    def observe(self, t: float, volatility: float | None) -> Decimal:
        """The published multiplier after ``volatility`` (annualized; None: no estimate) at ``t`` (seconds, not
        before the last)."""
        config = self.config
        ratio = 1.0 if volatility is None else volatility / config.reference_volatility
        target = min(config.cap, max(1.0, ratio))
        if target >= self.level or self.t is None:
            self.level = max(target, self.level)
        else:
            days = max(0.0, t - self.t) / SECONDS_PER_DAY
            self.level = max(target, self.level * (1.0 - config.max_daily_fall) ** days)
        self.t = t
        step = Decimal(repr(config.step))
        with exact():
            steps = (from_float(self.level) / step).to_integral_value(ROUND_CEILING)
            self.published = min(steps * step, Decimal(repr(config.cap)).max(Decimal(1)))
        return self.published


class VenueRiskAgent:
    """The venue's risk agent over ``underlyings`` (module doc)."""

    def __init__(self, config: VenueAgentConfig, underlyings: Sequence[str]) -> None:
        self.config = config
        self.name = config.name
        self.paths = {u: MultiplierPath(config) for u in (config.underlyings or underlyings)}

    def act(self, view: AgentView) -> list[Action]:
        """A margin-multiplier event when a published multiplier changed (module doc)."""
        volatility = view.volatility(self.config.half_life_s)
        t = float(view.time)
        market = view.state.market
        changed: dict[str, Decimal] = {}
        for underlying, path in self.paths.items():
            if path.t is None:  # taking over: start from what the state holds
                path.level = float(market.margin_multiplier(underlying))
            vol = volatility.get(underlying)
            published = path.observe(t, None if vol is None or not math.isfinite(vol) else vol)
            if published != market.margin_multiplier(underlying):
                changed[underlying] = published
        if not changed:
            return []
        event = live.MarginMultipliers(
            seq=0, time=view.time, id=f"{self.name}|{view.time.normalize():f}", multipliers=changed
        )
        note = ", ".join(f"{u} x{m}" for u, m in sorted(changed.items()))
        return [Action(self.name, event, note)]
