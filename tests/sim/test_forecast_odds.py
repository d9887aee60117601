"""The whole book's liquidation odds on the arrays: a one-asset account by hand against the closed form
``2 N(-|a| / (sigma sqrt T))``, isolated, covered and liquidatable pools by hand, and the exact
:func:`~crossmargin.margin.first_passage.liquidation_odds` (a second method) on every account of hand-made books
and a sample of generated ones under three rulebooks; the buffer calibration by hand and round-tripped
through :func:`~crossmargin.margin.first_passage.hit_probability`.

The hand book (base USDT, weight 1): BTC-PERP and ETH-PERP linear, one tier each, mmr 5 %; BTC 100, ETH 10
(the accounts of tests/margin/test_first_passage.py).
"""

import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook
from crossmargin.margin.first_passage import hit_probability, liquidation_odds
from crossmargin.model import InputError, Portfolio
from crossmargin.sim.forecast_odds import BookOdds, book_odds, buffer_quantile, calibrate, required_buffer
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook
from tests.builders import GENERIC, banded, book, linear, position, tiers

DAY = 86400.0
YEAR = 365 * DAY
USDT = banded("USDT", [("0", "1")])
BTC_PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))
ETH_PERP = linear("ETH-PERP", underlying="ETH", table=tiers((None, "0.05", "0.1")))
# The stablecoins move too: a held settle asset (USDT) is a factor of its own whose barrier both paths solve with
# the positions' requirements moving at its price (at 0 an error there would add nothing to either side).
GENERATED_VOLS = {
    **{f"ALT{k}": 1.2 for k in range(1, 40)}, "BTC": 0.6, "ETH": 0.7, "SOL": 0.9, "USDT": 0.01, "USDC": 0.01,
}  # fmt: skip


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def hand_book(correlation: str | None = None) -> Portfolio:
    """ "a": 150 USDT, long 10 BTC-PERP from 100. "b": 300 USDT, long 10 BTC-PERP and short 100 ETH-PERP from 100
    and 10. "iso": 100 USDT and a short 10 BTC-PERP from 100 isolated with 80 USDT. "covered": 2000 USDT, long 10
    BTC-PERP from 100. "under": 40 USDT, long 10 BTC-PERP from 100. "cash": 500 USDT and nothing else."""
    portfolio = book(
        [USDT],
        [BTC_PERP, ETH_PERP],
        {"BTC": "100", "ETH": "10"},
        {"BTC-PERP": "100", "ETH-PERP": "10"},
        [
            ("a", {"USDT": "150"}, [position("BTC-PERP", "10", "100")]),
            ("b", {"USDT": "300"}, [position("BTC-PERP", "10", "100"), position("ETH-PERP", "-100", "10")]),
            ("iso", {"USDT": "100"}, [position("BTC-PERP", "-10", "100", isolated_margin="80")]),
            ("covered", {"USDT": "2000"}, [position("BTC-PERP", "10", "100")]),
            ("under", {"USDT": "40"}, [position("BTC-PERP", "10", "100")]),
            ("cash", {"USDT": "500"}, []),
        ],
        base="USDT",
    )
    if correlation is None:
        return portfolio
    return portfolio.with_market(replace(portfolio.market, correlations={("BTC", "ETH"): Decimal(correlation)}))


def at(odds: BookOdds, account: str) -> tuple[float, float]:
    k = odds.accounts.index(account)
    return float(odds.account_probability[k]), float(odds.account_median_s[k])


def test_one_asset_without_drift_by_hand():
    odds = book_odds(RiskBook(hand_book(), GENERIC), DAY, {"BTC": 0.8, "ETH": 1.0})
    probability, median = at(odds, "a")
    # health at S: 150 + 10 (S - 100) - 5 % x 10 S = 9.5 S - 850: 0 at S = 89.4737, a = ln(850 / 950) = -0.1112256
    # P = 2 N(-0.1112256 / (0.8 sqrt(1/365))) = 2 N(-2.656204) = 0.0079026
    assert probability == pytest.approx(0.0079026, abs=1e-6)
    assert probability == pytest.approx(2 * normal_cdf(-math.log(950 / 850) / (0.8 * math.sqrt(DAY / YEAR))), rel=1e-9)
    # the median: (0.1112256 / (0.8 x 0.6744898))^2 = 0.2061295^2 = 0.0424893 years = 15.51 days
    assert median == pytest.approx(0.0424893 * YEAR, rel=1e-5)
    # the isolated short: 80 - 10 (S - 100) - 0.5 S = 1080 - 10.5 S, 0 at S = 102.857 (a = ln(1.08 / 1.05));
    # the cross pool holds 100 USDT only (the base): no price liquidates it
    probability, _ = at(odds, "iso")
    assert probability == pytest.approx(2 * normal_cdf(-math.log(1.08 / 1.05) / (0.8 / math.sqrt(365))), rel=1e-9)
    # 2000 USDT behind a long of 1000: 9.5 S + 1000 > 0 at every price; 40 USDT: 950 - 960 < 0, liquidatable now;
    # cash alone: nothing to liquidate
    assert at(odds, "covered") == (0.0, math.inf)
    assert at(odds, "under") == (1.0, 0.0)
    assert at(odds, "cash") == (0.0, math.inf)


