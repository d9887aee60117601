"""Snapshots of the engine loop (:mod:`crossmargin.live.snapshot`): what one holds between two events, worked
by hand; read back, a loop restored from one carries on where the original was; a snapshot plus the rest of
the log gives what the whole log gives (the book and the event generator: tests/live/conftest.py); and a
snapshot of another version, or not a snapshot at all, is refused by name."""

import json
from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.live import events as live
from crossmargin.live import snapshot
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook
from tests.live.conftest import config, inbound, run_all
from tests.oracle.conftest import DOCUMENT

D = Decimal


def document_config() -> LoopConfig:
    """The oracle tests' book (tests/oracle/conftest.py) under the generic rulebook, no liquidity model."""
    generic = rulebook("generic")
    return LoopConfig(portfolio_from_document(DOCUMENT), generic.rules, generic.liquidation, oracle_config(DOCUMENT))


def btc(seq: int, t: int, *sources: str) -> live.Prices:
    quotes = tuple(live.Quote(source=s, symbol="BTC", price=D(20000)) for s in sources)
    return live.Prices(seq=seq, time=D(t), id=f"e{seq}", quotes=quotes)


def test_a_snapshot_holds_the_loop_between_two_events_and_a_restored_loop_carries_on():
    loop = EngineLoop(document_config())
    out = loop.handle(btc(1, 10, "a", "b"))
    # t = 71: the sources stamped 10 are 61 s old (max_age_s 60): BTC invalid, and both accounts (long
    # BTC-PERP) frozen
    out += loop.handle(live.Clock(seq=2, time=D(71), id="e2"))
    out += loop.handle(live.ParameterChange(seq=3, time=D(72), id="e3", depth=D("0.5")))
    saved = snapshot.snapshot(loop)
    assert (saved.seq, saved.emitted, saved.depth) == (3, len(out), D("0.5"))
    assert (saved.frozen, saved.suppressed) == (("long", "usdc"), ())
    assert saved.synced["BTC"] == saved.synced["BTC-PERP"] == D(20000)  # the last index, kept while invalid
    assert saved.oracle.clock == D(71)
    written = json.loads(snapshot.encode(saved))
    assert (written["version"], written["seq"], written["depth"], written["frozen"]) == (1, 3, "0.5", ["long", "usdc"])
    resumed = snapshot.restored(document_config(), snapshot.decode(snapshot.encode(saved)))
    assert resumed.digest() == loop.digest() and resumed.seq == 3 and resumed.depth == D("0.5")
    with pytest.raises(InputError) as caught:  # the next event is 4: the third is not applied twice
        resumed.handle(btc(3, 80, "a", "b"))
    assert caught.value.field == "seq"
    # the feed comes back: the restored loop knows both accounts are frozen and reports them unfrozen, its
    # outbound events numbered on from the last one the original emitted
    for each in (loop, resumed):
        again = each.handle(btc(4, 80, "a", "b"))
        unfrozen = [e.account for e in again if isinstance(e, live.AccountStatus) and e.state == "unfrozen"]
        assert unfrozen == ["long", "usdc"]
        assert again[0].seq == len(out) + 1
    assert resumed.digest() == loop.digest()


def test_a_snapshot_of_another_version_is_refused():
    saved = snapshot.snapshot(EngineLoop(document_config()))
    with pytest.raises(InputError) as caught:
        snapshot.restored(document_config(), msgspec.structs.replace(saved, version=2))
    assert caught.value.field == "version"


@pytest.mark.parametrize("data", [b"{", b"[]", b'{"version": 1}', "not a snapshot"])
def test_what_is_not_a_snapshot_is_refused_as_one(data: bytes | str):
    with pytest.raises(InputError) as caught:
        snapshot.decode(data)
    assert caught.value.field == "snapshot"


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


def test_a_snapshot_holds_an_opened_empty_account_and_the_restored_loop_serves_it():
    loop = EngineLoop(document_config())
    loop.handle(live.OpenAccount(seq=1, time=D(0), id="e1", account="new"))
    saved = snapshot.snapshot(loop)
    # the account is in the snapshot though it holds nothing (no balance, no leg)
    [entry] = [a for a in saved.clearing.accounts if a.account == "new"]
    assert entry.legs == ()
    resumed = snapshot.restored(document_config(), snapshot.decode(snapshot.encode(saved)))
    assert resumed.state.account_ids == loop.state.account_ids == ["long", "usdc", "new"]
    assert "new" in resumed.book.accounts and resumed.digest() == loop.digest()
    deposit = live.Deposit(seq=2, time=D(0), id="e2", account="new", asset="USDT", amount=D(5))
    out = loop.handle(deposit)
    assert resumed.handle(deposit) == out and resumed.digest() == loop.digest()
    (figures,) = out
    assert isinstance(figures, live.Figures) and figures.equity == D(5)
