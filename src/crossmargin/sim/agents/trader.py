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

Each reduction is a :class:`~crossmargin.live.events.Trade` between the account and the market's account
``@market`` at the fill price: the ledger books it as any trade. Its slippage against the mark (base
currency) is reported, and the fill's permanent impact (the depth's impacted mark less the mark) rides on the
event (``Trade.impact``): the loop moves the mark by it as by a liquidation's fills, so agents' sales push
other accounts as liquidations do. The buffers an account's sales are sized on are at the marks the step
found (its own sales' impact on its remaining positions is not foreseen). What it leaves out: a delta hedge
in a correlated instrument (it only reduces).
"""

import hashlib
from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal

import numpy as np

from crossmargin.clearing.events import MARKET
from crossmargin.engine.book import RiskBook
from crossmargin.liquidation.engine import size_quantum
from crossmargin.liquidation.liquidity import Quote, Side
from crossmargin.live import events as live
from crossmargin.margin.account import cross_pool
from crossmargin.margin.fills import apply_fill
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.positions import unrealized_pnl
from crossmargin.model import Account, Position
from crossmargin.model.numbers import ZERO, exact
from crossmargin.sim.agents.buffer import Buffer, cross_pools, exact_buffer, move_sigmas, screened_buffers
from crossmargin.sim.agents.config import TraderAgentConfig
from crossmargin.sim.agents.protocol import Action, AgentView

_SCREEN_MARGIN = 1.01  # the float screen looks this much above the threshold


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

    def buffer(self, view: AgentView, account: Account, sigmas: Mapping[str, Decimal]) -> Buffer:
        """The exact buffer of ``account`` (as it is, or as it would be) at the state's market."""
        state = view.state
        figures = evaluate_pool(cross_pool(account), state.portfolio_of([account]), state.rules)
        return exact_buffer(figures, state.rules, state.instruments, sigmas)

    def act(self, view: AgentView) -> list[Action]:
        """The reductions due now (module doc)."""
        config = self.config
        sigmas = self.sigmas(view)
        floats = screened_buffers(view.book, self.accounts, sigmas, self._cross_pools(view.book))
        low = {self.accounts[i] for i in np.flatnonzero(floats < config.threshold * _SCREEN_MARGIN)}
        threshold = Decimal(repr(config.threshold))
        actions: list[Action] = []
        for account_id in sorted(low | set(self.alarms)):
            found = self.buffer(view, view.state.account(account_id), sigmas)
            if found.health <= 0 or found.value >= threshold:
                self.alarms.pop(account_id, None)
                continue
            since = self.alarms.setdefault(account_id, view.time)
            if view.time - since < Decimal(repr(config.reaction_s)):
                continue
            del self.alarms[account_id]
            actions += self.reduce(view, account_id, found, sigmas)
        return actions

    def reduce(self, view: AgentView, account_id: str, found: Buffer, sigmas: Mapping[str, Decimal]) -> list[Action]:
        """The trades that bring ``account_id`` from buffer ``found`` back to the target (module doc, 3)."""
        state = view.state
        target = Decimal(repr(self.config.target))
        account = state.account(account_id)
        figures = evaluate_pool(cross_pool(account), state.portfolio_of([account]), state.rules)
        by_risk = sorted(
            figures.positions,
            key=lambda f: (-abs(f.notional) * sigmas[state.instruments[f.position.instrument].underlying], f.position),
        )
        actions: list[Action] = []
        now = found
        for line in by_risk:
            if now.value >= target:
                break
            position = next(p for p in account.positions if p.instrument == line.position.instrument and not p.isolated)
            risk = abs(line.notional) * sigmas[state.instruments[position.instrument].underlying]
            chosen = self._best_size(view, account, position, now, risk, target, sigmas)
            if chosen is None:
                continue
            account, now, action = chosen
            actions.append(action)
        return actions

    def _best_size(
        self, view: AgentView, account: Account, position: Position, now: Buffer, risk: Decimal, target: Decimal,
        sigmas: Mapping[str, Decimal],
    ) -> tuple[Account, Buffer, Action] | None:  # fmt: skip
        """The size of ``position`` to sell (module doc, 3): the account after, its buffer and the action."""
        whole = abs(position.size)
        step = size_quantum(position.size)
        with exact():
            wanted = (now.risk - now.health / target) / risk * whole if risk > 0 else whole
            size = min(whole, max(step, (wanted / step).to_integral_value(ROUND_DOWN) * step))
        best: tuple[Account, Buffer, Action] | None = None
        while True:
            tried = self._sold(view, account, position, size, sigmas, now)
            if tried is not None and tried[1].value > now.value:
                if best is None or tried[1].value > best[1].value:
                    best = tried
                if tried[1].value >= target:
                    return tried
            if size >= whole:
                return best
            size = min(whole, size * 2)

    def _sold(
        self, view: AgentView, account: Account, position: Position, size: Decimal, sigmas: Mapping[str, Decimal],
        before: Buffer,
    ) -> tuple[Account, Buffer, Action] | None:  # fmt: skip
        """``size`` contracts of ``position`` sold into the depth: the account after, its buffer and the action
        (None when the depth fills nothing)."""
        state = view.state
        spec = state.instruments[position.instrument]
        mark = state.market.mark(position.instrument)
        long = position.size > 0
        model = view.liquidity.get(position.instrument)
        with exact():
            units = size * spec.contract_size / mark if spec.inverse else size * spec.contract_size
        quote = (
            Quote(units, units, mark, mark, mark)
            if model is None
            else model.quote(Side.SELL if long else Side.BUY, units, mark)
        )
        if quote.filled < units:
            step = size_quantum(position.size)
            with exact():
                whole = quote.filled * mark / spec.contract_size if spec.inverse else quote.filled / spec.contract_size
                size = (whole / step).to_integral_value(ROUND_DOWN) * step
            if size <= 0:
                return None
        price = quote.average_price
        impact = ZERO if model is None else model.impacted_mark(quote) - mark
        signed = -size if long else size
        outcome = apply_fill(spec, position, signed, price)
        with exact():
            balances = dict(account.balances)
            balances[spec.settle] = balances.get(spec.settle, Decimal(0)) + outcome.realized_pnl
            slippage = abs(
                unrealized_pnl(spec, -signed, position.entry_price, mark)
                - unrealized_pnl(spec, -signed, position.entry_price, price)
            ) * state.market.price(spec.settle)
        positions = tuple(p for p in account.positions if p is not position) + (
            () if outcome.position is None else (outcome.position,)
        )
        after = Account(account.id, balances, positions)
        buffer = self.buffer(view, after, sigmas)
        event = live.Trade(
            seq=0, time=view.time, id=f"{self.name}|{view.time.normalize():f}|{account.id}|{position.instrument}",
            buyer=MARKET if long else account.id, seller=account.id if long else MARKET,
            instrument=position.instrument, size=size, price=price, impact=impact,
        )  # fmt: skip
        note = f"buffer {float(before.value):.3g} -> {float(buffer.value):.3g}"
        action = Action(self.name, event, note, account.id, position.instrument, signed, price, slippage)
        return after, buffer, action
