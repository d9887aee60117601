"""What the service shows: an account as ``crossmargin evaluate --json`` shows it (plus whether it is frozen
and the statuses of the prices it depends on), the book's aggregates, and stream messages. Every number is
a decimal string (:func:`~crossmargin.report.numbers.decimal_string`, as the CLI writes them)."""

import json
from decimal import Decimal
from typing import Any

import numpy as np

from crossmargin.clearing.state import BAD_DEBT, FEE_POOL, INSURANCE_FUND
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from crossmargin.margin.account import evaluate_account
from crossmargin.margin.whatif import compare_modes
from crossmargin.model import Side
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


def account_detail(loop: EngineLoop, account_id: str) -> dict[str, Any]:
    """:func:`account_view` with what the account's page shows beside it: on each collateral line its
    ``weight`` and ``initial_weight`` (value / (amount x price): the asset's weight at that amount, averaged
    over its bands; for an amount owed, its liability weight, at least 1), and ``modes``: the account's
    positions all in cross margin and all isolated on the margin a trader would post, side by side, as
    ``crossmargin what-if --compare`` shows them (:func:`~crossmargin.margin.whatif.compare_modes`: ``cross``
    and ``isolated``, each with its initial and maintenance margin and the collateral it needs in base
    currency, the isolated margins in settle units and each leg's exact liquidation price)."""
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
    return {**view, "modes": {"cross": compared["cross"], "isolated": compared["isolated"]}}


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
