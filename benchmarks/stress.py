"""Stress-runner throughput: steps per second of the shipped flash crash on generated books.

    .venv/bin/python benchmarks/stress.py [--accounts 10000 100000 1000000] [--steps 30] [--budget 1800]
        [--out benchmarks/stress.json]

Each size: build the run (risk book, clearing state, oracle), then time the first ``--steps`` steps of
`flash-crash` (the crash itself: its first minutes are its busiest), stopping early once ``--budget``
seconds of steps have run, and report steps per second, the median and slowest step, liquidation fills in
those steps and fills per second (fills over the time of the steps that made any), the median step that made
none (a quiet step), and the process's peak memory (one size per process for a clean figure: `--accounts
1000000` alone); each step is logged as it ends. Cross margin, generic rulebook, default depth.
"""

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.load import load_scenario
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
from crossmargin.sim.stress.runner import Run, assets_of
from crossmargin.venues import rulebook


def measure(accounts: int, steps: int, seed: int, budget: float, console: Console) -> dict[str, float | None]:
    portfolio = synthetic_book(accounts, seed)
    generic = rulebook("generic")
    config = cross_and_isolated(
        portfolio, generic.rules, generic.liquidation, default_liquidity(portfolio),
        default_insurance_fund(portfolio), OracleConfig(),
    )[0]  # fmt: skip
    scenario = load_scenario("flash-crash")
    started = time.perf_counter()
    current = Run(config, generate(scenario, seed, assets_of(config.portfolio)))
    build = time.perf_counter() - started
    console.log(f"{accounts:,} accounts: built in {build:.1f} s")
    times, made_fills, fills, filling = [], [], 0, 0.0
    for _ in range(steps):
        record = current.step()
        times.append(record.seconds)
        fills += record.liquidations
        made_fills.append(record.liquidations)
        filling += record.seconds if record.liquidations else 0.0
        console.log(f"step t={record.t:.0f} s: {record.liquidations} fills, {record.seconds:.2f} s")
        if sum(times) > budget:
            break
    steps = len(times)
    quiet = [seconds for seconds, made in zip(times, made_fills, strict=True) if not made]
    return {
        "accounts": accounts,
        "positions": sum(len(a.positions) for a in portfolio.accounts),
        "build_s": build,
        "steps": steps,
        "steps_per_second": steps / sum(times),
        "median_step_ms": statistics.median(times) * 1000,
        "slowest_step_s": max(times),
        "fills": fills,
        "fills_per_second": fills / filling if filling else 0.0,
        "quiet_step_ms": statistics.median(quiet) * 1000 if quiet else None,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=float("inf"), help="stop a size after this many step-seconds")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/stress.json"))
    args = parser.parse_args()
    console = Console()
    rows = []
    for accounts in args.accounts:
        rows.append(measure(accounts, args.steps, args.seed, args.budget, console))
        console.log(rows[-1])
    table = Table(title="stress runner, flash-crash, first steps")
    for key in rows[0]:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else "-" if v is None else f"{v:,}" for v in row.values()))
    console.print(table)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
