"""Results as JSON-ready dicts: the versioned result document of ``crossmargin evaluate --json`` and of
``crossmargin what-if --json``, and the owner view (one person's accounts at several venues).

Every number is a decimal string (see :func:`crossmargin.report.numbers.decimal_string`), a missing
figure is ``None`` (JSON ``null``), flags are booleans. Units: money in the portfolio's base currency,
sizes in contracts, marks and liquidation prices in the instrument's mark units, asset amounts and
isolated margins in asset units (isolated margin in the position's settle asset). Keys are only ever
added, never renamed; ``version`` changes when a key's meaning does.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

from crossmargin.margin.account import AccountResult, PositionResult
from crossmargin.margin.owners import OwnerView, UnderlyingExposure, VenueExposure
from crossmargin.margin.pools import CollateralLine, PoolFigures
from crossmargin.margin.whatif import ModeComparison, ModeView, OrderCheck
from crossmargin.report.numbers import decimal_string

RESULT_VERSION = 1

JSONValue: TypeAlias = str | int | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, JSONValue]


def number(x: Decimal | None) -> str | None:
    """A figure as a decimal string, ``None`` kept as ``None``."""
    return None if x is None else decimal_string(x)


def collateral_dict(line: CollateralLine) -> JSONObject:
    """One collateral asset: amount (asset units), price, value and initial-side value (base)."""
    return {
        "asset": line.asset,
        "amount": number(line.amount),
        "price": number(line.price),
        "value": number(line.value),
        "initial_value": number(line.initial_value),
    }


def _isolated_pool_fields(position: PositionResult, pool: PoolFigures) -> JSONObject:
    """The figures of an isolated position's own pool: margin in settle units, the rest in base."""
    return {
        "isolated_margin": number(position.figures.position.isolated_margin),
        "isolated_margin_value": number(pool.collateral_value),
        "equity": number(pool.equity),
        "free_collateral": number(pool.free_collateral),
        "margin_ratio": number(pool.margin_ratio),
        "liquidatable": pool.liquidatable,
    }


def position_dict(position: PositionResult) -> JSONObject:
    """One position: size (contracts), entry and mark (mark units), money (base), liquidation price.

    An isolated position also carries its own pool's figures (``isolated_margin`` in settle units).
    """
    figures = position.figures
    entry: JSONObject = {
        "instrument": figures.position.instrument,
        "size": number(figures.position.size),
        "entry_price": number(figures.position.entry_price),
        "mark": number(figures.mark),
        "notional": number(figures.notional),
        "notional_settle": number(figures.notional_settle),
        "unrealized_pnl": number(figures.unrealized_pnl),
        "initial_margin": number(figures.initial_margin),
        "maintenance_margin": number(figures.maintenance_margin),
        "liquidation_price": number(position.liquidation_price),
        "isolated": position.isolated,
    }
    if position.pool is not None:
        entry.update(_isolated_pool_fields(position, position.pool))
    return entry


def account_dict(result: AccountResult) -> JSONObject:
    """One account: the figures of its cross pool (base currency), its collateral and every position.

    ``isolated_initial_margin`` is the initial margin of the isolated positions, which the cross
    figures leave out.
    """
    cross = result.cross
    return {
        "id": result.account.id,
        "collateral_value": number(cross.collateral_value),
        "initial_collateral_value": number(cross.initial_collateral_value),
        "unrealized_pnl": number(cross.unrealized_pnl),
        "equity": number(cross.equity),
        "initial_equity": number(cross.initial_equity),
        "initial_margin": number(cross.initial_margin),
        "maintenance_margin": number(cross.maintenance_margin),
        "free_collateral": number(cross.free_collateral),
        "margin_ratio": number(cross.margin_ratio),
        "liquidatable": cross.liquidatable,
        "isolated_initial_margin": number(result.isolated_initial_margin),
        "collateral": [collateral_dict(line) for line in cross.collateral],
        "positions": [position_dict(position) for position in result.positions],
    }


def evaluation_dict(
    base: str,
    rulebook: str,
    results: Sequence[AccountResult],
    venues: Sequence[str] | None = None,
    owners: Sequence[OwnerView] = (),
) -> JSONObject:
    """The result document of ``crossmargin evaluate --json``.

    For a document that places its accounts (``venues``: each result's venue, in order), every account also
    carries its ``venue`` and ``owner`` and the document its owners' views (:func:`owner_dict`); without
    ``venues`` the document is exactly the one-venue document.
    """
    accounts: list[JSONValue]
    if venues is None:
        accounts = [account_dict(result) for result in results]
    else:
        accounts = [
            {**account_dict(result), "venue": venue, "owner": result.account.held_by}
            for result, venue in zip(results, venues, strict=True)
        ]
    document: JSONObject = {"version": RESULT_VERSION, "base": base, "rulebook": rulebook, "accounts": accounts}
    if venues is not None:
        document["owners"] = [owner_dict(view) for view in owners]
    return document


