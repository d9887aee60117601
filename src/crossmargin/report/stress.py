"""The stress-test report: one self-contained HTML page (Plotly charts), a Rich summary for the terminal and
the ``summary.json`` document.

Pure: every function returns a value (a string, a renderable, a dict); nothing prints or writes files.
Money is in the book's base currency (floats, as :mod:`crossmargin.sim.stress.results` carries it), times
in seconds from the scenario's start, marks and fill prices in mark units, counts are plain counts.

Tables (HTML and terminal) write money to cents and counts in full, both with thousands separators; the
JSON writes money, prices, marks and times as decimal strings (:func:`crossmargin.report.numbers.float_string`:
the shortest decimal that reads back as the run's float) and counts as integers. Plotly is imported only by
:func:`render_html`, so the terminal summary and the JSON work where it is not installed. Charts bin large
samples (equity of every account, Monte Carlo paths) before plotting, so the page stays small however big the
book: apart from plotly.js, which is inlined once so the page opens offline, it grows with the number of
steps and shown fills only. ``summary.json`` carries every step of every run (:func:`step_json`): it grows
with steps x (assets + instruments) x runs, not with the accounts.
"""

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from crossmargin.report.html_page import STYLE, Figures, empty, escaped, html_table, section
from crossmargin.report.numbers import NONE_MARK, count, float_string, money
from crossmargin.sim.stress.results import (
    AgentStep,
    Distribution,
    LiquidationMark,
    MonteCarloResult,
    RunResult,
    StepRecord,
    StressReport,
)

ALERT_STYLE = "bold red"

MAX_INSTRUMENTS = 4  # price-path panels: the instruments with the most liquidations
MAX_ASSETS = 4  # index-price panels: the assets whose index moved most
MAX_MARKERS = 2000  # liquidation markers per run and instrument (the largest by notional are kept)
HISTOGRAM_BINS = 40

RUN_COLUMNS = (
    "run",
    "liquidations",
    "liquidated notional",
    "slippage",
    "ADL events",
    "bad debt",
    "insurance fund (start → end)",
    "IF max drawdown",
    "accounts",
)
AGENT_COLUMNS = ("run", "agents", "trades", "hedges", "notional", "slippage", "peak multiplier")
MONTE_CARLO_COLUMNS = (
    "run",
    "paths",
    "level",
    "bad debt VaR",
    "bad debt ES",
    "IF drawdown VaR",
    "IF drawdown ES",
)

# Keys of ``summary_json`` that a run label never replaces (such a run is under "runs" only).
RESERVED_KEYS = frozenset(
    {"scenario", "title", "description", "sources", "book", "warnings", "runs", "monte_carlo", "steps"}
)

RUN_COLOURS = ("#1f4e99", "#2a9d8f", "#8d6cab", "#6b705c", "#e07a5f", "#3d405b", "#bc6c25", "#457b9d")
RUN_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
RUN_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x", "star")
TAKER_COLOURS = {"market": "#f4a261", "backstop": "#e63946", "adl": "#7b2cbf"}
OTHER_TAKER_COLOUR = "#555555"
LEVEL_COLOURS = ("#e76f51", "#9b2226", "#264653", "#6a994e")
BEFORE_COLOUR = "#8c9fb7"
AFTER_COLOUR = "#e4572e"


def level_name(level: str) -> str:
    """A confidence level key as a percentage (``"0.99"`` is ``99%``, ``"0.995"`` is ``99.5%``); a key that is
    not a fraction in (0, 1) is returned as it is."""
    try:
        value = float(level)
    except ValueError:
        return level
    return f"{value * 100:g}%" if 0 < value < 1 else level


def _level_key(level: str) -> tuple[int, float, str]:
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def _levels(*distributions: Distribution) -> list[str]:
    """The confidence levels any of the distributions reports, lowest first."""
    keys = {level for d in distributions for level in (*d.var, *d.expected_shortfall)}
    return sorted(keys, key=_level_key)


def _finite(values: Iterable[float]) -> NDArray[np.float64]:
    array = np.asarray(list(values), dtype=np.float64)
    return array[np.isfinite(array)]


# Keys of a run's totals that are counts (JSON integers); every other total is money (a decimal string).
COUNT_KEYS = frozenset(
    {"liquidations", "adl_events", "accounts", "positions", "agent_trades", "agent_hedges", "agent_refused"}
)


def _json_totals(totals: dict[str, float | int]) -> dict[str, object]:
    """A run's totals for JSON: counts as integers, money as decimal strings (null where not finite)."""
    return {key: int(x) if key in COUNT_KEYS else float_string(x) for key, x in totals.items()}


