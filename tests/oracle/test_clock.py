"""The oracle's clock moved by time alone, and snapshots of the oracle book.

Guards: max age 60 s, quorum 2, max deviation 2 %, breaker 25 % from the EMA (half-life 300 s). Document
state: BTC 20000, USDC 1, BTC-PERP marked 20000 on BTC.
"""

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.model import InputError
from crossmargin.oracle.book import OracleBook, OracleSnapshot
from crossmargin.oracle.config import Guards, OracleConfig, Status
from crossmargin.oracle.feed import SourceUpdate

D = Decimal
CONFIG = OracleConfig(Guards(quorum=2), {"USDC": Guards(quorum=2, peg=D(1))})
SYMBOLS = ("BTC", "USDC", "BTC-PERP")


def oracle() -> OracleBook:
    return OracleBook(CONFIG, {"BTC": D(20000), "USDC": D(1)}, {"BTC-PERP": D(20000)}, {"BTC-PERP": "BTC"})


def test_a_feed_that_stops_turns_stale_by_time_alone():
    book = oracle()
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
    book = oracle()
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
        oracle().advance(t)
    assert caught.value.field == "t"


def quotes(book: OracleBook) -> list[tuple[object, ...]]:
    return [(q.price, q.status, q.reason, q.sources, q.ema) for q in map(book.price, SYMBOLS)]


def test_a_restored_book_answers_and_moves_as_the_original():
    book = oracle()
    for t, source, symbol, price in [
        (1, "a", "BTC", "20000"), (1, "b", "BTC", "20010"), (2, "a", "USDC", "0.95"), (2, "b", "USDC", "0.96"),
        (3, "dex", "BTC-PERP", "20100"), (30, "a", "BTC", "19900"),
    ]:  # fmt: skip
        book.accept(SourceUpdate(D(t), source, symbol, D(price)))
    snapshot = book.snapshot()
    assert msgspec.json.decode(msgspec.json.encode(snapshot), type=OracleSnapshot) == snapshot
    again = oracle()
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
    book = oracle()
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
    book = oracle()
    for step in before:
        if isinstance(step, Decimal):
            book.advance(step)
        else:
            book.accept(step)
    again = oracle()
    again.restore(msgspec.json.decode(msgspec.json.encode(book.snapshot()), type=OracleSnapshot))
    assert again.digest() == book.digest()
    for step in after:
        if isinstance(step, Decimal):
            book.advance(step)
            again.advance(step)
        else:
            assert book.accept(step) == again.accept(step)
        assert again.digest() == book.digest() and quotes(again) == quotes(book)
