"""The crossmargin command line, end to end on documents written here with figures worked by hand.

The hand book (base USD, USDT priced 1, BTC priced 20000):

- BTC-PERP: linear, 1 contract = 1 BTC, settled in USDT, one open tier mmr 0.004, imr 0.008.
- alice: 1000 USDT, long 0.5 BTC-PERP entered at 20000, marked at 20000.
    notional = 0.5 x 20000 = 10000; uPnL = 0
    MM = 10000 x 0.004 = 40; IM = 10000 x 0.008 = 80
    equity = 1000; free collateral = 1000 - 80 = 920; margin ratio = 40 / 1000 = 0.04
    liquidation price P: 1000 + 0.5 (P - 20000) - 0.5 P x 0.004 = 0  ->  0.498 P = 9000
    P = 9000 / 0.498 = 18072.289156626506024|0963... (20 significant digits shown)
- iso: 500 USDT cross (no cross positions), short 0.25 BTC-PERP at 20000 with 100 USDT isolated margin.
    cross pool: equity 500, IM 0, MM 0, free 500, margin ratio 0 / 500 = 0
    isolated pool: notional 5000, IM 40, MM 20, equity 100, free 60, margin ratio 20 / 100 = 0.2
    liquidation price P: 100 - 0.25 (P - 20000) - 0.25 P x 0.004 = 0  ->  0.251 P = 5100
    P = 5100 / 0.251 = 20318.725099601593625|498...
- carol: 0.5 BTC (weight 0.95, initial weight 0.9), long 0.5 BTC-PERP at 20000.
    initial collateral = 0.5 x 20000 x 0.9 = 9000; free = 9000 - 80 = 8920
    max BTC withdrawal (flat weight, no band crossed) = free / (price x initial weight)
    = 8920 / (20000 x 0.9) = 0.49555555555555555555|5...
"""

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
from rich.text import Text
from typer.testing import CliRunner

from crossmargin import __version__
from crossmargin.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME_KEYS = {"base", "rulebook", "id", "account", "asset", "instrument", "reason"}

HAND_BOOK = """\
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
    tiers: [{max_notional: null, mmr: 0.004, imr: 0.008}]
prices: {USDT: 1, BTC: 20000}
marks: {BTC-PERP: 20000}
accounts:
  - id: alice
    balances: {USDT: 1000}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
  - id: iso
    balances: {USDT: 500}
    positions: [{instrument: BTC-PERP, size: -0.25, entry_price: 20000, isolated_margin: 100}]
  - id: carol
    balances: {BTC: 0.5}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
"""

runner = CliRunner()


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(HAND_BOOK, encoding="utf-8")
    return path


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str | Path) -> dict[str, Any]:
    code, out, err = run(*args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out, parse_float=_no_float)
    return document


def _no_float(text: str) -> None:
    raise AssertionError(f"a JSON number with a fraction in the output: {text}")


def by_id(document: dict[str, Any], account_id: str) -> dict[str, Any]:
    accounts: list[dict[str, Any]] = [a for a in document["accounts"] if a["id"] == account_id]
    assert len(accounts) == 1, account_id
    return accounts[0]


def leaves(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of every scalar in a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item, key)
    else:
        yield key, node


def assert_numbers_are_decimal_strings(document: dict[str, Any]) -> None:
    assert document["version"] == 1
    for key, value in leaves(document):
        if key == "version" or isinstance(value, bool) or value is None:
            continue
        assert isinstance(value, str), (key, value)
        if key in NAME_KEYS:
            continue
        number = Decimal(value)
        assert number.is_finite() and "E" not in value.upper(), (key, value)


def test_evaluate_json_matches_the_hand_figures(book: Path) -> None:
    document = run_json("evaluate", book)
    assert (document["version"], document["base"], document["rulebook"]) == (1, "USD", "generic")
    alice = by_id(document, "alice")
    assert {k: alice[k] for k in ("collateral_value", "unrealized_pnl", "equity", "initial_equity")} == {
        "collateral_value": "1000",
        "unrealized_pnl": "0",
        "equity": "1000",
        "initial_equity": "1000",
    }
    assert alice["initial_margin"] == "80"
    assert alice["maintenance_margin"] == "40"
    assert alice["free_collateral"] == "920"
    assert alice["margin_ratio"] == "0.04"
    assert alice["liquidatable"] is False
    assert alice["isolated_initial_margin"] == "0"
    assert alice["collateral"] == [
        {"asset": "USDT", "amount": "1000", "price": "1", "value": "1000", "initial_value": "1000"}
    ]
    (position,) = alice["positions"]
    assert position["instrument"] == "BTC-PERP"
    assert (position["size"], position["mark"], position["notional"]) == ("0.5", "20000", "10000")
    assert (position["unrealized_pnl"], position["initial_margin"], position["maintenance_margin"]) == ("0", "80", "40")
    assert position["liquidation_price"] == "18072.289156626506024"
    assert position["isolated"] is False
    assert "isolated_margin" not in position


