"""The venue's risk agent: its multiplier path over a hand-made volatility series (a rise at once, a slow
release), and its event through the loop."""

from decimal import Decimal

import msgspec

from crossmargin.live import events as live
from crossmargin.sim.agents.config import VenueAgentConfig
from crossmargin.sim.agents.protocol import AgentView, numbered
from crossmargin.sim.agents.venue import MultiplierPath, VenueRiskAgent
from tests.sim.agents.conftest import document, loop_of

D = Decimal
DAY = 86400.0
CONFIG = VenueAgentConfig(reference_volatility=0.5, cap=3, max_daily_fall=0.5, step=0.05)


def test_the_multiplier_rises_at_once_and_is_released_by_at_most_the_daily_fall():
    path = MultiplierPath(CONFIG)
    assert path.observe(0, 0.4) == 1  # 0.4 / 0.5 = 0.8, floored at 1
    assert path.observe(3600, 1.0) == 2  # 1.0 / 0.5 = 2: at once
    assert path.observe(7200, 1.6) == 3  # 3.2, capped at 3
    # calm (0.5 / 0.5 = 1) one day later: 3 x (1 - 0.5) ^ 1 = 1.5
    assert path.observe(7200 + DAY, 0.5) == D("1.5")
    # half a day more: 1.5 x 0.5 ^ 0.5 = 1.06066, published rounded up to the step 0.05: 1.10
    assert path.observe(7200 + 1.5 * DAY, 0.5) == D("1.10")
    # a rise above the released level is again at once: 0.9 / 0.5 = 1.8
    assert path.observe(7200 + 1.5 * DAY + 60, 0.9) == D("1.8")
    # a calm minute after it: 1.8 x 0.5 ^ (60 / 86400) = 1.79913..., published 1.80
    assert path.observe(7200 + 1.5 * DAY + 120, 0.5) == D("1.80")


def test_no_volatility_estimate_reads_as_the_reference():
    assert MultiplierPath(CONFIG).observe(0, None) == 1


def test_the_agent_publishes_a_changed_multiplier_as_an_event_the_loop_applies():
    loop = loop_of(document(balance=5000))
    agent = VenueRiskAgent(CONFIG, ["BTC"])
    assert agent.act(AgentView(D(0), loop)) == []  # no estimate yet: 1, as the state holds
    agent.paths["BTC"].observe(10, 1.0)  # as if the index had read 100 %: the level is 2
    loop.volatility.annualized = lambda half_life_s=None: {"BTC": 1.0}  # type: ignore[method-assign]
    (action,) = agent.act(AgentView(D(20), loop))
    event = action.event
    assert isinstance(event, live.MarginMultipliers) and event.multipliers == {"BTC": D(2)}
    before = loop.state.pool_figures("a").maintenance_margin  # 0.004 x 20000 = 80
    assert before == 80
    loop.handle(numbered(event, loop.seq + 1))
    assert loop.state.pool_figures("a").maintenance_margin == 160  # 2 x 80
    assert agent.act(AgentView(D(30), loop)) == []  # unchanged: nothing more to publish


def test_open_interest_limits_tighten_with_the_multiplier_refuse_new_risk_and_are_lifted_at_one():
    # a is long 1 BTC-PERP (the market short 1): long open interest 1. Headroom 0.5: at multiplier 2 the limit
    # is 1 x 1.5 / 2 = 0.75 contracts
    loop = loop_of(document(balance=5000))
    agent = VenueRiskAgent(msgspec.structs.replace(CONFIG, open_interest_headroom=0.5), ["BTC"])
    assert agent.act(AgentView(D(0), loop)) == []  # multiplier 1: no limit
    loop.volatility.annualized = lambda half_life_s=None: {"BTC": 1.0}  # type: ignore[method-assign]
    raised, limited = agent.act(AgentView(D(20), loop))
    assert isinstance(limited.event, live.OpenInterestLimits)
    assert limited.event.limits == {"BTC-PERP": D("0.75")} and limited.note == "open interest BTC-PERP <= 0.75"
    for action in (raised, limited):
        loop.handle(numbered(action.event, loop.seq + 1))
    assert loop.state.open_interest_limits == {"BTC-PERP": D("0.75")}
    buy = live.Trade(seq=0, time=D(21), id="t1", buyer="a", seller="@market", instrument="BTC-PERP", size=D("0.1"),
                     price=D(20000))  # fmt: skip
    (refused,) = loop.handle(numbered(buy, loop.seq + 1))
    assert isinstance(refused, live.Rejected) and refused.field == "size"
    sell = msgspec.structs.replace(buy, id="t2", buyer="@market", seller="a")  # lowers it: passes
    assert not [e for e in loop.handle(numbered(sell, loop.seq + 1)) if isinstance(e, live.Rejected)]
    # calm half a day later: 2 x 0.5 ^ 0.5 = 1.41421, published 1.45; the limit from the same reference
    # 1 x 1.5 / 1.45 = 1.0344827586..., rounded down to 1.03448275
    loop.volatility.annualized = lambda half_life_s=None: {"BTC": 0.5}  # type: ignore[method-assign]
    released = agent.act(AgentView(D(20 + DAY / 2), loop))
    assert [a.event.limits for a in released if isinstance(a.event, live.OpenInterestLimits)] == [
        {"BTC-PERP": D("1.03448275")}
    ]
    for action in released:
        loop.handle(numbered(action.event, loop.seq + 1))
    # a day after the rise: 2 x 0.5 = 1: the multiplier and the limit go
    back = agent.act(AgentView(D(20 + DAY), loop))
    assert [a.event.limits for a in back if isinstance(a.event, live.OpenInterestLimits)] == [{"BTC-PERP": None}]
    for action in back:
        loop.handle(numbered(action.event, loop.seq + 1))
    assert loop.state.open_interest_limits == {} and agent.reference == {}
