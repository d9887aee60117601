"""The de-risking agent: a one-account reduction worked by hand, the reaction time, the share chosen by seed,
and the property that it never leaves an account closer to liquidation than it found it."""

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.clearing.events import MARKET
from crossmargin.liquidation.liquidity import DepthLevels, LiquidityModel
from crossmargin.live import events as live
from crossmargin.margin.pools import PoolFigures
from crossmargin.model.numbers import exact
from crossmargin.sim.agents.buffer import exact_buffer
from crossmargin.sim.agents.config import TraderAgentConfig
from crossmargin.sim.agents.host import run_agents
from crossmargin.sim.agents.protocol import AgentView, numbered
from crossmargin.sim.agents.trader import DeRiskingAgent, runs_agent
from tests.sim.agents.conftest import REACTION_S, document, hedged_document, loop_of

D = Decimal
CONFIG = TraderAgentConfig(reaction_s=REACTION_S, threshold=2, target=3, min_volatility=0.5)


def state_buffer(loop, agent, sigmas) -> Decimal:
    figures: PoolFigures = loop.state.pool_figures("a")
    return exact_buffer(figures, loop.state.rules, loop.state.instruments, sigmas).value


def test_a_hand_worked_reduction_sells_into_a_one_level_depth_until_the_buffer_is_back():
    # Depth: 10 BTC at 0.1 % from the mark: a sale fills at 20000 x 0.999 = 19980.
    loop = loop_of(document(), {"BTC-PERP": DepthLevels(((D("0.001"), D(10)),))})
    agent = DeRiskingAgent(CONFIG, loop.state.account_ids)
    # buffer 920 / 1000 = 0.92 < 2: the alarm starts at t = 0, nothing is done before the reaction time
    assert list(agent.act(AgentView(D(0), loop))) == []
    assert list(agent.act(AgentView(D(1000), loop))) == []
    actions = list(agent.act(AgentView(D(REACTION_S), loop)))
    # risk to reach: health / target = 920 / 3 = 306.67; size = (1000 - 306.67) / 1000 x 1 BTC = 0.69333, in steps
    # of 0.001 (a thousandth of the size): 0.693. Fill 0.693 at 19980: realized 0.693 x -20 = -13.86, balance
    # 986.14; left 0.307 BTC: MM 0.004 x 0.307 x 20000 = 24.56, health 961.58, risk 0.307 x 20000 x 0.05 = 307,
    # buffer 961.58 / 307 = 3.1322 >= 3: one trade.
    assert len(actions) == 1
    (action,) = actions
    event = action.event
    assert isinstance(event, live.Trade)
    assert (event.seller, event.buyer, event.size, event.price) == ("a", MARKET, D("0.693"), D(19980))
    assert action.size == D("-0.693")
    assert action.slippage == D("13.86")  # 0.693 x (20000 - 19980)
    out = loop.handle(numbered(event, loop.seq + 1))
    assert not [e for e in out if isinstance(e, live.Rejected)]
    account = loop.state.account("a")
    assert account.balances["USDT"] == D("986.14")
    assert [p.size for p in account.positions] == [D("0.307")]
    sigmas = agent.sigmas(AgentView(D(REACTION_S), loop))
    assert sigmas == {"BTC": D("0.05")}
    with exact():
        assert state_buffer(loop, agent, sigmas) == D("961.58") / D(307)


def test_when_slippage_keeps_the_buffer_short_the_agent_sells_more_up_to_the_whole_position():
    # Depth at 1 %: 19800. 0.693 BTC would realize -138.6: health 861.4 - 24.56 = 836.84, buffer 836.84 / 307
    # = 2.73 < 3; doubled, 1.386 is more than the position: the whole 1 BTC at 19800 (realized -200, no risk
    # left, buffer infinite).
    loop = loop_of(document(), {"BTC-PERP": DepthLevels(((D("0.01"), D(10)),))})
    agent = DeRiskingAgent(CONFIG, loop.state.account_ids)
    list(agent.act(AgentView(D(0), loop)))
    (action,) = list(agent.act(AgentView(D(REACTION_S), loop)))
    assert (action.size, action.price, action.slippage) == (D(-1), D(19800), D(200))


