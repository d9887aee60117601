"""Who a risk book's pools belong to and which are due: small pure queries over its arrays, shared by the
dashboard's figures (:mod:`crossmargin.service.insight`) and the cascade forecast (:mod:`crossmargin.sim.forecast`).

A pool is an account's cross pool or one isolated position's (:class:`~crossmargin.engine.book.PoolOwner`);
per-pool arrays are indexed by pool, and an account is keyed by the index of its cross pool.
"""

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.engine.rule_arrays import I64


def cross_pools(book: RiskBook) -> I64:
    """For each pool of ``book``, the cross pool of the account it belongs to (a cross pool is its own): an
    account's key in per-pool arrays."""
    count = book.pool_count
    cross = np.arange(count, dtype=np.int64)
    for pool in np.flatnonzero(~book.haircut[:count]):  # the isolated pools (haircut False)
        cross[pool] = book.cross_pool[book.owners[int(pool)].account]
    return cross


def due_pools(book: RiskBook) -> I64:
    """The pools the mirror finds liquidatable now, other than those that hold nothing (an account liquidated
    to nothing keeps a residue of float sums: :meth:`~crossmargin.engine.book.RiskBook.holds_nothing`)."""
    pools = np.flatnonzero(book.liquidatable[: book.pool_count])
    return np.asarray(pools[~book.holds_nothing(pools)], dtype=np.int64)
