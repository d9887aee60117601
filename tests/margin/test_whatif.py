"""What-if answers worked by hand, and their properties on random books."""

from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crossmargin.margin.account import cross_pool, evaluate_account, isolated_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.whatif import (
    all_cross,
    all_isolated,
    check_order,
    compare_modes,
    max_withdrawable,
    order_verdict,
)
from crossmargin.model import Account, Asset, Portfolio, exact
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
    # isolated margins: each position's need first, max(0, IM - uPnL): 160 - 0 = 160 and 164 + 500 = 664 (824 in
    # all); the 1000 - 824 = 176 left pro rata to IM: 176 x 160/324 = 28160/324 and 176 x 164/324 = 28864/324
    with exact():
        expected = {"BTC-PERP": 160 + D(28160) / 324, "BTC-FUT": 664 + D(28864) / 324}
    assert comparison.isolated.isolated_margins == expected
    assert abs(sum(expected.values(), D(0)) - 1000) < D("1E-45")  # 824 + 176: the whole 1000, to the 50th digit


# --------------------------------------------------------------------------- the isolated twin of a cross book


def two_legs(balance: str, btc_entry: str = "20000") -> Portfolio:
    """``balance`` USDT; long 1 BTC-PERP from ``btc_entry`` marked 22000 (IM 1 %), short 10 ETH-PERP from 1000
    marked 1100 (IM 2 %); both USDT-settled, maintenance half the initial rate."""
    return book(
        [USDT],
        [
            linear("BTC-PERP", table=tiers((None, "0.005", "0.01"))),
            linear("ETH-PERP", underlying="ETH", table=tiers((None, "0.01", "0.02"))),
        ],
        {"USDT": "1", "BTC": "22000", "ETH": "1100"},
        {"BTC-PERP": "22000", "ETH-PERP": "1100"},
        [("a", {"USDT": balance}, [position("BTC-PERP", "1", btc_entry), position("ETH-PERP", "-10", "1000")])],
    )


def margins(account: Account) -> dict[str, Decimal | None]:
    return {p.instrument: p.isolated_margin for p in account.positions}


def pools(account: Account, portfolio: Portfolio):
    result = evaluate_account(account, portfolio.with_account(account), GENERIC)
    return {p.figures.position.instrument: p.pool for p in result.positions}


def test_the_isolated_twin_posts_each_need_then_shares_the_surplus_by_initial_margin():
    portfolio = two_legs("10000")
    twin = all_isolated(portfolio.accounts[0], portfolio, GENERIC)
    # BTC: IM 22000 x 0.01 = 220, uPnL 1 x (22000 - 20000) = +2000: need max(0, 220 - 2000) = 0
    # ETH: IM 10 x 1100 x 0.02 = 220, uPnL -10 x (1100 - 1000) = -1000: need max(0, 220 + 1000) = 1220
    # surplus 10000 - (0 + 1220) = 8780, pro rata to IM 220 : 220: 4390 each
    assert margins(twin) == {"BTC-PERP": D(4390), "ETH-PERP": D(1220 + 4390)}
    assert twin.balances == {}
    assert 4390 + 5610 == 10000  # every USDT of the cross account is posted
    figures = pools(twin, portfolio)
    # initial equity: BTC 4390 + 2000 = 6390, ETH 5610 - 1000 = 4610, each IM 220: free 6170 and 4390
    assert (figures["BTC-PERP"].free_collateral, figures["ETH-PERP"].free_collateral) == (D(6170), D(4390))
    assert not any(f.liquidatable for f in figures.values())


def test_short_collateral_is_split_pro_rata_to_need():
    # 1000 USDT; BTC now from 22500: uPnL 22000 - 22500 = -500, need 220 + 500 = 720; ETH's need 1220 as above.
    # Needs 1940 > 1000: each gets 1000 x its need / 1940 = 720000/1940 and 1220000/1940 (371.13..., 628.86...)
    portfolio = two_legs("1000", btc_entry="22500")
    twin = all_isolated(portfolio.accounts[0], portfolio, GENERIC)
    with exact():
        expected = {"BTC-PERP": D(720000) / 1940, "ETH-PERP": D(1220000) / 1940}
    assert margins(twin) == expected
    assert abs(sum(expected.values(), D(0)) - 1000) < D("1E-45")
    # each pool has 1000/1940 = 51.5 % of its need: BTC's equity 371.13 - 500 < 0, below its maintenance 110
    assert all(f.liquidatable for f in pools(twin, portfolio).values())