def step_json(step: StepRecord) -> dict[str, object]:
    """One step of a run for JSON (an element of ``summary["steps"][label]``): every field of the
    :class:`StepRecord` but its wall time, which would make the document differ between two equal runs.

    ``t`` (seconds from the scenario's start), ``prices`` (asset -> index price, base currency),
    ``marks`` (instrument -> mark), ``liquidated_notional``, ``slippage``, ``bad_debt`` (cumulative) and
    ``insurance_fund`` (balance after the step) are decimal strings (null where not finite);
    ``liquidations``, ``adl_events`` and ``accounts_at_risk`` are integers; ``volatility`` (asset -> annualized
    realized volatility of its index price) holds decimal strings; a run with risk agents adds ``agents``
    (:func:`_agent_step_json`).
    """
    return {
        "t": float_string(step.t),
        "prices": {asset: float_string(x) for asset, x in step.prices.items()},
        "marks": {name: float_string(x) for name, x in step.marks.items()},
        "liquidations": int(step.liquidations),
        "liquidated_notional": float_string(step.liquidated_notional),
        "slippage": float_string(step.slippage),
        "adl_events": int(step.adl_events),
        "bad_debt": float_string(step.bad_debt),
        "insurance_fund": float_string(step.insurance_fund),
        "accounts_at_risk": int(step.accounts_at_risk),
        "volatility": {asset: float_string(x) for asset, x in step.volatility.items()},
    } | ({} if step.agents is None else {"agents": _agent_step_json(step.agents)})


def _agent_step_json(agents: AgentStep) -> dict[str, object]:
    """A step's ``agents`` object (runs with agents only): ``trades``, ``hedges`` (of the trades, the delta
    hedges) and ``refused`` integers, ``notional`` and ``slippage`` decimal strings (base currency),
    ``multipliers`` (underlying -> margin multiplier)."""
    return {
        "trades": int(agents.trades),
        "hedges": int(agents.hedges),
        "notional": float_string(agents.notional),
        "slippage": float_string(agents.slippage),
        "refused": int(agents.refused),
        "multipliers": {u: float_string(m) for u, m in agents.multipliers.items()},
    }


def unique_labels(labels: Iterable[str]) -> list[str]:
    """The labels in order, a repeated one numbered from its second use (``cross``, ``cross (2)``), so every
    run keeps its own row, trace and JSON key."""
    seen: Counter[str] = Counter()
    taken: set[str] = set()
    out: list[str] = []
    for label in labels:
        name = label
        while name in taken:
            seen[label] += 1
            name = f"{label} ({seen[label] + 1})"
        taken.add(name)
        out.append(name)
    return out


def _runs(report: StressReport) -> list[tuple[str, RunResult]]:
    return list(zip(unique_labels(r.label for r in report.runs), report.runs, strict=True))


def _monte_carlo(report: StressReport) -> list[tuple[str, MonteCarloResult]]:
    return list(zip(unique_labels(m.label for m in report.monte_carlo), report.monte_carlo, strict=True))


# --------------------------------------------------------------------------------------- table rows


def _run_cells(run: RunResult) -> tuple[str, ...]:
    """The figures of one run, in the order of ``RUN_COLUMNS[1:]``."""
    return (
        count(run.liquidations),
        money(run.liquidated_notional),
        money(run.slippage),
        count(run.adl_events),
        money(run.bad_debt),
        f"{money(run.insurance_fund_start)} → {money(run.insurance_fund_end)}",
        money(run.insurance_fund_drawdown),
        count(run.accounts),
    )


def _monte_carlo_rows(report: StressReport) -> list[tuple[str, ...]]:
    """One row per label and confidence level, in the order of ``MONTE_CARLO_COLUMNS``."""
    rows: list[tuple[str, ...]] = []
    for label, result in _monte_carlo(report):
        bad_debt, drawdown = result.bad_debt, result.insurance_fund_drawdown
        paths = count(len(bad_debt.values))
        levels = _levels(bad_debt, drawdown)
        if not levels:
            rows.append((label, paths, NONE_MARK, NONE_MARK, NONE_MARK, NONE_MARK, NONE_MARK))
        for level in levels:
            rows.append(
                (
                    label,
                    paths,
                    level_name(level),
                    money(bad_debt.var.get(level)),
                    money(bad_debt.expected_shortfall.get(level)),
                    money(drawdown.var.get(level)),
                    money(drawdown.expected_shortfall.get(level)),
                )
            )
    return rows


# ------------------------------------------------------------------------------------------ terminal


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=Text(title), title_justify="left")
    table.add_column(columns[0], no_wrap=True)
    for name in columns[1:]:
        table.add_column(name, justify="right")
    return table


