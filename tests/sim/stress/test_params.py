"""Parameter sets (``crossmargin stress --params``): read and checked field by field, applied to a run's
book, rules, terms and fund, and run beside the book's own on the hand-built two-step crash; hostile sets
through the command, and mutations of the shipped examples (hypothesis)."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossmargin.cli.loading import load_document
from crossmargin.cli.main import app
from crossmargin.model import InputError
from crossmargin.sim.stress.params import applied, parameter_set
from crossmargin.sim.stress.runner import run
from tests.builders import (
    FUZZ,
    HOSTILE_BOOK,
    HUGE,
    LONG,
    OUT_OF_BOUNDS_YAML,
    TINY,
    D,
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
from tests.sim.stress.conftest import CRASH, config

PARAMETERS = sorted((Path(__file__).resolve().parents[3] / "examples" / "params").glob("*.yaml"))

STRICTER = {
    "label": "stricter",
    "rules": {"liquidation_threshold": 1},
    "liquidation": {"buffer": 0.2},
    "insurance_fund": 60,
    "assets": {"BTC": {"weight": 0.5}},
    "tiers": {"BTC-PERP": [{"max_notional": None, "mmr": 0.1, "imr": 0.2}]},
}


def test_a_parameter_set_changes_only_what_it_names():
    base = config()
    changed = applied(base, parameter_set(STRICTER, "file-name"))
    assert changed.label == "stricter"
    assert changed.insurance_fund == D(60)
    assert changed.terms.buffer == D("0.2") and changed.terms.partial is False  # the book's own terms kept
    assert changed.rules.liquidation_threshold == D(1) and changed.rules.name == base.rules.name
    # BTC held counts at half its value now; USDT untouched
    assert changed.portfolio.assets["BTC"].weight.weighted_amount(D(2)) == D(1)
    assert changed.portfolio.assets["USDT"] == base.portfolio.assets["USDT"]
    tiers = changed.portfolio.instruments["BTC-PERP"].tiers.tiers
    assert [(t.mmr, t.imr) for t in tiers] == [(D("0.1"), D("0.2"))]
    assert changed.portfolio.accounts == base.portfolio.accounts
    assert parameter_set({}, "file-name").label == "file-name"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"haircuts": {}}, "haircuts"),
        ({"label": ""}, "label"),
        ({"rules": {"threshold": 1}}, "rules.threshold"),
        ({"liquidation": {"buffer": "a lot"}}, "liquidation.buffer"),
        ({"liquidation": {"adl_ranking": "loudest"}}, "liquidation.adl_ranking"),
        ({"insurance_fund": -1}, "insurance_fund"),
        ({"tiers": []}, "tiers"),
    ],
)
def test_a_bad_parameter_set_names_its_field(data, field):
    with pytest.raises(InputError) as error:
        parameter_set(data, "p")
    assert error.value.field == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"assets": {"DOGE": {"weight": 0.5}}}, "assets.DOGE"),
        ({"assets": {"BTC": {"weight": 2}}}, "assets.BTC.weight"),
        ({"tiers": {"ETH-PERP": [{"max_notional": None, "mmr": 0.1}]}}, "tiers.ETH-PERP"),
        (
            {
                "tiers": {
                    "BTC-PERP": [
                        {"max_notional": 100, "mmr": 0.1, "imr": 0.2},
                        {"max_notional": 50, "mmr": 0.2, "imr": 0.3},
                    ]
                }
            },
            "tiers.BTC-PERP[1].max_notional",
        ),
    ],
)
def test_names_are_checked_against_the_book(data, field):
    with pytest.raises(InputError) as error:
        applied(config(), parameter_set(data, "p"))
    assert error.value.field == field


def test_a_parameter_set_runs_beside_the_book_by_hand():
    stricter = applied(config(), parameter_set({"insurance_fund": 60, "tiers": STRICTER["tiers"]}, "mmr-10"))
    first, second = run(stricter, CRASH, seed=0).steps
    # t=60, mark 90, MM now 10 % of notional: a has 150 - 100 = 50 < 10 % x 900 = 90 and c 25 - 20 = 5 < 18:
    # both are closed at the mark (no depth model): fills of 900 and 180, nothing left to cover
    assert (first.liquidations, first.liquidated_notional, first.adl_events) == (2, 1080.0, 0)
    # t=120, mark 80: only b is left, 1000 + 10 x 20 = 1200 against 10 % x 800 = 80: nothing happens and
    # the fund keeps its 60 (where the book's own 5 % tiers end with a's long deleveraged at 85, fund 20)
    assert (second.liquidations, second.adl_events, second.bad_debt, second.insurance_fund) == (0, 0, 0.0, 60.0)


def test_the_command_reads_every_parameter_set_before_running(tmp_path: Path):
    good = tmp_path / "wide.yaml"
    good.write_text("label: wide\nliquidation: {buffer: 0.5}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("liquidation: {bufer: 0.5}\n")
    result = CliRunner().invoke(
        app, ["stress", "flash-crash", "--generate", "20", "--params", str(good), "--params", str(bad)]
    )
    assert result.exit_code != 0
    assert f"{bad}.liquidation.bufer" in result.output
    twice = CliRunner().invoke(
        app, ["stress", "flash-crash", "--generate", "20", "--params", str(good), "--params", str(good)]
    )
    assert twice.exit_code != 0 and "'wide'" in twice.output


def test_a_scenario_grid_runs_and_a_var_floor_without_volatilities_is_refused_before_any_run(tmp_path: Path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("label: grid\nrules: {scenario_margin: {moves: [-0.1, 0, 0.1]}}\n")
    floor = tmp_path / "floor.yaml"
    floor.write_text("label: floor\nrules: {var_floor: {level: 0.99}}\n")
    result = CliRunner().invoke(app, ["stress", "flash-crash", "--generate", "20", "--params", str(floor)])
    assert result.exit_code != 0
    assert "floor.vols." in result.output and "VaR floor" in result.output
    result = CliRunner().invoke(app, ["stress", "flash-crash", "--generate", "20", "--params", str(grid), "--json"])
    assert result.exit_code == 0, result.output
    assert "grid" in json.loads(result.output[result.output.index("{") :])


def test_the_shipped_example_parameter_set_applies():
    path = Path(__file__).resolve().parents[3] / "examples" / "params" / "stricter.yaml"
    changed = applied(config(), parameter_set(load_document(path), path.stem))
    # BTC held at a 20 % haircut, the fund and the buffer as the file says
    assert changed.label == "stricter" and changed.insurance_fund == D(250000)
    assert changed.terms.buffer == D("0.25") and changed.portfolio.assets["BTC"].weight.weighted_amount(D(1)) == D(
        "0.8"
    )


@pytest.mark.parametrize(
    ("case", "text", "field", "words"),
    [
        ("a buffer of 1e999999999", f"liquidation: {{buffer: {HUGE}}}\n", "liquidation.buffer", "below 1E+30"),
        ("a fund of 5,000 digits", f"insurance_fund: {LONG}\n", "insurance_fund", ""),
        ("a fund 1e-999999999", f"insurance_fund: {TINY}\n", "insurance_fund", "at least 1E-30"),
        ("a weight .nan", "assets: {BTC: {weight: .nan}}\n", "assets.BTC.weight", "finite"),
        (
            "an mmr of 5,000 digits",
            f"tiers: {{BTC-PERP: [{{max_notional: null, mmr: 0.{LONG}, imr: 1}}]}}\n",
            "tiers.BTC-PERP[0].mmr",
            "5000 significant",
        ),
        ("a label with a newline", 'label: "a\\nb"\n', "label", "printable"),
        ("an unknown key", "colour: red\n", "colour", "unknown key"),
    ],
)
def test_a_hostile_parameter_set_ends_in_one_error_line_before_any_run(
    tmp_path: Path, case: str, text: str, field: str, words: str
):
    params = write(tmp_path / "p.yaml", text)
    out = tmp_path / "report"
    book = write(tmp_path / "b.yaml", HOSTILE_BOOK)
    result = invoke(["stress", "flash-crash", "--book", str(book), "--params", str(params), "--out", str(out)])
    assert_refused(result, f"{params}.{field}", words)
    assert not out.exists()


def test_a_parameter_set_that_is_not_yaml_is_named_once(tmp_path: Path):
    params = write(tmp_path / "p.yaml", "foo: [1,\n")
    book = write(tmp_path / "b.yaml", HOSTILE_BOOK)
    result = invoke(
        ["stress", "flash-crash", "--book", str(book), "--params", str(params), "--out", str(tmp_path / "o")]
    )
    line = assert_refused(result, str(params), "invalid YAML")
    assert line.count(str(params)) == 1, line


STRESS_CONFIG = config()


def parameters_outcome(path: Path) -> None:
    """What ``stress --params`` checks before any run: the set read, then applied to a run's book."""
    applied(STRESS_CONFIG, parameter_set(load_document(path), path.stem))


@FUZZ
@given(data=st.data(), source=st.sampled_from(PARAMETERS))
def test_a_number_out_of_bounds_in_a_parameter_set_is_refused_by_its_path(
    tmp_path: Path, data: st.DataObject, source: Path
):
    params = load_document(source)
    path = data.draw(st.sampled_from(numeric(params)))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_YAML))
    target = write(tmp_path / "p.yaml", as_json(replaced(params, path, Raw(literal))))
    with pytest.raises(InputError) as caught:
        parameters_outcome(target)
    assert caught.value.field == dotted(path)
    assert_one_line(caught.value)


@FUZZ
@given(data=st.data(), source=st.sampled_from(PARAMETERS))
def test_a_mutated_parameter_set_is_accepted_or_refused_in_one_line(tmp_path: Path, data: st.DataObject, source: Path):
    params = load_document(source)
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from([path for path, _ in leaves(params)]))
        text = as_json(replaced(params, path[: data.draw(st.integers(0, len(path)))], data.draw(json_values)))
    else:
        text = mutated_text(data, source.read_text(encoding="utf-8"))
    try:
        parameters_outcome(write(tmp_path / "p.yaml", text))
    except InputError as error:
        assert_one_line(error)
