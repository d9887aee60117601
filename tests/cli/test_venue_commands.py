"""``crossmargin rulebooks`` and ``crossmargin compare``, end to end.

The book (base USD): 1000 USDT, long 0.5 BTC-PERP (contract size 1) from 20000 marked at 20000, no
tables of its own for BTC-PERP beyond what the contract is, so every venue's tiers apply:

- generic needs the document's tiers, so the document gives one: mmr 0.004, imr 0.008 -> MM 40, IM 80.
- hyperliquid: BTC at 40x max leverage up to 150M, maintenance half of initial: imr 0.025, mmr 0.0125
  -> IM 10000 x 0.025 = 250, MM 125; its liquidation price moves BTC-PERP alone:
  1000 + 0.5 (P - 20000) - 0.5 P x 0.0125 = 0 -> 0.49375 P = 9000 -> P = 18227.848101265822785 (20 digits).
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.venues import available

runner = CliRunner()

BOOK = """\
version: 1
base: USD
assets:
  USDT: {weight: 1}
  USDC: {weight: 1}
instruments:
  BTC-PERP:
    kind: perpetual
    underlying: BTC
    settle: USDT
    contract_size: 1
    tiers: [{max_notional: null, mmr: 0.004, imr: 0.008}]
prices: {USDT: 1, USDC: 1}
marks: {BTC-PERP: 20000}
accounts:
  - id: alice
    balances: {USDT: 1000}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
"""


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_rulebooks_lists_every_bundled_rulebook_with_its_tables():
    code, out, err = run("rulebooks", "--json")
    assert code == 0, err
    listed = json.loads(out)["rulebooks"]
    assert [b["name"] for b in listed] == list(available())
    assert {"generic", "binance-usdm", "binance-pm", "bybit-uta", "okx", "hyperliquid", "dydx-v4", "drift-v2"} <= {
        b["name"] for b in listed
    }
    for book in listed:
        if book["name"] not in ("generic", "scenario-margin"):  # these two take every table from the document
            assert "BTC-PERP" in book["instruments"] and book["sources"], book["name"]


def test_compare_shows_the_book_under_every_rulebook(tmp_path: Path):
    path = tmp_path / "book.yaml"
    path.write_text(BOOK)
    code, out, err = run("compare", str(path), "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    assert document["rulebooks"] == list(available())
    (alice,) = document["accounts"]
    generic = alice["by_rulebook"]["generic"]
    assert (generic["maintenance_margin"], generic["initial_margin"], generic["equity"]) == ("40", "80", "1000")
    hyperliquid = alice["by_rulebook"]["hyperliquid"]
    assert (hyperliquid["maintenance_margin"], hyperliquid["initial_margin"]) == ("125", "250")
    assert hyperliquid["liquidation_prices"]["BTC-PERP"] == "18227.848101265822785"
    for name, figures in alice["by_rulebook"].items():
        assert "error" in figures or Decimal(figures["maintenance_margin"]) > 0, name


def test_compare_tables_and_unknown_account(tmp_path: Path):
    path = tmp_path / "book.yaml"
    path.write_text(BOOK)
    code, out, _ = run("compare", str(path))
    assert code == 0 and "hyperliquid" in out and "BTC-PERP liq. price" in out
    code, out, err = run("compare", str(path), "--account", "bob")
    assert code == 2 and out == "" and "--account" in err


def test_unknown_rulebook_is_an_error_naming_the_field(tmp_path: Path):
    path = tmp_path / "book.yaml"
    path.write_text(BOOK.replace("base: USD", "base: USD\nrulebook: binance"))
    code, out, err = run("evaluate", str(path))
    assert code == 2 and out == ""
    assert "rulebook" in err and "binance-usdm" in err


def test_bench_json_has_the_documented_keys():
    code, out, err = run("bench", "--accounts", "300", "--repeats", "1", "--json")
    assert code == 0, err
    figures = json.loads(out)
    keys = {"accounts", "positions", "full_revalue_ms", "plain_read_ms", "tick_ms", "screen_ms"}
    assert keys | {"bytes_per_position", "exact_account_us"} <= set(figures)
    assert figures["accounts"] == 300 and figures["positions"] > 300
