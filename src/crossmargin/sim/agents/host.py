"""Running agents inside a host (the stress runner, the service): build them from their data, and after each
price batch apply what they answer, one numbered inbound event at a time, through the host's own way of
applying an event (the runner's :meth:`~crossmargin.live.loop.EngineLoop.handle`, the service's logged
submission), so each is applied, logged and replayed as any inbound event.

Order: the venue's agent first (its multipliers change the requirements the traders' buffers read), then the
traders'. An action whose event the loop refuses (a ``rejected`` event) is reported as refused.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from crossmargin.model import InputError
from crossmargin.sim.agents.config import AgentsConfig
from crossmargin.sim.agents.protocol import Action, Agent, AgentView, numbered
from crossmargin.sim.agents.trader import DeRiskingAgent
from crossmargin.sim.agents.venue import VenueRiskAgent

Apply = Callable[[live.InboundEvent], Sequence[live.OutboundEvent]]
"""Applies one numbered inbound event; answers the outbound events it caused."""


def build_agents(config: AgentsConfig, loop: EngineLoop) -> list[Agent]:
    """Fresh agents for a run of ``loop``'s book: the venue's over every instrument's underlying, the traders'
    over the accounts the state holds now (venue first: module doc). A hedge instrument the book does not list
    raises InputError naming ``trader.hedge_instruments``."""
    unknown = sorted(set(config.trader.hedge_instruments or ()) - set(loop.state.instruments)) if config.trader else []
    if unknown:
        raise InputError("trader.hedge_instruments", f"unknown instrument {unknown[0]!r}")
    agents: list[Agent] = []
    if config.venue is not None:
        underlyings = sorted({spec.underlying for spec in loop.state.instruments.values()})
        agents.append(VenueRiskAgent(config.venue, underlyings))
    if config.trader is not None:
        agents.append(DeRiskingAgent(config.trader, loop.state.account_ids))
    return agents


@dataclass(frozen=True)
class Applied:
    """An agent's action as its host applied it: the numbered ``event`` and whether the loop ``refused`` it."""

    action: Action
    event: live.InboundEvent
    refused: bool


def run_agents(
    agents: Sequence[Agent], loop: EngineLoop, time: Decimal, apply: Apply
) -> tuple[list[Applied], list[live.OutboundEvent]]:
    """Every agent's actions now, each applied through ``apply`` as the loop's next event; what was applied
    and the outbound events it caused (liquidations a venue's multiplier set off among them)."""
    applied: list[Applied] = []
    out: list[live.OutboundEvent] = []
    for agent in agents:
        for action in agent.act(AgentView(time, loop)):
            event = numbered(action.event, loop.seq + 1)
            caused = list(apply(event))
            refused = any(isinstance(e, live.Rejected) and e.cause == event.id for e in caused)
            applied.append(Applied(action, event, refused))
            out += caused
    return applied, out
