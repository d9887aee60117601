"""``crossmargin risk``: the JSON document (decimal strings), every method through the command worked by
hand, the history's time column, and every bad input ending in one ``error: <field>: <message>`` line."""

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossmargin.cli import risk as risk_module
from crossmargin.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Z_99 = Decimal("2.326348")  # standard normal 0.99-quantile, from a normal table
EIGHT_THOUSAND = (Decimal(8000), Decimal(8000))

HELD = """
version: 1
base: USDC
assets: {USDC: {weight: 1}, BTC: {weight: 0.9}}
prices: {BTC: 40000}
accounts:
  - {id: holder, balances: {BTC: 2}}
"""
# 100 -> 110 -> 99 -> 108.9: one-row returns 0.1, -0.1, 0.1; 2 BTC at 40,000 is 80,000 of exposure, so the
# P&L is 8,000, -8,000, 8,000 and the losses -8,000, 8,000, -8,000 (oldest first).
FOUR_ROWS = "time,BTC\n1,100\n2,110\n3,99\n4,108.9\n"


def _no_float(text: str) -> None:
    raise AssertionError(f"a JSON number with a fraction in the output: {text}")


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["risk", *[str(a) for a in args]])
    return result.exit_code, result.stdout, result.stderr


def document(*args: str | Path) -> dict[str, Any]:
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    parsed: dict[str, Any] = json.loads(out, parse_float=_no_float)
    return parsed


def refused(*args: str | Path) -> str:
    """The one error line of a refused run (exit code 2, nothing on stdout)."""
    code, out, err = invoke(*args)
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def held(tmp_path: Path) -> Path:
    path = tmp_path / "held.yaml"
    path.write_text(HELD)
    return path


