"""The oracle book alone: sources in, index and status out, worked by hand. What the policy does with the
accounts at those prices is tested through the engine loop (tests/live/test_policy.py).

The book (base USD; :data:`DOCUMENT`, which the engine loop's tests share): USDT and USDC collateral (USDC
pegged at 1, floor 0.99), BTC-PERP linear, 1 contract = 1 BTC, mmr 0.004, imr 0.008; prices BTC 20000, marks
BTC-PERP 20000. Guards: max age 60 s, quorum 2, max deviation 2 %, circuit breaker at 25 % from the EMA
(half-life 300 s).

- ``long``: 1000 USDT, long 0.5 BTC-PERP from 20000. Liquidation at 1000 + 0.5 (P - 20000) - 0.002 P = 0,
  P = 9000 / 0.498 = 18072.29; MM 40 at 20000.
- ``usdc``: 100 USDC, long 0.5 BTC-PERP from 20000: at USDC 1, equity 100, MM 40, IM 80, free 20.
"""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.book import OracleBook
from crossmargin.oracle.config import Guards, OracleConfig, Status
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate

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


def oracle() -> OracleBook:
    """The oracle of the book: the document's prices and marks (valid) until a feed speaks."""
    market = portfolio_from_document(DOCUMENT).market
    return OracleBook(oracle_config(DOCUMENT), dict(market.prices), dict(market.marks), {"BTC-PERP": "BTC"})


def feed(book: OracleBook, t: int | str, symbol: str, **prices: int | str) -> list[str | None]:
    """One update per source at ``t``; why each was ignored (None: taken)."""
    return [book.accept(SourceUpdate(D(t), source, symbol, D(price))) for source, price in prices.items()]


def test_three_honest_sources_give_the_median_and_stay_valid():
    book = oracle()
    feed(book, 1, "BTC", a=19990, b=20000, c=20010)
    quote = book.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(20000), Status.VALID, ("a", "b", "c"))


def test_a_symbol_no_feed_mentions_keeps_the_document_price_valid():
    book = oracle()
    book.advance(D(1000))  # time alone turns stale only a source that spoke (tests/oracle/test_clock.py)
    quote = book.index("USDC")
    assert (quote.price, quote.status) == (D(1), Status.VALID)
    assert (book.mark("BTC-PERP").price, book.mark("BTC-PERP").status) == (D(20000), Status.VALID)


def test_a_stale_source_leaves_fewer_than_the_quorum_unconfirmed():
    book = oracle()
    feed(book, 0, "BTC", a=20000, b=20000)
    feed(book, 61, "BTC", a=20100)  # b last reported 61 s ago: stale; one fresh source < quorum 2
    quote = book.index("BTC")
    # 20100 is 100 / 20000 = 0.5 % from the last quorum price: within max_deviation 2 %, unconfirmed
    assert (quote.price, quote.status) == (D(20100), Status.UNCONFIRMED)
    assert "1 agreeing fresh sources, quorum 2" in quote.reason and "20000" in quote.reason
    # the mark follows the index (no trade): unconfirmed too
    assert (book.mark("BTC-PERP").price, book.mark("BTC-PERP").status) == (D(20100), Status.UNCONFIRMED)


def test_a_lone_source_jumping_from_the_last_quorum_price_is_invalid():
    book = oracle()
    for t, price in ((1, 20000), (30, 19000), (60, 18500), (90, 18300)):
        feed(book, t, "BTC", a=price, b=price)
    feed(book, 160, "BTC", a=17500)  # b is 70 s old: a alone, 800 / 18300 = 4.37 % from the last quorum price
    quote = book.index("BTC")
    assert (quote.price, quote.status) == (D(17500), Status.INVALID)
    assert "0.0437 from the last quorum price 18300" in quote.reason
    feed(book, 161, "BTC", a=18000)  # 300 / 18300 = 1.64 %: within max_deviation, unconfirmed
    assert (book.index("BTC").price, book.index("BTC").status) == (D(18000), Status.UNCONFIRMED)


def test_one_spiking_source_of_three_is_ignored():
    book = oracle()
    feed(book, 1, "BTC", a=20000, b=20010, c=30000)
    # median 20010; c is 49.9 % away (> 2 %): ignored; median of a, b = 20005
    quote = book.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(20005), Status.VALID, ("a", "b"))


def test_a_trade_far_from_the_index_moves_the_mark_by_its_basis_ema_only():
    book = oracle()
    feed(book, 1, "BTC", a=20000, b=20000, c=20000)
    feed(book, 2, "BTC-PERP", dex=15000)  # last trade spiked 25 % down, index unchanged
    # basis EMA from 0 at t = 0: one trade 2 s later moves it w = 1 - 2^(-2/300) toward -5000: -23.05;
    # mark = median(20000, 20000 - 23.05, 15000) = 19976.95
    mark = book.mark("BTC-PERP")
    assert abs(float(mark.price) - (20000 - 5000 * (1 - 2 ** (-2 / 300)))) < 1e-9
    assert mark.status is Status.VALID


def test_a_depeg_on_one_venue_is_ignored_and_a_real_one_is_degraded():
    book = oracle()
    feed(book, 1, "USDC", a=1, b=1, c="0.8")  # one venue at 0.80: 20 % from the median, ignored
    assert (book.index("USDC").price, book.index("USDC").status) == (D(1), Status.VALID)
    book = oracle()
    feed(book, 1, "USDC", a="0.95", b="0.95")  # below the floor 0.99: degraded
    quote = book.index("USDC")
    assert (quote.price, quote.status) == (D("0.95"), Status.DEGRADED)
    # the EMA from 1 at t = 0 moves w = 1 - 2^(-1/300) of the way to 0.95 by t = 1
    assert abs(float(quote.ema) - (1 - 0.05 * (1 - 2 ** (-1 / 300)))) < 1e-12


def test_clock_skew_out_of_order_and_duplicates_are_ignored():
    book = oracle()
    feed(book, 100, "BTC", a=20000, b=20000)
    (lagging,) = feed(book, 30, "BTC", c=25000)  # c's clock 70 s behind: stale on arrival
    assert "stale on arrival" in str(lagging)
    (older,) = feed(book, 95, "BTC", a=10000)  # older than a's last report: refused
    assert "out of order" in str(older)
    assert feed(book, 100, "BTC", a=20000) == ["duplicate"]
    assert book.index("BTC").price == D(20000)


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
