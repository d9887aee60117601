"""Screening: the accounts the float mirror finds at or near liquidation, each confirmed exactly.

A pool is a candidate when its float equity is below ``threshold x maintenance x (1 + band)`` (or, where
the rulebook liquidates pools without a requirement, below zero). Every candidate account is evaluated
by the exact evaluator (:func:`crossmargin.margin.pools.evaluate_pool`, each of its pools) at the book's exact market,
and only that verdict is reported: ``liquidatable`` when its cross pool or any isolated pool is, else
``near_liquidation``. Accounts outside the band are clear by more than the mirror's float error.
"""

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.margin.account import cross_pool, isolated_pool
from crossmargin.margin.pools import evaluate_pool

DEFAULT_BAND = Decimal("0.005")


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
    if book.rules.liquidate_without_requirement:
        near |= (maintenance == 0.0) & (equity < 0.0)
    return np.flatnonzero(near & ~book.holds_nothing(slice(0, count)))


def screen(book: RiskBook, band: Decimal = DEFAULT_BAND) -> TickResult:
    """Screen the book and confirm every candidate on the exact state."""
    pools = candidate_pools(book, band)
    accounts = sorted({book.owners[int(p)].account for p in pools})
    liquidatable: list[str] = []
    near: list[str] = []
    disagreed = 0
    for account_id in accounts:
        portfolio = book.portfolio_of([account_id])
        account = portfolio.accounts[0]
        own = [cross_pool(account), *(isolated_pool(p, portfolio) for p in account.positions if p.isolated)]
        exact_verdict = any(evaluate_pool(pool, portfolio, book.rules).liquidatable for pool in own)
        float_verdict = bool(book.liquidatable[book.pools_of(account_id)].any())
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
