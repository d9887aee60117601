"""What-if answers worked by hand, and their properties on random books."""

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.account import cross_pool, evaluate_account
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.whatif import check_order, compare_modes, max_withdrawable
from crossmargin.model import Asset, Portfolio, exact
from tests.builders import BINANCE_LIKE, GENERIC, D, banded, book, div, inverse, linear, position, tiers
from tests.margin.test_properties import random_books

USDT = Asset.simple("USDT")
BTC = banded(
    "BTC", [("0", "0.95"), ("10", "0.9"), ("50", "0.8")], initial=[("0", "0.9"), ("10", "0.85"), ("50", "0.7")]
)


def usdt_book(balance: str, positions=(), table=None) -> Portfolio:
    instrument = linear("BTC-PERP") if table is None else linear("BTC-PERP", table=table)
    return book(
        [USDT, BTC],
        [instrument],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000"},
        [("a", {"USDT": balance}, list(positions))],
    )


def order(portfolio: Portfolio, size: str, price: str = "20000"):
    return check_order(portfolio.accounts[0], portfolio, GENERIC, "BTC-PERP", D(size), D(price))


def test_max_withdrawable_across_weight_bands():
    portfolio = book(
        [USDT, BTC],
        [linear("BTC-PERP")],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000"},
        [("a", {"USDT": "1000", "BTC": "12"}, [position("BTC-PERP", "50", "20000")])],
    )
    account = portfolio.accounts[0]
    # initial collateral 1000 + (10 x 0.9 + 2 x 0.85) x 20000 = 215000; IM 50 x 20000 x 0.008 = 8000
    # free collateral 207000 covers all 1000 USDT
    assert max_withdrawable(account, portfolio, GENERIC, "USDT") == D(1000)
    # BTC: keep weighted 10.7 - 207000/20000 = 0.35 BTC-equivalent = 0.35 / 0.9 BTC held; withdraw the rest
    expected = div(D(12) * 9 - D("3.5"), 9)  # 12 - 0.35/0.9 = (108 - 3.5) / 9
    assert max_withdrawable(account, portfolio, GENERIC, "BTC") == expected
    # and after that withdrawal free collateral is exactly used up: 0.35 x 20000 + 1000 - 8000 = 0
    with exact():
        left = replace(account, balances={"USDT": D(1000), "BTC": D(12) - expected})
    assert abs(evaluate_pool(cross_pool(left), portfolio, GENERIC).free_collateral) < D("1E-40")


def test_nothing_withdrawable_below_initial_margin():
    portfolio = usdt_book("100", [position("BTC-PERP", "5", "20000")])  # IM 800 > 100
    assert max_withdrawable(portfolio.accounts[0], portfolio, GENERIC, "USDT") == 0


def test_order_passes_and_max_size_single_tier():
    portfolio = usdt_book("1000")
    # buy 5 at the mark: IM 5 x 20000 x 0.008 = 800 <= 1000
    check = order(portfolio, "5")
    assert check.passes and check.free_collateral_after == D(200)
    # free collateral after x contracts: 1000 - 160 x  ->  max 6.25
    assert check.max_size == D("6.25")
    # buying above the mark loses 100 per contract at once: 1000 - 260 x -> max 1000/260
    above = order(portfolio, "4", "20100")
    assert not above.passes
    assert abs(above.max_size - div(1000, 260)) < D("1E-40")


def test_max_size_crosses_a_tier_boundary():
    # BINANCE_LIKE: up to 50000 notional (2.5 BTC) imr 0.008, then 0.01 up to 250000 (12.5 BTC)
    # 1000 USDT: 1000 - 160 x >= 0 holds to 2.5 (600 left); then 1000 - 200 x -> max 5
    assert order(usdt_book("1000", table=BINANCE_LIKE), "1").max_size == D(5)
    # 100000 USDT: through 12.5 (100000 - 2500 = 97500 left), then 0.02: 100000 - 400 x -> 250
    assert order(usdt_book("100000", table=BINANCE_LIKE), "1").max_size == D(250)


def test_top_tier_limit_caps_the_order():
    table = tiers(("50000", "0.004", "0.008"), ("100000", "0.005", "0.01"))
    portfolio = usdt_book("1000000", table=table)
    check = order(portfolio, "6")  # 120000 > 100000
    assert not check.passes and "max_notional" in check.reason
    assert check.max_size == D(5)


