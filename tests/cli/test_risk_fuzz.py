"""Fuzzing ``crossmargin risk --history``: arbitrary bytes, arbitrary text and mutations of a valid history,
under every method, must either succeed (exit code 0, one JSON document) or be refused with exit code 2 and
exactly one line ``error: <field>: <message>``; never a traceback, never anything else."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossmargin.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = EXAMPLES / "options.yaml"  # prices BTC and ETH; a perpetual, a linear call and a coin-settled put
VALID_LINES = (EXAMPLES / "history-2021-05.csv").read_text().splitlines()[:25]  # header and 24 rows

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "-1e309",
    "1e-400",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1_000",
    "0x10",
    "9" * 5000,
    "1" + "0" * 400,
    "0." + "0" * 400 + "1",
    "1e15",
    "1e-15",
    "1e16",
    "\x00",
    "\u2028",
    "٣",
    "１２",
    '"',
    '"1,2"',
    "2021-02-30",
    "2021-05-18T00:00:00",
    "2021-05-18T00:00:00+25:00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "1621296000",
    "-0",
    "BTC",
    "time",
]
OPTIONS = st.lists(
    st.sampled_from(
        [
            ("--method", "historical"),
            ("--method", "age-weighted"),
            ("--method", "volatility-weighted"),
            ("--method", "parametric"),
            ("--method", "monte-carlo"),
            ("--horizon", "1"),
            ("--horizon", "3"),
            ("--horizon", "30"),
            ("--level", "0.5"),
            ("--level", "0.999"),
            ("--convention", "inverted-cdf"),
            ("--covariance", "ewma"),
            ("--covariance", "zero-mean"),
            ("--covariance", "population"),
            ("--ewma-lambda", "0.01"),
            ("--age-lambda", "0.5"),
            ("--paths", "100"),
        ]
    ),
    max_size=4,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(folder: Path, content: bytes, options: list[tuple[str, str]]) -> None:
    history = folder / "history.csv"
    history.write_bytes(content)
    flat = [word for option in options for word in option]
    if "--paths" not in flat:
        flat = [*flat, "--paths", "100"]  # keeps a Monte Carlo run short
    result = CliRunner().invoke(app, ["risk", str(BOOK), "--history", str(history), "--json", *flat])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code in (0, 2), (result.exit_code, result.exception, result.stderr)
    if result.exit_code == 2:
        lines = (result.stdout + result.stderr).splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (result.stdout, result.stderr)
        return
    assert result.stderr == ""
    document = json.loads(result.stdout)
    for account in document["accounts"]:
        Decimal(account["var"])
        Decimal(account["expected_shortfall"])


@FUZZ
@given(st.binary(max_size=3000), OPTIONS)
def test_arbitrary_bytes(folder: Path, content: bytes, options: list[tuple[str, str]]) -> None:
    check(folder, content, options)


@FUZZ
@given(st.text(max_size=1500), OPTIONS)
def test_arbitrary_text(folder: Path, text: str, options: list[tuple[str, str]]) -> None:
    check(folder, text.encode("utf-8", "surrogatepass"), options)


@FUZZ
@given(
    st.lists(st.sampled_from(list("time,BTCEH0123456789.-+eE:TZ \n\r\t\"'")), max_size=600).map("".join),
    OPTIONS,
)
def test_csv_like_text(folder: Path, text: str, options: list[tuple[str, str]]) -> None:
    check(folder, text.encode(), options)


@st.composite
def mutated_history(draw: st.DrawFn) -> bytes:
    """The valid history with a few random edits: fields replaced, rows swapped, dropped or repeated,
    characters inserted, the file cut short."""
    rows = [line.split(",") for line in VALID_LINES]
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(st.sampled_from(["field", "swap", "drop", "repeat", "header"]))
        r = draw(st.integers(1, len(rows) - 1)) if len(rows) > 1 else 0
        if edit == "field":
            c = draw(st.integers(0, 2))
            if c < len(rows[r]):
                rows[r][c] = draw(st.sampled_from(NASTY) | st.text(max_size=12))
        elif edit == "swap" and len(rows) > 2:
            s = draw(st.integers(1, len(rows) - 1))
            rows[r], rows[s] = rows[s], rows[r]
        elif edit == "drop" and len(rows) > 1:
            del rows[r]
        elif edit == "repeat":
            rows.insert(r, list(rows[r]))
        elif edit == "header":
            rows[0][draw(st.integers(0, 2))] = draw(st.sampled_from(NASTY))
    text = "\n".join(",".join(row) for row in rows) + "\n"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=5)) + text[at:]
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_history(), OPTIONS)
def test_mutated_valid_histories(folder: Path, content: bytes, options: list[tuple[str, str]]) -> None:
    check(folder, content, options)


def test_the_unmutated_history_succeeds_under_every_method(folder: Path) -> None:
    content = ("\n".join(VALID_LINES) + "\n").encode()
    for method in ("historical", "age-weighted", "volatility-weighted", "parametric", "monte-carlo"):
        history = folder / "valid.csv"
        history.write_bytes(content)
        result = CliRunner().invoke(
            app, ["risk", str(BOOK), "--history", str(history), "--json", "--method", method, "--paths", "100"]
        )
        assert result.exit_code == 0, result.stderr
