"""Realized correlations of several prices watched together, from snapshots of them all at irregular times
(float64 model figures, not ledger money).

Units: time in seconds; prices of any unit (only their log returns count). Weights as the realized-volatility
index's (:mod:`crossmargin.margin.realized_volatility`): an interval of ``dt`` seconds ending now weighs
``s = (h / ln 2)(1 - d)`` with ``d = 2 ** (-dt / h)``, ``h`` the half-life, and what came before decays by
``d``.

Each snapshot after the first gives every asset priced in it and in the one before a log return ``r_a`` over
the same interval. For each pair of such assets two decayed sums are kept::

    P_ab = d P_ab + (s / dt) r_a r_b           (weighted cross products)
    Q_ab = d Q_ab + (s / dt) r_a ** 2          (weighted squares of a, over the intervals b shared)
    rho_ab = P_ab / sqrt(Q_ab Q_ba)            (in [-1, 1]; None until both have moved together)

Zero-mean, as the variance index. With every interval of one length and no decay (``h`` very long) it is
the plain correlation of the returns about zero: returns ``(0.01, 0.02)`` then ``(-0.01, 0.01)`` give
``(0.0002 - 0.0001) / sqrt(0.0002 x 0.0005) = 1 / sqrt(10)``. Snapshots at one time add nothing: the next
snapshot a moment later measures its return from the last one before them (a return over no time has no
weight). An interval longer than ``max_gap_s`` gives no returns (what came before decays over it).

Snapshots must hold the assets' prices at one instant (the stress runner's step, the service's prices after a
batch): prices updated at different instants (asynchronous feeds) bias the estimate toward zero.
"""

import math
from collections.abc import Mapping

import numpy as np

from crossmargin.margin.realized_volatility import HALF_LIVES_S, MAX_GAP_S, check_positive, interval_weights
from crossmargin.model import InputError


class RealizedCorrelations:
    """Every pair's realized correlation from snapshots of prices (module doc), at one half-life."""

    def __init__(self, half_life_s: float = HALF_LIVES_S[0], max_gap_s: float = MAX_GAP_S) -> None:
        self.half_life_s = check_positive(half_life_s, "half_life_s")
        self.max_gap_s = check_positive(max_gap_s, "max_gap_s")
        self.names: dict[str, int] = {}
        self.last: dict[str, float] = {}
        self.t: float | None = None
        self.products = np.zeros((0, 0))
        self.squares = np.zeros((0, 0))

    def _index(self, asset: str) -> int:
        """``asset``'s row, added (with empty sums) at its first price."""
        row = self.names.get(asset)
        if row is None:
            row = self.names[asset] = len(self.names)
            grown = len(self.names)
            for name in ("products", "squares"):
                sums = np.zeros((grown, grown))
                sums[: grown - 1, : grown - 1] = getattr(self, name)
                setattr(self, name, sums)
        return row

    def observe(self, t: float, prices: Mapping[str, float]) -> None:
        """Take a snapshot: each asset's price (> 0) at ``t`` seconds (not before the last snapshot's time)."""
        if not math.isfinite(t) or (self.t is not None and t < self.t):
            raise InputError("t", f"a finite time not before {self.t}, got {t!r}")
        for asset, price in prices.items():
            check_positive(price, f"prices.{asset}")
        if self.t is not None and t == self.t:
            return
        if self.t is not None:
            dt = t - self.t
            keep, weight = interval_weights(dt, self.half_life_s)
            self.products *= keep
            self.squares *= keep
            shared = [a for a in prices if a in self.last]
            if dt <= self.max_gap_s and shared:
                rows = np.array([self._index(a) for a in shared])
                moved = np.log(np.array([prices[a] for a in shared]) / np.array([self.last[a] for a in shared]))
                scale = weight / dt
                self.products[np.ix_(rows, rows)] += scale * np.outer(moved, moved)
                self.squares[np.ix_(rows, rows)] += scale * (moved * moved)[:, None]
        for asset in prices:
            self._index(asset)
        self.last = dict(prices)
        self.t = t

    def correlation(self, a: str, b: str) -> float | None:
        """The realized correlation of ``a``'s and ``b``'s log returns (1 for one asset); None until both have
        moved over an interval they shared."""
        if a == b:
            return 1.0
        i, j = self.names.get(a), self.names.get(b)
        if i is None or j is None:
            return None
        scale = self.squares[i, j] * self.squares[j, i]
        if not scale > 0.0:
            return None
        return max(-1.0, min(1.0, float(self.products[i, j]) / math.sqrt(scale)))
