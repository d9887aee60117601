"""What the service shows: an account as ``crossmargin evaluate --json`` shows it (plus whether it is frozen
and the statuses of the prices it depends on), the book's aggregates, and stream messages. Every number is
a decimal string (:func:`~crossmargin.report.numbers.decimal_string`, as the CLI writes them)."""

import json
import math
from decimal import Decimal
from typing import Any

import numpy as np

from crossmargin.clearing.state import BAD_DEBT, FEE_POOL, INSURANCE_FUND
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from crossmargin.margin.account import evaluate_account
from crossmargin.margin.first_passage import PoolOdds, liquidation_odds
from crossmargin.margin.valuation import atm_vol
from crossmargin.margin.whatif import compare_modes
from crossmargin.model import Account, InputError, Portfolio, Side
from crossmargin.model.numbers import exact
from crossmargin.report.numbers import decimal_string, float_string
from crossmargin.report.results import account_dict, comparison_dict
from crossmargin.service.insight import PricedBook, liquidatable_accounts, priced_book
from crossmargin.sim.replay import line_of


def _default(item: object) -> str:
    if isinstance(item, Decimal):
        return decimal_string(item)
    raise TypeError(type(item).__name__)


def json_bytes(value: object) -> bytes:
    """``value`` as JSON, every Decimal a decimal string."""
    return json.dumps(value, default=_default, separators=(",", ":")).encode()


def message(event: live.OutboundEvent) -> bytes:
    """A stream message: the event as ``replay --json`` prints it, with ``cause`` (the inbound event's id)
    and ``seq`` (its place among everything the engine emitted); a ``figures`` event's ``basis`` is
    ``exact``."""
    extra = {"basis": "exact"} if isinstance(event, live.Figures) else {}
    return json_bytes({**line_of(event), **extra, "cause": event.cause, "seq": event.seq})


def account_view(loop: EngineLoop, account_id: str) -> dict[str, Any]:
    """The account now (exact): ``evaluate --json``'s entry, ``frozen`` (a price it depends on has a status
    the oracle policy freezes on) and ``statuses`` of those prices."""
    account = loop.state.account(account_id)
    result = evaluate_account(account, loop.state.portfolio_of((account,)), loop.config.rules)
    statuses = {s: str(loop.statuses[s]) for s in dict.fromkeys(loop.symbols_of(account_id))}
    frozen = any(s in loop.state.guard.frozen for s in statuses)
    return {**account_dict(result), "frozen": frozen, "statuses": statuses}


DEFAULT_HORIZON_S = 86400.0
"""The horizon of an account's liquidation odds unless the request names one: a day, in seconds."""


def account_detail(loop: EngineLoop, account_id: str, horizon_s: float = DEFAULT_HORIZON_S) -> dict[str, Any]:
    """:func:`account_view` with what the account's page shows beside it: on each collateral line its
    ``weight`` and ``initial_weight`` (value / (amount x price): the asset's weight at that amount, averaged
    over its bands; for an amount owed, its liability weight, at least 1), ``modes``: the account's
    positions all in cross margin and all isolated on the margin a trader would post, side by side, as
    ``crossmargin what-if --compare`` shows them (:func:`~crossmargin.margin.whatif.compare_modes`: ``cross``
    and ``isolated``, each with its initial and maintenance margin and the collateral it needs in base
    currency, the isolated margins in settle units and each leg's exact liquidation price), and
    ``liquidation_odds`` within ``horizon_s`` seconds (:func:`account_odds`)."""
    state = loop.state
    account = state.account(account_id)
    portfolio = state.portfolio_of((account,))
    view = account_view(loop, account_id)
    for line in view["collateral"]:
        asset, amount = portfolio.assets[line["asset"]], account.balances[line["asset"]]
        with exact():
            line["weight"] = decimal_string(asset.weighted_amount(amount, Side.MAINTENANCE) / amount)
            line["initial_weight"] = decimal_string(asset.weighted_amount(amount, Side.INITIAL) / amount)
    compared = comparison_dict(portfolio.base, account_id, compare_modes(account, portfolio, loop.config.rules))
    modes = {"cross": compared["cross"], "isolated": compared["isolated"]}
    return {**view, "modes": modes, "liquidation_odds": account_odds(loop, account, portfolio, horizon_s)}


