"""Option values at a market: forward, volatility and Black-76 price and greeks of an option instrument,
and a portfolio's missing option marks filled in from them.

Units: the forward and the strike are in the option's strike currency (the settle asset of a linear
option, the base currency of a coin-settled one); :func:`option_greeks` is per unit of underlying in that
currency (see :mod:`crossmargin.margin.options` for each greek's unit). An option's mark is its premium
per unit of underlying in its settle asset: the Black-76 value (linear) or that value over the forward
(coin-settled: the underlying coin).
"""

from dataclasses import replace
from decimal import Decimal

from crossmargin.margin.options import Greeks, black76, inverse_price, smile_vol, year_fraction
from crossmargin.model import ContractKind, InputError, Instrument, Market, Portfolio
from crossmargin.model.numbers import from_float

FIGURE_QUANTUM = Decimal("1e-8")  # base currency: what a float requirement (grid, VaR) is rounded to
SMALLEST_MARK = Decimal("1e-12")  # a premium of zero is kept here, as marks are positive


def is_option(spec: Instrument) -> bool:
    """Whether ``spec`` is an option."""
    return spec.kind is ContractKind.OPTION


def option_forward(spec: Instrument, market: Market) -> float:
    """The option's forward: its underlying's price in the strike currency."""
    underlying = market.price(spec.underlying)
    if spec.coin_settled:
        return float(underlying)
    return float(underlying / market.price(spec.settle))


def option_greeks(spec: Instrument, market: Market, forward: float | None = None, vol_shift: float = 0.0) -> Greeks:
    """Black-76 price and greeks of one unit of underlying at ``market`` (``forward`` overriding the
    market's, ``vol_shift`` added to the volatility: a scenario), in the strike currency."""
    if spec.strike is None or spec.right is None or spec.expiry is None:
        raise InputError(f"instruments.{spec.name}", "is not an option")
    if market.valuation_time is None:
        raise InputError("valuation_time", f"needed to value the option {spec.name!r}")
    f = option_forward(spec, market) if forward is None else forward
    strike = float(spec.strike)
    points = [(float(m), float(v)) for m, v in market.vol_points(spec.name, spec.underlying)]
    vol = max(0.0, smile_vol(strike, f, points) + vol_shift)
    t = year_fraction(market.valuation_time, spec.expiry)
    return black76(f, strike, vol, t, float(market.rate), spec.right)


def option_premium(spec: Instrument, market: Market) -> Decimal:
    """The option's model premium per unit of underlying in its settle asset (its mark)."""
    greeks = option_greeks(spec, market)
    forward = option_forward(spec, market)
    premium = inverse_price(greeks, forward) if spec.coin_settled else greeks.price
    return from_float(premium)


def atm_vol(market: Market, name: str) -> float | None:
    """The annualized volatility of ``name`` (an option or an underlying) at moneyness 1 in the market's
    ``vols``; None when it has no entry."""
    points = market.vols.get(name)
    if points is None:
        return None
    return smile_vol(1.0, 1.0, [(float(m), float(v)) for m, v in points])


def requirement_figure(value: float) -> Decimal:
    """A float requirement (base currency) as a Decimal of 12 significant digits rounded to 1e-8: float
    noise of a hedge that loses nothing is no requirement."""
    rounded = from_float(value).quantize(FIGURE_QUANTUM)
    return rounded if rounded else Decimal(0)


def with_option_marks(portfolio: Portfolio) -> Portfolio:
    """``portfolio`` with a model mark for every option that has none (others unchanged). A premium of
    zero (far out of the money at expiry) is kept at the smallest positive mark, as marks are positive."""
    market = portfolio.market
    missing = [s for name, s in portfolio.instruments.items() if is_option(s) and name not in market.marks]
    if not missing:
        return portfolio
    marks = dict(market.marks)
    for spec in missing:
        marks[spec.name] = max(option_premium(spec, market), SMALLEST_MARK)
    return portfolio.with_market(replace(market, marks=marks))
