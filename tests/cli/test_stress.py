"""``crossmargin stress`` and ``crossmargin demo``: every option checked before any work (counts, ``--out``,
``--scheduler``), the report's two files written whole, and the summary table never cutting a figure."""

import http.server
import json
import os
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.cli.main import app
from crossmargin.cli.stress import REPORT_FILES, book_from_file, check_out, write_report
from crossmargin.model import InputError
from crossmargin.sim.scenarios.load import library
from crossmargin.sim.stress.results import StressReport
from tests.cli.conftest import HAND_BOOK, no_float, plain, run, runner

# ------------------------------------------------------------------------- stress, demo and bench options

SCENARIO_MISSING = "no-such-scenario"  # an option's error names the option: options are checked first


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["stress", SCENARIO_MISSING, "--generate", "1000001"],
            "--generate: must be from 10 to 1,000,000, got 1,000,001",
        ),
        (["stress", SCENARIO_MISSING, "--generate", "9"], "--generate: must be from 10 to 1,000,000, got 9"),
        (["stress", SCENARIO_MISSING, "--paths", "10001"], "--paths: must be from 1 to 10,000, got 10,001"),
        (["stress", SCENARIO_MISSING, "--paths", "0"], "--paths: must be from 1 to 10,000, got 0"),
        (["stress", SCENARIO_MISSING, "--paths", "many"], "--paths: not a whole number: 'many'"),
        (["stress", SCENARIO_MISSING, "--seed", "-1"], "--seed: must be from 0 to 4,294,967,295, got -1"),
        (["stress", SCENARIO_MISSING, "--workers", "0"], "--workers: must be from 1 to"),
        (["stress", SCENARIO_MISSING, "--book", "b.yaml", "--generate", "10"], "--generate: give --book or --generate"),
        (["demo", "--accounts", "1000001"], "--accounts: must be from 10 to 1,000,000, got 1,000,001"),
        (["demo", "--seed", "x"], "--seed: not a whole number: 'x'"),
        (["bench", "--accounts", "2000000"], "--accounts: must be from 10 to 1,000,000, got 2,000,000"),
        (["bench", "--repeats", "0"], "--repeats: must be from 1 to 1,000, got 0"),
    ],
)
def test_counts_out_of_their_range_end_in_one_line(args: list[str], expected: str) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1


def test_more_workers_than_cores_is_refused() -> None:
    cores = os.cpu_count() or 1
    code, out, err = run("stress", SCENARIO_MISSING, "--workers", str(cores + 1))
    assert (code, out, err) == (2, "", f"error: --workers: must be from 1 to {cores:,}, got {cores + 1:,}\n")


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine\n", encoding="utf-8")
    for args in (("stress", SCENARIO_MISSING, "--generate", "10"), ("demo",)):
        assert run(*args, "--out", taken) == (2, "", f"error: --out: {taken} is not a directory\n")
        under = taken / "report"
        assert run(*args, "--out", under) == (
            2,
            "",
            f"error: --out: {under} is under {taken}, which is not a directory\n",
        )
    (tmp_path / "full" / "summary.json").mkdir(parents=True)
    code, _, err = run("demo", "--out", tmp_path / "full")
    assert (code, err) == (2, f"error: --out: {tmp_path / 'full' / 'summary.json'} is a directory\n")
    assert taken.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["full", "summary.json", "taken"]


def test_a_failed_run_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "new" / "report"
    code, stdout, err = run("stress", SCENARIO_MISSING, "--generate", "10", "--out", out)
    assert (code, stdout) == (2, "")
    assert err.startswith("error: ") and "--out" not in err
    assert list(tmp_path.iterdir()) == []


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Not on stderr: the test reads the command's."""