def test_an_account_above_the_threshold_or_recovered_before_its_reaction_time_is_left_alone():
    loop = loop_of(document(balance=5000))  # health 4920, buffer 4.92 > 2
    agent = DeRiskingAgent(CONFIG, loop.state.account_ids)
    assert list(agent.act(AgentView(D(0), loop))) == [] and agent.alarms == {}
    low = loop_of(document())
    agent = DeRiskingAgent(CONFIG, low.state.account_ids)
    list(agent.act(AgentView(D(0), low)))
    assert agent.alarms == {"a": D(0)}
    low.handle(live.Deposit(seq=1, time=D(1), id="d", account="a", asset="USDT", amount=D(4000)))
    assert list(agent.act(AgentView(D(REACTION_S), low))) == [] and agent.alarms == {}


def test_the_share_of_accounts_that_run_the_agent_is_chosen_by_seed():
    ids = [f"acct-{n}" for n in range(2000)]
    chosen = [a for a in ids if runs_agent(3, a, 0.25)]
    assert 400 < len(chosen) < 600  # a quarter of 2000, binomial sd ~19
    assert chosen == [a for a in ids if runs_agent(3, a, 0.25)]
    assert chosen != [a for a in ids if runs_agent(4, a, 0.25)]
    assert all(runs_agent(0, a, 1.0) for a in ids)


def test_covering_more_accounts_keeps_each_accounts_pick():
    ids = [f"acct-{n}" for n in range(200)]
    agent = DeRiskingAgent(TraderAgentConfig(share=0.5, seed=1), ids[:100])
    first = list(agent.accounts)
    agent.cover(ids)  # a host's book opened 100 more
    assert agent.accounts[: len(first)] == first
    assert agent.accounts == [a for a in ids if runs_agent(1, a, 0.5)]


levels = st.lists(
    st.tuples(st.decimals(D(0), D("0.05"), places=4), st.decimals(D("0.05"), D(5), places=2)),
    min_size=1, max_size=3, unique_by=lambda level: level[0],
).map(lambda rows: tuple(sorted(rows)))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    balance=st.decimals(D(300), D(8000), places=2),
    size=st.decimals(D("0.1"), D(3), places=3),
    short=st.booleans(),
    entry=st.decimals(D(18000), D(22000), places=0),
    depth=levels,
    threshold=st.floats(0.5, 4),
    extra=st.floats(0, 3),
)
def test_an_agent_never_leaves_an_account_closer_to_liquidation_than_it_found_it(
    balance, size, short, entry, depth, threshold, extra
):
    loop = loop_of(document(balance, -size if short else size, entry), {"BTC-PERP": DepthLevels(depth)})
    if loop.state.pool_figures("a").liquidatable:
        return
    config = TraderAgentConfig(reaction_s=REACTION_S, threshold=threshold, target=threshold + extra, min_volatility=0.5)
    agent = DeRiskingAgent(config, ["a"])
    list(agent.act(AgentView(D(0), loop)))
    view = AgentView(D(REACTION_S), loop)
    sigmas = agent.sigmas(view)
    before = state_buffer(loop, agent, sigmas)
    for action in agent.act(view):
        out = loop.handle(numbered(action.event, loop.seq + 1))
        assert not [e for e in out if isinstance(e, live.Rejected)]
        after = state_buffer(loop, agent, sigmas)  # at the same marks: the prices it acted on
        assert after >= before
        before = after


def test_the_sale_s_permanent_impact_moves_the_mark_as_a_liquidation_s_fills_do():
    # Depth: 10 BTC at 0.1 %, half of a fill's move stays: the 0.693 BTC sale (as above) fills at 19980, its
    # worst price; the mark moves by 0.5 x (19980 - 20000) = -10, to 19990.
    loop = loop_of(document(), {"BTC-PERP": DepthLevels(((D("0.001"), D(10)),), permanent_impact=D("0.5"))})
    agent = DeRiskingAgent(CONFIG, loop.state.account_ids)
    list(agent.act(AgentView(D(0), loop)))
    (action,) = list(agent.act(AgentView(D(REACTION_S), loop)))
    event = action.event
    assert isinstance(event, live.Trade) and (event.size, event.price, event.impact) == (D("0.693"), D(19980), D(-10))
    out = loop.handle(numbered(event, loop.seq + 1))
    moved = [e for e in out if isinstance(e, live.MarkMoved)]
    assert [(e.instrument, e.before, e.mark) for e in moved] == [("BTC-PERP", D(20000), D(19990))]
    assert loop.state.market.mark("BTC-PERP") == D(19990)
    assert loop.book.marks[loop.book.instruments.index("BTC-PERP")] == 19990.0


