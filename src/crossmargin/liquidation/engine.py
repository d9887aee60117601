"""The liquidation engine: plan, execute against liquidity, cover losses; every change an event on the
clearing state (so a liquidation replays exactly). See docs/liquidation.md for the rules in prose.

The engine liquidates one account at a time (:meth:`Liquidator.liquidate`, then
:meth:`Liquidator.apply_impact`); which accounts are due, and the rounds of a cascade, are the engine loop's
(:mod:`crossmargin.live.loop`).

For each liquidatable pool of an account (its cross pool, then each isolated position):

1. **Plan.** Positions are taken largest maintenance margin first (ties: instrument, long first). A
   partial liquidation brings the pool back to its target and not liquidatable: ``equity >= threshold x MM
   x (1 + buffer)``, or under ``buffer_basis: notional`` (Drift) ``equity + buffer x negative uPnL >=
   threshold x MM + buffer x liability value`` (:func:`~crossmargin.liquidation.sizing.target`). It closes
   multiples of the terms' step for the instrument (else of a power of ten no bigger than a thousandth of
   the position): under ``sizing: search`` the fewest that reach the target, counting the fill price the
   liquidity model quotes for that size, the fees, and the mark the fill's own permanent impact leaves for
   the rest of the pool; under ``sizing: shortage`` (Drift) the closed form that frees the shortage at the
   mark, rounded up, after which the pool's liquidation ends. If the whole position is not enough it is
   closed and the next one planned. The whole pool is closed when the rulebook has no partial
   liquidation, or its equity is below ``full_close_below x MM`` or not positive.
2. **Execute.** The order fills against the instrument's liquidity model (not at the mark): the average
   price, the slippage (against the mark) and the fee (``fee_rate`` x filled notional, split
   ``insurance_fund_share`` to the insurance fund and the rest to the liquidator, plus an insurance fee
   wholly the fund's, its rate limited by ``insurance_fee_headroom`` as Drift limits it; all capped at what
   the pool has left above its bankruptcy value, as dYdX caps it, unless ``cap_fee_at_bankruptcy`` is
   false) are recorded; the market account takes the position. By
   the rulebook's ``fill_price``: ``market`` fills at whatever the depth gives; ``fillable`` (dYdX) only
   down to the fillable price (:func:`fillable_price`), the rest waiting for depth within it;
   ``bankruptcy`` (Bybit, OKX) closes a pool out as if at its bankruptcy price: what the fill leaves
   above it goes to the insurance fund. Once the account's liquidation ends, the mark moves
   (:meth:`Liquidator.apply_impact`) by the model's permanent impact of its fills (the sum of their
   moves), so a liquidation can push others under (cascades, which the engine loop follows round by
   round); within one account's liquidation the mark stands still.
3. **Bankruptcy.** A fill that would leave the pool's net value (balances at full price plus PnL at the
   mark) negative is bankrupt. If the insurance fund can pay the loss, the fill goes to the market and the
   fund covers it. Otherwise, by the rulebook's ``shortfall``: ``adl`` closes the position at its
   bankruptcy price (where the pool's net value is exactly zero) against opposite positions in ranking
   order (:mod:`~crossmargin.liquidation.ranking`), each told why; ``backstop`` lets the market account
   take it at the bankruptcy price; ``socialized`` fills at the market and spreads what the fund cannot
   pay over the opposite side's accounts. What nobody takes is booked as bad debt.
4. **Depth.** When the depth runs out the rest of the order stays open (the pool stays in the book, and is
   liquidated again at the next price), unless the pool is bankrupt, when it goes the way of step 3.
   A fill that would leave the pool further below maintenance than before (fees and slippage beyond what
   it frees) is not made.
5. **Liabilities.** A cross pool left without positions but owing an asset sells its other collateral to
   the market at ``collateral_discount`` below the price to repay it; then any negative balance is
   covered by the insurance fund (in the asset if it holds it, else bought with base currency) and the
   rest as in step 3 (``socialized``) or booked as bad debt.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_UP, Decimal

from crossmargin.clearing.events import (
    MARKET,
    CollateralSale,
    InsuranceCover,
    LiquidationEnd,
    LiquidationFill,
    LiquidationStart,
    PriceUpdate,
    SocializedLoss,
    Taker,
    WriteOff,
)
from crossmargin.clearing.ledger import MONEY_QUANTUM, LedgerAccount, money
from crossmargin.clearing.state import INSURANCE_FUND, ClearingState, user
from crossmargin.engine.book import RiskBook
from crossmargin.liquidation import sizing
from crossmargin.liquidation.liquidity import AtMark, LiquidityModel, Quote, Side
from crossmargin.liquidation.ranking import AdlQueues, candidates, loss_shares
from crossmargin.margin.account import cross_pool, isolated_pool
from crossmargin.margin.fills import apply_fill
from crossmargin.margin.pools import PoolFigures, PositionFigures, evaluate_pool
from crossmargin.margin.positions import notional_per_contract, unrealized_pnl
from crossmargin.model import Account, Instrument, Position
from crossmargin.model.numbers import ONE, ZERO, exact
from crossmargin.model.rules import BufferBasis, FillPrice, LiquidationTerms, Shortfall, Sizing

Notice = dict[str, object]
"""One line of what happened (``event``: liquidation, adl, insurance, socialized, bad_debt, collateral_sale)."""

_SIZE_STEPS = 1000  # a partial liquidation closes a multiple of 1/1000 of the position (at a power of ten)


@dataclass(frozen=True)
class _Target:
    """A pool under liquidation: its ledger account and (for an isolated pool) its leg."""

    pool: LedgerAccount
    leg: tuple[str, bool] | None


@dataclass(frozen=True)
class _Plan:
    """What to close of one position: ``size`` contracts, paying the insurance fee at ``insurance_rate``;
    ``covers``: the close covers the pool's shortage, so (``sizing: shortage``) the pool's liquidation ends
    once it is filled."""

    size: Decimal
    insurance_rate: Decimal
    covers: bool = False


def size_quantum(size: Decimal) -> Decimal:
    """The step a partial liquidation closes in: a power of ten no bigger than ``|size| / 1000`` and no
    coarser than the size's own last digit."""
    digits = abs(size).adjusted() - 3
    exponent = size.as_tuple().exponent
    return Decimal(1).scaleb(min(digits, exponent if isinstance(exponent, int) else digits))


