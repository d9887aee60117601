"""Shared by the agents' tests: a one-account book worked by hand.

Base USD. BTC-PERP linear, 1 contract = 1 BTC, settled in USDT, one tier: mmr 0.004, imr 0.008; BTC 20000,
mark 20000. Account ``a``: 1000 USDT, long 1 BTC-PERP from 20000: equity 1000, MM 0.004 x 20000 = 80,
health 920 (generic rulebook: liquidation threshold 1). A reaction time of a hundredth of a year with a
volatility floor of 0.5 gives s = 0.5 x sqrt(1/100) = 0.05: risk 20000 x 0.05 = 1000, buffer 0.92.
"""

from decimal import Decimal
from typing import Any

from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.margin.realized_volatility import SECONDS_PER_YEAR
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook

D = Decimal
REACTION_S = SECONDS_PER_YEAR / 100  # sqrt(T / year) = 0.1


def document(balance: Any = 1000, size: Any = 1, entry: Any = 20000, mark: Any = 20000) -> dict[str, Any]:
    return {
        "version": 1,
        "base": "USD",
        "assets": {"USDT": {"weight": 1}, "BTC": {"weight": "0.9"}},
        "instruments": {
            "BTC-PERP": {
                "kind": "perpetual",
                "underlying": "BTC",
                "settle": "USDT",
                "contract_size": 1,
                "tiers": [{"max_notional": None, "mmr": "0.004", "imr": "0.008"}],
            }
        },
        "prices": {"USDT": 1, "BTC": str(mark)},
        "marks": {"BTC-PERP": str(mark)},
        "accounts": [
            {
                "id": "a",
                "balances": {"USDT": str(balance)},
                "positions": [{"instrument": "BTC-PERP", "size": str(size), "entry_price": str(entry)}],
            }
        ],
    }


def loop_of(doc: dict[str, Any], liquidity: dict[str, LiquidityModel] | None = None) -> EngineLoop:
    generic = rulebook("generic")
    portfolio = portfolio_from_document(doc)
    return EngineLoop(
        LoopConfig(portfolio, generic.rules, generic.liquidation, oracle_config(doc), liquidity or {}, D(0))
    )


def hedged_document(balance: Any = 2000, correlation: Any = "0.9") -> dict[str, Any]:
    """``document(balance)`` with an ETH-PERP beside BTC-PERP (1 contract = 1 ETH, the same tier), ETH 1000 and
    the market's BTC/ETH ``correlation`` (None: not given)."""
    doc = document(balance)
    doc["instruments"]["ETH-PERP"] = {**doc["instruments"]["BTC-PERP"], "underlying": "ETH"}
    doc["assets"]["ETH"] = {"weight": "0.9"}
    doc["prices"]["ETH"] = "1000"
    doc["marks"]["ETH-PERP"] = "1000"
    if correlation is not None:
        doc["correlations"] = {"BTC": {"ETH": str(correlation)}}
    return doc
