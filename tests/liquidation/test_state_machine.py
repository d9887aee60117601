"""Random exchanges (hypothesis state machine): deposits, withdrawals, trades, funding and price moves
with liquidations under random terms and liquidity. After every event (a liquidation is many): money
adds up (every balance but the outside world's equals deposits minus withdrawals), long and short open
interest match, realized PnL and open cost basis balance in the clearing account; after every step no
account is left mid-liquidation;
every liquidation leaves its account no further below maintenance than it began; the log replays to the
same state."""

from decimal import Decimal

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from crossmargin.clearing.events import MARKET, Deposit, Funding, PriceUpdate, Trade, Withdraw
from crossmargin.clearing.ledger import Book
from crossmargin.clearing.state import CLEARING, ClearingState
from crossmargin.liquidation.amm import ConcentratedLiquidity, ConstantProduct
from crossmargin.liquidation.engine import Liquidator
from crossmargin.liquidation.liquidity import AtMark, DepthLevels, LinearImpact, LiquidityModel
from crossmargin.liquidation.order_book import OrderBook
from crossmargin.liquidation.ranking import adl_order
from crossmargin.margin.account import cross_pool, isolated_pool
from crossmargin.margin.pools import evaluate_pool, position_figures
from crossmargin.model import InputError, exact
from crossmargin.model.rules import BufferBasis, LiquidationTerms, Shortfall, Sizing
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
INSTRUMENTS = [
    linear("BTC-PERP", table=tiers(("2000", "0.05", "0.1"), (None, "0.1", "0.2"))),
    linear("ETH-PERP", underlying="ETH", size="0.1", table=tiers((None, "0.02", "0.05"))),
]
ACCOUNTS = ["a0", "a1", "a2", "a3"]
MONEY = st.integers(0, 3000).map(Decimal)

TERMS = st.builds(
    LiquidationTerms,
    fee_rate=st.sampled_from([D(0), D("0.01")]),
    insurance_fund_share=st.sampled_from([D(1), D("0.5")]),
    partial=st.booleans(),
    shortfall=st.sampled_from(list(Shortfall)),
    adl_ranking=st.sampled_from(["profit_x_leverage", "random", "pro_rata_base_size"]),
    buffer=st.sampled_from([D(0), D("0.1")]),
    full_close_below=st.sampled_from([D(0), D("0.5")]),
    buffer_basis=st.sampled_from(list(BufferBasis)),
    sizing=st.sampled_from(list(Sizing)),
    insurance_fee_rate=st.sampled_from([D(0), D("0.0075")]),
    insurance_fee_headroom=st.sampled_from([None, D("0.95")]),
    cap_fee_at_bankruptcy=st.booleans(),
    size_steps=st.sampled_from([(), (("BTC-PERP", D("0.1")),), (("*", D("0.01")),)]),
)
LIQUIDITY: st.SearchStrategy[LiquidityModel] = st.sampled_from(
    [
        AtMark(),
        DepthLevels(((D("0.005"), D(3)), (D("0.02"), D(10))), permanent_impact=D("0.5")),
        DepthLevels(((D("0.01"), D(2)),), permanent_impact=D(1)),
        LinearImpact(D(50), permanent_impact=D("0.3")),
        OrderBook(((D("0.002"), D(5)), (D("0.01"), D(20))), ((D("0.004"), D(8)),), permanent_impact=D("0.5")),
        ConstantProduct(D(30), D(3000), D("0.003")),  # 30 BTC at 100
        # ticks 29000..47000 are prices 18.2..109.9, 0..69082 are 1..1000
        ConcentratedLiquidity.from_positions([(0, 69082, D(300)), (29000, 47000, D(2000))], D("0.0005"), D("0.5")),
    ]
)


def shortfall(state: ClearingState, account_id: str) -> Decimal:
    """How far the account's pools are below maintenance (exact evaluator, summed over its pools)."""
    account = state.account(account_id)
    portfolio = state.portfolio([account_id])
    pools = [cross_pool(account), *(isolated_pool(p, portfolio) for p in account.positions if p.isolated)]
    with exact():
        total = D(0)
        for pool in pools:
            figures = evaluate_pool(pool, portfolio, state.rules)
            total += max(D(0), state.rules.liquidation_threshold * figures.maintenance_margin - figures.equity)
        return total


