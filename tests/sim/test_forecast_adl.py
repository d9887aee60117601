"""Auto-deleveraging in a forecast (:mod:`crossmargin.sim.forecast_adl`): the rankings against the engine's own
float figures (the upper bounds its ADL queues are ordered by), the queues' order and a take worked by hand."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook
from crossmargin.engine.rule_arrays import InstrumentArrays
from crossmargin.liquidation.mirror_scores import SLACK, pinned_scores
from crossmargin.sim.forecast_adl import LAST, Ledger, by_account, deleverage, queues, scores
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook
from tests.builders import GENERIC, banded, book, linear, position


@pytest.mark.parametrize(
    "ranking",
    ["profit_x_leverage", "leverage_pnl", "mark_over_entry_x_notional_over_account_value", "pro_rata_base_size"],
)
def test_scores_as_the_engine_s_bounds(ranking: str) -> None:
    risk = RiskBook(synthetic_book(300, seed=9), rulebook("generic").rules)
    held = risk.pool >= 0
    pool = risk.pool.astype(np.int64).clip(min=0)
    mine = scores(ranking, risk.size, risk.entry, risk.instrument.astype(np.int64), pool,
                  risk.balance[:, : risk.pool_count], risk.instruments, risk.marks, risk.prices)  # fmt: skip
    bound = pinned_scores(risk, ranking).bound
    finite = held & np.isfinite(bound) & (bound > -9e29)
    # a bound is the score with each figure it is made of widened by SLACK (1e-12) of the gross amounts
    # behind it: the score is at most the bound, and within 1e-7 of it (a small PnL on a large notional,
    # or a pool's net value far below its gross, widen most)
    assert np.all(mine[finite] <= bound[finite] + 1e-15 * np.abs(bound[finite]))
    assert mine[finite] == pytest.approx(bound[finite], rel=1e-7, abs=1e-12)
    assert finite.sum() > 0.9 * held.sum()
    if ranking != "pro_rata_base_size":
        assert np.all(mine[held & (bound == -9.99e29)] == LAST)
    assert SLACK < 1e-9


def test_the_queues_in_ranking_order() -> None:
    # instrument 0: shorts scored 2, 5, 5 (accounts ranked 2, 1, 0), a long scored 7; instrument 1: a short
    score = np.array([2.0, 5.0, 5.0, 7.0, 1.0])
    found = queues(
        score, np.array([0, 0, 0, 0, 1]), np.array([False, False, False, True, False]), np.array([2, 1, 0, 3, 4]), 2
    )
    # segments: (0, short), (0, long), (1, short), (1, long); ties of score by the account's rank
    assert list(found.slot) == [2, 1, 0, 3, 4]
    assert list(found.start) == [0, 3, 4, 5, 5] and list(found.head) == [0, 3, 4, 5]
    # the same from the positions put in segment and account order once, then sorted by score alone:
    # by_account takes instrument 0's shorts by their accounts' rank (slot 2 rank 0, slot 1 rank 1, slot 0
    # rank 2), then its long (slot 3), then instrument 1's short (slot 4); the scores 5, 5, 2 then keep 2 before 1
    ordered = by_account(np.arange(5), np.array([0, 0, 0, 0, 1]), np.array([False, False, False, True, False]),
                         np.array([2, 1, 0, 3, 4]))  # fmt: skip
    assert list(ordered) == [2, 1, 0, 3, 4]
    again = queues(
        score,
        np.array([0, 0, 0, 0, 1]),
        np.array([False, False, False, True, False]),
        np.array([2, 1, 0, 3, 4]),
        2,
        ordered=ordered,
    )
    assert list(again.slot) == list(found.slot) and list(again.start) == list(found.start)


@given(st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 5), st.sampled_from([-1.0, 0.0, 2.5, LAST,
                                                                                                  -np.inf])),
                max_size=40))  # fmt: skip
def test_queues_from_the_account_order_equal_the_three_key_sort(rows: list[tuple[int, bool, int, float]]) -> None:
    # a second method: the segments sorted by score alone from by_account's order against one sort by segment,
    # score and rank (few distinct scores and ranks: ties everywhere); a position scored -inf is left out by
    # both, and where the order given does not hold exactly the scored positions it is not used
    instrument = np.array([r[0] for r in rows], dtype=np.int64)
    long = np.array([r[1] for r in rows], dtype=np.bool_)
    rank = np.array([r[2] for r in rows], dtype=np.int64)
    score = np.array([r[3] for r in rows])
    three = queues(score, instrument, long, rank, 3)
    every = by_account(np.arange(len(rows)), instrument, long, rank)
    for given_order in (by_account(np.flatnonzero(score > -np.inf), instrument, long, rank), every):
        found = queues(score, instrument, long, rank, 3, ordered=given_order)
        assert list(found.slot) == list(three.slot) and list(found.start) == list(three.start)


def test_a_bankrupt_long_taken_by_the_shorts_by_hand() -> None:
    portfolio = book(
        [banded("USDT", [("0", "1")])], [linear("X-PERP", underlying="X")], {"USDT": "1", "X": "100"},
        {"X-PERP": "100"},
        [("a", {"USDT": "100"}, [position("X-PERP", "-6", "120")]),
         ("b", {"USDT": "100"}, [position("X-PERP", "-8", "105")]),
         ("c", {"USDT": "100"}, [position("X-PERP", "-5", "100")])],
    )  # fmt: skip
    risk = RiskBook(portfolio, GENERIC)
    slots = [risk.slot_range_of(name)[0] for name in ("a", "b", "c")]
    size = risk.size.copy()
    balance = risk.balance.copy()
    count = risk.pool_count
    ledger = Ledger(
        size, risk.entry, risk.instrument.astype(np.int64), risk.pool.astype(np.int64), balance,
        np.array([5, 0, 1], dtype=np.int64), np.zeros(count, dtype=np.bool_), np.zeros(count),
    )  # fmt: skip
    # the queue of X-PERP's shorts: c, a, b (scored 3, 2, 1; random: never scored again); the bankrupt long is
    # an account of rank 1, as c's is (its own)
    score = np.full(len(risk.size), -np.inf)  # a slot holding nothing last, as the forecast ranks it
    score[slots] = [2.0, 1.0, 3.0]
    queue = queues(score, np.zeros(len(risk.size), dtype=np.int64), np.zeros(len(risk.size), dtype=np.bool_),
                   np.array([5, 0, 1], dtype=np.int64)[risk.pool.astype(np.int64).clip(min=0)], 1)  # fmt: skip
    assert list(queue.slot[:3]) == [slots[2], slots[0], slots[1]]
    t: InstrumentArrays = risk.instruments
    deleverage(10.0, 0, True, 110.0, 1, 100.0, queue, ledger, t, risk.prices)
    # c is the bankrupt account's own (rank 1): skipped. a takes 6 at 110: it closes its short from 120 there,
    # realizing -6 x (110 - 120) = 60 USDT; at the mark that part was worth -6 x (100 - 120) = 120: its net
    # value falls by 60 (= 6 x (110 - 100)). b takes the other 4 at 110: -4 x (110 - 105) = -20 realized, worth
    # 20 at the mark: down 40. a is used up: the queue's head moves past it only once c is (c is not).
    a, b, c = (int(risk.pool[j]) for j in slots)
    assert [size[j] for j in slots] == [0.0, -4.0, -5.0]
    assert (balance[0, a], balance[0, b], balance[0, c]) == pytest.approx((160.0, 80.0, 100.0))
    assert (ledger.shift[a], ledger.shift[b], ledger.shift[c]) == pytest.approx((-60.0, -40.0, 0.0))
    assert list(ledger.touched[[a, b, c]]) == [True, True, False]
    assert queue.head[0] == 0


def test_a_taker_left_with_part_is_scored_again_by_hand() -> None:
    portfolio = book(
        [banded("USDT", [("0", "1")])], [linear("X-PERP", underlying="X")], {"USDT": "1", "X": "100"},
        {"X-PERP": "100"},
        [("a", {"USDT": "100"}, [position("X-PERP", "-6", "120")]),
         ("b", {"USDT": "100"}, [position("X-PERP", "-8", "105")]),
         ("d", {"USDT": "100"}, [position("X-PERP", "-4", "110")]),
         ("z", {"USDT": "100"}, [position("X-PERP", "18", "100")])],
    )  # fmt: skip
    risk = RiskBook(portfolio, GENERIC)
    slots = [risk.slot_range_of(name)[0] for name in ("a", "b", "d", "z")]
    size, balance, count = risk.size.copy(), risk.balance.copy(), risk.pool_count
    rank = np.arange(count, dtype=np.int64)  # pools in account order: a 0, b 1, d 2, z 3
    ledger = Ledger(size, risk.entry, risk.instrument.astype(np.int64), risk.pool.astype(np.int64), balance, rank,
                    np.zeros(count, dtype=np.bool_), np.zeros(count))  # fmt: skip
    # profit_x_leverage at the mark 100, score = PnL / entry notional x notional / net value:
    #   a: 120 / 720 x 600 / (100 + 120) = 0.4545; b: 40 / 840 x 800 / 140 = 0.2721; d: 40 / 440 x 400 / 140 = 0.2597
    score = np.full(len(size), -np.inf)
    score[slots] = [120 / 720 * 600 / 220, 40 / 840 * 800 / 140, 40 / 440 * 400 / 140, LAST]
    net = np.zeros(count)
    net[[int(risk.pool[j]) for j in slots]] = [220.0, 140.0, 140.0, 100.0]
    queue = queues(score, ledger.instrument, size > 0.0, rank[ledger.pool.clip(min=0)], 1, "profit_x_leverage",
                   risk.marks, net)  # fmt: skip
    t: InstrumentArrays = risk.instruments
    # z's long of 10 bankrupt at 100 (the mark): a takes its 6, b 4 of its 8. b is scored again with what is left:
    # -4 from 105, realized +20 (balance 120), PnL 20 on 420, notional 400, net value 140: 20 / 420 x 400 / 140 =
    # 0.1361, now below d's 0.2597
    deleverage(10.0, 0, True, 100.0, 3, 100.0, queue, ledger, t, risk.prices)
    b = int(risk.pool[slots[1]])
    assert queue.net[b] == pytest.approx(140.0)
    assert [size[j] for j in slots[:3]] == [0.0, -4.0, -4.0]
    # 2 more at 100: d takes them, not b (as a queue ranked once would have it)
    deleverage(2.0, 0, True, 100.0, 3, 100.0, queue, ledger, t, risk.prices)
    assert [size[j] for j in slots[:3]] == [0.0, -4.0, -2.0]
    # 4 more: d's last 2 (its score after the first take: PnL 20 on 220, notional 200, net 100 + 20 + 20 = 140:
    # 0.1299, below b's 0.1361: b first), so b takes 4 of its 4 and d none
    deleverage(4.0, 0, True, 100.0, 3, 100.0, queue, ledger, t, risk.prices)
    assert [size[j] for j in slots[:3]] == [0.0, 0.0, -2.0]
