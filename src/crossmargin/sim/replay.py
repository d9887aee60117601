"""Replaying a price feed through the engine loop (:mod:`crossmargin.live.loop`): each source update is one
inbound ``prices`` event; the loop prices the book, screens, confirms and liquidates, and its outbound events
are rendered as lines.

Lines (dicts with ``t`` and ``event``): ``price_status`` per symbol an update touched; ``liquidatable``,
``liquidation_suppressed``, ``frozen`` and ``unfrozen`` when an account's standing changes; ``figures`` of
every account whose money or positions changed; the liquidation engine's lines (``liquidation`` per fill,
``adl`` per deleveraged account, ``insurance``, ``socialized``, ``bad_debt``, ``collateral_sale``);
``mark_moved`` when fills' permanent impact moves a mark (it stays until the feed moves that mark again);
and ``end`` with every price, every account's figures and the money.
"""

import msgspec

from crossmargin.clearing.state import BAD_DEBT, FEE_POOL, INSURANCE_FUND
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.margin.account import cross_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import InputError
from crossmargin.oracle.feed import SourceUpdate

Line = dict[str, object]


def line_of(event: live.OutboundEvent) -> Line:
    """An outbound event as a replay line: ``t`` and ``event`` (an account status's ``state``) first, then
    its fields (sequence number and cause left out: a replay's cause is the feed line before)."""
    fields = msgspec.structs.asdict(event)
    kind = fields.pop("state") if isinstance(event, live.AccountStatus) else type(event).__struct_config__.tag
    for key in ("seq", "time", "cause"):
        fields.pop(key)
    if isinstance(event, live.Deleveraged):
        fields["from"] = fields.pop("from_account")
    if isinstance(event, live.PriceStatus):
        fields["sources"] = list(event.sources)
    return {"t": event.time, "event": kind, **fields}


class Replay:
    """A portfolio under the engine loop, fed one source update at a time (see module doc)."""

    def __init__(self, config: LoopConfig) -> None:
        self.loop = EngineLoop(config)

    def check(self, update: SourceUpdate) -> None:
        """Refuse an update for a symbol the document does not price."""
        oracle = self.loop.oracle
        if update.symbol not in oracle.document_prices and update.symbol not in oracle.underlying:
            raise InputError("symbol", f"{update.symbol!r} is neither a priced asset nor a marked instrument")

    def feed(self, update: SourceUpdate) -> list[Line]:
        """Apply one source update; the lines it causes, in order."""
        quote = live.Quote(source=update.source, symbol=update.symbol, price=update.price, confidence=update.confidence)
        seq = self.loop.seq + 1
        return self.apply(live.Prices(seq=seq, time=update.t, id=f"feed-{seq}", quotes=(quote,)))

    def apply(self, event: live.InboundEvent) -> list[Line]:
        """Apply one inbound event (a service log's record, say); the lines it causes, in order."""
        return [line_of(e) for e in self.loop.handle(event)]

    def end(self) -> Line:
        """Every price with its status; every account's figures, decisions, balances and open positions; the
        insurance fund, fee pool and bad debt (base currency); the events applied and the engine's digest (the
        service's ``/v1/health`` gives the same after the same events)."""
        loop = self.loop
        state, oracle, policy = loop.state, loop.oracle, loop.config.oracle.policy
        quotes = [oracle.price(s) for s in (*oracle.document_prices, *oracle.underlying)]
        accounts = []
        for account_id in state.account_ids:
            account = state.account(account_id)
            portfolio = state.portfolio_of((account,))
            cross = evaluate_pool(cross_pool(account), portfolio, loop.config.rules)
            below = state.liquidatable(account_id)
            statuses = [loop.statuses[s] for s in dict.fromkeys(loop.symbols_of(account_id))]
            accounts.append(
                {
                    "id": account_id, "equity": cross.equity, "maintenance_margin": cross.maintenance_margin,
                    "liquidatable": below and all(s in policy.liquidate_on for s in statuses),
                    "below_maintenance": below, "frozen": any(s in policy.freeze_on for s in statuses),
                    "balances": dict(account.balances),
                    "positions": [
                        {
                            "instrument": p.instrument, "size": p.size, "entry_price": p.entry_price,
                            "isolated_margin": p.isolated_margin,
                        }
                        for p in account.positions
                    ],
                }
            )  # fmt: skip
        return {
            "t": oracle.clock,
            "event": "end",
            "prices": {q.symbol: {"price": q.price, "status": str(q.status)} for q in quotes},
            "accounts": accounts,
            "insurance_fund": state.value(INSURANCE_FUND),
            "fee_pool": state.value(FEE_POOL),
            "bad_debt": -state.value(BAD_DEBT),
            "events": loop.seq,
            "digest": loop.digest(),
        }
