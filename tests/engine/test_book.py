"""The risk book against the exact evaluator: same figures within float error, same liquidatable set after
screening and exact confirmation, and incremental updates equal to a rebuild after any event sequence."""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine import kernels
from crossmargin.engine.book import RiskBook
from crossmargin.engine.numpy_kernels import pool_money, position_money
from crossmargin.engine.screening import screen
from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.margin.pools import PoolFigures
from crossmargin.model import Portfolio, Position, RuleChoices, exact
from crossmargin.model.numbers import ZERO
from crossmargin.model.rules import VolatilityScaling
from tests.builders import D
from tests.margin.test_rule_properties import venue_like

RELATIVE = 1e-9


def close(mirror: float, truth: Decimal) -> bool:
    return abs(mirror - float(truth)) <= RELATIVE * (1.0 + abs(float(truth)))


def exact_results(book: RiskBook) -> dict[str, AccountResult]:
    portfolio = book.portfolio_of(book.accounts)
    return {a.id: evaluate_account(a, portfolio, book.rules) for a in portfolio.accounts}


def mirrored_pools(book: RiskBook) -> Iterator[tuple[str, int, PoolFigures]]:
    """Every pool of the book: its account, its row in the mirror, and its exact figures."""
    for account_id, result in exact_results(book).items():
        yield account_id, book.cross_pool[account_id], result.cross
        for item in result.positions:
            if item.pool is not None:
                position = item.figures.position
                yield account_id, book.isolated_pool[(account_id, position.instrument, position.size > 0)], item.pool


def assert_mirror_matches(book: RiskBook) -> None:
    for account_id, index, truth in mirrored_pools(book):
        mirror = book.figures[index]
        expected = (truth.equity, truth.initial_equity, truth.maintenance_margin, truth.initial_margin)
        assert all(close(m, t) for m, t in zip(mirror, expected, strict=True)), (account_id, mirror, expected)


def exact_liquidatable(book: RiskBook) -> set[str]:
    return {
        account_id
        for account_id, result in exact_results(book).items()
        if result.cross.liquidatable or any(p.pool is not None and p.pool.liquidatable for p in result.positions)
    }


def scaled(portfolio: Portfolio, factor: Decimal) -> dict[str, Decimal]:
    with exact():
        return {name: (mark * factor).quantize(D("0.01")) for name, mark in portfolio.market.marks.items()}


@given(venue_like(), st.sampled_from(["0.7", "0.9", "1", "1.1", "1.4"]))
def test_mirror_equals_exact_and_screening_finds_the_exact_liquidatable_set(case: tuple[Portfolio, RuleChoices], move):
    portfolio, rules = case
    book = RiskBook(portfolio, rules)
    assert_mirror_matches(book)
    assert set(screen(book).liquidatable) == exact_liquidatable(book)
    book.tick(marks=scaled(portfolio, D(move)), prices={"BTC": (portfolio.market.prices["BTC"] * D(move))})
    assert_mirror_matches(book)
    assert set(screen(book).liquidatable) == exact_liquidatable(book)


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.sampled_from(["USDT", "BTC", "ETH"]), st.integers(-5000, 5000)),
        st.tuples(
            st.just("fill"), st.sampled_from(["BTC-PERP", "BTC-FUT", "BTC-INV", "ETH-PERP"]), st.integers(-300, 300)
        ),
        st.tuples(st.just("tick"), st.sampled_from(["BTC-PERP", "BTC-INV", "ETH-PERP", "BTC"]), st.integers(80, 120)),
        st.tuples(st.just("account"), st.just(""), st.integers(1, 100000)),
    ),
    max_size=12,
)


@given(venue_like(), EVENTS)
def test_incremental_updates_equal_a_rebuild(case: tuple[Portfolio, RuleChoices], events):
    portfolio, rules = case
    book = RiskBook(portfolio, rules)
    for n, (kind, name, amount) in enumerate(events):
        if kind == "deposit":
            book.deposit("acct", name, D(amount))
        elif kind == "fill":
            if amount == 0 or sum(p.instrument == name for p in book.accounts["acct"].positions) > 1:
                continue
            mark = book.market.marks[name]
            book.fill("acct", name, D(amount), mark)
        elif kind == "tick":
            with exact():
                if name in book.market.marks:
                    book.tick(marks={name: (book.market.marks[name] * amount / 100).quantize(D("0.01"))})
                else:
                    book.tick(prices={name: (book.market.prices[name] * amount / 100).quantize(D("0.01"))})
        else:
            template = book.accounts["acct"]
            book.add_account(replace(template, id=f"new{n}", balances={"USDT": D(amount)}))
        assert_mirror_matches(book)
    rebuilt = RiskBook(book.portfolio_of(book.accounts), rules)
    for account_id in book.accounts:
        for mine, theirs in zip(book.pools_of(account_id), rebuilt.pools_of(account_id), strict=True):
            assert all(
                abs(x - y) <= RELATIVE * (1 + abs(y))
                for x, y in zip(book.figures[mine], rebuilt.figures[theirs], strict=True)
            )
    assert set(screen(book).liquidatable) == exact_liquidatable(book) == set(screen(rebuilt).liquidatable)
    assert book.accounts["acct"].balances.get("USDT", ZERO) == rebuilt.accounts["acct"].balances.get("USDT", ZERO)


