"""The compiled exact path (over a risk book's columns) against the ``Decimal`` evaluator: worked by hand, then
equal digit for digit on random books, and handing to ``Decimal`` whatever it does not hold."""

from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_exact import book_verdicts, pool_verdict
from crossmargin.engine.exact_pools import FIGURES, CompiledVerdicts
from crossmargin.margin.account import cross_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import Asset, ContractKind, Instrument, Portfolio, RuleChoices
from crossmargin.model.assets import WeightBand, WeightSchedule
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import MarginValuation, Valuation
from crossmargin.model.tiers import TierSpec, TierTable
from tests.builders import GENERIC, D, banded, book, div, inverse, linear, position, tiers
from tests.engine.test_book_exact import exact_pool

ASSETS = [
    Asset.simple("USDT"),
    banded("BTC", [("0", "0.95"), ("5", "0.9")], initial=[("0", "0.9"), ("5", "0.8")]),
]
PERP = linear("BTC-PERP", size="0.01", table=tiers(("5000", "0.004", "0.008"), (None, "0.01", "0.02")))
WEIGHTED = Instrument(
    "BTC-W", ContractKind.PERPETUAL, "BTC", "USDT", D("0.01"), False, tiers(("5000", "0.004", "0.008"),
    (None, "0.01", "0.02")), upnl_weight=D("0.5"), initial_upnl_weight=D("0.4"), initial_upnl_cap=D("30"),
)  # fmt: skip


def hand_book() -> Portfolio:
    return book(
        ASSETS,
        [PERP, WEIGHTED],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000", "BTC-W": "20000"},
        [
            ("a", {"USDT": "1000", "BTC": "6"}, [position("BTC-PERP", "30", "21000")]),
            ("b", {"USDT": "337.5"}, [position("BTC-PERP", "30", "21000")]),
            ("c", {"USDT": "100"}, [position("BTC-W", "-10", "21000")]),
            ("e", {"USDT": "100"}, [position("BTC-PERP", "25", "20000")]),
        ],
    )


class Sums:
    """One pool's compiled figures, read by name (``compiled``: the path held it)."""

    def __init__(self, verdicts: CompiledVerdicts, k: int) -> None:
        self.compiled = bool(verdicts.ok[k])
        self.liquidatable = bool(verdicts.liquidatable[k])
        self.verdicts, self.k = verdicts, k

    def __getattr__(self, name: str) -> Decimal:
        return self.verdicts.figure(self.k, FIGURES.index(name))


def sums(portfolio: Portfolio, rules: RuleChoices = GENERIC) -> list[Sums]:
    """Every account's cross pool on the compiled path over a risk book of ``portfolio``."""
    risk = RiskBook(portfolio, rules)
    verdicts = book_verdicts(risk, np.array([risk.cross_pool[a.id] for a in portfolio.accounts], dtype=np.int64))
    return [Sums(verdicts, k) for k in range(len(portfolio.accounts))]


def test_figures_worked_by_hand() -> None:
    a, b, c, e = sums(hand_book())
    # a: BTC 6 in bands, maintenance 5 x 0.95 + 1 x 0.9 = 5.65, initial 5 x 0.9 + 1 x 0.8 = 5.3, at 20,000:
    # 113,000 and 106,000; with USDT 1,000: 114,000 and 107,000.
    assert (a.collateral_value, a.initial_collateral_value) == (D("114000"), D("107000"))
    # Long 30 contracts of 0.01 BTC: notional 30 x 0.01 x 20,000 = 6,000, past the 5,000 bracket: maintenance
    # 6,000 x 0.01 - 30 (the amount, 5,000 x (0.01 - 0.004)) = 30, initial 6,000 x 0.02 = 120.
    # PnL 30 x 0.01 x (20,000 - 21,000) = -300, counted in full on both sides.
    assert (a.maintenance_margin, a.initial_margin, a.unrealized_pnl) == (D("30"), D("120"), D("-300"))
    assert (a.equity, a.initial_equity, a.liquidatable) == (D("113700"), D("106700"), False)
    # b: equity 337.5 - 300 = 37.5, above a maintenance of 30.
    assert (b.equity, b.maintenance_margin, b.liquidatable) == (D("37.5"), D("30"), False)
    # c: short 10 at 21,000, mark 20,000: profit -10 x 0.01 x (20,000 - 21,000) = 100, counted at 0.5 = 50 for
    # maintenance and at 0.4 = 40, capped at 30, for initial; notional 2,000: maintenance 8, initial 16.
    assert (c.unrealized_pnl, c.equity, c.initial_equity) == (D("100"), D("150"), D("130"))
    assert (c.maintenance_margin, c.initial_margin) == (D("8"), D("16"))
    # e: notional 25 x 0.01 x 20,000 = 5,000, exactly the first bracket's bound, which it still belongs to:
    # maintenance 5,000 x 0.004 = 20, initial 5,000 x 0.008 = 40.
    assert (e.maintenance_margin, e.initial_margin) == (D("20"), D("40"))
    assert all(s.compiled for s in (a, b, c, e))


