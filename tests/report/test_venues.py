"""The rulebook list and the venue comparison: one outcome per rulebook, an account's figures (initial margin
with its isolated positions'), hedge-mode legs named apart, and a rulebook that could not evaluate the book
showing why instead of figures."""

from typing import Any

from rich.console import Console
from rich.table import Table

from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.model import Account
from crossmargin.report.results import owner_dict
from crossmargin.report.venues import VenueOutcome, comparison_dict, comparison_view, rulebooks_dict, rulebooks_table
from crossmargin.venues import available, rulebook
from tests.builders import GENERIC, position
from tests.report.conftest import hand_book, olga_view


def test_an_outcome_finds_an_account_or_has_none(evaluated: dict[str, AccountResult]):
    outcome = VenueOutcome("generic", tuple(evaluated.values()))
    assert outcome.account("iso") is evaluated["iso"] and outcome.account("zed") is None
    assert VenueOutcome("okx", error="assets: no BTC").account("alice") is None


def test_the_rulebook_list_names_each_ones_tables_and_sources():
    books = [rulebook(name) for name in available()]
    listed: Any = rulebooks_dict(books)
    assert listed["version"] == 1
    entries = listed["rulebooks"]
    assert [e["name"] for e in entries] == list(available())
    okx = next(e for e in entries if e["name"] == "okx")
    assert okx["instruments"] == sorted(rulebook("okx").instruments)
    assert okx["sources"][0]["where"] == rulebook("okx").sources[0].where
    console = Console(width=400, record=True, color_system=None)
    console.print(rulebooks_table(books))
    shown = console.export_text()
    assert all(name in shown for name in available())


def test_the_comparison_by_account_and_rulebook(evaluated: dict[str, AccountResult]):
    outcomes = [VenueOutcome("generic", tuple(evaluated.values())), VenueOutcome("okx", error="assets: no BTC")]
    document: Any = comparison_dict("USD", ["iso", "alice"], outcomes)
    assert document["rulebooks"] == ["generic", "okx"]
    iso, alice = document["accounts"]
    # iso's initial margin is its isolated position's: 40; its equity the cross pool's 500
    assert iso["by_rulebook"]["generic"]["initial_margin"] == "40"
    assert iso["by_rulebook"]["generic"]["equity"] == "500"
    assert alice["by_rulebook"]["generic"]["liquidation_prices"] == {"BTC-PERP": "18072.289156626506024"}
    assert alice["by_rulebook"]["okx"] == {"error": "assets: no BTC"}
    (table,) = comparison_view("USD", ["alice"], outcomes).renderables
    assert isinstance(table, Table)
    assert table.caption == "not evaluated - okx: assets: no BTC"


def test_hedge_mode_legs_are_named_apart():
    portfolio = hand_book()
    hedged = Account("h", {"USDT": portfolio.accounts[0].balances["USDT"]},
                     (position("BTC-PERP", "1", "20000"), position("BTC-PERP", "-1", "20000")))  # fmt: skip
    result = evaluate_account(hedged, portfolio, GENERIC)
    document: Any = comparison_dict("USD", ["h"], [VenueOutcome("generic", (result,))])
    legs = document["accounts"][0]["by_rulebook"]["generic"]["liquidation_prices"]
    assert sorted(legs) == ["BTC-PERP long", "BTC-PERP short"]
    console = Console(width=400, record=True, color_system=None)
    console.print(comparison_view("USD", ["h"], [VenueOutcome("generic", (result,))]))
    assert "BTC-PERP long liq. price" in console.export_text()


def test_the_comparison_of_a_placed_book_ends_with_its_owners(evaluated: dict[str, AccountResult]):
    outcomes = [VenueOutcome("generic", tuple(evaluated.values()))]
    assert "owners" not in comparison_dict("USD", ["alice"], outcomes)
    document: Any = comparison_dict("USD", ["alice"], outcomes, [olga_view()])
    assert document["owners"] == [owner_dict(olga_view())]
    *_, owner = comparison_view("USD", ["alice"], outcomes, [olga_view()]).renderables
    assert isinstance(owner, Table) and owner.title == "Owner olga (USD): olga-b, olga-o"
