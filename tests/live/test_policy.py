"""The oracle policy acting on accounts through the engine loop: each feed failure, worked by hand.

The book (tests/oracle/conftest.py's, base USD): USDT and USDC collateral (USDC pegged at 1, floor 0.99),
BTC-PERP linear, 1 contract = 1 BTC, mmr 0.004, imr 0.008; prices BTC 20000, marks BTC-PERP 20000. Guards: max
age 60 s, quorum 2, max deviation 2 %, circuit breaker at 25 % from the EMA (half-life 300 s). No liquidity
model (fills at the mark), no insurance fund, the generic rulebook's terms (no fee, shortfall ADL). Without a
trade the mark follows the index.

- ``long``: 1000 USDT, long 0.5 BTC-PERP from 20000. Liquidation at 1000 + 0.5 (P - 20000) - 0.002 P = 0,
  P = 9000 / 0.498 = 18072.29; MM 40 at 20000.
- ``usdc``: 100 USDC, long 0.5 BTC-PERP from 20000: at USDC 1, equity 100, MM 40, IM 80, free 20.

The default policy liquidates on valid and degraded prices, freezes on invalid ones and values degraded and
unconfirmed collateral conservatively. The loop liquidates an account the moment it is confirmed below
maintenance with every price it is valued at one the policy liquidates on: its ``liquidatable`` status is
followed by its liquidation lines in the same event.
"""

from decimal import Decimal

import pytest

from crossmargin.clearing.events import MARKET, Withdraw
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import Status
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.sim.replay import Replay
from crossmargin.venues import rulebook
from tests.live.test_loop import Feed, kinds, new_loop
from tests.oracle.conftest import DOCUMENT

D = Decimal


def about(out: list[live.OutboundEvent], account: str) -> list[tuple[str, ...]]:
    """:func:`kinds` of the outbound events about ``account``."""
    return [row for row in kinds(out) if row[0] != "price_status" and row[1] == account]


def fills(out: list[live.OutboundEvent]) -> list[tuple[str, Decimal, Decimal, str]]:
    """(account, size, fill price, taker) of each liquidation fill."""
    return [(e.account, e.size, e.fill_price, e.taker) for e in out if isinstance(e, live.LiquidationFill)]


def explicit(**policy: list[str]) -> EngineLoop:
    """The loop over the book under a policy given in the document."""
    return new_loop({**DOCUMENT, "oracle": {**DOCUMENT["oracle"], "policy": policy}})  # type: ignore[dict-item]


def usdc_goes_at_19000(out: list[live.OutboundEvent]) -> None:
    """``usdc`` at BTC 19000: equity 100 + 0.5 x (19000 - 20000) = -400 < MM 0.5 x 19000 x 0.004 = 38, every
    price valid: liquidated in the event. Its net value is negative and there is no insurance fund and no
    opposite position to deleverage, so the market takes the whole 0.5 at the bankruptcy price, where
    100 + 0.5 (P - 20000) = 0: P = 19800. That leaves 100 USDC against 0.5 x (19800 - 20000) = -100 USDT owed;
    the USDC sold 5 % below its price 1 buys 95 USDT, and the last 5 USDT is bad debt."""
    assert about(out, "usdc") == [
        ("account", "usdc", "liquidatable"),
        ("liquidation", "usdc"),
        ("collateral_sale", "usdc"),
        ("bad_debt", "usdc"),
        ("figures", "usdc"),
    ]
    assert fills(out) == [("usdc", D("-0.5"), D(19800), "backstop")]
    (sale,) = (e for e in out if isinstance(e, live.CollateralSold))
    assert (sale.sell_asset, sale.sold, sale.buy_asset, sale.bought) == ("USDC", D(100), "USDT", D(95))
    (debt,) = (e for e in out if isinstance(e, live.BadDebt))
    assert (debt.asset, debt.amount) == ("USDT", D(5))


def fall_to_18300(feed: Feed) -> None:
    """a and b walk BTC down to 18300 (a quorum at every step, each within the 25 % breaker): above the long's
    liquidation price 18072.29; b's last report is at t = 90. ``usdc`` goes on the way, at 19000."""
    for t, price in ((1, 20000), (30, 19000), (60, 18500), (90, 18300)):
        out = feed.prices(t, "BTC", a=price, b=price)
        if t == 30:
            usdc_goes_at_19000(out)
        else:
            assert not fills(out)
    loop = feed.loop
    assert loop.oracle.index("BTC").status is Status.VALID and not loop.state.liquidatable("long")
    assert loop.state.account("usdc").positions == ()


