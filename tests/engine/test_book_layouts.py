"""The risk book's two layouts kept consistent: the instrument blocks (with each slot's cached money) that ticks
and account changes move incrementally, and the account-major copy the full revaluation reads
(``RiskBook.account_major``).

On random books under random rules (:func:`tests.margin.test_rule_properties.venue_like`) and random sequences
of events (ticks of marks and prices, positions opened, resized, flipped, moved between cross and isolated
and closed through ``set_account``, balances set, accounts added, full revaluations in between), after every
event: the copy holds exactly the open positions of the slots (unless an event left it stale, to be built
again), every slot's cached money is what a fresh valuation of the slot at the book's market gives, and the
full revaluation gives the incrementally moved figures within the tolerance of tests/engine/test_book.py
(the verdict too, where the figures are clear of the boundary by more than that). The full revaluation compiled
without the rule terms no instrument uses gives the same floats, to the last bit, as with every term. By hand:
which events the copy takes in place and which leave it stale."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.engine import kernels
from crossmargin.engine.book import RiskBook
from crossmargin.engine.rule_arrays import NEUTRAL, trimmed
from crossmargin.model import Account, Asset, Portfolio, Position, RuleChoices, exact
from tests.builders import GENERIC, D, book, linear, position
from tests.engine.test_book import RELATIVE
from tests.margin.test_rule_properties import venue_like

TRADED = ("BTC-PERP", "BTC-FUT", "BTC-INV", "ETH-PERP")

EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("mark"), st.sampled_from(TRADED), st.integers(80, 120)),
        st.tuples(st.just("price"), st.sampled_from(["BTC", "ETH"]), st.integers(80, 120)),
        # (account, instrument, new size: 0 closes every leg of the instrument, isolated, the other side closed)
        st.tuples(
            st.just("leg"),
            st.integers(0, 5),
            st.sampled_from(TRADED),
            st.integers(-30, 30),
            st.booleans(),
            st.booleans(),
        ),
        st.tuples(st.just("balance"), st.integers(0, 5), st.integers(-500, 50_000)),
        st.tuples(st.just("account"), st.integers(0, 5), st.booleans()),
        st.tuples(
            st.just("revalue"),
        ),
    ),
    max_size=14,
)


def copied(risk: RiskBook) -> list[tuple[int, int, float, float]]:
    """The copy's open positions: (pool, instrument, size, entry), sorted."""
    copy = risk.account_major
    first = copy.first[: risk.copied_pools + 1]
    held = np.arange(int(first[-1]))
    pool = np.repeat(np.arange(risk.copied_pools), np.diff(first))
    held = held[copy.size[held] != 0.0]
    rows = zip(pool[held], copy.instrument[held], copy.size[held], copy.entry[held], strict=True)
    return sorted((int(p), int(i), float(q), float(e)) for p, i, q, e in rows)


def slotted(risk: RiskBook) -> list[tuple[int, int, float, float]]:
    """The instrument blocks' open positions, as :func:`copied`."""
    held = np.flatnonzero(risk.pool >= 0)
    rows = zip(risk.pool[held], risk.instrument[held], risk.size[held], risk.entry[held], strict=True)
    return sorted((int(p), int(i), float(q), float(e)) for p, i, q, e in rows)


def assert_cache_current(risk: RiskBook) -> None:
    """Every slot's cached money equals a fresh valuation of the slot (cache only: no pool moves)."""
    fresh = risk.slot_arrays()._replace(cached=np.zeros_like(risk.cached), bracket=risk.bracket.copy())
    rules = risk.rule_arrays
    n = risk.size.shape[0]
    kernels.revalue_range(
        0, n, -1, risk.pool_count, fresh, risk.pool_arrays(), risk.market_arrays, rules.instruments, rules.choices, True
    )
    np.testing.assert_allclose(risk.cached, fresh.cached, rtol=RELATIVE, atol=RELATIVE)


