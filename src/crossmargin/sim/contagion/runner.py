"""Several venues stepped together through one market path, linked (:mod:`crossmargin.sim.contagion.model`).

Each venue is a single-venue stress run (:class:`~crossmargin.sim.stress.runner.Run`: its own engine loop,
exact ledger and oracle) on the same path, with its own faults added. At each step ``k`` (time ``t``):

1. **Prices.** Every venue steps (depth, prices, its liquidations). Its sources report each asset at the
   market's price, except where an oracle or shared-collateral link mixes in other venues' own prices as they
   stood after step ``k - 1``: ``start x ((1 - sum w) x factor + sum w x own / own at start)``.
2. **Transfers.** Of each group of shared traders, deposits due by ``t`` arrive; then an owner's account
   whose initial equity is below its initial margin is topped up from the owner's other accounts: a
   ``withdrawal`` there of at most its free collateral (and its base balance), a ``deposit`` of the same
   amount ``transfer_delay`` seconds later (at once at 0; transfers in flight count against the need).
3. **Arbitrage.** Each arbitrage link, for each asset both venues list a linear instrument on (those of its
   ``assets`` when it names them), takes the gap
   between their own prices (over their start) as it stood ``delay`` seconds before (now, at delay 0) and
   trades the same notional on both venues (buys where it is cheap, sells where it is dear) against the
   market, as large as closes that gap (the two moves of the marks, each the venue's depth's permanent impact
   times the venue's own price over its start, summing to it) and at most ``capacity x step seconds``: each
   leg a ``trade`` event with its ``impact``, which moves the venue's mark as a liquidation's fills do (and can
   liquidate its accounts). The arbitrageur's account is opened and funded on both venues before the first
   step.

Everything reaches a venue's ledger as an engine-loop event. A link named in ``links_off`` does nothing:
with every link off each venue's run is the single-venue run of its book on the same path, event for event
(its loop's digest equal). Own prices: a venue's mark of its reference instrument on the asset (its linear
perpetual, else its linear future, the first by name), else its index of the asset. Money in base currency,
times in seconds from the path's start.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal

from crossmargin.clearing.events import MARKET
from crossmargin.clearing.state import BAD_DEBT, INSURANCE_FUND
from crossmargin.liquidation.liquidity import Side
from crossmargin.live import events as live
from crossmargin.model import InputError
from crossmargin.model.instruments import ContractKind
from crossmargin.model.numbers import ZERO, exact, from_float
from crossmargin.sim.contagion.model import Arbitrage, ContagionScenario, PriceLink, SharedTraders
from crossmargin.sim.scenarios.model import ScenarioPath
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.results import LiquidationMark, StepRecord
from crossmargin.sim.stress.runner import Run, StressConfig, assets_of

SIZE_QUANTUM = Decimal("1e-8")
"""An arbitrage leg's size is rounded down to this many contracts."""
_SEARCH_ROUNDS = 60  # halvings of the arbitrage's notional when the gap closes within its capacity


@dataclass(frozen=True)
class VenueStep:
    """One venue after one joint step: the single-venue record of its prices (``prices``), what the links did
    to it, and its totals after the whole step (base currency; counts include fills the links' events set
    off)."""

    t: float
    prices: StepRecord
    own: dict[str, float]  # asset -> the venue's own price after the step (module doc)
    liquidations: int
    liquidated_notional: float
    adl_events: int
    bad_debt: float  # cumulative
    insurance_fund: float
    arbitrage_notional: float = 0.0  # traded by arbitrageurs on this venue in the step
    transfers_out: float = 0.0  # withdrawn by shared traders
    transfers_in: float = 0.0  # deposited by shared traders
    refused: int = 0  # link events the venue refused


@dataclass(frozen=True)
class VenueResult:
    """One venue through the whole joint run: its steps, every liquidation fill and its loop's final digest."""

    name: str
    steps: tuple[VenueStep, ...]
    fills: tuple[LiquidationMark, ...]
    insurance_fund_start: float
    digest: str

    @property
    def liquidations(self) -> int:
        return sum(s.liquidations for s in self.steps)

    @property
    def liquidated_notional(self) -> float:
        return sum(s.liquidated_notional for s in self.steps)

    @property
    def adl_events(self) -> int:
        return sum(s.adl_events for s in self.steps)

    @property
    def bad_debt(self) -> float:
        return self.steps[-1].bad_debt if self.steps else 0.0

    @property
    def insurance_fund_drawdown(self) -> float:
        """The largest fall of the fund below its start (>= 0)."""
        low = min((s.insurance_fund for s in self.steps), default=self.insurance_fund_start)
        return max(0.0, self.insurance_fund_start - low)


