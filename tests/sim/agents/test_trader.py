"""The de-risking agent: a one-account reduction worked by hand, the reaction time, the share chosen by seed,
and the property that it never leaves an account closer to liquidation than it found it."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.clearing.events import MARKET
from crossmargin.liquidation.liquidity import DepthLevels
from crossmargin.live import events as live
from crossmargin.margin.pools import PoolFigures
from crossmargin.model.numbers import exact
from crossmargin.sim.agents.buffer import exact_buffer
from crossmargin.sim.agents.config import TraderAgentConfig
from crossmargin.sim.agents.protocol import AgentView, numbered
from crossmargin.sim.agents.trader import DeRiskingAgent, runs_agent
from tests.sim.agents.conftest import REACTION_S, document, loop_of

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
    assert agent.act(AgentView(D(0), loop)) == []
    assert agent.act(AgentView(D(1000), loop)) == []
    actions = agent.act(AgentView(D(REACTION_S), loop))
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
    agent.act(AgentView(D(0), loop))
    (action,) = agent.act(AgentView(D(REACTION_S), loop))
    assert (action.size, action.price, action.slippage) == (D(-1), D(19800), D(200))


def test_an_account_above_the_threshold_or_recovered_before_its_reaction_time_is_left_alone():
    loop = loop_of(document(balance=5000))  # health 4920, buffer 4.92 > 2
    agent = DeRiskingAgent(CONFIG, loop.state.account_ids)
    assert agent.act(AgentView(D(0), loop)) == [] and agent.alarms == {}
    low = loop_of(document())
    agent = DeRiskingAgent(CONFIG, low.state.account_ids)
    agent.act(AgentView(D(0), low))
    assert agent.alarms == {"a": D(0)}
    low.handle(live.Deposit(seq=1, time=D(1), id="d", account="a", asset="USDT", amount=D(4000)))
    assert agent.act(AgentView(D(REACTION_S), low)) == [] and agent.alarms == {}


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
    agent.act(AgentView(D(0), loop))
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
    agent.act(AgentView(D(0), loop))
    (action,) = agent.act(AgentView(D(REACTION_S), loop))
    event = action.event
    assert isinstance(event, live.Trade) and (event.size, event.price, event.impact) == (D("0.693"), D(19980), D(-10))
    out = loop.handle(numbered(event, loop.seq + 1))
    moved = [e for e in out if isinstance(e, live.MarkMoved)]
    assert [(e.instrument, e.before, e.mark) for e in moved] == [("BTC-PERP", D(20000), D(19990))]
    assert loop.state.market.mark("BTC-PERP") == D(19990)
    assert loop.book.marks[loop.book.instruments.index("BTC-PERP")] == 19990.0
