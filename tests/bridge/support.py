"""Shared by the bridge's tests: the recorded-response fixtures (tests/bridge/fixtures/<venue>-<case>.json, globbed
so a new one is picked up), and a writer of Binance USDⓈ-M responses for a document as the importer writes it
(the reverse of the import, for the round-trip property)."""

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

from crossmargin.bridge.responses import Responses, read_responses
from crossmargin.model.document_text import parse_json

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_paths() -> list[Path]:
    """Every recorded-response fixture, sorted by name."""
    return sorted(FIXTURES.glob("*.json"))


def recording(name: str) -> dict[str, Any]:
    """The parsed fixture ``name`` (without ``.json``), numbers exact."""
    data: dict[str, Any] = parse_json((FIXTURES / f"{name}.json").read_text(encoding="utf-8"), name)
    return data


def responses(name: str) -> Responses:
    """The checked responses of the fixture ``name``."""
    return read_responses(recording(name))


def edited(name: str, *path: str | int, value: Any) -> dict[str, Any]:
    """The fixture ``name`` with the value at ``path`` replaced (``...`` as the value deletes the key)."""
    data = copy.deepcopy(recording(name))
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


SYMBOLS = {"BTC-PERP": ("BTC/USDT:USDT", "BTCUSDT", "BTC"), "ETH-PERP": ("ETH/USDT:USDT", "ETHUSDT", "ETH")}
"""The Binance USDⓈ-M markets the round trip uses: document name -> (ccxt symbol, venue id, base)."""


def binance_usdm_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Recorded Binance USDⓈ-M responses whose import is ``document`` (one USDT account, positions on the
    markets of :data:`SYMBOLS`, one-way mode): each figure the importer reads, written where Binance and ccxt
    put it, as the text Binance prints."""
    (account,) = document["accounts"]
    wallet = account["balances"]["USDT"]
    positions, risk, leverages, markets, tiers = [], [], {}, [], {}
    for position in account["positions"]:
        symbol, venue_id, base = SYMBOLS[position["instrument"]]
        reported = position["reported"]
        size = position["size"]
        isolated = position.get("isolated_margin")
        info = {
            "symbol": venue_id,
            "positionSide": "BOTH",
            "positionAmt": str(size),
            "entryPrice": str(position["entry_price"]),
            "markPrice": str(document["marks"][position["instrument"]]),
            "unRealizedProfit": _text(reported["unrealized_pnl"]),
            "liquidationPrice": _text(reported["liquidation_price"]),
            "isolatedWallet": str(isolated if isolated is not None else 0),
            "marginAsset": "USDT",
            "positionInitialMargin": _text(reported["initial_margin"]),
            "maintMargin": _text(reported["maintenance_margin"]),
        }
        risk.append(info)
        positions.append(
            {
                "info": info,
                "symbol": symbol,
                "contracts": str(abs(size)),
                "side": "long" if size > 0 else "short",
                "entryPrice": str(position["entry_price"]),
                "marginMode": "isolated" if isolated is not None else "cross",
            }
        )
        leverage = reported["leverage"]
        leverages[symbol] = {"symbol": symbol, "longLeverage": str(leverage), "shortLeverage": str(leverage)}
        markets.append(
            {
                "symbol": symbol,
                "base": base,
                "quote": "USDT",
                "settle": "USDT",
                "swap": True,
                "linear": True,
                "inverse": False,
                "contractSize": "1",
                "precision": {"price": str(reported["price_tick"])},
            }
        )
        brackets = document["instruments"][position["instrument"]]["tiers"]
        tiers[symbol] = [
            {
                "info": {
                    "bracket": k + 1,
                    "notionalCap": str(b["max_notional"]),
                    "maintMarginRatio": str(b["mmr"]),
                    "initialLeverage": str(b["max_leverage"]),
                    "cum": str(b["maint_amount"]),
                }
            }
            for k, b in enumerate(brackets)
        ]
    figures = account["reported"]
    asset = {
        "asset": "USDT",
        "crossWalletBalance": str(wallet),
        "marginBalance": _text(figures["equity"]),
        "initialMargin": _text(figures["initial_margin"]),
        "maintMargin": _text(figures["maintenance_margin"]),
        "availableBalance": _text(figures["free_collateral"]),
        "openOrderInitialMargin": _text(figures.get("open_orders_initial_margin")),
    }
    return {
        "venue": "binanceusdm",
        "fetch_positions": positions,
        "fetch_balance": {"info": {"assets": [asset], "positions": []}},
        "fetch_markets": markets,
        "fetch_leverage_tiers": tiers,
        "fetch_leverages": leverages,
    }


def _text(value: Decimal | None) -> str:
    """A figure as Binance prints it; an absent one as the empty string ccxt passes through."""
    return "" if value is None else str(value)
