"""``crossmargin forecast``: the two-account cascade of tests/sim/test_forecast.py read from a document, worked by
hand there (X -10 %: a sold at 81, the mark to 85.5; b sold at 76.95, the mark to 81.225; shortfalls 900 and
452.5 paid by the fund), every option checked before any work, and a generated book."""

import json
import math
from pathlib import Path

import pytest

from crossmargin.cli.forecast import FORECAST_VERSION, MAX_MOVES
from tests.cli.conftest import run

CASCADE = """\
version: 1
base: USD
rulebook: generic
assets:
  USDT: {weight: 1}
  X: {weight: 0.5}
instruments:
  X-PERP:
    kind: perpetual
    underlying: X
    settle: USDT
    contract_size: 1
    tiers:
      - {max_notional: null, mmr: 0.01, max_leverage: 50}
prices: {USDT: 1, X: 100}
marks: {X-PERP: 100}
insurance_fund: 10000
liquidity:
  X-PERP: {model: levels, levels: [[0.1, 1000]], permanent_impact: 0.5}
accounts:
  - id: a
    balances: {USDT: 1000}
    positions: [{instrument: X-PERP, size: 100, entry_price: 100}]
  - id: b
    balances: {USDT: 700}
    positions: [{instrument: X-PERP, size: 50, entry_price: 100}]
"""


@pytest.fixture
def cascade(tmp_path: Path) -> Path:
    path = tmp_path / "cascade.yaml"
    path.write_text(CASCADE, encoding="utf-8")
    return path


def near(text: str, value: float) -> bool:
    return abs(float(text) - value) <= 1e-9 * max(1.0, abs(value))


def test_the_hand_cascade_as_json(cascade: Path) -> None:
    code, out, err = run("forecast", cascade, "--moves", "-0.05,-0.1", "--json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert (document["version"], document["target"], document["moved"], document["reference"]) == (
        FORECAST_VERSION, "X", ["X-PERP"], "X-PERP"
    )  # fmt: skip
    assert (document["orders"], document["insurance_fund"], document["base"]) == ("account", "10000", "USD")
    calm, crash = document["moves"]
    # -5 %: 95 is above both liquidation prices (90.909, 86.87): nothing
    assert (calm["move"], calm["rounds"], calm["accounts"], calm["liquidated_notional"]) == ("-0.05", [], 0, "0")
    assert crash["move"] == "-0.1" and crash["converged"] is True
    assert [r["round"] for r in crash["rounds"]] == [1, 2]
    first, second = crash["rounds"]
    assert near(first["price"], 90) and near(first["notional"], 8100) and near(first["shortfall"], 900)
    assert near(second["price"], 85.5) and near(second["notional"], 3847.5) and near(second["shortfall"], 452.5)
    assert near(crash["final_price"], 81.225) and near(crash["final_marks"]["X-PERP"], 81.225)
    assert near(crash["liquidated_notional"], 11947.5) and near(crash["shortfall"], 1352.5)
    # the same 150 X at the book's mark, 100: 15000
    assert near(crash["liquidated_size"], 15000)
    assert near(crash["insurance_fund_draw"], 1352.5) and crash["beyond_fund"] == "0"
    assert near(crash["insurance_fund_end"], 8647.5) and crash["shortfall_rule"] == "adl"
    assert (crash["accounts"], crash["positions"]) == (2, 2)


