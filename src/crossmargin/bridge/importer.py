"""Recorded responses -> a portfolio document (docs/portfolio-document.md) with the venue's ``rulebook:`` and,
per account and position, a ``reported:`` section holding the venue's own figures (docs/import.md).

:func:`document_from_responses` is pure: a live import and ``--from-file`` both go through it.

Names: a held linear perpetual is written under the rulebooks' canonical name ``<BASE>-PERP`` and an inverse
one as ``<BASE>USD-PERP`` (so ``crossmargin compare`` lines it up with every venue's tables); any other market,
or two markets that would share a name, under its ccxt symbol. Accounts are named after the venue, with the
margin asset appended where the venue margins each asset apart (Binance: ``binanceusdm-USDT``).
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.bridge.families import family
from crossmargin.bridge.family import (
    ACCOUNT_FACTS,
    ACCOUNT_FIGURES,
    POSITION_FACTS,
    POSITION_FIGURES,
    AccountFacts,
    Family,
    PositionFacts,
)
from crossmargin.bridge.responses import Responses, flag, positive_number, required_text, text
from crossmargin.model import InputError


def document_from_responses(responses: Responses) -> dict[str, Any]:
    """The portfolio document of one venue's recorded responses (numbers exact ``Decimal``)."""
    venue = family(responses.venue)
    positions = venue.positions(responses)
    accounts = venue.accounts(responses, positions)
    symbols = list(dict.fromkeys(p.symbol for p in positions))
    names = instrument_names(responses, symbols)
    instruments = {names[s]: instrument_entry(venue, responses, s) for s in symbols}
    settle_assets = [instruments[names[s]]["settle"] for s in symbols]
    held = [asset for account in accounts for asset in account.balances]
    currencies = [a.currency for a in accounts if a.currency != venue.base]
    assets = list(dict.fromkeys([*held, *settle_assets, *currencies]))
    document: dict[str, Any] = {
        "version": 1,
        "base": venue.base,
        "rulebook": venue.rulebook,
        "assets": venue.weights(responses, assets),
        "instruments": instruments,
        "prices": venue.prices(responses, [a for a in assets if a != venue.base]),
        "marks": {names[s]: _mark(venue, responses, s, positions) for s in symbols},
    }
    interest = {names[s]: venue.open_interest(responses, s, responses.markets[s]) for s in symbols}
    if any(v is not None for v in interest.values()):
        document["open_interest"] = {name: value for name, value in interest.items() if value is not None}
    document["accounts"] = [_account(venue, account, positions, names) for account in accounts]
    return document


def instrument_names(responses: Responses, symbols: Sequence[str]) -> dict[str, str]:
    """Document name of each held market's symbol: canonical for perpetuals, the symbol otherwise or on a clash."""
    wanted = {symbol: _canonical(responses.markets[symbol]) or symbol for symbol in symbols}
    taken = list(wanted.values())
    return {symbol: name if taken.count(name) == 1 else symbol for symbol, name in wanted.items()}


def _canonical(market: Mapping[str, Any]) -> str | None:
    if not market.get("swap") or not isinstance(market.get("base"), str):
        return None
    base = market["base"]
    return f"{base}USD-PERP" if market.get("inverse") else f"{base}-PERP"


def instrument_entry(venue: Family, responses: Responses, symbol: str) -> dict[str, Any]:
    """The document's instrument for a held market: what the contract is (from ``fetch_markets``), its tiers
    and the venue's terms."""
    where = f"fetch_markets[{symbol}]"
    market = responses.markets[symbol]
    if market.get("option"):
        raise InputError(f"{where}.option", f"{symbol!r} is an option: importing options is not supported")
    inverse = flag(market, "inverse", where)
    if market.get("swap"):
        kind = "perpetual"
    elif market.get("future"):
        kind = "future"
    else:
        raise InputError(f"{where}.type", f"{symbol!r} is not a perpetual or a future (type {market.get('type')!r})")
    entry: dict[str, Any] = {
        "kind": kind,
        "underlying": required_text(market, "base", where),
        "settle": required_text(market, "settle", where),
        "contract_size": positive_number(market, "contractSize", where),
    }
    if inverse:
        entry["inverse"] = True
    if kind == "future":
        expiry = text(market, "expiryDatetime", where)
        if expiry is None:
            raise InputError(f"{where}.expiryDatetime", f"required for the future {symbol!r}")
        entry["expiry"] = expiry
    entry["tiers"] = venue.tiers(responses, symbol, market)
    entry.update(venue.instrument_terms(responses, symbol, market))
    return entry


def _mark(venue: Family, responses: Responses, symbol: str, positions: Sequence[PositionFacts]) -> Decimal:
    for position in positions:
        if position.symbol == symbol and position.mark is not None:
            return position.mark
    mark = venue.mark(responses, symbol)
    if mark is None:
        raise InputError(f"fetch_tickers.{symbol}.markPrice", f"no mark price for {symbol!r}, a market held")
    return mark


def _account(
    venue: Family, account: AccountFacts, positions: Sequence[PositionFacts], names: Mapping[str, str]
) -> dict[str, Any]:
    own = [p for p in positions if p.pool == account.key]
    reported: dict[str, Any] = {"venue": venue.venue, "currency": account.currency, "scope": account.scope}
    reported.update({figure: account.reported.get(figure) for figure in ACCOUNT_FIGURES})
    reported.update({fact: account.reported[fact] for fact in ACCOUNT_FACTS if account.reported.get(fact) is not None})
    return {
        "id": f"{venue.venue}-{account.key}" if account.key else venue.venue,
        "balances": dict(account.balances),
        "positions": [_position(p, names) for p in own],
        "reported": reported,
    }


def _position(position: PositionFacts, names: Mapping[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "instrument": names[position.symbol],
        "size": position.size,
        "entry_price": position.entry_price,
    }
    if position.isolated_margin is not None:
        entry["isolated_margin"] = position.isolated_margin
    reported: dict[str, Any] = {figure: position.reported.get(figure) for figure in POSITION_FIGURES}
    reported.update({f: position.reported[f] for f in POSITION_FACTS if position.reported.get(f) is not None})
    entry["reported"] = reported
    return entry