@pytest.fixture
def web_server() -> Iterator[str]:
    """A plain HTTP server on a loopback port: ``host:port``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_scheduler_is_checked_first_with_a_clear_error(tmp_path: Path, web_server: str) -> None:
    port = closed_port()
    cases = [
        (f"tcp://127.0.0.1:{port}", f"cannot connect to 127.0.0.1:{port}: Connection refused"),
        ("tcp://127.0.0.1", "expected tcp://host:port with a port number, got 'tcp://127.0.0.1'"),
        ("http://127.0.0.1:8786", "expected tcp://host:port (or tls://), got 'http://127.0.0.1:8786'"),
        (web_server, f"tcp://{web_server} does not answer as a Dask scheduler within 5 s"),
    ]
    for address, message in cases:
        args = ("stress", SCENARIO_MISSING, "--generate", "10", "--paths", "2", "--scheduler", address)
        code, out, err = run(*args, "--out", tmp_path / "report")
        assert (code, out) == (2, "")
        assert err.startswith(f"error: --scheduler: {message}") and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("terminal", ["0", "1"])
def test_stress_writes_both_files_and_never_cuts_a_figure(tmp_path: Path, terminal: str) -> None:
    result = runner.invoke(
        app,
        ["stress", "flash-crash", "--generate", "12", "--seed", "3", "--out", str(tmp_path)],
        env={"COLUMNS": "50", "TTY_COMPATIBLE": terminal},
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "summary.json"]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"), parse_float=no_float)
    table = plain(result.stdout)
    assert "…" not in table
    for label in ("cross", "isolated"):
        figures = summary[label]
        for key in ("liquidations", "adl_events", "accounts", "positions"):
            assert isinstance(figures[key], int)
        for key in ("liquidated_notional", "slippage", "bad_debt", "insurance_fund_end", "insurance_fund_drawdown"):
            value = Decimal(figures[key])  # a decimal string, read exactly
            # the table's figure: to cents (half-even on the float's exact value), thousands separated
            cents = f"{Decimal(float(value)):,.2f}"
            assert cents in table, (label, key, cents)


# --------------------------------------------------------------------------------- the pieces, one by one


def test_a_new_out_directory_is_taken_and_nothing_is_made_before_the_run(tmp_path: Path) -> None:
    check_out(tmp_path / "new" / "report")
    check_out(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_report_is_written_whole_under_its_two_names(tmp_path: Path) -> None:
    report = StressReport("s", "t", "d", (), "book", ())
    write_report(report, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == list(REPORT_FILES) == ["report.html", "summary.json"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["scenario"] == "s"


def test_the_list_names_every_library_scenario() -> None:
    code, out, _ = run("stress", "--list")
    assert code == 0
    assert out.splitlines() == [f"{name}: {s.title}" for name, s in sorted(library().items())]


def test_a_books_liquidity_star_applies_to_every_instrument_and_its_fund_is_kept(tmp_path: Path) -> None:
    text = HAND_BOOK + "liquidity:\n  '*': {model: levels, levels: [[0.01, 5]]}\ninsurance_fund: 2500\n"
    path = tmp_path / "book.yaml"
    path.write_text(text, encoding="utf-8")
    portfolio, rules, terms, models, fund, _ = book_from_file(path)
    assert set(models) == set(portfolio.instruments) == {"BTC-PERP"}
    assert fund == Decimal(2500) and rules.name == "generic" and terms.adl_ranking == "profit_x_leverage"
    path.write_text(HAND_BOOK, encoding="utf-8")
    assert book_from_file(path)[3:5] == ({}, None)  # no liquidity, no fund: the run's defaults apply
    path.write_text(HAND_BOOK.replace("base: USD", "base: USD\nrulebook: 7"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        book_from_file(path)
    assert err.value.field == "rulebook"


def test_demo_writes_the_report_and_the_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--seed", "3", "--accounts", "30"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    for mode in ("cross", "isolated"):
        assert {"liquidations", "liquidated_notional", "bad_debt", "insurance_fund_end"} <= set(summary[mode])
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "flash" in page.lower()


# ------------------------------------------------------------------------------ every step, exported

ONE_ACCOUNT_BOOK = """\
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
    tiers: [{max_notional: null, mmr: 0.05, imr: 0.1}]
prices: {USDT: 1, BTC: 20000}
marks: {BTC-PERP: 20000}
accounts:
  - id: solo
    balances: {USDT: 1500}
    positions: [{instrument: BTC-PERP, size: 1, entry_price: 20000}]
liquidity:
  '*': {model: mark}
insurance_fund: 1000
"""
ONE_DROP = """\
name: one-drop
title: BTC -6.25 % at the second step
step_seconds: 60
assets:
  BTC: {table: [[0, 1.0], [60, 1.0], [120, 0.9375], [180, 0.9375]]}
