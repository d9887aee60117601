"""The bundled Binance BTCUSDT bid book: the byte-exact copy its README cites, read as (price, units) rows, best
first, with the figures the README states."""

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files

from crossmargin.venues.depth import BINANCE_BTCUSDT_BIDS, binance_btcusdt_bids_2022_11_01

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
