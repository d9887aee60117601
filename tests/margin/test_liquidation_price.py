"""Liquidation prices worked by hand, across tier boundaries, for inverse, isolated and hedged books."""

from decimal import Decimal

from crossmargin.margin.account import evaluate_account
from crossmargin.model import Asset
from tests.builders import BINANCE_LIKE, GENERIC, D, book, div, inverse, linear, position

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