class Watched:
    """A risk book and, per pool, the largest figure it has held after an event: a large amount that left a pool
    leaves float residue of a few units in its last place (1e7 out of an isolated pool: 2e-9), so the figures
    are compared within ``RELATIVE`` of that too."""

    def __init__(self, risk: RiskBook) -> None:
        self.risk = risk
        self.peak = np.zeros(0)
        self.note()

    def note(self) -> None:
        """Take the pools' figures after an event into their peaks."""
        figures = np.abs(self.risk.figures[: self.risk.pool_count]).max(axis=1)
        self.peak = np.maximum(np.pad(self.peak, (0, len(figures) - len(self.peak))), figures)


def assert_full_equals_incremental(watched: Watched) -> None:
    """The full revaluation gives the figures (and, clear of the boundary, the verdicts) the events moved to."""
    risk = watched.risk
    count = risk.pool_count
    moved, verdicts = risk.figures[:count].copy(), risk.liquidatable[:count].copy()
    risk.revalue()
    assert not risk.copy_stale and copied(risk) == slotted(risk)
    full = risk.figures[:count]
    slack = RELATIVE * (1.0 + watched.peak[:, None])
    assert (np.abs(full - moved) <= RELATIVE * np.abs(moved) + slack).all(), (full, moved)
    threshold = float(risk.rules.liquidation_threshold)
    boundary = np.abs(full[:, 0] - threshold * full[:, 2])
    clear = boundary > RELATIVE * (2.0 + np.abs(full[:, 0]) + threshold * np.abs(full[:, 2])) + 2.0 * slack[:, 0]
    assert (risk.liquidatable[:count] == verdicts)[clear].all()
    watched.note()


def changed_leg(account: Account, instrument: str, size: int, isolated: bool, flip: bool, mark: Decimal) -> Account:
    """``account`` with its ``instrument`` leg on the side of ``size`` set to ``size`` contracts at ``mark``
    (isolated with 500 of margin or cross), the other side's leg closed too when ``flip``; ``size`` 0 closes
    both legs."""
    long = size > 0
    kept = [
        p for p in account.positions if p.instrument != instrument or (size != 0 and (p.size > 0) != long and not flip)
    ]
    if size:
        kept.append(Position(instrument, D(size), mark, D(500) if isolated else None))
    return replace(account, positions=tuple(kept))


def apply(watched: Watched, event: tuple[Any, ...], n: int) -> None:
    """One event of :data:`EVENTS` on the watched book (the ``n``-th of its sequence: new accounts' ids)."""
    risk = watched.risk
    kind, *args = event
    ids = sorted(risk.accounts)
    if kind in ("mark", "price"):
        name, percent = args
        with exact():
            if kind == "mark" and name in risk.market.marks:
                risk.tick(marks={name: (risk.market.marks[name] * percent / 100).quantize(D("0.01"))})
            elif kind == "price":
                risk.tick(prices={name: (risk.market.prices[name] * percent / 100).quantize(D("0.01"))})
    elif kind == "leg":
        which, name, size, isolated, flip = args
        if name in risk.instrument_table:
            account = risk.accounts[ids[which % len(ids)]]
            mark = risk.market.marks[name]
            risk.set_account(changed_leg(account, name, size, isolated, flip, mark))
    elif kind == "balance":
        which, amount = args
        account = risk.accounts[ids[which % len(ids)]]
        risk.set_account(replace(account, balances={**account.balances, "USDT": D(amount)}))
    elif kind == "account":
        which, isolate = args
        template = risk.accounts[ids[which % len(ids)]]
        positions = template.positions
        if isolate and positions:
            positions = (replace(positions[0], isolated_margin=D(700)), *positions[1:])
        risk.add_account(replace(template, id=f"new{n}", positions=positions))
    else:
        assert_full_equals_incremental(watched)
    watched.note()


