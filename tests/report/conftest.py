"""The hand book of the command-line tests (tests/cli/conftest.py has its figures worked by hand), evaluated,
for the result documents and tables built from it."""

import pytest

from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.margin.owners import OwnerView, UnderlyingExposure, VenueExposure
from crossmargin.model import Portfolio
from tests.builders import GENERIC, D, banded, book, div, linear, position


def hand_book() -> Portfolio:
    """alice: 1000 USDT, long 0.5 BTC-PERP at 20000; iso: 500 USDT, short 0.25 isolated on 100 USDT;
    carol: 0.5 BTC (weights 0.95 / 0.9), long 0.5 BTC-PERP at 20000. Marks and prices 20000."""
    return book(
        [banded("USDT", [("0", "1")]), banded("BTC", [("0", "0.95")], initial=[("0", "0.9")])],
        [linear("BTC-PERP")],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000"},
        [
            ("alice", {"USDT": "1000"}, [position("BTC-PERP", "0.5", "20000")]),
            ("iso", {"USDT": "500"}, [position("BTC-PERP", "-0.25", "20000", "100")]),
            ("carol", {"BTC": "0.5"}, [position("BTC-PERP", "0.5", "20000")]),
        ],
    )


@pytest.fixture(scope="module")
def hand() -> Portfolio:
    return hand_book()


@pytest.fixture(scope="module")
def evaluated(hand: Portfolio) -> dict[str, AccountResult]:
    """Each account's result, by id."""
    return {a.id: evaluate_account(a, hand, GENERIC) for a in hand.accounts}


def olga_view() -> OwnerView:
    """An owner long 1 BTC at binance-usdm (first liquidated at 52000, factor 52000 / 60000) and short 0.5 BTC at
    okx (at 64000), BTC at 60000 (tests/cli/test_main_owners.py works the figures by hand), and an ETH position
    at a venue whose liquidation price the solver cannot give."""
    binance = VenueExposure("binance-usdm", D(60000), D(60000), D(1), div(52000, 60000), D(52000), "olga-b", True)
    okx = VenueExposure("okx", D(30000), D(-30000), D("-0.5"), div(64000, 60000), D(64000), "olga-o", True)
    grid = VenueExposure("scenario-margin", D(3000), D(3000), D(1), None, None, None, False)
    return OwnerView(
        "olga",
        ("olga-b", "olga-o"),
        (
            UnderlyingExposure("BTC", D(60000), D(90000), D(30000), D("0.5"), (binance, okx)),
            UnderlyingExposure("ETH", D(3000), D(3000), D(3000), D(1), (grid,)),
        ),
    )
