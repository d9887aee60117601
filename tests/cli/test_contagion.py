"""``crossmargin contagion``: the shipped two-venue scenario end to end (figures worked by hand in
tests/sim/contagion/test_runner.py), its files, and its errors."""

import json

from typer.testing import CliRunner

from crossmargin.cli.main import app


def test_the_two_venue_scenario_as_json_and_files(tmp_path):
    result = CliRunner().invoke(app, ["contagion", "two-venue", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # beta: t's long of 10 closed at 86.8725 (by hand: test_runner.py), nothing apart
    assert summary["venues"]["beta"]["liquidated_notional"] == 868.725
    assert summary["apart"]["beta"]["liquidations"] == 0
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")


def test_list_and_errors():
    listed = CliRunner().invoke(app, ["contagion", "--list"])
    assert "two-venue:" in listed.stdout
    bad = CliRunner().invoke(app, ["contagion", "two-venue", "--paths", "0"])
    assert bad.exit_code == 2 and "--paths" in bad.stderr
    missing = CliRunner().invoke(app, ["contagion", "no-such"])
    assert missing.exit_code == 2 and "scenario" in missing.stderr
