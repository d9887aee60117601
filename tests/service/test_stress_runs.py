"""Stress runs from the service (:mod:`crossmargin.service.stress_runs`) on real worker processes, over a
service book of 50 generated accounts (``generated(50, 3)``: ``synthetic_book(50, 3)`` under the generic
rulebook with the stress defaults, the book ``crossmargin stress --generate 50 --seed 3`` stresses).

The second methods: the CLI's core run in this process on the same snapshot, written by ``write_report``
(the same two files, byte for byte); and ``crossmargin stress ... --generate 50 --seed 3`` itself, which
builds its book straight from the generator (or reads examples/portfolio.yaml with ``--book``), never through
the live state (the same summary and page but for the line naming the book). By hand: the steps (a scenario's
steps x 2, cross then isolated) and a flat path on a solvent book (nothing liquidated, the fund untouched).
"""

import asyncio
import html
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app as cli
from crossmargin.cli.stress import write_report
from crossmargin.live import events as live
from crossmargin.live.document import portfolio_of
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.oracle.config import OracleConfig
from crossmargin.service.books import generated
from crossmargin.service.host import BookHost
from crossmargin.service.store import Store
from crossmargin.service.stress_runs import RunNotDone, StressRuns, TooManyRuns, UnknownRun, snapshot
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.load import library
from crossmargin.sim.stress.comparison import compared_configs, stress_comparison
from crossmargin.sim.stress.configs import default_insurance_fund
from crossmargin.sim.stress.live_book import LiveBook
from crossmargin.venues import rulebook

ACCOUNTS, SEED = 50, 3
SCENARIO = "october-2025"  # the library's shortest: `steps: 90` in its file
WAIT_S = 120.0
"""The most a test waits for a run to end (a bound against hanging, never a timing claim)."""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CRASH_YAML = """
name: small-crash
title: Everything -30 % over five minutes, back to -20 %
step_seconds: 60
steps: 8
assets:
  "*": {table: [[0, 1.0], [300, 0.7], [480, 0.8]]}
fixed: [USDT, USDC]
"""
FLAT_YAML = """
name: flat
step_seconds: 60
steps: 5
assets:
  "*": {table: [[0, 1.0], [300, 1.0]]}
"""


@pytest.fixture(scope="module")
def runs() -> Iterator[StressRuns]:
    with StressRuns() as shared:
        yield shared


@pytest.fixture
def host(sqlite_url: str) -> Iterator[BookHost]:
    store = Store(sqlite_url)
    try:
        yield BookHost.open(store, generated(ACCOUNTS, SEED))
    finally:
        store.close()