def test_the_ranking_puts_the_likeliest_first():
    odds = book_odds(RiskBook(hand_book(), GENERIC), DAY, {"BTC": 0.8, "ETH": 1.0})
    ranked = [odds.accounts[k] for k in odds.ranked()]
    # under (1) first; then iso (distance 0.0282) before a (0.1112); covered and cash (0) last, in the book's order
    assert ranked[:3] == ["under", "iso", "b" if at(odds, "b")[0] > at(odds, "a")[0] else "a"]
    assert ranked[-2:] == ["covered", "cash"]
    assert list(odds.ranked(2)) == list(odds.ranked()[:2])


def agree(portfolio: Portfolio, rules_name: str, vols: dict[str, float], sample: int, horizon: float = DAY) -> int:
    """Every account of ``portfolio`` (at most ``sample``, evenly spread) against the exact odds: the
    probability within 1e-9 absolute and 1e-7 relative, the median time of the likeliest pool within 1e-9
    relative (both infinite together). Returns the accounts compared."""
    rules = rulebook(rules_name).rules
    odds = book_odds(
        RiskBook(portfolio, rules),
        horizon,
        vols,
        correlations={k: float(v) for k, v in portfolio.market.correlations.items()},
    )
    step = max(1, len(portfolio.accounts) // sample)
    compared = 0
    for account in portfolio.accounts[::step]:
        exact = liquidation_odds(account, portfolio, rules, horizon, vols)
        probability, median = at(odds, account.id)
        assert probability == pytest.approx(exact.probability, rel=1e-7, abs=1e-9), account.id
        medians = [p.median_time_s for p in exact.pools if p.probability == exact.probability]
        expected = min(medians, default=math.inf)
        if math.isinf(expected):
            assert math.isinf(median), account.id
        else:
            assert median == pytest.approx(expected, rel=1e-9), account.id
        compared += 1
    return compared


@pytest.mark.parametrize("rho", ["-0.3", "0.5", "0.9"])
def test_hand_made_accounts_against_the_exact_odds(rho: str):
    assert agree(hand_book(rho), "generic", {"BTC": 0.8, "ETH": 1.0}, 10, 7 * DAY) == 6


@pytest.mark.parametrize(("rules_name", "seed"), [("generic", 3), ("hyperliquid", 5), ("okx", 11)])
def test_generated_books_against_the_exact_odds(rules_name: str, seed: int):
    # generic: the underlying moves; hyperliquid: its liquidation prices move the instrument alone (the odds
    # still move the underlying); okx: uPnL inside the settle collateral. Some accounts are distressed.
    portfolio = synthetic_book(240, seed)
    # every pair of assets 0.5, BTC and ETH 0.8 (positive definite: off an equicorrelation of least eigenvalue 0.5
    # by one pair of 0.3)
    names = sorted({*portfolio.market.prices, "USDT", "USDC"})
    pairs = {(a, b): Decimal("0.5") for a in names for b in names if a < b}
    pairs[("BTC", "ETH")] = Decimal("0.8")
    portfolio = portfolio.with_market(replace(portfolio.market, correlations=pairs))
    assert agree(portfolio, rules_name, GENERATED_VOLS, 40) == 40


def test_the_buffer_by_hand_and_round_trip():
    # N^-1(1 - 0.05 / 2) = N^-1(0.975) = 1.959964; sigma_H 2 per sqrt(s) over 100 s: d = 2 x 10 x 1.959964
    assert buffer_quantile(0.05) == pytest.approx(1.959964, abs=1e-6)
    assert float(required_buffer(2.0, 100.0, 0.05)) == pytest.approx(39.19928, abs=1e-4)
    for sigma, reaction, miss in ((2.0, 100.0, 0.05), (0.3, 60.0, 0.001), (15.0, 3600.0, 0.2)):
        d = float(required_buffer(sigma, reaction, miss))
        assert hit_probability(-d, sigma, reaction) == pytest.approx(miss, rel=1e-9)


def test_calibration_of_an_account_by_hand():
    odds = book_odds(RiskBook(hand_book(), GENERIC), DAY, {"BTC": 0.8, "ETH": 1.0})
    calibration = calibrate(odds, 600.0, 0.01)
    pool = int(odds.account_pool[odds.accounts.index("a")])
    # "a": slope 100 / 0.1112256 = 899.07 per log return; sigma_H = 899.07 x 0.8 / sqrt(31,536,000) = 0.128080
    # per sqrt(s); d = 0.128080 x sqrt(600) x N^-1(0.995) (2.575829) = 8.0815
    slope = 100 / math.log(950 / 850)
    d = slope * 0.8 / math.sqrt(YEAR) * math.sqrt(600) * 2.5758293
    assert calibration.buffer[pool] == pytest.approx(d, rel=1e-6)
    # maintenance 5 % x 1000 = 50: the multiple d / 50; 50 >= 8.08 meets, and so does the health 100
    assert calibration.mm_multiple[pool] == pytest.approx(d / 50, rel=1e-6)
    assert calibration.mm_meets[pool] and calibration.health_meets[pool]
    # as a move of BTC: d / 899.07 of a log return
    assert calibration.price_move[pool] == pytest.approx(d / slope, rel=1e-6)
    # a reaction of a year at one in a million: d = 0.128080 x 5615.69 x 4.891638 = 3518.5 > 100 and > 50
    slow = calibrate(odds, YEAR, 1e-6)
    assert not slow.mm_meets[pool] and not slow.health_meets[pool]
    assert int(slow.account_pool[odds.accounts.index("a")]) == pool
    assert slow.book_multiple(odds, 100.0) >= slow.mm_multiple[pool]


@settings(max_examples=20, deadline=None)
@given(st.floats(60.0, 30 * DAY), st.floats(1.01, 100.0), st.floats(0.05, 2.0))
def test_the_probability_grows_with_the_horizon_and_the_volatility(horizon: float, longer: float, vol: float):
    book_ = RiskBook(hand_book("0.5"), GENERIC)
    short = book_odds(book_, horizon, {"BTC": vol, "ETH": vol})
    long = book_odds(book_, horizon * longer, {"BTC": vol, "ETH": vol})
    wild = book_odds(book_, horizon, {"BTC": vol * longer, "ETH": vol * longer})
    assert (long.account_probability >= short.account_probability - 1e-15).all()
    assert (wild.account_probability >= short.account_probability - 1e-15).all()


def test_bad_input_names_its_field():
    book_ = RiskBook(hand_book(), GENERIC)
    for args, field in (
        ((0.0, {"BTC": 0.8, "ETH": 1.0}), "horizon_s"),
        ((math.nan, {"BTC": 0.8, "ETH": 1.0}), "horizon_s"),
        ((DAY, {"BTC": 0.8}), "volatilities.ETH"),
        ((DAY, None), "vols.BTC"),
        ((DAY, {"BTC": -0.1, "ETH": 1.0}), "volatilities.BTC"),
    ):
        with pytest.raises(InputError) as error:
            book_odds(book_, *args)
        assert error.value.field == field
    with pytest.raises(InputError) as error:
        book_odds(book_, DAY, {"BTC": 0.8, "ETH": 1.0}, {("BTC", "ETH"): 1.5})
    assert error.value.field == "correlations.BTC.ETH"
    odds = book_odds(book_, DAY, {"BTC": 0.8, "ETH": 1.0})
    for reaction, miss, field in ((0.0, 0.1, "reaction_s"), (60.0, 0.0, "miss"), (60.0, 1.0, "miss")):
        with pytest.raises(InputError) as error:
            calibrate(odds, reaction, miss)
        assert error.value.field == field
    with pytest.raises(InputError) as error:
        book_odds(RiskBook(hand_book(), rulebook("scenario-margin").rules), DAY, {"BTC": 0.8, "ETH": 1.0})
    assert error.value.field == "rules"
