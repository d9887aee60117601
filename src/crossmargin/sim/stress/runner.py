"""Stepping a book through a scenario: oracle, risk book and liquidation engine, with feedback.

At each step of the scenario's path:

1. **Sources.** Three oracle sources (``s1``, ``s2``, ``s3``) report every priced asset and every
   instrument's underlying at its start price x the path's factor x the *impact factor* (below); the
   scenario's faults change what they report (a stale source is silent, a spike or a manipulated thin
   market multiplies, a depeg replaces one venue's price). An instrument named by a fault also gets
   traded-price reports from the three sources at its start mark x the same factors.
2. **Prices.** The oracle's index prices and marks, with their statuses, go into the clearing state
   (exact, the ledger of record) and the risk book (float mirror).
3. **Liquidity.** Each instrument's depth model is scaled by the path's depth multiplier.
4. **Liquidations.** The risk book screens every pool: the accounts its float figures find liquidatable,
   or within their float error of the boundary, are checked exactly; each whose prices all have a status
   the oracle policy liquidates on, and that is liquidatable on the exact state, is liquidated
   (:class:`~crossmargin.liquidation.engine.Liquidator`); its new exact state goes back into the risk book.
   The fills' permanent impact moves the marks, and the impact factor of the instrument's underlying
   with them, so the move stays in later steps' prices: further accounts fall under and are liquidated
   in the same step (a cascade), up to :data:`CASCADE_ROUNDS` rounds. Each step ranks auto-deleveraging
   at the marks it starts from (:meth:`~crossmargin.liquidation.ranking.AdlQueues.pin`), as venues
   publish and periodically refresh their ADL queues; sizes and fill prices stay the exact current ones.
5. **Record.** Liquidations (count, notional at the fill price, slippage), ADL events, bad debt and the
   insurance fund (base currency), accounts at risk, the step's wall time.

A run is a pure function of (book, rules, terms, liquidity, fund, oracle settings, scenario, seed).
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from crossmargin.clearing.events import PriceUpdate
from crossmargin.clearing.ledger import LedgerAccount
from crossmargin.clearing.state import BAD_DEBT, INSURANCE_FUND, ClearingState
from crossmargin.engine.book import RiskBook
from crossmargin.engine.priced import check_oracle_priced, may_liquidate
from crossmargin.engine.screening import DEFAULT_BAND, candidate_pools
from crossmargin.liquidation.engine import Liquidator, Notice
from crossmargin.liquidation.liquidity import AtMark, DepthLevels, LinearImpact, LiquidityModel, SquareRootImpact
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import exact, from_float
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.book import OracleBook
from crossmargin.oracle.config import OracleConfig, Status
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.sim.scenarios.model import Depeg, Scenario, ScenarioPath, Spike, StaleSource, ThinMarket
from crossmargin.sim.stress.results import LiquidationMark, RunResult, StepRecord

SOURCES = ("s1", "s2", "s3")
CASCADE_ROUNDS = 20
_FLOAT_ERROR = 1e-9  # relative: the mirror agrees with the exact figures far closer than this (tests)
_MIN_DEPTH = 1e-6  # a depth multiplier is floored here (no market at all is not a model the fills can use)


@dataclass(frozen=True)
class StressConfig:
    """One configuration of a run: the book and everything that decides its liquidations."""

    label: str
    portfolio: Portfolio
    rules: RuleChoices
    terms: LiquidationTerms
    liquidity: Mapping[str, LiquidityModel]
    insurance_fund: Decimal
    oracle: OracleConfig
    band: Decimal = DEFAULT_BAND


def scaled(model: LiquidityModel, factor: float) -> LiquidityModel:
    """``model`` with its depth multiplied by ``factor`` (prices at each level unchanged)."""
    if isinstance(model, AtMark) or factor == 1.0:
        return model
    f = Decimal(f"{max(factor, _MIN_DEPTH):.12g}")
    with exact():
        if isinstance(model, DepthLevels):
            return replace(model, levels=tuple((offset, units * f) for offset, units in model.levels))
        if isinstance(model, LinearImpact | SquareRootImpact):
            return replace(model, depth_units=model.depth_units * f)
    raise TypeError(f"cannot scale the depth of {type(model).__name__}")


class Run:
    """One run in progress (see module doc); :meth:`step` advances it, :meth:`result` reports."""

    def __init__(self, config: StressConfig, path: ScenarioPath) -> None:
        check_oracle_priced(config.portfolio)
        portfolio = config.portfolio
        self.config = config
        self.path = path
        self.book = RiskBook(portfolio, config.rules)
        self.state = ClearingState(portfolio, config.rules, config.insurance_fund)
        self.liquidator = Liquidator(self.state, config.terms, config.liquidity, self.book)
        market = portfolio.market
        self.underlying = {
            name: spec.underlying for name, spec in portfolio.instruments.items() if name in market.marks
        }
        self.start_prices = {a: float(p) for a, p in market.prices.items() if a != portfolio.base}
        self.start_marks = {name: float(m) for name, m in market.marks.items()}
        prices = {
            a: market.price(a) for a in (*portfolio.assets, *market.prices) if a in market.prices or a == portfolio.base
        }
        self.oracle = OracleBook(config.oracle, prices, dict(market.marks), self.underlying)
        self.impact = {a: 1.0 for a in self.start_prices}
        traded = {f.symbol for f in path.faults if isinstance(f, Spike | ThinMarket | StaleSource)}
        self.traded = sorted(traded & set(self.start_marks))
        self.steps: list[StepRecord] = []
        self.marks_log: list[LiquidationMark] = []
        self.equity_before = self._equities()
        self.statuses: dict[str, Status] = {}
        self.held_back: set[str] = set()  # accounts the oracle policy holds back this step (a price they need)
        self.k = 0

    # ------------------------------------------------------------------ prices

    def _factor(self, asset: str) -> float:
        factors = self.path.factors.get(asset)
        base = 1.0 if factors is None else float(factors[self.k])
        return base * self.impact.get(asset, 1.0)

    def _reported(self, symbol: str, source: str, price: float, t: float) -> float | None:
        """What ``source`` reports for ``symbol`` at ``t`` under the scenario's faults (None: silent)."""
        for fault in self.path.faults:
            if isinstance(fault, StaleSource) and (fault.symbol, fault.source) == (symbol, source):
                if fault.start <= t < fault.end:
                    return None
            elif isinstance(fault, Spike) and (fault.symbol, fault.source) == (symbol, source):
                previous = self.path.times[self.k - 1] if self.k > 0 else -1.0
                if previous < fault.at <= t:
                    price *= fault.factor
            elif isinstance(fault, ThinMarket) and fault.symbol == symbol and fault.start <= t < fault.end:
                price *= fault.factor
            elif (
                isinstance(fault, Depeg)
                and (fault.asset, fault.source) == (symbol, source)
                and fault.start <= t < fault.end
            ):
                price = fault.price
        return price

    def _feed(self, t: float) -> None:
        clock = from_float(t)
        for asset in sorted(self.start_prices):
            price = self.start_prices[asset] * self._factor(asset)
            for source in SOURCES:
                reported = self._reported(asset, source, price, t)
                if reported is not None and reported > 0:
                    self.oracle.accept(SourceUpdate(clock, source, asset, from_float(reported), None))
        for name in self.traded:
            price = self.start_marks[name] * self._factor(self.underlying[name])
            for source in SOURCES:
                reported = self._reported(name, source, price, t)
                if reported is not None and reported > 0:
                    self.oracle.accept(SourceUpdate(clock, source, name, from_float(reported), None))

    def _sync_prices(self) -> None:
        oracle, state = self.oracle, self.state
        prices = {a: oracle.index(a).price for a in self.start_prices}
        marks = {name: oracle.mark(name).price for name in self.start_marks}
        symbols = [*prices, *marks]
        self.statuses = {s: oracle.price(s).status for s in symbols}
        untrusted = frozenset(s for s in symbols if self.statuses[s] is not Status.VALID)
        state.apply(PriceUpdate(prices=prices, marks=marks, untrusted=untrusted))
        self.book.tick(marks=marks, prices=prices)

    # ------------------------------------------------------------------ steps

    def step(self) -> StepRecord:
        """Advance one step of the path (see module doc)."""
        started = time.perf_counter()
        self.k += 1
        t = float(self.path.times[self.k])
        self._feed(t)
        self._sync_prices()
        depth = float(self.path.depth[self.k])
        self.liquidator.liquidity = {name: scaled(m, depth) for name, m in self.config.liquidity.items()}
        self.liquidator.adl.pin()
        self.held_back = set()
        notices: list[Notice] = []
        for _ in range(CASCADE_ROUNDS):
            round_notices = self._liquidate_candidates(t)
            notices += round_notices
            if not round_notices:
                break
        fills = [n for n in notices if n["event"] == "liquidation"]
        adl = [n for n in notices if n["event"] == "adl"]
        notional = slippage = 0.0
        for fill in fills:
            spec = self.config.portfolio.instruments[str(fill["instrument"])]
            settle_price = float(self.state.market.price(spec.settle))
            size = abs(float(fill["size"]))  # type: ignore[arg-type]
            price = float(fill["fill_price"])  # type: ignore[arg-type]
            units = size * float(spec.contract_size)
            value = (units / price if spec.inverse else units * price) * settle_price
            notional += value
            slippage += float(fill["slippage"]) if fill.get("slippage") is not None else 0.0  # type: ignore[arg-type]
            self.marks_log.append(
                LiquidationMark(t, str(fill["account"]), str(fill["instrument"]), price, value, str(fill["taker"]))
            )
        record = StepRecord(
            t=t,
            marks={name: float(m) for name, m in self.state.market.marks.items()},
            liquidations=len(fills),
            liquidated_notional=notional,
            slippage=slippage,
            adl_events=len(adl),
            bad_debt=0.0 - self._money(BAD_DEBT),
            insurance_fund=self._money(INSURANCE_FUND),
            accounts_at_risk=len(
                {self.book.owners[int(p)].account for p in candidate_pools(self.book, self.config.band)}
            ),
            seconds=time.perf_counter() - started,
        )
        self.steps.append(record)
        return record

    def _due(self) -> list[str]:
        """Accounts the mirror finds liquidatable, or within its float error of the boundary (relative
        1e-9, far above the mirror's tested error): only these need the exact check. A pool with neither
        positions nor balances (an account liquidated to nothing) is not liquidatable, whatever residue of
        float sums its figures hold."""
        book = self.book
        count = book.pool_count
        figures = book.figures[:count]
        required = figures[:, 2] * float(self.config.rules.liquidation_threshold)
        close = np.abs(figures[:, 0] - required) <= _FLOAT_ERROR * (np.abs(figures[:, 0]) + np.abs(required) + 1.0)
        empty = (book.positions_in_pool[:count] == 0) & ~book.balance[:, :count].any(axis=0)
        pools = np.flatnonzero((book.liquidatable[:count] | close) & ~empty)
        return sorted({book.owners[int(p)].account for p in pools})

    def _liquidate_candidates(self, t: float) -> list[Notice]:
        """One round: liquidate every due account; the mirror takes the round's mark moves once, at its end
        (it is read again only by the next round's screening; accounts it took meanwhile are revalued by
        that tick with the rest of their instruments' blocks)."""
        state, book = self.state, self.book
        accounts = self._due()
        before = {name: state.market.mark(name) for name in self.start_marks}
        notices: list[Notice] = []
        for account_id in accounts:
            if account_id in self.held_back:
                continue
            if not may_liquidate(
                self.statuses.__getitem__, self.config.oracle.policy, state.account(account_id), self.config.portfolio
            ):
                self.held_back.add(account_id)
                continue
            if not state.liquidatable(account_id):
                continue
            done = self.liquidator.liquidate(account_id)
            notices += done
            self.liquidator.apply_impact()
            touched = {a for n in done for a in (n.get("account"), n.get("from")) if isinstance(a, str)}
            for changed in sorted(touched | {account_id}):
                book.set_account(state.account(changed))
                self.held_back.discard(changed)
        moved = {name: state.market.mark(name) for name in self.start_marks if state.market.mark(name) != before[name]}
        for name, mark in moved.items():
            asset = self.underlying[name]
            if asset in self.impact:
                self.impact[asset] *= float(mark) / float(before[name])
        if moved:
            book.tick(marks=moved)
        return notices

    def _money(self, account: LedgerAccount) -> float:
        return float(self.state.value(account))

    def _equities(self) -> tuple[float, ...]:
        with exact():
            return tuple(float(self.state.net_value(a)) for a in self.state.account_ids)

    def result(self) -> RunResult:
        """The run so far."""
        return RunResult(
            label=self.config.label,
            steps=tuple(self.steps),
            marks=tuple(self.marks_log),
            equity_before=self.equity_before,
            equity_after=self._equities(),
            insurance_fund_start=float(self.config.insurance_fund),
            accounts=len(self.state.account_ids),
            positions=sum(len(self.state.legs[a]) for a in self.state.account_ids),
        )


def assets_of(portfolio: Portfolio) -> list[str]:
    """Every asset a path must move: priced assets and the instruments' underlyings (not the base)."""
    names = {a for a in portfolio.market.prices if a != portfolio.base}
    names |= {spec.underlying for spec in portfolio.instruments.values()}
    return sorted(names - {portfolio.base})


def run(
    config: StressConfig, scenario: Scenario, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> RunResult:
    """The whole scenario for one configuration (``progress(step, steps)`` after each step)."""
    path = scenario.path(seed, assets_of(config.portfolio))
    current = Run(config, path)
    steps = len(path.times) - 1
    for k in range(steps):
        current.step()
        if progress is not None:
            progress(k + 1, steps)
    return current.result()


def run_all(
    configs: Sequence[StressConfig],
    scenario: Scenario,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RunResult, ...]:
    """The same scenario path for several configurations (cross and isolated, two rulebooks...)."""
    return tuple(run(config, scenario, seed, progress) for config in configs)
