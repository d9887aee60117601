"""The cascade forecast against the stress runner's exact cascade, on generated books: seconds, and how close.

    NUMBA_CACHE_DIR=... .venv/bin/python benchmarks/forecast.py [--accounts 100000 1000000]
        [--runner-up-to 100000] [--spread-up-to 20000] [--scenarios NAME ...] [--out benchmarks/forecast.json]

For each size: a synthetic book (``synthetic_book(N, seed)``, generic rulebook, the calibrated default depth
and the default insurance fund) with every instrument marked on its underlying's index
(:func:`~crossmargin.sim.forecast_check.on_the_index`), built into a risk book; its liquidation prices timed
(the first call, which loads the compiled kernels, apart), then the book prepared for the forecast (sorted)
once. Then, for every shipped scenario, its largest move of BTC (the factor of its path, drawn with the seed,
furthest from 1, signed) as an instantaneous shock of BTC: the forecast timed (``account`` orders, the
default, and ``round`` orders), and, up to ``--runner-up-to`` accounts, the stress runner's one step of the
same shock on the same book (:func:`~crossmargin.sim.forecast_check.run_exact`: its exact cascade, timed) and
the figures of both compared: the reference mark's error, the liquidated notional's, the shortfall's
(relative to the runner's shortfall, and to its notional) and the accounts liquidated; up to
``--spread-up-to`` accounts the runner again with the move nudged by :data:`SPREAD` either way, its range of
each figure recorded: how much the exact cascade itself moves for a move a hundredth of a percent off. Ratios
are the runner's step over the forecast (with and without the liquidation prices, which the moves share). The
machine is shared: each row records the load average when it was measured.

``--runner-from FILE ...`` takes the runner's figures (and its spread) for a size and scenario from earlier
JSONs of this benchmark (a later file's row first), same seed, instead of running it again (the runner is the
exact path, unchanged by work on the forecast: its cascade step costs minutes at 100,000 accounts); each such
row says ``runner_from``.
"""

import argparse
import json
import os
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from crossmargin.engine.book import RiskBook
from crossmargin.engine.liquidation_prices import book_liquidation_prices
from crossmargin.model import Portfolio
from crossmargin.sim.benchmark import machine
from crossmargin.sim.forecast import Orders, forecast_move, prepare, shock_of
from crossmargin.sim.forecast_check import NO_BREAKER, instant_shock, on_the_index, run_exact
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.load import library
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import default_insurance_fund, default_liquidity
from crossmargin.sim.stress.runner import StressConfig, assets_of
from crossmargin.venues import rulebook

ASSET = "BTC"
SPREAD = 1e-4
"""How far the runner's move is nudged either way to see its own sensitivity (a hundredth of a percent)."""


def largest_moves(portfolio: Portfolio, seed: int, chosen: list[str] | None = None) -> dict[str, float]:
    """Each shipped scenario's largest move of BTC (those ``chosen``, default all): its path's factor furthest
    from 1, less 1."""
    moves = {}
    for name, scenario in sorted(library().items()):
        if chosen and name not in chosen:
            continue
        factors = generate(scenario, seed, assets_of(portfolio)).factors[ASSET]
        far = factors[int(np.argmax(np.abs(factors - 1.0)))]
        moves[name] = round(float(far) - 1.0, 4)
    return moves


def relative(mine: float, theirs: float) -> float | None:
    return None if theirs == 0.0 else mine / theirs - 1.0


RUNNER_KEYS = ("runner_s", "runner_accounts", "runner_price", "runner_notional", "runner_shortfall")