def finished(runs: StressRuns, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's status once it is done or failed, and every status seen on the way."""
    seen = []
    deadline = time.monotonic() + WAIT_S
    while True:
        seen.append(runs.status(run_id))
        if seen[-1]["state"] in ("done", "failed"):
            return seen[-1], seen
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(0.02)


def deposited(host: BookHost, account: str, amount: str) -> None:
    """A deposit of USDT through the host's writer, committed (the live book moves)."""

    def make(seq: int, at: Decimal) -> live.InboundEvent:
        return live.Deposit(seq=seq, time=at, id=f"e{seq}", account=account, asset="USDT", amount=Decimal(amount))

    async def main() -> None:
        writer = asyncio.create_task(host.run())
        await asyncio.sleep(0)
        try:
            outcome = await host.submit([make])
        finally:
            writer.cancel()
        assert outcome.refusal is None

    asyncio.run(main())


def cli_stress(scenario: str, out: Path) -> tuple[dict[str, Any], str]:
    """``crossmargin stress SCENARIO --generate 50 --seed 3 --out OUT``: the summary and the page it wrote."""
    result = CliRunner().invoke(
        cli, ["stress", scenario, "--generate", str(ACCOUNTS), "--seed", str(SEED), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), (out / "report.html").read_text(
        encoding="utf-8"
    )


def test_a_run_of_a_cut_gives_the_files_write_report_writes_for_it(runs: StressRuns, host: BookHost, tmp_path: Path):
    cut = snapshot(host)
    deposited(host, "acct-0000000", "1000")  # the live book moves on after the cut
    run_id = runs.start(cut, SCENARIO, SEED)
    status, seen = finished(runs, run_id)
    assert status["state"] == "done" and status["error"] is None, status
    # 90 steps cross, then 90 isolated
    assert status["completed"] == status["total"] == 90 * 2
    assert status["scenario"] == SCENARIO and status["started_at"] <= status["finished_at"]
    states = [s["state"] for s in seen]
    assert states == sorted(states, key=["queued", "running", "done"].index)  # never back
    done = [s["completed"] for s in seen]
    assert done == sorted(done) and all(s["total"] == 180 for s in seen)
    # the second method: the CLI's core in this process on the same cut, written as the CLI writes it
    here = stress_comparison(library()[SCENARIO], compared_configs(cut.stress_book()), cut.described, SEED)
    write_report(here, tmp_path)
    assert runs.report_html(run_id) == (tmp_path / "report.html").read_text(encoding="utf-8")
    assert runs.summary_text(run_id) == (tmp_path / "summary.json").read_text(encoding="utf-8")
    summary = runs.summary(run_id)
    assert summary["book"] == "the live book after event 0: 50 accounts, generic rulebook"  # not after the deposit
    assert summary["cross"]["accounts"] == summary["isolated"]["accounts"] == ACCOUNTS
    assert [s["id"] for s in runs.runs()][-1] == run_id


def test_an_uploaded_scenario_runs_and_gives_the_clis_figures(runs: StressRuns, host: BookHost, tmp_path: Path):
    run_id = runs.start(snapshot(host), "small-crash", SEED, CRASH_YAML)
    status, _ = finished(runs, run_id)
    assert status["state"] == "done", status
    assert status["completed"] == status["total"] == 8 * 2 and status["scenario"] == "small-crash"
    scenario_file = tmp_path / "small-crash.yaml"
    scenario_file.write_text(CRASH_YAML, encoding="utf-8")
    by_cli, page = cli_stress(str(scenario_file), tmp_path / "cli")
    ours = runs.summary(run_id)
    assert by_cli["book"] == f"synthetic_book({ACCOUNTS}, seed={SEED}), generic rulebook"
    assert {k: v for k, v in ours.items() if k != "book"} == {k: v for k, v in by_cli.items() if k != "book"}
    assert ours["cross"]["liquidations"] > 0  # the crash liquidates: the figures compared are not all zeros
    swapped = page.replace(f"<p>{html.escape(by_cli['book'])}</p>", f"<p>{html.escape(ours['book'])}</p>")
    assert runs.report_html(run_id) == swapped != page


def test_a_document_books_run_gives_the_clis_figures_for_the_document(
    runs: StressRuns, sqlite_url: str, tmp_path: Path
):
    document = EXAMPLES / "portfolio.yaml"
    store = Store(sqlite_url)
    try:
        host = BookHost.open(store, (document.name, document.read_text(encoding="utf-8")))
        run_id = runs.start(snapshot(host), SCENARIO, 7)
    finally:
        store.close()
    status, _ = finished(runs, run_id)
    assert status["state"] == "done", status
    out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["stress", SCENARIO, "--book", str(document), "--seed", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    by_cli = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    ours = runs.summary(run_id)
    assert (by_cli["book"], ours["book"]) == (
        str(document),
        "the live book after event 0: 4 accounts, generic rulebook",
    )
    assert {k: v for k, v in ours.items() if k != "book"} == {k: v for k, v in by_cli.items() if k != "book"}
    # the document's own fund (insurance_fund: 25000) and liquidity, not the defaults
    assert ours["cross"]["insurance_fund_start"] == "25000"


def test_a_flat_scenario_liquidates_nobody_on_the_solvent_book(runs: StressRuns, host: BookHost):
    run_id = runs.start(snapshot(host), "", SEED, FLAT_YAML)
    status, _ = finished(runs, run_id)
    assert status["state"] == "done" and status["completed"] == 5 * 2, status
    summary = runs.summary(run_id)
    fund = default_insurance_fund(synthetic_book(ACCOUNTS, SEED))  # the generated book's fund
    for label in ("cross", "isolated"):
        totals = summary[label]
        # every account of a generated book meets its initial margin: on a flat path nobody is liquidated
        assert (totals["liquidations"], totals["adl_events"], totals["bad_debt"]) == (0, 0, "0")
        assert Decimal(totals["insurance_fund_start"]) == Decimal(totals["insurance_fund_end"]) == fund
        assert len(summary["steps"][label]) == 5


@pytest.mark.parametrize(
    ("scenario", "seed", "yaml", "field", "says"),
    [
        ("no-such-crash", 1, None, "scenario", "'no-such-crash' is not a library scenario"),
        ("", 1, None, "scenario", "flash-crash"),  # the message lists the library
        ("flat", 1, "name: flat\nstep_seconds: [", "scenario", "invalid YAML"),
        ("flat", 1, FLAT_YAML.replace("step_seconds: 60", "step_seconds: -60"), "scenario: step_seconds", ""),
        ("other", 1, FLAT_YAML, "scenario", "named 'flat', not 'other'"),
        (SCENARIO, -1, None, "seed", "from 0 to 4,294,967,295"),
        (SCENARIO, 2**32, None, "seed", "got 4294967296"),
        (SCENARIO, True, None, "seed", "whole number"),
    ],
)
def test_bad_input_is_refused_naming_its_field_and_starts_nothing(
    runs: StressRuns, host: BookHost, scenario: str, seed: int, yaml: str | None, field: str, says: str
):
    before = runs.runs()
    with pytest.raises(InputError) as err:
        runs.start(snapshot(host), scenario, seed, yaml)
    assert err.value.field == field and says in err.value.message
    assert runs.runs() == before


def options_cut() -> LiveBook:
    """A cut of examples/options.yaml, which holds options no stress run prices yet (made by hand: no engine
    loop holds it)."""
    path = EXAMPLES / "options.yaml"
    portfolio, rules = portfolio_of(parse_document(path.read_text(encoding="utf-8"), path.name))
    return LiveBook(
        0, portfolio.of_accounts(()), portfolio.accounts, rules, rulebook("generic").liquidation, OracleConfig(), {},
        Decimal(0),
    )  # fmt: skip


def test_a_failed_run_keeps_its_error_and_has_no_report(runs: StressRuns):
    run_id = runs.start(options_cut(), SCENARIO, SEED)
    status, _ = finished(runs, run_id)
    assert status["state"] == "failed" and status["finished_at"] is not None
    assert status["error"].startswith("cross.instruments: ") and "is an option" in status["error"]
    with pytest.raises(RunNotDone, match=r"failed: cross\.instruments"):
        runs.report_html(run_id)
    with pytest.raises(RunNotDone):
        runs.summary(run_id)
    with pytest.raises(UnknownRun):
        runs.status("0123456789abcdef")
    with pytest.raises(UnknownRun):
        runs.report_html("0123456789abcdef")


def test_at_most_n_runs_are_kept_and_close_stops_the_one_running(host: BookHost):
    with StressRuns(max_runs=2) as small:
        first, second = (small.start(options_cut(), SCENARIO, seed) for seed in (1, 2))
        with pytest.raises(TooManyRuns):  # both kept runs wait for the worker still starting
            small.start(options_cut(), SCENARIO, 3)
        with pytest.raises(RunNotDone, match="not done yet"):
            small.report_html(second)
        finished(small, first)
        finished(small, second)
        third = small.start(options_cut(), SCENARIO, 4)  # drops the run that finished first
        with pytest.raises(UnknownRun):
            small.status(first)
        assert [s["id"] for s in small.runs()] == [second, third]
        finished(small, third)
        long = small.start(snapshot(host), "luna-2022", SEED)  # 1,736 steps x 2
        deadline = time.monotonic() + WAIT_S
        while small.status(long)["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    status = small.status(long)
    assert status["state"] == "failed" and status["error"].startswith("stopped")
    assert status["completed"] < status["total"] == 1736 * 2
    with pytest.raises(RuntimeError):
        small.start(snapshot(host), SCENARIO, SEED)


def test_a_worker_killed_mid_run_fails_its_run_and_the_next_run_still_completes(host: BookHost):
    # A worker killed at any moment (here SIGKILL while it runs; the same holds half-way through sending its
    # outcome) ends its run's pipe: the run fails, nothing of the service waits on it, and the slot is free.
    with StressRuns() as runs:
        long = runs.start(snapshot(host), "luna-2022", SEED)
        deadline = time.monotonic() + WAIT_S
        while runs.status(long)["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (worker,) = [p for p in multiprocessing.active_children() if p.name == f"stress-{long}"]
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        while runs.status(long)["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        status = runs.status(long)
        assert status["state"] == "failed" and "ended abruptly" in status["error"]
        after = runs.start(snapshot(host), SCENARIO, SEED)
        assert finished(runs, after)[0]["state"] == "done"
