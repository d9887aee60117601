"""Snapshots of the exact clearing state: restored, the state is the same (digest, balances, legs, holders in
their order, who is in liquidation, funding, market, guard), its log starts empty and replays from the
snapshot, and the same further events move the original and the restored state alike."""

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.clearing.events import (
    MARKET,
    Deposit,
    Event,
    Funding,
    Guard,
    LiquidationEnd,
    LiquidationStart,
    PriceUpdate,
    Trade,
    Withdraw,
)
from crossmargin.clearing.state import (
    ClearingSnapshot,
    ClearingState,
    decode_snapshot,
    encode_snapshot,
    isolated,
)
from crossmargin.liquidation.liquidity import DepthLevels
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import InputError, exact
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
INSTRUMENTS = [
    linear("BTC-PERP", table=tiers(("2000", "0.05", "0.1"), (None, "0.1", "0.2"))),
    linear("ETH-PERP", underlying="ETH", size="0.1", table=tiers((None, "0.02", "0.05"))),
]
ACCOUNTS = ["a0", "a1", "a2", "a3"]


def opening(sizes: tuple[int, ...] = (10, -5, 0, 20), fund: str = "500") -> ClearingState:
    accounts = [
        (a, {"USDT": "1000", "BTC": "2"}, [position("BTC-PERP", str(q), "100")] if q else [])
        for a, q in zip(ACCOUNTS, sizes, strict=True)
    ]
    accounts[2][2].append(position("ETH-PERP", "-50", "20", isolated_margin="10"))
    portfolio = book(
        [USDT, BTC], INSTRUMENTS, {"BTC": "100"}, {"BTC-PERP": "100", "ETH-PERP": "20"}, accounts, base="USDT"
    )
    return ClearingState(portfolio, GENERIC, D(fund))


def restored(state: ClearingState, snapshot: ClearingSnapshot | None = None) -> ClearingState:
    portfolio, rules, _ = state.origin
    return ClearingState.restored(portfolio, rules, snapshot or decode_snapshot(encode_snapshot(state.snapshot())))


def test_a_restored_state_is_the_same_state():
    state = opening()
    state.apply(Trade("a2", MARKET, "BTC-PERP", D(3), D("100.50"), D("0.10")))  # a2 opens long after a0, a3
    state.apply(Trade(MARKET, "a0", "BTC-PERP", D(10), D(99)))  # a0 closes: the long holders are a3, a2
    state.apply(Trade("a0", MARKET, "BTC-PERP", D(1), D(99)))  # a0 opens again, last in line
    state.apply(Funding("BTC-PERP", D("0.001")))  # 0.1 per contract at the mark 100: a3 pays 20 x 0.1 = 2
    state.apply(Guard(frozenset({"ETH-PERP"}), {"BTC": D("89.5")}, {"BTC": D("90.5")}))
    state.apply(PriceUpdate(prices={"BTC": D("90.00")}, marks={"BTC-PERP": D(45)}))
    # a3, long 20 from 100: 1000 - 2 USDT + 2 BTC x 90 x 0.8 = 144 + 20 x (45 - 100) = -1100: equity 42 below
    # MM 5 % x 20 x 45 = 45 (the guard does not change the decision)
    state.apply(LiquidationStart("a3"))
    snapshot = state.snapshot()
    assert decode_snapshot(encode_snapshot(snapshot)) == snapshot
    assert encode_snapshot(decode_snapshot(encode_snapshot(snapshot))) == encode_snapshot(snapshot)
    again = restored(state)
    assert again.digest() == state.digest()
    assert again.log == [] and again.in_liquidation == {"a3"}
    assert again.holders("BTC-PERP", True) == state.holders("BTC-PERP", True) == ["a3", "a2", "a0"]
    assert again.account_ids == ACCOUNTS and list(again.legs) == list(state.legs)
    assert again.ledger.snapshot() == state.ledger.snapshot()
    assert list(again.ledger.snapshot()) == list(state.ledger.snapshot())  # the order first posted, too
    assert again.funding_index == {"BTC-PERP": D("0.1")}  # 1 contract x 100 x 0.001
    assert again.market == state.market and again.guard == state.guard
    assert again.ledger.balance(isolated("a2", "ETH-PERP", False), "USDT") == D(10)
    # the same further events, the same states; the rebuilt state replays from the snapshot
    for s in (state, again):
        s.apply(LiquidationEnd("a3"))
        s.apply(Deposit("a1", "USDT", D("0.5")))
        s.apply(Guard())
    assert again.digest() == state.digest()
    assert len(again.log) == 3 and again.rebuilt().digest() == again.digest()


def test_a_snapshot_taken_at_the_opening_rebuilds_to_the_opening():
    state = opening()
    again = restored(state)
    assert again.digest() == state.digest() == again.rebuilt().digest()


def test_a_snapshot_is_checked_against_the_book_and_itself():
    state = opening()
    state.apply(Trade("a2", MARKET, "BTC-PERP", D(3), D(100)))
    good = state.snapshot()
    replace = msgspec.structs.replace
    legs = good.accounts[0]
    leg = legs.legs[0]
    bad_leg = replace(legs, legs=(replace(leg, instrument="SOL-PERP"),))
    wrong_side = replace(legs, legs=(replace(leg, long=not leg.long),))
    unbalanced = (replace(good.balances[0], amount=good.balances[0].amount + 1), *good.balances[1:])
    cases = [
        (replace(good, version=2), "version"),
        (replace(good, accounts=(bad_leg, *good.accounts[1:])), "accounts[0].legs[0].instrument"),
        (replace(good, accounts=(wrong_side, *good.accounts[1:])), "accounts[0].legs[0].size"),
        (replace(good, accounts=good.accounts[:-1]), "accounts"),  # the market's account left out
        (replace(good, holders=good.holders[1:]), "holders"),
        (replace(good, balances=unbalanced), "balances"),
        (replace(good, in_liquidation=("nobody",)), "in_liquidation"),
        (replace(good, funding_index={"SOL-PERP": D(1)}), "funding_index.SOL-PERP"),
        (replace(good, guard=Guard(held={"USDT": D("0.9")})), "guard.held.USDT"),
        (replace(good, market=replace(good.market, base="USD")), "market.base"),
    ]
    portfolio, rules, _ = state.origin
    for snapshot, field in cases:
        with pytest.raises(InputError) as caught:
            ClearingState.restored(portfolio, rules, snapshot)
        assert caught.value.field == field
    with pytest.raises(InputError) as caught:
        decode_snapshot(b'{"version": 1}')
    assert caught.value.field == "snapshot"


