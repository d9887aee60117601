"""One loop under every path: the same inbound events through replay, the stress runner and the loop directly
give the same outbound events and digest (the book and the event generator: tests/live/conftest.py; a
snapshot plus the rest of the log: tests/live/test_snapshot.py).
"""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from crossmargin.oracle.config import OracleConfig
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.replay import Replay, line_of
from crossmargin.sim.scenarios.load import load_scenario
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.runner import Run, assets_of
from crossmargin.venues import rulebook
from tests.live.conftest import config, inbound, run_all

D = Decimal


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
    replay = Replay(cfg)
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
    run = Run(cross, generate(load_scenario("flash-crash"), 3, assets_of(cross.portfolio)))
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