@dataclass(frozen=True)
class ContagionResult:
    """A joint run: the scenario, the seed of its path, the links switched off, every venue's result."""

    scenario: str
    seed: int
    links_off: tuple[str, ...]
    venues: tuple[VenueResult, ...]

    def venue(self, name: str) -> VenueResult:
        return next(v for v in self.venues if v.name == name)


@dataclass
class _Tally:
    """What one venue's events did in a step beyond its prices."""

    fills: list[LiquidationMark] = field(default_factory=list)
    adl: int = 0
    arbitrage: float = 0.0
    out: float = 0.0
    into: float = 0.0
    refused: int = 0


def market_path(scenario: ContagionScenario, configs: Mapping[str, StressConfig], seed: int) -> ScenarioPath:
    """The market's path for every asset of every venue's book (one draw: every venue sees the same market)."""
    assets = sorted({a for config in configs.values() for a in assets_of(config.portfolio)})
    return generate(scenario.market, seed, assets)


class JointRun:
    """The venues of ``scenario`` in one run (see module doc); :meth:`step` advances all, :meth:`result`."""

    def __init__(
        self,
        scenario: ContagionScenario,
        configs: Mapping[str, StressConfig],
        seed: int = 0,
        links_off: Collection[str] = (),
    ) -> None:
        unknown = sorted(set(links_off) - set(scenario.link_names))
        if unknown:
            raise InputError("links_off", f"no link named {unknown[0]!r}; links: {', '.join(scenario.link_names)}")
        self.scenario, self.seed, self.links_off = scenario, seed, tuple(sorted(links_off))
        path = market_path(scenario, configs, seed)
        self.runs = {
            v.name: Run(configs[v.name], replace(path, faults=path.faults + v.faults)) for v in scenario.venues
        }
        self.times = path.times
        self.links = [link for link in scenario.links if link.name not in links_off]
        self.start_own = {name: self._own(name) for name in self.runs}
        self.history: list[tuple[float, dict[str, dict[str, float]]]] = [(0.0, self._relative())]
        self.mixing = self._mixing()
        self.owners = self._owners()
        self.in_flight: list[
            tuple[float, str, str, str, str, Decimal, str]
        ] = []  # due, venue, account, owner, asset, amount, id
        self.steps: dict[str, list[VenueStep]] = {name: [] for name in self.runs}
        self.fills: dict[str, list[LiquidationMark]] = {name: [] for name in self.runs}
        self.seen = dict.fromkeys(self.runs, 0)  # the runs' own fills already taken into self.fills
        self.k = 0
        self._open_arbitrageurs()

    # ------------------------------------------------------------------ set-up

    def _own(self, venue: str) -> dict[str, float]:
        """The venue's own price of every asset it prices or lists a linear instrument on (module doc)."""
        run = self.runs[venue]
        state = run.state
        own = {a: float(p) for a, p in state.market.prices.items() if a != state.base}
        own |= {asset: float(state.market.marks[name]) for asset, name in _references(run).items()}
        return own

    def _relative(self) -> dict[str, dict[str, float]]:
        """Every venue's own prices over their start."""
        return {
            name: {a: p / self.start_own[name][a] for a, p in self._own(name).items() if self.start_own[name].get(a)}
            for name in self.runs
        }

    def _mixing(self) -> dict[str, dict[str, list[tuple[str, float]]]]:
        """reader -> asset -> [(source venue, weight)] of the links switched on; weights at most 1 an asset."""
        mixing: dict[str, dict[str, list[tuple[str, float]]]] = {name: {} for name in self.runs}
        for link in self.links:
            if not isinstance(link, PriceLink):
                continue
            for reader in link.readers:
                priced = set(self.runs[reader].start_prices)
                listed = set(self.start_own[link.source])
                symbols = link.symbols
                if symbols is None:
                    symbols = tuple(sorted(set(self.runs[reader].underlying.values()) & listed & priced))
                for symbol in symbols:
                    if symbol not in priced:
                        raise InputError(f"{link.name}.symbols", f"venue {reader!r} does not price {symbol!r}")
                    if symbol not in listed:
                        raise InputError(f"{link.name}.symbols", f"{link.source!r} has no own price of {symbol!r}")
                    mixing[reader].setdefault(symbol, []).append((link.source, link.weight))
                    if sum(w for _, w in mixing[reader][symbol]) > 1:
                        raise InputError(f"{link.name}.weight", f"{reader}'s weights on {symbol} add up to more than 1")
        return mixing

    def _owners(self) -> list[tuple[SharedTraders, str, dict[str, str]]]:
        """(link, owner, venue -> account) of every owner of the traders' links switched on."""
        owners = []
        for link in self.links:
            if not isinstance(link, SharedTraders):
                continue
            for venue in link.venues:
                if link.asset not in self.runs[venue].state.portfolio().assets:
                    raise InputError(f"{link.name}.asset", f"venue {venue!r} has no asset {link.asset!r}")
            if link.share is None:
                for owner, placed in link.owners:
                    for venue, account in placed:
                        if account not in self.runs[venue].state.account_ids:
                            raise InputError(f"{link.name}.owners.{owner}.{venue}", f"no account {account!r}")
                    owners.append((link, owner, dict(placed)))
            else:
                ids = {v: sorted(self.runs[v].state.account_ids) for v in link.venues}
                count = min(int(len(found) * link.share) for found in ids.values())
                owners += [(link, f"owner-{r}", {v: ids[v][r] for v in link.venues}) for r in range(count)]
        return owners

    def _open_arbitrageurs(self) -> None:
        duration = float(self.times[-1])
        for link in self.links:
            if isinstance(link, Arbitrage):
                amount = link.collateral or from_float(max(link.capacity * duration, 1.0))
                for venue in link.venues:
                    run = self.runs[venue]
                    account = _arbitrageur(link)
                    self._apply(venue, live.OpenAccount(seq=0, time=ZERO, id=f"{link.name}|open", account=account))
                    settles = sorted({run.state.instruments[_linear(run, a)].settle for a in self._traded(link)})
                    for asset in settles:
                        with exact():
                            units = (amount / run.state.market.price(asset)).quantize(SIZE_QUANTUM, ROUND_DOWN)
                        deposit = live.Deposit(
                            seq=0, time=ZERO, id=f"{link.name}|fund|{asset}", account=account, asset=asset, amount=units
                        )
                        self._apply(venue, deposit)

    # ------------------------------------------------------------------ steps

    def _apply(self, venue: str, event: live.InboundEvent, tally: _Tally | None = None) -> bool:
        """Apply ``event`` as ``venue``'s loop's next event; count its fills in ``tally``; False if refused."""
        run = self.runs[venue]
        out = run.loop.handle(replace_seq(event, run.loop.seq + 1))
        refused = any(isinstance(e, live.Rejected) for e in out)
        if tally is not None:
            tally.refused += refused
            for e in out:
                if isinstance(e, live.LiquidationFill):
                    value = _fill_value(run, e)
                    tally.fills.append(
                        LiquidationMark(float(e.time), e.account, e.instrument, float(e.fill_price), value, e.taker)
                    )
                elif isinstance(e, live.Deleveraged):
                    tally.adl += 1
        return not refused

    def _quotes_of(self, venue: str) -> dict[str, float] | None:
        """The prices ``venue``'s sources report this step where links mix other venues' own prices in."""
        mixing = self.mixing[venue]
        if not mixing:
            return None
        run, latest = self.runs[venue], self.history[-1][1]
        prices = {}
        for symbol, weights in mixing.items():
            factors = run.path.factors.get(symbol)
            factor = 1.0 if factors is None else float(factors[run.k + 1])
            mixed = (1.0 - sum(w for _, w in weights)) * factor + sum(w * latest[s][symbol] for s, w in weights)
            prices[symbol] = run.start_prices[symbol] * mixed
        return prices

    def step(self) -> None:
        """Advance every venue one step (module doc)."""
        self.k += 1
        t = float(self.times[self.k])
        seconds = t - float(self.times[self.k - 1])
        quotes = {name: self._quotes_of(name) for name in self.runs}
        records = {name: run.step(quotes[name]) for name, run in self.runs.items()}
        tallies = {name: _Tally() for name in self.runs}
        self._transfers(t, tallies)
        for link in self.links:
            if isinstance(link, Arbitrage):
                self._arbitrage(link, t, seconds, tallies)
        relative = self._relative()
        self.history.append((t, relative))
        for name, run in self.runs.items():
            record, tally = records[name], tallies[name]
            self.fills[name] += [*run.marks_log[self.seen[name] :], *tally.fills]
            self.seen[name] = len(run.marks_log)
            self.steps[name].append(
                VenueStep(
                    t=t, prices=record, own={a: float(p) for a, p in self._own(name).items()},
                    liquidations=record.liquidations + len(tally.fills),
                    liquidated_notional=record.liquidated_notional + sum(f.notional for f in tally.fills),
                    adl_events=record.adl_events + tally.adl,
                    bad_debt=0.0 - float(run.state.value(BAD_DEBT)),
                    insurance_fund=float(run.state.value(INSURANCE_FUND)),
                    arbitrage_notional=tally.arbitrage, transfers_out=tally.out, transfers_in=tally.into,
                    refused=tally.refused,
                )
            )  # fmt: skip

    def _observed(self, t: float) -> dict[str, dict[str, float]]:
        """Own prices over their start as they stood at ``t`` (the latest record at or before it)."""
        return next(relative for at, relative in reversed(self.history) if at <= t)

    def _arbitrage(self, link: Arbitrage, t: float, seconds: float, tallies: dict[str, _Tally]) -> None:
        a, b = link.venues
        observed = self._relative() if link.delay_s == 0 else self._observed(t - link.delay_s)
        now = self._relative()
        budget = link.capacity * seconds
        for asset in self._traded(link):
            gap = observed[b].get(asset, 1.0) - observed[a].get(asset, 1.0)
            if gap == 0 or budget <= 0:
                continue
            cheap, dear = (a, b) if gap > 0 else (b, a)
            legs = [(cheap, Side.BUY), (dear, Side.SELL)]

            def closes(notional: float, legs: list[tuple[str, Side]] = legs, asset: str = asset) -> float:
                return sum(now[v][asset] * self._move(v, asset, side, notional) for v, side in legs)

            notional = budget
            if closes(budget) > abs(gap):
                low, high = 0.0, budget
                for _ in range(_SEARCH_ROUNDS):
                    middle = (low + high) / 2
                    low, high = (middle, high) if closes(middle) < abs(gap) else (low, middle)
                notional = low
            traded = 0.0
            for venue, side in legs:
                traded = max(traded, self._trade(link, venue, asset, side, notional, t, tallies[venue]))
            budget -= traded

    def _traded(self, link: Arbitrage) -> list[str]:
        """The assets ``link`` trades, by name: its ``assets``, else every asset both venues list."""
        shared = self._shared(*link.venues)
        if link.assets is None:
            return sorted(shared)
        for asset in link.assets:
            if asset not in shared:
                raise InputError(f"{link.name}.assets", f"{asset!r} is not listed (linear) on both venues")
        return sorted(set(link.assets))

    def _shared(self, a: str, b: str) -> set[str]:
        """Assets both venues list a linear instrument on."""
        return _underlyings(self.runs[a]) & _underlyings(self.runs[b])

    def _move(self, venue: str, asset: str, side: Side, notional: float) -> float:
        """The fraction ``notional`` (base currency) bought or sold on ``venue`` moves its mark of ``asset``."""
        if notional <= 0:
            return 0.0
        run = self.runs[venue]
        name = _linear(run, asset)
        model = run.liquidator.liquidity.get(name)
        if model is None:
            return 0.0
        mark = run.state.market.marks[name]
        with exact():
            units = from_float(notional) / mark
        if units <= 0:
            return 0.0
        quote = model.quote(side, units, mark)
        return abs(float(model.impacted_mark(quote) / mark) - 1.0)

    def _trade(
        self, link: Arbitrage, venue: str, asset: str, side: Side, notional: float, t: float, tally: _Tally
    ) -> float:
        """One arbitrage leg on ``venue``; the notional traded (base currency)."""
        run = self.runs[venue]
        name = _linear(run, asset)
        spec, mark = run.state.instruments[name], run.state.market.marks[name]
        with exact():
            size = (from_float(notional) / mark / spec.contract_size).quantize(SIZE_QUANTUM, ROUND_DOWN)
        if size <= 0:
            return 0.0
        with exact():
            units = size * spec.contract_size
        model = run.liquidator.liquidity.get(name)
        price, impact = mark, ZERO
        if model is not None:
            quote = model.quote(side, units, mark)
            price, impact = quote.average_price, model.impacted_mark(quote) - mark
        arbitrageur = _arbitrageur(link)
        buyer, seller = (arbitrageur, MARKET) if side is Side.BUY else (MARKET, arbitrageur)
        event = live.Trade(
            seq=0, time=from_float(t), id=f"{link.name}|{self.k}|{name}", buyer=buyer, seller=seller, instrument=name,
            size=size, price=price, impact=impact,
        )  # fmt: skip
        if not self._apply(venue, event, tally):
            return 0.0
        value = float(units * price) * float(run.state.market.price(spec.settle))
        tally.arbitrage += value
        return value

    def _transfers(self, t: float, tallies: dict[str, _Tally]) -> None:
        clock = from_float(t)
        due = [item for item in self.in_flight if item[0] <= t]
        self.in_flight = [item for item in self.in_flight if item[0] > t]
        for _, venue, account, _, asset, amount, tag in due:
            self._deposit(venue, account, asset, amount, clock, tag, tallies[venue])
        for link, owner, placed in self.owners:
            if link.transfer_delay_s is None:
                continue
            for venue, account in placed.items():
                figures = self.runs[venue].state.pool_figures(account)
                with exact():
                    need = figures.initial_margin - figures.initial_equity
                    need -= sum(
                        (
                            i[5] * self.runs[venue].state.market.price(i[4])
                            for i in self.in_flight
                            if i[1:4] == (venue, account, owner)
                        ),
                        ZERO,
                    )
                for other, source in placed.items():
                    if need <= 0 or other == venue:
                        continue
                    run, asset = self.runs[other], link.asset
                    held = run.state.account(source).balances.get(asset, ZERO)
                    with exact():
                        price = run.state.market.price(asset)
                        wanted = min(need, run.state.pool_figures(source).free_collateral) / price
                        amount = min(wanted.quantize(SIZE_QUANTUM, ROUND_DOWN), held)
                    if amount <= 0:
                        continue
                    tag = f"{link.name}|{self.k}|{owner}|{other}->{venue}"
                    event = live.Withdrawal(seq=0, time=clock, id=tag, account=source, asset=asset, amount=amount)
                    if not self._apply(other, event, tallies[other]):
                        continue
                    tallies[other].out += float(amount * price)
                    with exact():
                        need -= amount * price
                    if link.transfer_delay_s == 0:
                        self._deposit(venue, account, asset, amount, clock, tag, tallies[venue])
                    else:
                        self.in_flight.append((t + link.transfer_delay_s, venue, account, owner, asset, amount, tag))

    def _deposit(
        self, venue: str, account: str, asset: str, amount: Decimal, clock: Decimal, tag: str, tally: _Tally
    ) -> None:
        event = live.Deposit(seq=0, time=clock, id=f"{tag}|in", account=account, asset=asset, amount=amount)
        if self._apply(venue, event, tally):
            tally.into += float(amount * self.runs[venue].state.market.price(asset))

    def result(self) -> ContagionResult:
        """The run so far."""
        venues = tuple(
            VenueResult(
                name,
                tuple(self.steps[name]),
                tuple(self.fills[name]),
                float(run.config.insurance_fund),
                run.loop.digest(),
            )
            for name, run in self.runs.items()
        )
        return ContagionResult(self.scenario.name, self.seed, self.links_off, venues)