def test_isolated_position_is_reported_apart_from_the_cross_pool(book: Path) -> None:
    iso = by_id(run_json("evaluate", book), "iso")
    assert (iso["equity"], iso["initial_margin"], iso["maintenance_margin"]) == ("500", "0", "0")
    assert (iso["free_collateral"], iso["margin_ratio"]) == ("500", "0")
    assert iso["isolated_initial_margin"] == "40"
    (position,) = iso["positions"]
    assert position["isolated"] is True
    assert position["isolated_margin"] == "100"
    assert (position["initial_margin"], position["maintenance_margin"]) == ("40", "20")
    assert (position["equity"], position["free_collateral"], position["margin_ratio"]) == ("100", "60", "0.2")
    assert position["liquidatable"] is False
    assert position["liquidation_price"] == "20318.725099601593625"


def test_account_option_selects_one_account(book: Path) -> None:
    document = run_json("evaluate", book, "--account", "iso")
    assert [a["id"] for a in document["accounts"]] == ["iso"]


def test_evaluate_tables(book: Path) -> None:
    code, out, err = run("evaluate", book)
    assert (code, err) == (0, "")
    assert "Accounts (cross pool, USD)" in out
    assert "18072.28916" in out  # the liquidation price at 10 significant digits
    assert "4%" in out
    assert "isolated" in out
    assert "LIQUIDATABLE" not in out


@pytest.mark.parametrize("name", ["portfolio.yaml", "portfolio.json"])
def test_examples_evaluate(name: str) -> None:
    assert_numbers_are_decimal_strings(run_json("evaluate", EXAMPLES / name))
    code, out, err = run("evaluate", EXAMPLES / name)
    assert (code, err) == (0, "")
    assert "Positions of alice" in out or "Positions of diversified" in out


def test_json_example_shows_a_liquidatable_account() -> None:
    bob = by_id(run_json("evaluate", EXAMPLES / "portfolio.json"), "bob")
    assert bob["liquidatable"] is True
    _, out, _ = run("evaluate", EXAMPLES / "portfolio.json")
    assert "LIQUIDATABLE" in out


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("broken", "field", "message"),
    [
        (
            HAND_BOOK.replace("[{instrument: BTC-PERP, size: 0.5", "[{instrument: DOGE-PERP, size: 0.5", 1),
            "accounts[0] (id 'alice').positions[0].instrument",
            "unknown instrument 'DOGE-PERP'",
        ),
        (HAND_BOOK.replace("BTC: 20000}", "BTC: .nan}"), "prices.BTC", "finite"),
        (HAND_BOOK.replace("base: USD", "base: USD\nrulebook: nope"), "rulebook", "unknown rulebook 'nope'"),
    ],
)
def test_bad_documents_exit_2_naming_the_field(tmp_path: Path, broken: str, field: str, message: str) -> None:
    code, out, err = run("evaluate", write(tmp_path, broken), "--json")
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {field}: ")
    assert message in err
    assert "Traceback" not in err


def test_nan_price_in_json_document(tmp_path: Path) -> None:
    document = '{"version": 1, "base": "USDT", "assets": {"USDT": {"weight": 1}}, "prices": {"BTC": NaN}}'
    code, out, err = run("evaluate", write(tmp_path, document, "bad.json"))
    assert (code, out) == (2, "")
    assert err.startswith("error: prices.BTC: ")
    assert "finite" in err


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    code, out, err = run("evaluate", missing)
    assert (code, out) == (2, "")
    assert err == f"error: {missing}: no such file\n"


def test_unknown_account(book: Path) -> None:
    for args in (("evaluate", book, "--account", "zed"), ("what-if", book, "--account", "zed", "--compare")):
        code, out, err = run(*args)
        assert (code, out) == (2, "")
        assert err == "error: --account: no account with id 'zed'\n"


def test_what_if_withdraw_flat_weight_is_free_over_price_times_initial_weight(book: Path) -> None:
    usdt = run_json("what-if", book, "--account", "alice", "--withdraw", "USDT")
    # 920 free / (1 x 1)
    assert (usdt["asset"], usdt["held"], usdt["max_withdrawable"]) == ("USDT", "1000", "920")
    btc = run_json("what-if", book, "--account", "carol", "--withdraw", "BTC")
    # 8920 free / (20000 x 0.9)
    assert (btc["held"], btc["max_withdrawable"]) == ("0.5", "0.49555555555555555556")


def test_what_if_order_passes(book: Path) -> None:
    check = run_json("what-if", book, "--account", "alice", "--order", "BTC-PERP", "--size", "1", "--price", "20000")
    # long 1.5: IM = 1.5 x 20000 x 0.008 = 240, free = 1000 - 240 = 760;
    # each contract costs 160 of IM: (1000 / 160) - 0.5 = 5.75 more contracts at most.
    assert check["passes"] is True
    assert check["free_collateral_before"] == "920"
    assert (check["initial_margin_after"], check["free_collateral_after"]) == ("240", "760")
    assert check["max_size"] == "5.75"


