"""The risk book's kernels (:mod:`crossmargin.engine.kernels`) on arrays built by hand: a position's money
cached and then revalued by its change, pools' figures from their collateral (weight bands, liabilities,
isolated pools at full value), balances moved, verdicts decided, the folded evaluation, the full revaluation
pool by pool from the account-major copy (by hand, and equal to the incremental kernels), the copy built from
the slots, and the work shared over threads giving what one thread gives (checked against a NumPy sum). The
kernels under whole books: tests/engine/test_book.py and test_book_layouts.py; each term they inline:
tests/engine/test_terms.py."""

from dataclasses import replace

import numpy as np
import pytest
from numpy.typing import ArrayLike

from crossmargin.engine import kernels
from crossmargin.engine.kernels import AccountMajor, PoolArrays, SlotArrays
from crossmargin.engine.rule_arrays import (
    NEUTRAL,
    TERM_GROUPS,
    ChoiceArrays,
    MarketArrays,
    Uniform,
    asset_arrays,
    choice_arrays,
    instrument_arrays,
    trimmed,
)
from crossmargin.model import RuleChoices
from crossmargin.model.rules import MarginValuation, Valuation
from tests.builders import D, banded, inverse, linear, tiers

# BTC-PERP settled in USDT, one bracket mmr 5 %, imr 10 %. USDT at weight 1; BTC at 0.9 to 10 BTC then 0.5
# (initial 0.8 to 5 BTC then 0.4), a debt of it weighted 1.2 (initial 1.5).
T = instrument_arrays({"BTC-PERP": linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))}, ["USDT", "BTC"])
ASSETS = asset_arrays(
    {
        "USDT": banded("USDT", [("0", "1")]),
        "BTC": replace(
            banded("BTC", [("0", "0.9"), ("10", "0.5")], initial=[("0", "0.8"), ("5", "0.4")]),
            liability_weight=D("1.2"),
            initial_liability_weight=D("1.5"),
        ),
    }
)
USDT, BTC = 0, 1
CHOICES = choice_arrays(RuleChoices("generic"))


def pools(balance: list[list[float]], haircut: list[bool], positions: list[int], folded: bool = False) -> PoolArrays:
    """Pools with ``balance[asset][pool]``, cleared figures and verdicts (``pool_money`` only when folded)."""
    n = len(haircut)
    return PoolArrays(
        balance=np.array(balance, dtype=np.float64).reshape(2, n),
        pool_money=np.zeros((2 if folded else 0, 4, n), dtype=np.float64),
        haircut=np.array(haircut, dtype=np.bool_),
        positions=np.array(positions, dtype=np.int32),
        sums=np.zeros((n, 4), dtype=np.float64),
        liquidatable=np.zeros(n, dtype=np.bool_),
    )


def slots(size: ArrayLike, entry: ArrayLike, pool: ArrayLike) -> SlotArrays:
    n = len(np.asarray(size))
    return SlotArrays(
        size=np.array(size, dtype=np.float64),
        entry=np.array(entry, dtype=np.float64),
        instrument=np.zeros(n, dtype=np.int32),
        pool=np.array(pool, dtype=np.int32),
        bracket=np.zeros(n, dtype=np.int32),
        cached=np.zeros((n, 4), dtype=np.float64),
    )


def market(mark: float) -> MarketArrays:
    return MarketArrays(
        marks=np.array([mark]), prices=np.array([1.0, 100.0]), initial_rate=T.imr.copy(), scale=np.ones(1)
    )


def items(*pool: int) -> np.ndarray:
    return np.array(pool, dtype=np.int64)


def test_a_position_cached_then_revalued_by_its_change():
    # long 10 from 100 in pool 0 (100 USDT); slot 1 is empty (size 0, pool -1) and is left alone
    s, p = slots([10.0, 0.0], [100.0, 0.0], [0, -1]), pools([[100.0], [0.0]], [True], [1])
    p.sums[0, :2] = 100.0
    # mark 90: PnL 10 x (90 - 100) = -100 on both sides (a loss counts in full); MM 900 x 5 % = 45, IM 90
    kernels.revalue_range(0, 2, -1, 1, s, p, market(90.0), T, CHOICES, True)
    assert s.cached[0].tolist() == pytest.approx([-100, -100, 45, 90]) and s.cached[1].tolist() == [0, 0, 0, 0]
    assert p.sums[0].tolist() == [100, 100, 0, 0] and not p.liquidatable[0]  # cache only: no pool moved
    p.sums[0] = [0.0, 0.0, 45.0, 90.0]  # the pool as the full revaluation sums it (equity 100 - 100)
    # mark 110: PnL +100 (weight 1 both sides), MM 55, IM 110; the pool moves by the change and is decided
    kernels.revalue_range(0, 2, -1, 1, s, p, market(110.0), T, CHOICES, False)
    assert p.sums[0].tolist() == pytest.approx([200, 200, 55, 110]) and not p.liquidatable[0]
    kernels.revalue_range(0, 2, -1, 1, s, p, market(80.0), T, CHOICES, False)
    assert p.sums[0].tolist() == pytest.approx([-100, -100, 40, 80]) and p.liquidatable[0]  # -100 < 40


