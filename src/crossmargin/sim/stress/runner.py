"""Stepping a book through a scenario on the engine loop (:mod:`crossmargin.live.loop`), with feedback.

At each step of the scenario's path the runner sends the loop two inbound events:

1. **Depth.** A ``parameters`` event when the path's depth multiplier changed: every instrument's
   liquidity model is scaled by it (floored at 1e-6: no market at all is not a model fills can use).
2. **Prices.** One ``prices`` event: three oracle sources (``s1``, ``s2``, ``s3``) report every priced
   asset and every instrument's underlying at its start price x the path's factor; the scenario's faults
   change what they report (a stale source is silent, a spike or a manipulated thin market multiplies, a
   depeg or a venue price replaces one venue's price by its own). An instrument named by a fault also gets
   traded-price reports from the three sources at its start mark x the same factor.

The loop prices the clearing state (exact, the ledger of record) and the risk book (float mirror), screens,
confirms exactly, and liquidates every account whose prices the oracle policy liquidates on, again while
the fills' permanent impact pushes others under (a cascade, up to the loop's ``cascade_rounds``). The
index is the scenario's alone: liquidations never move it. Their permanent impact displaces the
instruments' marks from the oracle's, and the displacement fades with the loop's resilience half-life
(:mod:`crossmargin.liquidation.resilience`), so a liquidation wave moves a mark away from its index for a
while, not for ever. Auto-deleveraging ranks at the marks the step's prices start from.

3. **Agents.** With risk agents (:mod:`crossmargin.sim.agents`: ``StressConfig.agents``), after the prices
   each agent's actions, each the loop's next inbound event (:func:`crossmargin.sim.agents.host.run_agents`):
   the venue's margin multipliers first (the liquidations they set off count in the step), then the traders'
   reductions against the market. Without agents nothing of this runs and the results are those of a run
   before agents existed.

The runner records per step: liquidations (count, notional at the fill price, slippage), ADL events, bad
debt and the insurance fund (base currency), accounts at risk, each asset's realized volatility (the loop's
index, annualized), the step's wall time; with agents, their trades, notional and slippage and the margin
multipliers after the step (:class:`~crossmargin.sim.stress.results.AgentStep`), and every action.

A run is a pure function of (book, rules, terms, liquidity, fund, oracle settings, agents, scenario, seed).
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.clearing.ledger import LedgerAccount
from crossmargin.clearing.state import BAD_DEBT, INSURANCE_FUND, ClearingState
from crossmargin.engine.book import RiskBook
from crossmargin.engine.screening import DEFAULT_BAND
from crossmargin.liquidation.engine import Liquidator
from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.liquidation.resilience import DEFAULT_HALF_LIFE_S
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import exact, from_float
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.agents.config import AgentsConfig
from crossmargin.sim.agents.host import Applied, build_agents, run_agents
from crossmargin.sim.scenarios.model import Depeg, Scenario, ScenarioPath, Spike, StaleSource, ThinMarket, VenuePrice
from crossmargin.sim.scenarios.paths import generate, table_factor
from crossmargin.sim.stress.results import AgentRecord, AgentStep, LiquidationMark, RunResult, StepRecord

SOURCES = ("s1", "s2", "s3")
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
    resilience_half_life_s: Decimal = DEFAULT_HALF_LIFE_S
    agents: AgentsConfig | None = None  # the risk agents that run (None: none)

    def loop_config(self) -> LoopConfig:
        """The engine loop's configuration (no per-account reports: a stress book can hold a million)."""
        return LoopConfig(
            self.portfolio, self.rules, self.terms, self.oracle, self.liquidity, self.insurance_fund, self.band,
            report_accounts=False, resilience_half_life_s=self.resilience_half_life_s,
        )  # fmt: skip