def history_file(tmp_path: Path, text: str | bytes, name: str = "history.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def figures(book: Path, history: Path, *options: str) -> tuple[Decimal, Decimal]:
    (holder,) = document(book, "--history", history, *options)["accounts"]
    return Decimal(holder["var"]), Decimal(holder["expected_shortfall"])


def test_the_json_document_of_the_options_example_carries_decimal_strings():
    result = document(EXAMPLES / "options.yaml")
    assert result["version"] == 2
    accounts = {a["id"]: a for a in result["accounts"]}
    assert set(accounts) == {"spot-hedged", "call-writer", "protected-long"}
    # 1 BTC held against 1 BTC short on the perpetual
    assert abs(Decimal(accounts["spot-hedged"]["delta_by_underlying"]["BTC"])) < Decimal("1e-6")
    for entry in accounts.values():
        assert {"id", "delta_by_underlying", "var", "expected_shortfall", "positions"} <= set(entry)
        for p in entry["positions"]:
            assert {"instrument", "price", "delta", "gamma", "vega", "theta"} <= set(p)
            assert all(isinstance(p[k], str) for k in ("price", "delta", "gamma", "vega", "theta"))
    call = {k: Decimal(v) for k, v in accounts["call-writer"]["positions"][0].items() if k != "instrument"}
    # two calls sold: short delta, short gamma and vega, time works for the writer
    assert call["delta"] < 0 and call["gamma"] < 0 and call["vega"] < 0 and call["theta"] > 0
    assert result["risk"] is None and accounts["call-writer"]["var"] is None


def test_the_settings_and_the_history_window_are_recorded(held: Path, tmp_path: Path):
    history = history_file(tmp_path, FOUR_ROWS)
    result = document(held, "--history", history, "--level", "0.975", "--method", "age-weighted")
    assert result["risk"] == {
        "method": "age-weighted",
        "level": "0.975",
        "horizon": 1,
        "convention": "standard",
        "covariance": "sample",
        "ewma_lambda": "0.94",
        "age_lambda": "0.995",
        "paths": 10000,
        "seed": 7,
        "factors": ["BTC"],
        "history": {"rows": 4, "first": "1", "last": "4"},
    }


def test_historical_var_through_the_command_by_hand(held: Path, tmp_path: Path):
    history = history_file(tmp_path, FOUR_ROWS)
    # losses worst first: 8,000, -8,000, -8,000. At 0.9 the tail holds 3 x 0.1 = 0.3 scenarios: VaR the worst,
    # 8,000, and ES 8,000.
    assert figures(held, history, "--level", "0.9") == EIGHT_THOUSAND
    # At 0.5 it holds 1.5: VaR the 2nd worst, -8,000; ES = (8,000 + 0.5 x -8,000) / 1.5 = 8,000 / 3
    var, es = figures(held, history, "--level", "0.5")
    assert var == -8000 and abs(es - Decimal(8000) / 3) < Decimal("1e-6")
    # the inverted-CDF convention: at 0.9 the ceil(2.7) = 3rd smallest loss, 8,000, ES 8,000; at 0.5 the 2nd
    # smallest, -8,000, and ES the mean of all three, -8,000 / 3
    assert figures(held, history, "--level", "0.9", "--convention", "inverted-cdf") == EIGHT_THOUSAND
    var, es = figures(held, history, "--level", "0.5", "--convention", "inverted-cdf")
    assert var == -8000 and abs(es + Decimal(8000) / 3) < Decimal("1e-6")
    (holder,) = document(held, "--history", history)["accounts"]
    assert holder["delta_by_underlying"] == {"BTC": "2"}


def test_age_weighted_through_the_command_by_hand(held: Path, tmp_path: Path):
    history = history_file(tmp_path, FOUR_ROWS)
    # lambda 0.5: weights 1/7, 2/7, 4/7 (oldest first). At 0.5: the worst loss 8,000 weighs 2/7 < 0.5, the
    # next is -8,000: VaR -8,000; ES = (2/7 x 8,000 + (0.5 - 2/7) x -8,000) / 0.5 = 8,000 / 7
    var, es = figures(held, history, "--method", "age-weighted", "--age-lambda", "0.5", "--level", "0.5")
    assert var == -8000 and abs(es - Decimal(8000) / 7) < Decimal("1e-6")


def test_volatility_weighted_through_the_command_by_hand(held: Path, tmp_path: Path):
    history = history_file(tmp_path, FOUR_ROWS)
    # lambda 0.5, in units of 1/300: seed = sample variance of 0.1, -0.1, 0.1 = (2 x (0.2/3)^2 + (0.4/3)^2) / 2
    # = 4/300; then 0.5 x 4 + 0.5 x 3 = 3.5, 0.5 x 3.5 + 1.5 = 3.25, 0.5 x 3.25 + 1.5 = 3.125 (0.01 = 3/300).
    # Scaled returns: 0.1 sqrt(3.125/4) = 0.0883883, -0.1 sqrt(3.125/3.5) = -0.0944911, 0.1 sqrt(3.125/3.25)
    # = 0.0980581; losses on 80,000: -7,071.07, 7,559.29, -7,844.65.
    # At 0.9: VaR = ES = the worst, 7,559.29. At 0.5 (1.5 in the tail): VaR the 2nd worst, -7,071.07;
    # ES = (7,559.29 - 0.5 x 7,071.07) / 1.5 = 2,682.50
    var, es = figures(held, history, "--method", "volatility-weighted", "--ewma-lambda", "0.5", "--level", "0.9")
    assert abs(var - Decimal("7559.29")) < Decimal("0.01") and var == es
    var, es = figures(held, history, "--method", "volatility-weighted", "--ewma-lambda", "0.5", "--level", "0.5")
    assert abs(var + Decimal("7071.07")) < Decimal("0.01") and abs(es - Decimal("2682.50")) < Decimal("0.01")


@pytest.mark.parametrize(
    ("options", "sigma"),
    [
        # returns 0.1, -0.1, 0.1 (mean 1/30), exposure 80,000:
        # sample: (2 x (1/15)^2 + (2/15)^2) / 2 = 0.026667 / 2 = 0.013333, sigma = 80,000 x 0.115470 = 9,237.60
        ((), Decimal("9237.60")),
        # population: 0.026667 / 3 = 0.0088889, sigma = 80,000 x 0.0942809 = 7,542.47
        (("--covariance", "population"), Decimal("7542.47")),
        # zero mean: (0.01 + 0.01 + 0.01) / 3 = 0.01, sigma = 80,000 x 0.1 = 8,000
        (("--covariance", "zero-mean"), Decimal("8000.00")),
        # EWMA at 0.5 (the variances of the volatility-weighted case): 3.125/300 = 0.0104167,
        # sigma = 80,000 x 0.102062 = 8,164.97
        (("--covariance", "ewma", "--ewma-lambda", "0.5"), Decimal("8164.97")),
    ],
)
def test_parametric_estimators_through_the_command_by_hand(held: Path, tmp_path: Path, options, sigma):
    history = history_file(tmp_path, FOUR_ROWS)
    var, _ = figures(held, history, "--method", "parametric", *options)
    assert abs(var - Z_99 * sigma) < Decimal("0.05")


def test_times_in_each_accepted_form(held: Path, tmp_path: Path):
    prices = ["100", "110", "99", "108.9"]
    forms = {
        "dates": ["2008-09-22", "2008-09-23", "2008-09-24", "2008-09-25"],
        "utc": ["2021-05-18T00:00:00Z", "2021-05-18T00:05:00Z", "2021-05-18T00:10:00Z", "2021-05-18T00:15:00Z"],
        # offsets compare as instants: 02:00+02:00 is 00:00Z, 00:05Z, 03:10+03:00 is 00:10Z
        "offsets": [
            "2021-05-18T02:00:00+02:00",
            "2021-05-18T00:05:00Z",
            "2021-05-18T03:10:00+03:00",
            "2021-05-18 00:15Z",
        ],
        "unix": ["1621296000", "1621296300", "1621296600.5", "1621296900"],
        "counts": ["-1", "0", "1", "500"],
    }
    for name, times in forms.items():
        text = "time,BTC\n" + "".join(f"{t},{p}\n" for t, p in zip(times, prices, strict=True))
        assert figures(held, history_file(tmp_path, text, f"{name}.csv"), "--level", "0.9") == EIGHT_THOUSAND, name


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        # shuffled: line 4's time comes before line 3's
        ("time,BTC\n1,100\n3,99\n2,110\n4,108.9\n", "history.csv: line 4: time", "is not after the previous row's"),
        ("time,BTC\n4,108.9\n3,99\n2,110\n1,100\n", "history.csv: line 3: time", "strictly increasing"),
        ("time,BTC\n1,100\n1,110\n2,99\n", "history.csv: line 3: time", "is not after"),
        ("time,BTC\n1,100\nyesterday,110\n2,99\n", "history.csv: line 3: time", "is not a time"),
        ("time,BTC\n2021-02-30,100\n2021-03-01,110\n", "history.csv: line 2: time", "is not a time"),
        ("time,BTC\n2021-05-18T00:00:00,100\n2021-05-18T00:05:00,110\n", "history.csv: line 2: time", "not a time"),
        ("time,BTC\n2021-05-18,100\n2021-05-19T00:00:00Z,110\n", "history.csv: line 3: time", "like line 2's"),
        ("time,BTC\n2021-05-18,100\n1621296000,110\n", "history.csv: line 3: time", "is not a date"),
        ("time,BTC\n,100\n2,110\n", "history.csv: line 2: time", "is not a time"),
        ("time,BTC\n1e3,100\n2e3,110\n", "history.csv: line 2: time", "is not a time"),
        ("time,BTC\n١,100\n٢,110\n", "history.csv: line 2: time", "is not a time"),  # Arabic-Indic digits
    ],
)
def test_the_time_column_is_read_and_must_increase(held: Path, tmp_path: Path, text: str, field: str, words: str):
    line = refused(held, "--history", history_file(tmp_path, text))
    assert line.startswith(f"error: {tmp_path / field}: ") and words in line, line


