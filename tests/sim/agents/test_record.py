"""What a host's agents did: each agent's latest actions (at most ``keep``), its totals, and the view of both
agents with the state's multipliers and the trader's alarms."""

from decimal import Decimal

from crossmargin.live import events as live
from crossmargin.sim.agents.config import agents_from_dict
from crossmargin.sim.agents.host import Applied, build_agents
from crossmargin.sim.agents.protocol import Action
from crossmargin.sim.agents.record import AgentActivity
from tests.sim.agents.conftest import document, loop_of

D = Decimal


def sold(seq: int, size: str, slippage: str, refused: bool = False) -> Applied:
    event = live.Trade(
        seq=seq, time=D(seq), id=f"t{seq}", buyer="@market", seller="a", instrument="BTC-PERP", size=D(size),
        price=D(19990),
    )  # fmt: skip
    action = Action("trader", event, "note", "a", "BTC-PERP", -D(size), D(19990), D(slippage))
    return Applied(action, event, refused)


def test_the_latest_actions_are_kept_and_totals_count_the_slippage_of_applied_trades_only():
    activity = AgentActivity(agents_from_dict({"trader": {}}), keep=2)
    records = activity.record([sold(1, "0.1", "1"), sold(2, "0.2", "2"), sold(3, "0.3", "4", refused=True)])
    assert [r.seq for r in records] == [1, 2, 3]
    assert [r.seq for r in activity.recent["trader"]] == [2, 3]  # keep 2: the oldest dropped
    # three actions; slippage 1 + 2 (the refused trade changed nothing, paid nothing)
    assert activity.totals["trader"] == (3, D(3))
    first = records[0].as_dict()
    assert (first["kind"], first["size"], first["price"], first["refused"]) == ("trade", D("-0.1"), D(19990), False)


def test_the_view_shows_settings_multipliers_alarms_and_why_the_agents_stopped():
    loop = loop_of(document(balance=5000))
    config = agents_from_dict({"venue": {"cap": 2}, "trader": {"threshold": 1.5}})
    agents = build_agents(config, loop)
    activity = AgentActivity(config)
    loop.handle(live.MarginMultipliers(seq=1, time=D(5), id="m", multipliers={"BTC": D("1.5")}))
    loop.handle(live.OpenInterestLimits(seq=2, time=D(5), id="l", limits={"BTC-PERP": D("0.5")}))
    agents[1].alarms["a"] = D(5)  # type: ignore[attr-defined]
    venue, trader = activity.view(agents, loop.state)["agents"]
    assert (venue["kind"], venue["settings"]["cap"], venue["multipliers"]) == ("venue", 2.0, {"BTC": D("1.5")})
    assert venue["open_interest_limits"] == {"BTC-PERP": D("0.5")}
    assert (trader["kind"], trader["settings"]["threshold"], trader["accounts"], trader["alarms"]) == (
        "trader", 1.5, 1, {"a": D(5)},
    )  # fmt: skip
    activity.error = "the agents stopped: RuntimeError()"
    stopped = activity.view([], loop.state)
    assert stopped["running"] is False and stopped["error"] == activity.error
    assert "accounts" not in stopped["agents"][1]  # no agent runs: nothing watched
