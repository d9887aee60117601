"""Who is auto-deleveraged first, and who shares a socialized loss.

Candidates are the user accounts (not the market's, not one being liquidated) holding the side opposite
to the bankrupt position in its instrument. Rankings (``LiquidationTerms.adl_ranking``), highest first,
ties broken by account id:

- ``profit_x_leverage`` (OKX, Bybit, the generic rulebook) and ``leverage_pnl`` (Binance), the same
  formula: PnL ratio x effective leverage for a profitable position, PnL ratio / effective leverage for a
  losing one; PnL ratio = unrealized PnL / entry notional, effective leverage = position notional at the
  mark / the net value of the position's pool (a pool with no positive net value is ranked last).
- ``mark_over_entry_x_notional_over_account_value`` (Hyperliquid): (mark / entry for a long, entry /
  mark for a short) x notional / net value.
- ``pro_rata_base_size`` (Drift): the largest position first.
- ``random`` (dYdX): a pseudo-random order fixed by the state (hash of the number of events applied
  and the account id), so a replay ranks the same way.

A socialized loss is shared among the same candidates in proportion to their positive unrealized PnL, or
to their position size when none is in profit; under ``pro_rata_base_size`` (Drift) among every
position in the market, long and short, in proportion to its size.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from crossmargin.clearing.events import MARKET
from crossmargin.clearing.ledger import MONEY_QUANTUM
from crossmargin.clearing.state import ClearingState, Leg, net_value
from crossmargin.margin.positions import unrealized_pnl
from crossmargin.model import InputError
from crossmargin.model.numbers import ZERO, exact


@dataclass(frozen=True)
class Candidate:
    """An opposite position that may be deleveraged: ``size`` signed contracts, ``pnl`` in base currency."""

    account: str
    long: bool
    size: Decimal
    entry_price: Decimal
    pnl: Decimal
    notional: Decimal
    entry_notional: Decimal
    net_value: Decimal


def candidates(state: ClearingState, instrument: str, bankrupt_long: bool, bankrupt: str) -> list[Candidate]:
    """User accounts holding the side of ``instrument`` opposite the bankrupt leg (base-currency figures)."""
    spec = state.instruments[instrument]
    mark = state.market.mark(instrument)
    settle_price = state.market.price(spec.settle)
    found = []
    with exact():
        for account_id, legs in state.legs.items():
            if account_id in (MARKET, bankrupt) or account_id in state.in_liquidation:
                continue
            leg: Leg | None = legs.get((instrument, not bankrupt_long))
            if leg is None:
                continue
            pnl = unrealized_pnl(spec, leg.size, leg.entry_price, mark) * settle_price
            units = abs(leg.size) * spec.contract_size
            notional = (units / mark if spec.inverse else units * mark) * settle_price
            entry = (units / leg.entry_price if spec.inverse else units * leg.entry_price) * settle_price
            found.append(
                Candidate(
                    account_id, leg.size > 0, leg.size, leg.entry_price, pnl, notional, entry,
                    net_value(state, account_id, state.pool_of(account_id, instrument, leg.size > 0)),
                )
            )  # fmt: skip
    return found


def _profit_x_leverage(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    if c.net_value <= 0:
        return Decimal("-1E30")
    ratio = c.pnl / c.entry_notional
    leverage = c.notional / c.net_value
    return ratio * leverage if ratio >= 0 else ratio / leverage


def _hyperliquid(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    if c.net_value <= 0:
        return Decimal("-1E30")
    move = mark / c.entry_price if c.long else c.entry_price / mark
    return move * c.notional / c.net_value


def _size(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    return abs(c.size)


def _random(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    digest = hashlib.sha256(f"{len(state.log)}|{c.account}".encode()).hexdigest()
    return Decimal(int(digest[:16], 16))


RANKINGS: dict[str, Callable[[Candidate, ClearingState, Decimal], Decimal]] = {
    "profit_x_leverage": _profit_x_leverage,
    "leverage_pnl": _profit_x_leverage,
    "mark_over_entry_x_notional_over_account_value": _hyperliquid,
    "pro_rata_base_size": _size,
    "random": _random,
}


def check_ranking(name: str) -> None:
    """Refuse a ranking this module does not define."""
    if name not in RANKINGS:
        raise InputError("liquidation.adl_ranking", f"unknown ranking {name!r} (known: {', '.join(sorted(RANKINGS))})")


def adl_order(
    state: ClearingState, instrument: str, bankrupt_long: bool, bankrupt: str, ranking: str
) -> list[Candidate]:
    """The candidates in deleveraging order (highest score first, ties by account id)."""
    check_ranking(ranking)
    score = RANKINGS[ranking]
    mark = state.market.mark(instrument)
    found = candidates(state, instrument, bankrupt_long, bankrupt)
    with exact():
        keyed = [(score(c, state, mark), c.account, c) for c in found]
    keyed.sort(key=lambda item: (-item[0], item[1]))
    return [c for _, _, c in keyed]


def loss_shares(found: list[Candidate], amount: Decimal, by_size: bool = False) -> dict[str, Decimal]:
    """``amount`` split over ``found`` by positive PnL (by size with ``by_size``, or when none is in profit),
    each share rounded down to the ledger's quantum and the last taking the rest, so the shares sum to
    ``amount`` exactly. An account listed twice (two legs) pays for both."""
    if not found or amount <= 0:
        return {}
    with exact():
        weights: dict[str, Decimal] = {}
        for c in found:
            weights[c.account] = weights.get(c.account, ZERO) + max(c.pnl, ZERO)
        if by_size or not any(weights.values()):
            weights = {}
            for c in found:
                weights[c.account] = weights.get(c.account, ZERO) + abs(c.size)
        total = sum(weights.values(), ZERO)
        ordered = sorted(a for a, w in weights.items() if w > 0)
        shares = {a: (amount * weights[a] / total).quantize(MONEY_QUANTUM, ROUND_DOWN) for a in ordered[:-1]}
        shares[ordered[-1]] = amount - sum(shares.values(), ZERO)
    return {a: s for a, s in shares.items() if s > 0}