def odds_volatilities(loop: EngineLoop, portfolio: Portfolio) -> dict[str, dict[str, Any]]:
    """Every asset with a volatility, annualized, and where it comes from: ``realized``, the engine loop's
    realized-volatility index (:attr:`EngineLoop.volatility`) at its headline half-life (the first of
    ``volatility_half_lives_s``, an hour by default), once it has an estimate (time has passed since the
    asset's first index price), with ``half_life_s`` and the ``returns`` it has taken; else ``market``, the
    document's ``vols`` at moneyness 1. Each entry: ``volatility`` (float), ``source`` and, for ``realized``,
    ``half_life_s`` and ``returns``."""
    index = loop.volatility
    half_life = index.half_lives_s[0]
    found: dict[str, dict[str, Any]] = {}
    for name in sorted({*portfolio.market.prices, *portfolio.market.vols}):
        realized = index.assets.get(name)
        figure = None if realized is None else realized.annualized(half_life)
        if realized is not None and figure is not None:
            found[name] = {"volatility": figure, "source": "realized", "half_life_s": half_life,
                           "returns": realized.returns}  # fmt: skip
        elif (vol := atm_vol(portfolio.market, name)) is not None:
            found[name] = {"volatility": vol, "source": "market"}
    return found


def _exposures(account: Account, portfolio: Portfolio) -> set[str]:
    """The assets the account's value moves with: its positions' underlyings and settle assets and the assets
    it holds or owes (not the base currency)."""
    names = {a for a, amount in account.balances.items() if amount}
    for position in account.positions:
        instrument = portfolio.instruments[position.instrument]
        names |= {instrument.underlying, instrument.settle}
    return names - {portfolio.base}


def _odds_pool(pool: PoolOdds, portfolio: Portfolio) -> dict[str, Any]:
    factors = []
    for f in pool.factors:
        price = portfolio.market.prices.get(f.underlying)
        barrier_price = None if f.barrier is None or price is None else float(price) * f.barrier
        factors.append({
            "asset": f.underlying, "barrier_scale": None if f.barrier is None else float_string(f.barrier),
            "barrier_price": None if barrier_price is None else float_string(barrier_price),
            "slope": float_string(f.slope), "slope_kind": f.slope_kind, "probability": float_string(f.probability),
        })  # fmt: skip
    return {
        "pool": pool.pool, "isolated": pool.isolated, "liquidatable": pool.liquidatable,
        "health": float_string(pool.health), "probability": float_string(pool.probability),
        "median_time_s": float_string(pool.median_time_s), "dominant": pool.dominant, "factors": factors,
    }  # fmt: skip


def account_odds(loop: EngineLoop, account: Account, portfolio: Portfolio, horizon_s: float) -> dict[str, Any]:
    """The account's chance of liquidation within ``horizon_s`` seconds (> 0) under the first-passage model
    (:func:`~crossmargin.margin.first_passage.liquidation_odds`: driftless, the market's correlations), on the
    volatilities of :func:`odds_volatilities`: ``horizon_s``; ``available``; ``probability`` (the largest of
    its pools'), ``median_time_s`` (its likeliest pool's median first-passage time, seconds; null: more
    likely never; the expected time of a driftless barrier is infinite, so the median is the time shown),
    ``pool`` (the likeliest, null without a pool that can be liquidated), ``volatilities`` (each factor
    used, annualized, with its source) and ``pools`` (each scored pool's health, probability, median time,
    dominant factor and factors: each one's barrier as a scale of its price and as a price, base currency
    per unit, the health's slope per unit log return, base currency, and its one-factor probability).
    Where an asset the account is exposed to has no volatility from either source: ``available`` false,
    ``reason`` and ``missing`` (the assets without one). Float model figures, as decimal strings."""
    known = odds_volatilities(loop, portfolio)
    answer: dict[str, Any] = {"horizon_s": float_string(horizon_s)}
    try:
        odds = liquidation_odds(
            account, portfolio, loop.config.rules, horizon_s, {n: v["volatility"] for n, v in known.items()}
        )
    except InputError as err:  # a volatility missing, or correlations that cannot be: no odds, and why
        missing = sorted(_exposures(account, portfolio) - set(known))
        if err.field.startswith("volatilities."):
            reason = (
                f"no volatility for {err.field.removeprefix('volatilities.')}: the realized-volatility index has no "
                "estimate (no index price yet, or no time since the first) and the document's vols no entry"
            )
        else:
            reason = f"{err.field}: {err.message}"
        return {**answer, "available": False, "reason": reason, "missing": missing}
    used = sorted({f.underlying for p in odds.pools for f in p.factors})
    likeliest = min(odds.pools, key=lambda p: (-p.probability, p.median_time_s), default=None)
    volatilities = {n: {k: float_string(v) if isinstance(v, float) else v for k, v in known[n].items()} for n in used}
    return {
        **answer, "available": True, "probability": float_string(odds.probability),
        "median_time_s": float_string(math.inf if likeliest is None else likeliest.median_time_s),
        "pool": None if likeliest is None else likeliest.pool,
        "volatilities": volatilities, "pools": [_odds_pool(p, portfolio) for p in odds.pools],
    }  # fmt: skip


