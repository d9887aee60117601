"""Risk-book events worked by hand, and bad events refused before anything changes."""

from decimal import Decimal

import pytest

from crossmargin.engine.book import RiskBook
from crossmargin.engine.screening import screen
from crossmargin.model import Asset, InputError
from tests.builders import GENERIC, D, book, linear, position

USDT = Asset.simple("USDT")


def small_book() -> RiskBook:
    portfolio = book(
        [USDT],
        [linear("BTC-PERP"), linear("ETH-PERP", underlying="ETH")],
        {"USDT": "1"},
        {"BTC-PERP": "20000", "ETH-PERP": "1000"},
        [("a", {"USDT": "1000"}, [position("BTC-PERP", "0.5", "20000")]), ("b", {"USDT": "50"}, [])],
    )
    return RiskBook(portfolio, GENERIC)


def figures(risk: RiskBook, account: str) -> tuple[float, ...]:
    return tuple(float(x) for x in risk.figures[risk.cross_pool[account]])


def test_figures_and_a_tick_by_hand():
    risk = small_book()
    # equity 1000, initial equity 1000, MM 0.5 x 20000 x 0.004 = 40, IM 80
    assert figures(risk, "a") == (1000.0, 1000.0, 40.0, 80.0)
    # BTC-PERP to 18000: uPnL -1000 -> equity 0; MM 0.5 x 18000 x 0.004 = 36: liquidatable
    risk.tick(marks={"BTC-PERP": D(18000)})
    assert figures(risk, "a") == (0.0, 0.0, 36.0, 72.0)
    result = screen(risk)
    assert result.liquidatable == ("a",) and result.total_equity == 50.0 and result.total_maintenance == 36.0


def test_fills_open_add_reduce_flip_close_by_hand():
    risk = small_book()
    risk.fill("b", "ETH-PERP", D(2), D(1000))  # open long 2 at 1000: MM 2 x 1000 x 0.004 = 8
    assert figures(risk, "b") == (50.0, 50.0, 8.0, 16.0)
    risk.fill("b", "ETH-PERP", D(2), D(1100))  # add 2 at 1100: entry 1050, uPnL 4 x (1000 - 1050) = -200
    assert figures(risk, "b")[0] == -150.0
    risk.fill("b", "ETH-PERP", D(-6), D(1000))  # close 4 (realize -200) and go short 2 at 1000
    assert risk.accounts["b"].balances["USDT"] == D(-150)
    assert figures(risk, "b") == (-150.0, -150.0, 8.0, 16.0)
    risk.fill("b", "ETH-PERP", D(2), D(900))  # close the short at 900: +200
    assert risk.accounts["b"].positions == () and risk.accounts["b"].balances["USDT"] == D(50)
    assert figures(risk, "b") == (50.0, 50.0, 0.0, 0.0)


def test_deposit_and_new_account():
    risk = small_book()
    risk.deposit("a", "USDT", D(-400))
    assert figures(risk, "a")[0] == 600.0
    risk.add_account(risk.accounts["a"].__class__("c", {"USDT": D(5)}, (position("BTC-PERP", "-1", "20000"),)))
    # MM 80, equity 5: liquidatable
    assert "c" in screen(risk).liquidatable


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (lambda r: r.deposit("zed", "USDT", Decimal(1)), "account"),
        (lambda r: r.deposit("a", "DOGE", Decimal(1)), "asset"),
        (lambda r: r.fill("a", "XRP-PERP", Decimal(1), Decimal(1)), "instrument"),
        (lambda r: r.add_account(r.accounts["a"]), "account"),
    ],
)
def test_bad_events_change_nothing(event, field):
    risk = small_book()
    before = risk.figures.copy(), dict(risk.accounts)
    with pytest.raises(InputError) as err:
        event(risk)
    assert err.value.field == field
    assert (risk.figures == before[0]).all() and risk.accounts == before[1]
