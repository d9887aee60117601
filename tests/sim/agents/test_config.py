"""Agents as data: a document read into settings, and each wrong value refused naming its field."""

import pytest

from crossmargin.model import InputError
from crossmargin.sim.agents.config import AgentsConfig, TraderAgentConfig, VenueAgentConfig, agents_from_dict


def test_a_document_gives_both_agents_and_defaults_fill_the_rest():
    config = agents_from_dict({"trader": {"share": 0.5, "reaction_s": 30}, "venue": {"cap": 2}})
    assert config.trader == TraderAgentConfig(share=0.5, reaction_s=30.0)
    assert config.venue == VenueAgentConfig(cap=2.0)
    assert config.label() == "trader+venue"
    assert AgentsConfig(venue=VenueAgentConfig()).label() == "venue"
    hedging = agents_from_dict({"trader": {"hedge": True, "hedge_instruments": ["ETH-PERP"]}}).trader
    assert hedging == TraderAgentConfig(hedge=True, hedge_instruments=("ETH-PERP",))
    assert hedging.correlation_half_life_s == 3600.0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"trader": {"threshold": "x"}}, "trader.threshold"),
        ({"trader": {"share": 0}}, "trader.share"),
        ({"trader": {"share": 1.5}}, "trader.share"),
        ({"trader": {"threshold": 3, "target": 2}}, "trader.target"),
        ({"trader": {"reaction_s": -1}}, "trader.reaction_s"),
        ({"venue": {"cap": 0.5}}, "venue.cap"),
        ({"venue": {"max_daily_fall": 2}}, "venue.max_daily_fall"),
        ({"venue": {"step": 0}}, "venue.step"),
        ({"venue": {"caps": 2}}, "venue.caps"),
        ({"bots": {}}, "bots"),
        ({}, "agents"),
        ({"trader": {"name": "risk"}, "venue": {"name": "risk"}}, "trader.name"),
        ({"trader": {"hedge": "maybe"}}, "trader.hedge"),
        ({"trader": {"hedge_instruments": []}}, "trader.hedge_instruments"),
        ({"trader": {"correlation_half_life_s": 0}}, "trader.correlation_half_life_s"),
        ({"venue": {"open_interest_headroom": -0.1}}, "venue.open_interest_headroom"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_field(data, field):
    with pytest.raises(InputError) as caught:
        agents_from_dict(data)
    assert caught.value.field == field
