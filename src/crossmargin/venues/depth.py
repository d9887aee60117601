"""Bundled real order-book depth (``data/depth``, sources in its README): one-sided books as
``(price, units)`` rows, best first, for liquidity models to be built from."""

import csv
import io
from decimal import Decimal
from functools import cache
from importlib.resources import files

BINANCE_BTCUSDT_BIDS = "binance-futures_btcusdt_bids_2022-11-01.csv"


@cache
def binance_btcusdt_bids_2022_11_01() -> tuple[tuple[Decimal, Decimal], ...]:
    """The bid side of Binance USD-M BTCUSDT at 2022-11-01 23:49:39 UTC: 100 levels, 20,377.0 down to
    20,365.9 USDT, sizes in BTC (176.96 in all), best first."""
    text = (files("crossmargin.venues") / "data" / "depth" / BINANCE_BTCUSDT_BIDS).read_text(encoding="utf-8")
    return tuple((Decimal(row["price"]), Decimal(row["qty"])) for row in csv.DictReader(io.StringIO(text)))
