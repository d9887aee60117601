"""A venue's risk agent: margin requirements that rise with the volatility index at once and come down
slowly, published as the loop's :class:`~crossmargin.live.events.MarginMultipliers` events, and (if asked)
open-interest limits that tighten with them.

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
liquidations is what the evidence (docs/agents.md) measures.

Open-interest limits (``open_interest_headroom`` set, a share ``h``): while an underlying's published
multiplier ``m`` is above 1, each instrument ``i`` on it is limited to::

    limit_i = OI_i x (1 + h) / m          (contracts, rounded down to 1e-8)

``OI_i`` its long open interest (the market's positions counted) when the multiplier last rose from 1. The
limit falls at once as ``m`` rises and is released as slowly as ``m``; once ``m`` is back at 1 the limits
are lifted. They are published as an :class:`~crossmargin.live.events.OpenInterestLimits` event after the
multipliers' when one changes: the clearing state refuses a trade that would raise the open interest above
its limit (new risk: a trader's hedge) and lets every trade that lowers it, and every liquidation, pass.
Not done: an initial-only multiplier (the multiplier raises initial margin with maintenance).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from crossmargin.live import events as live
from crossmargin.margin.volatility import SECONDS_PER_DAY
from crossmargin.model.numbers import ONE, exact, from_float
from crossmargin.sim.agents.config import VenueAgentConfig
from crossmargin.sim.agents.protocol import Action, AgentView

LIMIT_QUANTUM = Decimal("1e-8")
"""Open-interest limits are rounded down to this many contracts."""


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
        self.reference: dict[str, dict[str, Decimal]] = {}
        """Underlying -> each of its instruments' long open interest when its multiplier last rose from 1."""

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
        actions: list[Action] = []
        if changed:
            event = live.MarginMultipliers(
                seq=0, time=view.time, id=f"{self.name}|{view.time.normalize():f}", multipliers=changed
            )
            actions.append(Action(self.name, event, ", ".join(f"{u} x{m}" for u, m in sorted(changed.items()))))
        if self.config.open_interest_headroom is not None:
            actions += self._limits(view)
        return actions

    def _limits(self, view: AgentView) -> list[Action]:
        """An open-interest-limits event when a limit changed (module doc)."""
        state = view.state
        headroom = ONE + Decimal(repr(self.config.open_interest_headroom))
        changed: dict[str, Decimal | None] = {}
        for underlying, path in self.paths.items():
            names = sorted(n for n, spec in state.instruments.items() if spec.underlying == underlying)
            if path.published <= 1:
                self.reference.pop(underlying, None)
                changed |= {n: None for n in names if n in state.open_interest_limits}
                continue
            if underlying not in self.reference:
                self.reference[underlying] = {n: state.open_interest(n)[0] for n in names}
            with exact():
                for name, interest in self.reference[underlying].items():
                    limit = (interest * headroom / path.published).quantize(LIMIT_QUANTUM, ROUND_DOWN)
                    if state.open_interest_limits.get(name) != limit:
                        changed[name] = limit
        if not changed:
            return []
        event = live.OpenInterestLimits(
            seq=0, time=view.time, id=f"{self.name}|{view.time.normalize():f}|open-interest", limits=changed
        )
        note = "open interest " + ", ".join(
            f"{n} {'lifted' if limit is None else f'<= {limit.normalize():f}'}" for n, limit in sorted(changed.items())
        )
        return [Action(self.name, event, note)]
