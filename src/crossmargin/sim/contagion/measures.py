"""What contagion did: per venue and in total, the linked run against the same venues run apart.

- **Figures** (base currency): liquidations (fills), liquidated notional, bad debt, the insurance fund's
  largest drawdown, ADL events.
- **Amplification** of each figure: the linked run's over the apart run's (the same venues on the same path,
  every link off: :func:`~crossmargin.sim.contagion.runner.apart`); None when the apart figure is 0 (from
  nothing, no ratio).
- **Propagation**: the venue whose first liquidation comes first (the origin, ties by venue order), and the
  seconds from it to the first *induced* liquidation elsewhere: a fill on another venue of an account the
  apart run of that venue had not liquidated by then. None when nothing is induced.
- **Links**: the linked run again with each link off in turn; a link's share of the loss is how much the
  total loss (bad debt + insurance fund drawdown) falls without it, then the liquidated notional; the
  carrier is the link whose removal lowers the loss most (None when no removal lowers anything).
- **Monte Carlo** (:func:`monte_carlo`): the linked and apart totals over seeded paths, distributions with
  VaR and expected shortfall as the stress Monte Carlo's.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from crossmargin.sim.contagion.model import ContagionScenario, link_kind
from crossmargin.sim.contagion.runner import ContagionResult, VenueResult, apart, run_contagion
from crossmargin.sim.stress.montecarlo import _start_worker as start_worker
from crossmargin.sim.stress.montecarlo import distribution
from crossmargin.sim.stress.results import Distribution
from crossmargin.sim.stress.runner import StressConfig

FIGURES = ("liquidations", "liquidated_notional", "bad_debt", "insurance_fund_drawdown", "adl_events")


@dataclass(frozen=True)
class Figures:
    """A venue's (or all venues') losses over a run, base currency."""

    liquidations: int = 0
    liquidated_notional: float = 0.0
    bad_debt: float = 0.0
    insurance_fund_drawdown: float = 0.0
    adl_events: int = 0

    @property
    def loss(self) -> float:
        """Bad debt + insurance fund drawdown."""
        return self.bad_debt + self.insurance_fund_drawdown

    def plus(self, other: "Figures") -> "Figures":
        return Figures(*(getattr(self, f) + getattr(other, f) for f in FIGURES))

    def as_dict(self) -> dict[str, float | int]:
        return {f: getattr(self, f) for f in FIGURES}


def figures_of(venue: VenueResult) -> Figures:
    return Figures(
        venue.liquidations, venue.liquidated_notional, venue.bad_debt, venue.insurance_fund_drawdown, venue.adl_events
    )


def total(result: ContagionResult) -> Figures:
    out = Figures()
    for venue in result.venues:
        out = out.plus(figures_of(venue))
    return out


def amplification(linked: Figures, alone: Figures) -> dict[str, float | None]:
    """Each figure linked over apart (None where apart is 0)."""
    return {f: (getattr(linked, f) / getattr(alone, f) if getattr(alone, f) else None) for f in FIGURES}


@dataclass(frozen=True)
class Propagation:
    """Where liquidations start and how long until one is induced elsewhere (seconds from the path's start)."""

    origin: str | None
    first_s: float | None
    induced_venue: str | None
    induced_s: float | None

    @property
    def delay_s(self) -> float | None:
        return None if self.induced_s is None or self.first_s is None else self.induced_s - self.first_s


def propagation(linked: ContagionResult, alone: ContagionResult) -> Propagation:
    firsts = [(v.fills[0].t, n, v.name) for n, v in enumerate(linked.venues) if v.fills]
    if not firsts:
        return Propagation(None, None, None, None)
    first_s, _, origin = min(firsts)
    induced: list[tuple[float, int, str]] = []
    for n, venue in enumerate(linked.venues):
        if venue.name == origin:
            continue
        apart_fills = alone.venue(venue.name).fills
        for fill in venue.fills:
            if not any(f.account == fill.account and f.t <= fill.t for f in apart_fills):
                induced.append((fill.t, n, venue.name))
                break
    if not induced:
        return Propagation(origin, first_s, None, None)
    at, _, where = min(induced)
    return Propagation(origin, first_s, where, at)


@dataclass(frozen=True)
class LinkEffect:
    """The linked run with one link off: its totals and how much of each figure the link carried."""

    name: str
    kind: str
    without: Figures
    carried: dict[str, float]  # figure -> linked total minus the total without the link


@dataclass(frozen=True)
class ContagionMeasures:
    """Everything the module doc lists, for one seeded path."""

    scenario: str
    seed: int
    venues: dict[str, Figures]
    apart: dict[str, Figures]
    total: Figures
    total_apart: Figures
    amplification: dict[str, dict[str, float | None]]  # venue or "total" -> figure -> ratio
    propagation: Propagation
    links: tuple[LinkEffect, ...]
    carrier: str | None
    linked_run: ContagionResult
    apart_run: ContagionResult


def measure(
    scenario: ContagionScenario,
    configs: Mapping[str, StressConfig],
    seed: int = 0,
    links_off: Collection[str] = (),
    each_link: bool = True,
) -> ContagionMeasures:
    """The linked run (``links_off`` off), the apart run, and (``each_link``) each other link off in turn."""
    linked = run_contagion(scenario, configs, seed, links_off)
    alone = apart(scenario, configs, seed)
    venues = {v.name: figures_of(v) for v in linked.venues}
    separate = {v.name: figures_of(v) for v in alone.venues}
    ratios = {name: amplification(venues[name], separate[name]) for name in venues}
    ratios["total"] = amplification(total(linked), total(alone))
    effects = []
    if each_link:
        for link in scenario.links:
            if link.name in links_off:
                continue
            without = total(run_contagion(scenario, configs, seed, {*links_off, link.name}))
            carried = {f: float(getattr(total(linked), f) - getattr(without, f)) for f in FIGURES}
            effects.append(LinkEffect(link.name, link_kind(link), without, carried))
    ranked = sorted(
        effects, key=lambda e: (-(e.carried["bad_debt"] + e.carried["insurance_fund_drawdown"]),
                                -e.carried["liquidated_notional"])
    )  # fmt: skip
    carrier = None
    if ranked and (ranked[0].carried["bad_debt"] + ranked[0].carried["insurance_fund_drawdown"] > 0
                   or ranked[0].carried["liquidated_notional"] > 0):  # fmt: skip
        carrier = ranked[0].name
    return ContagionMeasures(
        scenario.name, seed, venues, separate, total(linked), total(alone), ratios, propagation(linked, alone),
        tuple(effects), carrier, linked, alone,
    )  # fmt: skip


PathTotals = tuple[tuple[float, ...], tuple[float, ...]]
"""(linked, apart) totals of one path: liquidated notional, bad debt, insurance fund drawdown."""


def path_totals(task: tuple[ContagionScenario, Mapping[str, StressConfig], int]) -> PathTotals:
    """One seeded path's linked and apart totals (no per-link runs)."""
    scenario, configs, seed = task
    found = measure(scenario, configs, seed, each_link=False)
    return tuple(_losses(found.total)), tuple(_losses(found.total_apart))


def _losses(figures: Figures) -> tuple[float, float, float]:
    return figures.liquidated_notional, figures.bad_debt, figures.insurance_fund_drawdown


def monte_carlo(
    scenario: ContagionScenario,
    configs: Mapping[str, StressConfig],
    seeds: list[int],
    scheduler: str | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, Distribution]]:
    """``linked`` and ``apart`` distributions of the totals over ``seeds``: in process with ``workers=1``, on
    local processes started with ``spawn`` (default; :mod:`crossmargin.sim.stress.montecarlo`), on the Dask
    scheduler at ``scheduler``; the same seeds give the same distributions wherever they run."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    import numba

    tasks = [(scenario, configs, seed) for seed in seeds]
    if scheduler is not None:
        from distributed import Client

        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            totals = client.gather(client.map(path_totals, tasks, pure=False))
    elif workers == 1:
        totals = [path_totals(task) for task in tasks]
    else:
        processes = min(workers or os.cpu_count() or 1, len(tasks)) or 1
        threads = max(1, numba.get_num_threads() // processes)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, context, start_worker, (threads,)) as pool:
            totals = list(pool.map(path_totals, tasks))
    names = ("liquidated_notional", "bad_debt", "insurance_fund_drawdown")
    return {
        side: {name: distribution([t[index][k] for t in totals]) for k, name in enumerate(names)}
        for index, side in enumerate(("linked", "apart"))
    }
