"""Running agents in a host: the venue's first, each action applied as the loop's next event, a refused one
reported."""

from decimal import Decimal

import pytest

from crossmargin.live import events as live
from crossmargin.model import InputError
from crossmargin.sim.agents.config import agents_from_dict
from crossmargin.sim.agents.host import build_agents, run_agents
from crossmargin.sim.agents.protocol import Action, AgentView
from crossmargin.sim.agents.trader import DeRiskingAgent
from crossmargin.sim.agents.venue import VenueRiskAgent
from tests.sim.agents.conftest import document, loop_of

D = Decimal


class Scripted:
    """An agent answering fixed events."""

    name = "scripted"

    def __init__(self, *events: live.InboundEvent) -> None:
        self.events = events

    def act(self, view: AgentView) -> list[Action]:
        return [Action(self.name, e, "scripted") for e in self.events]


def test_the_venues_agent_runs_before_the_traders():
    loop = loop_of(document())
    agents = build_agents(agents_from_dict({"trader": {}, "venue": {}}), loop)
    assert [type(a) for a in agents] == [VenueRiskAgent, DeRiskingAgent]
    assert agents[1].accounts == ["a"]  # type: ignore[attr-defined]
    assert list(agents[0].paths) == ["BTC"]  # type: ignore[attr-defined]


def test_a_hedge_instrument_the_book_does_not_list_is_refused_naming_the_field():
    loop = loop_of(document())
    with pytest.raises(InputError) as caught:
        build_agents(agents_from_dict({"trader": {"hedge": True, "hedge_instruments": ["ETH-PERP"]}}), loop)
    assert caught.value.field == "trader.hedge_instruments" and "ETH-PERP" in caught.value.message


def test_each_action_is_the_loops_next_event_and_a_refused_one_is_reported():
    loop = loop_of(document(balance=5000))
    good = live.MarginMultipliers(seq=0, time=D(1), id="m1", multipliers={"BTC": D("1.5")})
    bad = live.MarginMultipliers(seq=0, time=D(1), id="m2", multipliers={"DOGE": D(2)})
    applied, _ = run_agents([Scripted(good, bad)], loop, D(1), loop.handle)
    assert [(a.event.seq, a.refused) for a in applied] == [(1, False), (2, True)]
    assert loop.seq == 2
    assert loop.state.market.margin_multipliers == {"BTC": D("1.5")}