def test_the_tables(cascade: Path) -> None:
    code, out, err = run("forecast", cascade, "--moves", "-0.1", "--instrument", "X-PERP")
    assert (code, err) == (0, "")
    assert "Cascade forecast: X-PERP moved" in out and "Rounds" in out and "81.225" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "DOC: give a portfolio document or --generate N"),
        (["book.yaml", "--generate", "10"], "--generate: give a document or --generate, not both"),
        (["--generate", "9"], "--generate: must be from 10 to 1,000,000, got 9"),
        (["--generate", "10", "--seed", "x"], "--seed: not a whole number: 'x'"),
        (["--generate", "10", "--moves", "-0.1,,0.2"], "--moves: give comma-separated fractions"),
        (["--generate", "10", "--moves", "down"], "--moves: not a decimal number: 'down'"),
        (["--generate", "10", "--moves", "-1"], "--moves: a move must be above -1 (a price stays positive), got -1"),
        (["--generate", "10", "--moves", ",".join(["0.1"] * (MAX_MOVES + 1))], f"--moves: at most {MAX_MOVES} moves"),
        (["--generate", "10", "--orders", "fifo"], "--orders: must be one of round, account, got 'fifo'"),
    ],
)
def test_bad_options_end_in_one_line(args: list[str], expected: str) -> None:
    code, out, err = run("forecast", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1


def test_an_unknown_instrument_is_refused_once_the_book_is_read(cascade: Path) -> None:
    code, out, err = run("forecast", cascade, "--instrument", "Y-PERP")
    assert (code, out) == (2, "")
    assert (
        err
        == "error: --instrument: 'Y-PERP' is neither an instrument nor an underlying of the book (known: X, X-PERP)\n"
    )


def test_a_missing_document(tmp_path: Path) -> None:
    code, out, err = run("forecast", tmp_path / "none.yaml")
    assert (code, out) == (2, "") and err.startswith("error: ") and "no such file" in err


def test_a_generated_book() -> None:
    code, out, err = run("forecast", "--generate", "300", "--moves", "-0.1,-0.3", "--json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert (document["target"], document["reference"]) == ("BTC", "BTC-PERP")
    assert document["book"] == "synthetic_book(300, seed=7), generic rulebook"
    shallow, deep = document["moves"]
    assert 0 < shallow["accounts"] <= deep["accounts"]
    assert float(deep["final_price"]) < float(shallow["final_price"]) < float(shallow["start_price"])
    assert run("forecast", "--generate", "300", "--moves", "-0.1,-0.3", "--json")[1] == out  # the same document


def normal_tail(x: float) -> float:
    """``N(-x)``."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def test_the_odds_by_hand(cascade: Path) -> None:
    code, out, err = run("forecast", cascade, "--moves", "-0.1", "--vols", "X=0.8,USDT=0", "--json")
    assert (code, err) == (0, "")
    odds = json.loads(out)["odds"]
    assert (odds["horizon_s"], odds["volatilities"], odds["accounts_total"]) == ("86400", {"USDT": "0", "X": "0.8"}, 2)
    # a: 1000 + 100 (S - 100) - 1 % x 100 S = 99 S - 9000, 0 at 90.909: a = ln(1 / 1.1) = -0.0953102;
    # b: 700 + 50 (S - 100) - 0.5 S = 49.5 S - 4300, 0 at 86.869: ln(86.869 / 100) = -0.1407689; USDT at 0 adds nothing.
    # P = 2 N(-|a| / (0.8 sqrt(1/365))): a 2 N(-2.276123) = 0.022839, b 2 N(-3.361820) = 0.000774
    scale = 0.8 * math.sqrt(1 / 365)
    first, second = odds["accounts"]
    assert (first["account"], second["account"]) == ("a", "b")  # sorted by probability, descending
    assert near(first["probability"], 2 * normal_tail(math.log(1.1) / scale))
    assert near(second["probability"], 2 * normal_tail(math.log(4300 / 4950) / -scale))
    assert abs(float(first["probability"]) - 0.022839) < 1e-6 and abs(float(second["probability"]) - 0.000774) < 1e-6
    # the median: (a / (0.8 x 0.6744898))^2 years
    assert near(first["median_s"], (math.log(1.1) / (0.8 * 0.6744897501960817)) ** 2 * 365 * 86400)
    assert (first["dominant"], first["health"]) == ("X", "900")


def test_the_buffer_by_hand(cascade: Path) -> None:
    code, out, err = run("forecast", cascade, "--moves", "-0.1", "--vols", "X=0.8,*=0", "--reaction-time", "3600",
                         "--miss", "0.05", "--top", "1", "--json")  # fmt: skip
    assert (code, err) == (0, "")
    document = json.loads(out)
    buffer = document["buffer"]
    # a: slope 900 / 0.0953102 = 9442.8 per log return; sigma_H = 9442.8 x 0.8 / sqrt(31,536,000) = 1.345227 per
    # sqrt(s); d = 1.345227 x 60 x 1.959964 = 158.196; MM 100: 158.196 / 100 = 1.58x, short; health 900 >= d.
    # b: slope 650 / 0.1407689 = 4617.5; sigma_H 0.657810; d = 77.357; MM 50: 1.547x, short; 650 >= d.
    sigma_a = 900 / math.log(1.1) * 0.8 / math.sqrt(365 * 86400)
    d_a = sigma_a * 60 * 1.959963984540054
    assert (buffer["reaction_s"], buffer["miss"], buffer["accounts_with_margin"]) == ("3600", "0.05", 2)
    assert (buffer["accounts_short_mm"], buffer["accounts_short_health"]) == (2, 0)
    (row,) = buffer["accounts"]  # --top 1: the largest multiple
    assert row["account"] == "a" and near(row["buffer"], d_a) and near(row["mm_multiple"], d_a / 100)
    assert (row["mm_meets"], row["health_meets"], row["dominant"]) == (False, True, "X")
    assert near(row["price_move"], d_a / (900 / math.log(1.1)))
    assert len(document["odds"]["accounts"]) == 1
    assert near(buffer["mm_multiple"]["p100"], d_a / 100)


def test_odds_left_out_without_a_volatility_unless_asked(cascade: Path) -> None:
    code, out, err = run("forecast", cascade, "--moves", "-0.1", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["odds"] == {"unavailable": "vols.USDT: a volatility for every asset an account is "
                                       "exposed to (USDT)"}  # fmt: skip
    code, out, err = run("forecast", cascade, "--moves", "-0.1", "--horizon", "3600")
    assert (code, out) == (2, "") and err.startswith("error: --vols: vols.USDT: a volatility")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--horizon", "0"], "--horizon: must be a number of seconds > 0, got 0"),
        (["--horizon", "soon"], "--horizon: not a decimal number: 'soon'"),
        (["--top", "-1"], "--top: "),
        (["--vols", "BTC"], "--vols: give ASSET=VOLATILITY pairs"),
        (["--vols", "BTC=-1"], "--vols: a volatility must be >= 0, got BTC=-1"),
        (["--reaction-time", "-5"], "--reaction-time: must be a number of seconds > 0"),
        (["--reaction-time", "60", "--miss", "1"], "--miss: must be a probability between 0 and 1"),
        (["--miss", "0.1"], "--miss: give --reaction-time with it"),
    ],
)
def test_bad_odds_options_end_in_one_line(args: list[str], expected: str) -> None:
    code, out, err = run("forecast", "--generate", "10", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1
