"""Option values at a market: the forward in the strike currency, Black-76 premiums as marks (against Black-76
written out in tests/margin/test_exposure.py), the at-the-money volatility, float requirements as figures, and a
portfolio's missing option marks filled in."""

from dataclasses import replace

import pytest

from crossmargin.margin.valuation import (
    SMALLEST_MARK,
    atm_vol,
    is_option,
    option_forward,
    option_greeks,
    option_premium,
    requirement_figure,
    with_option_marks,
)
from crossmargin.model import InputError, Market, OptionRight
from tests.builders import D
from tests.margin.test_exposure import CALL, COIN_PUT, EXPIRY, PERP, black76_by_hand, portfolio


def test_option_marks_are_black76_premiums_in_the_settle_asset():
    book = with_option_marks(portfolio([]))
    # F = 40,000 (USDC at 1 is the base), t = 73 / 365 = 0.2, vol 0.8, rate 0
    call, _ = black76_by_hand(40000, 50000, 0.8, 0.2, OptionRight.CALL)
    put, _ = black76_by_hand(40000, 40000 * 1.0, 0.8, 0.2, OptionRight.PUT)
    assert float(book.market.mark("C-50000")) == pytest.approx(call, rel=1e-10)
    # the coin-settled put is quoted in BTC per BTC: its USD value over the forward
    assert float(book.market.mark("P-40000")) == pytest.approx(put / 40000, rel=1e-10)
    assert option_forward(COIN_PUT, book.market) == 40000.0
    assert book.market.mark("BTC-PERP") == D(40000)


def test_a_smile_and_an_option_own_volatility():
    # the smile (0.8, 1.0), (1.2, 0.7): the 50,000 call at K/F = 1.25 is beyond the last point (flat 0.7);
    # an entry for the option itself wins over its underlying's
    smile = {"BTC": ((D("0.8"), D(1)), (D("1.2"), D("0.7")))}
    call, _ = black76_by_hand(40000, 50000, 0.7, 0.2, OptionRight.CALL)
    assert float(option_premium(CALL, portfolio([], smile).market)) == pytest.approx(call, rel=1e-10)
    own = {**smile, "C-50000": ((D(1), D("0.5")),)}
    call, _ = black76_by_hand(40000, 50000, 0.5, 0.2, OptionRight.CALL)
    assert float(option_premium(CALL, portfolio([], own).market)) == pytest.approx(call, rel=1e-10)


def test_the_forward_is_the_underlying_in_the_strike_currency():
    # base USD, USDC at 0.999: a USDC-settled option's forward is 40,000 / 0.999 USDC; a coin-settled one's
    # strike is in the base currency, so its forward is the BTC price itself
    market = Market("USD", {"BTC": D(40000), "USDC": D("0.999")})
    assert option_forward(CALL, market) == pytest.approx(40000 / 0.999, rel=1e-15)
    assert option_forward(COIN_PUT, market) == 40000.0
    assert is_option(CALL) and not is_option(PERP)


def test_a_scenario_moves_the_forward_and_shifts_the_volatility():
    market = portfolio([]).market  # F = 40,000, vol 0.8, t = 0.2
    shifted = option_greeks(CALL, market, forward=36000.0, vol_shift=-0.3)
    price, delta = black76_by_hand(36000, 50000, 0.5, 0.2, OptionRight.CALL)
    assert shifted.price == pytest.approx(price, rel=1e-10) and shifted.delta == pytest.approx(delta, rel=1e-10)
    # a shift below zero volatility floors it at zero: the intrinsic value, nothing for an out-of-the-money call
    assert option_greeks(CALL, market, vol_shift=-5.0).price == 0.0


def test_an_option_needs_what_values_it():
    with pytest.raises(InputError) as err:
        option_greeks(PERP, portfolio([]).market)
    assert err.value.field == "instruments.BTC-PERP"
    with pytest.raises(InputError) as err:
        option_premium(CALL, replace(portfolio([]).market, valuation_time=None))
    assert err.value.field == "valuation_time"


def test_the_at_the_money_volatility():
    # a smile (0.8, 1.0), (1.2, 0.7): at moneyness 1, halfway: 0.85
    market = Market("USD", vols={"BTC": ((D("0.8"), D(1)), (D("1.2"), D("0.7"))), "ETH": ((D(1), D("0.6")),)})
    assert atm_vol(market, "BTC") == pytest.approx(0.85, rel=1e-15)
    assert atm_vol(market, "ETH") == 0.6
    assert atm_vol(market, "SOL") is None


def test_a_float_requirement_is_a_figure_of_twelve_digits_to_the_hundred_millionth():
    assert requirement_figure(1234.567890123456) == D("1234.56789012")  # 12 digits, then to 1e-8
    assert requirement_figure(0.000123456789012345) == D("0.00012346")  # 12 digits, then to 1e-8
    assert requirement_figure(-3e-13) == 0 and not requirement_figure(-3e-13).is_signed()  # float noise: none


def test_marks_are_filled_only_where_missing_and_kept_positive():
    expired = portfolio([])
    expired = expired.with_market(replace(expired.market, valuation_time=EXPIRY))
    # at expiry the 50,000 call on a 40,000 forward is worth nothing: kept at the smallest mark
    assert with_option_marks(expired).market.mark("C-50000") == SMALLEST_MARK
    marked = expired.with_market(replace(expired.market, marks={**expired.market.marks, "C-50000": D(7)}))
    filled = with_option_marks(marked)
    assert filled.market.mark("C-50000") == D(7)  # a given mark is kept
    # the coin put at the money at expiry is worth nothing either
    assert filled.market.mark("P-40000") == SMALLEST_MARK
    without = replace(expired, instruments={n: i for n, i in expired.instruments.items() if not is_option(i)})
    assert with_option_marks(without) is without
