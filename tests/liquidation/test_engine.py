"""Liquidation worked by hand: a partial liquidation restoring health with its buffer, a cascade through
slipped fills (the engine loop around the book), bad debt paid by the insurance fund, the fund exhausted and
ADL applied, a socialized loss, a liability repaid from collateral, and bad debt booked when nobody can take
it."""

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from crossmargin.clearing.events import MARKET, PriceUpdate
from crossmargin.clearing.ledger import Book, LedgerAccount
from crossmargin.clearing.state import BAD_DEBT, INSURANCE_FUND, ClearingState, user
from crossmargin.liquidation.engine import Liquidator, bankruptcy_price, size_quantum
from crossmargin.liquidation.liquidity import DepthLevels, LiquidityModel
from crossmargin.liquidation.ranking import AdlQueues, adl_order
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.margin.pools import PoolFigures
from crossmargin.model import Account, InputError, exact
from crossmargin.model.rules import LiquidationTerms, Shortfall
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.scenarios.paths import generate
from tests.builders import GENERIC, D, banded, book, div, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))
TERMS = LiquidationTerms()


def state_of(accounts, mark: str = "940", fund: str = "0", prices: dict[str, str] | None = None) -> ClearingState:
    portfolio = book([USDT, BTC], [PERP], prices or {"BTC": mark}, {"BTC-PERP": mark}, accounts, base="USDT")
    return ClearingState(portfolio, GENERIC, D(fund))


def usdt(state: ClearingState, account: str) -> Decimal:
    return state.ledger.balance(user(account), "USDT")


def screened(
    state: ClearingState, terms: LiquidationTerms, liquidity: dict[str, LiquidityModel]
) -> list[live.OutboundEvent]:
    """The engine loop around ``state`` (no feed has spoken: the oracle keeps the state's prices) after one
    clock event: the whole book screened, confirmed and liquidated at the state's market, cascades included."""
    portfolio, rules, _ = state.origin
    loop = EngineLoop(LoopConfig(portfolio, rules, terms, OracleConfig(), liquidity), state=state)
    return loop.handle(live.Clock(seq=1, time=D(0), id="clock"))


def conserved(state: ClearingState) -> None:
    """Double entry: every ledger account together sums to zero in every asset."""
    with exact():
        for asset in state.ledger.assets():
            assert sum((v for (_, a), v in state.ledger.snapshot().items() if a == asset), D(0)) == 0


def test_size_quantum_and_bankruptcy_price_by_hand():
    assert size_quantum(D(10)) == D("0.01") and size_quantum(D("1.5")) == D("0.001")
    # long 10 x 1 BTC at mark 990, pool net value 50: 50 + 10 (p - 990) = 0 at p = 985
    assert bankruptcy_price(PERP, D(10), D(990), D(50), D(1)) == D(985)
    # short 10: 50 - 10 (p - 990) = 0 at p = 995
    assert bankruptcy_price(PERP, D(-10), D(990), D(50), D(1)) == D(995)


def test_a_partial_liquidation_restores_health_with_its_buffer():
    # long 10 BTC-PERP at 1000 on 1000 USDT; mark 940: uPnL -600, equity 400 < MM 0.05 x 9400 = 470.
    state = state_of([("a", {"USDT": "1000"}, [position("BTC-PERP", "10", "1000")])])
    assert state.liquidatable("a")
    notices = Liquidator(state, replace(TERMS, buffer=D("0.1"))).liquidate("a")
    # At the mark (no liquidity model) closing s keeps equity at 400 and leaves MM 47 (10 - s); health with
    # the 10 % buffer needs 400 >= 1.1 x 47 (10 - s) = 51.7 (10 - s): s >= 10 - 7.7369 = 2.2631, in steps of
    # 0.01 (10 / 1000): s = 2.27 (51.7 x 7.73 = 399.641 <= 400; 2.26 would need 400.158).
    assert [(n["event"], n["size"], n["fill_price"]) for n in notices] == [("liquidation", D("-2.27"), D(940))]
    assert state.legs["a"][("BTC-PERP", True)].size == D("7.73")
    # realized 2.27 x (940 - 1000) = -136.2 from the 1000
    assert usdt(state, "a") == D("863.8")
    assert not state.liquidatable("a")
    conserved(state)
    assert state.open_interest("BTC-PERP") == (D("7.73"), D("7.73"))