class Run:
    """One run in progress (see module doc); :meth:`step` advances it, :meth:`result` reports."""

    def __init__(self, config: StressConfig, path: ScenarioPath) -> None:
        self.config = config
        self.path = path
        self.loop = EngineLoop(config.loop_config())
        portfolio = config.portfolio
        market = portfolio.market
        self.underlying = {
            name: spec.underlying for name, spec in portfolio.instruments.items() if name in market.marks
        }
        self.start_prices = {a: float(p) for a, p in market.prices.items() if a != portfolio.base}
        self.start_marks = {name: float(m) for name, m in market.marks.items()}
        traded = {f.symbol for f in path.faults if isinstance(f, Spike | ThinMarket | StaleSource)}
        self.traded = sorted(traded & set(self.start_marks))
        self.steps: list[StepRecord] = []
        self.marks_log: list[LiquidationMark] = []
        self.equity_before = self._equities()
        self.depth = 1.0
        self.k = 0
        self.agents = [] if config.agents is None else build_agents(config.agents, self.loop)
        self.actions: list[AgentRecord] = []

    @property
    def state(self) -> ClearingState:
        """The exact state of record."""
        return self.loop.state

    @property
    def book(self) -> RiskBook:
        """The float mirror."""
        return self.loop.book

    @property
    def liquidator(self) -> Liquidator:
        """The liquidation engine."""
        return self.loop.liquidator

    # ------------------------------------------------------------------ prices

    def _factor(self, asset: str) -> float:
        factors = self.path.factors.get(asset)
        return 1.0 if factors is None else float(factors[self.k])

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
            elif (
                isinstance(fault, VenuePrice)
                and (fault.asset, fault.source) == (symbol, source)
                and fault.start <= t < fault.end
            ):
                if fault.factors is not None:  # the venue's own path, from the symbol's start price
                    start = self.start_prices.get(symbol, self.start_marks.get(symbol, price))
                    price = start * table_factor(fault.factors, t)
                elif fault.price is not None:
                    price = fault.price
        return price

    def _quotes(self, t: float, prices: Mapping[str, float] | None = None) -> tuple[live.Quote, ...]:
        quotes = []
        symbols = [(a, self.start_prices[a] * self._factor(a)) for a in sorted(self.start_prices)]
        symbols += [(n, self.start_marks[n] * self._factor(self.underlying[n])) for n in self.traded]
        if prices:
            symbols = [(symbol, prices.get(symbol, price)) for symbol, price in symbols]
        for symbol, price in symbols:
            for source in SOURCES:
                reported = self._reported(symbol, source, price, t)
                if reported is not None and reported > 0:
                    quotes.append(live.Quote(source=source, symbol=symbol, price=from_float(reported)))
        return tuple(quotes)

    # ------------------------------------------------------------------ steps

    def step(self, prices: Mapping[str, float] | None = None) -> StepRecord:
        """Advance one step of the path (see module doc); ``prices``: symbol -> the price the sources report
        before the faults, in place of the path's (the multi-venue runner's hook: :mod:`crossmargin.sim.contagion`)."""
        started = time.perf_counter()
        self.k += 1
        t = float(self.path.times[self.k])
        clock = from_float(t)
        out: list[live.OutboundEvent] = []
        depth = max(float(self.path.depth[self.k]), _MIN_DEPTH)
        if depth != self.depth:
            self.depth = depth
            seq = self.loop.seq + 1
            out += self.loop.handle(
                live.ParameterChange(seq=seq, time=clock, id=f"step-{self.k}-depth", depth=Decimal(f"{depth:.12g}"))
            )
        seq = self.loop.seq + 1
        out += self.loop.handle(live.Prices(seq=seq, time=clock, id=f"step-{self.k}", quotes=self._quotes(t, prices)))
        agents = None
        if self.config.agents is not None:
            applied, caused = run_agents(self.agents, self.loop, clock, self.loop.handle)
            out += caused
            agents = self._agent_step(t, applied)
        notional = slippage = 0.0
        fills = adl = 0
        for event in out:
            if isinstance(event, live.LiquidationFill):
                fills += 1
                value = self._notional(event)
                notional += value
                slippage += float(event.slippage) if event.slippage is not None else 0.0
                self.marks_log.append(
                    LiquidationMark(t, event.account, event.instrument, float(event.fill_price), value, event.taker)
                )
            elif isinstance(event, live.Deleveraged):
                adl += 1
        record = StepRecord(
            t=t,
            prices={a: float(p) for a, p in self.state.market.prices.items() if a != self.config.portfolio.base},
            marks={name: float(m) for name, m in self.state.market.marks.items()},
            liquidations=fills,
            liquidated_notional=notional,
            slippage=slippage,
            adl_events=adl,
            bad_debt=0.0 - self._money(BAD_DEBT),
            insurance_fund=self._money(INSURANCE_FUND),
            accounts_at_risk=self.loop.at_risk(),
            seconds=time.perf_counter() - started,
            volatility=self.loop.volatility.annualized(),
            agents=agents,
        )
        self.steps.append(record)
        return record

    def _agent_step(self, t: float, applied: list[Applied]) -> AgentStep:
        """The agents' actions of a step, recorded, and their totals."""
        trades = refused = hedges = 0
        notional = slippage = 0.0
        for item in applied:
            action = item.action
            value = price = None
            if isinstance(item.event, live.Trade) and action.price is not None:
                spec = self.config.portfolio.instruments[item.event.instrument]
                value = self._value(spec.name, abs(float(action.size)), float(action.price))
                price = float(action.price)
            record = AgentRecord(
                t, action.agent, action.note, action.account, action.instrument, float(action.size), price,
                value or 0.0, float(action.slippage), item.refused,
            )  # fmt: skip
            self.actions.append(record)
            if item.refused:
                refused += 1
            elif value is not None:
                trades += 1
                hedges += action.hedge
                notional += value
                slippage += record.slippage
        multipliers = {u: float(m) for u, m in sorted(self.state.market.margin_multipliers.items())}
        return AgentStep(trades, notional, slippage, refused, multipliers, hedges)

    def _notional(self, fill: live.LiquidationFill) -> float:
        """A fill's notional at its price, base currency."""
        return self._value(fill.instrument, abs(float(fill.size)), float(fill.fill_price))

    def _value(self, instrument: str, contracts: float, price: float) -> float:
        """The notional of ``contracts`` of ``instrument`` at ``price``, base currency."""
        spec = self.config.portfolio.instruments[instrument]
        settle_price = float(self.state.market.price(spec.settle))
        units = contracts * float(spec.contract_size)
        return (units / price if spec.inverse else units * price) * settle_price

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
            agents="" if self.config.agents is None else self.config.agents.label(),
            actions=tuple(self.actions),
        )


