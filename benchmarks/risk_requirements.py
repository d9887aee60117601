"""What the scenario grid and the VaR floor cost in the risk book, against the same book on tier rules.

    .venv/bin/python benchmarks/risk_requirements.py [--accounts 10000 100000] [--out benchmarks/risk_requirements.json]

One synthetic book per size (every asset and underlying given a 60 % volatility, pairs correlated at 0.5),
margined three ways: the generic rulebook's tiers; the ``scenario-margin`` rulebook (a 9-move grid x 3
volatility shocks per underlying and pool); the generic tiers with a 99 % one-day VaR floor. For each:
the build, a full revaluation (``RiskBook.revalue``), one BTC-PERP tick (its mark 0.1 % down and up),
one liquidated account's change (``set_account`` with its largest position halved), and the mirror's
bytes per position; ratios are to the tier rules in the same run. Medians of repeats, milliseconds.
"""

import argparse
import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crossmargin.engine.book import RiskBook
from crossmargin.model import Account, Portfolio, RuleChoices
from crossmargin.model.rules import VarFloor
from crossmargin.sim.benchmark import machine, median_ms
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook

TICK = "BTC-PERP"


def with_volatilities(portfolio: Portfolio) -> Portfolio:
    """Every asset and underlying at 60 % a year, every pair correlated at 0.5."""
    market = portfolio.market
    names = sorted({*portfolio.assets, *(i.underlying for i in portfolio.instruments.values())} - {market.base})
    vols = {name: ((Decimal(1), Decimal("0.6")),) for name in names}
    pairs = {(a, b): Decimal("0.5") for a in names for b in names if a < b}
    return portfolio.with_market(replace(market, vols=vols, correlations=pairs))


def measure(portfolio: Portfolio, rules: RuleChoices, repeats: int) -> dict[str, float]:
    started = time.perf_counter()
    book = RiskBook(portfolio, rules)
    build = time.perf_counter() - started
    mark = book.market.marks[TICK]
    moves = iter([mark * Decimal(f) for f in ("0.999", "1.001") * (repeats * 2)])
    big = max(portfolio.accounts, key=lambda a: len(a.positions))
    first = big.positions[0]
    halved = Account(big.id, big.balances, (replace(first, size=first.size / 2), *big.positions[1:]))
    changes = iter([halved, big] * (repeats * 2))
    return {
        "build_s": build,
        "revalue_ms": median_ms(book.revalue, repeats),
        "tick_ms": median_ms(lambda: book.tick(marks={TICK: next(moves)}), repeats * 4),
        "account_ms": median_ms(lambda: book.set_account(next(changes)), repeats * 4),
        "bytes_per_position": book.nbytes() / book.position_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/risk_requirements.json"))
    args = parser.parse_args()
    console = Console()
    generic = rulebook("generic").rules
    ways = {
        "tiers": generic,
        "scenario grid": rulebook("scenario-margin").rules,
        "tiers + VaR floor": replace(generic, var_floor=VarFloor(Decimal("0.99"))),
    }
    rows = []
    for accounts in args.accounts:
        portfolio = with_volatilities(synthetic_book(accounts, args.seed))
        figures = {name: measure(portfolio, rules, args.repeats) for name, rules in ways.items()}
        for name, row in figures.items():
            ratios = {f"{k}_ratio": row[k] / figures["tiers"][k] for k in ("revalue_ms", "tick_ms", "account_ms")}
            rows.append({"accounts": accounts, "rules": name, **row, **ratios})
            console.log(rows[-1])
    table = Table(title="risk-based requirements in the risk book (ratios to tier rules, same run)")
    for key in rows[0]:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v
                        for v in row.values()))  # fmt: skip
    console.print(table)
    args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