def test_a_balance_a_liquidation_has_posted_to_is_held() -> None:
    # USDT 1000.000000000000000001 (22 digits, as a ledger posting at 1E-18 leaves it) and BTC 5.5 in its bands:
    # 5 x 0.95 + 0.5 x 0.9 = 5.2 at 20,000 = 104,000; the collateral 105,000.000000000000000001 exactly.
    portfolio = book(
        ASSETS, [PERP], {"USDT": "1", "BTC": "20000"}, {"BTC-PERP": "20000"},
        [("f", {"USDT": "1000.000000000000000001", "BTC": "5.5"}, [])],
    )  # fmt: skip
    (f,) = sums(portfolio)
    assert f.compiled
    assert f.collateral_value == D("105000.000000000000000001")


def test_the_verdict_follows_the_rulebooks_threshold_and_equality() -> None:
    # b's equity 37.5 is exactly 1.25 x its maintenance 30: liquidatable only where equality liquidates.
    strict = RuleChoices("at-equality", liquidate_at_equality=True, liquidation_threshold=D("1.25"))
    loose = RuleChoices("below", liquidation_threshold=D("1.25"))
    assert sums(hand_book(), strict)[1].liquidatable
    assert not sums(hand_book(), loose)[1].liquidatable
    assert sums(hand_book(), strict)[1].compiled


def test_a_pool_without_a_requirement_under_both_choices() -> None:
    portfolio = book(ASSETS, [PERP], {"USDT": "1", "BTC": "20000"}, {"BTC-PERP": "20000"}, [("d", {"USDT": "-5"}, [])])
    # No positions, equity -5 < 0 = 1 x 0: liquidatable unless the rulebook needs a requirement (dYdX).
    assert sums(portfolio)[0].liquidatable
    assert not sums(portfolio, RuleChoices("dydx-like", liquidate_without_requirement=False))[0].liquidatable


def test_what_the_compiled_path_does_not_hold_goes_to_decimal_with_the_same_figures() -> None:
    leverage_nine = TierTable.build([TierSpec(None, D("0.05"), imr=div(1, 9))])
    portfolio = book(
        ASSETS,
        [PERP, inverse("BTC-INV", size="100"), linear("BTC-9X", size="0.01", table=leverage_nine)],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000", "BTC-INV": "20000", "BTC-9X": "20000"},
        [
            ("inverse", {"USDT": "1000"}, [position("BTC-INV", "-100", "21000")]),  # a quotient: 100 x 100 / mark
            ("nineth", {"USDT": "1000"}, [position("BTC-9X", "10", "20000")]),  # initial rate 1/9, 50 digits
            ("long-digits", {"USDT": "1000"}, [position("BTC-PERP", "1", str(div(63000, "3.07")))]),
            ("wide", {"USDT": "1E-10", "BTC": "9E+29"}, [position("BTC-PERP", "1", "20000")]),  # 39+ digits
        ],
    )
    risk = RiskBook(portfolio, GENERIC)
    pools = [risk.cross_pool[a.id] for a in portfolio.accounts]
    verdicts = book_verdicts(risk, np.array(pools, dtype=np.int64))
    # The inverse, the 19-digit entry and the 44-digit sum are not valued; the 1/9 pool is, but for its initial
    # margin (which Decimal rounds at the 50th digit).
    assert verdicts.ok.tolist() == [False, True, False, False]
    assert not verdicts.initial_held[1]
    for k, (pool, account) in enumerate(zip(pools, portfolio.accounts, strict=True)):
        figures = evaluate_pool(cross_pool(account), portfolio, GENERIC)
        assert pool_verdict(risk, verdicts, k, pool) == figures.liquidatable
    # The 1/9 pool's other figures are the Decimal ones (10 x 0.01 x 20,000 = 2,000 notional: maintenance 100).
    nineth = Sums(verdicts, 1)
    assert (nineth.maintenance_margin, nineth.equity) == (D("100"), D("1000"))


# ---------------------------------------------------------------------- random books

AMOUNTS = st.integers(-(10**7), 10**7)


