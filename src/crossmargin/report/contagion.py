"""The contagion report: ``summary.json`` (the measures, versioned) and a self-contained ``report.html``.

``summary.json``: ``{"version": 1, "scenario", "title", "seed", "venues": {name: figures}, "apart": {...},
"total", "total_apart", "amplification": {venue or "total": {figure: ratio or null}}, "propagation":
{"origin", "first_s", "induced_venue", "induced_s", "delay_s"}, "links": [{"name", "kind", "without",
"carried"}], "carrier", "steps": {venue: [{"t", "own", "liquidations", ...}]}, "monte_carlo": {"linked" |
"apart": {figure: {"values", "var", "expected_shortfall"}}} (with --paths > 1), "chart_asset"}``. Money in
base currency, times in seconds from the path's start.

``report.html`` (:func:`render_html`, from the summary alone): the venues side by side, the chart asset's own
price on each venue over time with the steps that liquidated marked, the amplification table (linked, apart,
ratio, per venue and in total), the propagation time, the links each switched off in turn with the carrier and,
with several paths, the Monte Carlo distributions of the totals.
"""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crossmargin.report.files import write_files
from crossmargin.report.html_page import STYLE, Figures, empty, escaped, html_table, section
from crossmargin.report.numbers import count, money
from crossmargin.sim.contagion.measures import FIGURES, ContagionMeasures
from crossmargin.sim.stress.results import Distribution

VERSION = 1
FILES = ("report.html", "summary.json")
COUNTS = ("liquidations", "adl_events")
LABELS = {
    "liquidations": "liquidations (fills)",
    "liquidated_notional": "liquidated notional",
    "bad_debt": "bad debt",
    "insurance_fund_drawdown": "insurance fund drawdown",
    "adl_events": "ADL events",
}


def summary_json(
    measures: ContagionMeasures, title: str = "", monte_carlo: dict[str, dict[str, Distribution]] | None = None
) -> dict[str, Any]:
    """The measures as the versioned JSON object (module doc)."""
    p = measures.propagation
    document: dict[str, Any] = {
        "version": VERSION,
        "scenario": measures.scenario,
        "title": title or measures.scenario,
        "seed": measures.seed,
        "venues": {name: f.as_dict() for name, f in measures.venues.items()},
        "apart": {name: f.as_dict() for name, f in measures.apart.items()},
        "total": measures.total.as_dict(),
        "total_apart": measures.total_apart.as_dict(),
        "amplification": measures.amplification,
        "propagation": {
            "origin": p.origin, "first_s": p.first_s, "induced_venue": p.induced_venue, "induced_s": p.induced_s,
            "delay_s": p.delay_s,
        },
        "links": [
            {"name": e.name, "kind": e.kind, "without": e.without.as_dict(), "carried": e.carried}
            for e in measures.links
        ],
        "carrier": measures.carrier,
        "steps": {
            venue.name: [
                {
                    "t": s.t, "own": s.own, "liquidations": s.liquidations,
                    "liquidated_notional": s.liquidated_notional, "adl_events": s.adl_events, "bad_debt": s.bad_debt,
                    "insurance_fund": s.insurance_fund, "arbitrage_notional": s.arbitrage_notional,
                    "transfers_out": s.transfers_out, "transfers_in": s.transfers_in, "refused": s.refused,
                }
                for s in venue.steps
            ]
            for venue in measures.linked_run.venues
        },
    }  # fmt: skip
    document["chart_asset"] = chart_asset(document)
    if monte_carlo is not None:
        document["monte_carlo"] = {
            side: {name: asdict(d) for name, d in figures.items()} for side, figures in monte_carlo.items()
        }
    return document


PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#17a2b8", "#5d6d7e", "#a04000")
"""A venue's colour in the chart (its line and its liquidation crosses), in venue order."""
CHART_ASSETS = ("BTC", "ETH", "SOL")
"""The chart's asset: the first of these every venue has an own price of, else the first such asset by name."""


