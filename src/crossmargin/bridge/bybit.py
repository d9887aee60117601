"""Bybit Unified Trading Account (``bybit``): one account, figures in USD.

What the import reads:

- positions: ``fetch_positions``; size from ``contracts`` and ``side``, the mark, liquidation price
  (``liqPrice``, "" when Bybit has none), position IM and MM (``positionIM``, ``positionMM``: on the mark
  value since 2 Sep 2025, each with the fee to close), uPnL and leverage from ``info``. An isolated position
  (the account in Isolated Margin mode: ``fetch_margin_modes``, or ``tradeMode`` 1) keeps ``positionBalance``
  as its margin.
- the account: ``fetch_balance``'s ``info`` (``result.list[0]``, or ``raw`` ``GET /v5/account/wallet-balance``):
  each coin's wallet balance less its spot borrowing as the balance; the margin balance, total IM and MM,
  account MM rate and available balance as the venue's figures (USD, the cross pool: Bybit's account-wide
  fields do not cover isolated margin). Each coin is priced in USD at ``usdValue / equity``, the USD index
  price Bybit values it at.
- collateral value ratios: ``raw`` ``GET /v5/spot-margin-trade/collateral`` (tiered by quantity: the
  document's weight bands) where recorded; a coin it does not list keeps the bybit-uta rulebook's table, and
  one the rulebook lacks counts at 1 if Bybit marks it collateral (``marginCollateral`` and
  ``collateralSwitch``), else 0.
- tiers: ``fetch_leverage_tiers`` (``risk-limit``): ``riskLimitValue``, ``maintenanceMargin``,
  ``initialMargin`` (Bybit's rounded 1 / max leverage) and ``mmDeduction`` from ``info``; the fee to close at
  the taker rate of ``fetch_trading_fees`` if recorded, else Bybit's base rate 0.055 %.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.bridge.family import AccountFacts, Conventions, Family, Figures, PositionFacts, first_of
from crossmargin.bridge.responses import (
    Responses,
    flag,
    listing,
    mapping_at,
    number,
    positive_number,
    required_number,
    required_text,
    text,
)
from crossmargin.model import InputError
from crossmargin.venues import rulebook

BASE_TAKER = Decimal("0.00055")
"""Bybit's taker rate at the base VIP level: the fee to close when the account's own rate is not recorded."""

WALLET_ENDPOINT = "GET /v5/account/wallet-balance?accountType=UNIFIED"
COLLATERAL_ENDPOINT = "GET /v5/spot-margin-trade/collateral"

_EIGHT_DECIMALS = Decimal("1E-8")

BYBIT_CONVENTIONS = Conventions(
    money=_EIGHT_DECIMALS,
    quanta={"account_margin_ratio": Decimal("1E-4")},
    rules={
        "initial_margin": ("user_leverage_fee_to_close", "user_leverage", "entry_valued_initial"),
        "maintenance_margin": ("fee_to_close_at_user_leverage", "entry_valued_maintenance"),
        "liquidation_price": (
            "liquidation_fee_to_close_at_user_leverage",
            "other_price_move",
            "cross_liquidation_estimate",
        ),
        "account_initial_margin": ("venue_positions_initial_margin",),
        "account_maintenance_margin": ("venue_positions_maintenance_margin",),
        "account_margin_ratio": ("venue_ratio_of_own_figures",),
        "account_free_collateral": ("venue_initial_margin",),
    },
)
"""Bybit prints money to 8 decimals and account rates to 4; IM at the user's leverage, and the fee to close in
both requirements at the user's leverage; a cross liquidation price is an estimate."""


