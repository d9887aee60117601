"""The risk book against the exact evaluator on random books under random rules varying every rule term
(:func:`tests.margin.test_rule_properties.venue_like`): every pool's equity, initial equity, maintenance and
initial margin within ``RELATIVE`` of the exact figures (relative to 1 + the figure; plus ``FIGURE_QUANTUM``
on the requirements of a scenario grid or VaR floor, whose exact figures are rounded to it, and a margin quantum
a position where the exact requirement sits a hair above a multiple of it: :func:`quanta`), the float
verdict equal to the exact one wherever the figures are further than that from the rulebook's boundary,
the same liquidatable set after screening and exact confirmation, before and after ticks of marks, prices
and open interest; and incremental updates equal to a rebuild after any event sequence."""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.clearing.events import MARKET, Deposit, Event, Trade, Withdraw
from crossmargin.clearing.state import ClearingState
from crossmargin.engine.book import RiskBook
from crossmargin.engine.screening import screen
from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.margin.pools import PoolFigures
from crossmargin.margin.valuation import FIGURE_QUANTUM
from crossmargin.margin.volatility import requirement_multiplier
from crossmargin.model import Account, Asset, InputError, Portfolio, Position, RuleChoices, exact
from crossmargin.model.numbers import ZERO
from crossmargin.model.rules import VolatilityScaling
from tests.builders import GENERIC, D, book, linear, position
from tests.margin.test_rule_properties import venue_like

RELATIVE = 1e-9


def close(mirror: float, truth: Decimal, quantum: float = 0.0) -> bool:
    return abs(mirror - float(truth)) <= RELATIVE * (1.0 + abs(float(truth))) + quantum


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


def quanta(book: RiskBook, truth: PoolFigures) -> float:
    """What rounding to ``margin_quantum`` may leave between the mirror's requirement and the exact one: a quantum
    (x the requirement's multiplier, in base) for each position with one. An exact requirement a hair above a
    multiple of the quantum rounds up to the next one, where its float, within ``SNAP`` of the multiple, is
    taken as the multiple (engine/terms.py, "Rounding to a quantum")."""
    total = 0.0
    for figures in truth.positions:
        spec = book.instrument_table[figures.position.instrument]
        if spec.margin_quantum is not None:
            multiplier = requirement_multiplier(book.market, spec.underlying, book.rules.volatility_scaling)
            total += float(spec.margin_quantum * multiplier * book.market.price(spec.settle))
    return total


def assert_mirror_matches(book: RiskBook) -> None:
    """Every pool's figures within the tolerance of the module doc, and its float verdict equal to the exact
    one where the figures are clear of the boundary by more than that."""
    rules = book.rules
    rounded = 2 * float(FIGURE_QUANTUM) if rules.scenario_margin or rules.var_floor else 0.0
    threshold = float(rules.liquidation_threshold)
    for account_id, index, truth in mirrored_pools(book):
        mirror = book.figures[index]
        expected = (truth.equity, truth.initial_equity, truth.maintenance_margin, truth.initial_margin)
        rounded_here = rounded + quanta(book, truth)
        slack = (0.0, 0.0, rounded_here, rounded_here)
        matches = [close(m, t, q) for m, t, q in zip(mirror, expected, slack, strict=True)]
        assert all(matches), (account_id, book.owners[index], mirror, expected)
        equity, required = float(truth.equity), threshold * float(truth.maintenance_margin)
        margin = RELATIVE * (2.0 + abs(equity) + abs(required)) + threshold * rounded_here
        # a pool without a requirement is compared where its float maintenance is an exact 0 too (not residue)
        decided = truth.maintenance_margin != 0 or mirror[2] == 0.0
        if abs(equity - required) > margin and decided:
            assert book.liquidatable[index] == truth.liquidatable, (account_id, book.owners[index], mirror, truth)


def exact_liquidatable(book: RiskBook) -> set[str]:
    return {
        account_id
        for account_id, result in exact_results(book).items()
        if result.cross.liquidatable or any(p.pool is not None and p.pool.liquidatable for p in result.positions)
    }


def scaled(portfolio: Portfolio, factor: Decimal) -> dict[str, Decimal]:
    """Every mark x ``factor``, in cents (a mark below 1, an option's premium, exactly)."""
    with exact():
        return {
            name: (mark * factor).quantize(D("0.01")) if mark >= 1 else mark * factor
            for name, mark in portfolio.market.marks.items()
        }