def chart_asset(summary: dict[str, Any]) -> str | None:
    """The asset whose own price on each venue the report draws (:data:`CHART_ASSETS`), None when no asset is
    priced by every venue."""
    steps = summary["steps"]
    shared: set[str] | None = None
    for records in steps.values():
        owned = set(records[0]["own"]) if records else set()
        shared = owned if shared is None else shared & owned
    if not shared:
        return None
    return next((a for a in CHART_ASSETS if a in shared), min(shared))


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}x"


def _figure_value(figure: str, value: float) -> str:
    return count(int(value)) if figure in COUNTS else money(value)


def _venues_table(summary: dict[str, Any]) -> str:
    """Figures down, venues across (and the total): the linked run."""
    names = [*summary["venues"], "total"]
    rows = []
    for figure in FIGURES:
        cells = [summary["total"][figure] if n == "total" else summary["venues"][n][figure] for n in names]
        rows.append([LABELS[figure], *(_figure_value(figure, v) for v in cells)])
    return html_table(["figure", *names], rows)


def _amplification_table(summary: dict[str, Any]) -> str:
    """Per venue and in total, each figure linked, apart and linked over apart."""
    rows = []
    for name in [*summary["venues"], "total"]:
        linked = summary["total"] if name == "total" else summary["venues"][name]
        alone = summary["total_apart"] if name == "total" else summary["apart"][name]
        for figure in FIGURES:
            ratio = summary["amplification"][name][figure]
            rows.append(
                [name, LABELS[figure], _figure_value(figure, linked[figure]), _figure_value(figure, alone[figure]),
                 _ratio(ratio)]
            )  # fmt: skip
    return html_table(["venue", "figure", "linked", "apart", "amplification"], rows)


def _propagation(summary: dict[str, Any]) -> str:
    p = summary["propagation"]
    if p["origin"] is None:
        text = "No venue liquidated anyone."
    elif p["delay_s"] is None:
        text = f"The first liquidation came on {p['origin']} at {p['first_s']:,.0f} s; none was induced elsewhere."
    else:
        text = (
            f"The first liquidation came on {p['origin']} at {p['first_s']:,.0f} s; the first induced one, on "
            f"{p['induced_venue']} at {p['induced_s']:,.0f} s: a propagation time of {p['delay_s']:,.0f} s."
        )
    return f'<p id="propagation">{escaped(text)}</p>'


def _links_table(summary: dict[str, Any]) -> str:
    rows = [
        [link["name"], link["kind"], money(link["carried"]["bad_debt"] + link["carried"]["insurance_fund_drawdown"]),
         money(link["carried"]["liquidated_notional"]), count(int(link["carried"]["liquidations"])),
         count(int(link["carried"]["adl_events"]))]
        for link in summary["links"]
    ]  # fmt: skip
    table = html_table(["link", "kind", "loss carried", "notional carried", "liquidations", "ADL events"], rows)
    carrier = summary["carrier"]
    said = f"The link that carried most of the loss: {carrier}." if carrier else "No link carried any loss."
    return f'<p id="carrier">{escaped(said)}</p>\n{table}'


def _price_chart(figures: Figures, summary: dict[str, Any]) -> str:
    """One figure: the chart asset's own price on each venue over time, a marker at each step with
    liquidation fills (sized by their notional)."""
    asset = chart_asset(summary)
    if asset is None:
        return empty("No asset is priced by every venue: no chart.")
    go = figures.go
    fig = go.Figure()
    largest = max((s["liquidated_notional"] for r in summary["steps"].values() for s in r), default=0.0) or 1.0
    for n, (name, records) in enumerate(summary["steps"].items()):
        colour = PALETTE[n % len(PALETTE)]
        times = [s["t"] for s in records]
        fig.add_trace(
            go.Scatter(
                x=times, y=[s["own"][asset] for s in records], mode="lines", name=escaped(name), line={"color": colour}
            )
        )
        fills = [s for s in records if s["liquidations"]]
        fig.add_trace(
            go.Scatter(
                x=[s["t"] for s in fills], y=[s["own"][asset] for s in fills], mode="markers",
                name=escaped(f"{name}: liquidations"),
                marker={"size": [6 + 18 * (s["liquidated_notional"] / largest) ** 0.5 for s in fills],
                        "symbol": "x", "color": colour, "line": {"width": 1, "color": colour}},
                text=[f"{s['liquidations']} fills, {money(s['liquidated_notional'])}" for s in fills],
                hovertemplate="%{text}<br>t %{x} s<extra>" + escaped(name) + "</extra>",
            )
        )  # fmt: skip
    fig.update_xaxes(title_text="time from the path's start (s)")
    fig.update_yaxes(title_text=escaped(f"{asset} own price (base currency per {asset})"))
    return figures.write(fig, "prices", 460)


