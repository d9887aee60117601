"""The oracle and the engine under it: each feed failure, worked by hand.

The book (base USD): USDT and USDC collateral (USDC pegged at 1, floor 0.99), BTC-PERP linear, 1 contract =
1 BTC, mmr 0.004, imr 0.008; prices BTC 20000, marks BTC-PERP 20000. Guards: max age 60 s, quorum 2,
max deviation 2 %, circuit breaker at 25 % from the EMA (half-life 300 s).

- ``long``: 1000 USDT, long 0.5 BTC-PERP from 20000. Liquidation at 1000 + 0.5 (P - 20000) - 0.002 P = 0,
  P = 9000 / 0.498 = 18072.29; MM 40 at 20000.
- ``usdc``: 100 USDC, long 0.5 BTC-PERP from 20000: at USDC 1, equity 100, MM 40, IM 80, free 20.
"""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine.priced import PricedEngine
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.book import OracleBook
from crossmargin.oracle.config import Guards, OracleConfig, Status
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.venues import rulebook

D = Decimal
DOCUMENT = {
    "version": 1,
    "base": "USD",
    "assets": {"USDT": {"weight": 1}, "USDC": {"weight": 1}, "BTC": {"weight": "0.9"}},
    "instruments": {
        "BTC-PERP": {
            "kind": "perpetual",
            "underlying": "BTC",
            "settle": "USDT",
            "contract_size": 1,
            "tiers": [{"max_notional": None, "mmr": "0.004", "imr": "0.008"}],
        }
    },
    "prices": {"USDT": 1, "USDC": 1, "BTC": 20000},
    "marks": {"BTC-PERP": 20000},
    "accounts": [
        {
            "id": "long",
            "balances": {"USDT": 1000},
            "positions": [{"instrument": "BTC-PERP", "size": "0.5", "entry_price": 20000}],
        },
        {
            "id": "usdc",
            "balances": {"USDC": 100},
            "positions": [{"instrument": "BTC-PERP", "size": "0.5", "entry_price": 20000}],
        },
    ],
    "oracle": {
        "max_age_s": 60,
        "quorum": 2,
        "max_deviation": "0.02",
        "max_jump": "0.25",
        "symbols": {"USDC": {"peg": 1, "peg_tolerance": "0.01"}},
    },
}


def engine() -> PricedEngine:
    return PricedEngine(portfolio_from_document(DOCUMENT), rulebook("generic").rules, oracle_config(DOCUMENT))


def feed(e: PricedEngine, t: int | str, symbol: str, **prices: int | str) -> list[dict[str, object]]:
    events = []
    for source, price in prices.items():
        events += e.feed(SourceUpdate(D(t), source, symbol, D(price)))
    return events


def kinds(events: list[dict[str, object]], account: str) -> list[object]:
    return [e["event"] for e in events if e.get("account") == account]


def test_three_honest_sources_give_the_median_and_stay_valid():
    e = engine()
    feed(e, 1, "BTC", a=19990, b=20000, c=20010)
    quote = e.oracle.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(20000), Status.VALID, ("a", "b", "c"))


def test_a_stale_source_leaves_fewer_than_the_quorum_unconfirmed():
    e = engine()
    feed(e, 0, "BTC", a=20000, b=20000)
    feed(e, 61, "BTC", a=20100)  # b last reported 61 s ago: stale; one fresh source < quorum 2
    quote = e.oracle.index("BTC")
    # 20100 is 100 / 20000 = 0.5 % from the last quorum price: within max_deviation 2 %, unconfirmed
    assert (quote.price, quote.status) == (D(20100), Status.UNCONFIRMED)
    assert "1 agreeing fresh sources, quorum 2" in quote.reason and "20000" in quote.reason
    assert not e.states["long"].frozen  # unconfirmed prices do not freeze