# ---------------------------------------------------------------------------------------- property

TERMS = LiquidationTerms(fee_rate=D("0.01"), insurance_fund_share=D("0.5"))
LIQUIDITY = DepthLevels(((D("0.005"), D(3)), (D("0.02"), D(10))), permanent_impact=D("0.5"))

OPS = st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(ACCOUNTS), st.integers(1, 2000)),
    st.tuples(st.just("withdraw"), st.sampled_from(ACCOUNTS), st.sampled_from(["USDT", "BTC"]), st.integers(1, 900)),
    st.tuples(
        st.just("trade"),
        st.sampled_from([*ACCOUNTS, MARKET]),
        st.sampled_from([*ACCOUNTS, MARKET]),
        st.sampled_from(["BTC-PERP", "ETH-PERP"]),
        st.integers(1, 300),
        st.integers(-30, 30),
    ),
    st.tuples(st.just("funding"), st.sampled_from(["BTC-PERP", "ETH-PERP"]), st.integers(-20, 20)),
    st.tuples(st.just("move"), st.sampled_from(["BTC-PERP", "ETH-PERP"]), st.integers(-40, 30), st.booleans()),
    st.tuples(
        st.just("guard"),
        st.frozensets(st.sampled_from(["BTC", "BTC-PERP", "ETH-PERP"]), max_size=2),
        st.integers(0, 20),
    ),
)


def events_of(state: ClearingState, op: tuple[Any, ...]) -> list[Event]:
    """The events an operation makes at the state's current market (one, or none for a price it cannot
    move to); a ``move`` is followed by the engine loop's screening (:func:`screen`)."""
    kind = op[0]
    if kind == "deposit":
        return [Deposit(op[1], "USDT", Decimal(op[2]))]
    if kind == "withdraw":
        return [Withdraw(op[1], op[2], Decimal(op[3]))]
    with exact():
        if kind == "trade":
            _, buyer, seller, instrument, tenths, away = op
            price = (state.market.mark(instrument) * (1 + Decimal(away) / 1000)).quantize(D("0.01"))
            return [Trade(buyer, seller, instrument, Decimal(tenths) / 10, price, D("0.05"), D(0))]
        if kind == "funding":
            return [Funding(op[1], Decimal(op[2]) / 10000)]
        if kind == "move":
            _, instrument, percent, btc = op
            factor = 1 + Decimal(percent) / 100
            mark = (state.market.mark(instrument) * factor).quantize(D("0.01"))
            prices = {"BTC": (state.market.price("BTC") * factor).quantize(D("0.01"))} if btc else {}
            return [PriceUpdate(prices, {instrument: mark})] if mark > 0 and prices.get("BTC", D(1)) > 0 else []
        _, frozen, percent = op
        price = state.market.price("BTC")
        move = Decimal(percent) / 100
        return [Guard(frozen, {"BTC": price * (1 - move)}, {"BTC": price * (1 + move)})]


def screen(state: ClearingState) -> list[live.OutboundEvent]:
    """The engine loop around ``state`` after one clock event: every account screened, confirmed and
    liquidated at the state's market, cascades included. A fresh loop each time (its risk book is built from
    the state as it is: a loop keeps nothing the clearing state does not need back); its oracle, which no feed
    has spoken to, guards nothing, so the guard the operations set is put back after it."""
    guard = state.guard
    portfolio, rules, _ = state.origin
    liquidity = {"BTC-PERP": LIQUIDITY, "ETH-PERP": LIQUIDITY}
    loop = EngineLoop(LoopConfig(portfolio, rules, TERMS, OracleConfig(), liquidity), state=state)
    out = loop.handle(live.Clock(seq=1, time=D(0), id="move"))
    if state.guard != guard:
        state.apply(guard)
    return out


def step(state: ClearingState, op: tuple[Any, ...]) -> tuple[str, list[live.OutboundEvent]]:
    """Apply one operation; what came of it (accepted, or the field an event was refused on) and, after a
    move, what the engine loop did."""
    outcome = "accepted"
    for event in events_of(state, op):
        try:
            state.apply(event)
        except InputError as err:
            outcome = err.field
    return outcome, screen(state) if op[0] == "move" else []


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=12), st.lists(OPS, min_size=1, max_size=12))
def test_the_same_events_move_the_original_and_the_restored_state_alike(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
):
    state = opening(sizes=(30, -40, 0, 60))  # leveraged: moves of a few percent liquidate
    for op in before:
        step(state, op)
    taken = len(state.log)
    again = restored(state)
    assert again.digest() == state.digest()
    for op in after:
        assert step(state, op) == step(again, op), op
        assert again.digest() == state.digest(), op
        assert again.holders("BTC-PERP", True) == state.holders("BTC-PERP", True)
        assert again.holders("BTC-PERP", False) == state.holders("BTC-PERP", False)
    assert again.log == state.log[taken:]
    assert again.rebuilt().digest() == again.digest()
