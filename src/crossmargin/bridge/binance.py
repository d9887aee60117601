"""Binance futures: USDⓈ-M (``binanceusdm``, linear, margined per asset) and COIN-M (``binancecoinm``, inverse,
each coin's wallet margining its own contracts), Single-Asset mode.

What the import reads:

- positions: ``fetch_positions`` (ccxt reads ``positionRisk``); size from ``contracts`` and ``side``, the mark,
  liquidation price, uPnL and isolated wallet from ``info``. The position's own initial and maintenance
  margin from ``info`` (``positionInitialMargin``, ``maintMargin``; USDⓈ-M v3), else from the account
  payload's ``positions`` entry of the same symbol and side (COIN-M). ccxt's unified ``maintenanceMargin``
  is its own product of notional and rate, without the bracket's maintenance amount, and is not read.
- the user's leverage: ``fetch_leverages`` (``symbolConfig``), else ``info.leverage``.
- accounts: one per margin asset holding a balance or a position (Single-Asset mode margins each asset's
  contracts with that asset's wallet alone), from the account payload's ``assets`` (``fetch_balance``'s
  ``info``, or ``raw`` ``GET /fapi/v3/account`` / ``GET /dapi/v1/account``): the cross wallet as the balance,
  and the asset's margin balance, initial and maintenance margin (cross and isolated together), open orders'
  initial margin and available balance as the venue's figures. Binance returns no margin ratio.
- tiers: ``fetch_leverage_tiers`` (``leverageBracket``): cap (``notionalCap``, COIN-M ``qtyCap`` in the coin),
  maintenance rate, initial leverage and ``cum`` as the maintenance amount, exactly as printed.
- prices: USDⓈ-M is reported in USDT (the base); another margin asset is priced from a recorded ticker
  ``<ASSET>/USDT:USDT``. COIN-M is reported in USD: each coin at its perpetual's index (else mark) price.

Multi-Assets mode (``multiAssetsMargin`` true) is refused: its bid/ask collateral rates are not modelled.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.bridge.family import AccountFacts, Conventions, Family, Figures, PositionFacts, ticker_price
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

_EIGHT_DECIMALS = Decimal("1E-8")

BINANCE_CONVENTIONS = Conventions(
    money=_EIGHT_DECIMALS,
    quanta={"liquidation_price": _EIGHT_DECIMALS},
    rules={
        "initial_margin": ("user_leverage",),
        "account_initial_margin": ("venue_positions_initial_margin",),
        "account_free_collateral": ("venue_initial_margin",),
        "liquidation_price": ("hedge_shared_liquidation_price",),
    },
)
"""Binance prints money and prices to 8 decimals, truncated; initial margin is charged at the user's leverage."""


