"""The bundled Binance BTCUSDT books (a bid side; ten two-sided top-5 books): the byte-exact copies the README
cites, read as (price, units) rows, best first, with the figures the README states."""

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files

from crossmargin.venues.depth import (
    BINANCE_BTCUSDT_BIDS,
    BINANCE_BTCUSDT_TOP5,
    binance_btcusdt_bids_2022_11_01,
    binance_btcusdt_top5_2020_09_01,
)

DATA = files("crossmargin.venues") / "data" / "depth" / BINANCE_BTCUSDT_BIDS


def test_the_file_is_the_byte_exact_copy_its_readme_cites():
    data = DATA.read_bytes()
    assert len(data) == 7582
    assert hashlib.sha256(data).hexdigest() == "470ab6a3ced7da91c951db297a233f04546ed145cc63802a7507852c09f484bb"
    # the snapshot's time, 1667346579146 ms, is the README's 2022-11-01 23:49:39 UTC
    assert b",1667346579146," in data
    assert datetime.fromtimestamp(1667346579146 / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") == "2022-11-01 23:49:39"


def test_the_rows_are_the_readmes_hundred_bid_levels_best_first():
    rows = binance_btcusdt_bids_2022_11_01()
    assert len(rows) == 100
    assert (rows[0][0], rows[-1][0]) == (Decimal("20377.0"), Decimal("20365.9"))
    assert sum(units for _, units in rows) == Decimal("176.96")
    prices = [price for price, _ in rows]
    assert prices == sorted(prices, reverse=True) and len(set(prices)) == 100  # best (highest) bid first
    assert all(price % Decimal("0.1") == 0 and units > 0 for price, units in rows)  # the 0.1 tick
    assert rows[0] == (Decimal("20377.00"), Decimal("1.770"))  # the first line, read exactly
    assert binance_btcusdt_bids_2022_11_01() is rows  # read once


def test_the_two_sided_sample_is_the_byte_exact_copy_its_readme_cites():
    data = (files("crossmargin.venues") / "data" / "depth" / BINANCE_BTCUSDT_TOP5).read_bytes()
    assert len(data) == 2350
    assert hashlib.sha256(data).hexdigest() == "65f8b70744bacbbf64091e3b912a9fbbab6b287b6cf0cb99b403f61323655c01"
    readme = (files("crossmargin.venues") / "data" / "depth" / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(data).hexdigest() in readme


def test_the_two_sided_sample_reads_as_ten_books_of_five_levels_a_side():
    books = binance_btcusdt_top5_2020_09_01()
    assert len(books) == 10 and books is binance_btcusdt_top5_2020_09_01()
    # the first line: ..., 1598918403696000, ..., asks[0] 11657.08 x 1.714, bids[0] 11657.07 x 10.896, ...
    first = books[0]
    assert first.timestamp_us == 1598918403696000
    assert datetime.fromtimestamp(first.timestamp_us / 10**6, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] == (
        "2020-09-01 00:00:03.696"
    )
    assert first.asks[0] == (Decimal("11657.08"), Decimal("1.714"))
    assert first.bids[0] == (Decimal("11657.07"), Decimal("10.896"))
    assert first.bids[4] == (Decimal("11655.68"), Decimal("0.111"))
    assert first.asks[4] == (Decimal("11657.92"), Decimal("0.918"))
    for book in books:
        assert len(book.bids) == len(book.asks) == 5
        assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
        assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
        assert book.bids[0][0] < book.asks[0][0]  # not crossed
    assert books[-1].timestamp_us == 1598918404284000