def test_the_examples_history_shuffled_is_refused_instead_of_changing_the_var(tmp_path: Path):
    rows = (EXAMPLES / "history-2021-05.csv").read_text().splitlines()
    body = rows[1:]
    random.Random(0).shuffle(body)
    shuffled = history_file(tmp_path, "\n".join([rows[0], *body]) + "\n")
    line = refused(EXAMPLES / "options.yaml", "--history", shuffled, "--horizon", "12")
    assert f"{shuffled}: line " in line and ": time: " in line and "strictly increasing" in line


FIVE_THOUSAND_DIGITS = "9" * 5000


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        (b"", "history.csv", "is empty"),
        (b"\n\n  \n", "history.csv", "is empty"),
        (b"time,BTC\n", "history.csv", "no rows of prices"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "history.csv: line 1", "not UTF-8"),
        (b"time,BTC\n1,100\n2,1\x0010\n", "history.csv: line 3", "NUL"),
        (b"time,BTC\n1,100\n\xff\xfe,3\n", "history.csv: line 3", "not UTF-8"),
        (b"time,ETH\n1,100\n2,110\n", "history.csv: line 1", "no column for 'BTC'"),
        (b"time\n1\n2\n", "history.csv: line 1", "a time column and at least one price column"),
        (b"time,BTC,BTC\n1,1,1\n", "history.csv: line 1: column 3", "names two columns"),
        (b"time,,BTC\n1,1,1\n", "history.csv: line 1: column 2", "is not a column name"),
        (b'time,"B\nTC",BTC\n1,1,1\n', "history.csv: line 2: column 2", "is not a column name"),
        (b"time,BTC\n1,100\n2,nan\n3,110\n", "history.csv: line 3: BTC", "is not a decimal number"),
        (b"time,BTC\n1,100\n2,inf\n3,110\n", "history.csv: line 3: BTC", "is not a decimal number"),
        (b"time,BTC\n1,100\n2,-Infinity\n", "history.csv: line 3: BTC", "is not a decimal number"),
        (b"time,BTC\n1,100\n2,1_000\n", "history.csv: line 3: BTC", "is not a decimal number"),
        (b"time,BTC\n1,100\n2,0x10\n", "history.csv: line 3: BTC", "is not a decimal number"),
        (b"time,BTC\n1,100\n2,-1\n", "history.csv: line 3: BTC", "is not a price between"),
        (b"time,BTC\n1,100\n2,0\n", "history.csv: line 3: BTC", "is not a price between"),
        (b"time,BTC\n1,100\n2,1e309\n", "history.csv: line 3: BTC", "is not a price between"),
        (b"time,BTC\n1,100\n2,1e-400\n", "history.csv: line 3: BTC", "is not a price between"),
        (b"time,BTC\n1,100\n2,1e16\n", "history.csv: line 3: BTC", "is not a price between"),
        (f"time,BTC\n1,100\n2,{FIVE_THOUSAND_DIGITS}\n".encode(), "history.csv: line 3: BTC", "longer than 64"),
        (f"time,BTC\n{FIVE_THOUSAND_DIGITS},100\n".encode(), "history.csv: line 2: time", "longer than 64"),
        (b"time,BTC\n1,100\n2\n", "history.csv: line 3", "1 fields where the header has 2"),
        (b"time,BTC\n1,100,7\n", "history.csv: line 2", "3 fields where the header has 2"),
        (b'time,BTC\n1,"100"x\n', "history.csv: line 2", "not CSV"),
        (b'time,BTC\n1,"100\n', "history.csv: line 2", "not CSV"),
        (b"time,BTC\n1,100\n2,110\n", "--history", "rows are too few"),
        ("time,BTC\n1,100\n2,110\n3,\u2028120\n".encode(), "history.csv: line 4: BTC", "is not a decimal number"),
    ],
)
def test_hostile_history_files_end_in_one_error_line(held: Path, tmp_path: Path, content: bytes, field: str, words):
    line = refused(held, "--history", history_file(tmp_path, content))
    prefix = field if field.startswith("--") else str(tmp_path / field)
    assert line.startswith(f"error: {prefix}: ") and words in line, line


