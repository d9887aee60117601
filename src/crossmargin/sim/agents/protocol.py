"""What a risk agent is: a policy that looks at the engine loop after an event and answers inbound events.

An agent sees an :class:`AgentView` (the time, the loop: its exact clearing state, its risk book, its
realized-volatility index and the liquidity models its liquidations fill against) and answers
:class:`Action` s, each one inbound event of the loop's own model (:mod:`crossmargin.live.events`) with
``seq`` 0: the host (the stress runner, the service) numbers each as it applies (and logs) it. So everything
an agent does is an event the log keeps and a replay applies again, without the agent: a run with agents is
as deterministic and replayable as one without.

An agent may keep state between calls (an alarm, a level released slowly); it must be a pure function of
what it was shown, in order (no clock, no randomness but a seeded one).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import msgspec

from crossmargin.clearing.state import ClearingState
from crossmargin.engine.book import RiskBook
from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop


@dataclass(frozen=True)
class AgentView:
    """What an agent is shown after an event: ``time`` (seconds, the event's) and the engine ``loop``."""

    time: Decimal
    loop: EngineLoop

    @property
    def state(self) -> ClearingState:
        """The exact state of record (balances, positions, the market with its margin multipliers)."""
        return self.loop.state

    @property
    def book(self) -> RiskBook:
        """The float mirror: screen with it, decide on the exact state."""
        return self.loop.book

    def volatility(self, half_life_s: float | None = None) -> dict[str, float]:
        """Each asset's annualized realized volatility of its index price (the loop's index at ``half_life_s``,
        default its headline half-life); an asset without an estimate yet is left out."""
        return self.loop.volatility.annualized(half_life_s)

    @property
    def liquidity(self) -> Mapping[str, LiquidityModel]:
        """Each instrument's depth now (the configured depth times the current depth multiplier); an
        instrument without one fills at its mark."""
        return self.loop.liquidator.liquidity


@dataclass(frozen=True)
class Action:
    """One thing an agent does: ``event`` (``seq`` 0) and, for the record, whose ``account`` and which
    ``instrument`` it trades (None for a venue action), the signed ``size`` in contracts (negative sells), its
    ``price`` and the ``slippage`` paid against the mark (base currency, >= 0), and a ``note`` (why);
    ``hedge``: the trade opens a position in an underlying the account held none of (a delta hedge)."""

    agent: str
    event: live.InboundEvent
    note: str
    account: str | None = None
    instrument: str | None = None
    size: Decimal = Decimal(0)
    price: Decimal | None = None
    slippage: Decimal = Decimal(0)
    hedge: bool = False


class Agent(Protocol):
    """A risk policy (module doc): ``name`` labels its actions; :meth:`act` is called after every price batch."""

    name: str

    def act(self, view: AgentView) -> Iterable[Action]:
        """The actions to take now (possibly none), in the order the host applies them: the host applies each
        before it takes the next, so an agent that yields them may look at the state each one left."""
        ...


def numbered(event: live.InboundEvent, seq: int) -> live.InboundEvent:
    """``event`` as the ``seq``-th of the log."""
    return msgspec.structs.replace(event, seq=seq)