fixed: [USDT]
"""
FEE = "label: fee\nliquidation:\n  fee_rate: 0.01\n"


def test_stress_json_shows_the_one_liquidation_at_its_step_by_hand(tmp_path: Path) -> None:
    """One account, long 1 BTC-PERP from 20,000 on 1,500 USDT (mmr 5 %), fills at the mark, fund 1,000; BTC
    x 1, x 0.9375, x 0.9375 at t = 60, 120, 180 (USD the base, USDT fixed at 1).

    t = 60: BTC 20,000; equity 1,500 >= MM 20,000 x 0.05 = 1,000: nothing.
    t = 120: BTC 20,000 x 0.9375 = 18,750; equity 1,500 - 1,250 = 250 < MM 937.5, and under half of it
    (468.75): the whole long is closed at the mark, one fill of notional 1 x 18,750 x 1 (USDT) = 18,750. No
    fee under the generic rulebook: the fund stays 1,000. With ``fee_rate: 0.01`` (the ``fee`` run) the fund
    takes 1 % of 18,750 = 187.5: 1,187.5.
    t = 180: nothing left to liquidate.
    """
    for name, text in (("book.yaml", ONE_ACCOUNT_BOOK), ("drop.yaml", ONE_DROP), ("fee.yaml", FEE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    args: list[str | Path] = ["stress", tmp_path / "drop.yaml", "--book", tmp_path / "book.yaml"]
    args += ["--params", tmp_path / "fee.yaml"]
    code, out, err = run(*args, "--json")
    assert code == 0, err
    document = json.loads(out, parse_float=no_float)
    assert list(document["steps"]) == ["cross", "isolated", "fee"]
    for label, funds in (
        ("cross", ["1000", "1000", "1000"]),
        ("isolated", ["1000", "1000", "1000"]),
        ("fee", ["1000", "1187.5", "1187.5"]),
    ):
        steps = document["steps"][label]
        assert [s["t"] for s in steps] == ["60", "120", "180"]
        assert [s["prices"] for s in steps] == [{"USDT": "1", "BTC": p} for p in ("20000", "18750", "18750")]
        assert [s["marks"] for s in steps] == [{"BTC-PERP": p} for p in ("20000", "18750", "18750")]
        assert [s["liquidations"] for s in steps] == [0, 1, 0]
        assert [s["liquidated_notional"] for s in steps] == ["0", "18750", "0"]
        assert [(s["slippage"], s["adl_events"], s["bad_debt"]) for s in steps] == [("0", 0, "0")] * 3
        assert [s["insurance_fund"] for s in steps] == funds
        totals = document["runs"][label]
        assert (totals["liquidations"], totals["liquidated_notional"]) == (1, "18750")
        assert totals["insurance_fund_end"] == funds[-1] and totals["positions"] == 0


def test_every_step_of_the_demo_is_in_its_summary_and_the_steps_add_up_to_the_totals(tmp_path: Path) -> None:
    from crossmargin.sim.scenarios.load import load_scenario

    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--seed", "3", "--accounts", "30"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"), parse_float=no_float)
    scenario = load_scenario("flash-crash")
    times = [Decimal(k * scenario.step_seconds) for k in range(1, scenario.steps + 1)]
    assert list(summary["steps"]) == ["cross", "isolated"]
    for label, steps in summary["steps"].items():
        totals = summary[label]
        assert [Decimal(s["t"]) for s in steps] == times
        assert all("USD" not in s["prices"] and {"BTC", "ETH", "SOL"} <= set(s["prices"]) for s in steps)
        assert all({"BTC-PERP", "ETH-PERP", "BTCUSD-PERP"} <= set(s["marks"]) for s in steps)
        assert sum(s["liquidations"] for s in steps) == totals["liquidations"] > 0
        assert sum(s["adl_events"] for s in steps) == totals["adl_events"]
        # the totals are float sums of the steps in order; each step's string reads back as its float
        for key in ("liquidated_notional", "slippage"):
            assert sum(float(s[key]) for s in steps) == float(totals[key]), (label, key)
        assert steps[-1]["insurance_fund"] == totals["insurance_fund_end"]
        assert steps[-1]["bad_debt"] == totals["bad_debt"]
        lowest = min(float(s["insurance_fund"]) for s in steps)
        drawdown = max(0.0, float(totals["insurance_fund_start"]) - lowest)
        assert drawdown == float(totals["insurance_fund_drawdown"])


def test_summary_json_reads_back_as_the_runs_steps_and_equals_the_json_output(tmp_path: Path) -> None:
    from crossmargin.cli.stress import stress_report
    from crossmargin.sim.stress.results import StepRecord

    report = stress_report("flash-crash", None, 12, 3, 1, None, None, [], [])
    write_report(report, tmp_path)
    text = (tmp_path / "summary.json").read_text(encoding="utf-8")
    summary = json.loads(text, parse_float=no_float)
    for result in report.runs:
        back = tuple(
            StepRecord(
                t=float(s["t"]),
                prices={asset: float(x) for asset, x in s["prices"].items()},
                marks={name: float(x) for name, x in s["marks"].items()},
                liquidations=s["liquidations"],
                liquidated_notional=float(s["liquidated_notional"]),
                slippage=float(s["slippage"]),
                adl_events=s["adl_events"],
                bad_debt=float(s["bad_debt"]),
                insurance_fund=float(s["insurance_fund"]),
                accounts_at_risk=s["accounts_at_risk"],
                volatility={asset: float(x) for asset, x in s["volatility"].items()},
            )
            for s in summary["steps"][result.label]
        )
        assert back == result.steps  # every figure but the wall time, float for float
    # Another run of the same command prints the same document: nothing in it comes from the wall clock.
    code, out, err = run("stress", "flash-crash", "--generate", "12", "--seed", "3", "--json")
    assert code == 0, err
    assert json.loads(out) == json.loads(text)


# ------------------------------------------------------------------------------------- --distressed FRACTION


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["stress", SCENARIO_MISSING, "--distressed", "-0.1"], "--distressed: must be from 0 to 1, got -0.1"),
        (["stress", SCENARIO_MISSING, "--distressed", "1.5"], "--distressed: must be from 0 to 1, got 1.5"),
        (["stress", SCENARIO_MISSING, "--distressed", "abc"], "--distressed: not a decimal number: 'abc'"),
        (["stress", SCENARIO_MISSING, "--distressed", "nan"], "--distressed: must be a finite number"),
        (
            ["stress", SCENARIO_MISSING, "--book", "b.yaml", "--distressed", "0.1"],
            "--distressed: applies to a generated book: give --generate, not --book",
        ),
        (["demo", "--distressed", "1.5"], "--distressed: must be from 0 to 1, got 1.5"),
        (["demo", "--distressed", "abc"], "--distressed: not a decimal number: 'abc'"),
    ],
)
def test_a_bad_distressed_fraction_is_refused_before_any_work(args: list[str], expected: str) -> None:
    code, out, err = run(*args)  # a missing scenario would be the error if any work started
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err


FLAT = """\
name: flat
title: "every price held for ten minutes"
step_seconds: 60
steps: 10
assets:
  BTC: {table: [[0, 1.0], [600, 1.0]]}
  "*": {follow: BTC, beta: 1.0}
