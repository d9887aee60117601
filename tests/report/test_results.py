"""The versioned result documents (``evaluate --json``, ``what-if --json``): every figure a decimal string of the
hand book's figures (tests/cli/conftest.py), none as null, an isolated position carrying its own pool, and an
order's largest size signed like the order."""

from typing import Any

from crossmargin.margin.account import AccountResult
from crossmargin.margin.whatif import check_order, compare_modes
from crossmargin.model import Portfolio
from crossmargin.report.results import (
    RESULT_VERSION,
    account_dict,
    comparison_dict,
    evaluation_dict,
    number,
    order_dict,
    owner_dict,
    signed_max_size,
    withdrawal_dict,
)
from tests.builders import GENERIC, D
from tests.report.conftest import olga_view


def test_a_figure_is_a_decimal_string_and_none_stays_none():
    assert (number(D("1000.0")), number(D("-0")), number(D("1E-7")), number(None)) == ("1000", "0", "0.0000001", None)


def test_an_account_by_hand(evaluated: dict[str, AccountResult]):
    alice: Any = account_dict(evaluated["alice"])
    # equity 1000, IM 0.5 x 20000 x 0.008 = 80, MM 40, free 920, margin ratio 40 / 1000
    figures = ("equity", "initial_margin", "maintenance_margin", "free_collateral", "margin_ratio")
    assert [alice[k] for k in figures] == ["1000", "80", "40", "920", "0.04"]
    assert (alice["id"], alice["liquidatable"], alice["isolated_initial_margin"]) == ("alice", False, "0")
    assert alice["collateral"] == [
        {"asset": "USDT", "amount": "1000", "price": "1", "value": "1000", "initial_value": "1000"}
    ]
    (leg,) = alice["positions"]
    # 1000 + 0.5 (P - 20000) - 0.5 P x 0.004 = 0: P = 9000 / 0.498, 20 significant digits
    assert (leg["notional"], leg["liquidation_price"], leg["isolated"]) == ("10000", "18072.289156626506024", False)
    assert "isolated_margin" not in leg


def test_an_isolated_position_carries_its_own_pool(evaluated: dict[str, AccountResult]):
    iso: Any = account_dict(evaluated["iso"])
    assert (iso["equity"], iso["initial_margin"], iso["isolated_initial_margin"], iso["margin_ratio"]) == (
        "500", "0", "40", "0",
    )  # fmt: skip
    (leg,) = iso["positions"]
    # its pool: 100 USDT against 5000 of notional: IM 40, MM 20, free 60, ratio 20 / 100
    assert [leg[k] for k in ("isolated_margin", "isolated_margin_value", "equity", "free_collateral")] == [
        "100", "100", "100", "60",
    ]  # fmt: skip
    assert (leg["margin_ratio"], leg["liquidatable"], leg["isolated"]) == ("0.2", False, True)


def test_the_evaluation_document_names_its_version_base_and_rulebook(evaluated: dict[str, AccountResult]):
    document: Any = evaluation_dict("USD", "generic", list(evaluated.values()))
    assert (document["version"], document["base"], document["rulebook"]) == (RESULT_VERSION, "USD", "generic") == (
        1, "USD", "generic",
    )  # fmt: skip
    assert [a["id"] for a in document["accounts"]] == ["alice", "iso", "carol"]


def test_the_what_if_documents(hand: Portfolio):
    alice = hand.accounts[0]
    assert withdrawal_dict("USD", "alice", "USDT", D(1000), D(920)) == {
        "version": 1, "base": "USD", "account": "alice", "asset": "USDT", "held": "1000", "max_withdrawable": "920",
    }  # fmt: skip
    # selling 8: short 7.5 needs 7.5 x 160 = 1200 > 1000; at most 0.5 + 1000 / 160 = 6.75 sold, signed negative
    check = check_order(alice, hand, GENERIC, "BTC-PERP", D(-8), D(20000))
    assert signed_max_size(check) == D("-6.75")
    order: Any = order_dict("USD", "alice", check)
    assert (order["passes"], order["max_size"], order["initial_margin_after"], order["size"]) == (
        False, "-6.75", "1200", "-8",
    )  # fmt: skip
    comparison: Any = comparison_dict("USD", "alice", compare_modes(alice, hand, GENERIC))
    assert comparison["isolated"]["isolated_margins"] == {"BTC-PERP": "1000"}
    assert comparison["cross"]["collateral_required"] == "80"


def test_an_order_that_no_size_fails_has_no_max_size(hand: Portfolio):
    # buying at 10000 against a mark of 20000: each contract adds 10000 of PnL for 160 of IM, so no size fails
    check = check_order(hand.accounts[0], hand, GENERIC, "BTC-PERP", D(1), D(10000))
    assert check.passes and check.max_size is None and signed_max_size(check) is None
    assert order_dict("USD", "alice", check)["max_size"] is None


def test_an_owner_view_as_json():
    view: Any = owner_dict(olga_view())
    assert (view["owner"], view["accounts"]) == ("olga", ["olga-b", "olga-o"])
    btc = view["underlyings"]["BTC"]
    assert (btc["price"], btc["notional"], btc["net_notional"], btc["delta"]) == ("60000", "90000", "30000", "0.5")
    assert btc["venues"]["binance-usdm"] == {
        "notional": "60000",
        "net_notional": "60000",
        "delta": "1",
        "liquidation_price": "52000",
        "move": "-0.13333333333333333333",  # 52000 / 60000 - 1 = -2 / 15, to 20 significant digits
        "account": "olga-b",
        "solved": True,
    }
    assert btc["venues"]["okx"]["move"] == "0.066666666666666666667"  # 64000 / 60000 - 1 = 1 / 15
    grid = view["underlyings"]["ETH"]["venues"]["scenario-margin"]
    assert (grid["liquidation_price"], grid["move"], grid["account"], grid["solved"]) == (None, None, None, False)


def test_an_evaluation_with_venues_adds_each_accounts_venue_and_owner_and_the_owners(
    evaluated: dict[str, AccountResult],
):
    results = list(evaluated.values())
    plain: Any = evaluation_dict("USD", "generic", results)
    assert "owners" not in plain and all("venue" not in a for a in plain["accounts"])
    placed: Any = evaluation_dict("USD", "generic", results, ["generic", "okx", "generic"], [olga_view()])
    assert [(a["id"], a["venue"], a["owner"]) for a in placed["accounts"]] == [
        ("alice", "generic", "alice"),
        ("iso", "okx", "iso"),
        ("carol", "generic", "carol"),
    ]
    assert placed["owners"] == [owner_dict(olga_view())]
    stripped = [{k: v for k, v in a.items() if k not in ("venue", "owner")} for a in placed["accounts"]]
    assert stripped == plain["accounts"]
