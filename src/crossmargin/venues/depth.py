"""Bundled real order-book depth (``data/depth``, sources in its README): sides of books as
``(price, units)`` rows, best first, for liquidity models to be built from."""

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.resources import files

BINANCE_BTCUSDT_BIDS = "binance-futures_btcusdt_bids_2022-11-01.csv"
BINANCE_BTCUSDT_TOP5 = "binance-futures_btcusdt_top5_2020-09-01.csv"

Rows = tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True)
class BookSnapshot:
    """Both sides of a book at one time: ``bids`` (prices falling) and ``asks`` (prices rising) as
    ``(price, units)`` rows, best first; ``timestamp_us``: the venue's time, microseconds since the epoch."""

    timestamp_us: int
    bids: Rows
    asks: Rows


@cache
def binance_btcusdt_bids_2022_11_01() -> tuple[tuple[Decimal, Decimal], ...]:
    """The bid side of Binance USD-M BTCUSDT at 2022-11-01 23:49:39 UTC: 100 levels, 20,377.0 down to
    20,365.9 USDT, sizes in BTC (176.96 in all), best first."""
    text = (files("crossmargin.venues") / "data" / "depth" / BINANCE_BTCUSDT_BIDS).read_text(encoding="utf-8")
    return tuple((Decimal(row["price"]), Decimal(row["qty"])) for row in csv.DictReader(io.StringIO(text)))


@cache
def binance_btcusdt_top5_2020_09_01() -> tuple[BookSnapshot, ...]:
    """Ten consecutive top-5 books of Binance USD-M BTCUSDT on 2020-09-01 from 00:00:03.696 to 00:00:04.284
    UTC (a Tardis.dev ``book_snapshot_5`` sample): five bids and five asks each, prices in USDT, sizes in BTC.
    The first: best bid 11,657.07 (10.896 BTC), best ask 11,657.08 (1.714 BTC)."""
    text = (files("crossmargin.venues") / "data" / "depth" / BINANCE_BTCUSDT_TOP5).read_text(encoding="utf-8")

    def side(row: dict[str, str], name: str) -> Rows:
        return tuple((Decimal(row[f"{name}[{i}].price"]), Decimal(row[f"{name}[{i}].amount"])) for i in range(5))

    return tuple(
        BookSnapshot(int(row["timestamp"]), side(row, "bids"), side(row, "asks"))
        for row in csv.DictReader(io.StringIO(text))
    )