def test_an_unconfirmed_price_does_not_freeze():
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(0, "BTC", a=20000, b=20000)
    out = feed.prices(61, "BTC", a=20100)  # b last reported 61 s ago: stale; one fresh source < quorum 2
    assert loop.oracle.index("BTC").status is Status.UNCONFIRMED
    # unconfirmed prices do not freeze: nobody turns frozen, and ``long`` may withdraw (at 20100 its equity
    # is 1000 + 0.5 x 100 = 1050 and IM 0.5 x 20100 x 0.008 = 80.4: 969.6 USDT are free)
    assert not [row for row in kinds(out) if row[0] == "account"]
    assert loop.frozen == set() and loop.state.guard.frozen == frozenset()
    (refused,) = feed.send(live.Withdrawal, 62, account="long", asset="USDT", amount=D(970))
    assert isinstance(refused, live.Rejected) and refused.field == "amount"  # too much, but not frozen
    (figures,) = feed.send(live.Withdrawal, 62, account="long", asset="USDT", amount=D(969))
    assert isinstance(figures, live.Figures) and figures.equity == D(81)  # 1050 - 969


def test_below_the_quorum_a_near_price_is_held_not_liquidated():
    loop = new_loop()
    feed = Feed(loop)
    fall_to_18300(feed)
    out = feed.prices(160, "BTC", a=18000)  # b is 70 s old (stale): a alone, 300 / 18300 = 1.64 % from 18300
    quote = loop.oracle.index("BTC")
    assert (quote.price, quote.status) == (D(18000), Status.UNCONFIRMED)
    # 18000 < 18072.29: below maintenance (equity 1000 + 0.5 x (18000 - 20000) = 0 < MM 0.5 x 18000 x 0.004 =
    # 36), but the default policy does not liquidate on unconfirmed prices
    assert about(out, "long") == [("account", "long", "liquidation_suppressed")]
    (held,) = (e for e in out if isinstance(e, live.AccountStatus))
    assert (held.equity, held.maintenance_margin) == (D(0), D(36))
    assert held.statuses == {"USDT": "valid", "BTC-PERP": "unconfirmed"}
    assert loop.state.liquidatable("long") and loop.suppressed == {"long"} and loop.frozen == set()
    # b comes back at the same price: a quorum of two, valid, and the liquidation goes ahead in the same event
    out = feed.prices(170, "BTC", b=18000)
    assert loop.oracle.index("BTC").status is Status.VALID
    assert about(out, "long") == [("account", "long", "liquidatable"), ("liquidation", "long"), ("figures", "long")]
    # equity 0 is not positive: the whole position goes, at the mark 18000, which is its bankruptcy price
    # (1000 + 0.5 (P - 20000) = 0): the market takes it and ``long`` is left with nothing
    assert fills(out) == [("long", D("-0.5"), D(18000), "market")]
    assert loop.state.account("long").positions == () and loop.suppressed == set()


def test_a_policy_that_names_unconfirmed_liquidates_below_the_quorum():
    loop = explicit(liquidate_on=["valid", "degraded", "unconfirmed"])
    feed = Feed(loop)
    fall_to_18300(feed)
    out = feed.prices(160, "BTC", a=18000)
    assert loop.oracle.index("BTC").status is Status.UNCONFIRMED
    # as above at 18000, liquidated at once: the whole 0.5 at 18000
    assert about(out, "long") == [("account", "long", "liquidatable"), ("liquidation", "long"), ("figures", "long")]
    assert fills(out) == [("long", D("-0.5"), D(18000), "market")]


def test_a_lone_source_jumping_from_the_last_quorum_price_is_never_acted_on():
    loop = explicit(liquidate_on=["valid", "degraded", "unconfirmed"])
    feed = Feed(loop)
    fall_to_18300(feed)
    out = feed.prices(160, "BTC", a=17500)  # a alone: 800 / 18300 = 4.37 % from the last quorum price (> 2 %)
    quote = loop.oracle.index("BTC")
    assert (quote.price, quote.status) == (D(17500), Status.INVALID)
    assert "0.0437 from the last quorum price 18300" in quote.reason
    # even a policy that liquidates on unconfirmed prices holds: invalid freezes and suppresses (equity
    # 1000 + 0.5 x (17500 - 20000) = -250 < MM 35); ``usdc`` holds nothing any more and is not frozen
    assert about(out, "long") == [("account", "long", "liquidation_suppressed"), ("account", "long", "frozen")]
    assert not fills(out) and loop.frozen == {"long"}
    (refused,) = feed.send(live.Withdrawal, 161, account="long", asset="USDT", amount=D(1))
    assert isinstance(refused, live.Rejected) and "frozen" in refused.message