def slot_valuation(book: RiskBook) -> np.ndarray:
    """``[slot, side]``: whether the slot's requirement (0 maintenance, 1 initial) is valued at entry, by the
    margin mode of the slot's pool (an isolated pool has no haircut)."""
    isolated = (book.pool >= 0) & ~book.haircut[np.maximum(book.pool, 0)]
    return book.at_entry[isolated.astype(np.int64)]


def fused_position_sums(book: RiskBook) -> np.ndarray:
    """The fused kernel's position sums alone, run fresh into cleared copies: ``[row, 4, pool]`` like
    :func:`pool_money` (folded: per settle asset; else one base-currency row)."""
    count = book.pool_count
    money = np.zeros_like(book.pool_money)
    figures = np.zeros_like(book.figures)
    t = book.instruments
    kernels.revalue_range(
        0, book.size.shape[0], -1, count, book.size, book.entry, book.instrument, book.pool, book.bracket.copy(),
        book.marks, book.imr_now, book.scale, t.contract_size, t.inverse, t.size_basis, t.settle, t.edges, t.mmr,
        t.imr, t.amount, t.liquidation_fee, t.close_fee, t.imf, t.upnl_weight, t.initial_upnl_weight, t.upnl_cap,
        t.quantum, t.maintenance_fraction, book.haircut, book.at_entry, book.cached.copy(), money, figures,
        book.liquidatable.copy(), book.prices,
        book.positions_in_pool, book.folded, False, True, 1.0, False, False,
    )  # fmt: skip
    if book.folded:
        return money[:, :, :count]
    return figures[:count].T[None, :, :]


@given(venue_like())
def test_numpy_kernel_equals_the_fused_kernel(case: tuple[Portfolio, RuleChoices]):
    portfolio, rules = case
    book = RiskBook(portfolio, rules)
    money = position_money(
        book.size, book.entry, book.instrument, book.marks, book.imr_now, book.scale, book.instruments,
        slot_valuation(book),
    )  # fmt: skip
    settle = book.instruments.settle[book.instrument]
    by_asset = rules.pnl_in_settle_collateral
    base = money if by_asset else money * book.prices[settle][:, None]
    assert np.allclose(base, book.cached, rtol=1e-12, atol=1e-9)
    summed = pool_money(money, book.pool, settle, book.prices, book.pool_count, len(book.assets.names), by_asset)
    fused = fused_position_sums(book)
    assert summed.shape == fused.shape
    assert np.allclose(summed, fused, rtol=1e-12, atol=1e-9)


@given(venue_like(), st.integers(0, 10**6), st.integers(-300, 300), st.booleans())
def test_setting_an_account_equals_a_rebuild(case: tuple[Portfolio, RuleChoices], seed, change, isolate):
    portfolio, rules = case
    book = RiskBook(portfolio, rules)
    account = book.accounts["acct"]
    positions: list[Position | None] = list(account.positions)
    if account.positions and change:
        first = account.positions[seed % len(positions)]
        with exact():
            size = first.size + change
        margin = D(50) if isolate else None
        positions[seed % len(positions)] = replace(first, size=size, isolated_margin=margin) if size else None
    balances = {asset: D(seed % 1000) for asset in list(account.balances)[:1]}  # others drop to zero
    new = replace(account, balances=balances, positions=tuple(p for p in positions if p is not None))
    book.set_account(new)
    rebuilt = RiskBook(book.portfolio_of(book.accounts), rules)
    mine = {book.owners[p]: book.figures[p] for p in book.pools_of("acct")}
    theirs = {rebuilt.owners[p]: rebuilt.figures[p] for p in rebuilt.pools_of("acct")}
    assert mine.keys() == theirs.keys()
    for owner, figures in mine.items():
        assert np.allclose(figures, theirs[owner], rtol=RELATIVE, atol=RELATIVE)
    assert_mirror_matches(book)


@given(venue_like(), st.sampled_from(["0.2", "0.6", "1.1", "3"]), st.sampled_from(["0.8", "1.2"]))
def test_volatility_scaled_requirements_in_the_mirror_equal_the_exact_ones(case, btc_vol, move):
    # every BTC requirement x clamp(vol / 0.5, 1, 3); other underlyings (no vol given) at the floor
    portfolio, rules = case
    market = replace(portfolio.market, vols={"BTC": ((D(1), D(btc_vol)),)})
    scaled_rules = replace(rules, volatility_scaling=VolatilityScaling(D("0.5")))
    book = RiskBook(portfolio.with_market(market), scaled_rules)
    assert_mirror_matches(book)
    book.tick(marks=scaled(portfolio, D(move)))
    assert_mirror_matches(book)
    assert set(screen(book).liquidatable) == exact_liquidatable(book)
