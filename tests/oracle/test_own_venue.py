"""Own-venue pricing (``price_source``, docs/oracle.md "Own-venue pricing"): the index of a symbol is one named
source's fresh price instead of the median of its sources; the median when that source is not fresh. Every
figure worked by hand.

The book here: base USD; USDE priced 1 (document), BTC 100 with BTC-PERP marked 100 on it; three sources s1, s2,
s3. Guards: the defaults (max age 60 s, quorum 1, max deviation 2 %, circuit breaker 25 % from the EMA, EMA
half-life 300 s) unless a test says otherwise. Every update at t = 0 leaves the EMAs at the document prices
(an EMA step of 0 s has weight 1 - e^0 = 0), so the circuit breaker compares with 1 (USDE) and 100 (BTC).
"""

from dataclasses import replace
from decimal import Decimal

import msgspec
import pytest

from crossmargin.model import InputError
from crossmargin.oracle.book import OracleBook, OracleSnapshot
from crossmargin.oracle.config import MEDIAN, Guards, OracleConfig, Status
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate
from tests.oracle.conftest import DOCUMENT

D = Decimal

PEGGED = Guards(peg=D(1), max_jump=None)  # USDE: pegged at 1 (floor 0.99), no circuit breaker
OWN = replace(PEGGED, price_source="s1")  # ... and priced at s1 alone


def oracle(usde: Guards = PEGGED, btc: Guards | None = None) -> OracleBook:
    symbols = {"USDE": usde} if btc is None else {"USDE": usde, "BTC": btc}
    config = OracleConfig(symbols=symbols)
    return OracleBook(config, {"USDE": D(1), "BTC": D(100)}, {"BTC-PERP": D(100)}, {"BTC-PERP": "BTC"})


def feed(book: OracleBook, t: int, symbol: str, **prices: str) -> None:
    for source, price in prices.items():
        assert book.accept(SourceUpdate(D(t), source, symbol, D(price))) is None


def test_one_venue_at_0_65_is_filtered_by_the_median_and_is_the_own_venue_index():
    median, own = oracle(PEGGED), oracle(OWN)
    for book in (median, own):
        feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    # median of (0.65, 1, 1) = 1; s1 is 0.35 / 1 = 35 % from it (> 2 %): ignored; median of s2, s3 = 1, at
    # the peg (not below the floor 0.99): valid
    quote = median.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("1.00"), Status.VALID, ("s2", "s3"))
    # own venue s1: 0.65 alone, below the floor 1 x (1 - 0.01) = 0.99: degraded
    quote = own.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("0.65"), Status.DEGRADED, ("s1",))
    assert quote.reason == "own venue s1, below its peg floor 0.99"


def test_the_own_venue_price_without_a_peg_is_valid_and_needs_no_quorum():
    # quorum 3 and no peg: the median config has only s2, s3 agreeing (2 < 3): below the quorum, 1.00 is 0 %
    # from the last quorum price 1 (the document's): unconfirmed. The own venue ignores the quorum: valid.
    strict = Guards(quorum=3, max_jump=None)
    median, own = oracle(strict), oracle(replace(strict, price_source="s1"))
    for book in (median, own):
        feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    assert (median.index("USDE").price, median.index("USDE").status) == (D("1.00"), Status.UNCONFIRMED)
    assert (own.index("USDE").price, own.index("USDE").status, own.index("USDE").reason) == (
        D("0.65"),
        Status.VALID,
        "own venue s1",
    )


def test_the_circuit_breaker_still_guards_the_own_venue():
    # the default max_jump 0.25: |0.65 - 1| / 1 (the EMA, still the document's price) = 0.35 > 0.25: invalid
    book = oracle(replace(OWN, max_jump=D("0.25")))
    feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    quote = book.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("0.65"), Status.INVALID, ("s1",))
    # (the EMA took the t = 0 updates with weight 0: 1 + 0 x (0.65 - 1) = 1.00, a Decimal keeping its places)
    assert quote.reason == "own venue s1, circuit breaker: 0.3500 from the EMA 1.00"


def test_a_stale_own_venue_falls_back_to_the_median_of_the_fresh_sources():
    book = oracle(OWN)
    feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    feed(book, 61, "USDE", s2="0.999", s3="1.001")  # s1 last reported 61 s ago (> max_age_s 60): stale
    # fallback: median of s2, s3 = (0.999 + 1.001) / 2 = 1.000, both within 2 %, quorum 1: valid
    quote = book.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("1.000"), Status.VALID, ("s2", "s3"))
    assert quote.reason == "own venue s1 not fresh, falling back to the median: median of 2 fresh sources"
    feed(book, 62, "USDE", s1="0.70")  # s1 fresh again: its price alone, 0.70 < 0.99: degraded
    assert (book.index("USDE").price, book.index("USDE").status) == (D("0.70"), Status.DEGRADED)


