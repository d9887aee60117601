"""Screening: the accounts the float mirror finds at or near liquidation, each confirmed exactly.

A pool is a candidate when its float equity is below ``threshold x maintenance x (1 + band)`` (or, where
the rulebook liquidates pools without a requirement, at or below zero, within :data:`AT_ZERO`). Every pool of
every candidate account is evaluated exactly at the book's exact market: all at once on the compiled exact path
over the book's own scaled-integer columns (:mod:`crossmargin.engine.book_exact`), and any pool that path does
not hold by the ``Decimal`` evaluator (:func:`crossmargin.margin.pools.evaluate_pool`). Only that verdict is
reported: ``liquidatable`` when its cross pool or any isolated pool is, else ``near_liquidation``. Accounts
outside the band are clear by more than the mirror's float error.
"""

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_exact import book_verdicts, pool_verdict

DEFAULT_BAND = Decimal("0.005")
AT_ZERO = 1e-6
"""Base currency: a pool without a requirement whose float equity is at most this is a candidate, the exact
confirmation deciding: its exact equity may be a hair below 0 (-1E-19 left by balances that cancel but for their
last digits, which the float sums to 0.0), or exactly 0 with positions where equality liquidates."""


@dataclass(frozen=True)
class TickResult:
    """What a tick left: confirmed liquidatable and near-liquidation account ids, and book aggregates.

    ``total_equity`` and ``total_maintenance`` sum every pool (base currency, float mirror);
    ``accounts_at_risk`` counts the candidate accounts; ``mirror_disagreed`` the candidates whose float
    verdict differed from the exact one (expected only within the band).
    """

    liquidatable: tuple[str, ...]
    near_liquidation: tuple[str, ...]
    total_equity: float
    total_maintenance: float
    accounts_at_risk: int
    mirror_disagreed: int


def candidate_pools(book: RiskBook, band: Decimal = DEFAULT_BAND) -> np.ndarray:
    """Pools whose float figures put them within ``band`` of liquidation, or past it (not a pool that holds
    nothing: :meth:`~crossmargin.engine.book.RiskBook.holds_nothing`)."""
    count = book.pool_count
    figures = book.figures[:count]
    equity, maintenance = figures[:, 0], figures[:, 2]
    limit = maintenance * float(book.rules.liquidation_threshold) * (1.0 + float(band))
    near = (maintenance > 0.0) & (equity < limit)
    if book.rules.liquidate_without_requirement:  # the boundary is 0: a float there may be either side of it
        near |= (maintenance == 0.0) & (equity <= AT_ZERO)
    return np.flatnonzero(near & ~book.holds_nothing(slice(0, count)))


def screen(book: RiskBook, band: Decimal = DEFAULT_BAND) -> TickResult:
    """Screen the book and confirm every candidate on the exact state (module doc)."""
    candidates = candidate_pools(book, band)
    accounts = sorted({book.owners[int(p)].account for p in candidates})
    pools_of = [book.pools_of(account_id) for account_id in accounts]
    flat = [pool for pools in pools_of for pool in pools]
    verdicts = book_verdicts(book, np.array(flat, dtype=np.int64))
    liquidatable: list[str] = []
    near: list[str] = []
    disagreed = 0
    first = 0
    for account_id, pools in zip(accounts, pools_of, strict=True):
        exact_verdict = any(pool_verdict(book, verdicts, k, pool) for k, pool in enumerate(pools, start=first))
        first += len(pools)
        float_verdict = bool(book.liquidatable[pools].any())
        disagreed += exact_verdict != float_verdict
        (liquidatable if exact_verdict else near).append(account_id)
    figures = book.figures[: book.pool_count]
    return TickResult(
        liquidatable=tuple(liquidatable),
        near_liquidation=tuple(near),
        total_equity=float(figures[:, 0].sum()),
        total_maintenance=float(figures[:, 2].sum()),
        accounts_at_risk=len(accounts),
        mirror_disagreed=disagreed,
    )