def replace_seq(event: live.InboundEvent, seq: int) -> live.InboundEvent:
    """``event`` numbered ``seq``."""
    import msgspec

    return msgspec.structs.replace(event, seq=seq)


def _arbitrageur(link: Arbitrage) -> str:
    return f"arbitrageur:{link.name}"


def _references(run: Run) -> dict[str, str]:
    """Each underlying's reference instrument on the venue, whose mark is the venue's own price of it and which
    arbitrage trades: its linear marked perpetual, else its linear marked future (the first by name); options
    and inverse contracts never."""
    ranked = sorted(
        (spec.kind is not ContractKind.PERPETUAL, name, spec.underlying)
        for name, spec in run.state.instruments.items()
        if not spec.inverse and spec.kind is not ContractKind.OPTION and name in run.start_marks
    )
    references: dict[str, str] = {}
    for _, name, underlying in ranked:
        references.setdefault(underlying, name)
    return references


def _underlyings(run: Run) -> set[str]:
    return set(_references(run))


def _linear(run: Run, asset: str) -> str:
    """The venue's reference instrument on ``asset`` (:func:`_references`)."""
    return _references(run)[asset]


def _fill_value(run: Run, fill: live.LiquidationFill) -> float:
    """A fill's notional at its price, base currency."""
    spec = run.state.instruments[fill.instrument]
    units = abs(float(fill.size)) * float(spec.contract_size)
    price = float(fill.fill_price)
    return (units / price if spec.inverse else units * price) * float(run.state.market.price(spec.settle))


def run_contagion(
    scenario: ContagionScenario,
    configs: Mapping[str, StressConfig],
    seed: int = 0,
    links_off: Collection[str] = (),
) -> ContagionResult:
    """The whole market path for every venue of ``scenario`` together (``configs``: venue -> its run's
    configuration, :func:`~crossmargin.sim.contagion.model.venue_configs`), the links in ``links_off`` off."""
    joint = JointRun(scenario, configs, seed, links_off)
    for _ in range(len(joint.times) - 1):
        joint.step()
    return joint.result()


def apart(scenario: ContagionScenario, configs: Mapping[str, StressConfig], seed: int = 0) -> ContagionResult:
    """The same venues on the same path with every link off: each venue as if alone."""
    return run_contagion(scenario, configs, seed, scenario.link_names)