def summary_table(report: StressReport) -> Table:
    """One row per run: liquidations, liquidated notional, slippage, ADL events, bad debt (red when any),
    the insurance fund at the start and the end, its largest drawdown, and the accounts in the book."""
    table = _table(f"Stress test: {report.title} (base currency)", RUN_COLUMNS)
    for label, run in _runs(report):
        cells: list[str | Text] = list(_run_cells(run))
        if run.bad_debt > 0:
            cells[4] = Text(str(cells[4]), style=ALERT_STYLE)
        table.add_row(Text(label), *cells)
    return table


def monte_carlo_table(report: StressReport) -> Table:
    """Per Monte Carlo label and confidence level: VaR and expected shortfall of bad debt and of the insurance
    fund's drawdown over the paths."""
    table = _table("Monte Carlo: bad debt and insurance-fund drawdown (base currency)", MONTE_CARLO_COLUMNS)
    for row in _monte_carlo_rows(report):
        table.add_row(Text(row[0]), *row[1:])
    return table


def agents_table(report: StressReport) -> Table:
    """One row per run with risk agents: which ran, their trades (of them the delta hedges), notional and
    slippage, and the peak margin multiplier."""
    table = _table("Risk agents (base currency)", AGENT_COLUMNS)
    for label, run in _runs(report):
        if run.agents:
            table.add_row(
                Text(label), run.agents, count(run.agent_trades), count(run.agent_hedges), money(run.agent_notional),
                money(run.agent_slippage), f"{run.peak_multiplier:.2f}",
            )  # fmt: skip
    return table


def summary_renderable(report: StressReport) -> RenderableType:
    """The terminal summary: :func:`summary_table`, followed by :func:`agents_table` when a run had risk agents
    and :func:`monte_carlo_table` when the report has Monte Carlo results."""
    parts: list[RenderableType] = [summary_table(report)]
    if any(run.agents for run in report.runs):
        parts.append(agents_table(report))
    if report.monte_carlo:
        parts.append(monte_carlo_table(report))
    return parts[0] if len(parts) == 1 else Group(*parts)


# ---------------------------------------------------------------------------------------------- JSON


def _distribution_json(distribution: Distribution) -> dict[str, object]:
    """A loss distribution's VaR and expected shortfall by level, mean and max, as decimal strings."""
    values = _finite(distribution.values)
    return {
        "var": {level: float_string(x) for level, x in distribution.var.items()},
        "expected_shortfall": {level: float_string(x) for level, x in distribution.expected_shortfall.items()},
        "mean": float_string(float(values.mean())) if values.size else None,
        "max": float_string(float(values.max())) if values.size else None,
    }


def summary_json(report: StressReport) -> dict[str, object]:
    """The ``summary.json`` document: the scenario, its title, description and sources, how the book was made,
    the warnings (what of the scenario changed nothing on the book, :attr:`StressReport.warnings`), each run's
    totals (:meth:`RunResult.summary`) under ``runs`` and again at the top level under its label
    (``summary["cross"]["bad_debt"]``; a label equal to a fixed key is under ``runs`` only), and per Monte
    Carlo label the number of paths and the VaR (by level), expected shortfall, mean and max of bad debt,
    insurance-fund drawdown and liquidated notional. Last, under ``steps``, per run label the list of the
    run's steps in order, one object a step (:func:`step_json`): every step's time, index prices, marks,
    liquidations, liquidated notional, slippage, ADL events, bad debt, insurance fund and accounts at risk.
    The sums of a run's steps are its totals; its last step's ``insurance_fund`` and ``bad_debt`` are its
    ``insurance_fund_end`` and ``bad_debt``. Nothing in the document depends on the wall clock: equal runs
    give equal documents.

    Money (base currency), prices, marks and times are decimal strings, the shortest that read back as the
    run's float (:func:`~crossmargin.report.numbers.float_string`); counts and ``paths`` are JSON integers; a
    missing or non-finite figure is null. A repeated label is numbered (``cross (2)``), in ``runs`` and
    ``steps`` alike.
    """
    runs = {label: _json_totals(run.summary()) for label, run in _runs(report)}
    document: dict[str, object] = {
        "scenario": report.scenario,
        "title": report.title,
        "description": report.description,
        "sources": [{"what": what, "where": where} for what, where in report.sources],
        "book": report.book,
        "warnings": list(report.warnings),
        "runs": runs,
    }
    for label, totals in runs.items():
        if label not in RESERVED_KEYS:
            document[label] = dict(totals)
    document["monte_carlo"] = {
        label: {
            "paths": len(result.bad_debt.values),
            "bad_debt": _distribution_json(result.bad_debt),
            "insurance_fund_drawdown": _distribution_json(result.insurance_fund_drawdown),
            "liquidated_notional": _distribution_json(result.liquidated_notional),
        }
        for label, result in _monte_carlo(report)
    }
    document["steps"] = {label: [step_json(step) for step in run.steps] for label, run in _runs(report)}
    return document