def fall_to_18300(e: PricedEngine) -> None:
    """a and b walk BTC down to 18300 (a quorum at every step, each within the 25 % breaker): above the long's
    liquidation price 18072.29; b's last report is at t = 90."""
    for t, price in ((1, 20000), (30, 19000), (60, 18500), (90, 18300)):
        feed(e, t, "BTC", a=price, b=price)
    assert e.oracle.index("BTC").status is Status.VALID and not e.states["long"].below_maintenance


def test_below_the_quorum_a_near_price_is_held_not_liquidated():
    e = engine()
    fall_to_18300(e)
    events = feed(e, 160, "BTC", a=18000)  # b is 70 s old (stale): a alone, 300 / 18300 = 1.64 % from 18300
    quote = e.oracle.index("BTC")
    assert (quote.price, quote.status) == (D(18000), Status.UNCONFIRMED)
    # 18000 < 18072.29: below maintenance, but the default policy does not liquidate on unconfirmed prices
    assert kinds(events, "long") == ["liquidation_suppressed"]
    state = e.states["long"]
    assert state.below_maintenance and not state.liquidate and not state.frozen
    # b comes back at the same price: a quorum of two, valid, and the liquidation goes ahead
    events = feed(e, 170, "BTC", b=18000)
    assert e.oracle.index("BTC").status is Status.VALID
    assert kinds(events, "long") == ["liquidatable"]


def explicit(**policy: list[str]) -> PricedEngine:
    document = {**DOCUMENT, "oracle": {**DOCUMENT["oracle"], "policy": policy}}  # type: ignore[dict-item]
    return PricedEngine(portfolio_from_document(document), rulebook("generic").rules, oracle_config(document))


def test_a_policy_that_names_unconfirmed_liquidates_below_the_quorum():
    e = explicit(liquidate_on=["valid", "degraded", "unconfirmed"])
    fall_to_18300(e)
    events = feed(e, 160, "BTC", a=18000)
    assert e.oracle.index("BTC").status is Status.UNCONFIRMED
    assert kinds(events, "long") == ["liquidatable"]


def test_a_lone_source_jumping_from_the_last_quorum_price_is_never_acted_on():
    e = explicit(liquidate_on=["valid", "degraded", "unconfirmed"])
    fall_to_18300(e)
    events = feed(e, 160, "BTC", a=17500)  # a alone: 800 / 18300 = 4.37 % from the last quorum price (> 2 %)
    quote = e.oracle.index("BTC")
    assert (quote.price, quote.status) == (D(17500), Status.INVALID)
    assert "0.0437 from the last quorum price 18300" in quote.reason
    # even a policy that liquidates on unconfirmed prices holds: invalid freezes and suppresses
    assert kinds(events, "long") == ["liquidation_suppressed", "frozen"]
    assert not e.can_withdraw("long", "USDT", D(1))


def test_one_spiking_source_of_three_is_ignored():
    e = engine()
    feed(e, 1, "BTC", a=20000, b=20010, c=30000)
    # median 20010; c is 49.9 % away (> 2 %): ignored; median of a, b = 20005
    quote = e.oracle.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(20005), Status.VALID, ("a", "b"))


def test_manipulated_thin_market_does_not_liquidate():
    e = engine()
    feed(e, 1, "BTC", a=20000, b=20000, c=20000)
    events = feed(e, 2, "BTC-PERP", dex=15000)  # last trade spiked 25 % down, index unchanged
    mark = e.oracle.mark("BTC-PERP")
    # basis EMA after one trade 1 s after the document state: w = 1 - 2^(-2/300) ~ 0.0046, basis ~ -23;
    # mark = median(20000, 20000 - 23, 15000) = 19977: far above the 18072 liquidation price
    assert D(19970) < mark.price < D(20000)
    assert "liquidatable" not in kinds(events, "long") and not e.states["long"].liquidate


