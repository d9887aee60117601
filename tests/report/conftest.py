"""The hand book of the command-line tests (tests/cli/conftest.py has its figures worked by hand), evaluated,
for the result documents and tables built from it."""

import pytest

from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.model import Portfolio
from tests.builders import GENERIC, banded, book, linear, position


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
