"""Risk agents on every shipped real-crash scenario: agents off, the traders' de-risking agent, the venue's
risk agent, both, the traders' agent hedging first (alone and with the venue's), and the traders' agent acting
earlier (reducing, and hedging first); liquidations, liquidated notional, bad debt, ADL and the agents' own
trades, hedges and slippage.

    NUMBA_CACHE_DIR=... .venv/bin/python benchmarks/agents.py [--accounts 1000] [--seed 7] [--workers 2]
        [--agents FILE.yaml] [--json benchmarks/agents.json] [--doc docs/agents.md]

The book is ``synthetic_book(accounts, seed)`` under the generic rulebook, the calibrated default depth and the
default insurance fund (what ``crossmargin stress --generate N`` stresses), cross margin; each scenario's path
is drawn with the same seed. The agents are those of ``--agents`` (default: :data:`AGENTS`, the settings
docs/agents.md states): "trader" runs the traders' part alone, "venue" the venue's, "both" both; "hedger" is
the traders' part with ``hedge`` on, "hedger+venue" that with the venue's; "early trader", "early hedger" and
"early hedger+venue" act at the buffer :data:`EARLY` (threshold, target) instead. Writes every
run's totals to the JSON file and the table into the doc between its ``<!-- agents-table -->`` markers (the
prose around it is the doc's own). Runs go to ``--workers`` local processes; the machine is shared, so the
wall time is reported, not compared.
"""

import argparse
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import yaml

from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.agents.config import AgentsConfig, agents_from_dict
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.load import load_scenario
from crossmargin.sim.stress.comparison import StressBook, compared_configs
from crossmargin.sim.stress.runner import run
from crossmargin.venues import rulebook

SCENARIOS = ("march-2020", "may-2021", "luna-2022", "ftx-2022", "usdc-depeg-2023", "october-2025")
AGENTS: dict[str, Any] = {
    "trader": {"share": 1.0, "seed": 0, "reaction_s": 60, "threshold": 2, "target": 3, "min_volatility": 0.2},
    "venue": {
        "reference_volatility": 0.8,
        "cap": 3,
        "max_daily_fall": 0.25,
        "step": 0.05,
        "open_interest_headroom": 0.1,
    },
}
VARIANTS = (
    "off",
    "trader",
    "venue",
    "both",
    "hedger",
    "hedger+venue",
    "early trader",
    "early hedger",
    "early hedger+venue",
)
EARLY = (8.0, 10.0)
"""The threshold and target of the "early" variants: a buffer a hedge can still be margined at (at the default
2, most alarmed accounts are below their initial margin, so a hedge is refused)."""
MARKERS = ("<!-- agents-table -->", "<!-- /agents-table -->")


def variant(config: AgentsConfig, name: str) -> AgentsConfig | None:
    """The agents of one variant of the table."""
    trader = config.trader
    if name == "off":
        return None
    if name == "venue":
        return AgentsConfig(venue=config.venue)
    if name == "both" or trader is None:
        return config
    if name.startswith("early"):
        trader = msgspec.structs.replace(trader, threshold=EARLY[0], target=EARLY[1])
    if "hedger" in name:
        trader = msgspec.structs.replace(trader, hedge=True)
    return AgentsConfig(trader=trader, venue=config.venue if name.endswith("+venue") else None)


def one_run(accounts: int, seed: int, scenario: str, name: str, config: AgentsConfig) -> dict[str, Any]:
    """One scenario under one variant: the run's totals and its wall time."""
    portfolio = synthetic_book(accounts, seed)
    generic = rulebook("generic")
    book = StressBook(portfolio, generic.rules, generic.liquidation, {}, None, OracleConfig())
    cross = replace(compared_configs(book)[0], agents=variant(config, name))
    started = time.perf_counter()
    result = run(cross, load_scenario(scenario), seed)
    return {
        "scenario": scenario,
        "agents": name,
        "seconds": time.perf_counter() - started,
        "liquidations": result.liquidations,
        "liquidated_notional": result.liquidated_notional,
        "bad_debt": result.bad_debt,
        "adl_events": result.adl_events,
        "insurance_fund_drawdown": result.insurance_fund_drawdown,
        "agent_trades": result.agent_trades,
        "agent_hedges": result.agent_hedges,
        "agent_notional": result.agent_notional,
        "agent_slippage": result.agent_slippage,
        "peak_margin_multiplier": result.peak_multiplier,
    }


def money(x: float) -> str:
    return f"{x:,.0f}"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: one row per scenario and variant, with each figure's change from agents off."""
    head = (
        "| scenario | agents | liquidations | liquidated notional | bad debt | ADL | fund drawdown | agent trades "
        "| hedges | agent notional | agent slippage | peak multiplier |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = []
    for row in rows:
        lines.append(
            f"| {row['scenario']} | {row['agents']} | {row['liquidations']:,} | {money(row['liquidated_notional'])} "
            f"| {money(row['bad_debt'])} | {row['adl_events']:,} | {money(row['insurance_fund_drawdown'])} "
            f"| {row['agent_trades']:,} | {row['agent_hedges']:,} | {money(row['agent_notional'])} "
            f"| {money(row['agent_slippage'])} "
            f"| {row['peak_margin_multiplier']:.2f} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--agents", type=Path, default=None)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/agents.json"))
    parser.add_argument("--doc", type=Path, default=Path("docs/agents.md"))
    args = parser.parse_args()
    settings = AGENTS if args.agents is None else yaml.safe_load(args.agents.read_text())
    config = agents_from_dict(settings)
    started = time.perf_counter()
    jobs = [(s, v) for s in args.scenarios for v in VARIANTS]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(one_run, args.accounts, args.seed, s, v, config) for s, v in jobs]
        rows = []
        for (s, v), future in zip(jobs, futures, strict=True):
            rows.append(future.result())
            print(f"{s} {v}: {rows[-1]['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - started
    document = {
        "book": f"synthetic_book({args.accounts}, seed={args.seed}), generic rulebook, default depth and fund, cross",
        "agents": settings,
        "workers": args.workers,
        "wall_seconds": wall,
        "runs": rows,
    }
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    text = table(rows)
    print(text)
    print(f"wall time {wall:.0f} s on {args.workers} processes")
    if args.doc.exists():
        doc = args.doc.read_text()
        pattern = re.compile(re.escape(MARKERS[0]) + ".*?" + re.escape(MARKERS[1]), re.DOTALL)
        note = f"{document['book']}; wall time {wall:.0f} s on {args.workers} processes."
        stamped = f"{MARKERS[0]}\n{text}\n{note}\n{MARKERS[1]}"
        args.doc.write_text(pattern.sub(lambda _: stamped, doc))


if __name__ == "__main__":
    main()
