"""One loop under every path: the same inbound events through replay, the stress runner and the loop directly
give the same outbound events and digest; a snapshot plus the rest of the log gives what the whole log gives.

The book is the loop tests' (tests/live/test_loop.py) with more accounts, a maintenance rate of 5 % (so
that an account is liquidated well before it is bankrupt) and a linear-impact market on BTC-PERP (depth 2
BTC, half of each fill's move permanent), so that liquidations move the mark and cascade.
"""

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.liquidation.liquidity import LinearImpact
from crossmargin.live import events as live
from crossmargin.live import snapshot
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.config import OracleConfig
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.replay import Replay, line_of
from crossmargin.sim.scenarios.load import load_scenario
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.runner import Run, assets_of
from crossmargin.venues import rulebook
from tests.oracle.test_oracle import DOCUMENT

D = Decimal
ACCOUNTS = ["long", "usdc", "short", "rich"]
SOURCE: dict[str, Any] = DOCUMENT
BOOK = {
    **SOURCE,
    "instruments": {
        "BTC-PERP": {
            **SOURCE["instruments"]["BTC-PERP"],
            "tiers": [{"max_notional": None, "mmr": "0.05", "imr": "0.1"}],
        }
    },
    "accounts": [
        *SOURCE["accounts"],
        {
            "id": "short",
            "balances": {"USDT": 600},
            "positions": [{"instrument": "BTC-PERP", "size": "-0.8", "entry_price": 20000}],
        },
        {"id": "rich", "balances": {"USDT": 50000, "USDC": 1000}, "positions": []},
    ],
}


def config() -> LoopConfig:
    generic = rulebook("generic")
    liquidity = {"BTC-PERP": LinearImpact(D(2), D("0.5"))}
    return LoopConfig(
        portfolio_from_document(BOOK), generic.rules, generic.liquidation, oracle_config(BOOK), liquidity, D(300)
    )


amounts = st.decimals(min_value=D("0.01"), max_value=D(3000), places=2)
steps = st.decimals(min_value=0, max_value=90, places=0)


@st.composite
def inbound(draw: st.DrawFn, count: int) -> list[live.InboundEvent]:
    """``count`` events at non-decreasing times: BTC and USDC quotes from up to three sources (BTC within
    +-30 % of 20000, USDC 0.9 to 1.01), clock ticks, deposits, withdrawals (some too large or for an unknown
    account), trades between accounts, funding and depth changes."""
    events: list[live.InboundEvent] = []
    t = D(0)
    for seq in range(1, count + 1):
        t += draw(steps)
        stamp: dict[str, Any] = {"seq": seq, "time": t, "id": f"in-{seq}"}
        kind = draw(st.sampled_from(["btc", "btc", "btc", "usdc", "clock", "deposit", "withdraw", "trade", "funding"]))
        if kind in ("btc", "usdc"):
            symbol, low, high = ("BTC", 14000, 26000) if kind == "btc" else ("USDC", D("0.9"), D("1.01"))
            sources = draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True))
            price = draw(st.decimals(min_value=low, max_value=high, places=2))
            quotes = tuple(live.Quote(source=s, symbol=symbol, price=price) for s in sorted(sources))
            events.append(live.Prices(quotes=quotes, **stamp))
        elif kind == "clock":
            events.append(live.Clock(**stamp))
        elif kind in ("deposit", "withdraw"):
            account = draw(st.sampled_from([*ACCOUNTS, "nobody"]))
            asset = draw(st.sampled_from(["USDT", "USDC"]))
            event = live.Deposit if kind == "deposit" else live.Withdrawal
            events.append(event(account=account, asset=asset, amount=draw(amounts), **stamp))
        elif kind == "trade":
            buyer, seller = draw(st.permutations(ACCOUNTS))[:2]
            size = draw(st.decimals(min_value=D("0.01"), max_value=D(2), places=2))
            price = draw(st.decimals(min_value=15000, max_value=25000, places=0))
            trade = live.Trade(buyer=buyer, seller=seller, instrument="BTC-PERP", size=size, price=price, **stamp)
            events.append(trade)
        else:
            rate = draw(st.decimals(-D("0.01"), D("0.01"), places=4))
            events.append(live.Funding(instrument="BTC-PERP", rate=rate, **stamp))
    return events