class CheckedState(ClearingState):
    """A clearing state that checks the invariants after every event it applies (a liquidation is many)."""

    net_in: dict[str, Decimal]

    def apply(self, event) -> None:
        super().apply(event)
        if isinstance(event, Deposit | Withdraw):
            sign = 1 if isinstance(event, Deposit) else -1
            self.net_in[event.asset] = self.net_in.get(event.asset, D(0)) + sign * event.amount
        check_money(self, self.net_in)
        check_open_interest(self)
        check_cost_basis(self)
        check_indexes(self)


def check_money(state: ClearingState, net_in: dict[str, Decimal]) -> None:
    """Every balance but the outside world's (users, isolated margins, the market account, insurance fund,
    fee pool, liquidator, clearing, funding, bad debt) sums to deposits minus withdrawals, per asset."""
    snapshot = state.ledger.snapshot()
    with exact():
        for asset, net in net_in.items():
            held = sum((v for (a, x), v in snapshot.items() if x == asset and a.book is not Book.EXTERNAL), D(0))
            assert held == net, asset


def check_open_interest(state: ClearingState) -> None:
    for instrument in ("BTC-PERP", "ETH-PERP"):
        long, short = state.open_interest(instrument)
        assert long == short


def check_cost_basis(state: ClearingState) -> None:
    """Clearing pays realized PnL; a trade at p moves the open cost basis (size x contract x entry) by
    exactly what it realizes, so their sum stays at its opening value, zero (no positions then)."""
    with exact():
        cost = sum(
            (
                leg.size * state.instruments[name].contract_size * leg.entry_price
                for legs in state.legs.values()
                for (name, _), leg in legs.items()
            ),
            D(0),
        )
        assert abs(state.ledger.balance(CLEARING, "USDT") + cost) <= D("1e-15")


def check_indexes(state: ClearingState) -> None:
    """The holder index lists exactly the accounts with each leg, and every remembered net value, account and
    pool's figures equal the same computed afresh (a net value: balances at full price plus PnL at the mark)."""
    for instrument in ("BTC-PERP", "ETH-PERP"):
        for long in (True, False):
            held = {a for a in state.account_ids if (instrument, long) in state.legs[a]}
            assert set(state.holders(instrument, long)) == held
    remembered = dict(state._net_values)
    state._net_values.clear()
    for pool, value in remembered.items():
        assert state.net_value(pool.owner.split("/")[0], pool) == value, pool
    # and every remembered account, pool's figures and position's figures equal the same made afresh
    accounts, figures = dict(state._accounts), dict(state._figures)
    state._accounts.clear()
    state._figures.clear()
    for account_id, account in accounts.items():
        assert state.account(account_id) == account, account_id
    for pool, known in figures.items():
        assert state.pool_figures(pool.owner.split("/")[0], pool) == known, pool
    portfolio = state.portfolio_of(())
    with exact():
        for position, known_figures in state._positions.items():
            assert position_figures(position, portfolio, state.rules.margin_valuation) == known_figures, position