HEDGER = TraderAgentConfig(reaction_s=REACTION_S, threshold=2, target=3, min_volatility=0.5, hedge=True)
DEPTHS: dict[str, LiquidityModel] = {
    "BTC-PERP": DepthLevels(((D("0.001"), D(10)),)),
    "ETH-PERP": DepthLevels(((D("0.001"), D(100)),)),
}


def hedge_of(loop, config=HEDGER, history=None):
    """The agent's actions at its reaction time (its alarm at 0), after the price ``history`` it was shown."""
    agent = DeRiskingAgent(config, loop.state.account_ids)
    for t, prices in history or ():
        agent.correlations.observe(t, prices)
    list(agent.act(AgentView(D(0), loop)))
    return agent, list(agent.act(AgentView(D(REACTION_S), loop)))


def correlated_buffer(loop, rho) -> Decimal:
    sigmas = {"BTC": D("0.05"), "ETH": D("0.05")}
    figures = loop.state.pool_figures("a")
    return exact_buffer(figures, loop.state.rules, loop.state.instruments, sigmas, lambda u, v: rho).value


def test_a_hand_worked_hedge_shorts_the_correlated_underlying_before_any_sale():
    # 2000 USDT, long 1 BTC-PERP: health 2000 - 80 = 1920, risk 20000 x 0.05 = 1000, buffer 1.92 < 2. ETH is
    # unheld and its correlation with BTC given (0.9): b = 20000 x 0.05 x 0.9 x 0.05 = 45, c = 0.05^2 = 0.0025.
    # To reach risk 1920 / 3 = 640: x^2 c + 2 x b + (1000^2 - 640^2) = 0, room = 45^2 - 0.0025 x 590,400
    # = 2025 - 1476 = 549, x = (-45 + sqrt(549)) / 0.0025 = -8627.70 USD: short 8.627 ETH (steps of 0.001).
    loop = loop_of(hedged_document(), DEPTHS)
    _, actions = hedge_of(loop)
    hedge = actions[0]
    event = hedge.event
    assert isinstance(event, live.Trade)
    assert (event.instrument, event.seller, event.buyer) == ("ETH-PERP", "a", MARKET)
    assert (event.size, event.price, hedge.size, hedge.slippage) == (D("8.627"), D(999), D("-8.627"), D("8.627"))
    assert hedge.note.startswith("hedge 1.92 -> ")
    loop.handle(numbered(event, loop.seq + 1))
    # equity 2000 - 8.627 x (1000 - 999) = 1991.373, MM 80 + 0.004 x 8627 = 114.508: health 1876.865; risk^2
    # 1000^2 + 431.35^2 - 2 x 0.9 x 1000 x 431.35 = 409,632.8225
    with exact():
        assert correlated_buffer(loop, D("0.9")) == D("1876.865") / D("409632.8225").sqrt()
    # still short of 3 (2.93): the agent then sells BTC, each trade raising the buffer
    before = correlated_buffer(loop, D("0.9"))
    for action in actions[1:]:
        assert action.instrument == "BTC-PERP" and action.size < 0
        loop.handle(numbered(action.event, loop.seq + 1))
        assert correlated_buffer(loop, D("0.9")) > before


def test_a_correlation_measured_from_the_prices_it_was_shown_sizes_the_hedge():
    # No correlation in the document; the agent saw BTC and ETH move by 0.01 and 0.02 together, then stand
    # still: measured 1. b = 1000 x 0.05 = 50, room 2500 - 1476 = 1024, x = (-50 + 32) / 0.0025 = -7200: 7.2 ETH
    loop = loop_of(hedged_document(correlation=None), DEPTHS)
    history = [
        (-2.0, {"BTC": 20000 * math.exp(-0.01), "ETH": 1000 * math.exp(-0.02)}),
        (-1.0, {"BTC": 20000.0, "ETH": 1000.0}),
    ]
    agent, actions = hedge_of(loop, history=history)
    assert agent.correlations.correlation("BTC", "ETH") == pytest.approx(1.0)
    assert (actions[0].instrument, actions[0].size) == ("ETH-PERP", D("-7.2"))