def test_manipulated_thin_market_does_not_liquidate():
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(1, "BTC", a=20000, b=20000, c=20000)
    out = feed.prices(2, "BTC-PERP", dex=15000)  # last trade spiked 25 % down, index unchanged
    # the basis EMA starts at 0 with the document at t = 0; one trade 2 s later moves it by w = 1 - 2^(-2/300)
    # toward 15000 - 20000: basis -5000 w = -23.05; mark = median(20000, 20000 - 23.05, 15000) = 19976.95: far
    # above the 18072 liquidation price (and usdc's equity 100 + 0.5 x -23.05 = 88.47 above its MM 40)
    expected = 20000 - 5000 * (1 - 2 ** (-2 / 300))
    mark = loop.oracle.mark("BTC-PERP").price
    assert abs(float(mark) - expected) < 1e-9 and loop.state.market.mark("BTC-PERP") == mark
    assert not [row for row in kinds(out) if row[0] != "price_status"]
    assert not loop.state.liquidatable("long") and not loop.state.liquidatable("usdc")


def test_a_real_fall_of_the_index_liquidates():
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(1, "BTC", a=20000, b=20000)
    for t, price in ((30, 19000), (60, 18500), (90, 18000)):  # each step within the 25 % breaker
        out = feed.prices(t, "BTC", a=price, b=price)
        if t == 30:
            usdc_goes_at_19000(out)
    assert loop.oracle.index("BTC").status is Status.VALID
    # 18000 < 18072.29: equity 0, liquidated whole at the mark
    assert ("account", "long", "liquidatable") in kinds(out)
    assert fills(out) == [("long", D("-0.5"), D(18000), "market")]


def test_all_sources_down_is_invalid_freezes_and_suppresses_liquidation():
    # The long cannot be crashed to 17000 first and then have its sources die: the loop would liquidate it at
    # 17000 there and then. It is pushed under while the sources are down instead, by a funding payment.
    loop = new_loop()
    feed = Feed(loop)
    fall_to_18300(feed)  # long: equity 1000 + 0.5 x (18300 - 20000) = 150, MM 0.5 x 18300 x 0.004 = 36.6
    assert feed.send(live.Clock, 150) == []  # a and b are 60 s old: still fresh
    out = feed.send(live.Clock, 151)  # 61 s old: no fresh source, BTC and its perpetual are invalid
    assert loop.oracle.index("BTC").status is Status.INVALID
    assert kinds(out) == [
        ("price_status", "BTC", "invalid"),
        ("price_status", "BTC-PERP", "invalid"),
        ("account", "long", "frozen"),
    ]
    # longs pay 0.015 x 0.5 x 18300 = 137.25: equity 12.75 < MM 36.6, below maintenance, held by the policy
    out = feed.send(live.Funding, 152, instrument="BTC-PERP", rate=D("0.015"))
    assert about(out, "long") == [("figures", "long"), ("account", "long", "liquidation_suppressed")]
    assert loop.state.liquidatable("long") and loop.suppressed == {"long"} and loop.frozen == {"long"}
    (refused,) = feed.send(live.Withdrawal, 153, account="long", asset="USDT", amount=D(1))
    assert isinstance(refused, live.Rejected) and "frozen" in refused.message
    # no new risk, but the position may still be reduced
    (refused,) = feed.send(live.Trade, 154, buyer="long", seller=MARKET, instrument="BTC-PERP", size=D("0.01"),
                           price=D(18300))  # fmt: skip
    assert isinstance(refused, live.Rejected) and "may not add risk" in refused.message
    # selling 0.1 at the mark realizes 0.1 x (18300 - 20000) = -170 and leaves equity 12.75; MM 0.4 x 18300 x
    # 0.004 = 29.28: still below, still held (reported once)
    (figures,) = feed.send(live.Trade, 155, buyer=MARKET, seller="long", instrument="BTC-PERP", size=D("0.1"),
                           price=D(18300))  # fmt: skip
    assert isinstance(figures, live.Figures)
    assert (figures.equity, figures.maintenance_margin) == (D("12.75"), D("29.28"))
    # the sources come back at 18300: valid, and the held liquidation goes ahead; 12.75 is below half the MM
    # (14.64), so the whole 0.4 goes at the mark, and ``long`` keeps 1000 - 137.25 - 170 - 680 = 12.75 USDT
    out = feed.prices(200, "BTC", a=18300, b=18300)
    assert fills(out) == [("long", D("-0.4"), D(18300), "market")]
    assert ("account", "long", "unfrozen") in kinds(out)
    assert loop.state.account("long").balances == {"USDT": D("12.75")}


