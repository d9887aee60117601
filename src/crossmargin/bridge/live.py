"""A live import: read-only calls to a venue through ccxt, written down in the recorded-responses format so the
same pure import reads them (and ``--record`` can keep them for an offline replay).

Credentials come from the environment only and go nowhere else: ``CROSSMARGIN_<VENUE>_API_KEY``, ``_SECRET``
and ``_PASSWORD`` (OKX's passphrase), and for the venues whose account state is public per address
(Hyperliquid, dYdX) ``CROSSMARGIN_<VENUE>_WALLET_ADDRESS``. They are handed to the ccxt exchange object and
never written to the recording, a log or an error message (an error from the venue has them removed before it
is shown). Give read-only keys.

ccxt is an optional dependency (``pip install crossmargin[exchanges]``), imported only here and only when a live
import runs.
"""

import importlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossmargin.bridge.responses import VENUES
from crossmargin.model import InputError

CREDENTIALS = {"apiKey": "API_KEY", "secret": "SECRET", "password": "PASSWORD", "walletAddress": "WALLET_ADDRESS"}
"""ccxt credential name -> the suffix of its environment variable ``CROSSMARGIN_<VENUE>_<SUFFIX>``."""

RAW_CALLS: Mapping[str, Sequence[tuple[str, str, Mapping[str, Any]]]] = {
    "binanceusdm": (("GET /fapi/v1/multiAssetsMargin", "fapiPrivateGetMultiAssetsMargin", {}),),
    "bybit": (("GET /v5/account/collateral-info", "privateGetV5AccountCollateralInfo", {}),),
    "okx": (("GET /api/v5/account/config", "privateGetAccountConfig", {}),),
    "hyperliquid": (("POST /info {type: metaAndAssetCtxs}", "publicPostInfo", {"type": "metaAndAssetCtxs"}),),
}
"""Per venue: raw endpoints read besides the unified methods, as (name in the recording, ccxt implicit method,
parameters)."""


def variable(venue: str, suffix: str) -> str:
    """The environment variable holding one credential of ``venue``, e.g. ``CROSSMARGIN_BINANCEUSDM_API_KEY``."""
    return f"CROSSMARGIN_{venue.upper()}_{suffix}"


def credentials(venue: str, environment: Mapping[str, str]) -> dict[str, str]:
    """The credentials of ``venue`` found in ``environment`` (ccxt's names: apiKey, secret, password,
    walletAddress); an error naming the variables when none is set."""
    found = {
        name: environment[variable(venue, suffix)]
        for name, suffix in CREDENTIALS.items()
        if environment.get(variable(venue, suffix))
    }
    if not found:
        wanted = ", ".join(variable(venue, suffix) for suffix in CREDENTIALS.values())
        raise InputError("--live", f"no credentials for {venue} in the environment (set {wanted}; read-only keys)")
    return found


def exchange_of(venue: str, secrets: Mapping[str, str]) -> Any:
    """A ccxt exchange object for ``venue`` holding ``secrets`` (ccxt loaded here, on demand)."""
    if venue not in VENUES:
        raise InputError("venue", f"unknown venue {venue!r}; crossmargin imports {', '.join(VENUES)}")
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError:
        raise InputError("--live", "a live import needs ccxt: pip install 'crossmargin[exchanges]'") from None
    return getattr(ccxt, venue)({**secrets, "enableRateLimit": True})


def record(exchange: Any, venue: str) -> dict[str, Any]:
    """Call the venue's read-only methods (those ccxt's ``has`` map offers) and return the recording as JSON
    values: positions, balance, the held markets, their leverage tiers, tickers (of the held markets and of each
    asset held's USDT perpetual, which prices it), mark prices, margin modes, leverages, position mode and the
    venue's raw account endpoints."""
    has: Mapping[str, Any] = exchange.has
    exchange.load_markets()
    positions = exchange.fetch_positions()
    balance = exchange.fetch_balance()
    symbols = sorted({p["symbol"] for p in positions if p.get("contracts")})
    recording: dict[str, Any] = {
        "venue": venue,
        "fetch_positions": positions,
        "fetch_balance": balance,
        "fetch_markets": [exchange.markets[s] for s in symbols],
    }
    priced = sorted({f"{code}/USDT:USDT" for code, amount in (balance.get("total") or {}).items() if amount})
    quoted = symbols + [s for s in priced if s in exchange.markets and s not in symbols]
    optional: list[tuple[str, str, Sequence[str], Callable[[], Any]]] = [
        ("fetch_leverage_tiers", "fetchLeverageTiers", symbols, lambda: exchange.fetch_leverage_tiers(symbols)),
        ("fetch_tickers", "fetchTickers", quoted, lambda: exchange.fetch_tickers(quoted)),
        ("fetch_mark_prices", "fetchMarkPrices", symbols, lambda: exchange.fetch_mark_prices(symbols)),
        ("fetch_margin_modes", "fetchMarginModes", symbols, lambda: exchange.fetch_margin_modes(symbols)),
        ("fetch_leverages", "fetchLeverages", symbols, lambda: exchange.fetch_leverages(symbols)),
        ("fetch_position_mode", "fetchPositionMode", symbols, lambda: exchange.fetch_position_mode()),
    ]
    for key, capability, needed, call in optional:
        if needed and has.get(capability):
            recording[key] = call()
    if symbols and not has.get("fetchLeverageTiers") and has.get("fetchMarketLeverageTiers"):
        recording["fetch_leverage_tiers"] = {s: exchange.fetch_market_leverage_tiers(s) for s in symbols}
    raw = {name: getattr(exchange, method)(dict(params)) for name, method, params in RAW_CALLS.get(venue, ())}
    if raw:
        recording["raw"] = raw
    values: dict[str, Any] = json.loads(json.dumps(recording, default=str))
    return values


def live_recording(venue: str, environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Record ``venue`` live with the credentials in ``environment`` (the process environment by default). Any
    error from ccxt or the venue becomes an :class:`InputError` whose text has the credentials removed."""
    secrets = credentials(venue, os.environ if environment is None else environment)
    exchange = exchange_of(venue, secrets)
    try:
        return record(exchange, venue)
    except Exception as err:  # ccxt's network, authentication and venue errors: reported, credentials removed
        raise InputError("--live", scrubbed(f"{type(err).__name__}: {err}", secrets.values())) from None


def scrubbed(message: str, secrets: Sequence[str] | Any) -> str:
    """``message`` with every credential value in it replaced by ``***``."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message