def fillable_price(
    spec: Instrument, size: Decimal, oracle: Decimal, settle_price: Decimal, position_mm: Decimal,
    pool_value: Decimal, pool_mm: Decimal, terms: LiquidationTerms,
) -> Decimal:  # fmt: skip
    """dYdX's limit price for liquidating a whole position of ``size`` signed contracts at ``oracle``:
    ``(PNNV - ABR x spread x PMMR) / PS`` with ``ABR = clamp(adjustment x (1 - TNC / TMMR), 0, 1)``; PNNV
    the position's signed notional, PMMR its maintenance margin, TNC and TMMR the pool's net value and
    maintenance margin (all base currency), PS the size in units of the underlying. Below the oracle for
    a long, above for a short; linear instruments (dYdX lists no other)."""
    with exact():
        units = size * spec.contract_size
        ratio = ONE - pool_value / pool_mm if pool_mm > 0 else ONE
        adjusted = min(ONE, max(ZERO, terms.bankruptcy_adjustment * ratio))
        notional = units * oracle * settle_price
        return (notional - adjusted * terms.spread_to_maintenance * position_mm) / (units * settle_price)


def bankruptcy_price(
    spec: Instrument, closed: Decimal, mark: Decimal, value: Decimal, settle_price: Decimal
) -> Decimal | None:
    """The price at which closing ``closed`` signed contracts (the position's sign) leaves a pool of net value
    ``value`` (base currency, the position at the mark) at exactly zero; None where no positive price does."""
    with exact():
        scale = closed * spec.contract_size * settle_price
        if spec.inverse:
            inverse = 1 / mark + value / scale
            return 1 / inverse if inverse > 0 else None
        price = mark - value / scale
        return price if price > 0 else None