def earlier_runner(paths: list[Path], seed: int) -> dict[tuple[int, str], dict[str, Any]]:
    """The runner's figures by (accounts, scenario) from earlier JSONs of this benchmark (a later file's row
    replaces an earlier one's)."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for path in paths:
        found = json.loads(path.read_text())
        if found.get("seed", seed) != seed:
            raise SystemExit(f"--runner-from {path}: measured with seed {found['seed']}, not {seed}")
        for row in found["rows"]:
            if "runner_s" in row:
                kept = {k: v for k, v in row.items() if k in RUNNER_KEYS or k.endswith("_range")}
                rows[(row["accounts"], row["scenario"])] = kept
    return rows


def measure(
    accounts: int, seed: int, repeats: int, runner_up_to: int, spread_up_to: int, console: Console,
    scenarios: list[str] | None = None, runner_from: dict[tuple[int, str], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """One size's rows: one per scenario (module doc)."""
    generic = rulebook("generic")
    portfolio = on_the_index(synthetic_book(accounts, seed))
    liquidity, fund = default_liquidity(portfolio), default_insurance_fund(portfolio)
    started = time.perf_counter()
    book = RiskBook(portfolio, generic.rules)
    build = time.perf_counter() - started
    started = time.perf_counter()
    book_liquidation_prices(book)
    first_call = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        prices = book_liquidation_prices(book)
        times.append(time.perf_counter() - started)
    prices_s = statistics.median(times)
    started = time.perf_counter()
    prepared = prepare(book, generic.liquidation, liquidity, float(fund), prices)
    prepare_s = time.perf_counter() - started
    shock = shock_of(book, ASSET)
    started = time.perf_counter()
    forecast_move(prepared, shock, -0.1)  # compiles the in-turn kernel (once a process): timed apart
    warm_up = time.perf_counter() - started
    console.log(f"{accounts:,} accounts: book {build:.1f} s, prices {prices_s:.2f} s, prepared {prepare_s:.2f} s")
    config = StressConfig("bench", portfolio, generic.rules, generic.liquidation, liquidity, Decimal(fund), NO_BREAKER)
    rows = []
    for name, move in largest_moves(portfolio, seed, scenarios).items():
        row: dict[str, Any] = {"accounts": accounts, "positions": book.position_count, "scenario": name, "move": move}
        row |= {"book_s": build, "prices_first_call_s": first_call, "prices_s": prices_s, "prepare_s": prepare_s}
        row["first_forecast_s"] = warm_up
        results = {}
        for orders in Orders:
            started = time.perf_counter()
            results[orders] = forecast_move(prepared, shock, move, orders)
            row[f"forecast_{orders}_s"] = time.perf_counter() - started
        mine = results[Orders.ACCOUNT]
        row |= {
            "rounds": len(mine.rounds), "forecast_accounts": mine.accounts, "forecast_price": mine.final_price,
            "forecast_notional": mine.liquidated_notional, "forecast_shortfall": mine.shortfall,
            "forecast_round_price": results[Orders.ROUND].final_price,
            "forecast_round_notional": results[Orders.ROUND].liquidated_notional,
            "load_average": os.getloadavg()[0],
        }  # fmt: skip
        earlier = (runner_from or {}).get((accounts, name))
        if earlier is not None:
            row |= earlier | {"runner_from": True}
        elif accounts <= runner_up_to:
            exact = run_exact(config, instant_shock(ASSET, move))
            if accounts <= spread_up_to:  # the runner's own sensitivity: the move nudged by SPREAD either way
                runs = [exact, *(run_exact(config, instant_shock(ASSET, move + d)) for d in (-SPREAD, SPREAD))]
                for figure, seen in (
                    ("price", [e.marks[mine.instrument] for e in runs]),
                    ("notional", [e.liquidated_notional for e in runs]),
                    ("shortfall", [e.shortfall for e in runs]),
                ):
                    row[f"runner_{figure}_range"] = [min(seen), max(seen)]
            row |= {
                "runner_s": exact.seconds, "runner_accounts": exact.accounts,
                "runner_price": exact.marks[mine.instrument], "runner_notional": exact.liquidated_notional,
                "runner_shortfall": exact.shortfall,
            }  # fmt: skip
        if "runner_s" in row:
            runner_price, runner_notional = row["runner_price"], row["runner_notional"]
            total = prices_s + row["forecast_account_s"]
            row |= {
                "price_error": mine.final_price / runner_price - 1.0,
                "round_price_error": results[Orders.ROUND].final_price / runner_price - 1.0,
                "notional_error": relative(mine.liquidated_notional, runner_notional),
                "round_notional_error": relative(results[Orders.ROUND].liquidated_notional, runner_notional),
                "shortfall_error": relative(mine.shortfall, row["runner_shortfall"]),
                "shortfall_error_of_notional": (mine.shortfall - row["runner_shortfall"]) / runner_notional
                if runner_notional else None,
                "runner_over_forecast": row["runner_s"] / total,
                "runner_over_forecast_move": row["runner_s"] / row["forecast_account_s"],
            }  # fmt: skip
        console.log(row)
        rows.append(row)
    return rows


def _cell(value: Any, form: str) -> str:
    return "" if value is None else format(value, form)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="timings of the liquidation prices (median)")
    parser.add_argument("--runner-up-to", type=int, default=100_000, help="run the stress runner up to this size")
    parser.add_argument(
        "--spread-up-to", type=int, default=20_000, help="run it with the move nudged either way up to this size"
    )
    parser.add_argument("--scenarios", nargs="+", help="only these shipped scenarios (default: every one)")
    parser.add_argument(
        "--runner-from", type=Path, nargs="*", default=[], help="the runner's figures from earlier JSONs (module doc)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/forecast.json"))
    args = parser.parse_args()
    runner_from = earlier_runner(args.runner_from, args.seed)
    console = Console()
    rows = []
    for accounts in args.accounts:
        rows += measure(
            accounts, args.seed, args.repeats, args.runner_up_to, args.spread_up_to, console, args.scenarios,
            runner_from,
        )  # fmt: skip
        args.out.write_text(json.dumps({"machine": machine(), "seed": args.seed, "rows": rows}, indent=2) + "\n")
    table = Table(title="cascade forecast vs the stress runner's cascade step, same book and instantaneous shock")
    for name in ("accounts", "scenario", "BTC move", "prices s", "forecast s", "runner s", "runner / forecast",
                 "rounds", "price err", "notional err", "shortfall err", "accounts (f / r)", "round-orders price err",
                 "load"):  # fmt: skip
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            f"{row['accounts']:,}", row["scenario"], f"{row['move']:+.2%}", f"{row['prices_s']:.2f}",
            f"{row['forecast_account_s']:.2f}", _cell(row.get("runner_s"), ".1f"),
            _cell(row.get("runner_over_forecast"), ".0f"), str(row["rounds"]), _cell(row.get("price_error"), "+.1e"),
            _cell(row.get("notional_error"), "+.2%"), _cell(row.get("shortfall_error"), "+.2%"),
            f"{row['forecast_accounts']:,} / {row.get('runner_accounts', '')}",
            _cell(row.get("round_price_error"), "+.1e"), f"{row['load_average']:.2f}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