def test_collateral_depeg_on_one_venue_only_is_ignored():
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(1, "USDC", a=1, b=1, c="0.8")  # one venue at 0.80: 20 % from the median, ignored
    quote = loop.oracle.index("USDC")
    assert (quote.price, quote.status) == (D(1), Status.VALID)
    assert loop.state.guard.held == {}
    # usdc's free collateral at 1: 100 - IM 80 = 20 USDC
    (refused,) = feed.send(live.Withdrawal, 2, account="usdc", asset="USDC", amount=D("20.01"))
    assert isinstance(refused, live.Rejected) and refused.field == "amount"
    (figures,) = feed.send(live.Withdrawal, 2, account="usdc", asset="USDC", amount=D(20))
    assert isinstance(figures, live.Figures) and figures.equity == D(80)


def test_a_real_depeg_is_degraded_and_valued_conservatively():
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(1, "USDC", a="0.95", b="0.95")  # below the floor 0.99: degraded
    quote = loop.oracle.index("USDC")
    assert quote.status is Status.DEGRADED and quote.price == D("0.95")
    # the EMA from 1 at t = 0 moves w = 1 - 2^(-1/300) of the way to 0.95 by t = 1: 0.99988. Held collateral
    # counts at min(index, EMA) = 0.95, owed at the EMA
    guard = loop.state.guard
    assert guard.held == {"USDC": D("0.95")} and not guard.frozen
    assert abs(float(guard.owed["USDC"]) - (1 - 0.05 * (1 - 2 ** (-1 / 300)))) < 1e-12
    # equity 95, free 95 - 80 = 15, so 15 / 0.95 = 15.789... USDC may leave, not 16
    (refused,) = feed.send(live.Withdrawal, 2, account="usdc", asset="USDC", amount=D(16))
    assert isinstance(refused, live.Rejected) and refused.field == "amount"
    (figures,) = feed.send(live.Withdrawal, 2, account="usdc", asset="USDC", amount=D("15.78"))
    assert isinstance(figures, live.Figures) and figures.equity == D("80.009")  # (100 - 15.78) x 0.95


def test_clock_skew_out_of_order_and_duplicates_are_ignored():
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(100, "BTC", a=20000, b=20000)
    digest = loop.state.digest()

    def quote(source: str, price: int, at: int | None = None) -> list[live.OutboundEvent]:
        stamped = None if at is None else D(at)
        sent = live.Quote(source=source, symbol="BTC", price=D(price), at=stamped)
        return feed.send(live.Prices, 100, quotes=(sent,))

    lagging = quote("c", 25000, at=30)  # c's clock 70 s behind: stale on arrival
    older = quote("a", 10000, at=95)  # older than a's last report: refused
    again = quote("a", 20000)  # the same report again
    for out, why in ((lagging, "stale on arrival"), (older, "out of order"), (again, "duplicate")):
        assert [row[0] for row in kinds(out)] == ["price_status", "price_status"]  # BTC and BTC-PERP
        assert all(isinstance(e, live.PriceStatus) and why in str(e.ignored) for e in out)
    assert loop.oracle.index("BTC").price == D(20000)
    assert loop.state.digest() == digest  # nothing reached the ledger


def replay() -> Replay:
    return Replay(
        LoopConfig(
            portfolio_from_document(DOCUMENT), rulebook("generic").rules, LiquidationTerms(), oracle_config(DOCUMENT)
        )
    )


def test_a_replay_guards_the_ledger_by_the_policy():
    r = replay()
    for source in ("a", "b"):
        r.feed(SourceUpdate(D(1), source, "USDC", D("0.95")))  # below the floor 0.99: degraded
    # the default policy values a degraded USDC conservatively (it does not freeze it): on the ledger, as in
    # the loop's depeg above, usdc's 100 USDC count at 0.95, equity 95, free 95 - IM 80 = 15 = 15.789... USDC
    assert r.loop.state.guard.held == {"USDC": D("0.95")} and not r.loop.state.guard.frozen
    with pytest.raises(InputError, match="exceeds the free collateral"):
        r.loop.state.apply(Withdraw("usdc", "USDC", D("15.79")))
    r.loop.state.apply(Withdraw("usdc", "USDC", D("15.78")))
    # BTC's and USDC's sources stop; at t = 100 they are 99 s old (> 60): invalid, which the policy freezes on
    for source in ("a", "b"):
        r.feed(SourceUpdate(D(1), source, "BTC", D(20000)))
    r.feed(SourceUpdate(D(100), "a", "USDT", D(1)))
    assert r.loop.state.guard.frozen == {"BTC", "BTC-PERP", "USDC"}
    with pytest.raises(InputError, match="frozen: the price of BTC-PERP"):
        r.loop.state.apply(Withdraw("long", "USDT", D(1)))