def _monte_carlo(summary: dict[str, Any]) -> str:
    """Each loss figure over the paths, linked and apart: its mean, VaR and expected shortfall at each level."""
    spread = summary["monte_carlo"]
    first = spread["linked"]["liquidated_notional"]
    levels = sorted(first["var"], key=float)
    rows = []
    for figure in ("liquidated_notional", "bad_debt", "insurance_fund_drawdown"):
        for side in ("linked", "apart"):
            found = spread[side][figure]
            values = found["values"]
            rows.append(
                [LABELS[figure], side, count(len(values)), money(sum(values) / len(values)),
                 *(money(found["var"][level]) for level in levels),
                 *(money(found["expected_shortfall"][level]) for level in levels)]
            )  # fmt: skip
    columns = ["figure", "run", "paths", "mean", *(f"VaR {level}" for level in levels)]
    columns += [f"ES {level}" for level in levels]
    return html_table(columns, rows)


def render_html(summary: dict[str, Any]) -> str:
    """The report as one self-contained page (plotly.js inlined, no network needed): the venues side by side,
    the chart asset's own price on each venue with its liquidations marked, the amplification table, the
    propagation time and the links, each switched off in turn; all text escaped."""
    figures = Figures()
    title = summary["title"]
    sections = [
        f"<h1>{escaped(title)}</h1>",
        f'<p class="note">Contagion scenario <code>{escaped(summary["scenario"])}</code>, seed {summary["seed"]}. '
        "Linked: the venues stepped together with their links; apart: the same venues on the same path, every "
        "link off.</p>",
        section("venues", "Venues side by side", "The linked run's figures on each venue.", _venues_table(summary)),
        section(
            "prices", "Prices and liquidations",
            "Each venue's own price (its mark of its first linear instrument on the asset, else its index) after "
            "each step; a cross marks a step with liquidation fills on that venue (any instrument), sized by their "
            "notional. Each venue's book sets its own start price.",
            _price_chart(figures, summary),
        ),
        section(
            "amplification", "Amplification",
            "Each figure linked over apart; '-' where the apart figure is 0 (no ratio from nothing).",
            _amplification_table(summary),
        ),
        section("propagation-time", "Propagation", "From the first liquidation to the first induced elsewhere "
                 "(an account the venue run apart had not liquidated by then).", _propagation(summary)),
        section(
            "links", "Links",
            "The linked run again with each link off: what its totals lose without it (loss: bad debt + insurance "
            "fund drawdown).",
            _links_table(summary),
        ),
    ]  # fmt: skip
    if "monte_carlo" in summary:
        sections.append(
            section(
                "monte-carlo", "Monte Carlo",
                "The totals over the seeded paths (seed, seed + 1, ...), linked and apart: the mean, the value at "
                "risk and the expected shortfall at each level (base currency).",
                _monte_carlo(summary),
            )
        )  # fmt: skip
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escaped(title)}: contagion report</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *sections,
            "<footer>Generated by crossmargin. Money in the base currency; times in seconds from the path's "
            "start.</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def write_report(summary: dict[str, Any], out: Path) -> None:
    """``out/report.html`` and ``out/summary.json``, each written whole under a temporary name then renamed
    into place; a failure raises InputError on ``--out`` and leaves neither half-written."""
    texts = (render_html(summary), json.dumps(summary, indent=2) + "\n")
    write_files(out, tuple(zip(FILES, texts, strict=True)))