# ---------------------------------------------------------------------------------------------- HTML


def _link(where: str) -> str:
    if where.startswith(("https://", "http://")):
        return f'<a href="{escaped(where)}">{escaped(where)}</a>'
    return escaped(where)


def _header(report: StressReport) -> str:
    paragraphs = [p.strip() for p in report.description.split("\n\n") if p.strip()]
    description = "\n".join(f"<p>{escaped(p)}</p>" for p in paragraphs)
    return "\n".join(
        [
            "<header>",
            f"<h1>{escaped(report.title)}</h1>",
            f'<p class="note">Stress test of scenario <code>{escaped(report.scenario)}</code>.</p>',
            description,
            "</header>",
        ]
    )


def _sources(report: StressReport) -> str:
    if report.sources:
        items = "\n".join(f"<li>{escaped(what)}: {_link(where)}</li>" for what, where in report.sources)
        body = f"<ul>\n{items}\n</ul>"
    else:
        body = empty("No sources cited.")
    return section("sources", "Sources", "Where the scenario's moves and parameters come from.", body)


def _book(report: StressReport, runs: Sequence[tuple[str, RunResult]]) -> str:
    sizes = "; ".join(f"{label}: {count(r.accounts)} accounts, {count(r.positions)} positions" for label, r in runs)
    body = f"<p>{escaped(report.book)}</p>" + (f"\n<p>{escaped(sizes)}.</p>" if sizes else "")
    return section("book", "Book", "How the book of accounts and positions put through the scenario was made.", body)


def _summary(report: StressReport, runs: Sequence[tuple[str, RunResult]]) -> str:
    rows = [(label, *_run_cells(run)) for label, run in runs]
    alert = [{5} if run.bad_debt > 0 else set() for _, run in runs]
    body = html_table(RUN_COLUMNS, rows, alert)
    if report.monte_carlo:
        body += "\n<h3>Monte Carlo tail measures</h3>\n"
        body += (
            '<p class="note">Value at risk (the level\'s quantile) and expected shortfall (the mean beyond it) of '
            "bad debt and of the insurance fund's drawdown over the seeded paths.</p>\n"
        )
        body += html_table(MONTE_CARLO_COLUMNS, _monte_carlo_rows(report))
    return section(
        "summary",
        "Summary",
        "Totals per run in the base currency: liquidation fills, their notional and slippage against the mark, "
        "accounts auto-deleveraged, bad debt left, and the insurance fund's balance and largest fall.",
        body,
    )


def _series(values: Iterable[float]) -> NDArray[np.float64]:
    return np.asarray(list(values), dtype=np.float64)


def _taker_order(takers: Collection[str]) -> list[str]:
    known = [t for t in TAKER_COLOURS if t in takers]
    return known + sorted(set(takers) - set(TAKER_COLOURS))


def _instruments(runs: Sequence[tuple[str, RunResult]]) -> list[str]:
    """Every instrument with a mark or a fill, in order of first appearance."""
    seen: dict[str, None] = {}
    for _, run in runs:
        for step in run.steps:
            seen.update(dict.fromkeys(step.marks))
    for _, run in runs:
        seen.update(dict.fromkeys(m.instrument for m in run.marks))
    return list(seen)


def _marker_sizes(fills: Sequence[LiquidationMark], largest: float) -> list[float]:
    """Marker diameters in px: 6 for nothing, 26 for the largest fill shown, area growing with notional."""

    def size(notional: float) -> float:
        if largest <= 0 or not math.isfinite(notional) or notional <= 0:
            return 6.0
        return 6.0 + 20.0 * math.sqrt(min(notional, largest) / largest)

    return [size(m.notional) for m in fills]


def _fill_hover(label: str, taker: str, instrument: str) -> str:
    """The hover text of a run's fills by one taker on one instrument (account and notional per fill come from
    ``customdata``)."""
    return (
        f"{escaped(label)} · {escaped(taker)}<br>t %{{x:,.1f}} s<br>{escaped(instrument)} @ %{{y:,.2f}}"
        "<br>account %{customdata[0]}<br>notional %{customdata[1]:,.2f}<extra></extra>"
    )


