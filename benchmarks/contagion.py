"""The amplification table of every shipped contagion scenario: each run linked and apart, per venue and in
total, the propagation time and the link that carried most of the loss.

    NUMBA_CACHE_DIR=... .venv/bin/python benchmarks/contagion.py [--seed 7] [--workers 2]
        [--scenarios NAME ...] [--json benchmarks/contagion.json] [--doc docs/contagion.md] [--no-grids]

Each scenario is measured as ``crossmargin contagion NAME --seed SEED`` measures it
(:func:`crossmargin.sim.contagion.measures.measure`: the linked run, the apart run, and each link off in turn)
on its shipped books. Writes every scenario's measures to the JSON file and the table into the doc between its
``<!-- contagion-table -->`` markers (the prose around it is the doc's own). Then (unless ``--no-grids``) the
incident scenarios again on other time grids (:data:`GRIDS`: the same span, linked and apart only) into the
``<!-- contagion-grids -->`` markers: how much the totals' amplification owes to the step. Scenarios go to
``--workers`` local processes; the machine is shared, so the wall time is reported, not compared.
"""

import argparse
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from crossmargin.sim.contagion.measures import FIGURES, measure
from crossmargin.sim.contagion.model import library, load_contagion, venue_configs

MARKERS = ("<!-- contagion-table -->", "<!-- /contagion-table -->")
GRID_MARKERS = ("<!-- contagion-grids -->", "<!-- /contagion-grids -->")
GRIDS = {"october-2025-venue-collateral": (60, 150), "ftx-2022-stale-feed": (3600, 7200, 14400)}
"""Step sizes (seconds) each incident scenario is run on for the grid table; the first is the shipped one."""
COLUMNS = {
    "liquidations": "liquidations",
    "liquidated_notional": "liquidated notional",
    "bad_debt": "bad debt",
    "insurance_fund_drawdown": "fund drawdown",
    "adl_events": "ADL",
}


def one_scenario(name: str, seed: int) -> dict[str, Any]:
    """One scenario's measures (linked, apart, amplification, propagation, links) and its wall time."""
    scenario = load_contagion(name)
    started = time.perf_counter()
    found = measure(scenario, venue_configs(scenario), seed)
    p = found.propagation
    return {
        "scenario": name,
        "seconds": time.perf_counter() - started,
        "venues": {v: f.as_dict() for v, f in found.venues.items()},
        "apart": {v: f.as_dict() for v, f in found.apart.items()},
        "total": found.total.as_dict(),
        "total_apart": found.total_apart.as_dict(),
        "amplification": found.amplification,
        "propagation": {"origin": p.origin, "induced_venue": p.induced_venue, "delay_s": p.delay_s},
        "links": {e.name: e.carried for e in found.links},
        "carrier": found.carrier,
    }


def one_grid(name: str, seed: int, step: int) -> dict[str, Any]:
    """One scenario's totals linked and apart on a grid of ``step`` seconds over the same span."""
    scenario = load_contagion(name)
    span = scenario.market.step_seconds * scenario.market.steps
    market = replace(scenario.market, step_seconds=step, steps=span // step)
    found = measure(replace(scenario, market=market), venue_configs(scenario), seed, each_link=False)
    return {
        "scenario": name, "step_seconds": step, "total": found.total.as_dict(),
        "total_apart": found.total_apart.as_dict(), "amplification": found.amplification["total"],
    }  # fmt: skip


def grid_table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: a row per scenario and step size, each total figure linked / apart (ratio)."""
    head = "| scenario | step (s) | " + " | ".join(COLUMNS[f] for f in FIGURES) + " |\n"
    head += "|---|--:|" + "--:|" * len(FIGURES) + "\n"
    lines = []
    for row in rows:
        cells = [
            f"{_figure(f, row['total'][f])} / {_figure(f, row['total_apart'][f])} ({_ratio(row['amplification'][f])})"
            for f in FIGURES
        ]
        lines.append(f"| {row['scenario']} | {row['step_seconds']:,} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def _stamp(doc: str, markers: tuple[str, str], text: str) -> str:
    pattern = re.compile(re.escape(markers[0]) + ".*?" + re.escape(markers[1]), re.DOTALL)
    return pattern.sub(lambda _: f"{markers[0]}\n{text}{markers[1]}", doc)


def _figure(name: str, value: float) -> str:
    return f"{int(value):,}" if name in ("liquidations", "adl_events") else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: a row per scenario and venue (and its total), each figure linked / apart (ratio)."""
    head = "| scenario | venue | " + " | ".join(COLUMNS[f] for f in FIGURES) + " |\n"
    head += "|---|---|" + "--:|" * len(FIGURES) + "\n"
    lines = []
    for row in rows:
        for venue in [*row["venues"], "total"]:
            linked = row["total"] if venue == "total" else row["venues"][venue]
            alone = row["total_apart"] if venue == "total" else row["apart"][venue]
            ratios = row["amplification"][venue]
            cells = [f"{_figure(f, linked[f])} / {_figure(f, alone[f])} ({_ratio(ratios[f])})" for f in FIGURES]
            label = f"**{venue}**" if venue == "total" else venue
            lines.append(f"| {row['scenario']} | {label} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def propagation_lines(rows: list[dict[str, Any]]) -> str:
    """A line per scenario: where liquidations start, the propagation time, the carrier of most of the loss."""
    lines = []
    for row in rows:
        p = row["propagation"]
        if p["delay_s"] is None:
            spread = f"first liquidation on {p['origin']}, none induced elsewhere"
        else:
            spread = (
                f"first liquidation on {p['origin']}, the first induced on {p['induced_venue']} "
                f"{p['delay_s']:,.0f} s later"
            )
        lines.append(f"- {row['scenario']}: {spread}; link carrying most of the loss: {row['carrier'] or 'none'}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", nargs="*", default=sorted(library()))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/contagion.json"))
    parser.add_argument("--doc", type=Path, default=Path("docs/contagion.md"))
    parser.add_argument("--no-grids", action="store_true", help="skip the step-size table")
    args = parser.parse_args()
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(one_scenario, name, args.seed) for name in args.scenarios]
        rows = []
        for name, future in zip(args.scenarios, futures, strict=True):
            rows.append(future.result())
            print(f"{name}: {rows[-1]['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - started
    grids: list[dict[str, Any]] = []
    if not args.no_grids:
        jobs = [(name, step) for name in args.scenarios for step in GRIDS.get(name, ())]
        with ProcessPoolExecutor(args.workers) as pool:
            grids = list(pool.map(one_grid, [n for n, _ in jobs], [args.seed] * len(jobs), [s for _, s in jobs]))
    document = {"seed": args.seed, "workers": args.workers, "wall_seconds": wall, "scenarios": rows, "grids": grids}
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    text = table(rows) + "\n" + propagation_lines(rows)
    print(text)
    print(f"wall time {wall:.0f} s on {args.workers} processes")
    if grids:
        print(grid_table(grids))
    if args.doc.exists():
        note = (
            f"Seed {args.seed}; each cell linked / apart (linked over apart); wall time {wall:.0f} s on "
            f"{args.workers} processes."
        )
        doc = _stamp(args.doc.read_text(), MARKERS, f"{text}\n{note}\n")
        if grids:
            doc = _stamp(doc, GRID_MARKERS, grid_table(grids) + f"\nTotals of every venue, seed {args.seed}.\n")
        args.doc.write_text(doc)


if __name__ == "__main__":
    main()
