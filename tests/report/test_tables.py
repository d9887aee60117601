"""The terminal tables: figures to ten significant digits (percentages to four), ``-`` for none, the status in
red only when liquidatable, and each table's rows of the hand book (tests/cli/conftest.py)."""

from dataclasses import replace

from rich.console import Console, RenderableType

from crossmargin.margin.account import AccountResult
from crossmargin.margin.whatif import check_order, compare_modes
from crossmargin.model import Portfolio
from crossmargin.report.tables import (
    ALERT_STYLE,
    accounts_table,
    bench_table,
    cell,
    comparison_table,
    evaluation_view,
    order_table,
    owner_table,
    percent,
    status,
    withdrawal_table,
)
from tests.builders import GENERIC, D
from tests.report.conftest import olga_view


def text(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def rows(renderable: RenderableType) -> list[list[str]]:
    """The table's body lines (not its header) split on its column rules, blanks dropped."""
    return [[c.strip() for c in line.split("│") if c.strip()] for line in text(renderable).splitlines() if "│" in line]


def test_a_cell_has_ten_significant_digits_and_a_percent_four():
    # 18072.289156626506024 rounded half-even at the 10th digit: 18072.28916
    assert cell(D("18072.289156626506024")) == "18072.28916"
    assert (cell(D("1000.00")), cell(D("-0")), cell(None)) == ("1000", "0", "-")
    assert (percent(D("0.04")), percent(D("0.123456")), percent(None)) == ("4%", "12.35%", "-")


def test_the_status_is_red_only_when_liquidatable():
    assert (status(True).plain, status(True).style) == ("LIQUIDATABLE", ALERT_STYLE)
    assert (status(False).plain, status(False).style) == ("ok", "green")


def test_the_accounts_and_positions_of_the_hand_book(evaluated: dict[str, AccountResult]):
    found = rows(accounts_table("USD", list(evaluated.values())))
    # equity, IM, MM, free collateral, margin ratio, isolated IM, status; carol: 0.5 BTC x 20000 x 0.95 = 9500
    assert found == [
        ["alice", "1000", "80", "40", "920", "4%", "0", "ok"],
        ["iso", "500", "0", "0", "500", "0%", "40", "ok"],
        ["carol", "9500", "80", "40", "8920", "0.4211%", "0", "ok"],
    ]
    view = text(evaluation_view("USD", list(evaluated.values())))
    assert "Positions of alice (USD)" in view and "Positions of iso (USD)" in view
    assert "18072.28916" in view and "20318.72510" not in view and "20318.7251" in view


def test_the_what_if_tables(hand: Portfolio):
    alice = hand.accounts[0]
    assert rows(withdrawal_table("alice", "USDT", D(1000), D(920))) == [
        ["account", "alice"], ["held", "1000"], ["max withdrawable", "920"],
    ]  # fmt: skip
    check = check_order(alice, hand, GENERIC, "BTC-PERP", D(-8), D(20000))
    order = {row[0]: row[1] for row in rows(order_table("USD", "alice", check))}
    assert (order["order"], order["check"], order["max size"], order["IM after"]) == (
        "-8 BTC-PERP @ 20000", "fails", "-6.75", "1200",
    )  # fmt: skip
    comparison = rows(comparison_table("USD", "alice", compare_modes(alice, hand, GENERIC)))
    assert ["collateral required", "80", "80"] in comparison
    assert ["BTC-PERP isolated margin", "-", "1000"] in comparison
    assert ["BTC-PERP liq. price", "18072.28916", "18072.28916"] in comparison


def test_the_bench_table_writes_floats_to_three_places_and_counts_whole():
    table = rows(bench_table({"accounts": 100000, "positions": 408073, "tick_ms": 1.23456, "build_s": 1234.5}))
    assert table == [["accounts", "100,000"], ["positions", "408,073"], ["tick_ms", "1.235"], ["build_s", "1,234.500"]]


def test_an_owners_table_totals_each_underlying_and_gives_each_venues_first_liquidation():
    assert rows(owner_table("USD", olga_view())) == [
        ["BTC", "all venues", "60000", "90000", "30000", "0.5"],
        ["binance-usdm", "60000", "60000", "1", "52000", "-13.33%", "olga-b"],  # 52000 / 60000 - 1 = -13.33 %
        ["okx", "30000", "-30000", "-0.5", "64000", "6.667%", "olga-o"],  # 64000 / 60000 - 1 = +6.667 %
        ["ETH", "all venues", "3000", "3000", "3000", "1"],
        ["scenario-margin", "3000", "3000", "1", "not solved", "-", "-"],
    ]


def test_a_venue_liquidating_an_owner_now_or_never():
    view = olga_view()
    now = replace(view.underlyings[0].venues[0], scale=D(1), liquidation_price=D(60000))
    never = replace(view.underlyings[0].venues[1], scale=None, liquidation_price=None, account=None)
    btc = replace(view.underlyings[0], venues=(now, never))
    found = rows(owner_table("USD", replace(view, underlyings=(btc,))))
    assert found[1] == ["binance-usdm", "60000", "60000", "1", "60000", "liquidatable now", "olga-b"]
    assert found[2] == ["okx", "30000", "-30000", "-0.5", "-", "-", "-"]
    assert "no positions" in text(owner_table("USD", replace(view, underlyings=())))


def test_a_placed_evaluation_names_venues_and_owners(evaluated: dict[str, AccountResult]):
    results = list(evaluated.values())
    found = rows(accounts_table("USD", results, ["generic", "okx", "generic"]))
    assert [row[:3] for row in found] == [
        ["alice", "generic", "alice"],
        ["iso", "okx", "iso"],
        ["carol", "generic", "carol"],
    ]
    view = text(evaluation_view("USD", results, ["generic", "okx", "generic"], [olga_view()]))
    assert "Positions of iso at okx (USD)" in view and "Owner olga (USD): olga-b, olga-o" in view