def _price_path(figures: Figures, runs: Sequence[tuple[str, RunResult]]) -> str:
    heading = "Price path and liquidations"
    explanation = (
        "Each instrument's mark over time (solid: the first run; other runs dashed where their marks differ), "
        "with every liquidation fill as a marker sized by notional, coloured by who took it and shaped by run."
    )
    instruments = _instruments(runs)
    if not instruments:
        return section("price-path", heading, explanation, empty("No marks or liquidations were recorded."))
    liquidations = Counter(m.instrument for _, run in runs for m in run.marks)
    shown = sorted(instruments, key=lambda name: -liquidations[name])[:MAX_INSTRUMENTS]  # stable: ties by order
    notes: list[str] = []
    if len(shown) < len(instruments):
        notes.append(f"Showing the {len(shown)} instruments with the most liquidations, of {len(instruments)}.")
    if not liquidations:
        notes.append("No liquidations in any run.")
    largest = max(
        (m.notional for _, run in runs for m in run.marks if m.instrument in shown and math.isfinite(m.notional)),
        default=0.0,
    )
    go = figures.go
    fig = figures.subplots(len(shown), shared_xaxes=True, subplot_titles=[escaped(name) for name in shown])
    in_legend: set[str] = set()
    truncated = False

    def legend(group: str) -> bool:
        first = group not in in_legend
        in_legend.add(group)
        return first

    for row, name in enumerate(shown, start=1):
        first: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
        for k, (label, run) in enumerate(runs):
            t = _series(s.t for s in run.steps)
            y = _series(s.marks.get(name, math.nan) for s in run.steps)
            if not np.isfinite(y).any():
                continue
            if first is not None and np.array_equal(first[0], t) and np.array_equal(first[1], y, equal_nan=True):
                continue
            first = first or (t, y)
            group = f"mark-{k}"
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=y,
                    mode="lines" if len(t) > 1 else "lines+markers",
                    name=escaped(f"{label} mark"),
                    legendgroup=group,
                    showlegend=legend(group),
                    line={"color": RUN_COLOURS[k % len(RUN_COLOURS)], "dash": RUN_DASHES[k % len(RUN_DASHES)]},
                    hovertemplate=f"{escaped(label)}<br>t %{{x:,.1f}} s<br>mark %{{y:,.2f}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        for k, (label, run) in enumerate(runs):
            by_taker: dict[str, list[LiquidationMark]] = {}
            for fill in run.marks:
                if fill.instrument == name:
                    by_taker.setdefault(fill.taker, []).append(fill)
            for taker in _taker_order(by_taker):
                fills = by_taker[taker]
                if len(fills) > MAX_MARKERS:
                    fills = sorted(fills, key=lambda m: -m.notional)[:MAX_MARKERS]
                    truncated = True
                group = f"fill-{k}-{taker}"
                fig.add_trace(
                    go.Scatter(
                        x=_series(m.t for m in fills),
                        y=_series(m.price for m in fills),
                        mode="markers",
                        name=escaped(f"{label} {taker}"),
                        legendgroup=group,
                        showlegend=legend(group),
                        marker={
                            "color": TAKER_COLOURS.get(taker, OTHER_TAKER_COLOUR),
                            "symbol": RUN_SYMBOLS[k % len(RUN_SYMBOLS)],
                            "size": np.round(_marker_sizes(fills, largest), 1),
                            "opacity": 0.85,
                            "line": {"width": 0.6, "color": "#ffffff"},
                        },
                        customdata=[[escaped(m.account), round(m.notional, 2)] for m in fills],
                        hovertemplate=_fill_hover(label, taker, name),
                    ),
                    row=row,
                    col=1,
                )
        fig.update_yaxes(title_text="mark", row=row, col=1)
    fig.update_xaxes(title_text="time (s)", row=len(shown), col=1)
    if truncated:
        notes.append(f"Markers: the {count(MAX_MARKERS)} largest fills per run and instrument.")
    return section("price-path", heading, explanation, figures.write(fig, "price-path", 110 + 250 * len(shown)), notes)


def _assets(runs: Sequence[tuple[str, RunResult]]) -> list[str]:
    """Every asset with an index price in any step, in order of first appearance."""
    seen: dict[str, None] = {}
    for _, run in runs:
        for step in run.steps:
            seen.update(dict.fromkeys(step.prices))
    return list(seen)


def _index_move(runs: Sequence[tuple[str, RunResult]], asset: str) -> float:
    """How far an asset's index moved in the runs: its range over its first price (0 when it has none)."""
    largest = 0.0
    for _, run in runs:
        prices = _finite(s.prices[asset] for s in run.steps if asset in s.prices)
        if prices.size and prices[0] > 0:
            largest = max(largest, float((prices.max() - prices.min()) / prices[0]))
    return largest


