"""Each account's margin-ratio history since the service started (this process: it is not in the log, and a
restarted service starts a new history), from the risk book's float mirror.

A point is taken after a batch of events (:meth:`MarginHistory.record`) for every account the batch changed
(its money or positions: one point per batch, the mirror's figures at its end), and, at most once per second
of feed time (the oracle's clock), for every account whose last point is at least its spacing old (one
second at first). A point at the feed time of the account's last point replaces it.

The store is bounded: at most :data:`CAPACITY` points an account. When an account's points are full, every
other one is dropped (the first, third, ... are kept: the history still reaches back to the start, at half
the resolution) and its spacing doubles, so that its periodic points come as far apart as those kept.

Memory: three arrays of :data:`CAPACITY` rows and one column per account (feed time as float64, equity and
maintenance margin as float32: about seven significant digits, plenty for a chart), so an account holds
``CAPACITY x (8 + 4 + 4)`` = 3,840 bytes of points, plus 18 bytes of bookkeeping (its point count, int16;
its spacing and its cross pool, 8 bytes each) and its id's entry in a dict: 3,858 bytes of arrays. A row of
points is written only as points reach it, so memory grows with the points held, up to that bound (3.9 GB
for a million accounts).
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.live.loop import EngineLoop
from crossmargin.report.numbers import decimal_string, float_string

CAPACITY = 240
"""Points an account keeps at most (an even number: halving keeps every other one)."""
EVERY_S = 1.0
"""Feed seconds between an account's periodic points at first."""
_GROWTH = 1024
"""Accounts the arrays make room for beyond a quarter more than they hold, when one more comes."""


def _short(value: np.floating[Any]) -> str | None:
    """A float32 figure as the shortest decimal that reads back as that float32; None for NaN and infinities."""
    if not np.isfinite(value):
        return None
    return decimal_string(Decimal(np.format_float_positional(value, unique=True, trim="-")))


