"""Shared by the engine loop's path and snapshot tests (test_paths.py, test_snapshot.py): a book that
liquidates and cascades, its loop configuration, and a generator of inbound event logs.

The book is the loop tests' (tests/oracle/conftest.py's :data:`DOCUMENT`) with more accounts, a maintenance
rate of 5 % (so that an account is liquidated well before it is bankrupt) and a linear-impact market on
BTC-PERP (depth 2 BTC, half of each fill's move permanent), so that liquidations move the mark and cascade.
"""

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from crossmargin.liquidation.liquidity import LinearImpact
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook
from tests.oracle.conftest import DOCUMENT

D = Decimal
ACCOUNTS = ["long", "usdc", "short", "rich"]
SOURCE: dict[str, Any] = DOCUMENT
BOOK = {
    **SOURCE,
    "instruments": {
        "BTC-PERP": {
            **SOURCE["instruments"]["BTC-PERP"],
            "tiers": [{"max_notional": None, "mmr": "0.05", "imr": "0.1"}],
        }
    },
    "accounts": [
        *SOURCE["accounts"],
        {
            "id": "short",
            "balances": {"USDT": 600},
            "positions": [{"instrument": "BTC-PERP", "size": "-0.8", "entry_price": 20000}],
        },
        {"id": "rich", "balances": {"USDT": 50000, "USDC": 1000}, "positions": []},
    ],
}


def config() -> LoopConfig:
    generic = rulebook("generic")
    liquidity = {"BTC-PERP": LinearImpact(D(2), D("0.5"))}
    return LoopConfig(
        portfolio_from_document(BOOK), generic.rules, generic.liquidation, oracle_config(BOOK), liquidity, D(300)
    )


amounts = st.decimals(min_value=D("0.01"), max_value=D(3000), places=2)
steps = st.decimals(min_value=0, max_value=90, places=0)


@st.composite
def inbound(draw: st.DrawFn, count: int) -> list[live.InboundEvent]:
    """``count`` events at non-decreasing times: BTC and USDC quotes from up to three sources (BTC within
    +-30 % of 20000, USDC 0.9 to 1.01), clock ticks, deposits, withdrawals (some too large or for an unknown
    account), trades between accounts, funding and depth changes."""
    events: list[live.InboundEvent] = []
    t = D(0)
    for seq in range(1, count + 1):
        t += draw(steps)
        stamp: dict[str, Any] = {"seq": seq, "time": t, "id": f"in-{seq}"}
        kind = draw(st.sampled_from(["btc", "btc", "btc", "usdc", "clock", "deposit", "withdraw", "trade", "funding"]))
        if kind in ("btc", "usdc"):
            symbol, low, high = ("BTC", 14000, 26000) if kind == "btc" else ("USDC", D("0.9"), D("1.01"))
            sources = draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True))
            price = draw(st.decimals(min_value=low, max_value=high, places=2))
            quotes = tuple(live.Quote(source=s, symbol=symbol, price=price) for s in sorted(sources))
            events.append(live.Prices(quotes=quotes, **stamp))
        elif kind == "clock":
            events.append(live.Clock(**stamp))
        elif kind in ("deposit", "withdraw"):
            account = draw(st.sampled_from([*ACCOUNTS, "nobody"]))
            asset = draw(st.sampled_from(["USDT", "USDC"]))
            event = live.Deposit if kind == "deposit" else live.Withdrawal
            events.append(event(account=account, asset=asset, amount=draw(amounts), **stamp))
        elif kind == "trade":
            buyer, seller = draw(st.permutations(ACCOUNTS))[:2]
            size = draw(st.decimals(min_value=D("0.01"), max_value=D(2), places=2))
            price = draw(st.decimals(min_value=15000, max_value=25000, places=0))
            trade = live.Trade(buyer=buyer, seller=seller, instrument="BTC-PERP", size=size, price=price, **stamp)
            events.append(trade)
        else:
            rate = draw(st.decimals(-D("0.01"), D("0.01"), places=4))
            events.append(live.Funding(instrument="BTC-PERP", rate=rate, **stamp))
    return events


def run_all(loop: EngineLoop, events: list[live.InboundEvent]) -> list[list[live.OutboundEvent]]:
    return [loop.handle(event) for event in events]
