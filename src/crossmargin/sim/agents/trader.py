"""A trader's de-risking agent: when an account's buffer (:mod:`crossmargin.sim.agents.buffer`) falls below
a threshold it waits its reaction time, then sells down its riskiest positions against the market until the
buffer is back at its target, paying the depth's price.

Each step (:meth:`DeRiskingAgent.act`):

1. **Screen.** The mirror's float buffers of the agent's accounts (a share of the book chosen by seed: an
   account runs the agent when ``sha256(seed|id)`` read as a fraction is below ``share``) name those below
   the threshold (with a 1 % margin for the float error), and those already alarmed.
2. **Confirm.** Each one's exact buffer at the state's figures; an account at or past liquidation
   (``health <= 0``) is the liquidation engine's, not the agent's, and one back above the threshold is
   cleared. The first time an account is found below, its alarm starts; it acts once ``reaction_s`` have
   passed since, if it is still below then.
3. **Reduce.** Its cross positions, largest risk (``|N_p| x s_p``) first: for each, the contracts that
   bring the risk down to ``health / target`` if the health held (at least one size step, at most the
   position), doubled until the exact buffer after the fill reaches the target or the whole position is
   sold; the size taken is the first that reaches the target, else the one with the best buffer. A fill
   walks the instrument's depth now (:meth:`~crossmargin.liquidation.liquidity.LiquidityModel.quote`: what
   it cannot fill is not traded) at its average price, with no fee; the buffer after it is the exact one of
   the account with the fill applied as the clearing state applies it (realized PnL into the settle
   balance), at the same marks. A size that does not raise the buffer is not traded, so the agent never
   leaves an account closer to liquidation than it found it at the prices it acted on. It stops at the
   target.

With ``hedge`` on, the buffer is the correlated one (:mod:`crossmargin.sim.agents.buffer`: exposures netted
per underlying, diversified by the underlyings' realized correlations) and the agent first tries a delta
hedge, then reduces as above if the buffer is still short of the target:

4. **Hedge.** The correlations are the agent's own realized ones (:mod:`crossmargin.margin.realized_correlation`),
   from the index prices it is shown at every call, at ``correlation_half_life_s``; a pair not measured yet
   is the market's (1 if the document gives none). Candidates are the ``hedge_instruments`` (default: every
   instrument) on an underlying ``v`` the account holds no cross position on and whose correlation with every
   underlying it does hold has been measured (or given in the market). Adding an exposure ``x`` on ``v``
   moves the variance from ``R ** 2`` to ``R ** 2 + 2 x b + x ** 2 c``, with ``b = (C g)_v`` and
   ``c = s_v ** 2``: the candidate that can take most variance off (``b ** 2 / c``; ties by name) is traded,
   ``x`` the root nearest zero that brings the risk to ``health / target`` if the health held, else the
   minimum-variance ``-b / c``; in contracts at the mark, rounded down to a thousandth-of-the-size step. It
   fills against the depth as a sale does; the hedge is taken if, with its slippage and new requirements,
   the account's exact buffer rises, its initial margin is met (``free collateral >= 0``, the venue's
   multipliers in force: a venue raising them refuses new risk) and the loop would take the trade (under
   the venue's open-interest limit, no price frozen). Else half the size is tried, four sizes at most.

Each reduction or hedge is a :class:`~crossmargin.live.events.Trade` between the account and the market's
account ``@market`` at the fill price: the ledger books it as any trade. Its slippage against the mark (base
currency) is reported, and the fill's permanent impact (the depth's impacted mark less the mark) rides on the
event (``Trade.impact``): the loop moves the mark by it as by a liquidation's fills, so agents' trades push
other accounts as liquidations do. The buffers an account's trades are sized on are at the marks the step
found (its own trades' impact on its remaining positions is not foreseen).
"""

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal

import numpy as np

from crossmargin.clearing.events import MARKET
from crossmargin.engine.book import RiskBook
from crossmargin.liquidation.engine import size_quantum
from crossmargin.liquidation.liquidity import Quote, Side
from crossmargin.live import events as live
from crossmargin.margin.account import cross_pool
from crossmargin.margin.fills import apply_fill
from crossmargin.margin.pools import PoolFigures, evaluate_pool
from crossmargin.margin.positions import notional_per_contract, unrealized_pnl
from crossmargin.margin.realized_correlation import RealizedCorrelations
from crossmargin.model import Account, InputError, Position
from crossmargin.model.numbers import ONE, ZERO, exact, from_float
from crossmargin.sim.agents.buffer import (
    Buffer,
    Correlation,
    cross_pools,
    exact_buffer,
    exposures,
    move_sigmas,
    screened_buffers,
)
from crossmargin.sim.agents.config import TraderAgentConfig
from crossmargin.sim.agents.protocol import Action, AgentView

