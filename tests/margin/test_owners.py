"""One person's accounts at several venues: exposure, delta and each venue's first liquidation price, against
figures worked by hand from the bundled tables.

The two venues (src/crossmargin/venues/data):

- binance-usdm: BTC-PERP is 1 BTC a contract; notional brackets 0.4 % up to 50,000 USDT (maintenance amount 0),
  then 0.5 % up to 600,000 less 50; liquidatable when equity < MM (strict); USDT at weight 1.
- okx: BTC-PERP is 0.01 BTC a contract, bracketed by size: 0.4 % up to 50 BTC, plus the 0.05 % liquidation fee in
  maintenance; liquidatable when equity <= MM; a position's uPnL joins its settle coin's balance (USDT weight 1
  below 5,000,000); BTC held counts at 0.98 up to 20 BTC.

One market: USDT 1, BTC 60000, BTC-PERP marked 60000 at both venues.
"""

from decimal import Decimal
from typing import Any

import pytest

from crossmargin.margin.account import cross_pool
from crossmargin.margin.owners import OwnerView, VenueBook, VenueExposure, owner_views, position_delta
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.venues import rulebook
from tests.builders import D, div

MARKET: dict[str, Any] = {"prices": {"USDT": 1, "BTC": 60000}, "marks": {"BTC-PERP": 60000}}


def venue(name: str, accounts: list[dict[str, Any]], **document: Any) -> VenueBook:
    """The accounts at venue ``name``, its tables filled in, at the shared market."""
    book = rulebook(name)
    raw = {"version": 1, "base": "USD", "rulebook": name, **MARKET, "accounts": accounts, **document}
    return VenueBook(portfolio_from_document(book.apply_to(raw)), book.rules)


def views(*books: VenueBook) -> dict[str, OwnerView]:
    found = owner_views([(account, book) for book in books for account in book.portfolio.accounts])
    return {view.owner: view for view in found}


def long_btc(account_id: str, usdt: int, owner: str | None = None) -> dict[str, Any]:
    """1 BTC-PERP long at 60000 (1 BTC at binance-usdm) on ``usdt`` USDT."""
    account: dict[str, Any] = {
        "id": account_id,
        "balances": {"USDT": usdt},
        "positions": [{"instrument": "BTC-PERP", "size": 1, "entry_price": 60000}],
    }
    return account if owner is None else {**account, "owner": owner}


def near(x: Decimal | None, y: Decimal | int) -> bool:
    """Equal to 40 significant digits (a solved factor is one division rounded at the 50th digit)."""
    return x is not None and abs(x - Decimal(y)) <= abs(Decimal(y)) * Decimal("1e-40")


def part(view: OwnerView, underlying: str, venue_name: str) -> VenueExposure:
    (exposure,) = [u for u in view.underlyings if u.underlying == underlying]
    (found,) = [p for p in exposure.venues if p.venue == venue_name]
    return found


OLGA_BINANCE = long_btc("olga-binance", 8210, "olga")
OLGA_OKX = {
    "id": "olga-okx",
    "owner": "olga",
    "balances": {"USDT": 2144},
    "positions": [{"instrument": "BTC-PERP", "size": -50, "entry_price": 60000}],  # 50 x 0.01 = 0.5 BTC short
}


def test_an_owner_long_at_one_venue_and_short_at_another():
    olga = views(venue("binance-usdm", [OLGA_BINANCE]), venue("okx", [OLGA_OKX]))["olga"]
    assert olga.accounts == ("olga-binance", "olga-okx")
    (btc,) = olga.underlyings
    # notional: 1 x 1 x 60000 = 60000 long at binance-usdm, 50 x 0.01 x 60000 = 30000 short at okx
    assert (btc.underlying, btc.price) == ("BTC", D(60000))
    assert (btc.notional, btc.net_notional) == (D(90000), D(30000))  # 60000 + 30000; 60000 - 30000
    assert btc.delta == D("0.5")  # 1 x 1 - 50 x 0.01 = 1 - 0.5
    binance, okx = btc.venues
    assert (binance.venue, binance.notional, binance.net_notional, binance.delta) == (
        "binance-usdm",
        D(60000),
        D(60000),
        D(1),
    )
    assert (okx.venue, okx.notional, okx.net_notional, okx.delta) == ("okx", D(30000), D(-30000), D("-0.5"))
    # binance-usdm, BTC falling to P (bracket 2 while 50000 < P <= 600000): equity 8210 + (P - 60000) against
    # MM 0.005 P - 50; liquidatable once 8210 + P - 60000 < 0.005 P - 50, i.e. 0.995 P < 51740: P = 52000.
    # Rising, equity gains 1 a unit of P against MM's 0.005: never.
    assert near(binance.liquidation_price, 52000) and near(binance.scale, div(52000, 60000))
    assert (binance.account, binance.solved) == ("olga-binance", True)
    # okx, BTC rising to P: equity 2144 + 0.5 (60000 - P) = 32144 - 0.5 P (USDT weight 1) against MM
    # 0.5 P x (0.004 + 0.0005) = 0.00225 P; liquidatable once 32144 - 0.5 P <= 0.00225 P: P = 32144 / 0.50225
    # = 64000. Falling, equity gains and MM shrinks: never.
    assert near(okx.liquidation_price, 64000) and near(okx.scale, div(64000, 60000))
    assert (okx.account, okx.solved) == ("olga-okx", True)


