"""What a venue family's import reads, and how its reported figures are reconciled.

A *family* (Binance futures, Bybit, OKX, Hyperliquid, dYdX) turns one venue's recorded responses
(:class:`~crossmargin.bridge.responses.Responses`) into facts the importer writes as a portfolio document:
each open position (signed size in contracts, entry, mark, isolated margin, the venue's own figures for it),
each account (balances and the venue's account figures), each held market's tiers and terms, collateral
weights and prices. The unified ccxt fields are read where they carry the venue's figure; the venue's raw
payload (``info``, ``raw``) where they do not (ccxt derives some unified figures itself, e.g. Binance's
maintenance margin without the bracket's maintenance amount).

Units: sizes in contracts (positive long), prices in the market's quote currency per unit of the underlying,
money in the named currency (a position's in its settle asset), rates as fractions.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crossmargin.bridge.responses import (
    Responses,
    flag,
    number,
    positive_number,
    required_text,
    text,
)
from crossmargin.model import InputError

Figures = dict[str, Decimal | None]
"""Named figures as a venue reported them (None: not reported)."""

POSITION_FIGURES = ("liquidation_price", "initial_margin", "maintenance_margin", "unrealized_pnl")
"""A position's figures reconciled, in the order reports show them."""
ACCOUNT_FIGURES = ("equity", "initial_margin", "maintenance_margin", "margin_ratio", "free_collateral")
"""An account's figures reconciled, in the order reports show them."""
POSITION_FACTS = ("leverage", "price_tick")
"""What a venue says about a position that explains its figures: the user's leverage setting, the market's
price increment (liquidation prices are shown to it)."""
ACCOUNT_FACTS = ("open_orders_initial_margin",)
"""What a venue says about an account that explains its figures: initial margin its open orders hold."""


@dataclass(frozen=True)
class PositionFacts:
    """One open position as the venue reports it.

    ``size`` in contracts (positive long), ``entry_price`` and ``mark`` in the market's price units,
    ``isolated_margin`` in the settle asset (None: cross). ``pool`` names the account the position belongs to
    (a family with one account per margin asset uses the asset). ``reported`` holds the venue's figures
    (:data:`POSITION_FIGURES`, money in the settle asset) and facts (:data:`POSITION_FACTS`).
    """

    symbol: str
    size: Decimal
    entry_price: Decimal
    mark: Decimal | None
    isolated_margin: Decimal | None
    pool: str
    reported: Figures
    where: str


@dataclass(frozen=True)
class AccountFacts:
    """One account: its cross balances (asset units) and the venue's account figures.

    ``currency`` is the unit of the money figures; ``scope`` says what they cover: ``total`` (the cross pool
    and the isolated positions together) or ``cross`` (the cross pool alone).
    """

    key: str
    balances: dict[str, Decimal]
    currency: str
    scope: str
    reported: Figures