def _index_prices(figures: Figures, runs: Sequence[tuple[str, RunResult]]) -> str:
    heading = "Index prices"
    explanation = (
        "Each asset's index price after every step of each run (base currency), as the oracle made it from "
        "its sources; runs with the same prices share one line, named after all of them."
    )
    assets = _assets(runs)
    if not assets:
        return section("index-prices", heading, explanation, empty("No index prices were recorded."))
    moves = {asset: _index_move(runs, asset) for asset in assets}
    shown = sorted(assets, key=lambda asset: -moves[asset])[:MAX_ASSETS]  # stable: ties by order
    notes: list[str] = []
    if len(shown) < len(assets):
        notes.append(f"Showing the {len(shown)} assets whose index moved most, of {len(assets)}.")
    go = figures.go
    fig = figures.subplots(len(shown), shared_xaxes=True, subplot_titles=[escaped(asset) for asset in shown])
    in_legend: set[str] = set()
    for row, asset in enumerate(shown, start=1):
        # (labels, first run's index, times, prices): runs with equal series share one line
        lines: list[tuple[list[str], int, NDArray[np.float64], NDArray[np.float64]]] = []
        for k, (label, run) in enumerate(runs):
            t = _series(s.t for s in run.steps)
            y = _series(s.prices.get(asset, math.nan) for s in run.steps)
            if not np.isfinite(y).any():
                continue
            same = next(
                (line for line in lines if np.array_equal(line[2], t) and np.array_equal(line[3], y, equal_nan=True)),
                None,
            )
            if same is None:
                lines.append(([label], k, t, y))
            else:
                same[0].append(label)
        for labels, k, t, y in lines:
            name = ", ".join(labels)
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=y,
                    mode="lines" if len(t) > 1 else "lines+markers",
                    name=escaped(name),
                    legendgroup=f"price-{escaped(name)}",
                    showlegend=name not in in_legend,
                    line={"color": RUN_COLOURS[k % len(RUN_COLOURS)], "dash": RUN_DASHES[k % len(RUN_DASHES)]},
                    hovertemplate=f"{escaped(name)}<br>t %{{x:,.1f}} s<br>{escaped(asset)} %{{y:,.6~g}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            in_legend.add(name)
        fig.update_yaxes(title_text="index", row=row, col=1)
    fig.update_xaxes(title_text="time (s)", row=len(shown), col=1)
    return section(
        "index-prices", heading, explanation, figures.write(fig, "index-prices", 110 + 250 * len(shown)), notes
    )