class Bybit(Family):
    """The Bybit unified account (see the module doc)."""

    venue = "bybit"
    rulebook = "bybit-uta"
    base = "USD"
    conventions = BYBIT_CONVENTIONS

    def isolated(self, responses: Responses, position: Mapping[str, Any], where: str) -> bool:
        if text(position, "marginMode", where) is not None:
            return super().isolated(responses, position, where)
        mode = responses.per_symbol("fetch_margin_modes", required_text(position, "symbol", where))
        if mode is not None and text(mode, "marginMode", "fetch_margin_modes") is not None:
            return mode.get("marginMode") == "isolated"
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        return text(info, "tradeMode", f"{where}.info") == "1"

    def isolated_margin(self, responses: Responses, position: Mapping[str, Any], where: str) -> Decimal:
        return required_number(mapping_at(position.get("info"), f"{where}.info"), "positionBalance", f"{where}.info")

    def position_figures(self, responses: Responses, position: Mapping[str, Any], where: str) -> Figures:
        figures = super().position_figures(responses, position, where)
        info_where = f"{where}.info"
        info = mapping_at(position.get("info"), info_where)
        figures.update(
            liquidation_price=number(info, "liqPrice", info_where),
            initial_margin=number(info, "positionIM", info_where),
            maintenance_margin=number(info, "positionMM", info_where),
            unrealized_pnl=number(info, "unrealisedPnl", info_where),
            leverage=number(info, "leverage", info_where) or figures["leverage"],
        )
        return figures

    def mark_of_position(self, position: Mapping[str, Any], where: str) -> Decimal | None:
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        return number(info, "markPrice", f"{where}.info") or number(position, "markPrice", where)

    def wallet(self, responses: Responses) -> tuple[Mapping[str, Any], str]:
        """The unified account's entry of the wallet-balance payload, and its path."""
        raw = responses.raw.get(WALLET_ENDPOINT)
        payload, where = (
            (raw, f"raw.{WALLET_ENDPOINT}")
            if isinstance(raw, Mapping)
            else (
                mapping_at(responses.balance.get("info"), "fetch_balance.info"),
                "fetch_balance.info",
            )
        )
        result = mapping_at(payload.get("result"), f"{where}.result")
        return first_of(result.get("list"), f"{where}.result.list"), f"{where}.result.list[0]"

    def coins(self, responses: Responses) -> list[tuple[Mapping[str, Any], str]]:
        """Each coin entry of the unified account, with its path."""
        account, where = self.wallet(responses)
        return [
            (mapping_at(c, f"{where}.coin[{j}]"), f"{where}.coin[{j}]")
            for j, c in enumerate(listing(account, "coin", where))
        ]

    def accounts(self, responses: Responses, positions: Sequence[PositionFacts]) -> list[AccountFacts]:
        account, where = self.wallet(responses)
        balances = {}
        for coin, coin_where in self.coins(responses):
            name = required_text(coin, "coin", coin_where)
            wallet = required_number(coin, "walletBalance", coin_where)
            borrowed = number(coin, "spotBorrow", coin_where) or Decimal(0)
            if wallet - borrowed != 0:
                balances[name] = wallet - borrowed
        return [
            AccountFacts(
                key="",
                balances=balances,
                currency="USD",
                scope="cross",
                reported={
                    "equity": number(account, "totalMarginBalance", where),
                    "initial_margin": number(account, "totalInitialMargin", where),
                    "maintenance_margin": number(account, "totalMaintenanceMargin", where),
                    "margin_ratio": number(account, "accountMMRate", where),
                    "free_collateral": number(account, "totalAvailableBalance", where),
                    "open_orders_initial_margin": self._orders_initial_margin(responses),
                },
            )
        ]

    def _orders_initial_margin(self, responses: Responses) -> Decimal:
        """Initial margin of the open orders, in USD: each coin's ``totalOrderIM`` at its USD price."""
        total = Decimal(0)
        for coin, where in self.coins(responses):
            amount = number(coin, "totalOrderIM", where)
            if amount:
                total += amount * self._coin_price(coin, where)
        return total

    def _coin_price(self, coin: Mapping[str, Any], where: str) -> Decimal:
        equity = required_number(coin, "equity", where)
        value = required_number(coin, "usdValue", where)
        if equity == 0:
            raise InputError(f"{where}.equity", "is 0: the coin's USD price (usdValue / equity) is unknown")
        return value / equity

    def prices(self, responses: Responses, assets: Sequence[str]) -> dict[str, Decimal]:
        by_coin = {required_text(c, "coin", w): (c, w) for c, w in self.coins(responses)}
        prices = {}
        for asset in assets:
            if asset == self.base:
                continue
            if asset not in by_coin:
                _, where = self.wallet(responses)
                raise InputError(f"{where}.coin", f"no entry for {asset}: its USD price (usdValue / equity) is unknown")
            prices[asset] = self._coin_price(*by_coin[asset])
        return prices

    def weights(self, responses: Responses, assets: Sequence[str]) -> dict[str, dict[str, Any]]:
        reported = self._collateral_bands(responses)
        known = rulebook(self.rulebook).assets
        flags = {required_text(c, "coin", w): (c, w) for c, w in self.coins(responses)}
        weights: dict[str, dict[str, Any]] = {}
        for asset in assets:
            if asset in reported:
                bands = reported[asset]
                weights[asset] = {"weight": bands[0][1]} if len(bands) == 1 else {"weight_bands": bands}
            elif asset not in known:
                coin = flags.get(asset)
                counts = coin is None or (
                    flag(coin[0], "marginCollateral", coin[1]) is not False
                    and flag(coin[0], "collateralSwitch", coin[1]) is not False
                )
                weights[asset] = {"weight": Decimal(1) if counts else Decimal(0)}
        return weights

    def _collateral_bands(self, responses: Responses) -> dict[str, list[list[Decimal]]]:
        payload = responses.raw.get(COLLATERAL_ENDPOINT)
        if not isinstance(payload, Mapping):
            return {}
        where = f"raw.{COLLATERAL_ENDPOINT}.result"
        result = mapping_at(payload.get("result"), where)
        bands = {}
        for j, entry in enumerate(listing(result, "list", where)):
            entry_where = f"{where}.list[{j}]"
            entry = mapping_at(entry, entry_where)
            rows = []
            for k, row in enumerate(listing(entry, "collateralRatioList", entry_where)):
                row_where = f"{entry_where}.collateralRatioList[{k}]"
                row = mapping_at(row, row_where)
                rows.append(
                    [required_number(row, "minQty", row_where), required_number(row, "collateralRatio", row_where)]
                )
            if rows:
                bands[required_text(entry, "currency", entry_where)] = rows
        return bands

    def tiers(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = responses.tiers.get(symbol)
        if not entries:
            raise InputError(
                f"fetch_leverage_tiers.{symbol}", f"no leverage tiers recorded for {symbol!r}, a market held"
            )
        brackets = []
        for j, tier in enumerate(entries):
            where = f"fetch_leverage_tiers.{symbol}[{j}].info"
            info = mapping_at(tier.get("info"), where)
            bracket: dict[str, Any] = {
                "max_notional": positive_number(info, "riskLimitValue", where),
                "mmr": required_number(info, "maintenanceMargin", where),
                "imr": positive_number(info, "initialMargin", where),
            }
            deduction = number(info, "mmDeduction", where)
            if deduction is not None:
                bracket["maint_amount"] = deduction
            brackets.append(bracket)
        return brackets

    def instrument_terms(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> dict[str, Any]:
        fee = responses.per_symbol("fetch_trading_fees", symbol)
        taker = number(fee, "taker", f"fetch_trading_fees.{symbol}") if fee is not None else None
        return {"close_fee_rate": BASE_TAKER if taker is None else taker}


BYBIT = Bybit()
"""The Bybit unified account family."""
