"""Liquidation prices worked by hand, across tier boundaries, for inverse, isolated and hedged books."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.account import cross_pool, evaluate_account
from crossmargin.margin.liquidation_price import liquidation_scale
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.scaling import Move, scaled_market
from crossmargin.model import Asset, exact
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook
from tests.builders import BINANCE_LIKE, GENERIC, D, book, div, inverse, linear, position, tiers

USDT = Asset.simple("USDT")
BTC = Asset.simple("BTC")
CLOSE = D("1E-40")


def liq_prices(portfolio) -> list[Decimal | None]:
    result = evaluate_account(portfolio.accounts[0], portfolio, GENERIC)
    return [p.liquidation_price for p in result.positions]


def one_linear(balance: str, size: str, entry: str = "20000", table=None, isolated: str | None = None):
    instrument = linear("BTC-PERP") if table is None else linear("BTC-PERP", table=table)
    return book(
        assets=[USDT],
        instruments=[instrument],
        prices={"USDT": "1"},
        marks={"BTC-PERP": "20000"},
        accounts=[("a", {"USDT": balance}, [position("BTC-PERP", size, entry, isolated)])],
    )


def test_long_linear():
    # H(P) = 1000 + 0.5 (P - 20000) - 0.5 P x 0.004 = 0.498 P - 9000 = 0  ->  P = 9000 / 0.498
    (price,) = liq_prices(one_linear("1000", "0.5"))
    assert price is not None and abs(price - div(9000, "0.498")) < CLOSE


def test_short_linear():
    # H(P) = 1000 - (P - 20000) - 0.004 P = 21000 - 1.004 P  ->  P = 21000 / 1.004
    (price,) = liq_prices(one_linear("1000", "-1"))
    assert price is not None and abs(price - div(21000, "1.004")) < CLOSE


def test_isolated_margin_gives_the_same_price_as_the_same_cross_collateral():
    # the isolated bucket holds 1000 USDT, the cross balance is irrelevant
    (price,) = liq_prices(one_linear("50", "0.5", isolated="1000"))
    assert price is not None and abs(price - div(9000, "0.498")) < CLOSE


def test_liquidation_across_a_tier_boundary():
    # long 10 BTC at 20000 (notional 200000, second bracket: 0.005, amount 50) with 151200 USDT.
    # In the second bracket H = 151200 + 10 (P - 20000) - (10 P x 0.005 - 50) = 9.95 P - 48750, zero at
    # P = 4899.497..., but that is below P = 5000 where the notional leaves the bracket: invalid there.
    # First bracket (P <= 5000): H = 151200 + 10 (P - 20000) - 0.04 P = 9.96 P - 48800 -> P = 48800 / 9.96
    (price,) = liq_prices(one_linear("151200", "10", table=BINANCE_LIKE))
    assert price is not None and abs(price - div(48800, "9.96")) < CLOSE
    assert price < D(5000)


def test_fully_collateralised_long_has_no_liquidation_price():
    # H(P) = 20000 + (P - 20000) - 0.004 P = 0.996 P > 0 for every positive price
    assert liq_prices(one_linear("20000", "1")) == [None]


def inverse_book(balance_btc: str, size: str):
    return book(
        assets=[USDT, BTC],
        instruments=[inverse("BTCUSD", size="100")],
        prices={"USDT": "1", "BTC": "50000"},
        marks={"BTCUSD": "50000"},
        accounts=[("a", {"BTC": balance_btc}, [position("BTCUSD", size, "50000")])],
    )


def test_inverse_long_with_coin_collateral():
    # collateral 1 BTC moves with the price too. In BTC: equity 1 + 100000 (1/50000 - 1/P) = 3 - 100000/P,
    # MM 100000/P x 0.005 = 500/P. In USD (x P): 3P - 100000 - 500 = 0  ->  P = 33500
    (price,) = liq_prices(inverse_book("1", "1000"))
    assert price is not None and abs(price - D(33500)) < CLOSE


def test_coin_hedged_inverse_short_never_liquidates():
    # 2 BTC against a 100000 USD short: equity 2 - 100000 (1/50000 - 1/P) = 100000/P BTC = 100000 USD at any
    # price, MM 500 USD: always healthy
    assert liq_prices(inverse_book("2", "-1000")) == [None]


def test_hedged_book_liquidates_upward_for_both_legs():
    # long 1 BTC-PERP at mark 20000, short 2 BTC-FUT at mark 20100 (basis kept as both scale together),
    # 2000 USDT. With scale s: H = 2000 + (20000 s - 20000) - 2 (20100 s - 20100) - 0.004 (20000 s + 40200 s)
    #                          = 22200 - 20200 s - 240.8 s  ->  s = 22200 / 20440.8; it only rises-to-fail
    portfolio = book(
        assets=[USDT],
        instruments=[linear("BTC-PERP"), linear("BTC-FUT")],
        prices={"USDT": "1"},
        marks={"BTC-PERP": "20000", "BTC-FUT": "20100"},
        accounts=[("a", {"USDT": "2000"}, [position("BTC-PERP", "1", "20000"), position("BTC-FUT", "-2", "20100")])],
    )
    perp, fut = liq_prices(portfolio)
    scale = div(22200, "20440.8")
    assert perp is not None and abs(div(perp, 20000) - scale) < CLOSE
    assert fut is not None and abs(div(fut, 20100) - scale) < CLOSE


def test_already_liquidatable_reports_the_price_to_recover_to():
    # 100 USDT, long 1 from 20100: H = 100 + (P - 20100) - 0.004 P = 0.996 P - 20000, -80 at 20000; zero at
    # 20000 / 0.996 = 20080.32..., above the mark
    (price,) = liq_prices(one_linear("100", "1", entry="20100"))
    assert price is not None and abs(price - div(20000, "0.996")) < CLOSE
    assert price > D(20000)


def test_hedge_mode_legs_share_one_liquidation_price():
    # Binance hedge mode (docs/venues/binance-usdm.md S3/S4): both sides of a symbol share one liquidation
    # price, each side margined on its own notional. 10000 USDT; long 2 BTC from 30000, short 1 BTC from
    # 31000, mark 30000, BINANCE_LIKE brackets. At the root both notionals are below 50000 (first bracket,
    # 0.004): 10000 + 2 (P - 30000) - (P - 31000) = 0.004 x 2P + 0.004 x P
    #   -> P - 19000 = 0.012 P -> P = 19000 / 0.988 = 19230.77 (long notional 38461.5 <= 50000: consistent;
    # the long's current bracket, 0.005 with 50, would give (19000 - 50) / 0.986 = 19219.07 instead).
    portfolio = book(
        assets=[USDT],
        instruments=[linear("BTC-PERP", table=BINANCE_LIKE)],
        prices={"USDT": "1"},
        marks={"BTC-PERP": "30000"},
        accounts=[("a", {"USDT": "10000"}, [position("BTC-PERP", "2", "30000"), position("BTC-PERP", "-1", "31000")])],
    )
    long_leg, short_leg = liq_prices(portfolio)
    expected = div(19000, "0.988")
    assert long_leg is not None and abs(long_leg - expected) < CLOSE
    assert short_leg is not None and abs(short_leg - expected) < CLOSE


def test_a_held_position_requirement_moves_with_its_settle_asset():
    # 1000 USD and a debt of 900 USDT behind a long 10 BTC-PERP (settled in USDT, mmr 5 %) from 150, marked 150;
    # USDT moves alone by s (no instrument moves): the debt is -900 s, the uPnL 0, and the maintenance margin
    # 10 x 150 x 0.05 = 75 USDT is 75 s in USD. H(s) = 1000 - 900 s - 75 s = 1000 - 975 s, zero at s = 40 / 39
    # (holding the requirement at 75 USD would give (1000 - 75) / 900 = 37 / 36 instead).
    usd = Asset.simple("USD")
    portfolio = book(
        assets=[USDT, usd],
        instruments=[linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))],
        prices={"USDT": "1", "USD": "1"},
        marks={"BTC-PERP": "150"},
        accounts=[("a", {"USD": "1000", "USDT": "-900"}, [position("BTC-PERP", "10", "150")])],
    )
    pool, move = cross_pool(portfolio.accounts[0]), Move.of_underlying(portfolio, "USDT")
    expected = div(40, 39)
    for rising in (True, False):  # either first direction finds the one change of status
        scale = liquidation_scale(pool, portfolio, GENERIC, move, long=rising)
        assert scale is not None and abs(scale - expected) < CLOSE
    with exact():  # the exact health on either side of it
        around = [expected * (1 + k * D("1e-9")) for k in (-1, 1)]
    moved = [portfolio.with_market(scaled_market(portfolio, move, s)) for s in around]
    assert [evaluate_pool(pool, m, GENERIC).liquidatable for m in moved] == [False, True]


def test_a_held_position_settled_in_the_moving_coin():
    # 1000 USDT; short 10 BTC-PERP (USDT) from 100 and long 100 ETHBTC-PERP (underlying ETH, settled in BTC) from
    # 0.1, both at their entry, mmr 5 %, BTC at 100 USD. BTC moves by s: the short's uPnL 1000 - 1000 s USDT, its
    # maintenance 10 x 100 s x 0.05 = 50 s; the ETHBTC position's maintenance 100 x 0.1 x 0.05 = 0.5 BTC, 50 s
    # USD. H = 1000 + 1000 - 1000 s - 50 s - 50 s = 2000 - 1100 s: s* = 20 / 11, the BTC-PERP at 2000 / 11.
    # ETH moves the ETHBTC mark m: uPnL 100 (m - 0.1) BTC = 10000 m - 1000 USD, maintenance 100 m x 0.05 x 100
    # = 500 m, the short's 50: H = 1000 + 10000 m - 1000 - 500 m - 50 = 9500 m - 50, at m = 50 / 9500.
    table = tiers((None, "0.05", "0.1"))
    portfolio = book(
        assets=[USDT, BTC],
        instruments=[linear("BTC-PERP", table=table), linear("ETHBTC-PERP", "ETH", "BTC", table=table)],
        prices={"USDT": "1", "BTC": "100", "ETH": "10"},
        marks={"BTC-PERP": "100", "ETHBTC-PERP": "0.1"},
        accounts=[("a", {"USDT": "1000"}, [position("BTC-PERP", "-10", "100"), position("ETHBTC-PERP", "100", "0.1")])],
    )
    btc, eth = liq_prices(portfolio)
    assert btc is not None and abs(btc - div(2000, 11)) < CLOSE
    assert eth is not None and abs(eth - div(50, 9500)) < CLOSE


def test_a_generated_account_turns_liquidatable_where_its_settle_coin_barrier_says():
    # acct-0000155 of a generated book: 7233.37 USDT behind five shorts, three settled in USDT. USDT falling
    # alone shrinks its collateral and those positions' uPnL and requirements with it; the pool turns
    # liquidatable at about 0.0148 x USDT's price (healthy at 0.02, liquidatable at 0.014, by the exact health).
    # The solver's scale is bracketed by the exact evaluator a billionth either side.
    portfolio = synthetic_book(2000, 7)
    rules = rulebook("generic").rules
    account = next(a for a in portfolio.accounts if a.id == "acct-0000155")
    pool, move = cross_pool(account), Move.of_underlying(portfolio, "USDT")

    def liquidatable(scale: Decimal) -> bool:
        return evaluate_pool(pool, portfolio.with_market(scaled_market(portfolio, move, scale)), rules).liquidatable

    assert not liquidatable(D("0.02")) and liquidatable(D("0.014"))
    scale = liquidation_scale(pool, portfolio, rules, move, long=True)
    assert scale is not None and D("0.014") < scale < D("0.02")
    with exact():
        above, below = scale * (1 + D("1e-9")), scale * (1 - D("1e-9"))
    assert not liquidatable(above) and liquidatable(below)


@given(
    st.integers(1, 5000),
    st.integers(-5000, 5000),
    st.lists(st.tuples(st.integers(-20, 20).filter(bool), st.integers(50, 150)), min_size=1, max_size=3),
)
def test_a_settle_coin_moving_alone_by_its_closed_form(usd: int, usdt: int, legs: list[tuple[int, int]]):
    # USD (the base) held apart, a USDT balance (weight 1 either side) and up to three perpetuals on BTC, ETH and
    # SOL settled in USDT, each marked 100, mmr 5 %. USDT moving alone by s scales everything in USDT:
    # H(s) = A + B s with A = the USD, B = USDT + sum q (100 - e) - sum 0.05 |q| 100. A > 0: the status changes
    # once, at s* = -A / B, where B < 0; never else.
    table = tiers((None, "0.05", "0.1"))
    names = [(f"{u}-PERP", u) for u in ("BTC", "ETH", "SOL")][: len(legs)]
    portfolio = book(
        assets=[USDT, Asset.simple("USD")],
        instruments=[linear(name, underlying=u, table=table) for name, u in names],
        prices={"USDT": "1", "USD": "1", **{u: "100" for _, u in names}},
        marks={name: "100" for name, _ in names},
        accounts=[
            ("a", {"USD": str(usd), "USDT": str(usdt)},
             [position(name, str(q), str(e)) for (name, _), (q, e) in zip(names, legs, strict=True)]),
        ],
    )  # fmt: skip
    slope = usdt + sum(q * (100 - e) - 5 * abs(q) for q, e in legs)
    pool, move = cross_pool(portfolio.accounts[0]), Move.of_underlying(portfolio, "USDT")
    for first_down in (True, False):
        scale = liquidation_scale(pool, portfolio, GENERIC, move, long=first_down)
        if slope < 0:
            assert scale is not None and abs(scale - div(usd, -slope)) < CLOSE
        else:
            assert scale is None
