"""The scenario grid and the VaR floor in the risk book against the exact evaluator: by hand (a hedged
pair, a VaR floor over a balance), and on random books before and after ticks, price moves and account
changes (property): the same requirements within float error and the 1e-8 rounding of the exact
figures, the same liquidatable set after screening, and incremental updates equal to a rebuild."""

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook, check_mirrored
from crossmargin.engine.kernels import PARALLEL_ITEMS
from crossmargin.engine.screening import screen
from crossmargin.margin.valuation import with_option_marks
from crossmargin.model import Account, ContractKind, InputError, Instrument, Market, OptionRight, Portfolio, RuleChoices
from crossmargin.model.numbers import ZERO
from crossmargin.model.rules import VarFloor
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook
from tests.builders import D, banded, book, linear, position, tiers
from tests.engine.test_book import exact_liquidatable, mirrored_pools, scaled
from tests.margin.test_rule_properties import venue_like

GRID = rulebook("scenario-margin").rules.scenario_margin
FLOOR = VarFloor(D("0.99"), D(2))
USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.9")])
PERP = linear("BTC-PERP", table=tiers((None, "0.005", "0.01")))


def requirement_close(mirror: float, truth: Decimal) -> bool:
    # the exact requirement is a float rounded to 12 digits and to 1e-8
    return abs(mirror - float(truth)) <= 2e-8 + 1e-9 * abs(float(truth))


def assert_requirements_match(book_: RiskBook) -> None:
    for account_id, index, truth in mirrored_pools(book_):
        mirror = book_.figures[index]
        assert requirement_close(mirror[2], truth.maintenance_margin), (account_id, mirror, truth)
        assert requirement_close(mirror[3], truth.initial_margin), (account_id, mirror, truth)
        assert abs(mirror[0] - float(truth.equity)) <= 1e-9 * (1 + abs(float(truth.equity)))


def risk_market(portfolio: Portfolio) -> Market:
    """Prices for every underlying (a mark where none is given), a volatility for every factor, every pair
    correlated at 0.5 (positive definite)."""
    market = portfolio.market
    prices = dict(market.prices)
    for spec in portfolio.instruments.values():
        if spec.underlying not in prices and spec.underlying != market.base:
            prices[spec.underlying] = market.mark(spec.name)
    names = sorted({*prices, *portfolio.assets} - {market.base})
    vols = {name: ((D(1), D("0.4") + D("0.1") * k),) for k, name in enumerate(names)}
    correlations = {(a, b): D("0.5") for a in names for b in names if a < b}
    return replace(market, prices=prices, vols=vols, correlations=correlations)


def risk_rules(rules: RuleChoices, which: str) -> RuleChoices:
    grid = GRID if which in ("grid", "both") else None
    floor = FLOOR if which in ("floor", "both") else None
    return replace(rules, scenario_margin=grid, var_floor=floor)