class MarginHistory:
    """The bounded margin-ratio history of every account (see module doc)."""

    def __init__(self, capacity: int = CAPACITY, every_s: float = EVERY_S) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number of at least 2, got {capacity}")
        self.capacity, self.every_s = capacity, every_s
        self.t = np.empty((capacity, 0), dtype=np.float64)
        """Feed time of each point (seconds): ``t[k, row]`` is the ``k``-th point of the account at ``row``."""
        self.equity = np.empty((capacity, 0), dtype=np.float32)
        self.maintenance = np.empty((capacity, 0), dtype=np.float32)
        self.count = np.zeros(0, dtype=np.int16)
        self.spacing = np.zeros(0, dtype=np.float64)
        self.pool = np.zeros(0, dtype=np.int64)
        """Each row's account's cross pool in the book recorded from (-1: not in it)."""
        self.rows: dict[str, int] = {}
        self._book: RiskBook | None = None
        self._seen = 0  # the book's accounts already given rows (in the book's order)
        self._next_sweep = float("-inf")

    # ------------------------------------------------------------------ recording

    def record(self, loop: EngineLoop, changed: Iterable[str]) -> None:
        """Take the points due after a batch (see module doc): for the accounts in ``changed`` (their money or
        positions changed), and for every account whose periodic point is due."""
        self._follow(loop.book)
        t = float(loop.oracle.clock)
        listed = np.array([self.rows[a] for a in changed if a in self.rows], dtype=np.int64)
        if t >= self._next_sweep:  # the whole book, at most once a second
            self._next_sweep = t + self.every_s
            n = len(self.rows)
            due = t - self._last_t() >= self.spacing[:n]
            due[listed] = True
            rows = np.flatnonzero(due)
        else:
            rows = np.unique(listed)
        rows = rows[self.pool[rows] >= 0]
        if len(rows):
            self._append(rows, t, loop.book)

    def _last_t(self) -> np.ndarray:
        """Each row's last point's time (-inf without one)."""
        last = np.full(len(self.rows), -np.inf)
        held = np.flatnonzero(self.count[: len(self.rows)])
        last[held] = np.take(self.t, (self.count[held].astype(np.int64) - 1) * self.t.shape[1] + held)
        return last

    def _append(self, rows: np.ndarray, t: float, book: RiskBook) -> None:
        """A point at ``t`` for each of ``rows``: the last point replaced where it is at ``t``, else appended
        (after halving full rows). Points are addressed in the flattened arrays (``k x columns + row``): one
        index array, not two."""
        columns = self.t.shape[1]
        count = self.count[rows].astype(np.int64)
        again = (count > 0) & (np.take(self.t, np.maximum(count - 1, 0) * columns + rows) == t)
        full = rows[~again & (count == self.capacity)]
        if len(full):
            half = self.capacity // 2
            for column in (self.t, self.equity, self.maintenance):
                column[:half, full] = column[0 : self.capacity : 2, full]
            self.count[full] = half
            self.spacing[full] *= 2.0
        at = self.count[rows].astype(np.int64) - again
        flat = at * columns + rows
        pools = self.pool[rows]
        np.put(self.t, flat, t)
        np.put(self.equity, flat, book.figures[pools, 0])
        np.put(self.maintenance, flat, book.figures[pools, 2])
        self.count[rows] = at + 1

    def _follow(self, book: RiskBook) -> None:
        """Rows for the accounts new in ``book``, and each row's cross pool there (a book rebuilt from the log
        numbers its pools anew)."""
        if book is not self._book:
            self._book, self._seen = book, 0
            self.pool[:] = -1
        if self._seen == len(book.accounts):
            return
        new = list(book.accounts)[self._seen :]
        self._seen = len(book.accounts)
        unseen = [a for a in new if a not in self.rows]
        held = len(self.rows)
        if held + len(unseen) > self.t.shape[1]:
            self._grow(held + len(unseen) + (held + len(unseen)) // 4 + _GROWTH)
        self.rows.update(zip(unseen, range(held, held + len(unseen)), strict=True))
        self.count[held : len(self.rows)] = 0
        self.spacing[held : len(self.rows)] = self.every_s
        rows = np.fromiter((self.rows[a] for a in new), dtype=np.int64, count=len(new))
        self.pool[rows] = np.fromiter((book.cross_pool[a] for a in new), dtype=np.int64, count=len(new))

    def _grow(self, columns: int) -> None:
        held = self.t.shape[1]
        for name in ("t", "equity", "maintenance"):
            old = getattr(self, name)
            grown = np.empty((self.capacity, columns), dtype=old.dtype)
            grown[:, :held] = old
            setattr(self, name, grown)
        for name in ("count", "spacing", "pool"):
            old = getattr(self, name)
            grown = np.zeros(columns, dtype=old.dtype)
            grown[:held] = old
            setattr(self, name, grown)

    # ------------------------------------------------------------------ reading

    def points(self, account_id: str) -> list[tuple[float, float, float]]:
        """The account's points, oldest first: (feed time, equity, maintenance margin) as recorded (equity and
        maintenance margin in base currency, float32)."""
        row = self.rows.get(account_id)
        if row is None:
            return []
        n = int(self.count[row])
        return list(zip(self.t[:n, row], self.equity[:n, row], self.maintenance[:n, row], strict=True))

    def view(self, account_id: str) -> dict[str, Any]:
        """The account's history as ``GET /v1/accounts/{id}/history`` shows it: ``points`` oldest first, each
        with ``t`` (feed seconds), ``equity`` and ``maintenance_margin`` (base currency, as recorded: float32
        written as its shortest decimal) and ``margin_ratio`` = MM / equity (computed in float32; None when
        equity <= 0)."""
        row = self.rows.get(account_id)
        if row is None:
            return {"account": account_id, "points": []}
        n = int(self.count[row])
        t = self.t[:n, row]
        equity, maintenance = self.equity[:n, row], self.maintenance[:n, row]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(equity > 0, maintenance / equity, np.nan).astype(np.float32)
        points = [
            {
                "t": float_string(float(t[k])), "margin_ratio": _short(ratio[k]), "equity": _short(equity[k]),
                "maintenance_margin": _short(maintenance[k]),
            }
            for k in range(n)
        ]  # fmt: skip
        return {"account": account_id, "points": points}

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the ids' dict aside)."""
        return sum(a.nbytes for a in (self.t, self.equity, self.maintenance, self.count, self.spacing, self.pool))
