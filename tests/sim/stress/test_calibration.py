"""The default liquidation depth recomputed from the shipped data (tests/data/crashes, README there) by a
second method (NumPy over the raw CSVs), and the calibrated models worked by hand."""

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from crossmargin.liquidation.liquidity import Side
from crossmargin.sim.stress.calibration import CALM_DAY, IMPACT_Y, PERMANENT_SHARE, calibrated_depth
from tests.builders import D

DATA = Path(__file__).resolve().parents[2] / "data" / "crashes"
CANDLES = {"BTC": ("btcusdt_2022-11-08_5m.csv", 300), "ETH": ("ethusdt_2022-11-08_5m.csv", 300)}
CANDLES["SOL"] = ("solusdt_2022-11-08_3m.csv", 180)


def calm_day(asset: str) -> tuple[float, float, float]:
    """(sigma_D, V_D, last close) of 7 November 2022 UTC from the raw candles."""
    name, bar_seconds = CANDLES[asset]
    with (DATA / name).open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["ts_utc_iso"].startswith("2022-11-07")]
    assert len(rows) == 86400 // bar_seconds  # the whole day, no gap
    closes = np.array([float(r["close"]) for r in rows])
    volume = float(np.sum([float(r["volume"]) for r in rows]))
    sigma = float(np.std(np.diff(np.log(closes)), ddof=1) * np.sqrt(86400 / bar_seconds))
    return sigma, volume, float(closes[-1])


@pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL"])
def test_the_calm_day_figures_are_the_candles_to_three_digits(asset):
    sigma, volume, close = calm_day(asset)
    day = CALM_DAY[asset]
    assert float(day.volatility) == pytest.approx(sigma, rel=5e-3)  # 3 significant digits
    assert float(day.volume) == pytest.approx(volume, rel=5e-3)
    assert float(day.close) == close


def test_y_puts_the_snapshots_depth_where_the_book_had_it():
    with (DATA / "l2_binance-futures_btcusdt_depth-snapshot-bids_2022-11-01.csv").open() as handle:
        bids = [(float(r["price"]), float(r["qty"])) for r in csv.DictReader(handle)]
    best, last = bids[0][0], bids[-1][0]
    units = sum(q for _, q in bids)
    depth = (best - last) / best  # 5.447 bp below the best bid
    sigma, volume, _ = calm_day("BTC")
    # the last unit of a sell of `units` falls 1.5 x (2/3) x Y x sigma x sqrt(units / V) = Y x sigma x sqrt(..)
    fitted = depth / (sigma * np.sqrt(units / volume))
    assert float(IMPACT_Y) == pytest.approx(fitted, abs=0.005)  # Y to two decimals
    # and the shipped model (rounded figures) quotes that sell's last fill within 0.001 % of the book's last bid
    model = calibrated_depth("BTC", Decimal(str(best)))
    quote = model.quote(Side.SELL, Decimal(str(units)), Decimal(str(best)))
    assert float(quote.worst_price) == pytest.approx(last, rel=1e-5)


def test_calibrated_models_by_hand():
    btc = calibrated_depth("BTC", D(20000))
    # coefficient (2/3) x 1.36 x 0.0188 = 0.0170453..., depth 387,000 BTC, 0.67 of the peak stays
    assert abs(btc.coefficient - D(2) * D("1.36") * D("0.0188") / 3) < D("1E-25")
    assert (btc.depth_units, btc.permanent_impact) == (D(387000), PERMANENT_SHARE)
    # selling 3,870 BTC (1 % of a day): average impact 0.0170453 x sqrt(0.01) = 0.170 %, last fill 0.256 %
    quote = btc.quote(Side.SELL, D(3870), D(20000))
    assert float(quote.average_price) == pytest.approx(20000 * (1 - 0.0170453333 * 0.1), rel=1e-9)
    # an underlying without candles: SOL's sigma (the largest, 0.0802) and SOL's dollar volume (the smallest,
    # 9,810,000 x 29.62 = 290,572,200 USD) in units at its mark: at 2 USD, 145,286,100 units
    alt = calibrated_depth("ALT1", D(2))
    assert alt.depth_units == D(145286100)
    assert abs(alt.coefficient - D(2) * D("1.36") * D("0.0802") / 3) < D("1E-25")