fixed: [USDT, USDC]
"""


def test_the_distressed_fraction_reaches_the_generated_book(tmp_path: Path) -> None:
    # on a flat path nothing moves: a book that starts solvent (the default, and --distressed 0) has no
    # liquidation in either mode; with every account distressed (equity U(0.8, 1.2) x maintenance, isolated
    # losses around their margin beyond maintenance) some start under water and are liquidated at once
    scenario = tmp_path / "flat.yaml"
    scenario.write_text(FLAT, encoding="utf-8")
    summaries = {}
    for fraction in (None, "0", "1"):
        args = ["stress", str(scenario), "--generate", "20", "--seed", "3", "--json"]
        code, out, err = run(*args, *([] if fraction is None else ["--distressed", fraction]))
        assert code == 0, err
        summaries[fraction] = json.loads(out, parse_float=no_float)
    for fraction in (None, "0"):
        assert summaries[fraction]["book"] == "synthetic_book(20, seed=3), generic rulebook"
        assert [summaries[fraction][mode]["liquidations"] for mode in ("cross", "isolated")] == [0, 0]
    assert summaries["1"]["book"] == "synthetic_book(20, seed=3), generic rulebook, distressed share 1"
    assert all(summaries["1"][mode]["liquidations"] > 0 for mode in ("cross", "isolated"))


def test_stress_with_agents_reports_their_trades_and_refuses_a_bad_file_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trader:\n  threshold: 3\n  target: 2\n")
    refused = runner.invoke(app, ["stress", "flash-crash", "--generate", "20", "--agents", str(bad)])
    assert refused.exit_code == 2
    assert "error: --agents.trader.target: must be at least the threshold" in refused.output
    good = tmp_path / "agents.yaml"
    good.write_text("venue:\n  reference_volatility: 0.5\n")
    result = runner.invoke(app, ["stress", "flash-crash", "--generate", "20", "--agents", str(good), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["runs"]["cross"]["agent_trades"] == 0  # the venue's agent trades nothing
    steps = document["steps"]["cross"]
    assert all("agents" in step for step in steps)
    assert float(document["runs"]["cross"]["peak_margin_multiplier"]) >= 1
