"""Hyperliquid perpetuals (``hyperliquid``): one account, USDC, figures in USDC (the document's base).

What the import reads (ccxt reads the ``clearinghouseState`` of the wallet address):

- positions: ``fetch_positions``; contracts and side, and from ``info.position`` the mark (``positionValue /
  |szi|``, exact), liquidation price (``liquidationPx``), margin used (a cross position's initial margin at
  the user's leverage), uPnL and leverage (``leverage.value``). An isolated position's margin is
  ``leverage.rawUsd + szi x entryPx`` (its cash, the notional at entry added back).
- the account (``fetch_balance``'s ``info``, the same ``clearinghouseState``): the USDC balance of the cross
  pool as ``crossMarginSummary.totalRawUsd`` plus each cross position's ``szi x entryPx`` (so that balance +
  uPnL is the venue's account value); the venue's figures for the cross pool: ``accountValue``,
  ``totalMarginUsed``, ``crossMaintenanceMarginUsed`` and ``withdrawable``. Hyperliquid returns no margin
  ratio.
- tiers: the market's margin table (``marginTableId`` in ``fetch_markets`` ``info``) from ``raw``
  ``POST /info {type: metaAndAssetCtxs}`` (``meta.marginTables``: each tier's lower bound in USDC and max
  leverage), maintenance half the initial rate and the deductions continuous across tiers. Without that
  payload (ccxt's unified responses do not carry the tables), one bracket at the market's ``maxLeverage``:
  a position beyond the first tier would then be margined too low.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.bridge.family import AccountFacts, Conventions, Family, Figures, PositionFacts, ticker_price
from crossmargin.bridge.responses import Responses, listing, mapping_at, number, positive_number, required_number
from crossmargin.model import InputError

META_ENDPOINT = "POST /info {type: metaAndAssetCtxs}"
"""The raw payload holding the margin tables (``[meta, asset contexts]``)."""
MAINTENANCE_FRACTION = Decimal("0.5")
"""Hyperliquid's maintenance margin is half the initial margin at the market's maximum leverage."""

HYPERLIQUID_CONVENTIONS = Conventions(
    money=Decimal("1E-6"),
    rules={
        "initial_margin": ("user_leverage",),
        "account_initial_margin": ("venue_positions_initial_margin", "user_leverage_positions"),
        "account_free_collateral": ("transfer_floor",),
    },
)
"""Hyperliquid floors margins to 1e-6 USDC; initial margin at the user's leverage; ``withdrawable`` keeps 10 %
of open notional back."""


class Hyperliquid(Family):
    """Hyperliquid perpetuals (see the module doc)."""

    venue = "hyperliquid"
    rulebook = "hyperliquid"
    base = "USDC"
    conventions = HYPERLIQUID_CONVENTIONS

    def _entry(self, position: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], str]:
        info = mapping_at(position.get("info"), f"{where}.info")
        return mapping_at(info.get("position"), f"{where}.info.position"), f"{where}.info.position"

    def mark_of_position(self, position: Mapping[str, Any], where: str) -> Decimal | None:
        entry, entry_where = self._entry(position, where)
        value = number(entry, "positionValue", entry_where)
        size = number(entry, "szi", entry_where)
        if value is None or not size:
            return number(position, "markPrice", where)
        return value / abs(size)

    def isolated_margin(self, responses: Responses, position: Mapping[str, Any], where: str) -> Decimal:
        entry, entry_where = self._entry(position, where)
        leverage = mapping_at(entry.get("leverage"), f"{entry_where}.leverage")
        raw_usd = required_number(leverage, "rawUsd", f"{entry_where}.leverage")
        return raw_usd + required_number(entry, "szi", entry_where) * positive_number(entry, "entryPx", entry_where)

    def position_figures(self, responses: Responses, position: Mapping[str, Any], where: str) -> Figures:
        figures = super().position_figures(responses, position, where)
        entry, entry_where = self._entry(position, where)
        leverage = mapping_at(entry.get("leverage") or {}, f"{entry_where}.leverage")
        cross = not self.isolated(responses, position, where)
        figures.update(
            liquidation_price=number(entry, "liquidationPx", entry_where),
            initial_margin=number(entry, "marginUsed", entry_where) if cross else None,
            maintenance_margin=None,
            unrealized_pnl=number(entry, "unrealizedPnl", entry_where),
            leverage=number(leverage, "value", f"{entry_where}.leverage") or figures["leverage"],
        )
        return figures

    def state(self, responses: Responses) -> tuple[Mapping[str, Any], str]:
        """The ``clearinghouseState`` payload (``fetch_balance``'s ``info``) and its path."""
        state = mapping_at(responses.balance.get("info"), "fetch_balance.info")
        if "crossMarginSummary" not in state:
            raise InputError(
                "fetch_balance.info.crossMarginSummary",
                "required: the perpetuals clearinghouseState (a unified or spot balance is not imported)",
            )
        return state, "fetch_balance.info"

    def accounts(self, responses: Responses, positions: Sequence[PositionFacts]) -> list[AccountFacts]:
        state, where = self.state(responses)
        summary = mapping_at(state.get("crossMarginSummary"), f"{where}.crossMarginSummary")
        summary_where = f"{where}.crossMarginSummary"
        cost = sum((p.size * p.entry_price for p in positions if p.isolated_margin is None), Decimal(0))
        balance = required_number(summary, "totalRawUsd", summary_where) + cost
        return [
            AccountFacts(
                key="",
                balances={"USDC": balance},
                currency="USDC",
                scope="cross",
                reported={
                    "equity": number(summary, "accountValue", summary_where),
                    "initial_margin": number(summary, "totalMarginUsed", summary_where),
                    "maintenance_margin": number(state, "crossMaintenanceMarginUsed", where),
                    "margin_ratio": None,
                    "free_collateral": number(state, "withdrawable", where),
                },
            )
        ]

    def tiers(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> list[dict[str, Any]]:
        where = f"fetch_markets[{symbol}].info"
        info = mapping_at(market.get("info"), where)
        table = number(info, "marginTableId", where)
        rows = self.margin_tables(responses).get(table) if table is not None else None
        if not rows:
            return [{"max_notional": None, "max_leverage": positive_number(info, "maxLeverage", where)}]
        tiers: list[dict[str, Any]] = []
        for k, (_, leverage) in enumerate(rows):
            upper = rows[k + 1][0] if k + 1 < len(rows) else None
            tiers.append({"max_notional": upper, "max_leverage": leverage})
        return tiers

    def margin_tables(self, responses: Responses) -> dict[Decimal, list[tuple[Decimal, Decimal]]]:
        """Margin table id -> its tiers as (lower bound in USDC, max leverage), from ``raw``
        ``POST /info {type: metaAndAssetCtxs}`` (``meta.marginTables``) when recorded."""
        payload = responses.raw.get(META_ENDPOINT)
        if not isinstance(payload, list) or not payload:
            return {}
        where = f"raw.{META_ENDPOINT}[0]"
        meta = mapping_at(payload[0], where)
        tables = {}
        for j, entry in enumerate(listing(meta, "marginTables", where)):
            entry_where = f"{where}.marginTables[{j}]"
            if not isinstance(entry, list) or len(entry) != 2:
                raise InputError(entry_where, "must be a pair [id, table]")
            table = mapping_at(entry[1], f"{entry_where}[1]")
            rows = []
            for k, tier in enumerate(listing(table, "marginTiers", f"{entry_where}[1]")):
                tier_where = f"{entry_where}[1].marginTiers[{k}]"
                tier = mapping_at(tier, tier_where)
                rows.append(
                    (required_number(tier, "lowerBound", tier_where), positive_number(tier, "maxLeverage", tier_where))
                )
            tables[required_number({"id": entry[0]}, "id", f"{entry_where}[0]")] = rows
        return tables

    def instrument_terms(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> dict[str, Any]:
        return {"maintenance_fraction": MAINTENANCE_FRACTION}

    def mark(self, responses: Responses, symbol: str) -> Decimal | None:
        info = mapping_at(responses.markets[symbol].get("info") or {}, f"fetch_markets[{symbol}].info")
        return ticker_price(responses, [symbol], ("markPrice",)) or number(
            info, "markPx", f"fetch_markets[{symbol}].info"
        )

    def prices(self, responses: Responses, assets: Sequence[str]) -> dict[str, Decimal]:
        others = [a for a in assets if a != self.base]
        if others:
            raise InputError("fetch_balance", f"{others[0]} held: Hyperliquid's perpetuals are margined in USDC only")
        return {}


HYPERLIQUID = Hyperliquid()
"""The Hyperliquid family."""