def test_a_real_fall_of_the_index_liquidates():
    e = engine()
    feed(e, 1, "BTC", a=20000, b=20000)
    for t, price in ((30, 19000), (60, 18500), (90, 18000)):  # each step within the 25 % breaker
        events = feed(e, t, "BTC", a=price, b=price)
    assert e.oracle.index("BTC").status is Status.VALID
    assert "liquidatable" in kinds(events, "long")  # 18000 < 18072.29


def test_all_sources_down_is_invalid_freezes_and_suppresses_liquidation():
    e = engine()
    feed(e, 0, "BTC", a=20000, b=20000)
    feed(e, 30, "BTC", a=17000, b=17000)  # 15 % drop: within the breaker; long is below maintenance
    assert e.states["long"].liquidate
    events = feed(e, 100, "USDC", a=1, b=1)  # the clock moves on; BTC's sources are 70 s old
    assert e.oracle.index("BTC").status is Status.INVALID
    assert e.states["long"].frozen and not e.states["long"].liquidate and e.states["long"].below_maintenance
    assert "frozen" in kinds(events, "long")
    assert not e.can_withdraw("long", "USDT", D(1))
    # no new risk, but the position may still be reduced
    assert not e.can_open("long", "BTC-PERP", D("0.01"), D(17000))
    assert e.can_open("long", "BTC-PERP", D("-0.1"), D(17000))


def test_collateral_depeg_on_one_venue_only_is_ignored():
    e = engine()
    feed(e, 1, "USDC", a=1, b=1, c="0.8")  # one venue at 0.80: 20 % from the median, ignored
    quote = e.oracle.index("USDC")
    assert (quote.price, quote.status) == (D(1), Status.VALID)
    assert e.can_withdraw("usdc", "USDC", D(20)) and not e.can_withdraw("usdc", "USDC", D("20.01"))


def test_a_real_depeg_is_degraded_and_valued_conservatively():
    e = engine()
    feed(e, 1, "USDC", a="0.95", b="0.95")  # below the floor 0.99: degraded
    quote = e.oracle.index("USDC")
    assert quote.status is Status.DEGRADED and quote.price == D("0.95")
    # held collateral counts at min(index, EMA) = 0.95 (the EMA still near 1): equity 95, free 95 - 80 = 15,
    # so 15 / 0.95 = 15.789... USDC may leave, not 16
    assert e.states["usdc"].equity == D(95)
    assert e.can_withdraw("usdc", "USDC", D("15.78")) and not e.can_withdraw("usdc", "USDC", D(16))


def test_clock_skew_out_of_order_and_duplicates_are_ignored():
    e = engine()
    feed(e, 100, "BTC", a=20000, b=20000)
    lagging = e.feed(SourceUpdate(D(30), "c", "BTC", D(25000)))  # c's clock 70 s behind: stale on arrival
    assert "stale on arrival" in str(lagging[0]["ignored"])
    older = e.feed(SourceUpdate(D(95), "a", "BTC", D(10000)))  # older than a's last report: refused
    assert "out of order" in str(older[0]["ignored"])
    again = e.feed(SourceUpdate(D(100), "a", "BTC", D(20000)))
    assert again[0]["ignored"] == "duplicate"
    assert e.oracle.index("BTC").price == D(20000)


@given(
    st.lists(st.integers(19_800, 20_200), min_size=2, max_size=6),
    st.integers(1, 10_000_000),
)
def test_one_adversarial_source_cannot_leave_the_honest_range(honest: list[int], adversary: int):
    # max_deviation 2 %: every honest price is within ~2 % of every other, the quorum is honest
    book = OracleBook(OracleConfig(Guards(quorum=len(honest))), {"BTC": D(20000)}, {}, {})
    for n, price in enumerate(honest):
        book.accept(SourceUpdate(D(1), f"honest{n}", "BTC", D(price)))
    book.accept(SourceUpdate(D(1), "adversary", "BTC", D(adversary)))
    index = book.index("BTC").price
    assert min(honest) <= index <= max(honest)