def _venue_exposure_dict(part: VenueExposure) -> JSONObject:
    return {
        "notional": number(part.notional),
        "net_notional": number(part.net_notional),
        "delta": number(part.delta),
        "liquidation_price": number(part.liquidation_price),
        "move": number(None if part.scale is None else part.scale - 1),
        "account": part.account,
        "solved": part.solved,
    }


def _underlying_dict(exposure: UnderlyingExposure) -> JSONObject:
    return {
        "price": number(exposure.price),
        "notional": number(exposure.notional),
        "net_notional": number(exposure.net_notional),
        "delta": number(exposure.delta),
        "venues": {part.venue: _venue_exposure_dict(part) for part in exposure.venues},
    }


def owner_dict(view: OwnerView) -> JSONObject:
    """One owner: ``{owner, accounts: [id, ...], underlyings: {name: {price, notional, net_notional, delta,
    venues: {venue: {notional, net_notional, delta, liquidation_price, move, account, solved}}}}}``.

    ``price`` and ``liquidation_price`` are the underlying's price in base currency, notionals in base currency
    (``notional`` gross, ``net_notional`` long positive), ``delta`` in units of the underlying (long positive);
    ``move`` is ``liquidation_price / price - 1`` (-0.1 is 10 % down, 0 liquidatable now); ``account`` the
    account the venue liquidates first. ``liquidation_price``, ``move`` and ``account`` are ``None`` when the
    venue liquidates the owner at no price of the underlying, or when ``solved`` is false (an exposed pool's
    liquidation price cannot be solved: see :mod:`crossmargin.margin.owners`).
    """
    return {
        "owner": view.owner,
        "accounts": list[JSONValue](view.accounts),
        "underlyings": {u.underlying: _underlying_dict(u) for u in view.underlyings},
    }


def withdrawal_dict(base: str, account_id: str, asset: str, held: Decimal, amount: Decimal) -> JSONObject:
    """The largest withdrawal of ``asset``: ``held`` and ``max_withdrawable`` in asset units."""
    return {
        "version": RESULT_VERSION,
        "base": base,
        "account": account_id,
        "asset": asset,
        "held": number(held),
        "max_withdrawable": number(amount),
    }


def signed_max_size(check: OrderCheck) -> Decimal | None:
    """The order check's largest passing size in contracts, signed like the order (negative sells)."""
    if check.max_size is None:
        return None
    return check.max_size if check.size > 0 else -check.max_size


def order_dict(base: str, account_id: str, check: OrderCheck) -> JSONObject:
    """An order's initial-margin check: size and ``max_size`` in contracts (signed like the order's
    direction), price in mark units, free collateral and initial margin in base currency.

    ``max_size`` is ``None`` when no size in that direction fails.
    """
    return {
        "version": RESULT_VERSION,
        "base": base,
        "account": account_id,
        "instrument": check.instrument,
        "size": number(check.size),
        "price": number(check.price),
        "passes": check.passes,
        "reason": check.reason,
        "free_collateral_before": number(check.free_collateral_before),
        "free_collateral_after": number(check.free_collateral_after),
        "initial_margin_after": number(check.initial_margin_after),
        "max_size": number(signed_max_size(check)),
    }


def _numbers_by_name(values: Mapping[str, Decimal | None]) -> JSONObject:
    return {name: number(value) for name, value in values.items()}


def mode_dict(view: ModeView) -> JSONObject:
    """One margin mode: money in base currency, isolated margins in settle units, prices in mark units."""
    return {
        "initial_margin": number(view.initial_margin),
        "maintenance_margin": number(view.maintenance_margin),
        "collateral_required": number(view.collateral_required),
        "isolated_margins": _numbers_by_name(view.isolated_margins),
        "liquidation_prices": _numbers_by_name(view.liquidation_prices),
    }


def comparison_dict(base: str, account_id: str, comparison: ModeComparison) -> JSONObject:
    """The account's book in cross margin and in isolated margin, side by side."""
    return {
        "version": RESULT_VERSION,
        "base": base,
        "account": account_id,
        "cross": mode_dict(comparison.cross),
        "isolated": mode_dict(comparison.isolated),
    }