def _bars(go: Any, values: NDArray[np.float64], edges: NDArray[np.float64], name: str, colour: str, unit: str) -> Any:
    counts, _ = np.histogram(values, bins=edges)
    text = [
        f"{escaped(name)}<br>{money(lo)} to {money(hi)}: {count(int(n))} {unit}"
        for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    return go.Bar(
        x=(edges[:-1] + edges[1:]) / 2,
        y=counts,
        width=np.diff(edges),
        name=escaped(name),
        marker={"color": colour, "line": {"width": 0}},
        opacity=0.65,
        hovertext=text,
        hoverinfo="text",
    )


def _equity(figures: Figures, runs: Sequence[tuple[str, RunResult]]) -> str:
    heading = "Equity before and after"
    explanation = (
        "How every account's equity was spread at the start and at the end of each run (base currency, binned): "
        "mass that moves below zero is bad debt."
    )
    samples = [(label, _finite(run.equity_before), _finite(run.equity_after)) for label, run in runs]
    samples = [s for s in samples if s[1].size or s[2].size]
    if not samples:
        return section("equity", heading, explanation, empty("No account equity was recorded."))
    edges = np.histogram_bin_edges(np.concatenate([v for s in samples for v in s[1:]]), bins=HISTOGRAM_BINS)
    go = figures.go
    titles = [escaped(f"{label}: {count(max(before.size, after.size))} accounts") for label, before, after in samples]
    fig = figures.subplots(len(samples), shared_xaxes=True, subplot_titles=titles)
    for row, (_, before, after) in enumerate(samples, start=1):
        for name, values, colour in (("before", before, BEFORE_COLOUR), ("after", after, AFTER_COLOUR)):
            trace = _bars(go, values, edges, name, colour, "accounts")
            trace.update(legendgroup=name, showlegend=row == 1)
            fig.add_trace(trace, row=row, col=1)
        fig.update_yaxes(title_text="accounts", row=row, col=1)
    fig.update_xaxes(title_text="equity (base currency)", row=len(samples), col=1)
    fig.update_layout(barmode="overlay")
    return section("equity", heading, explanation, figures.write(fig, "equity", 110 + 230 * len(samples)))


def _with_start(
    run: RunResult, start: float, values: Iterable[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Times and values of a run's series with its starting value put first (at t = 0, or at the first step's
    time if that is earlier)."""
    t0 = min(0.0, run.steps[0].t) if run.steps else 0.0
    return _series([t0, *(s.t for s in run.steps)]), _series([start, *values])


def _fund(figures: Figures, runs: Sequence[tuple[str, RunResult]]) -> str:
    heading = "Insurance fund and bad debt"
    explanation = (
        "The insurance fund's balance after each step of each run, from its starting balance, and the bad debt "
        "left over so far (cumulative), both in the base currency."
    )
    if not any(run.steps for _, run in runs):
        return section("insurance-fund", heading, explanation, empty("No steps were recorded."))
    go = figures.go
    fig = figures.subplots(2, shared_xaxes=True, subplot_titles=["insurance fund", "bad debt (cumulative)"])
    for k, (label, run) in enumerate(runs):
        colour, dash = RUN_COLOURS[k % len(RUN_COLOURS)], RUN_DASHES[k % len(RUN_DASHES)]
        fund = _with_start(run, run.insurance_fund_start, (s.insurance_fund for s in run.steps))
        debt = _with_start(run, 0.0, (s.bad_debt for s in run.steps))
        for row, (t, y) in enumerate((fund, debt), start=1):
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=y,
                    mode="lines",
                    line_shape="hv",
                    name=escaped(label),
                    legendgroup=f"run-{k}",
                    showlegend=row == 1,
                    line={"color": colour, "dash": dash},
                    hovertemplate=f"{escaped(label)}<br>t %{{x:,.1f}} s<br>%{{y:,.2f}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(title_text="balance", row=1, col=1)
    fig.update_yaxes(title_text="bad debt", row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    return section("insurance-fund", heading, explanation, figures.write(fig, "insurance-fund", 560))


def _per_step(figures: Figures, runs: Sequence[tuple[str, RunResult]]) -> str:
    heading = "Liquidations per step"
    explanation = (
        "Liquidation fills in each step of each run, as a count and as notional at the fill price (base currency)."
    )
    if not any(run.steps for _, run in runs):
        return section("liquidations", heading, explanation, empty("No steps were recorded."))
    if not any(s.liquidations for _, run in runs for s in run.steps):
        return section("liquidations", heading, explanation, empty("No liquidations in any run."))
    go = figures.go
    fig = figures.subplots(2, shared_xaxes=True, subplot_titles=["liquidation fills", "liquidated notional"])
    for k, (label, run) in enumerate(runs):
        t = _series(s.t for s in run.steps)
        for row, y, fmt in (
            (1, np.asarray([s.liquidations for s in run.steps], dtype=np.int64), "%{y:,}"),
            (2, _series(s.liquidated_notional for s in run.steps), "%{y:,.2f}"),
        ):
            fig.add_trace(
                go.Bar(
                    x=t,
                    y=y,
                    name=escaped(label),
                    legendgroup=f"run-{k}",
                    showlegend=row == 1,
                    marker={"color": RUN_COLOURS[k % len(RUN_COLOURS)]},
                    hovertemplate=f"{escaped(label)}<br>t %{{x:,.1f}} s<br>{fmt}<extra></extra>",
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(title_text="fills", row=1, col=1)
    fig.update_yaxes(title_text="notional", row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_layout(barmode="group", bargap=0.15)
    return section("liquidations", heading, explanation, figures.write(fig, "liquidations", 560))


def _comparison(figures: Figures, runs: Sequence[tuple[str, RunResult]]) -> str:
    labels = [label for label, _ in runs]
    heading = "Run comparison" + (": " + " vs ".join(labels) if len(labels) > 1 else "")
    explanation = (
        "The runs side by side: liquidation fills, liquidated notional, bad debt and the insurance fund's "
        "closing balance (money in the base currency)."
    )
    if not runs:
        return section("comparison", heading, explanation, empty("No runs."))
    # (title, figure per run, the figure as written), one panel each
    metrics: list[tuple[str, list[float], list[str]]] = [
        ("liquidations", [r.liquidations for _, r in runs], [count(r.liquidations) for _, r in runs]),
        (
            "liquidated notional",
            [r.liquidated_notional for _, r in runs],
            [money(r.liquidated_notional) for _, r in runs],
        ),
        ("bad debt", [r.bad_debt for _, r in runs], [money(r.bad_debt) for _, r in runs]),
        ("insurance fund end", [r.insurance_fund_end for _, r in runs], [money(r.insurance_fund_end) for _, r in runs]),
    ]
    go = figures.go
    fig = figures.subplots(1, len(metrics), subplot_titles=[name for name, _, _ in metrics], horizontal_spacing=0.07)
    for col, (_, values, written) in enumerate(metrics, start=1):
        for k, (label, _) in enumerate(runs):
            fig.add_trace(
                go.Bar(
                    x=[escaped(label)],
                    y=[values[k]],
                    name=escaped(label),
                    showlegend=False,
                    marker={"color": RUN_COLOURS[k % len(RUN_COLOURS)]},
                    text=[written[k]],
                    textposition="auto",
                    hovertext=[f"{escaped(label)}: {written[k]}"],
                    hoverinfo="text",
                ),
                row=1,
                col=col,
            )
    return section("comparison", heading, explanation, figures.write(fig, "comparison", 400))


def _level_lines(go: Any, distribution: Distribution, top: float, show: set[str]) -> list[Any]:
    lines = []
    for i, level in enumerate(_levels(distribution)):
        colour = LEVEL_COLOURS[i % len(LEVEL_COLOURS)]
        for kind, by_level, dash in (
            ("VaR", distribution.var, "solid"),
            ("ES", distribution.expected_shortfall, "dash"),
        ):
            x = by_level.get(level)
            if x is None or not math.isfinite(x):
                continue
            name = f"{kind} {level_name(level)}"
            lines.append(
                go.Scatter(
                    x=[x, x],
                    y=[0, top],
                    mode="lines",
                    name=escaped(name),
                    legendgroup=name,
                    showlegend=name not in show,
                    line={"color": colour, "dash": dash, "width": 2},
                    hovertext=[f"{escaped(name)}: {money(x)}"] * 2,
                    hoverinfo="text",
                )
            )
            show.add(name)
    return lines


def _monte_carlo_section(figures: Figures, report: StressReport) -> str:
    heading = "Monte Carlo"
    explanation = (
        "Bad debt and the insurance fund's drawdown over the seeded paths of each configuration (base currency, "
        "binned), with value at risk (solid) and expected shortfall (dashed) at each confidence level."
    )
    results = _monte_carlo(report)
    go = figures.go
    titles: list[str] = []
    for label, result in results:
        paths = count(len(result.bad_debt.values))
        titles += [escaped(f"{label}: bad debt ({paths} paths)"), escaped(f"{label}: insurance fund drawdown")]
    fig = figures.subplots(len(results), 2, subplot_titles=titles, horizontal_spacing=0.1)
    shown: set[str] = set()
    for row, (_, result) in enumerate(results, start=1):
        for col, distribution, colour in (
            (1, result.bad_debt, RUN_COLOURS[0]),
            (2, result.insurance_fund_drawdown, RUN_COLOURS[1]),
        ):
            values = _finite(distribution.values)
            if not values.size:
                continue
            edges = np.histogram_bin_edges(values, bins=HISTOGRAM_BINS)
            bars = _bars(go, values, edges, "paths", colour, "paths")
            bars.update(showlegend=False)
            fig.add_trace(bars, row=row, col=col)
            top = float(np.histogram(values, bins=edges)[0].max())
            for line in _level_lines(go, distribution, top, shown):
                fig.add_trace(line, row=row, col=col)
            fig.update_yaxes(title_text="paths", row=row, col=col)
    fig.update_xaxes(title_text="base currency", row=len(results))
    fig.update_layout(barmode="overlay")
    return section("monte-carlo", heading, explanation, figures.write(fig, "monte-carlo", 110 + 280 * len(results)))


def render_html(report: StressReport) -> str:
    """The report as one self-contained HTML document: the scenario (title, description, sources, book) and a
    summary table of the runs, then charts of the marks with liquidation fills, the index prices, equity before
    and after, the insurance fund and bad debt over time, liquidations per step, the runs compared and, when
    present, the Monte Carlo distributions; every run's step times are the charts' time axes. plotly.js is
    inlined once (no network needed to open it); all text from the report is escaped.
    """
    runs = _runs(report)
    figures = Figures()
    parts = [
        _header(report),
        _sources(report),
        _book(report, runs),
        _summary(report, runs),
        _price_path(figures, runs),
        _index_prices(figures, runs),
        _equity(figures, runs),
        _fund(figures, runs),
        _per_step(figures, runs),
        _comparison(figures, runs),
    ]
    if report.monte_carlo:
        parts.append(_monte_carlo_section(figures, report))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escaped(report.title)}: stress report</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *parts,
            "<footer>Generated by crossmargin. Money in the base currency; times in seconds from the scenario's "
            "start.</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )
