"""Market state: the base currency at one, prices and marks looked up by name (a missing one named),
volatility points and correlations, and every refused value named by its field."""

from datetime import UTC, datetime

import pytest

from crossmargin.model import InputError, Market
from tests.builders import D

MARKET = Market(
    "USD",
    prices={"BTC": D(20000), "USDT": D("0.999")},
    marks={"BTC-PERP": D(20010)},
    vols={"BTC": ((D(1), D("0.6")),), "BTC-OPT": ((D("0.9"), D("0.7")), (D("1.1"), D("0.5")))},
    correlations={("BTC", "ETH"): D("0.8")},
)


def test_prices_and_marks_by_name():
    assert MARKET.price("USD") == 1  # the base needs no price
    assert (MARKET.price("BTC"), MARKET.price("USDT"), MARKET.mark("BTC-PERP")) == (D(20000), D("0.999"), D(20010))
    with pytest.raises(InputError) as err:
        MARKET.price("ETH")
    assert (err.value.field, err.value.message) == ("prices.ETH", "missing price")
    with pytest.raises(InputError) as err:
        MARKET.mark("ETH-PERP")
    assert (err.value.field, err.value.message) == ("marks.ETH-PERP", "missing mark price")


def test_an_option_takes_its_own_volatility_else_its_underlyings():
    assert MARKET.vol_points("BTC-OPT", "BTC") == ((D("0.9"), D("0.7")), (D("1.1"), D("0.5")))
    assert MARKET.vol_points("BTC-OTHER", "BTC") == ((D(1), D("0.6")),)
    with pytest.raises(InputError) as err:
        MARKET.vol_points("ETH-OPT", "ETH")
    assert err.value.field == "vols.ETH-OPT"


def test_a_correlation_is_symmetric_and_one_when_not_given():
    assert MARKET.correlation("BTC", "ETH") == MARKET.correlation("ETH", "BTC") == D("0.8")
    assert MARKET.correlation("BTC", "SOL") == 1
    assert MARKET.correlation("BTC", "BTC") == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prices": {"BTC": D(0)}}, "prices.BTC"),
        ({"marks": {"BTC-PERP": D(-1)}}, "marks.BTC-PERP"),
        ({"open_interest": {"BTC-PERP": D(-1)}}, "open_interest.BTC-PERP"),
        ({"valuation_time": datetime(2025, 3, 28, 8)}, "valuation_time"),
        ({"rate": D("NaN")}, "rate"),
        ({"vols": {"BTC": ()}}, "vols.BTC"),
        ({"vols": {"BTC": ((D(0), D("0.5")),)}}, "vols.BTC[0][0]"),
        ({"vols": {"BTC": ((D(1), D("-0.5")),)}}, "vols.BTC[0][1]"),
        ({"vols": {"BTC": ((D(1), D("0.5")), (D(1), D("0.6")))}}, "vols.BTC[1][0]"),
        ({"correlations": {("BTC", "ETH"): D("1.01")}}, "correlations.BTC.ETH"),
        ({"correlations": {("BTC", "BTC"): D("0.5")}}, "correlations.BTC.BTC"),
        ({"prices": {"USD": D(2)}}, "prices.USD"),
    ],
)
def test_a_bad_market_is_refused_naming_its_field(changes, field):
    with pytest.raises(InputError) as err:
        Market("USD", **changes)
    assert err.value.field == field


def test_a_timezone_aware_valuation_time_and_the_base_priced_at_one_are_taken():
    market = Market("USD", prices={"USD": D(1)}, valuation_time=datetime(2025, 3, 28, 8, tzinfo=UTC))
    assert market.price("USD") == 1 and market.valuation_time is not None


def test_a_moved_market_checks_the_new_figures_and_keeps_the_rest():
    moved = MARKET.moved(prices={"BTC": D(19000)}, marks={"BTC-PERP": D(19010)})
    assert (moved.price("BTC"), moved.price("USDT"), moved.mark("BTC-PERP")) == (D(19000), D("0.999"), D(19010))
    assert (MARKET.price("BTC"), MARKET.mark("BTC-PERP")) == (D(20000), D(20010))  # the original is unchanged
    assert moved.vols == MARKET.vols and moved.correlations == MARKET.correlations
    for changes, field in (
        ({"marks": {"BTC-PERP": D(-1)}}, "marks.BTC-PERP"),
        ({"prices": {"BTC": D("NaN")}}, "prices.BTC"),
        ({"prices": {"USD": D(2)}}, "prices.USD"),  # a new name: every check, the base priced at one among them
    ):
        with pytest.raises(InputError) as err:
            MARKET.moved(**changes)
        assert err.value.field == field
    assert MARKET.moved(marks={"ETH-PERP": D(1500)}).mark("ETH-PERP") == D(1500)  # a new mark, checked in full
