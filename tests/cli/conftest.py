"""Shared by the command-line tests: the hand book and a runner of the real command.

The hand book (base USD, USDT priced 1, BTC priced 20000):

- BTC-PERP: linear, 1 contract = 1 BTC, settled in USDT, one open tier mmr 0.004, imr 0.008.
- alice: 1000 USDT, long 0.5 BTC-PERP entered at 20000, marked at 20000.
    notional = 0.5 x 20000 = 10000; uPnL = 0
    MM = 10000 x 0.004 = 40; IM = 10000 x 0.008 = 80
    equity = 1000; free collateral = 1000 - 80 = 920; margin ratio = 40 / 1000 = 0.04
    liquidation price P: 1000 + 0.5 (P - 20000) - 0.5 P x 0.004 = 0  ->  0.498 P = 9000
    P = 9000 / 0.498 = 18072.289156626506024|0963... (20 significant digits shown)
- iso: 500 USDT cross (no cross positions), short 0.25 BTC-PERP at 20000 with 100 USDT isolated margin.
    cross pool: equity 500, IM 0, MM 0, free 500, margin ratio 0 / 500 = 0
    isolated pool: notional 5000, IM 40, MM 20, equity 100, free 60, margin ratio 20 / 100 = 0.2
    liquidation price P: 100 - 0.25 (P - 20000) - 0.25 P x 0.004 = 0  ->  0.251 P = 5100
    P = 5100 / 0.251 = 20318.725099601593625|498...
- carol: 0.5 BTC (weight 0.95, initial weight 0.9), long 0.5 BTC-PERP at 20000.
    initial collateral = 0.5 x 20000 x 0.9 = 9000; free = 9000 - 80 = 8920
    max BTC withdrawal (flat weight, no band crossed) = free / (price x initial weight)
    = 8920 / (20000 x 0.9) = 0.49555555555555555555|5...
"""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from typer.testing import CliRunner

from crossmargin.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME_KEYS = {"base", "rulebook", "id", "account", "asset", "instrument", "reason"}

HAND_BOOK = """\
version: 1
base: USD
assets:
  USDT: {weight: 1}
  BTC: {weight: 0.95, initial_weight: 0.9}
instruments:
  BTC-PERP:
    kind: perpetual
    underlying: BTC
    settle: USDT
    contract_size: 1
    tiers: [{max_notional: null, mmr: 0.004, imr: 0.008}]
prices: {USDT: 1, BTC: 20000}
marks: {BTC-PERP: 20000}
accounts:
  - id: alice
    balances: {USDT: 1000}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
  - id: iso
    balances: {USDT: 500}
    positions: [{instrument: BTC-PERP, size: -0.25, entry_price: 20000, isolated_margin: 100}]
  - id: carol
    balances: {BTC: 0.5}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
"""

runner = CliRunner()


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(HAND_BOOK, encoding="utf-8")
    return path


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str | Path) -> dict[str, Any]:
    code, out, err = run(*args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out, parse_float=no_float)
    return document


def no_float(text: str) -> None:
    raise AssertionError(f"a JSON number with a fraction in the output: {text}")


def by_id(document: dict[str, Any], account_id: str) -> dict[str, Any]:
    accounts: list[dict[str, Any]] = [a for a in document["accounts"] if a["id"] == account_id]
    assert len(accounts) == 1, account_id
    return accounts[0]


def leaves(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of every scalar in a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item, key)
    else:
        yield key, node


def assert_numbers_are_decimal_strings(document: dict[str, Any]) -> None:
    assert document["version"] == 1
    for key, value in leaves(document):
        if key == "version" or isinstance(value, bool) or value is None:
            continue
        assert isinstance(value, str), (key, value)
        if key in NAME_KEYS:
            continue
        number = Decimal(value)
        assert number.is_finite() and "E" not in value.upper(), (key, value)


def plain(text: str) -> str:
    """Terminal output without its colour codes."""
    return Text.from_ansi(text).plain