def test_a_history_over_the_size_limit_is_refused_before_it_is_read(held: Path, tmp_path: Path):
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: no disk, no time
        handle.truncate(risk_module.MAX_HISTORY_BYTES + 1)
    line = refused(held, "--history", huge)
    assert line.startswith(f"error: {huge}: ") and "over the limit" in line
    assert risk_module.MAX_HISTORY_BYTES == 32 * 1024 * 1024  # the limit docs/risk.md states


def test_a_history_over_the_row_and_column_limits_is_refused(held: Path, tmp_path: Path):
    rows = risk_module.MAX_HISTORY_ROWS
    text = "time,BTC\n" + "".join(f"{t},100\n" for t in range(rows + 1))
    line = refused(held, "--history", history_file(tmp_path, text))
    assert f"line {rows + 2}: more than {rows:,} rows" in line
    wide = (
        "time," + ",".join(f"A{k}" for k in range(risk_module.MAX_HISTORY_COLUMNS)) + ",BTC\n1," + "1," * 1000 + "1\n"
    )
    line = refused(held, "--history", history_file(tmp_path, wide, "wide.csv"))
    assert "wide.csv: line 1: " in line and "over the limit of 1,000" in line


def test_a_history_that_is_not_a_readable_file_is_refused(held: Path, tmp_path: Path):
    line = refused(held, "--history", tmp_path)
    assert line == f"error: {tmp_path}: is not a regular file"
    line = refused(held, "--history", tmp_path / "missing.csv")
    assert line.startswith(f"error: {tmp_path / 'missing.csv'}: cannot be read")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (("--level", "1"), "--level"),
        (("--level", "0"), "--level"),
        (("--level", "0.99999999999999999"), "--level"),  # rounds to the float 1.0
        (("--level", "abc"), "--level"),
        (("--level", "nan"), "--level"),
        (("--horizon", "0"), "--horizon"),
        (("--horizon", "1.5"), "--horizon"),
        (("--horizon", "9" * 5000), "--horizon"),
        (("--horizon", "4"), "--history"),  # 4 rows: the longest return spans 3 rows
        (("--paths", "10"), "--paths"),
        (("--paths", "10000000"), "--paths"),
        (("--seed", "-1"), "--seed"),
        (("--method", "magic"), "--method"),
        (("--convention", "linear"), "--convention"),
        (("--covariance", "shrunk"), "--covariance"),
        (("--ewma-lambda", "1"), "--ewma-lambda"),
        (("--age-lambda", "-0.5"), "--age-lambda"),
        (("--method", "age-weighted", "--convention", "inverted-cdf"), "--convention"),
    ],
)
def test_bad_options_end_in_one_error_line_naming_the_option(held: Path, tmp_path: Path, options, field):
    line = refused(held, "--history", history_file(tmp_path, FOUR_ROWS), *options)
    assert line.startswith(f"error: {field}: "), line


def test_the_table_shows_the_figures(held: Path, tmp_path: Path):
    code, out, err = invoke(held, "--history", history_file(tmp_path, FOUR_ROWS), "--level", "0.9")
    assert code == 0, err
    assert "8,000.00" in out and "holder" in out