@dataclass(frozen=True)
class Conventions:
    """How a venue prints and defines the figures reconciled.

    ``quanta``: figure -> the value of the last digit the venue prints (its display rounding; a venue that
    truncates is within one such unit); a figure absent here uses ``money`` for money, the market's price
    tick for liquidation prices, 1e-4 for a margin ratio. ``rules``: figure -> the names of the explanations
    (:mod:`crossmargin.bridge.explanations`) that may account for a difference on this venue, tried in order.
    An account figure's key is prefixed ``account_`` (``account_initial_margin``), in both.
    """

    money: Decimal
    quanta: Mapping[str, Decimal] = field(default_factory=dict)
    rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Family:
    """The defaults every family shares: open positions from the unified position fields, a mark from the
    tickers, collateral at full value. A venue's module reads its accounts, tiers and prices, and overrides
    what its venue reports differently."""

    venue = ""
    rulebook = "generic"
    base = "USD"
    conventions = Conventions(money=Decimal("1E-8"))

    def positions(self, responses: Responses) -> list[PositionFacts]:
        """Every open position (zero-size entries, which some venues list for every market, are skipped)."""
        found = []
        for i, position in enumerate(responses.positions):
            where = f"fetch_positions[{i}]"
            contracts = number(position, "contracts", where)
            if contracts is None or contracts == 0:
                continue
            symbol = required_text(position, "symbol", where)
            responses.market(symbol, f"{where}.symbol")
            size = abs(contracts) * self.side_sign(position, where)
            isolated = (
                self.isolated_margin(responses, position, where) if self.isolated(responses, position, where) else None
            )
            found.append(
                PositionFacts(
                    symbol=symbol,
                    size=size,
                    entry_price=self.entry_price(position, where),
                    mark=self.mark_of_position(position, where),
                    isolated_margin=isolated,
                    pool=self.pool(responses, position, where),
                    reported=self.position_figures(responses, position, where),
                    where=where,
                )
            )
        return found

    def side_sign(self, position: Mapping[str, Any], where: str) -> int:
        """+1 for a long, -1 for a short (the unified ``side``)."""
        side = text(position, "side", where)
        if side not in ("long", "short"):
            raise InputError(f"{where}.side", f"must be 'long' or 'short' for an open position, got {side!r}")
        return 1 if side == "long" else -1

    def entry_price(self, position: Mapping[str, Any], where: str) -> Decimal:
        """The average entry price (unified ``entryPrice``), > 0."""
        return positive_number(position, "entryPrice", where)

    def mark_of_position(self, position: Mapping[str, Any], where: str) -> Decimal | None:
        """The mark the venue valued the position at (unified ``markPrice``), None when not given."""
        return number(position, "markPrice", where)

    def isolated(self, responses: Responses, position: Mapping[str, Any], where: str) -> bool:
        """Whether the position is isolated (unified ``marginMode``; ``isolated`` where that is absent)."""
        mode = text(position, "marginMode", where)
        if mode is None:
            return bool(flag(position, "isolated", where))
        if mode not in ("cross", "isolated"):
            raise InputError(f"{where}.marginMode", f"must be 'cross' or 'isolated', got {mode!r}")
        return mode == "isolated"

    def isolated_margin(self, responses: Responses, position: Mapping[str, Any], where: str) -> Decimal:
        """An isolated position's margin in its settle asset, uPnL excluded (unified ``positionMargin``)."""
        margin = number(position, "positionMargin", where)
        if margin is None:
            raise InputError(f"{where}.positionMargin", "required for an isolated position: its margin")
        return margin

    def pool(self, responses: Responses, position: Mapping[str, Any], where: str) -> str:
        """The account the position belongs to: one account per venue by default."""
        return ""

    def position_figures(self, responses: Responses, position: Mapping[str, Any], where: str) -> Figures:
        """The venue's figures for the position, from the unified fields."""
        symbol = required_text(position, "symbol", where)
        return {
            "liquidation_price": number(position, "liquidationPrice", where),
            "initial_margin": number(position, "initialMargin", where),
            "maintenance_margin": number(position, "maintenanceMargin", where),
            "unrealized_pnl": number(position, "unrealizedPnl", where),
            "leverage": self.leverage(responses, position, where),
            "price_tick": price_tick(responses.market(symbol, f"{where}.symbol"), symbol),
        }

    def leverage(self, responses: Responses, position: Mapping[str, Any], where: str) -> Decimal | None:
        """The user's leverage setting for the position's side: ``fetch_leverages`` if recorded, else the
        position's unified ``leverage``."""
        symbol = required_text(position, "symbol", where)
        setting = responses.per_symbol("fetch_leverages", symbol)
        if setting is not None:
            key = "longLeverage" if text(position, "side", where) == "long" else "shortLeverage"
            value = number(setting, key, f"fetch_leverages.{symbol}")
            if value is not None:
                return value
        return number(position, "leverage", where)

    def accounts(self, responses: Responses, positions: Sequence[PositionFacts]) -> list[AccountFacts]:
        """The accounts and their balances; each family reads its own venue's balance payload."""
        raise NotImplementedError

    def tiers(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The market's risk brackets as the document's ``tiers``; each family reads its venue's brackets."""
        raise NotImplementedError

    def instrument_terms(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> dict[str, Any]:
        """Terms of the instrument beyond what the contract is and its tiers (fees in requirements, tier basis)."""
        return {}

    def open_interest(self, responses: Responses, symbol: str, market: Mapping[str, Any]) -> Decimal | None:
        """Open interest as a notional in settle units, for instruments whose rates scale with it."""
        return None

    def mark(self, responses: Responses, symbol: str) -> Decimal | None:
        """The market's mark from ``fetch_tickers`` (or ``fetch_mark_prices``), when no position gave one."""
        ticker = responses.tickers.get(symbol)
        if ticker is None:
            return None
        return number(ticker, "markPrice", f"fetch_tickers.{symbol}")

    def weights(self, responses: Responses, assets: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The document's ``assets`` entries for ``assets``: collateral at full value unless the venue reports
        its ratios."""
        return {asset: {"weight": Decimal(1)} for asset in assets}

    def prices(self, responses: Responses, assets: Sequence[str]) -> dict[str, Decimal]:
        """The price of each asset (other than the base) in the base currency."""
        raise NotImplementedError


def price_tick(market: Mapping[str, Any], symbol: str) -> Decimal | None:
    """The market's price increment (ccxt ``precision.price`` in tick-size mode), None when not given."""
    precision = market.get("precision")
    if not isinstance(precision, Mapping):
        return None
    tick = number(precision, "price", f"fetch_markets[{symbol}].precision")
    return tick if tick is not None and tick > 0 else None


def ticker_price(responses: Responses, symbols: Sequence[str], keys: Sequence[str]) -> Decimal | None:
    """The first of ``keys`` (e.g. indexPrice, markPrice, last) given by the first ticker of ``symbols`` held."""
    for symbol in symbols:
        ticker = responses.tickers.get(symbol)
        if ticker is None:
            continue
        for key in keys:
            value = number(ticker, key, f"fetch_tickers.{symbol}")
            if value is not None and value > 0:
                return value
    return None


def first_of(payload: Any, where: str) -> Mapping[str, Any]:
    """The first entry of a venue's ``list``/``data`` array (Bybit's ``result.list[0]``, OKX's ``data[0]``)."""
    if isinstance(payload, list) and payload and isinstance(payload[0], Mapping):
        return payload[0]
    raise InputError(where, "must be a non-empty list of objects")