def test_a_hedged_pair_and_a_var_floor_by_hand():
    # Long 1 BTC-PERP at 40,000 and short 1 BTC-FUT-like second perpetual: every move loses nothing, so the
    # grid is the delta add-on alone, 1 % x |1 - 1| x 40,000 = 0. One unhedged BTC: 0.16 x 40,000 + 400.
    short = linear("BTC-PERP2", table=tiers((None, "0.005", "0.01")))
    accounts = [
        ("hedged", {"USDT": "10000"}, [position("BTC-PERP", "1", "40000"), position("BTC-PERP2", "-1", "40000")]),
        ("long", {"USDT": "10000"}, [position("BTC-PERP", "1", "40000")]),
        ("spot", {"USDT": "1000", "BTC": "2"}, [position("BTC-PERP", "-2", "40000")]),
    ]
    prices, marks = {"BTC": "40000"}, {"BTC-PERP": "40000", "BTC-PERP2": "40000"}
    portfolio = book([USDT, BTC], [PERP, short], prices, marks, accounts, base="USDT")
    rules = rulebook("scenario-margin").rules
    mirror = RiskBook(portfolio, rules)
    assert mirror.figures[mirror.cross_pool["hedged"], 2] == pytest.approx(0.0, abs=1e-9)
    assert mirror.figures[mirror.cross_pool["long"], 2] == pytest.approx(6800.0)
    # 2 BTC held against a short of 2: hedged too (the balance moves with the price)
    assert mirror.figures[mirror.cross_pool["spot"], 2] == pytest.approx(0.0, abs=1e-9)
    # VaR floor at 99 %, 1 day, BTC at 80 % a year: z = 2.3263, daily sigma 0.8 / sqrt(365) = 0.041874;
    # the long's exposure 40,000: VaR = 2.3263 x 0.041874 x 40,000 = 3,896.5 above its tier sum 200
    market = replace(portfolio.market, vols={"BTC": ((D(1), D("0.8")),), "USDT": ((D(1), D("0.01")),)})
    floored = RiskBook(portfolio.with_market(market), RuleChoices("floor", var_floor=VarFloor(D("0.99"))))
    var = 2.3263479 * 0.8 / math.sqrt(365) * 40000
    assert floored.figures[floored.cross_pool["long"], 2] == pytest.approx(var, rel=1e-6)
    assert var == pytest.approx(3896.5, abs=0.1)
    # without a volatility for BTC the floor cannot be mirrored, and says which
    with pytest.raises(InputError) as error:
        check_mirrored(portfolio, RuleChoices("floor", var_floor=VarFloor(D("0.99"))))
    assert error.value.field == "vols.BTC"


@given(venue_like(), st.sampled_from(["grid", "floor", "both"]), st.sampled_from(["0.8", "0.95", "1.1"]))
def test_risk_requirements_in_the_mirror_equal_the_exact_ones(case, which, move):
    portfolio, rules = case
    portfolio = portfolio.with_market(risk_market(portfolio))
    rules = risk_rules(rules, which)
    mirror = RiskBook(portfolio, rules)
    assert_requirements_match(mirror)
    assert set(screen(mirror).liquidatable) == exact_liquidatable(mirror)
    mirror.tick(marks=scaled(portfolio, D(move)))
    assert_requirements_match(mirror)
    with_prices = {a: p * D(move) for a, p in portfolio.market.prices.items()}
    mirror.tick(prices=with_prices)
    assert_requirements_match(mirror)
    assert set(screen(mirror).liquidatable) == exact_liquidatable(mirror)


@given(venue_like(), st.sampled_from(["grid", "floor", "both"]), st.integers(0, 10**6))
def test_account_changes_under_risk_rules_equal_a_rebuild(case, which, seed):
    portfolio, rules = case
    portfolio = portfolio.with_market(risk_market(portfolio))
    rules = risk_rules(rules, which)
    mirror = RiskBook(portfolio, rules)
    account = portfolio.accounts[seed % len(portfolio.accounts)]
    kept = account.positions[: seed % (len(account.positions) + 1)]
    mirror.set_account(Account(account.id, {**account.balances, "USDT": D(seed % 5000)}, kept))
    first = mirror.accounts[portfolio.accounts[0].id]
    mirror.set_account(replace(first, balances={**first.balances, "USDT": first.balances.get("USDT", ZERO) + 1}))
    rebuilt = RiskBook(mirror.portfolio_of(mirror.accounts), rules)
    threshold = float(rules.liquidation_threshold)
    for account_id in mirror.accounts:
        for a, b in zip(mirror.pools_of(account_id), rebuilt.pools_of(account_id), strict=True):
            assert mirror.figures[a] == pytest.approx(rebuilt.figures[b], rel=1e-9, abs=1e-8)
            # the verdict where the figures are clear of the boundary by more than that tolerance: on it (a pool
            # emptied of positions whose balances net to 0) the moved sums hold a float residue the rebuilt lack
            equity, maintenance = rebuilt.figures[b, 0], threshold * rebuilt.figures[b, 2]
            if abs(equity - maintenance) > 1e-9 * (abs(equity) + abs(maintenance)) + 2e-8:
                assert mirror.liquidatable[a] == rebuilt.liquidatable[b]
    assert_requirements_match(mirror)