def test_reducing_always_passes_and_max_size_counts_the_flip():
    # 100 USDT against IM 800: free collateral -700, yet selling 3 reduces the position
    portfolio = usdt_book("100", [position("BTC-PERP", "5", "20000")])
    assert order(portfolio, "-3").passes
    assert not order(portfolio, "1").passes
    assert order(portfolio, "1").max_size == 0
    # selling: 5 close (no PnL at entry = mark), then short y with 100 - 160 y >= 0 -> y = 0.625
    assert order(portfolio, "-1").max_size == D("5.625")


def test_inverse_order_max_size():
    portfolio = book(
        [Asset.simple("BTC")],
        [inverse("BTCUSD", size="100")],
        {"BTC": "50000"},
        {"BTCUSD": "50000"},
        [("a", {"BTC": "1"}, [])],
    )
    # x contracts: notional 100 x / 50000 BTC, IM 0.01 of it = 0.00002 x BTC = x USD; free 50000 - x
    check = check_order(portfolio.accounts[0], portfolio, GENERIC, "BTCUSD", D(100), D(50000))
    assert check.passes and check.max_size == D(50000)


def test_compare_modes_by_hand():
    # 1000 USDT; long 1 BTC-PERP at 20000 (+0 uPnL), short 1 BTC-FUT from 20000, mark 20500 (-500 uPnL)
    portfolio = book(
        [USDT],
        [linear("BTC-PERP"), linear("BTC-FUT")],
        {"USDT": "1"},
        {"BTC-PERP": "20000", "BTC-FUT": "20500"},
        [("a", {"USDT": "1000"}, [position("BTC-PERP", "1", "20000"), position("BTC-FUT", "-1", "20000")])],
    )
    comparison = compare_modes(portfolio.accounts[0], portfolio, GENERIC)
    # IM: 20000 x 0.008 = 160 and 20500 x 0.008 = 164
    assert comparison.cross.initial_margin == comparison.isolated.initial_margin == D(324)
    # cross: max(0, 324 - (-500)) = 824; isolated: max(0, 160 - 0) + max(0, 164 + 500) = 824 as well
    assert comparison.cross.collateral_required == D(824)
    assert comparison.isolated.collateral_required == D(824)
    # isolated margins: 1000 split pro rata to IM: 1000 x 160/324 and 1000 x 164/324
    assert comparison.isolated.isolated_margins == {"BTC-PERP": div(160000, 324), "BTC-FUT": div(164000, 324)}


@given(random_books(), st.sampled_from(["BTC-PERP", "BTC-FUT", "BTC-INV", "ETH-PERP"]), st.booleans(), st.data())
def test_max_size_is_the_edge_of_passing_orders(portfolio: Portfolio, instrument: str, buy: bool, data):
    account = portfolio.accounts[0]
    mark = portfolio.market.mark(instrument)
    offset = Decimal(data.draw(st.integers(-300, 300))).scaleb(-4)  # order price within 3% of the mark
    price = (mark * (1 + offset)).quantize(D("0.01"))
    sign = 1 if buy else -1
    probe = check_order(account, portfolio, GENERIC, instrument, D(sign), price)
    if probe.max_size is None:
        return
    top = probe.max_size
    with exact():
        inside = [top * k / 10 for k in range(1, 10)] + [top * (1 - D("1E-12"))]
        outside = top * (1 + D("1E-12")) + D("1E-30")
    for quantity in inside:
        if quantity > 0:
            assert check_order(account, portfolio, GENERIC, instrument, sign * quantity, price).passes
    assert not check_order(account, portfolio, GENERIC, instrument, sign * outside, price).passes


@given(random_books(), st.sampled_from(["USDT", "BTC", "ETH"]))
def test_max_withdrawable_leaves_free_collateral_at_zero_or_nothing_held(portfolio: Portfolio, asset: str):
    account = portfolio.accounts[0]
    amount = max_withdrawable(account, portfolio, GENERIC, asset)
    held = account.balances.get(asset, D(0))
    assert 0 <= amount <= max(held, D(0))
    if amount == 0:
        return
    with exact():
        after = replace(account, balances={**account.balances, asset: held - amount})
        more = replace(account, balances={**account.balances, asset: held - amount * (1 + D("1E-12"))})
    free_after = evaluate_pool(cross_pool(after), portfolio, GENERIC).free_collateral
    assert free_after >= D("-1E-30")
    if amount < held:
        assert evaluate_pool(cross_pool(more), portfolio, GENERIC).free_collateral < 0
    assert evaluate_account(after, portfolio, GENERIC).cross.free_collateral == free_after
