"""Liquidation depth calibrated from real markets: the square-root law per underlying.

The square-root law of market impact (Toth, Lemperiere, Deremble, de Lataillade, Kockelkoren and Bouchaud,
"Anomalous price impact and the critical nature of liquidity in financial markets", Physical Review X 1,
2011; Bouchaud, Bonart, Donier and Gould, *Trades, Quotes and Prices*, 2018, ch. 12): an order of ``Q``
units moves the price, at its peak, by

    peak(Q) = Y x sigma_D x sqrt(Q / V_D)

of the price, with ``sigma_D`` the daily volatility, ``V_D`` the daily volume (units of the underlying) and
``Y`` a constant of order one. A liquidation is one such order, filled at once.
:class:`~crossmargin.liquidation.liquidity.SquareRootImpact` prices it: average impact
``coefficient x sqrt(n / depth_units)``, the last unit at 1.5 times that, which is the peak. So

    depth_units = V_D,  coefficient = (2/3) x Y x sigma_D.

After the order, the price keeps about two thirds of its peak move (Farmer, Gerig, Lillo and Waelbroeck,
"How efficiency shapes market impact", Quantitative Finance 13, 2013; Bershova and Rakhlin, "The
non-linear market impact of large trades", Quantitative Finance 13, 2013): ``permanent_impact`` 2/3 of
the move to the last fill. A forced liquidation carries no news, so that displacement then fades back to
the index (:mod:`crossmargin.liquidation.resilience`).

**sigma_D and V_D** come from the shipped candles of a calm day, 7 November 2022 UTC (the day before the
FTX collapse; Binance spot, ``tests/data/crashes``): sigma_D is the sample standard deviation of the
day's bar-to-bar log returns of the closes times the square root of the bars in a day (5-minute bars
for BTC and ETH, 3-minute for SOL: 1-minute bars would add the bid-ask bounce), V_D the day's summed
volume. Three significant digits.

**Y** comes from the one real depth snapshot shipped (Binance USD-M BTCUSDT bids, 1 November 2022
23:49:39 UTC, 100 levels): 176.96 BTC rest between the best bid 20,377.0 and 20,365.9, 5.447 basis points
below it. The law with BTC's sigma_D and V_D puts the last unit of a 176.96 BTC sell that far below the
mark when ``1.5 x coefficient x sqrt(176.96 / 386,978) = 0.0005447``, ``coefficient = 0.01698``, so
``Y = 1.5 x 0.01698 / 0.01879 = 1.36``: within the order-one range the literature reports. Using Y for
every underlying assumes their books are shaped like BTC's.

Underlyings without candles (a generated book's ``ALTn``) take the thinnest calibrated market: the
largest sigma_D (SOL's) and the smallest dollar volume (SOL's), in units at the instrument's start mark.
A book that knows its own depth gives it in its document's ``liquidity`` section instead.
"""

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.liquidation.liquidity import SquareRootImpact
from crossmargin.model.numbers import exact, positive

IMPACT_Y = Decimal("1.36")
"""The square-root law's constant Y, fitted to the BTCUSDT depth snapshot (module doc)."""
PERMANENT_SHARE = Decimal("0.67")
"""The share of a fill's peak move that stays in the mark after it (about 2/3: module doc)."""


@dataclass(frozen=True)
class DailyMarket:
    """One calm day of an underlying: ``volatility`` (sigma_D, a fraction), ``volume`` (V_D, units of the
    underlying), ``close`` (the day's last close, USD per unit) and where they come from."""

    volatility: Decimal
    volume: Decimal
    close: Decimal
    source: str

    @property
    def dollar_volume(self) -> Decimal:
        """V_D at the day's close, USD."""
        with exact():
            return self.volume * self.close


CALM_DAY = {
    "BTC": DailyMarket(
        Decimal("0.0188"), Decimal(387_000), Decimal("20591.13"), "btcusdt_2022-11-08_5m.csv, 2022-11-07 UTC"
    ),
    "ETH": DailyMarket(
        Decimal("0.0300"), Decimal(642_000), Decimal("1568.1"), "ethusdt_2022-11-08_5m.csv, 2022-11-07 UTC"
    ),
    "SOL": DailyMarket(
        Decimal("0.0802"), Decimal(9_810_000), Decimal("29.62"), "solusdt_2022-11-08_3m.csv, 2022-11-07 UTC"
    ),
}
"""sigma_D and V_D of each calibrated underlying (module doc)."""


def calibrated_depth(underlying: str, mark: Decimal) -> SquareRootImpact:
    """The square-root model of an instrument on ``underlying`` whose mark is ``mark`` (USD per unit of the
    underlying, > 0): calibrated where the underlying has a calm day, the thinnest calibrated market in
    dollars otherwise (module doc)."""
    positive(mark, "mark")
    day = CALM_DAY.get(underlying)
    with exact():
        if day is None:
            volatility = max(d.volatility for d in CALM_DAY.values())
            volume = min(d.dollar_volume for d in CALM_DAY.values()) / mark
        else:
            volatility, volume = day.volatility, day.volume
        coefficient = 2 * IMPACT_Y * volatility / 3
    return SquareRootImpact(coefficient, volume, PERMANENT_SHARE)
