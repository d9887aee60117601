"""What a host's agents did, kept for showing (the service's ``GET /v1/agents`` and ``agents`` topic): each
agent's settings, its latest actions as applied (numbered, refused or not) and, for the venue's agent, the
multipliers the state holds now.

A view, not a record of truth: the log holds every agent's event; this keeps the latest :data:`RECENT` actions
of each agent since its host started (the notes, slippage and sizes an event does not carry).
"""

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from crossmargin.clearing.state import ClearingState
from crossmargin.sim.agents.config import AgentsConfig
from crossmargin.sim.agents.host import Applied
from crossmargin.sim.agents.protocol import Agent
from crossmargin.sim.agents.trader import DeRiskingAgent

RECENT = 50
"""Actions kept per agent."""


@dataclass(frozen=True)
class ActionRecord:
    """One applied action: the agent's ``name``, the event's ``seq``, ``time`` (seconds) and ``kind`` (its
    tag), the ``note``; for a trade the ``account``, ``instrument``, signed ``size`` (contracts, negative
    sells), fill ``price`` and ``slippage`` paid against the mark (base currency); ``refused``: the loop
    refused the event (it is logged as a ``rejected`` one and changed nothing)."""

    agent: str
    seq: int
    time: Decimal
    kind: str
    note: str
    account: str | None
    instrument: str | None
    size: Decimal
    price: Decimal | None
    slippage: Decimal
    refused: bool

    @classmethod
    def of(cls, applied: Applied) -> "ActionRecord":
        action, event = applied.action, applied.event
        kind = type(event).__struct_config__.tag
        return cls(
            action.agent, event.seq, event.time, str(kind), action.note, action.account, action.instrument,
            action.size, action.price, action.slippage, applied.refused,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (Decimals kept: the caller's encoder writes them as strings)."""
        return {
            "agent": self.agent, "seq": self.seq, "time": self.time, "kind": self.kind, "note": self.note,
            "account": self.account, "instrument": self.instrument, "size": self.size, "price": self.price,
            "slippage": self.slippage, "refused": self.refused,
        }  # fmt: skip


class AgentActivity:
    """The latest actions of each agent ``config`` names (module doc), and the ``error`` that stopped them
    (None while they run)."""

    def __init__(self, config: AgentsConfig, keep: int = RECENT) -> None:
        self.config = config
        self.recent: dict[str, deque[ActionRecord]] = {
            part.name: deque(maxlen=keep) for part in (config.venue, config.trader) if part is not None
        }
        self.totals: dict[str, tuple[int, Decimal]] = dict.fromkeys(self.recent, (0, Decimal(0)))
        """Agent -> the actions applied since the host started and the slippage they paid (base currency)."""
        self.error: str | None = None

    def record(self, applied: Sequence[Applied]) -> list[ActionRecord]:
        """Keep ``applied`` (in order); their records."""
        records = [ActionRecord.of(item) for item in applied]
        for record in records:
            self.recent[record.agent].append(record)
            count, slippage = self.totals[record.agent]
            self.totals[record.agent] = (count + 1, slippage + (0 if record.refused else record.slippage))
        return records

    def view(self, agents: Sequence[Agent], state: ClearingState) -> dict[str, Any]:
        """Each agent's ``name``, ``kind``, ``settings`` (as its file gives them, defaults filled in), the
        ``actions`` and ``slippage`` since the host started and its latest ``recent`` actions, newest last; the
        venue's with the ``multipliers`` and ``open_interest_limits`` the state holds (underlying -> multiplier, 1
        left out; instrument -> contracts), the traders'
        with the ``accounts`` it watches and its ``alarms`` (account -> the time its buffer was first found
        low); and the ``error`` that stopped the agents, if one did (``running`` false)."""
        watched = {agent.name: agent for agent in agents}
        parts = []
        for kind, part in (("venue", self.config.venue), ("trader", self.config.trader)):
            if part is None:
                continue
            count, slippage = self.totals[part.name]
            entry: dict[str, Any] = {
                "name": part.name, "kind": kind, "settings": msgspec.to_builtins(part), "actions": count,
                "slippage": slippage, "recent": [r.as_dict() for r in self.recent[part.name]],
            }  # fmt: skip
            if kind == "venue":
                entry["multipliers"] = dict(sorted(state.market.margin_multipliers.items()))
                entry["open_interest_limits"] = dict(state.open_interest_limits)
            agent = watched.get(part.name)
            if isinstance(agent, DeRiskingAgent):
                entry["accounts"] = len(agent.accounts)
                entry["alarms"] = dict(sorted(agent.alarms.items()))
            parts.append(entry)
        return {"running": self.error is None, "error": self.error, "agents": parts}
