"""The oracle book (:mod:`crossmargin.oracle.book`) alone: sources in, index and status out, worked by hand;
its clock moved by time alone; its snapshots. What the policy does with the accounts at those prices is
tested through the engine loop (tests/live/test_policy.py).

The book is :data:`~tests.oracle.conftest.DOCUMENT` (see there): BTC 20000, USDC 1 (pegged, floor 0.99),
BTC-PERP marked 20000 on BTC. Guards: max age 60 s, quorum 2, max deviation 2 %, circuit breaker at 25 % from
the EMA (half-life 300 s).
"""

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.book import OracleBook, OracleSnapshot
from crossmargin.oracle.config import Guards, OracleConfig, Status
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate
from tests.oracle.conftest import DOCUMENT

D = Decimal


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
    book.advance(D(1000))  # time alone turns stale only a source that spoke (the clock tests below)
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


# ---------------------------------------------------------------------------------------- clock and snapshots

CONFIG = OracleConfig(Guards(quorum=2), {"USDC": Guards(quorum=2, peg=D(1))})
SYMBOLS = ("BTC", "USDC", "BTC-PERP")


def built() -> OracleBook:
    """The same guards and prices as the document's oracle (:func:`oracle`), built directly."""
    return OracleBook(CONFIG, {"BTC": D(20000), "USDC": D(1)}, {"BTC-PERP": D(20000)}, {"BTC-PERP": "BTC"})


def test_a_feed_that_stops_turns_stale_by_time_alone():
    book = built()
    for source in ("a", "b"):
        book.accept(SourceUpdate(D(10), source, "BTC", D(20100)))
    assert book.index("BTC").status is Status.VALID
    book.advance(D(70))  # 70 - 10 = 60 s: not older than max_age_s 60, still fresh
    assert book.index("BTC").status is Status.VALID and book.clock == D(70)
    book.advance(D(71))  # 61 s > 60 s: both sources stale, no fresh source
    quote = book.index("BTC")
    assert quote.status is Status.INVALID
    assert quote.reason == "no fresh source: stale, the newest report is 61 s old (max_age_s 60)"
    assert quote.price == D(20100)  # the last index, kept for display
    assert book.mark("BTC-PERP").status is Status.INVALID  # the mark's status is its index's
    book.advance(D(30))  # earlier: the clock stays
    assert book.clock == D(71)
    # the clock has moved on: an update stamped 61 s before it is stale on arrival
    assert "stale on arrival" in str(book.accept(SourceUpdate(D(10), "c", "BTC", D(20000))))


def test_one_source_stopping_leaves_the_price_below_the_quorum():
    book = built()
    for source in ("a", "b"):
        book.accept(SourceUpdate(D(0), source, "BTC", D(20000)))
    book.accept(SourceUpdate(D(40), "a", "BTC", D(20100)))
    book.advance(D(61))  # b is 61 s old: stale; a is 21 s old: fresh, alone below the quorum 2
    quote = book.index("BTC")
    # 20100 is 100 / 20000 = 0.5 % from the last quorum price (20000 at t = 0): within 2 %, unconfirmed
    assert (quote.price, quote.status, quote.sources) == (D(20100), Status.UNCONFIRMED, ("a",))


@pytest.mark.parametrize("t", [D(-1), D("NaN")])
def test_the_clock_refuses_a_time_that_is_not_one(t):
    with pytest.raises(InputError) as caught:
        built().advance(t)
    assert caught.value.field == "t"


def quotes(book: OracleBook) -> list[tuple[object, ...]]:
    return [(q.price, q.status, q.reason, q.sources, q.ema) for q in map(book.price, SYMBOLS)]


def test_a_restored_book_answers_and_moves_as_the_original():
    book = built()
    for t, source, symbol, price in [
        (1, "a", "BTC", "20000"), (1, "b", "BTC", "20010"), (2, "a", "USDC", "0.95"), (2, "b", "USDC", "0.96"),
        (3, "dex", "BTC-PERP", "20100"), (30, "a", "BTC", "19900"),
    ]:  # fmt: skip
        book.accept(SourceUpdate(D(t), source, symbol, D(price)))
    snapshot = book.snapshot()
    assert msgspec.json.decode(msgspec.json.encode(snapshot), type=OracleSnapshot) == snapshot
    again = built()
    assert again.digest() != book.digest()
    again.restore(msgspec.json.decode(msgspec.json.encode(snapshot), type=OracleSnapshot))
    assert again.digest() == book.digest() and quotes(again) == quotes(book)
    steps: list[SourceUpdate | Decimal] = [
        SourceUpdate(D(40), "b", "BTC", D(19950)), SourceUpdate(D(41), "dex", "BTC-PERP", D(19800)), D(100),
        SourceUpdate(D(101), "a", "USDC", D(1)), SourceUpdate(D(101), "b", "USDC", D(1)),
    ]  # fmt: skip
    for step in steps:
        for b in (book, again):
            if isinstance(step, Decimal):
                b.advance(step)
            else:
                b.accept(step)
        assert again.digest() == book.digest() and quotes(again) == quotes(book)
    # at t = 101 BTC's sources are 61 s old: stale, in both
    assert again.index("BTC").status is Status.INVALID


