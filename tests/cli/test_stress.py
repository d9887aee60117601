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