def test_collateral_through_bands_liabilities_and_an_isolated_pool():
    # BTC at 100. Pool 0 (cross) holds 20 BTC: maintenance 0.9 x 10 + 0.5 x 10 = 14 BTC, initial
    # 0.8 x 5 + 0.4 x 15 = 10 BTC. Pool 1 (isolated: full value) holds 3 BTC. Pool 2 (cross) owes 2 BTC:
    # -2 x 1.2 = -2.4 BTC, initial -2 x 1.5 = -3 BTC.
    p = pools([[0.0, 0.0, 0.0], [20.0, 3.0, -2.0]], [True, False, True], [0, 0, 0])
    kernels.add_collateral(0, 3, items(0, 1, 2), BTC, 100.0, p, ASSETS)
    assert p.sums[:, :2] == pytest.approx(np.array([[1400, 1000], [300, 300], [-240, -300]]))
    # a price change is added as the difference: BTC 100 -> 150 adds half again
    kernels.add_collateral(0, 3, items(0, 1, 2), BTC, 50.0, p, ASSETS)
    assert p.sums[:, :2] == pytest.approx(np.array([[2100, 1500], [450, 450], [-360, -450]]))
    # pool 0 down to 5 BTC at 150: 4.5 and 4 BTC weighted, from 14 and 10: -9.5 x 150 = -1425, -6 x 150 = -900
    kernels.move_balance(0, BTC, 5.0, 150.0, p, ASSETS)
    assert p.balance[BTC, 0] == 5.0 and p.sums[0, :2].tolist() == pytest.approx([675, 600])


def test_a_flat_asset_takes_its_weight_without_a_band_search():
    flat = asset_arrays({"ETH": banded("ETH", [("0", "0.8")], initial=[("0", "0.75")])})
    p = pools([[4.0, -1.0], [0.0, 0.0]], [True, True], [0, 0])  # 4 ETH held, 1 ETH owed (liability 1)
    kernels.add_collateral(0, 2, items(0, 1), 0, 2000.0, p, flat)
    assert p.sums[:, :2] == pytest.approx(np.array([[6400, 6000], [-2000, -2000]]))  # 4 x 2000 x 0.8, x 0.75


def test_the_verdict_of_each_pool_under_the_rulebooks_choices():
    # (equity, MM) per pool: below; equal with a position; negative without a requirement; 60 against 50
    figures = np.array([[40.0, 0, 50, 0], [50.0, 0, 50, 0], [-1.0, 0, 0, 0], [60.0, 0, 50, 0]])
    every = items(0, 1, 2, 3)

    def verdicts(rules: RuleChoices) -> list[bool]:
        p = pools([[0.0] * 4, [0.0] * 4], [True] * 4, [1, 1, 0, 1])
        kernels.decide(0, 4, every, figures, p, choice_arrays(rules))
        return [bool(v) for v in p.liquidatable]

    assert verdicts(RuleChoices("r")) == [True, False, True, False]
    assert verdicts(RuleChoices("r", liquidate_at_equality=True)) == [True, True, True, False]
    assert verdicts(RuleChoices("r", liquidate_without_requirement=False)) == [True, False, False, False]
    assert verdicts(RuleChoices("r", liquidation_threshold=D("1.25"))) == [True, True, True, True]  # 50 < 62.5


def test_folded_pools_weigh_their_positions_money_with_the_settle_balance():
    # uPnL inside the settle collateral. Pool 0 (cross): 100 USDT and a position's -20 USDT: 80 at weight 1,
    # plus 20 BTC at 100 (1400 and 1000 as above); MM 5, IM 10 USDT. Pool 1 (isolated): 10 USDT margin and
    # -30 PnL: -20 at full value, below MM 5.
    p = pools([[100.0, 10.0], [20.0, 0.0]], [True, False], [1, 1], folded=True)
    p.pool_money[USDT, :, 0] = [-20.0, -20.0, 5.0, 10.0]
    p.pool_money[USDT, :, 1] = [-30.0, -30.0, 5.0, 10.0]
    kernels.evaluate_pools(0, 2, items(0, 1), p, np.array([1.0, 100.0]), ASSETS, CHOICES)
    assert p.sums == pytest.approx(np.array([[1480, 1080, 5, 10], [-20, -20, 5, 10]]))
    assert p.liquidatable.tolist() == [False, True]


