"""Resilience: the permanent part of liquidation impact fades back to the index.

A liquidation fill moves the traded price by its temporary impact (its slippage, priced by the liquidity
model) and leaves part of that move behind: the model's ``permanent_impact`` fraction of the move to the
worst fill (:meth:`~crossmargin.liquidation.liquidity.LiquidityModel.impacted_mark`). That part is a
*displacement* of the instrument's mark from the mark the oracle gives (index, basis EMA and trades): a
fraction ``d`` of it (negative below, positive above). Arbitrage between the perpetual and the spot markets
behind the index pulls it back, as the order book refills after a large order: Obizhaeva and Wang (2013,
"Optimal trading strategy and supply/demand dynamics", Journal of Financial Markets 16(1)) model the
book's recovery as exponential with a resilience rate ``rho``; here it is stated as a half-life,
``h = ln 2 / rho``:

    d(t) = d(t0) x 2^(-(t - t0) / h)

so a displacement halves every ``h`` seconds and the mark returns to the oracle's. A displacement below
:data:`NEGLIGIBLE` (relative) is dropped, so a mark comes back to the oracle's mark exactly. Times are
seconds, displacements fractions of the oracle's mark; everything is exact (``Decimal``).
"""

from decimal import Decimal

from crossmargin.model.numbers import EXACT, exact, positive

DEFAULT_HALF_LIFE_S = Decimal(60)
"""Seconds for half of a displacement to fade: 60 s by default, a setting of the loop. An assumption, not a
measurement from the shipped data (1-5 minute candles cannot resolve it): of the order of the time a
perpetual's basis takes to close after a sweep, which venues' mark-price EMAs (Bybit's and Hyperliquid's
basis averages run over minutes, Binance's over seconds) also assume. docs/stress.md shows how the results
move with it."""
NEGLIGIBLE = Decimal("1E-9")
"""A displacement smaller than this (relative to the mark) is gone: the mark is the oracle's again."""

_LN2 = EXACT.ln(Decimal(2))


def decayed(displacement: Decimal, elapsed_s: Decimal, half_life_s: Decimal) -> Decimal:
    """``displacement`` (a fraction of the mark) ``elapsed_s`` seconds (>= 0) later: halved every
    ``half_life_s`` seconds (> 0); 0 once below :data:`NEGLIGIBLE`."""
    positive(half_life_s, "resilience_half_life_s")
    with exact():
        left = displacement * (-elapsed_s * _LN2 / half_life_s).exp()
    return left if abs(left) >= NEGLIGIBLE else Decimal(0)
