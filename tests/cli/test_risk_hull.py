"""Hull's four-index example through ``crossmargin risk``: his data as a history file (day numbers as times),
his $10 M portfolio as balances, and his published one-day 99 % figures in dollars out of the JSON document.

Sources as in tests/margin/test_var_hull.py and tests/data/hull-four-indices/README.md.
"""

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app

DATA = Path(__file__).resolve().parents[1] / "data" / "hull-four-indices" / "indices.csv"
NAMES = ["DJIA", "FTSE", "CAC", "NIKKEI"]
INVESTED = [4_000_000, 3_000_000, 1_000_000, 2_000_000]  # dollars, on day 500 (25 September 2008)


@pytest.fixture(scope="module")
def hull(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The portfolio document and the history file: each index in US dollars, as Hull converts it."""
    raw = np.loadtxt(DATA, delimiter=",", skiprows=1)
    usd = np.column_stack([raw[:, 1], raw[:, 2] * raw[:, 3], raw[:, 4] / raw[:, 5], raw[:, 6] / raw[:, 7]])
    folder = tmp_path_factory.mktemp("hull")
    history = folder / "hull.csv"
    lines = ["day," + ",".join(NAMES)] + [
        f"{int(d)}," + ",".join(repr(float(v)) for v in row) for d, row in zip(raw[:, 0], usd, strict=True)
    ]
    history.write_text("\n".join(lines) + "\n")
    last = [Decimal(repr(float(v))) for v in usd[-1]]
    # holdings in index units worth the invested dollars at day 500's level (28 significant digits)
    amounts = [Decimal(i) / p for i, p in zip(INVESTED, last, strict=True)]
    book = folder / "hull.yaml"
    book.write_text(
        "version: 1\nbase: USD\n"
        "assets: {USD: {weight: 1}, " + ", ".join(f"{n}: {{weight: 1}}" for n in NAMES) + "}\n"
        "prices: {" + ", ".join(f"{n}: '{p}'" for n, p in zip(NAMES, last, strict=True)) + "}\n"
        "accounts:\n  - {id: hull, balances: {"
        + ", ".join(f"{n}: '{a}'" for n, a in zip(NAMES, amounts, strict=True))
        + "}}\n"
    )
    return book, history


def dollars(hull: tuple[Path, Path], *options: str) -> tuple[int, int]:
    """VaR and ES of Hull's portfolio, rounded to the dollar as Hull prints them."""
    book, history = hull
    result = CliRunner().invoke(app, ["risk", str(book), "--history", str(history), "--json", *options])
    assert result.exit_code == 0, result.stderr
    (account,) = json.loads(result.stdout)["accounts"]
    return round(Decimal(account["var"])), round(Decimal(account["expected_shortfall"]))


def test_historical_simulation_gives_hulls_253385_and_327181(hull):
    # one-day 99 %: the 5th worst of 500 losses and the mean of the worst 5 (Hull's ranked losses)
    assert dollars(hull) == (253_385, 327_181)


def test_the_inverted_cdf_convention_gives_the_6th_worst_loss(hull):
    # the 6th worst, 217,974, and the mean of the worst 6: (5 x 327,181 + 217,974) / 6 = 308,980
    assert dollars(hull, "--convention", "inverted-cdf") == (217_974, 308_980)


def test_age_weighted_gives_hulls_282204_and_400914(hull):
    assert dollars(hull, "--method", "age-weighted") == (282_204, 400_914)  # lambda 0.995 is the default


def test_volatility_weighted_gives_hulls_602968(hull):
    var, _ = dollars(hull, "--method", "volatility-weighted")  # EWMA lambda 0.94 is the default
    assert var == 602_968


def test_model_building_gives_hulls_217757_and_471025(hull):
    var, _ = dollars(hull, "--method", "parametric", "--covariance", "population")
    assert var == 217_757
    var, _ = dollars(hull, "--method", "parametric", "--covariance", "ewma")
    assert var == 471_025