@given(venue_like(), st.sampled_from(["0.7", "0.9", "1", "1.1", "1.4"]), st.sampled_from(["0", "0.5", "2"]))
def test_mirror_equals_exact_and_screening_finds_the_exact_liquidatable_set(
    case: tuple[Portfolio, RuleChoices], move, interest
):
    portfolio, rules = case
    book = RiskBook(portfolio, rules)
    assert_mirror_matches(book)
    assert set(screen(book).liquidatable) == exact_liquidatable(book)
    book.tick(marks=scaled(portfolio, D(move)), prices={"BTC": (portfolio.market.prices["BTC"] * D(move))})
    assert_mirror_matches(book)
    assert set(screen(book).liquidatable) == exact_liquidatable(book)
    # open interest moves the initial rates of instruments with caps (and those alone)
    book.tick(open_interest={name: oi * D(interest) for name, oi in portfolio.market.open_interest.items()})
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


def ledger_event(kind: str, name: str, amount: int, mark: Decimal) -> Event:
    """A deposit or withdrawal of ``amount`` of ``name``, or a trade of ``amount`` contracts of ``name`` at
    ``mark`` against the market (``acct`` buys when ``amount`` > 0)."""
    if kind == "deposit":
        return Deposit("acct", name, D(amount)) if amount > 0 else Withdraw("acct", name, D(-amount))
    buyer, seller = ("acct", MARKET) if amount > 0 else (MARKET, "acct")
    return Trade(buyer, seller, name, D(abs(amount)), mark)


@given(venue_like(), EVENTS)
def test_incremental_updates_equal_a_rebuild(case: tuple[Portfolio, RuleChoices], events):
    # money moves on the ledger (which refuses what it must: a withdrawal beyond the free collateral, a trade
    # failing the initial-margin check), and the book takes the account whole, as the engine loop copies it
    portfolio, rules = case
    ledger = ClearingState(portfolio, rules)
    book = RiskBook(ledger.portfolio(), rules)  # the ledger's accounts: money quantized as it holds it
    for n, (kind, name, amount) in enumerate(events):
        if kind in ("deposit", "fill"):
            if amount == 0:
                continue
            mark = book.market.marks.get(name, ZERO)
            try:
                ledger.apply(ledger_event(kind, name, amount, mark))
            except InputError:
                continue
            book.set_account(ledger.account("acct"))
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
    mirrored, held = book.accounts["acct"], ledger.account("acct")
    assert mirrored.positions == held.positions
    assert {a: x for a, x in mirrored.balances.items() if x} == {a: x for a, x in held.balances.items() if x}


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
    # (no VaR floor: it would need a volatility for every asset)
    scaled_rules = replace(rules, volatility_scaling=VolatilityScaling(D("0.5")), var_floor=None)
    book = RiskBook(portfolio.with_market(market), scaled_rules)
    assert_mirror_matches(book)
    book.tick(marks=scaled(portfolio, D(move)))
    assert_mirror_matches(book)
    assert set(screen(book).liquidatable) == exact_liquidatable(book)


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


def cross_figures(risk: RiskBook, account: str) -> tuple[float, ...]:
    return tuple(float(x) for x in risk.figures[risk.cross_pool[account]])


def test_figures_and_a_tick_by_hand():
    risk = small_book()
    # equity 1000, initial equity 1000, MM 0.5 x 20000 x 0.004 = 40, IM 80
    assert cross_figures(risk, "a") == (1000.0, 1000.0, 40.0, 80.0)
    # BTC-PERP to 18000: uPnL -1000 -> equity 0; MM 0.5 x 18000 x 0.004 = 36: liquidatable
    risk.tick(marks={"BTC-PERP": D(18000)})
    assert cross_figures(risk, "a") == (0.0, 0.0, 36.0, 72.0)
    result = screen(risk)
    assert result.liquidatable == ("a",) and result.total_equity == 50.0 and result.total_maintenance == 36.0


def test_a_ticks_pools_are_its_instruments_holders_kept_until_its_block_changes():
    risk = small_book()
    a, b = risk.cross_pool["a"], risk.cross_pool["b"]
    risk.tick(marks={"BTC-PERP": D(19000)})
    assert risk.ticked is not None and list(risk.ticked) == [a]  # only a holds BTC-PERP
    kept = risk.ticked
    risk.tick(marks={"BTC-PERP": D(19500)})
    assert risk.ticked is kept and not risk.ticked.flags.writeable  # the block did not change: the same pools
    risk.set_account(replace(risk.accounts["b"], positions=(position("BTC-PERP", "-1", "19500"),)))
    risk.tick(marks={"BTC-PERP": D(19400)})
    assert risk.ticked is not None and list(risk.ticked) == [a, b]  # b's new leg is in the block
    risk.set_account(replace(risk.accounts["a"], positions=()))
    risk.tick(marks={"BTC-PERP": D(19300)})
    assert risk.ticked is not None and list(risk.ticked) == [b]  # a's leg left it
    risk.tick(marks={"BTC-PERP": D(19200), "ETH-PERP": D(900)})
    assert risk.ticked is not None and list(risk.ticked) == [b]  # nobody holds ETH-PERP: the union is b's alone
    risk.tick(prices={"USDT": D(1)})
    assert risk.ticked is not None and list(risk.ticked) == [a, b]  # the settle asset's price: every holder