class Exchange(RuleBasedStateMachine):
    @initialize(
        balances=st.lists(MONEY, min_size=4, max_size=4),
        btc=st.integers(0, 5).map(Decimal),
        fund=MONEY,
        terms=TERMS,
        liquidity=LIQUIDITY,
        sizes=st.lists(st.integers(-40, 40), min_size=4, max_size=4),
        isolated=st.sampled_from([None, "3", "10"]),
    )
    def open(self, balances, btc, fund, terms, liquidity, sizes, isolated):
        # every account opens with a BTC-PERP position at the mark (leverage from none to far past the
        # maintenance requirement), a2 also with an ETH-PERP position, isolated or cross
        accounts = [
            (a, {"USDT": str(b), "BTC": str(btc)}, [position("BTC-PERP", str(q), "100")] if q else [])
            for a, b, q in zip(ACCOUNTS, balances, sizes, strict=True)
        ]
        accounts[2][2].append(position("ETH-PERP", "-50", "20", isolated_margin=isolated))
        portfolio = book(
            [USDT, BTC], INSTRUMENTS, {"BTC": "100"}, {"BTC-PERP": "100", "ETH-PERP": "20"}, accounts, base="USDT"
        )
        margin = D(isolated or 0)
        self.net_in = {"USDT": sum(balances, D(0)) + fund + margin, "BTC": 4 * btc}
        self.state = CheckedState(portfolio, GENERIC, fund)
        self.state.net_in = self.net_in
        self.liquidator = Liquidator(self.state, terms, {"BTC-PERP": liquidity, "ETH-PERP": liquidity})

    def attempt(self, event) -> bool:
        before = self.state.digest()
        try:
            self.state.apply(event)
        except InputError:
            assert self.state.digest() == before
            return False
        return True

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 2000).map(Decimal))
    def deposit(self, account, amount):
        self.attempt(Deposit(account, "USDT", amount))

    @rule(account=st.sampled_from(ACCOUNTS), asset=st.sampled_from(["USDT", "BTC"]), amount=st.integers(1, 2000))
    def withdraw(self, account, asset, amount):
        self.attempt(Withdraw(account, asset, Decimal(amount)))

    @rule(
        buyer=st.sampled_from([*ACCOUNTS, MARKET]),
        seller=st.sampled_from([*ACCOUNTS, MARKET]),
        instrument=st.sampled_from(["BTC-PERP", "ETH-PERP"]),
        tenths=st.integers(1, 400),
        away=st.integers(-30, 30),
        fee=st.sampled_from([D(0), D("0.05")]),
    )
    def trade(self, buyer, seller, instrument, tenths, away, fee):
        mark = self.state.market.mark(instrument)
        with exact():
            price = (mark * (1 + Decimal(away) / 1000)).quantize(D("0.01"))
        event("trade accepted", self.attempt(Trade(buyer, seller, instrument, Decimal(tenths) / 10, price, fee, fee)))

    @rule(instrument=st.sampled_from(["BTC-PERP", "ETH-PERP"]), rate=st.integers(-20, 20))
    def funding(self, instrument, rate):
        self.attempt(Funding(instrument, Decimal(rate) / 10000))

    @rule(instrument=st.sampled_from(["BTC-PERP", "ETH-PERP"]), percent=st.integers(-40, 40), btc=st.booleans())
    def move(self, instrument, percent, btc):
        with exact():
            factor = 1 + Decimal(percent) / 100
            mark = (self.state.market.mark(instrument) * factor).quantize(D("0.01"))
            prices = {"BTC": (self.state.market.price("BTC") * factor).quantize(D("0.01"))} if btc else {}
        if mark <= 0 or prices.get("BTC", D(1)) <= 0:
            return
        self.state.apply(PriceUpdate(prices=prices, marks={instrument: mark}))
        for _ in range(5):
            due = [a for a in ACCOUNTS if self.state.liquidatable(a)]
            if not due:
                break
            for account in due:
                if not self.state.liquidatable(account):
                    continue
                before = shortfall(self.state, account)
                notices = self.liquidator.liquidate(account)
                event("liquidation", ",".join(sorted({str(n["event"]) for n in notices})) or "none")
                assert shortfall(self.state, account) <= before, account
                self.liquidator.apply_impact()

    @invariant()
    def money_adds_up(self):
        check_money(self.state, self.net_in)

    @invariant()
    def open_interest_matches(self):
        check_open_interest(self.state)

    @invariant()
    def realized_pnl_and_cost_basis_balance(self):
        check_cost_basis(self.state)

    @invariant()
    def kept_adl_order_is_ranked_afresh(self):
        # the heap kept between events yields exactly the order ranked from scratch now
        if not hasattr(self, "liquidator"):
            return
        for instrument in ("BTC-PERP", "ETH-PERP"):
            for long in (True, False):
                kept = list(self.liquidator.adl.order(instrument, long, "a0"))
                fresh = adl_order(self.state, instrument, long, "a0", self.liquidator.terms.adl_ranking)
                assert kept == fresh

    @invariant()
    def nobody_is_left_mid_liquidation(self):
        assert not self.state.in_liquidation

    def teardown(self):
        if hasattr(self, "state"):
            assert self.state.rebuilt().digest() == self.state.digest()


Exchange.TestCase.settings = settings(settings.default, stateful_step_count=30)
TestExchange = Exchange.TestCase
