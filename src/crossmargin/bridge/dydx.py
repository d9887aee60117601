"""dYdX v4 (``dydx``): one subaccount, USDC, figures in USDC (the document's base).

What the import reads (ccxt reads the indexer's subaccount of the wallet address):

- positions: ``fetch_positions``; contracts and side, entry and uPnL (``info.unrealizedPnl``). The indexer
  reports no liquidation price, initial or maintenance margin per position: those are flagged missing and
  filled with ours. Marks are the markets' oracle prices (``fetch_markets`` ``info.oraclePrice``), at which
  dYdX margins.
- the account (``fetch_balance``'s ``info``, the subaccount): the USDC asset position (signed by its side)
  plus each position's ``size x entryPrice`` as the balance, so that balance + uPnL is dYdX's net collateral
  (USDC + the positions' value at the oracle price); ``equity`` and ``freeCollateral`` as the venue's figures.
- tiers: the market's liquidity tier from ``fetch_markets`` ``info``: one bracket at
  ``initialMarginFraction``, maintenance its ``maintenanceMarginFraction`` share, the open-interest caps
  (``openInterestLowerCap``/``UpperCap``, when the upper is not 0) with the open interest
  (``openInterest x oraclePrice``), requirements in quantums of 1e-6 USDC and the scaled rate in whole ppm.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.bridge.family import AccountFacts, Conventions, Family, PositionFacts
from crossmargin.bridge.responses import Responses, mapping_at, number, positive_number, required_number, text
from crossmargin.model import InputError

QUANTUM = Decimal("0.000001")
"""dYdX computes margin in integer quantums of 1e-6 USDC and scales initial rates in whole ppm."""

DYDX_CONVENTIONS = Conventions(money=QUANTUM, rules={})
"""dYdX's indexer prints USDC with up to 6 decimals of substance; its figures are the protocol's own rule."""


class Dydx(Family):
    """dYdX v4 (see the module doc)."""

    venue = "dydx"
    rulebook = "dydx-v4"
    base = "USDC"
    conventions = DYDX_CONVENTIONS

    def accounts(self, responses: Responses, positions: Sequence[PositionFacts]) -> list[AccountFacts]:
        where = "fetch_balance.info"
        subaccount = mapping_at(responses.balance.get("info"), where)
        assets = mapping_at(subaccount.get("assetPositions") or {}, f"{where}.assetPositions")
        usdc = Decimal(0)
        if "USDC" in assets:
            entry_where = f"{where}.assetPositions.USDC"
            entry = mapping_at(assets["USDC"], entry_where)
            size = abs(required_number(entry, "size", entry_where))
            usdc = -size if text(entry, "side", entry_where) == "SHORT" else size
        cost = sum((p.size * p.entry_price for p in positions), Decimal(0))
        return [
            AccountFacts(
                key="",
                balances={"USDC": usdc + cost},
                currency="USDC",
                scope="total",
                reported={
                    "equity": number(subaccount, "equity", where),
                    "initial_margin": None,
                    "maintenance_margin": None,
                    "margin_ratio": None,
                    "free_collateral": number(subaccount, "freeCollateral", where),
                },
            )
        ]

    def _info(self, responses: Responses, symbol: str) -> tuple[Mapping[str, Any], str]:
        where = f"fetch_markets[{symbol}].info"
        return mapping_at(responses.markets[symbol].get("info"), where), where

    def tiers(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> list[dict[str, Any]]:
        info, where = self._info(responses, symbol)
        return [{"max_notional": None, "imr": positive_number(info, "initialMarginFraction", where)}]

    def instrument_terms(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> dict[str, Any]:
        info, where = self._info(responses, symbol)
        initial = positive_number(info, "initialMarginFraction", where)
        terms: dict[str, Any] = {
            "maintenance_fraction": required_number(info, "maintenanceMarginFraction", where) / initial,
            "margin_quantum": QUANTUM,
            "rate_quantum": QUANTUM,
        }
        upper = number(info, "openInterestUpperCap", where)
        if upper:
            terms["open_interest_caps"] = [required_number(info, "openInterestLowerCap", where), upper]
        return terms

    def open_interest(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> Decimal | None:
        info, where = self._info(responses, symbol)
        if not number(info, "openInterestUpperCap", where):
            return None
        return required_number(info, "openInterest", where) * positive_number(info, "oraclePrice", where)

    def mark(self, responses: Responses, symbol: str) -> Decimal | None:
        info, where = self._info(responses, symbol)
        return number(info, "oraclePrice", where)

    def prices(self, responses: Responses, assets: Sequence[str]) -> dict[str, Decimal]:
        others = [a for a in assets if a != self.base]
        if others:
            raise InputError("fetch_balance", f"{others[0]} held: dYdX's perpetuals are margined in USDC only")
        return {}


DYDX = Dydx()
"""The dYdX v4 family."""
