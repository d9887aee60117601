"""OKX unified account (``okx``): single-currency margin (one account per margin currency, each in its own
currency) or multi-currency margin (one account, in USD). The document's base is USD.

What the import reads:

- the account mode: ``acctLv`` of ``GET /api/v5/account/config`` (``raw``, or ``fetch_position_mode``'s
  ``info``): 2 single-currency, 3 multi-currency; simple (1) and portfolio margin (4) are refused.
- positions: ``fetch_positions``; contracts and side, and from ``info`` the mark (``markPx``), liquidation price
  (``liqPx``, OKX's estimate), cross initial margin (``imr``), maintenance margin (``mmr``, without the
  liquidation fee), uPnL (``upl``), leverage (``lever``) and an isolated position's ``margin``.
- balances: each currency of ``fetch_balance``'s ``info.data[0].details``: its cash balance (``cashBal``) less
  the margin of its isolated positions (OKX counts isolated margin in the cash balance; UNVERIFIED); priced in
  USD at ``eqUsd / eq``.
- the venue's figures: single-currency: the currency's ``eq``, ``imr``, ``mmr``, ``mgnRatio`` (equity /
  (maintenance + liquidation fees)) and ``availEq``; multi-currency: the account's ``adjEq``, ``imr``, ``mmr``,
  ``mgnRatio`` and ``availEq`` (USD). Both cover the cross positions.
- collateral: single-currency margin at full value; multi-currency at each currency's discount
  ``disEq / eqUsd`` at its current amount (flat; OKX's marginal tiers are not in these responses).
- tiers: ``fetch_leverage_tiers`` (ccxt's ``fetch_market_leverage_tiers`` per market): OKX brackets by size,
  ``maxSz`` contracts x ``ctVal`` (underlying units; quote units inverse), ``mmr``, ``imr`` and no maintenance
  amount; the liquidation fee at the market's taker rate.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.bridge.family import AccountFacts, Conventions, Family, Figures, PositionFacts, first_of
from crossmargin.bridge.responses import (
    Responses,
    listing,
    mapping_at,
    number,
    positive_number,
    required_number,
    required_text,
    text,
)
from crossmargin.model import InputError

CONFIG_ENDPOINT = "GET /api/v5/account/config"
BALANCE_ENDPOINT = "GET /api/v5/account/balance"
SINGLE_CURRENCY, MULTI_CURRENCY = "2", "3"

OKX_CONVENTIONS = Conventions(
    money=Decimal("1E-8"),
    quanta={"account_margin_ratio": Decimal("1E-8")},
    rules={
        "initial_margin": ("user_leverage", "user_leverage_entry", "entry_valued_initial"),
        "maintenance_margin": ("liquidation_fee_apart",),
        "liquidation_price": ("other_price_move",),
        "account_initial_margin": ("venue_positions_initial_margin",),
        "account_maintenance_margin": ("venue_positions_maintenance_margin",),
        "account_margin_ratio": ("equity_over_maintenance", "venue_ratio_of_own_figures"),
        "account_free_collateral": ("venue_initial_margin",),
    },
)
"""OKX prints doubles (shortest round trip): money to well within 1e-8; liquidation prices within a tick; its
margin ratio is equity / (maintenance + liquidation fees); maintenance (``mmr``) leaves the fee out."""


class Okx(Family):
    """The OKX unified account (see the module doc)."""

    venue = "okx"
    rulebook = "okx"
    base = "USD"
    conventions = OKX_CONVENTIONS

    def level(self, responses: Responses) -> str:
        """The account mode (``acctLv``); an error for a mode that is not imported."""
        raw = responses.raw.get(CONFIG_ENDPOINT)
        if isinstance(raw, Mapping):
            config, where = first_of(raw.get("data"), f"raw.{CONFIG_ENDPOINT}.data"), f"raw.{CONFIG_ENDPOINT}.data[0]"
        else:
            mode = responses.calls.get("fetch_position_mode")
            config = mapping_at((mode or {}).get("info") or {}, "fetch_position_mode.info")
            where = "fetch_position_mode.info"
        level = text(config, "acctLv", where)
        if level is None:
            return SINGLE_CURRENCY
        if level not in (SINGLE_CURRENCY, MULTI_CURRENCY):
            raise InputError(
                f"{where}.acctLv",
                f"account mode {level} is not imported (2 single-currency and 3 multi-currency margin are)",
            )
        return level

    def mark_of_position(self, position: Mapping[str, Any], where: str) -> Decimal | None:
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        return number(info, "markPx", f"{where}.info") or number(position, "markPrice", where)

    def isolated_margin(self, responses: Responses, position: Mapping[str, Any], where: str) -> Decimal:
        return required_number(mapping_at(position.get("info"), f"{where}.info"), "margin", f"{where}.info")

    def pool(self, responses: Responses, position: Mapping[str, Any], where: str) -> str:
        if self.level(responses) == MULTI_CURRENCY:
            return ""
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        currency = text(info, "ccy", f"{where}.info")
        if currency is not None:
            return currency
        symbol = required_text(position, "symbol", where)
        return required_text(responses.market(symbol, f"{where}.symbol"), "settle", f"fetch_markets[{symbol}]")

    def position_figures(self, responses: Responses, position: Mapping[str, Any], where: str) -> Figures:
        figures = super().position_figures(responses, position, where)
        info_where = f"{where}.info"
        info = mapping_at(position.get("info"), info_where)
        figures.update(
            liquidation_price=number(info, "liqPx", info_where),
            initial_margin=number(info, "imr", info_where),
            maintenance_margin=number(info, "mmr", info_where),
            unrealized_pnl=number(info, "upl", info_where),
            leverage=number(info, "lever", info_where) or figures["leverage"],
        )
        return figures

    def balance_data(self, responses: Responses) -> tuple[Mapping[str, Any], str]:
        """The account entry of the balance payload (``data[0]``) and its path."""
        raw = responses.raw.get(BALANCE_ENDPOINT)
        payload, where = (
            (raw, f"raw.{BALANCE_ENDPOINT}")
            if isinstance(raw, Mapping)
            else (
                mapping_at(responses.balance.get("info"), "fetch_balance.info"),
                "fetch_balance.info",
            )
        )
        return first_of(payload.get("data"), f"{where}.data"), f"{where}.data[0]"

    def details(self, responses: Responses) -> list[tuple[Mapping[str, Any], str]]:
        """Each currency entry of the account, with its path."""
        data, where = self.balance_data(responses)
        return [
            (mapping_at(d, f"{where}.details[{j}]"), f"{where}.details[{j}]")
            for j, d in enumerate(listing(data, "details", where))
        ]

    def accounts(self, responses: Responses, positions: Sequence[PositionFacts]) -> list[AccountFacts]:
        isolated: dict[str, Decimal] = {}
        for p in positions:
            if p.isolated_margin is not None:
                settle = required_text(responses.markets[p.symbol], "settle", f"fetch_markets[{p.symbol}]")
                isolated[settle] = isolated.get(settle, Decimal(0)) + p.isolated_margin
        cash = {}
        for detail, where in self.details(responses):
            currency = required_text(detail, "ccy", where)
            cash[currency] = (
                required_number(detail, "cashBal", where) - isolated.get(currency, Decimal(0)),
                detail,
                where,
            )
        if self.level(responses) == MULTI_CURRENCY:
            data, where = self.balance_data(responses)
            return [
                AccountFacts(
                    key="",
                    balances={c: amount for c, (amount, _, _) in cash.items() if amount},
                    currency="USD",
                    scope="cross",
                    reported=_figures(data, where, "adjEq"),
                )
            ]
        held = {p.pool for p in positions}
        return [
            AccountFacts(key=c, balances={c: amount}, currency=c, scope="cross", reported=_figures(detail, where, "eq"))
            for c, (amount, detail, where) in cash.items()
            if amount or c in held
        ]

    def prices(self, responses: Responses, assets: Sequence[str]) -> dict[str, Decimal]:
        usd = {}
        for detail, where in self.details(responses):
            equity = number(detail, "eq", where)
            value = number(detail, "eqUsd", where)
            if equity and value is not None:
                usd[required_text(detail, "ccy", where)] = value / equity
        missing = [a for a in assets if a != self.base and a not in usd]
        if missing:
            raise InputError("fetch_balance.info.data[0].details", f"no USD price for {missing[0]} (eqUsd / eq)")
        return {a: usd[a] for a in assets if a != self.base}

    def weights(self, responses: Responses, assets: Sequence[str]) -> dict[str, dict[str, Any]]:
        if self.level(responses) != MULTI_CURRENCY:
            return {asset: {"weight": Decimal(1)} for asset in assets}
        discounts = {}
        for detail, where in self.details(responses):
            value, discounted = number(detail, "eqUsd", where), number(detail, "disEq", where)
            if value and discounted is not None:
                discounts[required_text(detail, "ccy", where)] = min(discounted / value, Decimal(1))
        return {asset: {"weight": discounts.get(asset, Decimal(1))} for asset in assets}

    def tiers(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = responses.tiers.get(symbol)
        if not entries:
            raise InputError(
                f"fetch_leverage_tiers.{symbol}", f"no leverage tiers recorded for {symbol!r}, a market held"
            )
        contract = positive_number(market, "contractSize", f"fetch_markets[{symbol}]")
        brackets = []
        for j, tier in enumerate(entries):
            where = f"fetch_leverage_tiers.{symbol}[{j}].info"
            info = mapping_at(tier.get("info"), where)
            brackets.append(
                {
                    "max_notional": positive_number(info, "maxSz", where) * contract,
                    "mmr": required_number(info, "mmr", where),
                    "imr": positive_number(info, "imr", where),
                    "maint_amount": Decimal(0),
                }
            )
        return brackets

    def instrument_terms(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> dict[str, Any]:
        taker = number(market, "taker", f"fetch_markets[{symbol}]")
        return {"tier_basis": "size", "liquidation_fee_rate": abs(taker) if taker is not None else Decimal("0.0005")}


def _figures(entry: Mapping[str, Any], where: str, equity: str) -> Figures:
    return {
        "equity": number(entry, equity, where),
        "initial_margin": number(entry, "imr", where),
        "maintenance_margin": number(entry, "mmr", where),
        "margin_ratio": number(entry, "mgnRatio", where),
        "free_collateral": number(entry, "availEq", where),
    }


OKX = Okx()
"""The OKX unified account family."""