def mirror_figures(loop: EngineLoop, account_id: str) -> tuple[float, float, float, bool]:
    """The account's cross figures in the risk book's float mirror now: equity, initial and maintenance
    margin (base currency), and whether the mirror finds the pool liquidatable (never one that holds nothing:
    an account liquidated to nothing keeps a residue of float sums)."""
    book = loop.book
    pool = book.cross_pool[account_id]
    row = book.figures[pool]
    due = bool(book.liquidatable[pool]) and not book.holds_nothing(slice(pool, pool + 1))[0]
    return float(row[0]), float(row[3]), float(row[2]), due


def mirror_message(loop: EngineLoop, account_id: str, figures: tuple[float, float, float, bool]) -> bytes:
    """A ``figures`` message from the mirror's ``figures`` (:func:`mirror_figures`), caused by the last event:
    ``basis`` ``mirror`` (the float figures each price tick moves, written as the shortest decimal that reads
    back as that float), where a ``figures`` event of the engine (after the account's money or positions
    changed) is ``exact``."""
    equity, initial, maintenance, liquidatable = figures
    return json_bytes(
        {
            "t": loop.oracle.clock, "event": "figures", "account": account_id, "equity": float_string(equity),
            "initial_margin": float_string(initial), "maintenance_margin": float_string(maintenance),
            "liquidatable": liquidatable, "basis": "mirror", "cause": loop.last_id,
        }
    )  # fmt: skip


def book_figures(loop: EngineLoop, priced: PricedBook | None = None, adl_count: int | None = None) -> dict[str, Any]:
    """The book's aggregates: ``events`` applied, ``accounts``, summed ``equity``, ``maintenance_margin`` and
    ``initial_margin`` of every pool (from the risk book's float mirror, written as the shortest decimal that
    reads back as that float), ``near_liquidation`` (accounts within the band of liquidation, or past it),
    ``liquidatable`` (accounts with a pool the mirror finds liquidatable now, one that holds nothing aside),
    ``within`` (accounts whose nearest liquidation price is within 1%, 5%, 10% of its mark, or liquidatable:
    :func:`~crossmargin.service.insight.within_counts`) as of event ``liquidation_prices_at`` (``priced``,
    computed now if not given), ``adl_count`` (auto-deleveraging lines since the log began, as the caller
    counts them; None if it keeps no log), and the exact ``insurance_fund``, ``fee_pool`` and ``bad_debt``
    (base currency)."""
    book, state = loop.book, loop.state
    figures = book.figures[: book.pool_count]
    priced = priced_book(loop) if priced is None else priced
    return {
        "events": loop.seq,
        "accounts": len(book.accounts),
        "equity": float_string(float(np.sum(figures[:, 0]))),
        "maintenance_margin": float_string(float(np.sum(figures[:, 2]))),
        "initial_margin": float_string(float(np.sum(figures[:, 3]))),
        "near_liquidation": loop.at_risk(),
        "liquidatable": liquidatable_accounts(book),
        "within": dict(priced.within),
        "liquidation_prices_at": priced.seq,
        "adl_count": adl_count,
        "insurance_fund": decimal_string(state.value(INSURANCE_FUND)),
        "fee_pool": decimal_string(state.value(FEE_POOL)),
        "bad_debt": decimal_string(-state.value(BAD_DEBT)),
    }