def test_shared_over_threads_the_sums_are_numpys(monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(7)
    n_slots, n_pools = 3000, 400
    size = rng.integers(-50, 50, n_slots).astype(np.float64)
    entry = rng.uniform(50.0, 150.0, n_slots)
    pool = rng.integers(0, n_pools, n_slots)
    mark = 97.5
    # the same figures summed by NumPy: PnL q (mark - entry), MM |q| mark 5 %, IM |q| mark 10 %
    expected = np.zeros((n_pools, 4))
    pnl = size * (mark - entry)
    for column, value in enumerate((pnl, pnl, np.abs(size) * mark * 0.05, np.abs(size) * mark * 0.1)):
        np.add.at(expected[:, column], pool, value)
    # each slot revalued from an empty cache: its pool moves by the whole of its money
    serial = pools([[0.0] * n_pools, [0.0] * n_pools], [True] * n_pools, [1] * n_pools)
    kernels.revalue_range(0, n_slots, -1, n_pools, slots(size, entry, pool), serial, market(mark), T, CHOICES, False)
    shared = pools([[0.0] * n_pools, [0.0] * n_pools], [True] * n_pools, [1] * n_pools)
    threaded = slots(size, entry, pool)
    kernels.revalue_split(3, n_pools, 0, n_slots, threaded, shared, market(mark), T, CHOICES, False)
    np.testing.assert_allclose(serial.sums, expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(shared.sums, expected, rtol=1e-12, atol=1e-9)
    # deciding every pool, on the threads (any number of items counts as many) and in this one, agree
    monkeypatch.setattr(kernels, "PARALLEL_ITEMS", 1)
    kernels.on_cores(kernels.decide, np.arange(n_pools), shared.sums, shared, CHOICES)
    assert shared.liquidatable.tolist() == (expected[:, 0] < expected[:, 2]).tolist()


def account_major(size: ArrayLike, entry: ArrayLike, first: ArrayLike) -> AccountMajor:
    """A copy of positions of instrument 0, pool ``p``'s at ``[first[p], first[p + 1])``."""
    n = len(np.asarray(size))
    return AccountMajor(
        size=np.array(size, dtype=np.float64),
        entry=np.array(entry, dtype=np.float64),
        instrument=np.zeros(n, dtype=np.uint16),
        bracket=np.zeros(n, dtype=np.uint16),
        first=np.array(first, dtype=np.int64),
    )


def room(parts: int | None = None) -> np.ndarray:
    """The full revaluation's room (:func:`kernels.revalue_pools`): ``[2, CHUNK]``, one a thread when ``parts``."""
    chunk = int(kernels.CHUNK)
    return np.empty((2, chunk) if parts is None else (parts, 2, chunk))


def test_the_full_revaluation_of_pools_by_hand():
    # at mark 90, BTC at 100: pool 0 (cross) holds 1000 USDT and 20 BTC, long 10 and short 2 from 100 and an
    # empty entry; pool 1 (isolated) 50 USDT margin and long 1 from 100; pool 2 (cross) nothing
    copy = account_major([10.0, 0.0, -2.0, 1.0], [100.0, 1.0, 100.0, 100.0], [0, 3, 4, 4])
    p = pools([[1000.0, 50.0, 0.0], [20.0, 0.0, 0.0]], [True, False, True], [2, 1, 0])
    p.sums[:] = 7.0  # whatever was there is replaced
    kernels.revalue_pools(0, 3, copy, p, market(90.0), T, ASSETS, CHOICES, room())
    # pool 0: PnL -100 + 20; BTC weighted 14 (maintenance) and 10 (initial) x 100; MM 45 + 9, IM 90 + 18
    # pool 1: 50 at full value - 10; MM 4.5, IM 9
    assert p.sums == pytest.approx(np.array([[2320, 1920, 54, 108], [40, 40, 4.5, 9], [0, 0, 0, 0]]))
    assert p.liquidatable.tolist() == [False, False, False]
    # BTC-PERP at 10: pool 0's PnL -900 + 180 against 1000 + 1400 (MM 5 + 1); pool 1's -90 against 50
    kernels.revalue_pools(0, 3, copy, p, market(10.0), T, ASSETS, CHOICES, room())
    assert p.sums[:2] == pytest.approx(np.array([[1680, 1280, 6, 12], [-40, -40, 0.5, 1]]))
    assert p.liquidatable.tolist() == [False, True, False]
    # compiled without the terms BTC-PERP does not use: the same floats
    figures = p.sums.copy()
    kernels.revalue_pools(0, 3, copy, p, market(10.0), trimmed(T), ASSETS, CHOICES, room())
    assert p.sums.tolist() == figures.tolist() and p.liquidatable.tolist() == [False, True, False]


def test_the_terms_no_instrument_uses_are_left_out():
    # BTC-PERP (linear, brackets by notional, no fee, premium, weighting, cap, quantum or fraction) uses none of
    # them; beside an inverse contract with a close fee, the contract's form and the requirement's extras stay
    # arrays (a group is left out whole), the uPnL weighting goes
    lean = trimmed(T)
    assert {name for name, column in zip(lean._fields, lean, strict=True) if isinstance(column, Uniform)} == set(
        NEUTRAL
    )
    assert lean.names == T.names and lean.close_fee[0] == 0.0 and lean.mmr is T.mmr
    both = {"BTC-PERP": linear("BTC-PERP"), "BTC-INV": replace(inverse("BTC-INV"), close_fee_rate=D("0.001"))}
    mixed = trimmed(instrument_arrays(both, ["USDT", "BTC"]))
    kept = {name for name, column in zip(mixed._fields, mixed, strict=True) if not isinstance(column, Uniform)}
    extras = {"size_basis", "liquidation_fee", "close_fee", "imf", "quantum", "maintenance_fraction"}
    assert kept & set(NEUTRAL) == {"inverse", *extras}
    # every term that can be left out is in one group
    assert sorted(name for group in TERM_GROUPS for name in group) == sorted(NEUTRAL)


@pytest.mark.parametrize("folded", [False, True])
def test_the_full_revaluation_equals_the_incremental_kernels(folded: bool):
    # random positions of random pools (some empty, some in a row; across several chunks of pools), revalued
    # pool by pool from the copy, and slot by slot into empty pools (their money, then the balances' collateral
    # and the verdicts: the incremental kernels' way)
    rng = np.random.default_rng(11)
    n_pools, n_positions = 1300, 2600
    pool = np.sort(rng.integers(0, n_pools, n_positions))
    size = rng.integers(-40, 40, n_positions).astype(np.float64)
    entry = rng.uniform(50.0, 150.0, n_positions)
    balance = [rng.uniform(-5.0, 400.0, n_pools).tolist(), rng.uniform(-1.0, 30.0, n_pools).tolist()]
    haircut = (rng.random(n_pools) < 0.8).tolist()
    positions = np.bincount(pool, minlength=n_pools).tolist()
    choices = choice_arrays(RuleChoices("r", pnl_in_settle_collateral=folded))
    first = np.concatenate([[0], np.cumsum(positions)])
    full = pools(balance, haircut, positions, folded)
    copy = account_major(size, entry, first)
    kernels.revalue_pools(0, n_pools, copy, full, market(93.0), T, ASSETS, choices, room())
    moved = pools(balance, haircut, positions, folded)
    kernels.revalue_range(0, n_positions, -1, n_pools, slots(size, entry, pool), moved, market(93.0), T, choices, False)
    every = np.arange(n_pools)
    if folded:
        kernels.evaluate_pools(0, n_pools, every, moved, market(93.0).prices, ASSETS, choices)
    else:
        for asset, price in enumerate(market(93.0).prices):
            kernels.add_collateral(0, n_pools, every, asset, price, moved, ASSETS)
        kernels.decide(0, n_pools, every, moved.sums, moved, choices)
    np.testing.assert_allclose(full.sums, moved.sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(full.pool_money, moved.pool_money, rtol=1e-12, atol=1e-9)
    assert full.liquidatable.tolist() == moved.liquidatable.tolist()
    assert full.liquidatable.any() and not full.liquidatable.all()
    # on threads, each owning a range of pools, the same
    shared = pools(balance, haircut, positions, folded)
    bounds = np.array([0, 17, 18, 700, n_pools])
    copy = account_major(size, entry, first)
    kernels.revalue_pools_on_threads(bounds, copy, shared, market(93.0), T, ASSETS, choices, room(4))
    assert shared.sums.tolist() == full.sums.tolist() and shared.liquidatable.tolist() == full.liquidatable.tolist()


def pool_by_pool(copy: AccountMajor, p: PoolArrays, mark: MarketArrays, choices: ChoiceArrays) -> np.ndarray:
    """The second method: each pool's figures summed in Python, one pool after another in the order the full
    revaluation promises (its positions' money in the copy's order, then each nonzero balance asset by asset),
    each position's money and each balance's collateral by the same kernel functions."""
    figures = np.zeros((len(p.haircut), 4))
    for pool, cross in enumerate(p.haircut):
        f = [0.0, 0.0, 0.0, 0.0]
        for j in range(copy.first[pool], copy.first[pool + 1]):
            q = float(copy.size[j])
            if q == 0.0:
                continue
            money = kernels.position_money(q, float(copy.entry[j]), 0, 0, not cross, True, mark, T, choices.at_entry)
            f = [f[c] + money[c] * float(mark.prices[USDT]) for c in range(4)]
        for asset, held in enumerate(p.balance[:, pool].tolist()):
            if held != 0.0:
                m, n = kernels._collateral(held, asset, bool(cross), float(mark.prices[asset]), ASSETS)
                f[0], f[1] = f[0] + m, f[1] + n
        figures[pool] = f
    return figures


@pytest.mark.parametrize("valuation", [MarginValuation(), MarginValuation(isolated_initial=Valuation.ENTRY)])
def test_the_full_revaluation_is_bit_for_bit_the_sum_pool_by_pool(valuation: MarginValuation):
    # 1300 pools (three chunks and a part; 21 words of 64 pools), a third without positions, some entries
    # emptied; USDT (flat) held by most pools, BTC (weight bands at 5 and 10, a debt weighted apart) by about one
    # in eight, across its bands and below zero: every float the same bits as the pools summed one at a time
    rng = np.random.default_rng(23)
    n_pools, n_positions = 1300, 2000
    positions = np.bincount(rng.integers(0, n_pools * 2 // 3, n_positions), minlength=n_pools)
    first = np.concatenate([[0], np.cumsum(positions)])
    size = rng.integers(-40, 40, n_positions).astype(np.float64)
    size[rng.random(n_positions) < 0.05] = 0.0
    entry = rng.uniform(50.0, 150.0, n_positions)
    usdt = np.where(rng.random(n_pools) < 0.9, rng.uniform(-50.0, 2000.0, n_pools), 0.0)
    btc = np.where(rng.random(n_pools) < 0.125, rng.uniform(-3.0, 15.0, n_pools), 0.0)
    haircut = (rng.random(n_pools) < 0.7).tolist()
    choices = choice_arrays(RuleChoices("r", margin_valuation=valuation))
    full = pools([usdt.tolist(), btc.tolist()], haircut, positions.tolist())
    kernels.revalue_pools(0, n_pools, account_major(size, entry, first), full, market(93.0), T, ASSETS, choices, room())
    expected = pool_by_pool(account_major(size, entry, first), full, market(93.0), choices)
    assert np.array_equal(full.sums.view(np.uint64), expected.view(np.uint64))
    assert full.liquidatable.tolist() == (expected[:, 0] < expected[:, 2]).tolist()
    assert full.liquidatable.any() and ((btc > 10.0) & np.array(haircut)).any() and (btc < 0.0).any()


def test_the_copy_is_the_slots_ordered_by_pool():
    # slots of two instruments (blocks 0-3 and 4-6, empty slots at pool -1): pool 1 holds slots 0, 2 and 5
    s = slots([1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0], [10.0, 20.0, 30.0, 1.0, 50.0, 60.0, 1.0], [1, 0, 1, -1, 2, 1, -1])
    s.instrument[4:] = 1
    s.bracket[:] = [0, 1, 2, 0, 3, 4, 0]
    copy = account_major(np.zeros(6), np.ones(6), [0, 1, 4, 5])
    kernels.copy_by_pool(0, 3, s, copy)
    assert copy.size.tolist() == [2, 1, 3, 6, 5, 0] and copy.entry.tolist() == [20, 10, 30, 60, 50, 1]
    assert copy.instrument.tolist() == [0, 0, 0, 1, 1, 0] and copy.bracket.tolist() == [1, 0, 2, 4, 3, 0]
    # on threads, each filling a range of pools (the last one's empty): the same
    threaded = account_major(np.zeros(6), np.ones(6), [0, 1, 4, 5])
    kernels.copy_by_pool_on_threads(4, 3, s, threaded)
    assert all(a.tolist() == b.tolist() for a, b in zip(threaded, copy, strict=True))
