"""Risk-book benchmark at several book sizes, printed as a table and written as JSON.

    .venv/bin/python benchmarks/risk_book.py [--accounts 10000 100000 1000000] [--out benchmarks/results.json]

Every figure of a size comes from one run, so the ratios in the last columns compare like with like on a
shared machine; see crossmargin.sim.benchmark for what each figure measures.
"""

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crossmargin.sim.benchmark import bench_book, machine
from crossmargin.venues import rulebook

COLUMNS = [
    ("accounts", "accounts", "{:,}"),
    ("positions", "positions", "{:,}"),
    ("build_s", "build s", "{:.1f}"),
    ("full_revalue_ms", "full reval ms", "{:.2f}"),
    ("full_revalue_one_thread_ms", "1-thread reval ms", "{:.2f}"),
    ("plain_read_ms", "plain read ms", "{:.2f}"),
    ("tick_ms", "tick ms", "{:.2f}"),
    ("tick_positions", "tick positions", "{:,}"),
    ("tick_median_ms", "median-instrument tick ms", "{:.2f}"),
    ("tick_median_positions", "its positions", "{:,}"),
    ("screen_ms", "screen ms", "{:.1f}"),
    ("bytes_per_position", "bytes/position", "{:.0f}"),
    ("exact_account_us", "exact us/account", "{:.1f}"),
    ("compiled_account_us", "compiled exact us/account", "{:.2f}"),
    ("compiled_held", "held by it", "{:.0%}"),
    ("exact_bytes_per_position", "its columns bytes/position", "{:.0f}"),
    ("revalue_over_plain_read", "reval / read", "{:.1f}x"),
    ("one_thread_over_fused", "1 thread / all", "{:.1f}x"),
    ("exact_over_fused", "exact / fused", "{:,.0f}x"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    args = parser.parse_args()
    console = Console()
    rules = rulebook("generic").rules
    rows = []
    for accounts in args.accounts:
        for label, result in bench_book(accounts, args.seed, rules):
            console.log(f"{accounts:,} accounts: {label}")
            if result is not None:
                rows.append(result.as_dict())
    table = Table(title="crossmargin risk book")
    for _, title, _ in COLUMNS:
        table.add_column(title, justify="right")
    for row in rows:
        table.add_row(*(fmt.format(row[key]) for key, _, fmt in COLUMNS))
    console.print(table)
    args.out.write_text(json.dumps({"machine": machine(), "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
