"""Loading stress scenarios: the library (every scenario loads, the real-data ones against the raw exchange
candles and the published figures), file and price tables, composition by include, faults read from YAML, every
bad input named by its field, and hostile scenario files through ``crossmargin stress`` and mutations of the
library (hypothesis).

Expected numbers are derived by hand (arithmetic in the comments) or by a second, independent method: the
real-data scenarios are checked against the raw exchange candles in the shared crash-data folder, read here
with plain Python (tests/data/crashes: byte-exact copies of the files the tests need).
"""

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.model.document_text import parse_yaml
from crossmargin.model.errors import InputError
from crossmargin.sim.scenarios.load import (
    LIBRARY,
    MAX_ASSETS,
    MAX_FAULTS,
    MAX_STEPS,
    library,
    load_scenario,
    scenario_from_dict,
)
from crossmargin.sim.scenarios.model import Depeg, Spike, StaleSource, ThinMarket
from crossmargin.sim.scenarios.paths import generate
from tests.builders import (
    FUZZ,
    HOSTILE_BOOK,
    LONG,
    OUT_OF_BOUNDS_YAML,
    Raw,
    as_json,
    assert_one_line,
    assert_refused,
    dotted,
    invoke,
    json_values,
    leaves,
    mutated_text,
    numeric,
    replaced,
    write,
)
from tests.sim.scenarios.conftest import base

RAW = Path(__file__).resolve().parents[2] / "data" / "crashes"  # byte-exact copies, cited in its MANIFEST.md
BOOK = ["BTC", "ETH", "SOL", "LUNA", "FTT", "UST", "USDT", "USDC", "USDE", "ALT1", "ALT2"]
SCENARIOS = sorted(path.name for path in LIBRARY.iterdir() if path.name.endswith(".yaml"))
SCENARIO = "name: mine\nstep_seconds: 10\nsteps: 60\nassets:\n  BTC: {table: [[0, 1.0], [600, 0.75]]}\n"


