"""What a stress run produces: per-step records, totals, and Monte Carlo distributions.

Money is in the base currency, as floats (reports); the runs' own ledgers are exact. Times are seconds
from the scenario's start. Index prices are in the base currency per unit of the asset, marks in the
instrument's mark units.

A step record is a pure function of the run's inputs except for ``seconds`` (its wall time), which is left
out of its identity (``==``) and out of every document written from it (``summary.json``, ``--json``).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AgentStep:
    """What the risk agents did in one step (:mod:`crossmargin.sim.agents`): their trades (count, notional at
    the fill price and slippage against the mark, base currency), events the loop refused, each
    underlying's margin multiplier after the step (the venue agent's; 1 left out) and how many of the trades
    were delta hedges."""

    trades: int = 0
    notional: float = 0.0
    slippage: float = 0.0
    refused: int = 0
    multipliers: dict[str, float] = field(default_factory=dict)
    hedges: int = 0


@dataclass(frozen=True)
class AgentRecord:
    """One action of an agent: a trade (``account``, ``instrument``, signed ``size`` in contracts, ``price``,
    ``notional`` and ``slippage`` in base currency) or a venue action (``note`` says which multipliers)."""

    t: float
    agent: str
    note: str
    account: str | None = None
    instrument: str | None = None
    size: float = 0.0
    price: float | None = None
    notional: float = 0.0
    slippage: float = 0.0
    refused: bool = False


@dataclass(frozen=True)
class StepRecord:
    """One step of a run: the market after it and what the liquidation engine did in it."""

    t: float  # seconds from the scenario's start
    prices: dict[str, float]  # asset -> index price after the step (base currency; the base itself left out)
    marks: dict[str, float]  # instrument -> mark after the step's liquidations
    liquidations: int  # liquidation fills in the step (taken by the market, the backstop or ADL)
    liquidated_notional: float  # their notional at the fill price, base currency
    slippage: float  # against the mark, base currency
    adl_events: int  # accounts auto-deleveraged in the step
    bad_debt: float  # cumulative, base currency
    insurance_fund: float  # balance after the step, base currency
    accounts_at_risk: int  # accounts within the screening band or past it, after the step
    seconds: float = field(default=0.0, compare=False)  # wall time of the step (not part of the result's identity)
    # asset -> annualized realized volatility of its index price after the step (the loop's headline half-life,
    # crossmargin.margin.realized_volatility); an asset without an estimate yet is left out
    volatility: dict[str, float] = field(default_factory=dict)
    agents: AgentStep | None = None  # what the risk agents did (None: the run has no agents)


@dataclass(frozen=True)
class LiquidationMark:
    """One liquidation fill, for plotting on the price path."""

    t: float
    account: str
    instrument: str
    price: float
    notional: float  # base currency
    taker: str  # market, backstop, adl


@dataclass(frozen=True)
class RunResult:
    """One book through one scenario path under one configuration (``label``: cross, isolated, a rulebook...)."""

    label: str
    steps: tuple[StepRecord, ...]
    marks: tuple[LiquidationMark, ...]
    equity_before: tuple[float, ...]  # every account's equity at the start, base currency
    equity_after: tuple[float, ...]  # the same accounts at the end
    insurance_fund_start: float
    accounts: int
    positions: int
    warnings: tuple[str, ...] = ()  # what of the scenario changed nothing on this book (runner.warnings_of)
    agents: str = ""  # the risk agents that ran (trader, venue, trader+venue; empty: none)
    actions: tuple[AgentRecord, ...] = ()  # every action of theirs, in order

    @property
    def liquidations(self) -> int:
        return sum(s.liquidations for s in self.steps)

    @property
    def liquidated_notional(self) -> float:
        return sum(s.liquidated_notional for s in self.steps)

    @property
    def slippage(self) -> float:
        return sum(s.slippage for s in self.steps)

    @property
    def adl_events(self) -> int:
        return sum(s.adl_events for s in self.steps)

    @property
    def bad_debt(self) -> float:
        return self.steps[-1].bad_debt if self.steps else 0.0

    @property
    def insurance_fund_end(self) -> float:
        return self.steps[-1].insurance_fund if self.steps else self.insurance_fund_start

    @property
    def insurance_fund_drawdown(self) -> float:
        """The largest fall of the insurance fund below its starting balance (>= 0)."""
        low = min((s.insurance_fund for s in self.steps), default=self.insurance_fund_start)
        return max(0.0, self.insurance_fund_start - low)

    @property
    def agent_trades(self) -> int:
        return sum(s.agents.trades for s in self.steps if s.agents is not None)

    @property
    def agent_hedges(self) -> int:
        return sum(s.agents.hedges for s in self.steps if s.agents is not None)

    @property
    def agent_notional(self) -> float:
        return sum(s.agents.notional for s in self.steps if s.agents is not None)

    @property
    def agent_slippage(self) -> float:
        return sum(s.agents.slippage for s in self.steps if s.agents is not None)

    @property
    def peak_multiplier(self) -> float:
        """The highest margin multiplier any underlying had after a step (1 without the venue's agent)."""
        return max((m for s in self.steps if s.agents is not None for m in s.agents.multipliers.values()), default=1.0)

    def summary(self) -> dict[str, float | int]:
        """The totals (the ``cross`` / ``isolated`` objects of ``summary.json``); with agents, their trades (and
        of them the delta hedges), notional, slippage, refused events and the peak margin multiplier too."""
        totals = self._totals()
        if self.agents:
            totals |= {
                "agent_trades": self.agent_trades,
                "agent_hedges": self.agent_hedges,
                "agent_notional": self.agent_notional,
                "agent_slippage": self.agent_slippage,
                "agent_refused": sum(s.agents.refused for s in self.steps if s.agents is not None),
                "peak_margin_multiplier": self.peak_multiplier,
            }
        return totals

    def _totals(self) -> dict[str, float | int]:
        return {
            "liquidations": self.liquidations,
            "liquidated_notional": self.liquidated_notional,
            "slippage": self.slippage,
            "adl_events": self.adl_events,
            "bad_debt": self.bad_debt,
            "insurance_fund_start": self.insurance_fund_start,
            "insurance_fund_end": self.insurance_fund_end,
            "insurance_fund_drawdown": self.insurance_fund_drawdown,
            "accounts": self.accounts,
            "positions": self.positions,
        }


@dataclass(frozen=True)
class Distribution:
    """A Monte Carlo distribution of one loss figure (base currency, >= 0 is a loss) with its tail
    measures at each confidence level: VaR is the level's quantile, expected shortfall the mean beyond it."""

    values: tuple[float, ...]
    var: dict[str, float] = field(default_factory=dict)  # "0.95" -> VaR
    expected_shortfall: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MonteCarloResult:
    """N seeded paths of one configuration: bad debt and insurance-fund drawdown per path."""

    label: str
    seeds: tuple[int, ...]
    bad_debt: Distribution
    insurance_fund_drawdown: Distribution
    liquidated_notional: Distribution


@dataclass(frozen=True)
class StressReport:
    """Everything a report shows: the scenario, the book, the runs compared, and Monte Carlo results."""

    scenario: str
    title: str
    description: str
    sources: tuple[tuple[str, str], ...]  # (what, where)
    book: str  # how the book was made (file or generator and seed)
    runs: tuple[RunResult, ...]
    monte_carlo: tuple[MonteCarloResult, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """The runs' warnings (what of the scenario changed nothing on the book), each once, in order."""
        return tuple(dict.fromkeys(line for run in self.runs for line in run.warnings))
