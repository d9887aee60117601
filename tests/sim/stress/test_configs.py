"""The configurations a stress run compares (the book all cross, all isolated) and the defaults for a book
without liquidity or an insurance fund of its own, worked by hand on one small book.

The book (base USD; USDT at 1, BTC at 20000 counted at 0.8):

- a: 3050 USDT and 0.1 BTC; long 1 BTC-PERP (1 BTC, USDT-settled, IM 10 %) from 20000, cross; short 200
  BTCUSD (inverse, 100 USD each, BTC-settled, IM 1 %) from 20000, isolated on 0.05 BTC.
- b: 500 USDT, no position.
- c: 1 BTC, owes 100 USDT; long 0.5 BTC-PERP from 20000.
"""

from decimal import Decimal

from crossmargin.liquidation.liquidity import SquareRootImpact
from crossmargin.model import Asset
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.stress.configs import (
    cross_and_isolated,
    cross_book,
    default_insurance_fund,
    default_liquidity,
    isolated_book,
)
from tests.builders import GENERIC, D, banded, book, div, inverse, linear, position, tiers

PORTFOLIO = book(
    [Asset.simple("USDT"), banded("BTC", [("0", "0.8")])],
    [linear("BTC-PERP", table=tiers((None, "0.05", "0.1"))), inverse("BTCUSD", table=tiers((None, "0.005", "0.01")))],
    {"USDT": "1", "BTC": "20000"},
    {"BTC-PERP": "20000", "BTCUSD": "20000"},
    [
        ("a", {"USDT": "3050", "BTC": "0.1"},
         [position("BTC-PERP", "1", "20000"), position("BTCUSD", "-200", "20000", "0.05")]),
        ("b", {"USDT": "500"}, []),
        ("c", {"USDT": "-100", "BTC": "1"}, [position("BTC-PERP", "0.5", "20000")]),
    ],
)  # fmt: skip


def test_all_cross_folds_isolated_margin_into_the_settle_balance():
    a, b, c = cross_book(PORTFOLIO).accounts
    assert a.balances == {"USDT": D(3050), "BTC": D("0.15")}  # 0.1 + the 0.05 BTC of isolated margin
    assert all(not p.isolated for p in a.positions) and [p.size for p in a.positions] == [D(1), D(-200)]
    assert (b, c) == PORTFOLIO.accounts[1:]


def test_all_isolated_splits_the_cross_value_by_initial_margin():
    a, b, c = isolated_book(PORTFOLIO, GENERIC).accounts
    # a, all cross: 3050 + 0.15 x 20000 x 0.8 = 5450 of value; IM: 20000 x 0.1 = 2000 (USDT) and
    # 200 x 100 / 20000 = 1 BTC of notional x 0.01 = 0.01 BTC = 200 USD: 2200 in all
    perp, coin = a.positions
    assert perp.isolated_margin == div(5450 * 2000, 2200)  # 4954.54... USDT
    assert coin.isolated_margin is not None  # 495.45... USD in BTC: 0.02477... BTC (a quotient of a quotient)
    assert abs(coin.isolated_margin - div(5450 * 200, 2200 * 20000)) < D("1E-45")
    assert a.balances == {} and c.balances == {}
    # c: -100 + 1 x 20000 x 0.8 = 15900 of value, one position: all of it
    assert c.positions[0].isolated_margin == D(15900)
    assert b == PORTFOLIO.accounts[1]  # no position: left as it is


def test_the_default_depth_is_the_square_root_law_calibrated_for_the_underlying():
    # both instruments are on BTC, calibrated on 7 November 2022 (sim/stress/calibration.py): sigma_D 0.0188,
    # V_D 387,000 BTC; coefficient = 2/3 x Y x sigma_D = 2 x 1.36 x 0.0188 / 3 = 0.051136 / 3; two thirds of
    # the peak move kept. The inverse BTCUSD is quoted in BTC as well: the same model
    btc = SquareRootImpact(div(D("0.051136"), 3), D(387_000), D("0.67"))
    assert default_liquidity(PORTFOLIO) == {"BTC-PERP": btc, "BTCUSD": btc}
    alt = book(
        [Asset.simple("USDT")],
        [linear("X", underlying="ALT1")],
        {"USDT": "1"},
        {"X": "5"},
        [("t", {}, [position("X", "0.2", "5")])],
    )
    # ALT1 has no calm day: SOL's sigma_D 0.0802 (the largest) -> 2 x 1.36 x 0.0802 / 3 = 0.218144 / 3, and
    # the smallest dollar volume, SOL's 9,810,000 x 29.62 = 290,572,200 USD, in units at X's mark 5 (ALT1 has
    # no price of its own): 58,114,440
    assert default_liquidity(alt) == {"X": SquareRootImpact(div(D("0.218144"), 3), D(58_114_440), D("0.67"))}


def test_the_default_fund_is_a_hundredth_of_what_is_held_rounded_half_even():
    # held at full price: a 3050 + 0.1 x 20000 = 5050; b 500; c 20000 (its debt not netted): 25550 -> 255.5 -> 256
    assert default_insurance_fund(PORTFOLIO) == D(256)
    assert default_insurance_fund(book([Asset.simple("USDT")], [], {"USDT": "1"}, {}, [])) == D(0)


def test_cross_and_isolated_differ_only_in_label_and_book():
    terms, oracle = LiquidationTerms(), OracleConfig()
    cross, isolated = cross_and_isolated(PORTFOLIO, GENERIC, terms, {}, Decimal(7), oracle)
    assert (cross.label, isolated.label) == ("cross", "isolated")
    assert cross.portfolio == cross_book(PORTFOLIO) and isolated.portfolio == isolated_book(PORTFOLIO, GENERIC)
    for config in (cross, isolated):
        assert (config.rules, config.terms, config.liquidity, config.insurance_fund, config.oracle) == (
            GENERIC, terms, {}, Decimal(7), oracle,
        )  # fmt: skip