def test_a_cascade_through_slipped_fills():
    # Two longs of 10 at 1000 on 1000 and 1100 USDT; mark 940. a: equity 400 < MM 470; b: 500 >= 470.
    # Depth: 5 BTC at 1 % below the mark, 100 at 2 %; the market keeps the whole move (permanent impact 1).
    depth = DepthLevels(((D("0.01"), D(5)), (D("0.02"), D(100))), permanent_impact=D(1))
    state = state_of(
        [
            ("a", {"USDT": "1000"}, [position("BTC-PERP", "10", "1000")]),
            ("b", {"USDT": "1100"}, [position("BTC-PERP", "10", "1000")]),
        ]
    )
    assert state.liquidatable("a") and not state.liquidatable("b")
    terms = replace(TERMS, partial=False)
    out = screened(state, terms, {"BTC-PERP": depth})
    # a sells 10: 5 at 940 x 0.99 = 930.6 and 5 at 940 x 0.98 = 921.2, average 925.9; the mark goes to 921.2.
    # b at 921.2: equity 1100 + 10 (921.2 - 1000) = 312 < MM 0.05 x 9212 = 460.6: liquidated in turn (the
    # loop's second round), 5 at 921.2 x 0.99 = 911.988 and 5 at 921.2 x 0.98 = 902.776, average 907.382;
    # mark 902.776. A third round finds nobody.
    fills = [(e.account, e.size, e.fill_price, e.slippage) for e in out if isinstance(e, live.LiquidationFill)]
    assert fills == [
        ("a", D(-10), D("925.9"), D("141")),  # slippage 10 x (940 - 925.9)
        ("b", D(-10), D("907.382"), D("138.18")),  # 10 x (921.2 - 907.382)
    ]
    turned = [e.account for e in out if isinstance(e, live.AccountStatus) and e.state == "liquidatable"]
    assert turned == ["a", "b"]
    moves = [(e.before, e.mark) for e in out if isinstance(e, live.MarkMoved)]
    assert moves == [(D(940), D("921.2")), (D("921.2"), D("902.776"))]
    assert usdt(state, "a") == D(1000) + 10 * (D("925.9") - 1000)  # 259
    assert usdt(state, "b") == D(1100) + 10 * (D("907.382") - 1000)  # 173.82
    assert state.market.mark("BTC-PERP") == D("902.776")
    assert state.open_interest("BTC-PERP") == (D(0), D(0))  # the market's opening short of 20 took both
    conserved(state)


def bankrupt_book(fund: str) -> ClearingState:
    # a: long 10 at 1000 on 100 USDT, mark 990: net value 100 - 100 = 0. c, d: profitable shorts.
    return state_of(
        [
            ("a", {"USDT": "100"}, [position("BTC-PERP", "10", "1000")]),
            ("c", {"USDT": "1000"}, [position("BTC-PERP", "-10", "1100")]),
            ("d", {"USDT": "1000"}, [position("BTC-PERP", "-5", "1000")]),
        ],
        mark="990",
        fund=fund,
    )


DEEP_2PCT = DepthLevels(((D("0.02"), D(1000)),))


def test_bad_debt_is_paid_by_the_insurance_fund():
    state = bankrupt_book(fund="500")
    notices = Liquidator(state, TERMS, {"BTC-PERP": DEEP_2PCT}).liquidate("a")
    # sold 10 at 990 x 0.98 = 970.2: realized 10 x (970.2 - 1000) = -298, balance 100 - 298 = -198,
    # which the fund (500) pays: fund 302, a at 0.
    assert [n["event"] for n in notices] == ["liquidation", "insurance"]
    assert notices[0]["fill_price"] == D("970.2") and notices[1]["amount"] == D(198)
    assert usdt(state, "a") == 0 and state.ledger.balance(INSURANCE_FUND, "USDT") == D(302)
    assert state.ledger.balance(BAD_DEBT, "USDT") == 0
    conserved(state)