def test_a_snapshot_of_another_version_is_refused():
    book = built()
    with pytest.raises(InputError) as caught:
        book.restore(msgspec.structs.replace(book.snapshot(), version=2))
    assert caught.value.field == "version"


STEPS = st.one_of(
    st.builds(
        lambda t, source, symbol, bps: SourceUpdate(D(t), source, symbol, D(20000 if symbol != "USDC" else 1) * bps),
        st.integers(0, 400),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(SYMBOLS),
        st.integers(9000, 11000).map(lambda n: D(n) / 10000),
    ),
    st.integers(0, 400).map(D),
)


@settings(deadline=None)
@given(st.lists(STEPS, max_size=15), st.lists(STEPS, max_size=15))
def test_the_same_updates_after_a_restore_give_the_same_book(
    before: list[SourceUpdate | Decimal], after: list[SourceUpdate | Decimal]
):
    book = built()
    for step in before:
        if isinstance(step, Decimal):
            book.advance(step)
        else:
            book.accept(step)
    again = built()
    again.restore(msgspec.json.decode(msgspec.json.encode(book.snapshot()), type=OracleSnapshot))
    assert again.digest() == book.digest()
    for step in after:
        if isinstance(step, Decimal):
            book.advance(step)
            again.advance(step)
        else:
            assert book.accept(step) == again.accept(step)
        assert again.digest() == book.digest() and quotes(again) == quotes(book)


def test_a_source_whose_confidence_is_too_wide_is_not_counted():
    # max_confidence 0.02 (the default): a's half-width 100 / 20000 = 0.5 % counts, b's 500 / 20100 = 2.49 % is
    # wider than 2 % and b is left out; c gave none. Median of a and c: (20000 + 19900) / 2 = 19950.
    book = oracle()
    for source, price, confidence in (("a", 20000, 100), ("b", 20100, 500), ("c", 19900, None)):
        width = None if confidence is None else D(confidence)
        assert book.accept(SourceUpdate(D(1), source, "BTC", D(price), width)) is None
    quote = book.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(19950), Status.VALID, ("a", "c"))
    # a now 1000 / 20000 = 5 % wide: c alone is left, 19900, one source below the quorum 2 and
    # 50 / 19950 = 0.25 % from the last quorum price: unconfirmed
    book.accept(SourceUpdate(D(2), "a", "BTC", D(20000), D(1000)))
    quote = book.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(19900), Status.UNCONFIRMED, ("c",))
    # and c 401 / 20000 = 2.005 % wide: no source counts, the last index (19900) kept for display
    book.accept(SourceUpdate(D(2), "c", "BTC", D(20000), D(401)))
    quote = book.index("BTC")
    assert (quote.price, quote.status, quote.sources) == (D(19900), Status.INVALID, ())
    assert quote.reason == "no fresh source: every source's confidence is wider than 0.02"


def test_an_instrument_whose_underlying_has_no_index_is_marked_by_its_own_trades():
    # X has no price in the document and no feed: the trades of X-PERP are its index. Quorum 1, two trades
    # 11 and 11.1 at t = 1: median 11.05, each within 2 % of it (0.05 / 11.05 = 0.45 %); the EMA from the
    # document mark 10 has barely moved by t = 1, and 11.05 is 10.5 % from it: under the 25 % breaker.
    book = OracleBook(OracleConfig(), {}, {"X-PERP": D(10)}, {"X-PERP": "X"})
    assert book.mark("X-PERP").price == D(10)  # no feed yet: the document mark
    book.accept(SourceUpdate(D(1), "a", "X-PERP", D(11)))
    book.accept(SourceUpdate(D(1), "b", "X-PERP", D("11.1")))
    mark = book.mark("X-PERP")
    assert (mark.symbol, mark.price, mark.status, mark.sources) == ("X-PERP", D("11.05"), Status.VALID, ("a", "b"))