def run_all(loop: EngineLoop, events: list[live.InboundEvent]) -> list[list[live.OutboundEvent]]:
    return [loop.handle(event) for event in events]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=inbound(30), cut=st.integers(0, 30))
def test_a_snapshot_and_the_rest_of_the_log_give_what_the_whole_log_gives(events: list[live.InboundEvent], cut: int):
    whole = EngineLoop(config())
    out = run_all(whole, events)
    first = EngineLoop(config())
    run_all(first, events[:cut])
    saved = snapshot.decode(snapshot.encode(snapshot.snapshot(first)))
    resumed = snapshot.restored(config(), saved)
    assert resumed.digest() == first.digest()
    rest = run_all(resumed, events[cut:])
    assert rest == out[cut:]
    assert resumed.digest() == whole.digest()
    assert resumed.state.digest() == whole.state.digest()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=inbound(30))
def test_the_same_events_give_the_same_outbound_events_and_digest_every_time(events: list[live.InboundEvent]):
    one, two = EngineLoop(config()), EngineLoop(config())
    assert run_all(one, events) == run_all(two, events)
    assert one.digest() == two.digest()
    # and through the serialised log: every record read back is the event written
    three = EngineLoop(config())
    read_back = [live.decode_inbound(live.encode(e)) for e in events]
    assert run_all(three, read_back) == run_all(EngineLoop(config()), events)


@settings(max_examples=15, deadline=None)
@given(
    updates=st.lists(
        st.tuples(
            st.integers(0, 60),
            st.sampled_from("abc"),
            st.sampled_from(["BTC", "USDC", "BTC-PERP"]),
            st.decimals(min_value=D("0.5"), max_value=D("1.3"), places=3),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_replay_is_the_loop_fed_one_source_update_per_event(updates: list[tuple[int, str, str, Decimal]]):
    cfg = config()
    replay = Replay(cfg.portfolio, cfg.rules, cfg.terms, cfg.oracle, cfg.liquidity, cfg.insurance_fund)
    loop = EngineLoop(cfg)
    t = D(0)
    for seq, (step, source, symbol, factor) in enumerate(updates, start=1):
        t += step
        price = factor * (D(1) if symbol == "USDC" else D(20000))
        lines = replay.feed(SourceUpdate(t, source, symbol, price))
        quote = live.Quote(source=source, symbol=symbol, price=price)
        out = loop.handle(live.Prices(seq=seq, time=t, id=f"feed-{seq}", quotes=(quote,)))
        assert lines == [line_of(e) for e in out]
    assert replay.loop.digest() == loop.digest()


def test_the_stress_runner_is_the_loop_fed_its_steps():
    # a generated book through the shipped flash crash: the runner's inbound events, recorded and fed to a
    # fresh loop of the same configuration, give the same outbound events, state and digest
    portfolio = synthetic_book(150, 3, instruments=3)
    generic = rulebook("generic")
    cross = cross_and_isolated(
        portfolio, generic.rules, generic.liquidation, default_liquidity(portfolio),
        default_insurance_fund(portfolio) / 20, OracleConfig(),
    )[0]  # fmt: skip
    run = Run(cross, load_scenario("flash-crash").path(3, assets_of(cross.portfolio)))
    sent: list[live.InboundEvent] = []
    received: list[live.OutboundEvent] = []
    handle = run.loop.handle

    def recording(event: live.InboundEvent) -> list[live.OutboundEvent]:
        sent.append(event)
        out = handle(event)
        received.extend(out)
        return out

    run.loop.handle = recording  # type: ignore[method-assign]
    for _ in range(12):
        run.step()
    assert any(isinstance(e, live.LiquidationFill) for e in received)  # the crash liquidates
    fresh = EngineLoop(cross.loop_config())
    replayed = [e for event in sent for e in fresh.handle(event)]
    assert replayed == received
    assert fresh.digest() == run.loop.digest()