_SCREEN_MARGIN = 1.01  # the float screen looks this much above the threshold
_HEDGE_TRIES = 4  # sizes a hedge tries, each half the one before

Trial = tuple[Account, Buffer, Action]
"""A trade tried: the account after it, its buffer and the action."""


def _cross_position(account: Account, instrument: str) -> Position | None:
    """``account``'s cross position in ``instrument`` (None without one)."""
    return next((p for p in account.positions if p.instrument == instrument and not p.isolated), None)


def _cross_size(account: Account, instrument: str) -> Decimal:
    """``account``'s cross position in ``instrument`` (signed contracts; 0 without one)."""
    position = _cross_position(account, instrument)
    return ZERO if position is None else position.size


def runs_agent(seed: int, account_id: str, share: float) -> bool:
    """Whether ``account_id`` is among the ``share`` of accounts that run the agent under ``seed``."""
    if share >= 1:
        return True
    digest = hashlib.sha256(f"{seed}|{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


class DeRiskingAgent:
    """The traders' de-risking agent over ``accounts`` (those the seed picks run it; see module doc)."""

    def __init__(self, config: TraderAgentConfig, accounts: Sequence[str]) -> None:
        self.config = config
        self.name = config.name
        self.accounts: list[str] = []
        self.cover(accounts)
        self.alarms: dict[str, Decimal] = {}
        """Account -> the time its buffer was first found below the threshold (cleared when it acts or
        recovers)."""
        self.correlations = RealizedCorrelations(config.correlation_half_life_s)
        """The underlyings' realized correlations, from the index prices at each call (``hedge`` only)."""

    def cover(self, accounts: Sequence[str]) -> None:
        """Watch those of ``accounts`` the seed picks (a host whose book opens accounts calls this again with
        them all: an account's pick never changes)."""
        self.accounts = [a for a in accounts if runs_agent(self.config.seed, a, self.config.share)]
        self._pools: tuple[RiskBook, int, np.ndarray] | None = None

    def _cross_pools(self, book: RiskBook) -> np.ndarray:
        """The watched accounts' cross pools in ``book``, kept while the book and its pools are the same (an
        account's pool never moves; opening accounts adds pools)."""
        kept = self._pools
        if kept is None or kept[0] is not book or kept[1] != len(book.cross_pool):
            kept = (book, len(book.cross_pool), cross_pools(book, self.accounts))
            self._pools = kept
        return kept[2]

    def sigmas(self, view: AgentView) -> dict[str, Decimal]:
        """Each underlying's move over the reaction time (:func:`~crossmargin.sim.agents.buffer.move_sigmas`)."""
        underlyings = sorted({spec.underlying for spec in view.state.instruments.values()})
        volatility = view.volatility(self.config.half_life_s)
        return move_sigmas(volatility, underlyings, self.config.min_volatility, self.config.reaction_s)

    def correlation(self, view: AgentView) -> Correlation | None:
        """The correlations the buffer counts (module doc, 4): None without ``hedge`` (the gross buffer)."""
        if not self.config.hedge:
            return None
        market = view.state.market
        found: dict[tuple[str, str], Decimal] = {}

        def rho(u: str, v: str) -> Decimal:
            if (u, v) not in found:
                measured = self.correlations.correlation(u, v)
                found[u, v] = market.correlation(u, v) if measured is None else from_float(measured)
            return found[u, v]

        return rho

    def known(self, view: AgentView, u: str, v: str) -> bool:
        """Whether the correlation of ``u`` and ``v`` is measured or given in the market (module doc, 4)."""
        given = view.state.market.correlations
        return self.correlations.correlation(u, v) is not None or (u, v) in given or (v, u) in given

    def figures(self, view: AgentView, account: Account) -> PoolFigures:
        """The exact figures of ``account``'s cross pool (as it is, or as it would be) at the state's market."""
        state = view.state
        return evaluate_pool(cross_pool(account), state.portfolio_of([account]), state.rules)

    def buffer(
        self, view: AgentView, account: Account, sigmas: Mapping[str, Decimal], correlation: Correlation | None = None
    ) -> Buffer:
        """The exact buffer of ``account`` (as it is, or as it would be) at the state's market: the gross one,
        or with a ``correlation`` the correlated one."""
        state = view.state
        return exact_buffer(self.figures(view, account), state.rules, state.instruments, sigmas, correlation)

    def act(self, view: AgentView) -> Iterator[Action]:
        """The hedges and reductions due now (module doc), account after account, each account planned once the
        host has applied the actions before it (a generator: the host takes the next action only after applying
        the last, so an account another's trades liquidated is planned on what is left). An account whose
        position in the instrument of its next action is no longer the one its plan was made on (its own
        earlier trade set off its liquidation) gets none of its remaining actions: a sale never outgrows the
        position it reduces."""
        config = self.config
        if config.hedge:
            market = view.state.market
            prices = {a: float(p) for a, p in market.prices.items() if a != market.base}
            self.correlations.observe(float(view.time), prices)
        sigmas = self.sigmas(view)
        correlation = self.correlation(view)
        floats = screened_buffers(view.book, self.accounts, sigmas, self._cross_pools(view.book))
        low = {self.accounts[i] for i in np.flatnonzero(floats < config.threshold * _SCREEN_MARGIN)}
        threshold = Decimal(repr(config.threshold))
        for account_id in sorted(low | set(self.alarms)):
            account = view.state.account(account_id)
            found = self.buffer(view, account, sigmas, correlation)
            if found.health <= 0 or found.value >= threshold:
                self.alarms.pop(account_id, None)
                continue
            since = self.alarms.setdefault(account_id, view.time)
            if view.time - since < Decimal(repr(config.reaction_s)):
                continue
            del self.alarms[account_id]
            planned = account
            actions: list[Action] = []
            hedged = None if correlation is None else self.hedge(view, account, found, sigmas, correlation)
            if hedged is not None:
                account, found, action = hedged
                actions.append(action)
            actions += self.reduce(view, account, found, sigmas, correlation)
            for action in actions:
                instrument = str(action.instrument)
                if _cross_size(view.state.account(account_id), instrument) != _cross_size(planned, instrument):
                    break
                yield action

    def hedge(
        self, view: AgentView, account: Account, found: Buffer, sigmas: Mapping[str, Decimal], correlation: Correlation
    ) -> Trial | None:
        """The delta hedge of ``account`` at buffer ``found`` (module doc, 4): the account after, its buffer
        and the action; None where no candidate raises the buffer with the initial margin met."""
        state = view.state
        exposure = exposures(self.figures(view, account), state.instruments)
        target = Decimal(repr(self.config.target))
        names = self.config.hedge_instruments or tuple(state.instruments)
        best: tuple[Decimal, str, Decimal, Decimal] | None = None
        with exact():
            for name in sorted(names):
                v = state.instruments[name].underlying
                if v in exposure or not all(self.known(view, u, v) for u in exposure):
                    continue
                b = sum((g * sigmas[u] * correlation(u, v) for u, g in exposure.items()), ZERO) * sigmas[v]
                c = sigmas[v] * sigmas[v]
                if b != 0 and c > 0 and (best is None or b * b / c > best[0]):
                    best = (b * b / c, name, b, c)
            if best is None:
                return None
            _, name, b, c = best
            room = b * b - c * (found.risk * found.risk - (found.health / target) ** 2)
            added = (-b + ONE.copy_sign(b) * room.sqrt()) / c if room >= 0 else -b / c
            spec = state.instruments[name]
            per_contract = notional_per_contract(spec, state.market.mark(name)) * state.market.price(spec.settle)
            size = abs(added) / per_contract
        for _ in range(_HEDGE_TRIES):
            step = Decimal(1).scaleb(size.adjusted() - 3)  # a power of ten no bigger than a thousandth of it
            size = (size / step).to_integral_value(ROUND_DOWN) * step
            if size <= 0:
                return None
            tried = self._traded(view, account, name, size.copy_sign(added), sigmas, correlation, found)
            if tried is not None and tried[1].value > found.value and self._allowed(view, tried):
                return tried
            size = size / 2
        return None

    def _allowed(self, view: AgentView, tried: Trial) -> bool:
        """Whether a hedge ``tried`` leaves the initial margin met and the loop would take its trade now (not
        above an open-interest limit, not on a frozen price: :meth:`~crossmargin.live.loop.EngineLoop.check`)."""
        if self.figures(view, tried[0]).free_collateral < 0:
            return False
        try:
            view.loop.check(tried[2].event)
        except InputError:
            return False
        return True

    def reduce(
        self, view: AgentView, account: Account, found: Buffer, sigmas: Mapping[str, Decimal],
        correlation: Correlation | None,
    ) -> list[Action]:  # fmt: skip
        """The sales that bring ``account`` from buffer ``found`` back to the target (module doc, 3): of the
        positions the state holds (not a hedge this call opened)."""
        state = view.state
        target = Decimal(repr(self.config.target))
        original = state.account(account.id)
        figures = self.figures(view, original)
        by_risk = sorted(
            figures.positions,
            key=lambda f: (
                -abs(f.notional) * sigmas[state.instruments[f.position.instrument].underlying],
                f.position.instrument,
                f.position.size,
            ),
        )
        actions: list[Action] = []
        now = found
        for line in by_risk:
            if now.value >= target:
                break
            position = _cross_position(account, line.position.instrument)
            assert position is not None  # the pool's own positions, still held (a hedge opens another)
            risk = abs(line.notional) * sigmas[state.instruments[position.instrument].underlying]
            chosen = self._best_size(view, account, position, now, risk, target, sigmas, correlation)
            if chosen is None:
                continue
            account, now, action = chosen
            actions.append(action)
        return actions

    def _best_size(
        self, view: AgentView, account: Account, position: Position, now: Buffer, risk: Decimal, target: Decimal,
        sigmas: Mapping[str, Decimal], correlation: Correlation | None,
    ) -> Trial | None:  # fmt: skip
        """The size of ``position`` to sell (module doc, 3): the account after, its buffer and the action."""
        whole = abs(position.size)
        step = size_quantum(position.size)
        with exact():
            wanted = (now.risk - now.health / target) / risk * whole if risk > 0 else whole
            size = min(whole, max(step, (wanted / step).to_integral_value(ROUND_DOWN) * step))
        best: Trial | None = None
        while True:
            signed = -size if position.size > 0 else size
            tried = self._traded(view, account, position.instrument, signed, sigmas, correlation, now)
            if tried is not None and tried[1].value > now.value:
                if best is None or tried[1].value > best[1].value:
                    best = tried
                if tried[1].value >= target:
                    return tried
            if size >= whole:
                return best
            size = min(whole, size * 2)

    def _traded(
        self, view: AgentView, account: Account, instrument: str, signed: Decimal, sigmas: Mapping[str, Decimal],
        correlation: Correlation | None, before: Buffer,
    ) -> Trial | None:  # fmt: skip
        """``signed`` contracts of ``instrument`` (negative sells) traded into the depth by ``account`` (a
        sale of its cross position, or a hedge opening one): the account after, its buffer and the action
        (None when the depth fills nothing)."""
        state = view.state
        spec = state.instruments[instrument]
        mark = state.market.mark(instrument)
        position = _cross_position(account, instrument)
        model = view.liquidity.get(instrument)
        size = abs(signed)
        with exact():
            units = size * spec.contract_size / mark if spec.inverse else size * spec.contract_size
        quote = (
            Quote(units, units, mark, mark, mark)
            if model is None
            else model.quote(Side.BUY if signed > 0 else Side.SELL, units, mark)
        )
        if quote.filled < units:
            step = size_quantum(signed if position is None else position.size)
            with exact():
                whole = quote.filled * mark / spec.contract_size if spec.inverse else quote.filled / spec.contract_size
                size = (whole / step).to_integral_value(ROUND_DOWN) * step
            if size <= 0:
                return None
            signed = size.copy_sign(signed)
        price = quote.average_price
        impact = ZERO if model is None else model.impacted_mark(quote) - mark
        outcome = apply_fill(spec, position, signed, price)
        entry = mark if position is None else position.entry_price
        with exact():
            balances = dict(account.balances)
            balances[spec.settle] = balances.get(spec.settle, Decimal(0)) + outcome.realized_pnl
            slippage = abs(
                unrealized_pnl(spec, -signed, entry, mark) - unrealized_pnl(spec, -signed, entry, price)
            ) * state.market.price(spec.settle)
        positions = tuple(p for p in account.positions if p is not position) + (
            () if outcome.position is None else (outcome.position,)
        )
        after = Account(account.id, balances, positions)
        buffer = self.buffer(view, after, sigmas, correlation)
        event = live.Trade(
            seq=0, time=view.time, id=f"{self.name}|{view.time.normalize():f}|{account.id}|{instrument}",
            buyer=account.id if signed > 0 else MARKET, seller=MARKET if signed > 0 else account.id,
            instrument=instrument, size=size, price=price, impact=impact,
        )  # fmt: skip
        kind = "hedge" if position is None else "buffer"
        note = f"{kind} {float(before.value):.3g} -> {float(buffer.value):.3g}"
        action = Action(self.name, event, note, account.id, instrument, signed, price, slippage, position is None)
        return after, buffer, action
