"""Screening (:mod:`crossmargin.engine.screening`) on a hand book: which pools the float figures put within
the band of liquidation, and the exact verdict that decides each candidate account.

The book (base USDT, USDT at weight 1): BTC-PERP linear, 1 contract = 1 BTC, one bracket mmr 5 %, marked
100, so a long 10 from 100 has no PnL and MM 10 x 100 x 5 % = 50.

- ``safe``: 1000 USDT, long 10: equity 1000, far above 50.
- ``near``: 50.2 USDT, long 10: above MM 50, but within the default band 0.5 % (limit 50 x 1.005 = 50.25).
- ``under``: 40 USDT, long 10: 40 < 50, liquidatable.
- ``cash``: 10 USDT, no position: no requirement.
- ``owing``: -5 USDT, no position: no requirement, equity below zero.
- ``iso``: 100 USDT cross, long 10 isolated with 4 USDT margin: the cross pool is clear (no requirement), the
  isolated pool has 4 < 50.
"""

from decimal import Decimal

import numpy as np
import pytest

from crossmargin.engine.book import RiskBook
from crossmargin.engine.screening import DEFAULT_BAND, candidate_pools, screen
from crossmargin.model import Portfolio, RuleChoices
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))


def hand_book() -> Portfolio:
    long = [position("BTC-PERP", "10", "100")]
    return book(
        [USDT],
        [PERP],
        {},
        {"BTC-PERP": "100"},
        [
            ("safe", {"USDT": "1000"}, long),
            ("near", {"USDT": "50.2"}, long),
            ("under", {"USDT": "40"}, long),
            ("cash", {"USDT": "10"}, []),
            ("owing", {"USDT": "-5"}, []),
            ("iso", {"USDT": "100"}, [position("BTC-PERP", "10", "100", isolated_margin="4")]),
        ],
        base="USDT",
    )


def accounts_of(risk: RiskBook, pools: np.ndarray) -> set[str]:
    return {risk.owners[int(p)].account for p in pools}


def test_each_candidate_is_confirmed_exactly_and_the_rest_are_clear():
    result = screen(RiskBook(hand_book(), GENERIC))
    assert D("0.005") == DEFAULT_BAND
    assert result.liquidatable == ("iso", "owing", "under")  # an isolated pool is enough; accounts in order
    assert result.near_liquidation == ("near",)
    assert (result.accounts_at_risk, result.mirror_disagreed) == (4, 0)
    # every pool: equity 1000 + 50.2 + 40 + 10 - 5 + (100 + 4) = 1199.2; MM 4 x 50 = 200
    assert result.total_equity == pytest.approx(1199.2, abs=1e-9)
    assert result.total_maintenance == pytest.approx(200, abs=1e-9)


def test_the_band_decides_who_is_near():
    risk = RiskBook(hand_book(), GENERIC)
    assert accounts_of(risk, candidate_pools(risk, D(0))) == {"under", "owing", "iso"}  # 50.2 > 50 x 1
    assert accounts_of(risk, candidate_pools(risk, D("0.003"))) == {"under", "owing", "iso"}  # 50.2 > 50.15
    assert "near" in accounts_of(risk, candidate_pools(risk, D("0.0041")))  # 50.2 < 50 x 1.0041 = 50.205
    # a tick that lifts the mark to 101: near has 50.2 + 10 = 60.2 against 10 x 101 x 5 % = 50.5, clear of
    # 50.5 x 1.005 = 50.75; under has 50 < 50.5 still
    risk.tick(marks={"BTC-PERP": Decimal(101)})
    result = screen(risk)
    assert (result.liquidatable, result.near_liquidation) == (("iso", "owing", "under"), ())


def test_the_rulebook_threshold_and_requirement_free_pools():
    # threshold 1.25: liquidatable below 1.25 x 50 = 62.5, so near (50.2) is now under; candidates below
    # 62.5 x 1.005 = 62.8125. Pools without a requirement are never liquidatable: owing is not even screened.
    rules = RuleChoices("strict", liquidation_threshold=D("1.25"), liquidate_without_requirement=False)
    result = screen(RiskBook(hand_book(), rules))
    assert (result.liquidatable, result.near_liquidation, result.accounts_at_risk) == (("iso", "near", "under"), (), 3)


def test_a_pool_with_positions_and_no_requirement_at_zero_equity_where_equality_liquidates():
    # A tier of maintenance rate 0: long 1 BTC-PERP at 20,100, mark 20,000, USDT 100: equity 100 - 100 = 0 and
    # maintenance 0. Liquidating at equality (0 <= 0, the pool holding a position) it is liquidatable; the screen
    # used to take only negative equity for a pool without a requirement and missed it.
    portfolio = book(
        [USDT], [linear("BTC-PERP", table=tiers((None, "0", "0.01")))], {"USDT": "1"}, {"BTC-PERP": "20000"},
        [("zero", {"USDT": "100"}, [position("BTC-PERP", "1", "20100")])],
    )  # fmt: skip
    assert screen(RiskBook(portfolio, RuleChoices("at-equality", liquidate_at_equality=True))).liquidatable == ("zero",)
    assert screen(RiskBook(portfolio, RuleChoices("below"))).liquidatable == ()  # 0 < 0 is false


def test_a_pool_without_a_requirement_a_hair_below_zero_is_confirmed():
    # USDT 5 against USDC -5.0000000000000000001 at 1: equity -1E-19 exactly, which the float sums to 0.0 (the
    # USDC float is -5.0). No requirement, and the generic rulebook liquidates below 0: liquidatable. A random book
    # found the screen missing it (the loop's own due check takes it, within its float error).
    usdc = banded("USDC", [("0", "1")])
    portfolio = book(
        [USDT, usdc], [linear("BTC-PERP")], {"USDT": "1", "USDC": "1"}, {"BTC-PERP": "20000"},
        [("hair", {"USDT": "5", "USDC": "-5.0000000000000000001"}, [])],
    )  # fmt: skip
    risk = RiskBook(portfolio, GENERIC)
    assert risk.figures[risk.cross_pool["hair"], 0] == 0.0
    assert screen(risk).liquidatable == ("hair",)
