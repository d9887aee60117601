"""``crossmargin risk``: the JSON document, historical VaR through the command worked by hand, and errors."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HELD = """
version: 1
base: USDC
assets: {USDC: {weight: 1}, BTC: {weight: 0.9}}
prices: {BTC: 40000}
accounts:
  - {id: holder, balances: {BTC: 2}}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["risk", *args])
    return result.exit_code, result.output


def test_the_json_document_of_the_options_example():
    code, output = invoke(str(EXAMPLES / "options.yaml"), "--json")
    assert code == 0, output
    document = json.loads(output)
    accounts = {a["id"]: a for a in document["accounts"]}
    assert set(accounts) == {"spot-hedged", "call-writer", "protected-long"}
    # 1 BTC held against 1 BTC short on the perpetual
    assert accounts["spot-hedged"]["delta_by_underlying"]["BTC"] == pytest.approx(0.0, abs=1e-6)
    for entry in accounts.values():
        assert {"id", "delta_by_underlying", "var", "expected_shortfall", "positions"} <= set(entry)
        for p in entry["positions"]:
            assert {"instrument", "price", "delta", "gamma", "vega", "theta"} <= set(p)
    call = accounts["call-writer"]["positions"][0]
    # two calls sold: short delta, short gamma and vega, time works for the writer
    assert call["delta"] < 0 and call["gamma"] < 0 and call["vega"] < 0 and call["theta"] > 0
    assert document["risk"] is None and accounts["call-writer"]["var"] is None


def test_historical_var_through_the_command_by_hand(tmp_path: Path):
    book = tmp_path / "held.yaml"
    book.write_text(HELD)
    history = tmp_path / "history.csv"
    history.write_text("time,BTC\n1,100\n2,110\n3,99\n4,108.9\n")
    # returns 0.1, -0.1, 0.1: P&L of 2 BTC at 40,000 is 8,000, -8,000, 8,000; losses -8,000, 8,000, -8,000.
    # At 0.9 the 3rd smallest loss (ceil(0.9 x 3)): 8,000, ES the mean of those at or beyond it: 8,000.
    # At 0.5 the 2nd: -8,000, ES the mean of all three: -8,000 / 3.
    code, output = invoke(str(book), "--history", str(history), "--level", "0.9", "--json")
    assert code == 0, output
    (holder,) = json.loads(output)["accounts"]
    assert (holder["var"], holder["expected_shortfall"]) == pytest.approx((8000.0, 8000.0))
    assert holder["delta_by_underlying"] == pytest.approx({"BTC": 2.0})
    code, output = invoke(str(book), "--history", str(history), "--level", "0.5", "--json")
    (holder,) = json.loads(output)["accounts"]
    assert (holder["var"], holder["expected_shortfall"]) == pytest.approx((-8000.0, -8000.0 / 3))


def test_a_history_without_a_priced_asset_is_refused(tmp_path: Path):
    book = tmp_path / "held.yaml"
    book.write_text(HELD)
    history = tmp_path / "history.csv"
    history.write_text("time,ETH\n1,100\n2,110\n")
    code, output = invoke(str(book), "--history", str(history))
    assert code != 0 and "--history" in output and "'BTC'" in output
    history.write_text("time,BTC\n1,100\n2,-1\n")
    code, output = invoke(str(book), "--history", str(history))
    assert code != 0 and "row 3" in output