def test_what_if_order_at_a_worse_price(book: Path) -> None:
    check = run_json("what-if", book, "--account", "alice", "--order", "BTC-PERP", "--size", "1", "--price", "20100")
    # buying 100 above the mark loses 100 per contract at once: free = 1000 - 100 - 240 = 660;
    # max: each contract costs 160 IM + 100 loss from 920 free: 920 / 260 = 3.538461538461538461538...
    assert check["free_collateral_after"] == "660"
    assert check["max_size"] == "3.5384615384615384615"


def test_what_if_order_fails_and_reports_max_size_signed(book: Path) -> None:
    check = run_json("what-if", book, "--account", "alice", "--order", "BTC-PERP", "--size", "-8", "--price", "20000")
    # short 7.5 after: IM = 7.5 x 160 = 1200 > 1000; at most 0.5 + 1000 / 160 = 6.75 contracts sold.
    assert check["passes"] is False
    assert check["reason"] == "free collateral would be negative"
    assert (check["initial_margin_after"], check["free_collateral_after"]) == ("1200", "-200")
    assert check["max_size"] == "-6.75"
    code, out, _ = run("what-if", book, "--account", "alice", "--order", "BTC-PERP", "--size", "-8", "--price", "20000")
    assert code == 0 and "fails" in out and "-6.75" in out


def test_what_if_compare(book: Path) -> None:
    comparison = run_json("what-if", book, "--account", "alice", "--compare")
    # One position: isolated margin gets all 1000 of collateral value, so both modes agree.
    for mode in ("cross", "isolated"):
        view = comparison[mode]
        assert (view["initial_margin"], view["maintenance_margin"], view["collateral_required"]) == ("80", "40", "80")
        assert view["liquidation_prices"] == {"BTC-PERP": "18072.289156626506024"}
    assert comparison["cross"]["isolated_margins"] == {}
    assert comparison["isolated"]["isolated_margins"] == {"BTC-PERP": "1000"}
    code, out, _ = run("what-if", book, "--account", "alice", "--compare")
    assert code == 0 and "collateral required" in out and "18072.28916" in out


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--order", "BTC-PERP", "--size", "1e", "--price", "20000"], "error: --size: not a decimal number: '1e'"),
        (["--order", "BTC-PERP", "--size", "0.1", "--price", "NaN"], "error: --price: must be a finite number"),
        (["--order", "BTC-PERP", "--size", "0.1", "--price", "-5"], "error: --price: must be positive"),
        (["--order", "BTC-PERP", "--size", "0", "--price", "5"], "error: --size: must not be zero"),
        (["--order", "BTC-PERP", "--price", "5"], "error: --size: required with --order"),
        (["--order", "ETH-PERP", "--size", "1", "--price", "5"], "error: --order: unknown instrument 'ETH-PERP'"),
        (["--size", "1"], "error: what-if: ask exactly one"),
        (["--withdraw", "USDT", "--size", "1"], "error: --size: only goes with --order"),
        (["--withdraw", "DOGE"], "error: --withdraw: unknown asset 'DOGE'"),
        (["--withdraw", "USDT", "--compare"], "error: what-if: ask exactly one"),
    ],
)
def test_what_if_bad_options(book: Path, options: list[str], expected: str) -> None:
    code, out, err = run("what-if", book, "--account", "alice", *options)
    assert (code, out) == (2, "")
    assert err.startswith(expected)


def test_sizes_are_read_exactly(book: Path) -> None:
    # 0.1 as a float is 0.1000000000000000055511151231257827...; the check must see 0.1.
    check = run_json("what-if", book, "--account", "alice", "--order", "BTC-PERP", "--size", "0.1", "--price", "20000")
    assert check["size"] == "0.1"
    assert check["initial_margin_after"] == "96"  # 0.6 x 20000 x 0.008


def test_schema_prints_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"version", "base", "accounts"} <= set(schema["properties"])


def test_version() -> None:
    assert run("version") == (0, f"crossmargin {__version__}\n", "")
    assert run("--version") == (0, f"crossmargin {__version__}\n", "")


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


def plain(text: str) -> str:
    """Terminal output without its colour codes."""
    return Text.from_ansi(text).plain


@pytest.mark.parametrize("terminal", ["0", "1"])
def test_stress_writes_both_files_and_never_cuts_a_figure(tmp_path: Path, terminal: str) -> None:
    result = runner.invoke(
        app,
        ["stress", "flash-crash", "--generate", "12", "--seed", "3", "--out", str(tmp_path)],
        env={"COLUMNS": "50", "TTY_COMPATIBLE": terminal},
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "summary.json"]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"), parse_float=_no_float)
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


def test_tables_on_a_narrow_terminal_keep_every_number_whole(book: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(book)], env={"COLUMNS": "40", "TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0, result.stderr
    table = plain(result.stdout)
    assert "…" not in table
    # alice's liquidation price 18072.289156... at ten digits; iso's 20318.7250996...; free collateral 920
    for figure in ("18072.28916", "20318.7251", "920", "8920"):
        assert figure in table, figure