def assets_of(portfolio: Portfolio) -> list[str]:
    """Every asset a path must move: priced assets and the instruments' underlyings (not the base)."""
    names = {a for a in portfolio.market.prices if a != portfolio.base}
    names |= {spec.underlying for spec in portfolio.instruments.values()}
    return sorted(names - {portfolio.base})


def warnings_of(scenario: Scenario, portfolio: Portfolio) -> tuple[str, ...]:
    """What of ``scenario`` changes nothing on ``portfolio`` (:meth:`Scenario.warnings`): a path on an asset
    the book has no price for, a fault on a symbol its sources never report."""
    return scenario.warnings(assets_of(portfolio), portfolio.market.marks, portfolio.base)


def run(
    config: StressConfig, scenario: Scenario, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> RunResult:
    """The whole scenario for one configuration (``progress(step, steps)`` after each step); the result's
    ``warnings`` say what of the scenario changed nothing on the book (:func:`warnings_of`)."""
    path = generate(scenario, seed, assets_of(config.portfolio))
    current = Run(config, path)
    steps = len(path.times) - 1
    for k in range(steps):
        current.step()
        if progress is not None:
            progress(k + 1, steps)
    return replace(current.result(), warnings=warnings_of(scenario, config.portfolio))


def run_all(
    configs: Sequence[StressConfig],
    scenario: Scenario,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RunResult, ...]:
    """The same scenario path for several configurations (cross and isolated, two rulebooks...)."""
    return tuple(run(config, scenario, seed, progress) for config in configs)