def drawdown(prices: Any) -> float:
    """Deepest fall from a running peak, as a fraction (-0.3 is 30 % down): plain Python."""
    peak, deepest = float(prices[0]), 0.0
    for price in prices:
        peak = max(peak, float(price))
        deepest = min(deepest, float(price) / peak - 1)
    return deepest


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def raw_prices(parts: list[tuple[str, int, str | None, str | None]], start: str, end: str) -> list[float]:
    """First open, then every close, of the raw bars that open at/after ``start`` and close by ``end``.

    ``parts``: (file, bar seconds, first bar open, last bar open) in order (bounds None: no bound).
    """
    begin, finish = utc(start), utc(end)
    prices: list[float] = []
    for name, seconds, low, high in parts:
        with open(RAW / name, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for row in reader:
                opened = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
                if opened < begin or opened + timedelta(seconds=seconds) > finish:
                    continue
                if (low and opened < utc(low)) or (high and opened > utc(high)):
                    continue
                if not prices:
                    prices.append(float(row[1]))
                prices.append(float(row[4]))
    return prices


# --- the library --------------------------------------------------------------------------------

NAMES = [
    "march-2020",
    "may-2021",
    "luna-2022",
    "ftx-2022",
    "usdc-depeg-2023",
    "october-2025",
    "flash-crash",
    "monte-carlo-crash",
]


def test_library_holds_the_named_scenarios():
    assert sorted(library()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_loads_and_gives_finite_positive_factors(name):
    scenario = library()[name]
    assert load_scenario(name) is scenario
    assert scenario.name == name and scenario.title and scenario.description
    assert scenario.sources and all(what and where for what, where in scenario.sources)
    assert scenario.others is not None, "a '*' rule moves the generated book's alts"
    path = generate(scenario, 3, BOOK)
    n = scenario.steps + 1
    assert path.times.shape == (n,) and path.times[0] == 0
    assert path.times[-1] == scenario.steps * scenario.step_seconds
    assert set(path.factors) == set(BOOK)
    for asset, factor in path.factors.items():
        assert factor.shape == (n,) and factor.dtype == np.float64, asset
        assert np.all(np.isfinite(factor)) and np.all(factor > 0), asset
        assert factor[0] == 1.0, asset
    assert np.all(path.factors["USDT"] == 1.0) and np.all(path.factors["USDC"] == 1.0)
    assert not np.all(path.factors["ALT1"] == 1.0)
    assert path.depth.shape == (n,) and np.all(path.depth > 0)
    for fault in path.faults:
        assert getattr(fault, "source", "s1") in ("s1", "s2", "s3")
    assert not path.factors["BTC"].flags.writeable


def test_only_monte_carlo_is_stochastic():
    assert {name for name, s in library().items() if s.stochastic} == {"monte-carlo-crash"}


# --- real data: the paths against the raw candles ----------------------------------------------

# (scenario, asset, raw parts, window, tolerance): tolerance 0 where the scenario's grid hits every raw
# close (grid = bar or finer), else the drawdown may be shallower by up to 1 percentage point.
MARCH_2020 = ("2020-03-12T00:00", "2020-03-13T04:37")
MAY_2021 = ("2021-05-19T00:00", "2021-05-20T00:00")
LUNA_2022 = ("2022-05-07T00:00", "2022-05-13T00:40")
FTX_2022 = ("2022-11-07T00:00", "2022-11-12T00:00")
USDC_2023 = ("2023-03-10T00:00", "2023-03-13T18:00")
BTC_2020 = [
    ("btcusdt_2020-03-12_5m_PARTIAL.csv", 300, None, "2020-03-12T16:30"),  # spot bars opening by 16:30
    ("btcusdt_perp_2020-03-12_1m_PARTIAL.csv", 60, "2020-03-12T16:35", None),  # then perp bars from 16:35
]
REAL = [
    ("march-2020", "BTC", BTC_2020, MARCH_2020, 0.0),
    ("march-2020", "ETH", [("ethusdt_2020-03-12_5m.csv", 300, None, None)], MARCH_2020, 0.0),
    ("may-2021", "BTC", [("btcusdt_2021-05-19_1m.csv", 60, None, None)], MAY_2021, 0.0),
    ("may-2021", "ETH", [("ethusdt_2021-05-19_1m.csv", 60, None, None)], MAY_2021, 0.0),
    ("luna-2022", "LUNA", [("lunausdt_2022-05-07_1m.csv", 60, None, None)], LUNA_2022, 0.01),
    ("luna-2022", "BTC", [("btcusdt_2022-05-07_5m.csv", 300, None, None)], LUNA_2022, 0.0),
    ("luna-2022", "ETH", [("ethusdt_2022-05-07_5m.csv", 300, None, None)], LUNA_2022, 0.0),
    ("ftx-2022", "BTC", [("btcusdt_2022-11-08_5m.csv", 300, None, None)], FTX_2022, 0.0),
    ("ftx-2022", "ETH", [("ethusdt_2022-11-08_5m.csv", 300, None, None)], FTX_2022, 0.0),
    ("ftx-2022", "SOL", [("solusdt_2022-11-08_3m.csv", 180, None, None)], FTX_2022, 0.01),
    ("usdc-depeg-2023", "BTC", [("btcusdt_kucoin_2023-03-10_1m.csv", 60, None, None)], USDC_2023, 0.01),
    ("usdc-depeg-2023", "ETH", [("ethusdt_kucoin_2023-03-10_1m.csv", 60, None, None)], USDC_2023, 0.01),
]


@pytest.mark.parametrize(("name", "asset", "parts", "window", "tolerance"), REAL, ids=[f"{r[0]}-{r[1]}" for r in REAL])
def test_real_path_drawdown_equals_the_raw_candles(name, asset, parts, window, tolerance):
    raw = drawdown(raw_prices(parts, *window))
    path = drawdown(generate(library()[name], 0, [asset]).factors[asset])
    # the grid samples a subset of the raw closes, so the path's fall is never deeper than the raw one
    assert raw - 1e-12 <= path <= raw + tolerance + 1e-12


# The published figures (research/incidents.md) each real-data path must be of the order of; the
# scenario's window and closes differ from the quoted peak/trough, hence the 10-point tolerance.
FIGURES = [
    ("march-2020", "BTC", 3596 / 7353 - 1),  # BitMEX 7,353 -> 3,596: -51.1 %
    ("march-2020", "ETH", 90 / 171 - 1),  # 171 -> ~90: -47.4 %
    ("may-2021", "BTC", 30000 / 43000 - 1),  # 43,000 -> 30,000: -30.2 %
    ("may-2021", "ETH", -0.43),  # -40 to -46 %
    ("luna-2022", "LUNA", 0.0001 / 80 - 1),  # ~80 -> ~0.0001: -99.9999 %
    ("ftx-2022", "BTC", 15625 / 21000 - 1),  # >21,000 -> 15,625: -25.6 %
    ("october-2025", "BTC", 104782.88 / 122574.46 - 1),  # -14.5 %
    ("october-2025", "SOL", -0.345),  # -31 to -38 %
]


@pytest.mark.parametrize(("name", "asset", "figure"), FIGURES, ids=[f"{f[0]}-{f[1]}" for f in FIGURES])
def test_paths_are_of_the_order_of_the_published_figures(name, asset, figure):
    assert drawdown(generate(library()[name], 0, [asset]).factors[asset]) == pytest.approx(figure, abs=0.1)


def test_luna_btc_trough_is_the_published_low():
    # BTC low $26,700 on 12 May 2022 (a wick); the scenario's first price is the 05-07 00:00 open
    # 36,013.77 and its lowest close must sit within 1 % above the wick.
    trough = 36013.77 * float(generate(library()["luna-2022"], 0, ["BTC"]).factors["BTC"].min())
    assert 26700 <= trough <= 26700 * 1.01


def test_october_2025_btc_table_by_hand():
    btc = generate(library()["october-2025"], 0, ["BTC"]).factors["BTC"]
    # minute 15 (t = 900): 117,000 / 122,574.46 = 0.954521...; minute 30 and after: 104,782.88 / 122,574.46
    assert btc[15] == pytest.approx(117000 / 122574.46, rel=1e-12)
    assert btc[30] == pytest.approx(0.8548515, rel=1e-6) and btc[90] == btc[30]
    # minute 10: a third of the way from 1 to 0.954521 (linear): 1 - 0.045479 x 10/15 = 0.969681
    assert btc[10] == pytest.approx(1 - (1 - 117000 / 122574.46) * 10 / 15, rel=1e-12)


def test_usdc_depeg_records_are_the_quarter_hour_closes():
    faults = library()["usdc-depeg-2023"].faults
    records = [f for f in faults if isinstance(f, Depeg)]
    # 03-10 20:00 (t = 72,000) to 03-13 18:00 (t = 324,000): 252,000 s / 900 s = 280 records
    assert len(records) == 280
    assert [(r.start, r.end) for r in records[:2]] == [(72000, 72900), (72900, 73800)]
    assert {(r.asset, r.source) for r in records} == {("USDC", "s3")}
    # the price at a quarter hour s is the close of the raw 1m bar that closes at s (opens at s - 60 s)
    closes: dict[datetime, float] = {}
    with open(RAW / "usdcusdt_kucoin_2023-03-10_1m.csv", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            closes[datetime.fromisoformat(row[0].replace("Z", "+00:00")) + timedelta(minutes=1)] = float(row[4])
    start = utc("2023-03-10T00:00")
    for record in records:
        assert record.price == closes[start + timedelta(seconds=record.start)]
    lowest = min(r.price for r in records)
    assert lowest == pytest.approx(0.8774, abs=0.01)  # CoinMarketCap trough $0.8774 (-12.3 %)


def test_file_table_holds_the_last_price_and_divides_by_the_first(tmp_path):
    (tmp_path / "px.csv").write_text("t,price\n0,100\n90,80\n200,120\n")
    (tmp_path / "s.yaml").write_text("name: s\nstep_seconds: 60\nassets:\n  X: {table: {file: px.csv}}\n")
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.steps == 4  # steps omitted: the table's span 200 s / 60 s, rounded up
    x = generate(scenario, 0, ["X"]).factors["X"]
    # t = 0, 60: 100/100; t = 120, 180: 80/100 (held from t = 90); t = 240: 120/100
    assert x.tolist() == pytest.approx([1.0, 1.0, 0.8, 0.8, 1.2])


def test_prices_table_divides_by_the_first_price():
    doc = {"name": "t", "step_seconds": 30, "assets": {"X": {"table": {"prices": [[0, 200], [60, 150]]}}}}
    assert generate(scenario_from_dict(doc), 0, ["X"]).factors["X"].tolist() == pytest.approx([1.0, 0.875, 0.75])


# --- composition --------------------------------------------------------------------------------


def test_include_adds_faults_liquidity_sources_and_missing_assets():
    flash = library()["flash-crash"]
    doc = {
        "name": "mine",
        "step_seconds": 60,
        "assets": {"BTC": {"table": [[0, 1.0], [1800, 0.5]]}},
        "faults": [{"spike": {"symbol": "ETH", "source": "s2", "at": 120, "factor": 0.9}}],
        "liquidity": [[0, 0.5]],
        "sources": [{"what": "mine", "where": "here"}],
        "include": ["flash-crash"],
    }
    scenario = scenario_from_dict(doc)
    assert scenario.includes == ("flash-crash",)
    assert scenario.steps == 60  # the included hour (3600 s) outlasts the own table (1800 s): 3600 / 60
    assert scenario.faults == (Spike("ETH", "s2", 120, 0.9), *flash.faults)
    assert scenario.sources == (("mine", "here"), *flash.sources)
    path = generate(scenario, 0, ["BTC", "ETH", "USDT", "ALT1"])
    # depth: own 0.5 x flash-crash's schedule; at t = 600 s that is 0.2, so 0.1; at t = 1200 s
    # flash is 0.2 + (0.6 - 0.2) x 600/1200 = 0.4, so 0.2
    assert path.depth[10] == pytest.approx(0.1) and path.depth[20] == pytest.approx(0.2)
    # ETH and '*' come from flash-crash but follow *this* BTC: at t = 900 s BTC is 1 - 0.5 x 900/1800 = 0.75
    assert path.factors["BTC"][15] == pytest.approx(0.75)
    assert path.factors["ETH"][15] == pytest.approx(0.75**1.2)
    assert path.factors["ALT1"][15] == pytest.approx(0.75**1.5)
    assert np.all(path.factors["USDT"] == 1.0)  # flash-crash's fixed stablecoins come in too


def test_include_brings_correlation_of_included_assets():
    doc = {"name": "mc-plus", "step_seconds": 60, "include": ["monte-carlo-crash"], "liquidity": [[0, 1.0]]}
    scenario = scenario_from_dict(doc)
    mc = library()["monte-carlo-crash"]
    assert scenario.correlation == mc.correlation and scenario.stochastic
    assert np.array_equal(generate(scenario, 3, ["SOL"]).factors["SOL"], generate(mc, 3, ["SOL"]).factors["SOL"])


def test_market_wide_usdc_depeg_by_composition():
    doc = {
        "name": "usdc-everywhere",
        "step_seconds": 300,
        "assets": {"USDC": {"table": {"file": "usdcusdt_kucoin_2023-03-10_1m.csv"}}},
        "include": ["usdc-depeg-2023"],
    }
    scenario = scenario_from_dict(doc)
    usdc = generate(scenario, 0, ["USDC"]).factors["USDC"]
    assert scenario.steps == 1080 and usdc.min() < 0.9  # the own USDC path replaces the included fixed one
    assert len(scenario.faults) == len(library()["usdc-depeg-2023"].faults)


# --- faults -------------------------------------------------------------------------------------


def test_depeg_series_is_cut_into_held_segments(tmp_path):
    (tmp_path / "u.csv").write_text("t,price\n0,1.0\n100,0.9\n250,0.8\n")
    series = {"file": "u.csv", "every": 100}
    depeg = {"asset": "USDC", "source": "s2", "start": 50, "end": 400, "series": series}
    (tmp_path / "d.yaml").write_text(f"name: d\nstep_seconds: 10\nsteps: 40\nfaults:\n  - depeg: {depeg}\n")
    faults = load_scenario(tmp_path / "d.yaml").faults
    # segments from t = 50 every 100 s, priced at the last series point at or before their start
    assert faults == (
        Depeg("USDC", "s2", 50, 150, 1.0),
        Depeg("USDC", "s2", 150, 250, 0.9),
        Depeg("USDC", "s2", 250, 350, 0.8),
        Depeg("USDC", "s2", 350, 400, 0.8),
    )


def test_fault_kinds_from_yaml():
    faults = [
        {"stale": {"symbols": ["BTC", "ETH"], "source": "s1", "start": 0, "end": 60}},
        {"thin_market": {"symbol": "BTC-PERP", "start": 10, "end": 20, "factor": 0.9}},
        {"depeg": {"asset": "USDC", "source": "s3", "start": 0, "end": 60, "price": 0.87}},
    ]
    assert scenario_from_dict(base(faults=faults)).faults == (
        StaleSource("BTC", "s1", 0, 60),
        StaleSource("ETH", "s1", 0, 60),
        ThinMarket("BTC-PERP", 10, 20, 0.9),
        Depeg("USDC", "s3", 0, 60, 0.87),
    )


# --- validation: errors name the field ----------------------------------------------------------


def with_asset(name: str, spec: Any) -> dict[str, Any]:
    doc = base()
    doc["assets"] = {**doc["assets"], name: spec}
    return doc


def with_fault(fault: Any) -> dict[str, Any]:
    return base(faults=[fault])


BAD = [
    ("bad sigma", with_asset("SOL", {"gbm": {"sigma": -0.5}}), "assets.SOL.gbm.sigma"),
    ("sigma as text", with_asset("SOL", {"gbm": {"sigma": "high"}}), "assets.SOL.gbm.sigma"),
    ("unknown key", with_asset("SOL", {"gbm": {"sgima": 1.0}}), "assets.SOL.gbm.sgima"),
    ("unknown top key", base(colour="red"), "colour"),
    ("two kinds", with_asset("SOL", {"gbm": {"sigma": 1}, "table": [[0, 1]]}), "assets.SOL"),
    (
        "garch not stationary",
        with_asset("SOL", {"garch": {"sigma": 1, "alpha": 0.2, "beta": 0.8}}),
        "assets.SOL.garch.beta",
    ),
    ("jump without sd", with_asset("SOL", {"jump": {"sigma": 1, "intensity": 1, "mean": 0}}), "assets.SOL.jump.sd"),
    (
        "jumps beyond 1000 a day",
        with_asset("SOL", {"jump": {"sigma": 1, "intensity": 1e25, "mean": 0, "sd": 0.1}}),
        "assets.SOL.jump.intensity",
    ),
    (
        "a jump of e^11",
        with_asset("SOL", {"jump": {"sigma": 1, "intensity": 1, "mean": -11, "sd": 0}}),
        "assets.SOL.jump.mean",
    ),
    ("table not from 1", with_asset("ETH", {"table": [[0, 0.9], [60, 0.8]]}), "assets.ETH.table[0][1]"),
    ("table time back", with_asset("ETH", {"table": [[0, 1], [60, 0.8], [30, 0.9]]}), "assets.ETH.table[2][0]"),
    ("missing file", with_asset("BTC", {"table": {"file": "nope.csv"}}), "assets.BTC.table.file"),
    ("unknown follow", with_asset("ALT", {"follow": "DOGE"}), "assets.ALT.follow"),
    ("follow cycle", base(assets={"A": {"follow": "B"}, "B": {"follow": "A"}}), "assets.A.follow"),
    (
        "unknown source",
        with_fault({"stale": {"symbol": "BTC", "source": "s4", "start": 0, "end": 60}}),
        "faults[0].stale.source",
    ),
    (
        "end before start",
        with_fault({"stale": {"symbol": "BTC", "source": "s1", "start": 60, "end": 0}}),
        "faults[0].stale.end",
    ),
    (
        "zero spike",
        with_fault({"spike": {"symbol": "BTC", "source": "s1", "at": 5, "factor": 0}}),
        "faults[0].spike.factor",
    ),
    ("unknown fault", with_fault({"outage": {"symbol": "BTC"}}), "faults[0].outage"),
    ("non-PD correlation", base(correlation={"SOL": {"XRP": 1.0}}), "correlation"),
    ("correlation of a table", base(correlation={"BTC": {"SOL": 0.5}}), "correlation.BTC.SOL"),
    ("correlation above 1", base(correlation={"SOL": {"XRP": 1.5}}), "correlation.SOL.XRP"),
    ("correlation twice", base(correlation={"SOL": {"XRP": 0.5}, "XRP": {"SOL": 0.5}}), "correlation.XRP.SOL"),
    ("unknown include", base(include=["nope-2030"]), "include[0]"),
    ("negative depth", base(liquidity=[[0, 1.0], [60, -0.2]]), "liquidity[1][1]"),
    ("no step", {k: v for k, v in base().items() if k != "step_seconds"}, "step_seconds"),
    ("no steps and no table", base(steps=None, assets={"SOL": {"gbm": {"sigma": 1}}}), "steps"),
]


@pytest.mark.parametrize(("doc", "field"), [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(doc, field):
    if doc.get("steps", 0) is None:
        del doc["steps"]
    with pytest.raises(InputError) as err:
        scenario_from_dict(doc)
    assert err.value.field == field


def test_file_errors_are_prefixed_with_the_file_name(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nstep_seconds: 60\nsteps: 5\nassets:\n  SOL: {gbm: {sigma: 0}}\n")
    with pytest.raises(InputError) as err:
        load_scenario(tmp_path / "bad.yaml")
    assert err.value.field == "bad.yaml: assets.SOL.gbm.sigma"


def test_where_prefixes_dict_errors():
    with pytest.raises(InputError) as err:
        scenario_from_dict(base(colour="red"), where="request")
    assert err.value.field == "request: colour"


def test_unknown_scenario_name():
    with pytest.raises(InputError) as err:
        load_scenario("june-2099")
    assert err.value.field == "scenario" and "may-2021" in err.value.message


# --- hostile scenarios ---------------------------------------------------------------------------


SCENARIO_CASES = [
    ("steps 1,000,000,000", SCENARIO.replace("steps: 60", "steps: 1000000000"), "steps", f"at most {MAX_STEPS:,}"),
    ("steps of 5,000 digits", SCENARIO.replace("steps: 60", f"steps: {LONG}"), "steps", "5000 digits"),
    ("steps true", SCENARIO.replace("steps: 60", "steps: true"), "steps", "whole number"),
    (
        "steps derived from a table of 10^12 s",
        "name: mine\nstep_seconds: 1\nassets:\n  BTC: {table: [[0, 1.0], [1.0e+12, 0.75]]}\n",
        "steps",
        "1,000,000,000,000 steps",
    ),
    (
        "sigma 1e999999999",
        SCENARIO + "  SOL: {gbm: {sigma: 1.0e+999999999}}\n",
        "assets.SOL.gbm.sigma",
        "below 1E+30",
    ),
    ("sigma .nan", SCENARIO + "  SOL: {gbm: {sigma: .nan}}\n", "assets.SOL.gbm.sigma", "finite"),
    ("a factor of 5,000 digits", SCENARIO.replace("0.75", f"0.{LONG}"), "assets.BTC.table[1][1]", "5000 significant"),
    ("a follower's beta NaN", SCENARIO + "  ETH: {follow: BTC, beta: .nan}\n", "assets.ETH.beta", "finite"),
    (
        "a spike at NaN",
        SCENARIO + "faults:\n  - {spike: {symbol: BTC, source: s1, at: .nan, factor: 0.8}}\n",
        "faults[0].spike.at",
        "finite",
    ),
    (
        "a depeg series of 1e-9 s segments",
        SCENARIO + "faults:\n  - {depeg: {asset: USDC, source: s1, start: 0, end: 600, "
        "series: {file: usdcusdt_kucoin_2023-03-10_1m.csv, every: 1.0e-9}}}\n",
        "faults[0].depeg.series.every",
        f"at most {MAX_FAULTS:,}",
    ),
    (
        "101 assets",
        SCENARIO + "".join(f"  A{i}: {{gbm: {{sigma: 0.5}}}}\n" for i in range(MAX_ASSETS)),
        "assets",
        f"{MAX_ASSETS + 1} assets named",
    ),
    (
        "1,001 faults",
        SCENARIO + "faults:\n" + "  - {spike: {symbol: BTC, source: s1, at: 1, factor: 0.9}}\n" * (MAX_FAULTS + 1),
        "faults",
        f"{MAX_FAULTS + 1:,} faults",
    ),
    ("an unknown key", SCENARIO + "paths: 100\n", "paths", "unknown key"),
]


@pytest.mark.parametrize(("case", "text", "field", "words"), SCENARIO_CASES, ids=[case[0] for case in SCENARIO_CASES])
def test_a_hostile_scenario_ends_in_one_error_line_before_any_run(
    tmp_path: Path, case: str, text: str, field: str, words: str
):
    scenario = write(tmp_path / "mine.yaml", text)
    out = tmp_path / "report"
    result = invoke(
        ["stress", str(scenario), "--book", str(write(tmp_path / "b.yaml", HOSTILE_BOOK)), "--out", str(out)]
    )
    assert_refused(result, f"mine.yaml: {field}", words)
    assert not out.exists()


@pytest.mark.parametrize(
    ("case", "content", "words"),
    [
        ("binary", bytes(range(256)) * 8, "not UTF-8"),
        ("nested", "[" * 100_000 + "]" * 100_000, "nesting depth"),
        (
            "a billion laughs",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
            "more than 4,000,000 values",
        ),
        ("empty", "", "expected a mapping"),
    ],
)
def test_a_hostile_scenario_file_is_named_by_its_file(tmp_path: Path, case: str, content: str | bytes, words: str):
    scenario = write(tmp_path / "mine.yaml", content)
    result = invoke(["stress", str(scenario), "--book", str(write(tmp_path / "b.yaml", HOSTILE_BOOK))])
    assert_refused(result, "mine.yaml", words)


def library_scenario(name: str) -> Any:
    return parse_yaml((LIBRARY / name).read_text(encoding="utf-8"), name)


@FUZZ
@given(data=st.data(), name=st.sampled_from(SCENARIOS))
def test_a_number_out_of_bounds_in_a_scenario_is_refused_by_its_path(tmp_path: Path, data: st.DataObject, name: str):
    scenario = library_scenario(name)
    path = data.draw(st.sampled_from(numeric(scenario)))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_YAML))
    target = write(tmp_path / "mine.yaml", as_json(replaced(scenario, path, Raw(literal))))
    with pytest.raises(InputError) as caught:
        load_scenario(target)
    assert caught.value.field == f"mine.yaml: {dotted(path)}"
    assert_one_line(caught.value)


@FUZZ
@given(data=st.data(), name=st.sampled_from(SCENARIOS))
def test_a_mutated_scenario_is_accepted_or_refused_in_one_line(tmp_path: Path, data: st.DataObject, name: str):
    scenario = library_scenario(name)
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from([path for path, _ in leaves(scenario)]))
        text = as_json(replaced(scenario, path[: data.draw(st.integers(0, len(path)))], data.draw(json_values)))
    else:
        text = mutated_text(data, (LIBRARY / name).read_text(encoding="utf-8"))
    try:
        built = load_scenario(write(tmp_path / "mine.yaml", text))
    except InputError as error:
        assert_one_line(error)
    else:
        assert built.steps <= MAX_STEPS and len(built.faults) <= MAX_FAULTS