def test_an_unmeasured_correlation_is_not_hedged_on():
    loop = loop_of(hedged_document(correlation=None), DEPTHS)
    _, actions = hedge_of(loop)
    assert actions and all(a.instrument == "BTC-PERP" for a in actions)


def test_a_hedge_needs_its_initial_margin_and_is_halved_until_it_is_met():
    # ETH-PERP margined at imr 0.5 (2x): 8.627 ETH would need 0.5 x 8627 + 0.008 x 20000 = 4473.5 of equity
    # 1991.373, and 4.313 needs 2316.5 of 1995.687; 2.156 needs 1078 + 160 = 1238 of 1997.844: taken. Its
    # buffer: health 1997.844 - 80 - 8.624 = 1909.22, risk^2 = 1000^2 + 107.8^2 - 1.8 x 1000 x 107.8
    # = 1,011,620.84 - 194,040 = 817,580.84 (buffer 2.11 > 1.92)
    doc = hedged_document()
    doc["instruments"]["ETH-PERP"]["tiers"] = [{"max_notional": None, "mmr": "0.004", "imr": "0.5"}]
    loop = loop_of(doc, DEPTHS)
    _, actions = hedge_of(loop)
    assert (actions[0].instrument, actions[0].size) == ("ETH-PERP", D("-2.156"))
    loop.handle(numbered(actions[0].event, loop.seq + 1))
    assert loop.state.pool_figures("a").free_collateral >= 0
    with exact():
        assert correlated_buffer(loop, D("0.9")) == D("1909.22") / D("817580.84").sqrt()


@settings(max_examples=60, deadline=None)
@given(
    balance=st.decimals(D(300), D(8000), places=2),
    size=st.decimals(D("0.1"), D(3), places=3),
    short=st.booleans(),
    rho=st.decimals(D("-0.9"), D("0.95"), places=2),
    depth=levels,
    threshold=st.floats(0.5, 4),
    extra=st.floats(0, 3),
)
def test_a_hedging_agent_never_leaves_an_account_closer_to_liquidation_nor_short_of_its_initial_margin(
    balance, size, short, rho, depth, threshold, extra
):
    doc = hedged_document(balance, rho)
    doc["accounts"][0]["positions"][0]["size"] = str(-size if short else size)
    loop = loop_of(doc, {"BTC-PERP": DepthLevels(depth), "ETH-PERP": DepthLevels(depth)})
    if loop.state.pool_figures("a").liquidatable:
        return
    config = TraderAgentConfig(
        reaction_s=REACTION_S, threshold=threshold, target=threshold + extra, min_volatility=0.5, hedge=True
    )
    _, actions = hedge_of(loop, config)
    before = correlated_buffer(loop, rho)
    for action in actions:
        out = loop.handle(numbered(action.event, loop.seq + 1))
        assert not [e for e in out if isinstance(e, live.Rejected)]
        after = correlated_buffer(loop, rho)  # at the same marks: the prices it acted on
        assert after > before
        if action.instrument == "ETH-PERP":
            assert loop.state.pool_figures("a").free_collateral >= 0
        before = after


def test_a_hedge_stays_under_the_venues_open_interest_limit():
    # ETH-PERP's long open interest is 0 (nobody holds it); a short hedge makes the market long. Limited to 5
    # contracts: 8.627 is refused, half of it (4.313) passes; limited to 0: no hedge, sales only
    for limit, first in ((D(5), ("ETH-PERP", D("-4.313"))), (D(0), None)):
        loop = loop_of(hedged_document(), DEPTHS)
        limits = live.OpenInterestLimits(seq=1, time=D(0), id="venue", limits={"ETH-PERP": limit})
        assert not [e for e in loop.handle(limits) if isinstance(e, live.Rejected)]
        _, actions = hedge_of(loop)
        hedges = [(a.instrument, a.size) for a in actions if a.hedge]
        assert hedges == ([] if first is None else [first])
        for action in actions:
            out = loop.handle(numbered(action.event, loop.seq + 1))
            assert not [e for e in out if isinstance(e, live.Rejected)]