def test_an_account_set_and_a_new_account_by_hand():
    risk = small_book()
    # the ledger took 400 USDT out of a: equity 1000 - 400 = 600
    risk.set_account(replace(risk.accounts["a"], balances={"USDT": D(600)}))
    assert cross_figures(risk, "a") == (600.0, 600.0, 40.0, 80.0)
    # a closed its position at 20000 (no PnL): no requirement left
    risk.set_account(replace(risk.accounts["a"], positions=()))
    assert cross_figures(risk, "a") == (600.0, 600.0, 0.0, 0.0)
    risk.add_account(Account("c", {"USDT": D(5)}, (position("BTC-PERP", "-1", "20000"),)))
    # MM 1 x 20000 x 0.004 = 80 > equity 5: liquidatable
    assert "c" in screen(risk).liquidatable


def test_accounts_set_together_by_hand():
    risk = small_book()
    # a's long halved in its slot, 0.25 BTC-PERP at 20000 (MM 0.25 x 20000 x 0.004 = 20, IM 40), and 100 USDT
    # out: equity 900; b opens a short of 1 ETH-PERP at 1000 (MM 1000 x 0.004 = 4, IM 8) on its 50 USDT
    half = replace(risk.accounts["a"], balances={"USDT": D(900)}, positions=(position("BTC-PERP", "0.25", "20000"),))
    short = replace(risk.accounts["b"], positions=(position("ETH-PERP", "-1", "1000"),))
    slot = risk.slot_range_of("a")
    risk.set_accounts([half, short])
    assert risk.slot_range_of("a") == slot
    assert cross_figures(risk, "a") == (900.0, 900.0, 20.0, 40.0)
    assert cross_figures(risk, "b") == (50.0, 50.0, 4.0, 8.0)
    # BTC-PERP to 16400: a's uPnL 0.25 x -3600 = -900, equity 0 against MM 0.25 x 16400 x 0.004 = 16.4
    risk.tick(marks={"BTC-PERP": D(16400)})
    assert screen(risk).liquidatable == ("a",)


def test_a_pool_emptied_of_positions_requires_nothing():
    portfolio = book(
        [USDT],
        [linear("BTC-PERP"), linear("ETH-PERP", underlying="ETH")],
        {"USDT": "1"},
        {"BTC-PERP": "20000", "ETH-PERP": "1000"},
        [("a", {"USDT": "1000"}, [position("BTC-PERP", "0.5", "20000"), position("ETH-PERP", "0.3", "1000")])],
    )
    risk = RiskBook(portfolio, replace(GENERIC, liquidate_without_requirement=False))
    # MM 0.5 x 20000 x 0.004 = 40 plus 0.3 x 1000 x 0.004 = 1.2; both closed and 1,005 USDT out: equity -5 and
    # no requirement, so not liquidatable (the float sums 40 + 1.2 - 40 - 1.2 leave 2.8e-15, not nothing)
    risk.set_account(Account("a", {"USDT": D(-5)}, ()))
    assert cross_figures(risk, "a") == (-5.0, -5.0, 0.0, 0.0)
    assert not risk.liquidatable[risk.cross_pool["a"]]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (
            lambda r: r.set_accounts(
                [replace(r.accounts["b"], balances={"USDT": D(9)}), r.accounts["a"], Account("zed", {}, ())]
            ),
            "account",
        ),
        (lambda r: r.set_account(Account("zed", {"USDT": D(1)}, ())), "account"),
        (lambda r: r.set_account(Account("a", {"DOGE": D(1)}, ())), "balances.DOGE"),
        (lambda r: r.set_account(Account("a", {}, (position("XRP-PERP", "1", "1"),))), "instrument"),
        (lambda r: r.add_account(r.accounts["a"]), "account"),
        (lambda r: r.tick(marks={"BTC-PERP": D(1), "XRP-PERP": D(1)}), "marks"),
        (lambda r: r.tick(open_interest={"XRP-PERP": D(1)}), "open_interest"),
    ],
)
def test_bad_events_change_nothing(event, field):
    risk = small_book()
    before = risk.figures.copy(), dict(risk.accounts), risk.market
    with pytest.raises(InputError) as err:
        event(risk)
    assert err.value.field.endswith(field)
    assert (risk.figures == before[0]).all() and risk.accounts == before[1] and risk.market == before[2]
