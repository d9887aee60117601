"""The cascade forecast (:mod:`crossmargin.sim.forecast`) held against the exact path: the stress runner
(:mod:`crossmargin.sim.stress.runner`) on the same book and the same instantaneous shock.

:func:`check` runs both. The runner gets a one-step scenario (:func:`instant_shock`): the underlying's index,
reported by the three oracle sources, jumps by the move at ``t = 1``, every other asset held; the engine loop
then screens, confirms and liquidates round after round while the fills' impact moves the marks (its
``cascade_rounds``). Three things are set so that the two start from the same market, and said here:

- **Marks on the index.** The oracle marks an instrument at the median of its index and index plus basis
  (:mod:`crossmargin.oracle.book`), so at the runner's first prices every mark moves by half its basis, and
  a shocked one by the index's move plus half its basis, not by the move times the mark. The book is checked
  with every instrument marked at its underlying's index (:func:`on_the_index`): the marks the runner's
  prices set are then the book's, and the shocked ones the book's times (1 + move), on both paths.
- **No circuit breaker.** The default oracle guard invalidates an index more than 25 % from its EMA, and
  the policy then holds every liquidation: the check's oracle has no ``max_jump``.
- **Shortfall measured on the ledger.** The runner's bankrupt pools' shortfall is read from its state's log:
  the insurance fund's covers, what was written off or spread, and, for each position taken over at its
  bankruptcy price (auto-deleveraging, the backstop), its price against the mark of the moment (what the
  taker gives up: the pool's net value below zero).

Figures compared (:class:`Compared`): the reference instrument's final mark, the liquidated notional (at the
fill prices, base currency), the shortfall (the bad debt before anyone pays it), the insurance fund's draw,
what went beyond it, the accounts liquidated, and the wall time of each (the forecast's with and without its
liquidation prices; the runner's step, its exact cascade).
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.clearing import events
from crossmargin.clearing.events import Taker
from crossmargin.engine.book import RiskBook
from crossmargin.engine.liquidation_prices import book_liquidation_prices
from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import exact
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import Guards, OracleConfig
from crossmargin.sim.forecast import MoveForecast, Orders, forecast_move, prepare, shock_of
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.scenarios.model import Scenario
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.runner import Run, StressConfig, assets_of

NO_BREAKER = OracleConfig(default=Guards(max_jump=None))
"""The check's oracle: the default guards without the circuit breaker (module doc)."""


def instant_shock(asset: str, move: float) -> Scenario:
    """One step of one second: ``asset``'s index times (1 + ``move``), every other asset held."""
    return scenario_from_dict(
        {
            "name": "instant-shock",
            "title": f"{asset} {move:+.2%} at once",
            "step_seconds": 1,
            "steps": 1,
            "assets": {asset: {"table": [[0, 1.0], [1, 1.0 + move]]}},
        }
    )


def on_the_index(portfolio: Portfolio) -> Portfolio:
    """``portfolio`` with every marked instrument whose underlying has a price marked at that price (module
    doc)."""
    prices = portfolio.market.prices
    marks = {
        name: prices.get(portfolio.instruments[name].underlying, mark) for name, mark in portfolio.market.marks.items()
    }
    return replace(portfolio, market=replace(portfolio.market, marks=marks))


@dataclass(frozen=True)
class Exact:
    """The runner's figures for the shock (base currency; marks in mark units): ``marks`` after the step,
    the ``liquidated_notional``, the ``shortfall`` with its parts (``insurance_fund_draw``, ``beyond_fund``),
    the ``accounts`` liquidated and the step's wall time (``seconds``)."""

    marks: Mapping[str, float]
    liquidated_notional: float
    shortfall: float
    insurance_fund_draw: float
    beyond_fund: float
    accounts: int
    seconds: float