def test_a_planned_sale_is_dropped_once_a_liquidation_the_sales_before_it_set_off_has_taken_the_position():
    # a (1000 USDT) and b (250 USDT) each long 1 BTC-PERP from 20000; depth 10 BTC at 1 %, the whole move
    # permanent. Both are below the threshold; planned at 20000, each sells its whole 1 BTC at 19800 (b: 0.943
    # would leave its buffer at 1.0 < 3). a sells first: the mark moves to 19800 and b, with 250 - 200 = 50
    # below MM 0.004 x 19800 = 79.2, is liquidated. b's planned sale of 1 BTC would now outgrow what is left:
    # it is not made.
    doc = document()
    doc["accounts"].append({**doc["accounts"][0], "id": "b", "balances": {"USDT": "250"}})
    depth = DepthLevels(((D("0.01"), D(10)),), permanent_impact=D(1))
    loop = loop_of(doc, {"BTC-PERP": depth})
    agent, planner = DeRiskingAgent(CONFIG, loop.state.account_ids), DeRiskingAgent(CONFIG, loop.state.account_ids)
    for each in (agent, planner):
        list(each.act(AgentView(D(0), loop)))
    planned = list(planner.act(AgentView(D(REACTION_S), loop)))  # taken whole, nothing applied in between
    assert [(a.account, a.size) for a in planned] == [("a", D(-1)), ("b", D(-1))]
    applied, _ = run_agents([agent], loop, D(REACTION_S), loop.handle)
    assert [(a.action.account, a.action.size) for a in applied] == [("a", D(-1))]
    assert loop.state.market.mark("BTC-PERP") < D(20000)
    left = [p.size for p in loop.state.account("b").positions]
    assert all(0 < size < 1 for size in left)  # liquidated in part or in full, never turned short


def test_an_accounts_later_sale_is_dropped_when_its_first_sale_set_off_its_own_liquidation():
    # 2000 USDT, long 3 BTC-PERP and 2 ETH-PERP; depth: 1 coin within 0.1 %, then 100 at 5 %, the whole move
    # permanent. Planned at the marks it found: 2.516 BTC, then the 2 ETH. The BTC sale's worst fill (5 % off)
    # moves BTC-PERP to 19000, the 0.484 BTC left loses with it and the account is liquidated, which takes
    # positions of its own; the planned ETH sale, made on 2 ETH it no longer holds whole, is dropped.
    doc = hedged_document(2000, None)
    doc["accounts"][0]["positions"][0]["size"] = "3"
    doc["accounts"][0]["positions"].append({"instrument": "ETH-PERP", "size": "2", "entry_price": "1000"})
    depth = DepthLevels(((D("0.001"), D(1)), (D("0.05"), D(100))), permanent_impact=D(1))
    loop = loop_of(doc, {"BTC-PERP": depth, "ETH-PERP": depth})
    agent, planner = DeRiskingAgent(CONFIG, ["a"]), DeRiskingAgent(CONFIG, ["a"])
    for each in (agent, planner):
        list(each.act(AgentView(D(0), loop)))
    planned = list(planner.act(AgentView(D(REACTION_S), loop)))
    assert [(a.instrument, a.size) for a in planned] == [("BTC-PERP", D("-2.516")), ("ETH-PERP", D(-2))]
    applied, out = run_agents([agent], loop, D(REACTION_S), loop.handle)
    assert [(a.action.instrument, a.action.size) for a in applied] == [("BTC-PERP", D("-2.516"))]
    assert any(isinstance(e, live.LiquidationFill) and e.account == "a" for e in out)
    assert all(p.size > 0 for p in loop.state.account("a").positions)  # nothing turned short


def test_positions_of_equal_risk_are_sold_in_instrument_order():
    # long 1 BTC-PERP (20000 x 0.05 = 1000) and 20 ETH-PERP (20 x 1000 x 0.05 = 1000): a tie, BTC-PERP first
    doc = hedged_document(2000, None)
    doc["accounts"][0]["positions"].append({"instrument": "ETH-PERP", "size": "20", "entry_price": "1000"})
    loop = loop_of(doc, DEPTHS)
    agent = DeRiskingAgent(CONFIG, ["a"])
    list(agent.act(AgentView(D(0), loop)))
    actions = list(agent.act(AgentView(D(REACTION_S), loop)))
    assert actions and actions[0].instrument == "BTC-PERP"