NOW = datetime(2025, 1, 1, tzinfo=UTC)
USDC = banded("USDC", [("0", "1")])
BTC_ASSET = banded("BTC", [("0", "0.9")])


def option_spec(strike: int, right: OptionRight, coin: bool) -> Instrument:
    name = f"{'C' if right is OptionRight.CALL else 'P'}-{strike}{'-coin' if coin else ''}"
    return Instrument(
        name, ContractKind.OPTION, "BTC", "BTC" if coin else "USDC", D(1), False, tiers((None, "0.1", "0.15")),
        NOW + timedelta(days=73), strike=D(strike), right=right,
    )  # fmt: skip


OPTION_SPECS = [option_spec(k, r, coin) for k in (30000, 40000, 52000) for r in OptionRight for coin in (False, True)]
OPTION_PERP = linear("BTC-PERP", settle="USDC", table=tiers((None, "0.005", "0.01")))
LEGS = st.lists(
    st.tuples(
        st.sampled_from([s.name for s in OPTION_SPECS] + ["BTC-PERP"]),
        st.sampled_from(["-2", "-0.5", "0.5", "1", "3"]),
        st.sampled_from(["0.01", "0.05", "900", "4000"]),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda leg: leg[0],
)


@settings(max_examples=40, deadline=None)
@given(
    legs=LEGS,
    btc=st.sampled_from(["0.3", "1.2"]),
    smile=st.sampled_from([((1, "0.8"),), ((0.8, "0.9"), (1, "0.7"), (1.25, "0.85"))]),
    which=st.sampled_from(["grid", "floor", "both"]),
    move=st.sampled_from(["0.85", "1.1"]),
)
def test_options_in_the_mirror_equal_the_exact_grid_and_floor(legs, btc, smile, which, move):
    # each leg's entry is a premium (a coin-settled one in BTC when small) or the perpetual's price
    positions = tuple(position(name, size, "40000" if name == "BTC-PERP" else entry) for name, size, entry in legs)
    market = Market(
        "USDC", {"BTC": D(40000)}, {"BTC-PERP": D(40000)}, {}, NOW,
        {"BTC": tuple((D(str(m)), D(v)) for m, v in smile), "USDC": ((D(1), D("0.01")),)},
    )  # fmt: skip
    instruments = {s.name: s for s in (*OPTION_SPECS, OPTION_PERP)}
    portfolio = with_option_marks(
        Portfolio(
            "USDC", "scenario", {"USDC": USDC, "BTC": BTC_ASSET}, instruments, market,
            (Account("a", {"USDC": D(60000), "BTC": D(btc)}, positions),),
        )
    )  # fmt: skip
    rules = risk_rules(rulebook("scenario-margin").rules, which)
    mirror = RiskBook(portfolio, rules)
    assert_requirements_match(mirror)
    moved = {"BTC-PERP": D(40000) * D(move)}
    mirror.tick(prices={"BTC": D(40000) * D(move)}, marks=moved)
    # the mirror's option marks are the caller's; the grid and the floor reprice from the underlying
    assert_requirements_match(mirror)


def test_a_large_book_shared_over_the_cores_equals_the_exact_evaluator():
    # 5,000 accounts: more pools than kernels.PARALLEL_ITEMS, so the requirements are worked on every core;
    # a sample of accounts against the exact evaluator
    portfolio = synthetic_book(5000, 3)
    portfolio = portfolio.with_market(risk_market(portfolio))
    rules = risk_rules(rulebook("generic").rules, "both")
    mirror = RiskBook(portfolio, rules)
    assert mirror.pool_count >= PARALLEL_ITEMS
    sample = RiskBook(replace(portfolio, accounts=portfolio.accounts[::97]), rules)
    assert_requirements_match(sample)
    for account in sample.accounts:
        for a, b in zip(mirror.pools_of(account), sample.pools_of(account), strict=True):
            assert mirror.figures[a] == pytest.approx(sample.figures[b], rel=1e-12, abs=1e-9)