def test_the_first_liquidation_is_a_second_route_of_the_exact_pool_check():
    # just above 52000 the binance-usdm account is healthy, just below liquidatable (evaluate_pool at moved prices)
    book = venue("binance-usdm", [OLGA_BINANCE])
    account = book.portfolio.accounts[0]
    for price, liquidatable in ((D("52000.001"), False), (D("51999.999"), True)):
        market = book.portfolio.market.moved({"BTC": price}, {"BTC-PERP": price})
        pool = evaluate_pool(cross_pool(account), book.portfolio.with_market(market), book.rules)
        assert pool.liquidatable is liquidatable, price


def test_a_venue_liquidates_an_owner_first_through_the_nearest_of_their_accounts():
    # ivan-main: 0.995 P = 60000 - 50 - 8210 = 51740 -> P = 52000; ivan-hot: 0.995 P = 59950 - 5225 = 54725
    # -> P = 55000, nearer to 60000 (-8.3 % against -13.3 %)
    ivan = views(venue("binance-usdm", [long_btc("ivan-main", 8210, "ivan"), long_btc("ivan-hot", 5225, "ivan")]))
    first = part(ivan["ivan"], "BTC", "binance-usdm")
    assert near(first.liquidation_price, 55000) and first.account == "ivan-hot"
    assert (first.notional, first.delta) == (D(120000), D(2))


def test_an_owner_liquidatable_now_is_liquidated_at_todays_price():
    # 200 USDT against MM 60000 x 0.005 - 50 = 250: liquidatable at 60000 itself
    liz = part(views(venue("binance-usdm", [long_btc("liz", 200)]))["liz"], "BTC", "binance-usdm")
    assert (liz.scale, liz.liquidation_price, liz.account) == (D(1), D(60000), "liz")


def test_a_venue_where_the_owner_only_holds_the_underlying_as_collateral():
    # cora-okx holds 1 BTC against 50000 USDT owed, no position: equity 0.98 x P - 50000 (BTC weight 0.98,
    # USDT liability weight 1), no requirement, so liquidatable once it is below 0: P = 50000 / 0.98
    cora_okx = {"id": "cora-okx", "owner": "cora", "balances": {"BTC": 1, "USDT": -50000}}
    cora = views(venue("binance-usdm", [long_btc("cora", 8210)]), venue("okx", [cora_okx]))["cora"]
    okx = part(cora, "BTC", "okx")
    assert (okx.notional, okx.net_notional, okx.delta) == (D(0), D(0), D(0))
    assert near(okx.liquidation_price, div(50000, "0.98")) and okx.account == "cora-okx"
    assert near(part(cora, "BTC", "binance-usdm").liquidation_price, 52000)
    assert cora.underlyings[0].delta == 1  # positions only: the BTC held is collateral


def test_an_owner_is_an_account_id_unless_named():
    solo = long_btc("solo", 8210)
    joined = long_btc("joined", 5225, owner="solo")  # names the other account's id as its owner
    other = long_btc("other", 8210)
    found = views(venue("binance-usdm", [solo, other, joined]))
    assert {name: view.accounts for name, view in found.items()} == {"solo": ("solo", "joined"), "other": ("other",)}


def test_an_inverse_contracts_delta_is_its_quote_notional_over_the_mark():
    # okx BTCUSD-PERP: 100 USD a contract, settled in BTC. Short 300: 300 x 100 / 60000 = 0.5 BTC short, a
    # notional of 0.5 BTC x 60000 = 30000 USD
    coin = {
        "id": "coin",
        "balances": {"BTC": 1},
        "positions": [{"instrument": "BTCUSD-PERP", "size": -300, "entry_price": 60000}],
    }
    book = venue("okx", [coin], marks={"BTC-PERP": 60000, "BTCUSD-PERP": 60000})
    assert position_delta(book.portfolio.accounts[0].positions[0], book.portfolio) == D("-0.5")
    okx = part(views(book)["coin"], "BTC", "okx")
    assert (okx.notional, okx.net_notional, okx.delta) == (D(30000), D(-30000), D("-0.5"))


def test_a_venue_whose_margin_the_solver_cannot_follow_is_not_solved():
    # scenario-margin brings no tables: the document gives BTC-PERP
    perp = {"kind": "perpetual", "underlying": "BTC", "settle": "USDT", "contract_size": 1}
    perp["tiers"] = [{"max_notional": None, "mmr": 0.004, "imr": 0.008}]
    book = venue(
        "scenario-margin", [long_btc("grid", 8210)], assets={"USDT": {"weight": 1}}, instruments={"BTC-PERP": perp}
    )
    grid = part(views(book)["grid"], "BTC", "scenario-margin")
    assert (grid.solved, grid.scale, grid.liquidation_price, grid.account) == (False, None, None, None)
    assert (grid.notional, grid.delta) == (D(60000), D(1))


def test_an_underlying_an_owner_trades_needs_a_price():
    # a linear BTC-PERP settled in USDT needs no BTC price to be margined, but the owner view is in BTC's price
    book = rulebook("binance-usdm")
    raw = {"version": 1, "base": "USD", "prices": {"USDT": 1}, "marks": {"BTC-PERP": 60000}}
    portfolio = portfolio_from_document(book.apply_to({**raw, "accounts": [long_btc("nobtc", 8210)]}))
    with pytest.raises(InputError) as err:
        views(VenueBook(portfolio, book.rules))
    assert err.value.field == "prices.BTC" and "nobtc" in err.value.message


def test_an_owner_without_positions_has_no_underlyings():
    (cash,) = views(venue("binance-usdm", [{"id": "cash", "balances": {"USDT": 10}}])).values()
    assert (cash.accounts, cash.underlyings) == (("cash",), ())