def test_a_profit_that_carried_a_loss_in_cross_cannot_in_isolation():
    # 1000 USDT, the first book's legs: cross initial equity 1000 + 2000 - 1000 = 2000 >= IM 440, but the ETH leg
    # alone needs 1220 > 1000; BTC's need is 0, so ETH gets all 1000 (1000 x 1220/1220) and BTC nothing
    portfolio = two_legs("1000")
    assert evaluate_pool(cross_pool(portfolio.accounts[0]), portfolio, GENERIC).free_collateral == D(1560)
    twin = all_isolated(portfolio.accounts[0], portfolio, GENERIC)
    assert margins(twin) == {"BTC-PERP": D(0), "ETH-PERP": D(1000)}
    figures = pools(twin, portfolio)
    # ETH: equity 1000 - 1000 = 0 < maintenance 10 x 1100 x 0.01 = 110; BTC: 0 + 2000 >= 110
    assert figures["ETH-PERP"].liquidatable and not figures["BTC-PERP"].liquidatable


def _needs(account: Account, portfolio: Portfolio) -> dict[str, Decimal]:
    """Each position of the all-cross account on its own with no margin: max(0, IM - initial equity)."""
    needs: dict[str, Decimal] = {}
    for p in all_cross(account, portfolio).positions:
        with exact():
            alone = replace(p, isolated_margin=D(0))
        figures = evaluate_pool(isolated_pool(alone, portfolio), portfolio, GENERIC)
        needs[p.instrument] = max(D(0), figures.initial_margin - figures.initial_equity)
    return needs


@given(random_books())
def test_the_isolated_twin_conserves_the_cross_value(portfolio: Portfolio):
    account = portfolio.accounts[0]
    value = max(D(0), evaluate_pool(cross_pool(all_cross(account, portfolio)), portfolio, GENERIC).collateral_value)
    twin = all_isolated(account, portfolio, GENERIC)
    assert twin.balances == {} and all(p.isolated for p in twin.positions)
    assert [(p.instrument, p.size, p.entry_price) for p in twin.positions] == [
        (p.instrument, p.size, p.entry_price) for p in account.positions
    ]
    with exact():
        settle = {
            p.instrument: portfolio.market.price(portfolio.instruments[p.instrument].settle) for p in twin.positions
        }
        held = {p.instrument: p.isolated_margin or D(0) for p in twin.positions}  # all isolated: asserted above
        posted = sum((held[p.instrument] * settle[p.instrument] for p in twin.positions), D(0))
        # each margin is one or two quotients rounded at the 50th digit, then x its price: a few units of the 49th
        assert abs(posted - value) <= D("1E-46") * max(value, D(1))
        needs = _needs(account, portfolio)
        total = sum(needs.values(), D(0))
        for p in twin.positions:
            margin = held[p.instrument] * settle[p.instrument]
            assert margin >= 0
            if value >= total:  # each gets its need at least, the surplus shared
                assert margin >= needs[p.instrument] - D("1E-40") * max(value, D(1))
            else:  # the same fraction of each need
                assert abs(margin * total - needs[p.instrument] * value) <= D("1E-40") * max(value, D(1)) * total


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(random_books())
def test_the_isolated_twin_of_an_account_that_met_its_initial_margin_is_never_liquidatable(portfolio: Portfolio):
    # most random books fail the two assumptions below (a CI run drew 9 of 59 that passed them): the health
    # check's filtering limit is lifted, and the kept books are checked as before
    # cross met IM: initial value + sum of counted uPnL >= sum of IM. When no position's counted profit exceeds its
    # own IM, sum of needs = sum(IM - uPnL) <= the initial value <= the maintenance value split: every pool gets its
    # need, initial equity >= IM >= maintenance (every rate here: mmr <= imr) -- not liquidatable. (A profit beyond
    # its own IM that carried another leg's loss in cross cannot carry it in isolation: see the test above.)
    account = all_cross(portfolio.accounts[0], portfolio)
    cross = evaluate_pool(cross_pool(account), portfolio, GENERIC)
    assume(cross.positions and cross.free_collateral >= 0)
    assume(all(f.initial_counted_pnl <= f.initial_margin for f in cross.positions))
    twin = all_isolated(account, portfolio, GENERIC)
    result = evaluate_account(twin, portfolio.with_account(twin), GENERIC)
    for leg in result.positions:
        assert leg.pool is not None
        assert leg.pool.free_collateral >= -D("1E-40") * max(cross.collateral_value, D(1))
        assert not leg.pool.liquidatable


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


@given(
    random_books(),
    st.sampled_from(["BTC-PERP", "BTC-FUT", "BTC-INV", "ETH-PERP"]),
    st.decimals(min_value=D("-50"), max_value=D("50"), places=3).filter(lambda size: size != 0),
    st.integers(-300, 300),
)
def test_the_verdict_alone_is_the_full_checks_verdict(portfolio: Portfolio, instrument: str, size, offset: int):
    # the clearing state decides trades with order_verdict (no figures, no largest size); the what-if answer
    # (check_order, which also finds the largest passing size by its own walk) must give the same verdict
    account = portfolio.accounts[0]
    price = (portfolio.market.mark(instrument) * (1 + Decimal(offset).scaleb(-4))).quantize(D("0.01"))
    full = check_order(account, portfolio, GENERIC, instrument, size, price)
    assert order_verdict(account, portfolio, GENERIC, instrument, size, price) == (full.passes, full.reason)


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
