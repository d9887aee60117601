"""Who is auto-deleveraged first: each ranking's score worked by hand on one book of shorts against a bankrupt
long, ties by account id, a pool with no positive net value last, the random order from its documented hash,
and a socialized loss shared by positive PnL (or size) to the ledger's quantum, summing exactly.

The book (base USDT, BTC-PERP 1 contract = 1 BTC, mark 940), the shorts:

- a: 1000 USDT, short 1 from 1000: PnL +60, notional 940, entry notional 1000, net value 1060
- b: 500 USDT, short 2 from 1000: PnL +120, notional 1880, entry notional 2000, net value 620
- c: 2000 USDT, short 1 from 900: PnL -40, notional 940, entry notional 900, net value 1960
- u: -80 USDT, short 1 from 1000: PnL +60, net value -20 (nothing left: ranked last)
- long: 100000 USDT, long 5 from 940 (the bankrupt side)
"""

import hashlib
from decimal import Decimal

import pytest

from crossmargin.clearing.state import ClearingState
from crossmargin.liquidation.ranking import (
    RANKINGS,
    Candidate,
    adl_order,
    candidate,
    candidates,
    check_ranking,
    loss_shares,
)
from crossmargin.model import InputError, exact
from tests.builders import GENERIC, D, banded, book, div, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))
ACCOUNTS = [
    ("a", {"USDT": "1000"}, [position("BTC-PERP", "-1", "1000")]),
    ("b", {"USDT": "500"}, [position("BTC-PERP", "-2", "1000")]),
    ("c", {"USDT": "2000"}, [position("BTC-PERP", "-1", "900")]),
    ("u", {"USDT": "-80"}, [position("BTC-PERP", "-1", "1000")]),
    ("long", {"USDT": "100000"}, [position("BTC-PERP", "5", "940")]),
]


@pytest.fixture
def state() -> ClearingState:
    portfolio = book([USDT, BTC], [PERP], {"BTC": "940"}, {"BTC-PERP": "940"}, ACCOUNTS, base="USDT")
    return ClearingState(portfolio, GENERIC)


def test_a_candidate_is_its_leg_valued_at_the_mark(state: ClearingState):
    a = candidate(state, "BTC-PERP", False, "a")
    assert a == Candidate("a", False, D(-1), D(1000), D(60), D(940), D(1000), D(1060))
    assert candidate(state, "BTC-PERP", True, "a") is None  # a holds no long
    # the bankrupt account and the other side are not candidates
    assert [c.account for c in candidates(state, "BTC-PERP", True, "long")] == ["a", "b", "c", "u"]


def close(score: Decimal, numerator: int, denominator: int) -> bool:
    """``score`` is the fraction to within rounding at the ledger's 50th digit."""
    return abs(score - div(numerator, denominator)) < D("1E-45")


def scores(state: ClearingState, ranking: str) -> dict[str, Decimal]:
    with exact():
        return {c.account: RANKINGS[ranking](c, state, D(940)) for c in candidates(state, "BTC-PERP", True, "long")}


def test_profit_x_leverage_by_hand(state: ClearingState):
    got = scores(state, "profit_x_leverage")
    # profit: PnL ratio x leverage; a loss: PnL ratio / leverage (each exact to the 50th digit)
    assert close(got["a"], 60 * 940, 1000 * 1060)  # 60/1000 x 940/1060 = 0.0532...
    assert close(got["b"], 120 * 1880, 2000 * 620)  # 120/2000 x 1880/620 = 0.1819...
    assert close(got["c"], -40 * 1960, 900 * 940)  # -40/900 / (940/1960) = -0.0926...
    assert got["u"] == D("-1E30")
    assert scores(state, "leverage_pnl") == got  # Binance's name for the same formula
    assert [c.account for c in adl_order(state, "BTC-PERP", True, "long", "profit_x_leverage")] == ["b", "a", "c", "u"]


def test_hyperliquids_mark_over_entry_by_hand(state: ClearingState):
    got = scores(state, "mark_over_entry_x_notional_over_account_value")
    # a short's move is entry / mark: a 1000/940 x 940/1060 = 1000/1060; b 2000/620; c 900/1960
    assert close(got["a"], 1000, 1060) and close(got["b"], 2000, 620) and close(got["c"], 900, 1960)
    order = adl_order(state, "BTC-PERP", True, "long", "mark_over_entry_x_notional_over_account_value")
    assert [c.account for c in order] == ["b", "a", "c", "u"]


def test_the_largest_position_first_and_ties_by_account_id(state: ClearingState):
    assert scores(state, "pro_rata_base_size") == {"a": D(1), "b": D(2), "c": D(1), "u": D(1)}
    assert [c.account for c in adl_order(state, "BTC-PERP", True, "long", "pro_rata_base_size")] == ["b", "a", "c", "u"]


def test_the_random_order_is_the_documented_hash(state: ClearingState):
    # sha256 of "<events applied>|<account id>", its first 16 hex digits as the score, highest first
    def key(account: str) -> int:
        return int(hashlib.sha256(f"{len(state.log)}|{account}".encode()).hexdigest()[:16], 16)

    expected = sorted(["a", "b", "c", "u"], key=lambda account: (-key(account), account))
    assert [c.account for c in adl_order(state, "BTC-PERP", True, "long", "random")] == expected
    assert adl_order(state, "BTC-PERP", True, "long", "random") == adl_order(state, "BTC-PERP", True, "long", "random")


def test_an_unknown_ranking_is_refused_naming_the_term(state: ClearingState):
    for call in (lambda: check_ranking("alphabetical"), lambda: adl_order(state, "BTC-PERP", True, "long", "")):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.field == "liquidation.adl_ranking" and "unknown ranking" in err.value.message


def test_a_loss_is_shared_by_positive_pnl_to_the_quantum_and_sums_exactly(state: ClearingState):
    found = candidates(state, "BTC-PERP", True, "long")
    # positive PnL: a 60, b 120, u 60 (c is losing): a = 100 x 60/240 = 25, b takes the rest after u
    shares = loss_shares(found, D(100))
    assert shares == {"a": D(25), "b": D(50), "u": D(25)}
    # a third (0.333...3, 28 digits) does not split evenly: a's quarter and b's half are rounded down to
    # 1E-18, and u, last by id, takes the rest, so the shares sum to the amount exactly
    third = D(1) / D(3)
    odd = loss_shares(found, third)
    assert odd["a"] == D("0.083333333333333333") and odd["b"] == D("0.166666666666666666")
    assert odd["u"] == third - odd["a"] - odd["b"] and sum(odd.values()) == third
    # by size (Drift, or nobody in profit): 1, 2, 1, 1
    assert loss_shares(found, D(50), by_size=True) == {"a": D(10), "b": D(20), "c": D(10), "u": D(10)}
    losing = [c for c in found if c.account == "c"]
    assert loss_shares(losing, D(7)) == {"c": D(7)}
    assert loss_shares(found, D(0)) == {} and loss_shares([], D(5)) == {}
