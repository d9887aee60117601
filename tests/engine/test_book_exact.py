"""The compiled exact path over the risk book's own columns: after any events (those of
tests/engine/test_book_layouts.py: ticks, legs opened, resized, flipped, moved between cross and isolated and
closed, balances set, accounts added), every pool it holds has, digit for digit, the figures and the verdict the
``Decimal`` evaluator gives on the book's exact copy of its account; a pool it does not hold is one with a term
or a number outside the path; and the screen's verdicts are the ``Decimal`` ones."""

from dataclasses import replace
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_exact import book_verdicts, pool_verdict
from crossmargin.engine.exact_pools import FIGURES
from crossmargin.engine.exact_tables import NOT_HELD, held, market_tables, supported_rules
from crossmargin.engine.screening import screen
from crossmargin.margin.account import cross_pool, isolated_pool
from crossmargin.margin.pools import Pool, evaluate_pool
from crossmargin.model import Asset, Portfolio, RuleChoices
from crossmargin.model.rules import MarginValuation, Valuation
from tests.builders import GENERIC, book, linear, position
from tests.engine.test_book_layouts import EVENTS, Watched, apply
from tests.margin.test_properties import random_books
from tests.margin.test_rule_properties import venue_like


@st.composite
def held_books(draw: st.DrawFn) -> tuple[Portfolio, RuleChoices]:
    """Random accounts of linear and inverse contracts (tests/margin/test_properties.py: 2 to 4 of them, so that
    a closed leg moves another account's slot into its place) under random choices of the terms the compiled
    path takes: threshold, ``<=``, pools without a requirement, valuation at entry."""
    valuation = MarginValuation(*(draw(st.sampled_from(list(Valuation))) for _ in range(4)))
    rules = RuleChoices(
        "held", liquidate_at_equality=draw(st.booleans()),
        liquidation_threshold=draw(st.sampled_from([Decimal(1), Decimal("1.05"), Decimal("1.25")])),
        liquidate_without_requirement=draw(st.booleans()), margin_valuation=valuation,
    )  # fmt: skip
    first = draw(random_books())
    others = [replace(draw(random_books()).accounts[0], id=f"other-{n}") for n in range(draw(st.integers(1, 3)))]
    return first.of_accounts([*first.accounts, *others]), rules


BOOKS = st.one_of(held_books(), venue_like())
"""Books the compiled path holds but for their inverse contracts, and books under every venue's terms (mostly
not held: the Decimal evaluator's)."""


def exact_pool(risk: RiskBook, pool: int) -> tuple[Pool, Portfolio]:
    """The book's exact copy of pool ``pool``, and the portfolio it is valued in."""
    owner = risk.owners[pool]
    portfolio = risk.portfolio_of([owner.account])
    account = portfolio.accounts[0]
    if owner.instrument is None:
        return cross_pool(account), portfolio
    leg = next(p for p in account.positions if (p.instrument, p.size > 0) == (owner.instrument, owner.long))
    return isolated_pool(leg, portfolio), portfolio


def short(value: Decimal) -> bool:
    return held(value)[1] != NOT_HELD


def assert_exact(risk: RiskBook) -> None:
    """Every live pool: the compiled figures equal the Decimal ones where it is held, and it is held exactly where
    its rules, instruments, assets and numbers are ones the path takes."""
    live = [p for p in range(risk.pool_count) if risk.owners[p].account in risk.accounts]
    live = [p for p in live if risk.owners[p].instrument is None or risk.positions_in_pool[p]]
    verdicts = book_verdicts(risk, np.array(live, dtype=np.int64))
    empty = risk.portfolio_of([])
    supported = supported_rules(risk.rules, empty)
    market = market_tables(empty, risk.rules, risk.instruments.names, risk.assets.names) if supported else None
    for k, p in enumerate(live):
        pool, portfolio = exact_pool(risk, p)
        figures = evaluate_pool(pool, portfolio, risk.rules)
        expected = (
            market is not None
            and all(market.instrument_map[risk.instruments.index(q.instrument)] >= 0 for q in pool.positions)
            and all(market.asset_map[risk.assets.index(a)] >= 0 for a, x in pool.balances.items() if x)
            and all(short(q.size) and short(q.entry_price) for q in pool.positions)
            and all(short(x) for x in pool.balances.values())
        )
        # Held unless a figure outgrows 128 bits: these books' figures are far from it.
        assert verdicts.ok[k] == expected, (pool, risk.rules)
        assert pool_verdict(risk, verdicts, k, p) == figures.liquidatable
        if not verdicts.ok[k]:
            continue
        for index, name in enumerate(FIGURES):
            if name != "initial_margin" or verdicts.initial_held[k]:
                assert verdicts.figure(k, index) == getattr(figures, name), name


@settings(max_examples=150, deadline=None)
@given(BOOKS, EVENTS)
def test_the_book_columns_give_the_decimal_figures_after_any_events(case: tuple[Portfolio, RuleChoices], events):
    portfolio, rules = case
    watched = Watched(RiskBook(portfolio, rules))
    assert_exact(watched.risk)
    for n, event in enumerate(events):
        apply(watched, event, n)
        assert_exact(watched.risk)
    risk = watched.risk
    kept, risk.exact = risk.exact_columns(), None
    made = risk.exact_columns()  # made again from the accounts: what the events kept
    occupied = risk.pool >= 0
    for mine, theirs in zip(kept.slots, made.slots, strict=True):
        assert (mine[occupied] == theirs[occupied]).all()
    for mine, theirs in zip(kept.balances, made.balances, strict=True):
        assert (mine == theirs).all()


def test_the_pool_of_a_closed_isolated_leg_is_not_liquidatable_on_either_path() -> None:
    portfolio = book(
        [Asset.simple("USDT")], [linear("BTC-PERP")], {"USDT": "1"}, {"BTC-PERP": "20000"},
        [("a", {"USDT": "-10"}, [position("BTC-PERP", "1", "20000", "100")])],
    )  # fmt: skip
    for rules in (GENERIC, RuleChoices("folded", pnl_in_settle_collateral=True)):  # compiled, then not held
        risk = RiskBook(portfolio, rules)
        isolated = risk.isolated_pool[("a", "BTC-PERP", True)]
        risk.set_account(replace(risk.accounts["a"], positions=()))
        verdicts = book_verdicts(risk, np.array([isolated]))
        assert verdicts.ok[0] == (rules is GENERIC)
        assert pool_verdict(risk, verdicts, 0, isolated) is False


@settings(max_examples=60, deadline=None)
@given(BOOKS)
def test_the_screen_reports_the_decimal_verdicts(case: tuple[Portfolio, RuleChoices]):
    portfolio, rules = case
    risk = RiskBook(portfolio, rules)
    result = screen(risk, band=Decimal("1000"))  # every account a candidate
    for account in portfolio.accounts:
        pools = risk.pools_of(account.id)
        exact = any(evaluate_pool(exact_pool(risk, p)[0], portfolio, rules).liquidatable for p in pools)
        assert (account.id in result.liquidatable) == exact
        screened = account.id in result.near_liquidation or account.id in result.liquidatable
        assert screened or not exact
