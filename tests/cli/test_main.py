"""``crossmargin`` commands end to end (evaluate, what-if, schema, version, rulebooks, compare, bench) on the
hand book (tests/cli/conftest.py: its figures worked by hand) and the shipped examples, and the helpers the
commands share: exact numbers from the command line, one what-if question, errors named by their option.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin import __version__
from crossmargin.cli.main import (
    Comparison,
    Order,
    Withdrawal,
    _event_line,
    _json_text,
    app,
    question_from_options,
)
from crossmargin.model import InputError
from crossmargin.venues import available
from tests.cli.conftest import (
    EXAMPLES,
    HAND_BOOK,
    assert_numbers_are_decimal_strings,
    by_id,
    plain,
    run,
    run_json,
    runner,
)


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


def test_tables_on_a_narrow_terminal_keep_every_number_whole(book: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(book)], env={"COLUMNS": "40", "TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0, result.stderr
    table = plain(result.stdout)
    assert "…" not in table
    # alice's liquidation price 18072.289156... at ten digits; iso's 20318.7250996...; free collateral 920
    for figure in ("18072.28916", "20318.7251", "920", "8920"):
        assert figure in table, figure


# --------------------------------------------------------------------------------- rulebooks, compare, bench

# The book (base USD): 1000 USDT, long 0.5 BTC-PERP (contract size 1) from 20000 marked at 20000, no tables of
# its own for BTC-PERP beyond what the contract is, so every venue's tiers apply:
#
# - generic needs the document's tiers, so the document gives one: mmr 0.004, imr 0.008 -> MM 40, IM 80.
# - hyperliquid: BTC at 40x max leverage up to 150M, maintenance half of initial: imr 0.025, mmr 0.0125
#   -> IM 10000 x 0.025 = 250, MM 125; its liquidation price moves BTC-PERP alone:
#   1000 + 0.5 (P - 20000) - 0.5 P x 0.0125 = 0 -> 0.49375 P = 9000 -> P = 18227.848101265822785 (20 digits).
VENUE_BOOK = """\
version: 1
base: USD
assets:
  USDT: {weight: 1}
  USDC: {weight: 1}
instruments:
  BTC-PERP:
    kind: perpetual
    underlying: BTC
    settle: USDT
    contract_size: 1
    tiers: [{max_notional: null, mmr: 0.004, imr: 0.008}]
prices: {USDT: 1, USDC: 1}
marks: {BTC-PERP: 20000}
accounts:
  - id: alice
    balances: {USDT: 1000}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
"""


def test_rulebooks_lists_every_bundled_rulebook_with_its_tables():
    code, out, err = run("rulebooks", "--json")
    assert code == 0, err
    listed = json.loads(out)["rulebooks"]
    assert [b["name"] for b in listed] == list(available())
    assert {"generic", "binance-usdm", "binance-pm", "bybit-uta", "okx", "hyperliquid", "dydx-v4", "drift-v2"} <= {
        b["name"] for b in listed
    }
    for book in listed:
        if book["name"] not in ("generic", "scenario-margin"):  # these two take every table from the document
            assert "BTC-PERP" in book["instruments"] and book["sources"], book["name"]


def test_compare_shows_the_book_under_every_rulebook(tmp_path: Path):
    path = tmp_path / "book.yaml"
    path.write_text(VENUE_BOOK)
    code, out, err = run("compare", str(path), "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    assert document["rulebooks"] == list(available())
    (alice,) = document["accounts"]
    generic = alice["by_rulebook"]["generic"]
    assert (generic["maintenance_margin"], generic["initial_margin"], generic["equity"]) == ("40", "80", "1000")
    hyperliquid = alice["by_rulebook"]["hyperliquid"]
    assert (hyperliquid["maintenance_margin"], hyperliquid["initial_margin"]) == ("125", "250")
    assert hyperliquid["liquidation_prices"]["BTC-PERP"] == "18227.848101265822785"
    for name, figures in alice["by_rulebook"].items():
        assert "error" in figures or Decimal(figures["maintenance_margin"]) > 0, name


def test_compare_tables_and_unknown_account(tmp_path: Path):
    path = tmp_path / "book.yaml"
    path.write_text(VENUE_BOOK)
    code, out, _ = run("compare", str(path))
    assert code == 0 and "hyperliquid" in out and "BTC-PERP liq. price" in out
    code, out, err = run("compare", str(path), "--account", "bob")
    assert code == 2 and out == "" and "--account" in err


def test_unknown_rulebook_is_an_error_naming_the_field(tmp_path: Path):
    path = tmp_path / "book.yaml"
    path.write_text(VENUE_BOOK.replace("base: USD", "base: USD\nrulebook: binance"))
    code, out, err = run("evaluate", str(path))
    assert code == 2 and out == ""
    assert "rulebook" in err and "binance-usdm" in err


def test_bench_json_has_the_documented_keys():
    code, out, err = run("bench", "--accounts", "300", "--repeats", "1", "--json")
    assert code == 0, err
    figures = json.loads(out)
    keys = {"accounts", "positions", "full_revalue_ms", "plain_read_ms", "tick_ms", "screen_ms"}
    assert keys | {"bytes_per_position", "exact_account_us"} <= set(figures)
    assert figures["accounts"] == 300 and figures["positions"] > 300


# --------------------------------------------------------------------------------- the commands' helpers


def test_the_what_if_options_ask_exactly_one_question():
    assert question_from_options("USDT", None, None, None, False) == Withdrawal("USDT")
    assert question_from_options(None, "BTC-PERP", "-2", "20000", False) == Order(
        "BTC-PERP", Decimal(-2), Decimal(20000)
    )
    assert question_from_options(None, None, None, None, True) == Comparison()
    for options, field, message in (
        ((None, None, None, None, False), "what-if", "(got none)"),
        (("USDT", "BTC-PERP", None, None, True), "what-if", "(got --withdraw, --order, --compare)"),
        ((None, "BTC-PERP", "1", None, False), "--price", "required with --order"),
        ((None, None, None, "5", True), "--price", "only goes with --order"),
    ):
        with pytest.raises(InputError) as err:
            question_from_options(*options)
        assert err.value.field == field and message in err.value.message


def test_a_replay_event_reads_as_one_line():
    event = {"t": Decimal("1.50"), "event": "fill", "price": Decimal("20000.10"), "sizes": [1, Decimal("2.5")]}
    # numbers as decimal strings (trailing zeros dropped), nested values as JSON with decimal strings
    assert _event_line({**event, "who": "alice"}) == 't=1.5 fill: price=20000.1, sizes=[1, "2.5"], who=alice'
    assert _json_text(event) == '{"t": "1.5", "event": "fill", "price": "20000.1", "sizes": [1, "2.5"]}'