def test_an_exhausted_fund_leads_to_adl_at_the_bankruptcy_price():
    state = bankrupt_book(fund="50")
    notices = Liquidator(state, TERMS, {"BTC-PERP": DEEP_2PCT}).liquidate("a")
    # The market fill would leave -198, more than the fund's 50: a's long goes at its bankruptcy price,
    # 990 - 0 / 10 = 990 (net value 0), to the shorts ranked by PnL ratio x leverage:
    #   c: PnL 10 x (1100 - 990) = 1100 on entry notional 11000 -> 0.1; leverage 9900 / (1000 + 1100) = 4.714
    #      -> 0.4714;  d: PnL 5 x 10 = 50 on 5000 -> 0.01; leverage 4950 / 1050 = 4.714 -> 0.0471.
    # c (short 10) takes all 10.
    adl = [n for n in notices if n["event"] == "adl"]
    assert [(n["account"], n["size"], n["fill_price"]) for n in adl] == [("c", D(10), D(990))]
    assert "insurance fund could not cover" in str(adl[0]["reason"])
    assert usdt(state, "a") == 0  # 100 + 10 x (990 - 1000)
    assert usdt(state, "c") == D(2100)  # 1000 + 10 x (1100 - 990)
    assert ("BTC-PERP", False) not in state.legs["c"] and state.legs["d"][("BTC-PERP", False)].size == -5
    assert state.ledger.balance(INSURANCE_FUND, "USDT") == D(50)
    conserved(state)


def test_a_socialized_loss_is_shared_by_the_profitable_opposite_side():
    state = bankrupt_book(fund="50")
    terms = replace(TERMS, shortfall=Shortfall.SOCIALIZED)
    notices = Liquidator(state, terms, {"BTC-PERP": DEEP_2PCT}).liquidate("a")
    # Market fill at 970.2 leaves -198; the fund pays its 50; the other 148 is shared by c and d in
    # proportion to their profit at the mark 990: c 1100, d 50 (of 1150).
    shares = next(n for n in notices if n["event"] == "socialized")["shares"]
    assert isinstance(shares, dict)
    assert sum(shares.values()) == 148
    assert abs(shares["d"] - div(148 * 50, 1150)) <= D("1e-18")  # shares are booked to the ledger's 1e-18
    with exact():
        assert usdt(state, "c") == 1000 - shares["c"] and usdt(state, "a") == 0
    assert state.ledger.balance(INSURANCE_FUND, "USDT") == 0
    conserved(state)


def test_bad_debt_is_booked_when_nobody_can_take_the_loss():
    state = state_of([("a", {"USDT": "100"}, [position("BTC-PERP", "10", "1000")])], mark="990", fund="50")
    terms = replace(TERMS, shortfall=Shortfall.SOCIALIZED)
    Liquidator(state, terms, {"BTC-PERP": DEEP_2PCT}).liquidate("a")
    # -198 after the fill, 50 from the fund, no opposite account: 148 of bad debt.
    assert state.ledger.balance(BAD_DEBT, "USDT") == D(-148)
    assert usdt(state, "a") == 0
    conserved(state)


def test_a_liability_is_repaid_from_collateral_at_a_discount():
    # e owes 5000 USDT against 2 BTC at 3000 weighted 0.8: equity 4800 - 5000 = -200, no positions.
    state = state_of([("e", {"USDT": "-5000", "BTC": "2"}, [])], mark="3000")
    assert state.liquidatable("e")
    Liquidator(state, TERMS).liquidate("e")
    # BTC sold at 3000 x (1 - 0.05) = 2850: 5000 / 2850 = 1.7543859649... BTC repays the 5000.
    assert usdt(state, "e") == 0
    with exact():
        sold = D(2) - state.ledger.balance(user("e"), "BTC")
    # sold is rounded up to the ledger's 1e-18 BTC: at most 2850e-18 USDT over
    assert D(0) <= sold * 2850 - 5000 <= D("2850e-18")
    assert state.ledger.balance(user(MARKET), "BTC") == sold
    assert not state.liquidatable("e")
    conserved(state)


def test_bad_events_change_nothing():
    state = bankrupt_book(fund="50")
    before = state.digest()
    with pytest.raises(InputError, match="unknown ranking"):
        Liquidator(state, replace(TERMS, adl_ranking="alphabetical"))
    assert state.digest() == before
    assert Book.USER in {a.book for a, _ in state.ledger.snapshot()}