def decimals(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def schedules(draw: st.DrawFn, top: Decimal) -> WeightSchedule:
    starts = sorted(set(draw(st.lists(decimals(1, 10_000, 1), max_size=3))))
    weights = [top, *(draw(decimals(0, int(top * 100), 2)) for _ in starts)]
    return WeightSchedule(tuple(WeightBand(a, w) for a, w in zip([D("0"), *starts], weights, strict=True)))


@st.composite
def assets(draw: st.DrawFn, name: str) -> Asset:
    weight = draw(schedules(draw(decimals(50, 100, 2))))
    initial = WeightSchedule(tuple(WeightBand(b.from_amount, b.weight * D("0.9")) for b in weight.bands))
    liability = draw(decimals(100, 150, 2))
    return Asset(name, weight, initial, liability, liability + draw(decimals(0, 20, 2)))


@st.composite
def instruments(draw: st.DrawFn, name: str, settle: str) -> Instrument:
    bounds = sorted(set(draw(st.lists(decimals(1, 10**6, 1), min_size=0, max_size=3))))
    mmrs = sorted(draw(st.lists(decimals(1, 500, 4), min_size=len(bounds) + 1, max_size=len(bounds) + 1)))
    table = TierTable.build(
        [TierSpec(bound, mmr, imr=mmr * 2) for bound, mmr in zip([*bounds, None], mmrs, strict=True)]
    )
    upnl = draw(decimals(0, 100, 2))
    return Instrument(
        name, ContractKind.PERPETUAL, "BTC", settle, draw(st.sampled_from([D("1"), D("0.01"), D("0.001"), D("5")])),
        False, table, upnl_weight=upnl, initial_upnl_weight=upnl * draw(decimals(0, 10, 1)),
        liquidation_fee_rate=draw(st.sampled_from([D("0"), D("0.0005")])),
        tier_basis=draw(st.sampled_from(list(TierBasis))),
        initial_upnl_cap=draw(st.one_of(st.none(), decimals(0, 10_000, 1))),
    )  # fmt: skip


@st.composite
def random_books(draw: st.DrawFn) -> tuple[Portfolio, RuleChoices]:
    held = [draw(assets("BTC")), draw(assets("USDC")), Asset.simple("USDT")]
    instruments_ = [draw(instruments(f"P{i}", draw(st.sampled_from(["USDT", "USDC"])))) for i in range(3)]
    prices = {"USDT": "1", "USDC": str(draw(decimals(9900, 10100, 4))), "BTC": str(draw(decimals(10**5, 10**7, 2)))}
    marks = {i.name: str(draw(decimals(10**3, 10**8, 3))) for i in instruments_}
    accounts = []
    for a in range(draw(st.integers(1, 4))):
        # USDT now and then as a ledger leaves it after fills, at 1E-18 (21 digits: two words), up to 1,000
        usdt = draw(st.sampled_from([(10**9, 4), (10**21, 18)]))
        balances = {
            name: str(draw(decimals(-largest, largest, places)))
            for name, (largest, places) in (("USDT", usdt), ("USDC", (10**9, 6)), ("BTC", (10**9, 8)))
            if draw(st.booleans())
        }
        legs = []
        for instrument in draw(st.lists(st.sampled_from(instruments_), max_size=3, unique_by=lambda i: i.name)):
            size = draw(decimals(-(10**6), 10**6, 3).filter(bool))
            entry = str(draw(decimals(10**3, 10**8, 3)))
            margin = draw(st.one_of(st.none(), decimals(0, 10**8, 2)))
            legs.append(position(instrument.name, str(size), entry, None if margin is None else str(margin)))
        accounts.append((f"acct-{a}", balances, legs))
    valuation = MarginValuation(*(draw(st.sampled_from(list(Valuation))) for _ in range(4)))
    rules = RuleChoices(
        "random", liquidate_at_equality=draw(st.booleans()), liquidation_threshold=draw(decimals(100, 150, 2)),
        liquidate_without_requirement=draw(st.booleans()), margin_valuation=valuation,
    )  # fmt: skip
    return book(held, instruments_, prices, marks, accounts), rules


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_books())
def test_the_compiled_path_equals_the_decimal_evaluator_digit_for_digit(drawn: tuple[Portfolio, RuleChoices]) -> None:
    portfolio, rules = drawn
    risk = RiskBook(portfolio, rules)
    pools = [p for a in portfolio.accounts for p in risk.pools_of(a.id)]
    verdicts = book_verdicts(risk, np.array(pools, dtype=np.int64))
    for k, p in enumerate(pools):
        pool, valued_in = exact_pool(risk, p)
        figures = evaluate_pool(pool, valued_in, rules)
        assert verdicts.ok[k] and verdicts.initial_held[k]  # every number of these books has few digits
        for index, name in enumerate(FIGURES):
            assert verdicts.figure(k, index) == getattr(figures, name), name
        assert verdicts.liquidatable[k] == figures.liquidatable