class Liquidator:
    """Liquidates a clearing state's accounts under one rulebook's terms (see module doc); a ``mirror``
    (a risk book kept equal to the state at each ADL pin) orders ADL queues cheaply (:class:`AdlQueues`)."""

    def __init__(
        self,
        state: ClearingState,
        terms: LiquidationTerms,
        liquidity: Mapping[str, LiquidityModel] | None = None,
        mirror: RiskBook | None = None,
    ) -> None:
        self.adl = AdlQueues(state, terms.adl_ranking, mirror)
        self.state = state
        self.terms = terms
        self.liquidity = dict(liquidity or {})
        self.notices: list[Notice] = []
        self.pending: dict[str, Decimal] = {}
        self.quanta: dict[tuple[str, bool], Decimal] = {}

    def model(self, instrument: str) -> LiquidityModel:
        """The liquidity an instrument's liquidations fill against (at the mark, without a model)."""
        return self.liquidity.get(instrument, AtMark())

    def apply_impact(self) -> None:
        """Move the marks by the permanent impact of the fills since the last call (a mark that would not
        stay positive is left where it is)."""
        state = self.state
        with exact():
            marks = {name: state.market.mark(name) + move for name, move in self.pending.items() if move}
        marks = {name: mark for name, mark in marks.items() if mark > 0}
        self.pending = {}
        if marks:
            state.apply(PriceUpdate(marks=marks))

    def liquidate(self, account_id: str) -> list[Notice]:
        """Liquidate one liquidatable account (see module doc); the notices of what happened. The impact of
        its fills waits for :meth:`apply_impact` (the engine loop calls it after each account)."""
        start = len(self.notices)
        state = self.state
        state.apply(LiquidationStart(account_id))
        account = state.account(account_id)
        self.quanta = {(p.instrument, p.size > 0): size_quantum(p.size) for p in account.positions}
        targets = [_Target(user(account_id), None)]
        targets += [
            _Target(state.pool_of(account_id, p.instrument, p.size > 0), (p.instrument, p.size > 0))
            for p in account.positions
            if p.isolated
        ]
        for target in targets:
            if self._figures(account_id, target).liquidatable:
                self._liquidate_pool(account_id, target)
        self._settle_debts(account_id, targets)
        state.apply(LiquidationEnd(account_id))
        return self.notices[start:]

    # ------------------------------------------------------------------ figures

    def _pool(self, account: Account, target: _Target, marks: Mapping[str, Decimal] | None = None) -> PoolFigures:
        """The figures of ``account`` (the state's, or one after a hypothetical fill) in ``target``'s pool, with
        ``marks`` replacing the market's; positions unchanged from the state's pool, at unchanged marks, are
        not valued again."""
        portfolio = self.state.portfolio_of((account,))
        if marks:
            portfolio = portfolio.with_market(portfolio.market.moved(marks=marks))
        known = {
            f.position: f
            for f in self.state.pool_figures(account.id, target.pool).positions
            if not marks or f.position.instrument not in marks
        }
        if target.leg is None:
            return evaluate_pool(cross_pool(account), portfolio, self.state.rules, known)
        position = next((p for p in account.positions if (p.instrument, p.size > 0) == target.leg), None)
        if position is None:
            return evaluate_pool(cross_pool(Account(account.id)), portfolio, self.state.rules)
        return evaluate_pool(isolated_pool(position, portfolio), portfolio, self.state.rules, known)

    def _figures(self, account_id: str, target: _Target) -> PoolFigures:
        return self.state.pool_figures(account_id, target.pool)

    def _target_equity(self, figures: PoolFigures) -> Decimal:
        with exact():
            return self.state.rules.liquidation_threshold * figures.maintenance_margin * (1 + self.terms.buffer)

    def _goal(self, figures: PoolFigures) -> sizing.Target:
        """The pool against its liquidation target (:func:`~crossmargin.liquidation.sizing.target`)."""
        terms = self.terms
        return sizing.target(figures, terms.buffer, terms.buffer_basis, self.state.rules.liquidation_threshold)

    def _healthy(self, figures: PoolFigures) -> bool:
        if figures.liquidatable:
            return False
        if self.terms.buffer_basis is BufferBasis.MAINTENANCE:
            return figures.equity >= self._target_equity(figures)
        return self._goal(figures).met

    def _shortfall(self, figures: PoolFigures) -> Decimal:
        with exact():
            return max(ZERO, self.state.rules.liquidation_threshold * figures.maintenance_margin - figures.equity)

    # ------------------------------------------------------------------ planning

    def _liquidate_pool(self, account_id: str, target: _Target) -> None:
        for _ in range(10_000):
            figures = self._figures(account_id, target)
            positions = sorted(
                figures.positions,
                key=lambda f: (-f.maintenance_margin, f.position.instrument, f.position.size < 0),
            )
            if not positions or self._healthy(figures):
                return
            full = (
                not self.terms.partial
                or figures.equity <= 0
                or figures.equity < self.terms.full_close_below * figures.maintenance_margin
            )
            plan = self._plan(account_id, target, figures, positions[0], full)
            filled = self._execute(account_id, target, positions[0].position, plan, full)
            if filled is None or (plan.covers and filled >= plan.size):
                return

    def _plan(self, account_id: str, target: _Target, figures: PoolFigures, own: PositionFigures, full: bool) -> _Plan:
        """How much of ``own``'s position to close (the whole of it when ``full``), by the terms' sizing."""
        position = own.position
        total = abs(position.size)
        rate = self._insurance_rate(figures, own)
        if full:
            return _Plan(total, rate)
        contracts = self._to_cover(figures, own, rate)
        if self.terms.sizing is Sizing.SEARCH:
            return _Plan(self._partial_size(account_id, target, figures, position, rate, contracts), rate)
        if contracts is None:
            return _Plan(total, rate)
        size = sizing.step_up(contracts, self._quantum(position))
        if size < total and self._worse(account_id, target, figures, position, size, rate):
            # the formula prices the close at the mark; where the depth's slippage makes it leave the pool
            # further below maintenance than before, the search (which counts it) sizes the close instead
            return _Plan(self._partial_size(account_id, target, figures, position, rate, contracts), rate)
        return _Plan(min(size, total), rate, covers=size <= total)

    def _worse(
        self, account_id: str, target: _Target, figures: PoolFigures, position: Position, size: Decimal,
        rate: Decimal,
    ) -> bool:  # fmt: skip
        """Closing ``size`` contracts of ``position`` at the price quoted for them, with their fees, would leave
        the pool further below maintenance than it is (at the current mark, as :meth:`_execute` judges a fill)."""
        quote = self._quote(position, size)
        price = quote.average_price if quote.filled else self.state.market.mark(position.instrument)
        after = self._after(account_id, target, position, size, price, self._fee(position, size, price, rate))
        return self._shortfall(after) > self._shortfall(figures)

    def _freed(self, own: PositionFigures) -> Decimal | None:
        terms = self.terms
        return sizing.freed_ratio(own, terms.buffer, terms.buffer_basis, self.state.rules.liquidation_threshold)

    def _insurance_rate(self, figures: PoolFigures, own: PositionFigures) -> Decimal:
        """The insurance fee rate on closing ``own`` (see :func:`~crossmargin.liquidation.sizing.insurance_rate`)."""
        terms = self.terms
        rate, headroom = terms.insurance_fee_rate, terms.insurance_fee_headroom
        if not rate or headroom is None:
            return rate
        freed = self._freed(own)
        if freed is None:
            return ZERO
        goal = self._goal(figures)
        with exact():
            base = goal.base_requirement
            own_part = self.state.rules.liquidation_threshold * own.maintenance_margin
            share = goal.shortage * own_part / base if base > 0 else ZERO
        return sizing.insurance_rate(rate, headroom, freed, terms.fee_rate, share, own.notional)

    def _to_cover(self, figures: PoolFigures, own: PositionFigures, rate: Decimal) -> Decimal | None:
        """Contracts of ``own`` whose close at the mark covers the pool's shortage (None: all of them)."""
        freed = self._freed(own)
        if freed is None:
            return None
        state = self.state
        spec = state.instruments[own.position.instrument]
        per_settle = notional_per_contract(spec, state.market.mark(own.position.instrument))
        with exact():
            per = per_settle * state.market.price(spec.settle)
        return sizing.contracts_to_cover(
            self._goal(figures).shortage, freed, self.terms.fee_rate, rate, per, per_settle
        )

    def _after(
        self, account_id: str, target: _Target, position: Position, size: Decimal, price: Decimal, fee: Decimal,
        mark: Decimal | None = None,
    ) -> PoolFigures:  # fmt: skip
        """The pool's figures if ``size`` contracts of ``position`` closed at ``price``, paying ``fee``
        (settle units), valued with the instrument at ``mark`` (default: the current mark)."""
        marks = {position.instrument: mark} if mark is not None else None
        state = self.state
        account = state.account(account_id)
        spec = state.instruments[position.instrument]
        signed = -size if position.size > 0 else size
        outcome = apply_fill(spec, replace(position, isolated_margin=None), signed, price)
        others = tuple(p for p in account.positions if p != position)
        with exact():
            if position.isolated_margin is not None:
                margin = position.isolated_margin + outcome.realized_pnl - fee
                if outcome.position is None:
                    return self._pool(Account(account.id, {spec.settle: margin}), _Target(target.pool, None), marks)
                kept = replace(outcome.position, isolated_margin=margin)
                return self._pool(replace(account, positions=(*others, kept)), target, marks)
            balances = dict(account.balances)
            balances[spec.settle] = balances.get(spec.settle, ZERO) + outcome.realized_pnl - fee
            kept_positions = others if outcome.position is None else (*others, outcome.position)
            return self._pool(Account(account.id, balances, kept_positions), target, marks)

    def _surplus(self, figures: PoolFigures) -> Decimal:
        """How far the pool clears its liquidation target (negative: short of it), base currency."""
        if self.terms.buffer_basis is BufferBasis.MAINTENANCE:
            with exact():
                return figures.equity - self._target_equity(figures)
        goal = self._goal(figures)
        with exact():
            return goal.collateral - goal.requirement

    def _partial_size(
        self, account_id: str, target: _Target, figures: PoolFigures, position: Position, rate: Decimal,
        estimate: Decimal | None,
    ) -> Decimal:  # fmt: skip
        """The smallest multiple of the size quantum whose close (at its quoted price and fee) restores health,
        the rest of the pool valued at the mark the fill's own permanent impact leaves (the whole position when
        none does); ``estimate``: the contracts the closed form at the mark gives (None: none), where the search
        starts (:func:`~crossmargin.liquidation.sizing.fewest_steps`)."""
        total = abs(position.size)
        quantum = self._quantum(position)
        steps = int((total / quantum).to_integral_value(ROUND_DOWN))
        model = self.model(position.instrument)

        def probe(n: int) -> tuple[bool, Decimal]:
            size = total if n >= steps else quantum * n
            quote = self._quote(position, size)
            price = quote.average_price if quote.filled else self.state.market.mark(position.instrument)
            fee = self._fee(position, size, price, rate)
            mark = model.impacted_mark(quote)
            after = self._after(account_id, target, position, size, price, fee, mark)
            return self._healthy(after), self._surplus(after)

        guess = steps // 2 if estimate is None else int((estimate / quantum).to_integral_value(ROUND_CEILING))
        high = sizing.fewest_steps(probe, steps, guess, self._surplus(figures))
        return total if high >= steps else quantum * high

    # ------------------------------------------------------------------ execution

    def _quantum(self, position: Position) -> Decimal:
        """The step this liquidation closes ``position`` in: the terms' step for its instrument, else fixed from
        its size when the liquidation began, so what a partial close leaves is never a crumb of ever smaller
        steps."""
        step = self.terms.size_step(position.instrument)
        if step is not None:
            return step
        return self.quanta.get((position.instrument, position.size > 0)) or size_quantum(position.size)

    def _units(self, spec: Instrument, contracts: Decimal, mark: Decimal) -> Decimal:
        with exact():
            return contracts * spec.contract_size / mark if spec.inverse else contracts * spec.contract_size

    def _contracts(self, spec: Instrument, units: Decimal, mark: Decimal, quantum: Decimal) -> Decimal:
        with exact():
            contracts = units * mark / spec.contract_size if spec.inverse else units / spec.contract_size
            return (contracts / quantum).to_integral_value(ROUND_DOWN) * quantum

    def _quote(self, position: Position, size: Decimal, limit: Decimal | None = None) -> Quote:
        """The liquidity's quote for closing ``size`` contracts; with a ``limit`` price, for the largest
        multiple of the size quantum whose last fill is no worse than it."""
        spec = self.state.instruments[position.instrument]
        mark = self.state.market.mark(position.instrument)
        side = Side.SELL if position.size > 0 else Side.BUY
        model = self.model(position.instrument)

        def quote(contracts: Decimal) -> Quote:
            return model.quote(side, self._units(spec, contracts, mark), mark)

        def within(q: Quote) -> bool:
            return limit is None or (q.worst_price >= limit if side is Side.SELL else q.worst_price <= limit)

        whole = quote(size)
        if within(whole):
            return whole
        quantum = self._quantum(position)
        low, high = 0, int((size / quantum).to_integral_value(ROUND_DOWN))
        while high - low > 1:
            middle = (low + high) // 2
            if within(quote(quantum * middle)):
                low = middle
            else:
                high = middle
        if low == 0:
            return Quote(whole.requested, ZERO, mark, mark, mark)
        return quote(quantum * low)

    def _limit(self, account_id: str, target: _Target, position: Position) -> Decimal | None:
        """The limit price of a ``fillable`` rulebook (None: fills at whatever the depth gives)."""
        if self.terms.fill_price is not FillPrice.FILLABLE:
            return None
        state = self.state
        spec = state.instruments[position.instrument]
        figures = self._figures(account_id, target)
        own = next(f for f in figures.positions if f.position == position)
        return fillable_price(
            spec, position.size, state.market.mark(position.instrument), state.market.price(spec.settle),
            own.maintenance_margin, state.net_value(account_id, target.pool), figures.maintenance_margin, self.terms,
        )  # fmt: skip

    def _fee(self, position: Position, size: Decimal, price: Decimal, insurance_rate: Decimal = ZERO) -> Decimal:
        """The liquidation fees on closing ``size`` contracts at ``price`` (settle units): ``fee_rate`` and the
        insurance fee rate of the close on the filled notional."""
        spec = self.state.instruments[position.instrument]
        with exact():
            units = size * spec.contract_size
            rate = self.terms.fee_rate + insurance_rate if insurance_rate else self.terms.fee_rate
            return rate * (units / price if spec.inverse else units * price)

    def _execute(self, account_id: str, target: _Target, position: Position, plan: _Plan, full: bool) -> Decimal | None:
        """Close ``plan.size`` contracts of ``position`` (``full``: the pool is being closed out); the contracts
        closed, None when nothing could be done (no depth within the limit, or no better)."""
        size = plan.size
        state = self.state
        spec = state.instruments[position.instrument]
        mark = state.market.mark(position.instrument)
        settle_price = state.market.price(spec.settle)
        long = position.size > 0
        quote = self._quote(position, size, self._limit(account_id, target, position))
        whole = quote.filled == self._units(spec, size, mark)
        if whole:
            filled = size
            if abs(position.size) - size < self._quantum(position):
                filled = abs(position.size)  # no crumb smaller than a step is left behind
        else:
            filled = min(size, self._contracts(spec, quote.filled, mark, self._quantum(position)))
        value = state.net_value(account_id, target.pool)
        with exact():
            price = quote.average_price
            signed = -filled if long else filled
            slip = (
                unrealized_pnl(spec, -signed, position.entry_price, mark)
                - unrealized_pnl(spec, -signed, position.entry_price, price)
            ) * settle_price
            left = value - slip
            fee = self._fee(position, filled, price, plan.insurance_rate) if filled else ZERO
            if self.terms.cap_fee_at_bankruptcy:
                fee = min(fee, max(ZERO, left) / settle_price)
            if self.terms.fill_price is FillPrice.BANKRUPTCY and filled == abs(position.size) and full:
                fee = max(ZERO, left) / settle_price  # closed at the bankruptcy price: the rest is the fund's
            fee = fee.quantize(MONEY_QUANTUM, ROUND_DOWN)
            after = left - fee * settle_price
        fund = state.ledger.balance(INSURANCE_FUND, state.base)
        if filled and after < 0 and -after > fund and self.terms.shortfall is not Shortfall.SOCIALIZED:
            return self._take_over(account_id, target, position, abs(position.size), value)
        if not filled:
            if value < 0 and self.terms.shortfall is not Shortfall.SOCIALIZED:
                return self._take_over(account_id, target, position, abs(position.size), value)
            return None
        before = self._shortfall(self._figures(account_id, target))
        predicted = self._after(account_id, target, position, filled, price, fee)
        if after >= 0 and self._shortfall(predicted) > before and predicted.positions:
            return None
        with exact():
            share = self.terms.insurance_fund_share
            if plan.insurance_rate:  # the insurance fee is the fund's whole, fee_rate's part by the share
                share = (self.terms.fee_rate * share + plan.insurance_rate) / (
                    self.terms.fee_rate + plan.insurance_rate
                )
            split = (fee * share).quantize(MONEY_QUANTUM, ROUND_DOWN)
        state.apply(
            LiquidationFill(
                account_id, position.instrument, long, filled, price, MARKET, Taker.MARKET, split, fee - split
            )
        )
        self.notices.append(
            {
                "event": "liquidation", "account": account_id, "instrument": position.instrument,
                "size": signed, "fill_price": price, "fee": fee, "slippage": slip, "taker": str(Taker.MARKET),
                "bankruptcy_price": bankruptcy_price(spec, -signed, mark, value, settle_price),
            }
        )  # fmt: skip
        with exact():
            move = self.model(position.instrument).impacted_mark(quote) - mark
            self.pending[position.instrument] = self.pending.get(position.instrument, ZERO) + move
        return filled

    def _take_over(
        self, account_id: str, target: _Target, position: Position, size: Decimal, value: Decimal
    ) -> Decimal:
        """Close ``size`` contracts at the bankruptcy price: against ranked opposite positions (ADL) or the
        market account (backstop, or where no opposite position is left); bad debt where no price exists."""
        state = self.state
        spec = state.instruments[position.instrument]
        mark = state.market.mark(position.instrument)
        long = position.size > 0
        signed = size if long else -size
        price = bankruptcy_price(spec, signed, mark, value, state.market.price(spec.settle))
        if price is None:
            price = mark
        remaining = size
        if self.terms.shortfall is Shortfall.ADL:
            for candidate in self.adl.order(position.instrument, long, account_id):
                if remaining <= 0:
                    break
                taken = min(remaining, abs(candidate.size))
                state.apply(
                    LiquidationFill(account_id, position.instrument, long, taken, price, candidate.account, Taker.ADL)
                )
                remaining -= taken
                self.notices.append(
                    {
                        "event": "liquidation", "account": account_id, "instrument": position.instrument,
                        "size": -taken if long else taken, "fill_price": price, "fee": ZERO, "slippage": ZERO,
                        "taker": str(Taker.ADL), "bankruptcy_price": price,
                    }
                )  # fmt: skip
                self.notices.append(
                    {
                        "event": "adl", "account": candidate.account, "instrument": position.instrument,
                        "size": taken if long else -taken, "fill_price": price, "from": account_id,
                        "reason": (
                            f"auto-deleveraged: the {'long' if long else 'short'} {position.instrument} of "
                            f"{account_id} was bankrupt and the insurance fund could not cover it; your "
                            f"opposite position was closed at its bankruptcy price, ranked by "
                            f"{self.terms.adl_ranking}"
                        ),
                    }
                )  # fmt: skip
        if remaining > 0:
            state.apply(
                LiquidationFill(account_id, position.instrument, long, remaining, price, MARKET, Taker.BACKSTOP)
            )
            self.notices.append(
                {
                    "event": "liquidation", "account": account_id, "instrument": position.instrument,
                    "size": -remaining if long else remaining, "fill_price": price, "fee": ZERO, "slippage": ZERO,
                    "taker": str(Taker.BACKSTOP), "bankruptcy_price": price,
                }
            )  # fmt: skip
        return size

    # ------------------------------------------------------------------ debts

    def _settle_debts(self, account_id: str, targets: list[_Target]) -> None:
        """Debts of pools left without positions: liabilities repaid from collateral, then covered."""
        state = self.state
        cross_flat = all(leg.isolated for leg in state.legs[account_id].values())
        if cross_flat:
            self._sell_collateral(account_id)
        for target in targets:
            flat = cross_flat if target.leg is None else target.leg not in state.legs[account_id]
            if not flat:
                continue
            for asset, amount in sorted(state.ledger.balances_of(target.pool).items()):
                if amount < 0:
                    self._cover(account_id, target.pool, asset, -amount)

    def _sell_collateral(self, account_id: str) -> None:
        """Repay each owed asset by selling held ones (largest value first) at the collateral discount."""
        state = self.state
        market = state.market
        discount = self.terms.collateral_discount
        for owed_asset, owed in sorted(state.ledger.balances_of(user(account_id)).items()):
            if owed >= 0:
                continue
            need = -owed
            held = sorted(
                ((a, v) for a, v in state.ledger.balances_of(user(account_id)).items() if v > 0 and a != owed_asset),
                key=lambda item: (-item[1] * market.price(item[0]), item[0]),
            )
            for asset, amount in held:
                if need <= 0:
                    break
                with exact():
                    rate = market.price(asset) * (1 - discount) / market.price(owed_asset)
                    bought = min(need, (amount * rate).quantize(MONEY_QUANTUM, ROUND_DOWN))
                    sold = amount if bought < need else min(amount, (bought / rate).quantize(MONEY_QUANTUM, ROUND_UP))
                if bought <= 0:
                    continue
                state.apply(CollateralSale(account_id, asset, sold, owed_asset, bought))
                self.notices.append(
                    {
                        "event": "collateral_sale", "account": account_id, "sold": sold, "sell_asset": asset,
                        "bought": bought, "buy_asset": owed_asset,
                    }
                )  # fmt: skip
                need -= bought

    def _cover(self, account_id: str, pool: LedgerAccount, asset: str, deficit: Decimal) -> None:
        """Insurance fund first, then the rulebook's shortfall (socialized), else bad debt."""
        state = self.state
        with exact():
            price = state.market.price(asset)
            fund_own = state.ledger.balance(INSURANCE_FUND, asset)
            if asset != state.base and fund_own < deficit:
                fund_own = ZERO
            fund = fund_own if fund_own else state.ledger.balance(INSURANCE_FUND, state.base) / price
            paid = min(deficit, max(fund, ZERO)).quantize(MONEY_QUANTUM, ROUND_DOWN)
        if paid > 0:
            cost = ZERO if fund_own else money(paid * price)
            state.apply(InsuranceCover(pool, asset, paid, cost))
            self.notices.append({"event": "insurance", "account": account_id, "asset": asset, "amount": paid})
        rest = deficit - paid
        if rest <= 0:
            return
        if self.terms.shortfall is Shortfall.SOCIALIZED:
            shares = self._socialized_shares(account_id, rest)
            if shares:
                state.apply(SocializedLoss(pool, asset, shares))
                self.notices.append({"event": "socialized", "account": account_id, "asset": asset, "shares": shares})
                return
        state.apply(WriteOff(pool, asset, rest))
        self.notices.append({"event": "bad_debt", "account": account_id, "asset": asset, "amount": rest})

    def _socialized_shares(self, account_id: str, amount: Decimal) -> dict[str, Decimal]:
        """The loss over the accounts holding a position opposite one the bankrupt account held (both
        sides under ``pro_rata_base_size``); see :mod:`~crossmargin.liquidation.ranking`."""
        state = self.state
        by_size = self.terms.adl_ranking == "pro_rata_base_size"
        start = max(i for i, e in enumerate(state.log) if e == LiquidationStart(account_id))
        traded = {
            e.instrument: e.long
            for e in state.log[start:]
            if isinstance(e, LiquidationFill) and e.account == account_id
        }
        found = []
        for instrument, long in sorted(traded.items()):
            found += candidates(state, instrument, long, account_id)
            if by_size:
                found += candidates(state, instrument, not long, account_id)
        return loss_shares(found, amount, by_size)