def test_an_own_venue_that_never_reported_falls_back_to_the_median():
    book = oracle(replace(OWN, price_source="s9"))  # a venue no feed names
    feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    quote = book.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("1.00"), Status.VALID, ("s2", "s3"))
    assert quote.reason.startswith("own venue s9 not fresh, falling back to the median: ")


def test_every_source_stale_is_invalid_at_the_last_own_venue_index():
    book = oracle(OWN)
    feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")  # each update recorded the own-venue index 0.65
    book.advance(D(61))  # every report 61 s old: none fresh
    quote = book.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("0.65"), Status.INVALID, ())
    assert quote.reason == (
        "own venue s1 not fresh, falling back to the median: no fresh source: stale, the newest report is 61 s "
        "old (max_age_s 60)"
    )


def test_a_mark_on_an_own_venue_underlying_follows_that_venue():
    # BTC priced at s1: index 90 (s2, s3 at 100 are ignored); the basis EMA starts at mark - index = 100 - 100
    # = 0, so the mark is median(90, 90 + 0) = 90. At the median: index 100, mark 100.
    median, own = oracle(btc=Guards()), oracle(btc=Guards(price_source="s1"))
    for book in (median, own):
        feed(book, 0, "BTC", s1="90", s2="100", s3="100")
    assert (median.index("BTC").price, median.mark("BTC-PERP").price) == (D(100), D(100))
    assert (own.index("BTC").price, own.mark("BTC-PERP").price) == (D(90), D(90))
    assert own.mark("BTC-PERP").status == Status.VALID  # 10 % from the EMA 100: under the default 25 %


def test_snapshot_restore_and_digest_cover_an_own_venue_book():
    book = oracle(OWN)
    feed(book, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    feed(book, 30, "USDE", s1="0.66")
    again = oracle(OWN)
    assert again.digest() != book.digest()
    again.restore(msgspec.json.decode(msgspec.json.encode(book.snapshot()), type=OracleSnapshot))
    assert again.digest() == book.digest() and again.index("USDE") == book.index("USDE")
    assert book.index("USDE").price == D("0.66")
    # the own venue's latest price is state the digest sees: one cent less, another digest
    other = oracle(OWN)
    feed(other, 0, "USDE", s1="0.65", s2="1.00", s3="1.00")
    feed(other, 30, "USDE", s1="0.65")
    assert other.digest() != book.digest()
    # after a restore both books take the same update to the same price: s1 stale at t = 91 (61 s after 30),
    # s2 at 1.00 alone is the fallback median
    for b in (book, again):
        feed(b, 91, "USDE", s2="1.00")
    assert again.index("USDE") == book.index("USDE") and book.index("USDE").price == D("1.00")


def test_the_document_section_sets_the_price_source_per_symbol_or_for_all():
    def config(section: dict[str, object]) -> OracleConfig:
        return oracle_config({**DOCUMENT, "oracle": section})

    per_symbol = config({"symbols": {"USDC": {"price_source": "binance"}}})
    assert per_symbol.guards("USDC").price_source == "binance" and per_symbol.guards("USDC").own_venue == "binance"
    assert per_symbol.guards("BTC").price_source == MEDIAN and per_symbol.guards("BTC").own_venue is None
    everywhere = config({"price_source": "binance", "symbols": {"BTC": {"price_source": "median"}}})
    assert everywhere.guards("USDC").own_venue == "binance"  # the default guards, inherited
    assert everywhere.guards("BTC").own_venue is None  # set back to the median for BTC


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"symbols": {"USDC": {"price_source": ""}}}, "oracle.symbols.USDC.price_source"),
        ({"price_source": 1}, "oracle.price_source"),
    ],
)
def test_a_bad_price_source_is_refused_naming_its_field(section: dict[str, object], field: str):
    with pytest.raises(InputError) as caught:
        oracle_config({**DOCUMENT, "oracle": section})
    assert caught.value.field == field


def test_guards_refuse_an_empty_price_source():
    with pytest.raises(InputError) as caught:
        Guards(price_source=" ")
    assert caught.value.field == "price_source"