@dataclass(frozen=True)
class Compared:
    """One move on both paths: the forecast (with its wall time, ``forecast_seconds``, and that of the book's
    liquidation prices, ``prices_seconds``) and the runner's figures."""

    move: float
    forecast: MoveForecast
    exact: Exact
    forecast_seconds: float
    prices_seconds: float

    @property
    def price_error(self) -> float:
        """The forecast's final reference mark against the runner's, relative to the runner's."""
        runner = self.exact.marks[self.forecast.instrument]
        return self.forecast.final_price / runner - 1.0

    @property
    def notional_error(self) -> float:
        """The forecast's liquidated notional against the runner's, relative to the runner's (0 when neither
        liquidated anything)."""
        return _relative(self.forecast.liquidated_notional, self.exact.liquidated_notional)

    @property
    def shortfall_error(self) -> float:
        """The forecast's shortfall less the runner's, relative to the runner's liquidated notional (a
        shortfall is a small part of it, often zero on one side)."""
        scale = self.exact.liquidated_notional
        difference = self.forecast.shortfall - self.exact.shortfall
        return difference / scale if scale else difference


def _relative(mine: float, theirs: float) -> float:
    if theirs == 0.0:
        return 0.0 if mine == 0.0 else float("inf")
    return mine / theirs - 1.0


def run_exact(config: StressConfig, scenario: Scenario) -> Exact:
    """The runner's one step of ``scenario`` on ``config``, its shortfall read from the ledger (module doc)."""
    current = Run(config, generate(scenario, 0, assets_of(config.portfolio)))
    state = current.state
    start = len(state.log)
    record = current.step()
    instruments = config.portfolio.instruments
    draw = beyond = 0.0
    accounts: set[str] = set()
    market = config.portfolio.market
    prices = dict(market.prices)
    marks = dict(market.marks)
    for event in state.log[start:]:
        if isinstance(event, events.PriceUpdate):
            prices |= event.prices
            marks |= event.marks
        elif isinstance(event, events.LiquidationFill):
            accounts.add(event.account)
            if event.taker is not Taker.MARKET:
                spec = instruments[event.instrument]
                with exact():
                    units = event.size * spec.contract_size
                    moved = (
                        1 / marks[event.instrument] - 1 / event.price
                        if spec.inverse
                        else event.price - marks[event.instrument]
                    )
                    given = (moved if event.long else -moved) * units * prices.get(spec.settle, Decimal(1))
                beyond += float(given)
        elif isinstance(event, events.InsuranceCover):
            draw += float(event.amount * prices.get(event.asset, Decimal(1)))
        elif isinstance(event, events.WriteOff):
            beyond += float(event.amount * prices.get(event.asset, Decimal(1)))
        elif isinstance(event, events.SocializedLoss):
            beyond += float(sum(event.shares.values()) * prices.get(event.asset, Decimal(1)))
    return Exact(record.marks, record.liquidated_notional, draw + beyond, draw, beyond, len(accounts), record.seconds)


def check(
    portfolio: Portfolio,
    rules: RuleChoices,
    terms: LiquidationTerms,
    liquidity: Mapping[str, LiquidityModel],
    insurance_fund: Decimal,
    asset: str,
    move: float,
    orders: Orders = Orders.ACCOUNT,
) -> Compared:
    """The forecast and the runner on ``portfolio`` marked on ``asset``'s index (:func:`on_the_index`), ``asset``
    shocked by ``move`` at once (module doc)."""
    book_portfolio = on_the_index(portfolio)
    book = RiskBook(book_portfolio, rules)
    started = time.perf_counter()
    prices = book_liquidation_prices(book)
    priced = time.perf_counter()
    prepared = prepare(book, terms, liquidity, float(insurance_fund), prices)
    forecast = forecast_move(prepared, shock_of(book, asset), move, orders)
    ended = time.perf_counter()
    config = StressConfig("check", book_portfolio, rules, terms, liquidity, insurance_fund, NO_BREAKER)
    exact_figures = run_exact(config, instant_shock(asset, move))
    return Compared(move, forecast, exact_figures, ended - started, priced - started)