class BinanceFutures(Family):
    """The Binance futures families (see the module doc); ``account_endpoint`` names the raw account payload."""

    rulebook = "binance-usdm"
    conventions = BINANCE_CONVENTIONS

    def __init__(self, venue: str, base: str, account_endpoint: str) -> None:
        self.venue = venue
        self.base = base
        self.account_endpoint = account_endpoint

    def account_payload(self, responses: Responses) -> tuple[Mapping[str, Any], str]:
        """The account payload (assets and positions) and its path in the recording."""
        raw = responses.raw.get(self.account_endpoint)
        if isinstance(raw, Mapping):
            return raw, f"raw.{self.account_endpoint}"
        return mapping_at(responses.balance.get("info"), "fetch_balance.info"), "fetch_balance.info"

    def check_mode(self, responses: Responses) -> None:
        """Refuse Multi-Assets mode, whose collateral rates are not modelled."""
        endpoint = "GET /fapi/v1/multiAssetsMargin"
        payload = responses.raw.get(endpoint)
        if isinstance(payload, Mapping) and flag(payload, "multiAssetsMargin", f"raw.{endpoint}"):
            raise InputError(
                f"raw.{endpoint}.multiAssetsMargin",
                "Multi-Assets mode is not modelled (its bid/ask collateral rates); import a Single-Asset mode account",
            )

    def mark_of_position(self, position: Mapping[str, Any], where: str) -> Decimal | None:
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        return number(info, "markPrice", f"{where}.info") or number(position, "markPrice", where)

    def isolated(self, responses: Responses, position: Mapping[str, Any], where: str) -> bool:
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        margin_type = text(info, "marginType", f"{where}.info")
        if margin_type is not None:
            return margin_type.lower() == "isolated"
        wallet = number(info, "isolatedWallet", f"{where}.info")
        if wallet is not None:
            return wallet != 0
        return super().isolated(responses, position, where)

    def isolated_margin(self, responses: Responses, position: Mapping[str, Any], where: str) -> Decimal:
        return required_number(mapping_at(position.get("info"), f"{where}.info"), "isolatedWallet", f"{where}.info")

    def pool(self, responses: Responses, position: Mapping[str, Any], where: str) -> str:
        info = mapping_at(position.get("info") or {}, f"{where}.info")
        asset = text(info, "marginAsset", f"{where}.info")
        if asset is not None:
            return asset
        symbol = required_text(position, "symbol", where)
        return required_text(responses.market(symbol, f"{where}.symbol"), "settle", f"fetch_markets[{symbol}]")

    def position_figures(self, responses: Responses, position: Mapping[str, Any], where: str) -> Figures:
        figures = super().position_figures(responses, position, where)
        info_where = f"{where}.info"
        info = mapping_at(position.get("info"), info_where)
        account_entry, entry_where = self._account_position(responses, info, info_where)
        initial = number(info, "positionInitialMargin", info_where)
        maintenance = number(info, "maintMargin", info_where)
        if account_entry is not None:
            initial = initial if initial is not None else number(account_entry, "positionInitialMargin", entry_where)
            maintenance = maintenance if maintenance is not None else number(account_entry, "maintMargin", entry_where)
        figures.update(
            liquidation_price=number(info, "liquidationPrice", info_where),
            initial_margin=initial,
            maintenance_margin=maintenance,
            unrealized_pnl=number(info, "unRealizedProfit", info_where),
            leverage=figures["leverage"] or number(info, "leverage", info_where),
        )
        return figures

    def _account_position(
        self, responses: Responses, info: Mapping[str, Any], where: str
    ) -> tuple[Mapping[str, Any] | None, str]:
        """The account payload's entry for the position's symbol and side, if any."""
        payload, payload_where = self.account_payload(responses)
        symbol, side = text(info, "symbol", where), text(info, "positionSide", where) or "BOTH"
        for j, entry in enumerate(listing(payload, "positions", payload_where)):
            entry_where = f"{payload_where}.positions[{j}]"
            entry = mapping_at(entry, entry_where)
            if (
                text(entry, "symbol", entry_where) == symbol
                and (text(entry, "positionSide", entry_where) or "BOTH") == side
            ):
                return entry, entry_where
        return None, ""

    def accounts(self, responses: Responses, positions: Sequence[PositionFacts]) -> list[AccountFacts]:
        self.check_mode(responses)
        payload, where = self.account_payload(responses)
        held = {p.pool for p in positions}
        accounts = []
        for j, entry in enumerate(listing(payload, "assets", where)):
            entry_where = f"{where}.assets[{j}]"
            entry = mapping_at(entry, entry_where)
            asset = required_text(entry, "asset", entry_where)
            wallet = required_number(entry, "crossWalletBalance", entry_where)
            if wallet == 0 and asset not in held:
                continue
            accounts.append(
                AccountFacts(
                    key=asset,
                    balances={asset: wallet},
                    currency=asset,
                    scope="total",
                    reported={
                        "equity": number(entry, "marginBalance", entry_where),
                        "initial_margin": number(entry, "initialMargin", entry_where),
                        "maintenance_margin": number(entry, "maintMargin", entry_where),
                        "margin_ratio": None,
                        "free_collateral": number(entry, "availableBalance", entry_where),
                        "open_orders_initial_margin": number(entry, "openOrderInitialMargin", entry_where),
                    },
                )
            )
        missing = held - {a.key for a in accounts}
        if missing:
            raise InputError(f"{where}.assets", f"no entry for margin asset {sorted(missing)[0]!r} of a position held")
        return accounts

    def tiers(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = responses.tiers.get(symbol)
        if not entries:
            raise InputError(
                f"fetch_leverage_tiers.{symbol}", f"no leverage tiers recorded for {symbol!r}, a market held"
            )
        brackets = []
        for j, tier in enumerate(entries):
            where = f"fetch_leverage_tiers.{symbol}[{j}]"
            info = mapping_at(tier.get("info"), f"{where}.info")
            cap = number(info, "notionalCap", f"{where}.info")
            if cap is None:
                cap = positive_number(info, "qtyCap", f"{where}.info")
            brackets.append(
                {
                    "max_notional": cap,
                    "mmr": required_number(info, "maintMarginRatio", f"{where}.info"),
                    "max_leverage": positive_number(info, "initialLeverage", f"{where}.info"),
                    "maint_amount": required_number(info, "cum", f"{where}.info"),
                }
            )
        return brackets

    def prices(self, responses: Responses, assets: Sequence[str]) -> dict[str, Decimal]:
        prices = {}
        for asset in assets:
            if asset == self.base:
                continue
            if self.base == "USD":
                candidates = [
                    s for s, m in responses.markets.items() if m.get("base") == asset and m.get("settle") == asset
                ]
                price = ticker_price(responses, candidates, ("indexPrice", "markPrice"))
            else:
                candidates = [f"{asset}/{self.base}:{self.base}", f"{asset}/{self.base}"]
                price = ticker_price(responses, candidates, ("indexPrice", "markPrice", "last"))
            if price is None:
                raise InputError(
                    "fetch_tickers",
                    f"no price for {asset} in {self.base}: record a ticker of {asset}'s {self.base} market",
                )
            prices[asset] = price
        return prices


USDM = BinanceFutures("binanceusdm", "USDT", "GET /fapi/v3/account")
"""Binance USDⓈ-M futures: figures in USDT."""
COINM = BinanceFutures("binancecoinm", "USD", "GET /dapi/v1/account")
"""Binance COIN-M futures: figures in each margin coin, the document's base USD."""