def test_a_pinned_adl_queue_ranks_at_the_pinned_marks():
    # profit x leverage = (uPnL / entry notional) x (notional / net value), by hand:
    #   at 940  s1: 50/4750 x 4700/5050 = 0.0098   s2: 5/945 x 940/305 = 0.0163   s3: 180/3000 x 2820/2180 = 0.0776
    #   at 700  s1: 1250/4750 x 3500/6250 = 0.147  s2: 245/945 x 700/545 = 0.333  s3: 900/3000 x 2100/2900 = 0.217
    # so s3, s2, s1 at 940 and s2, s3, s1 at 700. A queue pinned at 940 keeps the 940 order after the
    # mark moves; an unpinned one follows the mark; each equals the ranking from scratch
    shorts = [
        ("s1", {"USDT": "5000"}, [position("BTC-PERP", "-5", "950")]),
        ("s2", {"USDT": "300"}, [position("BTC-PERP", "-1", "945")]),
        ("s3", {"USDT": "2000"}, [position("BTC-PERP", "-3", "1000")]),
        ("long", {"USDT": "100000"}, [position("BTC-PERP", "9", "940")]),
    ]
    state = state_of(shorts)
    at_940 = [c.account for c in adl_order(state, "BTC-PERP", True, "long", "profit_x_leverage")]
    pinned = AdlQueues(state, "profit_x_leverage")
    pinned.pin()
    following = AdlQueues(state, "profit_x_leverage")
    assert at_940 == ["s3", "s2", "s1"]
    assert [c.account for c in following.order("BTC-PERP", True, "long")] == at_940
    state.apply(PriceUpdate(prices={"BTC": D(700)}, marks={"BTC-PERP": D(700)}))
    at_700 = [c.account for c in adl_order(state, "BTC-PERP", True, "long", "profit_x_leverage")]
    assert at_700 == ["s2", "s3", "s1"]
    assert [c.account for c in pinned.order("BTC-PERP", True, "long")] == at_940
    assert [c.account for c in following.order("BTC-PERP", True, "long")] == at_700
    pinned.pin()
    assert [c.account for c in pinned.order("BTC-PERP", True, "long")] == at_700


class _Unremembering(ClearingState):
    """The clearing state with nothing remembered: every account, pool and position valued afresh at each read."""

    def account(self, account_id: str) -> Account:
        self._accounts.clear()
        return super().account(account_id)

    def pool_figures(self, account_id: str, pool: LedgerAccount | None = None) -> PoolFigures:
        self._figures.clear()
        self._positions.clear()
        return super().pool_figures(account_id, pool)


def _bisected(probe: Callable[[int], tuple[bool, Decimal]], steps: int, guess: int, surplus_at_zero: Decimal) -> int:
    # the sizing search as it was first written: a bisection over 1..steps after the whole close
    if not probe(steps)[0]:
        return steps
    low, high = 0, steps
    while high - low > 1:
        middle = (low + high) // 2
        if probe(middle)[0]:
            high = middle
        else:
            low = middle
    return high


@pytest.mark.parametrize(
    ("venue", "seed"),
    [("generic", 3), ("generic", 7), ("okx", 7), ("bybit-uta", 7), ("hyperliquid", 3), ("drift-v2", 7), ("dydx-v4", 3)],
)
def test_the_fast_exact_path_liquidates_a_crash_as_the_plain_one_does(venue, seed, monkeypatch):
    # A second method: the same crash on the same book through the plain exact path (nothing remembered between
    # reads, the partial close bisected) and the fast one (accounts, pools and positions remembered until they
    # change, the partial close found by regula falsi): each step's liquidations, ADL, bad debt, fund and marks and
    # the final digest (ledger, oracle, marks) equal, digit for digit. A fifth of the book starts distressed.
    from crossmargin.sim.population import DEFAULT_SHAPE, synthetic_book
    from crossmargin.sim.scenarios.load import load_scenario
    from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
    from crossmargin.sim.stress.runner import Run, assets_of
    from crossmargin.venues import rulebook

    def crash(plain: bool) -> tuple[list[tuple[int, int, float, float, dict[str, float]]], str]:
        portfolio = replace(
            synthetic_book(400, seed, shape=replace(DEFAULT_SHAPE, distressed_share=0.2)), rulebook=venue
        )
        rules = rulebook(venue)
        config = cross_and_isolated(
            portfolio, rules.rules, rules.liquidation, default_liquidity(portfolio),
            default_insurance_fund(portfolio), OracleConfig(),
        )[0]  # fmt: skip
        with monkeypatch.context() as patch:
            if plain:
                patch.setattr("crossmargin.live.loop.ClearingState", _Unremembering)
                patch.setattr("crossmargin.liquidation.sizing.fewest_steps", _bisected)
            run = Run(config, generate(load_scenario("flash-crash"), seed, assets_of(config.portfolio)))
            records = [run.step() for _ in range(6)]
        return [
            (r.liquidations, r.adl_events, r.bad_debt, r.insurance_fund, r.marks) for r in records
        ], run.loop.digest()

    fast, plain = crash(plain=False), crash(plain=True)
    assert sum(r[0] for r in fast[0]) > 100  # the crash liquidates: the paths are compared on real work
    assert fast == plain
