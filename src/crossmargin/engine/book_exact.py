"""The compiled exact path over the risk book's own columns: the exact figures and verdicts of some of the book's
pools from its scaled-integer columns (:mod:`crossmargin.engine.book_columns`) and its exact market, with no
``Decimal`` object read or made per pool (:mod:`crossmargin.engine.exact_pools` for the arithmetic,
:mod:`crossmargin.engine.exact_tables` for what it holds). A pool it does not hold (``ok`` False) is evaluated
by :func:`pool_verdict` with the ``Decimal`` evaluator on the book's exact copy of its account.
"""

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.engine.exact_pools import CompiledVerdicts, evaluate_tables
from crossmargin.engine.exact_tables import (
    NOT_HELD,
    MarketTables,
    PoolTable,
    Unsupported,
    market_tables,
    supported_rules,
)
from crossmargin.engine.rule_arrays import INDEX
from crossmargin.margin.account import cross_pool, isolated_pool
from crossmargin.margin.pools import evaluate_pool


def _segments(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, at)``: the ranges ``start[n]:stop[n]`` laid end to end, ``first`` their CSR starts and ``at`` every
    index they cover, in order."""
    lengths = stop - start
    first = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=first[1:])
    at = np.arange(int(first[-1]), dtype=np.int64) + np.repeat(start - first[:-1], lengths)
    return first, at


def _per_pool(bad: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Whether each CSR range of ``first`` holds a True of ``bad``."""
    counted = np.zeros(len(bad) + 1, dtype=np.int64)
    np.cumsum(bad, out=counted[1:])
    return np.asarray(counted[first[1:]] > counted[first[:-1]])


def pool_table(book: RiskBook, pools: INDEX, instrument_map: np.ndarray, asset_map: np.ndarray) -> PoolTable:
    """The compiled path's table of ``pools`` from the book's columns (gathered, not walked); ``*_map``: the book's
    instrument and asset indices in the market tables (-1: not held there)."""
    pools = np.asarray(pools, dtype=np.int64)
    start, stop, slots = book.slots_of(pools)
    position_start, at = _segments(start, stop)
    order = slots[at]
    kept = book.exact_columns()
    exact = kept.slots
    instrument = instrument_map[book.instrument[order]]
    size_e, entry_e = exact.size_e[order].astype(np.int64), exact.entry_e[order].astype(np.int64)
    bad_positions = (instrument < 0) | (size_e == NOT_HELD) | (entry_e == NOT_HELD)
    highs, lows = kept.balances.amount_hi[:, pools].T, kept.balances.amount_lo[:, pools].T
    exponents = kept.balances.amount_e[:, pools].T.astype(np.int64)
    rows, columns = np.nonzero((highs != 0) | (lows != 0) | (exponents == NOT_HELD))
    balance_start = np.zeros(len(pools) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(pools)), out=balance_start[1:])
    balance_asset = asset_map[columns]
    balance_e = exponents[rows, columns]
    bad_balances = (balance_asset < 0) | (balance_e == NOT_HELD)
    eligible = ~_per_pool(bad_positions, position_start) & ~_per_pool(bad_balances, balance_start)
    haircut = book.haircut[pools]
    return PoolTable(
        eligible, haircut, ~haircut, balance_start, balance_asset, highs[rows, columns], lows[rows, columns], balance_e,
        position_start, instrument, exact.size[order], size_e, exact.entry[order], entry_e,
    )  # fmt: skip


def _market(book: RiskBook) -> MarketTables | None:
    """The market tables of the book's market (kept on its exact columns until the market is replaced); None
    where the path holds nothing under the book's rules."""
    columns = book.exact_columns()
    if columns.market is None or columns.market[0] is not book.market:
        portfolio = book.portfolio_of([])
        tables = None
        if supported_rules(book.rules, portfolio):
            try:
                tables = market_tables(portfolio, book.rules, book.instruments.names, book.assets.names)
            except Unsupported:
                tables = None
        columns.market = (book.market, tables)
    return columns.market[1]


def book_verdicts(book: RiskBook, pools: INDEX) -> CompiledVerdicts:
    """The exact figures and verdicts of the book's ``pools`` (book pool indices) on the compiled path, at the
    book's exact market (none where the rules are not held: ``ok`` all False)."""
    market = _market(book) if len(pools) else None
    if market is None:
        return CompiledVerdicts.none(len(pools))
    table = pool_table(book, pools, market.instrument_map, market.asset_map)
    return evaluate_tables(table, market)


def pool_verdict(book: RiskBook, verdicts: CompiledVerdicts, k: int, pool: int) -> bool:
    """Whether the book's pool ``pool`` (the ``k``-th of ``verdicts``) is liquidatable: the compiled verdict where
    it held the pool, else the ``Decimal`` evaluator's on the book's exact copy of its account."""
    if verdicts.ok[k]:
        return bool(verdicts.liquidatable[k])
    owner = book.owners[pool]
    portfolio = book.portfolio_of([owner.account])
    account = portfolio.accounts[0]
    if owner.instrument is None:
        chosen = cross_pool(account)
    else:
        leg = next((p for p in account.positions if (p.instrument, p.size > 0) == (owner.instrument, owner.long)), None)
        if leg is None:  # the pool of a closed isolated leg holds nothing
            return False
        chosen = isolated_pool(leg, portfolio)
    return evaluate_pool(chosen, portfolio, book.rules).liquidatable