@given(venue_like(), EVENTS)
def test_the_full_revaluation_equals_the_incremental_path_after_any_events(case: tuple[Portfolio, RuleChoices], events):
    portfolio, rules = case
    watched = Watched(RiskBook(portfolio, rules))
    risk = watched.risk
    assert not risk.copy_stale and copied(risk) == slotted(risk)
    for n, event in enumerate(events):
        apply(watched, event, n)
        if not risk.copy_stale:
            assert copied(risk) == slotted(risk)
        assert_cache_current(risk)
    assert_full_equals_incremental(watched)
    assert_cache_current(risk)


@settings(max_examples=40)  # each set of terms left out is a kernel of its own, compiled once
@given(venue_like(), st.sampled_from([(), tuple(NEUTRAL)]))
def test_leaving_out_the_terms_no_instrument_uses_changes_no_float(case: tuple[Portfolio, RuleChoices], unused):
    # the book's instruments as drawn (few terms unused), or with every term of NEUTRAL at its neutral value
    portfolio, rules = case
    risk = RiskBook(portfolio, rules)
    every = risk.instruments._replace(
        **{name: np.full_like(getattr(risk.instruments, name), NEUTRAL[name]) for name in unused}
    )
    every.names = risk.instruments.names
    rule_arrays, room = risk.rule_arrays, np.empty((2, int(kernels.CHUNK)))
    results = []
    for t in (every, trimmed(every)):
        pools = risk.pool_arrays()._replace(
            sums=risk.sums.copy(), liquidatable=risk.liquidatable.copy(), pool_money=risk.pool_money.copy()
        )
        market, assets, choices = risk.market_arrays, rule_arrays.assets, rule_arrays.choices
        kernels.revalue_pools(0, risk.pool_count, risk.account_major, pools, market, t, assets, choices, room)
        results.append(pools)
    full, lean = results
    assert np.array_equal(full.sums, lean.sums) and np.array_equal(full.pool_money, lean.pool_money)
    assert np.array_equal(full.liquidatable, lean.liquidatable)


def two_accounts() -> RiskBook:
    instruments = [linear("BTC-PERP"), linear("ETH-PERP", underlying="ETH")]
    accounts = [
        ("a", {"USDT": "10000"}, [position("BTC-PERP", "0.5", "20000"), position("ETH-PERP", "-3", "1000")]),
        ("b", {"USDT": "5000"}, [position("BTC-PERP", "-1", "20000")]),
    ]
    usdt = book([Asset.simple("USDT")], instruments, {"USDT": "1"}, {"BTC-PERP": "20000", "ETH-PERP": "1000"}, accounts)
    return RiskBook(usdt, GENERIC)


def test_which_events_the_copy_takes_in_place():
    risk = two_accounts()
    a = risk.accounts["a"]
    btc, eth = a.positions
    # resized, closed and reopened, flipped, made isolated: in place (an isolated pool is new: at the copy's end)
    for positions in (
        (replace(btc, size=D(2)), eth),
        (eth,),
        (btc, eth),
        (replace(btc, size=D(-1)), eth),
        (replace(btc, size=D(-1), isolated_margin=D(900)), eth),
    ):
        risk.set_account(replace(a, positions=positions))
        assert not risk.copy_stale and copied(risk) == slotted(risk)
    risk.add_account(Account("c", {"USDT": D(100)}, (position("ETH-PERP", "2", "1000", "300"),)))
    risk.tick(marks={"BTC-PERP": D(18000)})
    assert not risk.copy_stale and copied(risk) == slotted(risk)
    assert_full_equals_incremental(Watched(risk))
    # a new instrument in b's cross pool, which has no empty entry and is not the copy's last: stale, then
    # built again by the full revaluation
    b = risk.accounts["b"]
    risk.set_account(replace(b, positions=(*b.positions, position("ETH-PERP", "1", "1000"))))
    assert risk.copy_stale
    assert_full_equals_incremental(Watched(risk))
    assert_cache_current(risk)
