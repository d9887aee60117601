"""Pools valued exactly in scaled integers, compiled: the same figures as the ``Decimal`` evaluator, digit for
digit, at a fraction of its cost.

The numbers come as scaled integers (:mod:`crossmargin.engine.exact_tables`: a 64-bit mantissa and a decimal
exponent each). A pool's sums are products and sums of those, kept exact as signed 128-bit integers
(:mod:`crossmargin.engine.wide_integers`) at the exponent of their finest term. Nothing is rounded: where a
figure does not fit 128 bits (or a pool holds a term or number the tables leave out) the pool is not valued
(``ok`` False) and goes to the ``Decimal`` evaluator instead (:func:`crossmargin.engine.book_exact.pool_verdict`),
so every answer is exact either way. A sum of fewer than 39 digits is also what the 50-digit ``Decimal`` context
computes without rounding, so the two paths agree to the last digit (property tests hold them equal).

Figures (base currency, :data:`FIGURES`): collateral value and its initial side, unrealized PnL, equity and
initial equity, initial and maintenance margin, and the liquidation verdict (see :mod:`crossmargin.margin.pools`).
"""

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numba import njit, prange

from crossmargin.engine.exact_tables import AssetTable, ChoiceTable, InstrumentTable, MarketTables, PoolTable, TierTable
from crossmargin.engine.kernels import on_cores, uncounted
from crossmargin.engine.wide_integers import (
    added,
    compared,
    negative,
    of_int,
    product,
    scaled_up,
    subtracted,
    times,
    to_int,
)
from crossmargin.model.numbers import EXACT

FIGURES = (
    "collateral_value",
    "initial_collateral_value",
    "unrealized_pnl",
    "equity",
    "initial_equity",
    "initial_margin",
    "maintenance_margin",
)
_CV, _ICV, _UPNL, _EQ, _IEQ, _IM, _MM = range(7)


# ---------------------------------------------------------------------- compiled


@uncounted
def _aligned(
    ahi: np.uint64, alo: np.uint64, ae: int, bhi: np.uint64, blo: np.uint64, be: int
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, int, bool]:  # fmt: skip
    """Two scaled wide integers brought to the finer of their exponents: ``(ahi, alo, bhi, blo, e, ok)``."""
    e = min(ae, be)
    ahi, alo, ok_a = scaled_up(ahi, alo, ae - e)
    bhi, blo, ok_b = scaled_up(bhi, blo, be - e)
    return ahi, alo, bhi, blo, e, ok_a and ok_b


@uncounted
def _accumulate(
    hi: np.ndarray, lo: np.ndarray, ex: np.ndarray, k: int, thi: np.uint64, tlo: np.uint64, te: int
) -> bool:
    """Add the term ``(thi, tlo) x 10**te`` to figure ``k`` (held at the finest exponent seen)."""
    ahi, alo, thi, tlo, e, ok = _aligned(hi[k], lo[k], ex[k], thi, tlo, te)
    if not ok:
        return False
    ahi, alo, ok = added(ahi, alo, thi, tlo)
    hi[k] = ahi
    lo[k] = alo
    ex[k] = e
    return ok


@uncounted
def _order(ahi: np.uint64, alo: np.uint64, ae: int, bhi: np.uint64, blo: np.uint64, be: int) -> tuple[int, bool]:
    """``compared`` for two scaled wide integers (the coarser one brought to the finer exponent)."""
    ahi, alo, bhi, blo, _, ok = _aligned(ahi, alo, ae, bhi, blo, be)
    return compared(ahi, alo, bhi, blo), ok


@uncounted
def _wide_difference(
    ahi: np.uint64, alo: np.uint64, ae: int, bm: int, be: int
) -> tuple[np.uint64, np.uint64, int, bool]:  # fmt: skip
    """``a - b`` for a wide ``a`` and a 64-bit ``b`` (both scaled), at the finer exponent."""
    bhi, blo = of_int(bm)
    ahi, alo, bhi, blo, e, aligned = _aligned(ahi, alo, ae, bhi, blo, be)
    hi, lo, ok = subtracted(ahi, alo, bhi, blo)
    return hi, lo, e, ok and aligned


@uncounted
def _difference(am: int, ae: int, bm: int, be: int) -> tuple[np.uint64, np.uint64, int, bool]:
    """``a - b`` for two scaled 64-bit integers, wide, at the finer exponent."""
    ahi, alo = of_int(am)
    return _wide_difference(ahi, alo, ae, bm, be)


@uncounted
def _weighted(
    assets: AssetTable, side: int, a: int, mhi: np.uint64, mlo: np.uint64, e: int
) -> tuple[np.uint64, np.uint64, int, bool]:  # fmt: skip
    """``sum over bands of weight x (units of the amount inside the band)`` for an amount ``(mhi, mlo) x 10**e >= 0``
    (a wide mantissa)."""
    total_hi, total_lo, total_e = np.uint64(0), np.uint64(0), 0
    ok = True
    start, end = assets.band_lo[side, a], assets.band_hi[side, a]
    for b in range(start, end):
        fm, fe = assets.from_m[b], assets.from_e[b]
        hi, lo, de, good = _wide_difference(mhi, mlo, e, fm, fe)
        if not good:
            return hi, lo, 0, False
        if negative(hi) or (hi == 0 and lo == 0):  # the amount does not reach this band
            break
        if b + 1 < end:
            uhi, ulo, ue, good = _difference(assets.from_m[b + 1], assets.from_e[b + 1], fm, fe)
            order, good_order = _order(uhi, ulo, ue, hi, lo, de)
            if not (good and good_order):
                return hi, lo, 0, False
            if order < 0:  # the band ends before the amount: count the band's whole width
                hi, lo, de = uhi, ulo, ue
        hi, lo, good = times(hi, lo, assets.weight_m[b])
        de += assets.weight_e[b]
        if not good:
            return hi, lo, 0, False
        total_hi, total_lo, hi, lo, total_e, good = _aligned(total_hi, total_lo, total_e, hi, lo, de)
        total_hi, total_lo, good_sum = added(total_hi, total_lo, hi, lo)
        ok = ok and good and good_sum
    return total_hi, total_lo, total_e, ok


@uncounted
def _collateral(pools: PoolTable, assets: AssetTable, p: int, hi: np.ndarray, lo: np.ndarray, ex: np.ndarray) -> bool:
    """Add the pool's collateral lines (both sides) to its figures."""
    for j in range(pools.balance_start[p], pools.balance_start[p + 1]):
        a = pools.balance_asset[j]
        mhi, mlo, e = pools.balance_hi[j], pools.balance_lo[j], pools.balance_e[j]
        pm, pe = assets.price_m[a], assets.price_e[a]
        for side in range(2):
            if not pools.haircut[p]:
                vhi, vlo, ok = times(mhi, mlo, pm)
                ve = e + pe
            elif negative(mhi):
                vhi, vlo, ok = times(mhi, mlo, assets.liability_m[side, a])
                vhi, vlo, good = times(vhi, vlo, pm)
                ve = e + assets.liability_e[side, a] + pe
                ok = ok and good
            else:
                vhi, vlo, ve, ok = _weighted(assets, side, a, mhi, mlo, e)
                vhi, vlo, good = times(vhi, vlo, pm)
                ve += pe
                ok = ok and good
            if not ok:
                return False
            value_k = _CV if side == 0 else _ICV
            equity_k = _EQ if side == 0 else _IEQ
            if not (_accumulate(hi, lo, ex, value_k, vhi, vlo, ve) and _accumulate(hi, lo, ex, equity_k, vhi, vlo, ve)):
                return False
    return True


@uncounted
def _requirement(
    instruments: InstrumentTable, tiers: TierTable, i: int, side: int,
    nhi: np.uint64, nlo: np.uint64, ne: int, uhi: np.uint64, ulo: np.uint64, ue: int,
) -> tuple[np.uint64, np.uint64, int, bool, bool]:  # fmt: skip
    """A position's ``side`` requirement (settle units) on the notional ``n``, its bracket found by ``n`` or by its
    size in units ``u`` as the instrument's tiers say; last, whether the bracket's rate is held (see
    :class:`TierTable`)."""
    start, end = instruments.tier_start[i], instruments.tier_start[i + 1]
    khi, klo, ke = (uhi, ulo, ue) if instruments.by_size[i] else (nhi, nlo, ne)
    t = end - 1
    for candidate in range(start, end):
        if tiers.open[candidate]:
            t = candidate
            break
        bhi, blo = of_int(tiers.max_m[candidate])
        order, ok = _order(khi, klo, ke, bhi, blo, tiers.max_e[candidate])
        if not ok:
            return nhi, nlo, 0, False, False
        if order <= 0:
            t = candidate
            break
    if side == 1 and not tiers.im_held[t]:
        return nhi, nlo, 0, True, False
    rate_m = tiers.mm_m[t] if side == 0 else tiers.im_m[t]
    rate_e = tiers.mm_e[t] if side == 0 else tiers.im_e[t]
    rhi, rlo, ok = times(nhi, nlo, rate_m)
    re = ne + rate_e
    if side == 0 and tiers.amount_m[t] != 0 and ok:
        rhi, rlo, re, ok = _wide_difference(rhi, rlo, re, tiers.amount_m[t], tiers.amount_e[t])
    return rhi, rlo, re, ok, True


@uncounted
def _positions(
    pools: PoolTable, instruments: InstrumentTable, tiers: TierTable, assets: AssetTable, choices: ChoiceTable,
    p: int, hi: np.ndarray, lo: np.ndarray, ex: np.ndarray, initial_held: np.ndarray,
) -> bool:  # fmt: skip
    """Add the pool's positions (PnL counted on each side, requirements) to its figures; ``initial_held[p]``
    False where a position's initial rate is not held."""
    isolated = 1 if pools.isolated[p] else 0
    for j in range(pools.position_start[p], pools.position_start[p + 1]):
        i = pools.instrument[j]
        sm, se = pools.size_m[j], pools.size_e[j]
        cm, ce = instruments.cs_m[i], instruments.cs_e[i]
        mm, me = instruments.mark_m[i], instruments.mark_e[i]
        settle = instruments.settle[i]
        qm, qe = assets.price_m[settle], assets.price_e[settle]
        dhi, dlo, de, ok = _difference(mm, me, pools.entry_m[j], pools.entry_e[j])
        phi, plo, good = times(dhi, dlo, sm)
        phi, plo, good_cs = times(phi, plo, cm)
        pe = de + se + ce
        if not (ok and good and good_cs):
            return False
        uhi, ulo, good_u = times(phi, plo, qm)
        if not (good_u and _accumulate(hi, lo, ex, _UPNL, uhi, ulo, pe + qe)):
            return False
        profit = not negative(phi) and (phi != 0 or plo != 0)
        for side in range(2):
            chi, clo, ce_, good = phi, plo, pe, True
            if profit:
                w_m = instruments.upnl_m[i] if side == 0 else instruments.iupnl_m[i]
                w_e = instruments.upnl_e[i] if side == 0 else instruments.iupnl_e[i]
                chi, clo, good = times(phi, plo, w_m)
                ce_ = pe + w_e
                if side == 1 and instruments.has_cap[i] and good:
                    bhi, blo = of_int(instruments.cap_m[i])
                    order, good = _order(chi, clo, ce_, bhi, blo, instruments.cap_e[i])
                    if order > 0:
                        chi, clo, ce_ = bhi, blo, instruments.cap_e[i]
            chi, clo, good_q = times(chi, clo, qm)
            if not (good and good_q and _accumulate(hi, lo, ex, _EQ if side == 0 else _IEQ, chi, clo, ce_ + qe)):
                return False
        abs_size = -sm if sm < 0 else sm
        units_hi, units_lo = product(abs_size, cm)
        units_e = se + ce
        for side in range(2):
            price_m, price_e = (pools.entry_m[j], pools.entry_e[j]) if choices.at_entry[side, isolated] else (mm, me)
            nhi, nlo, good = times(units_hi, units_lo, price_m)
            if not good:
                return False
            rhi, rlo, re, good, held = _requirement(
                instruments, tiers, i, side, nhi, nlo, units_e + price_e, units_hi, units_lo, units_e
            )
            if not held:
                initial_held[p] = False
                continue
            rhi, rlo, good_q = times(rhi, rlo, qm)
            if not (good and good_q and _accumulate(hi, lo, ex, _MM if side == 0 else _IM, rhi, rlo, re + qe)):
                return False
    return True


@uncounted
def _evaluate(
    lo: int, hi: int, items: np.ndarray, pools: PoolTable, instruments: InstrumentTable, tiers: TierTable,
    assets: AssetTable, choices: ChoiceTable, out_hi: np.ndarray, out_lo: np.ndarray, out_e: np.ndarray,
    liquidatable: np.ndarray, ok: np.ndarray, initial_held: np.ndarray,
) -> None:  # fmt: skip
    """Each eligible pool's (rows ``items[lo:hi]`` of the table) figures (``out_*[p, k]``, k in :data:`FIGURES`
    order) and verdict; ``ok[p]`` False where a pool is not eligible or a figure does not fit, ``initial_held[p]``
    False where its initial margin is not held (the other figures and the verdict are)."""
    for index in range(lo, hi):
        p = items[index]
        ok[p] = False
        initial_held[p] = True
        if not pools.eligible[p]:
            continue
        row_hi, row_lo, row_e = out_hi[p], out_lo[p], out_e[p]
        row_hi[:] = 0
        row_lo[:] = 0
        row_e[:] = 0
        if not _collateral(pools, assets, p, row_hi, row_lo, row_e):
            continue
        if not _positions(pools, instruments, tiers, assets, choices, p, row_hi, row_lo, row_e, initial_held):
            continue
        mhi, mlo, good = times(row_hi[_MM], row_lo[_MM], choices.threshold_m)
        order, good_order = _order(row_hi[_EQ], row_lo[_EQ], row_e[_EQ], mhi, mlo, row_e[_MM] + choices.threshold_e)
        if not (good and good_order):
            continue
        has_positions = pools.position_start[p + 1] > pools.position_start[p]
        if row_hi[_MM] == 0 and row_lo[_MM] == 0 and not choices.without_requirement:
            liquidatable[p] = False
        elif choices.at_equality and has_positions:
            liquidatable[p] = order <= 0
        else:
            liquidatable[p] = order < 0
        ok[p] = True


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class CompiledVerdicts:
    """The compiled path's answer for a list of pools: ``ok[p]`` where it valued pool ``p`` (then
    ``liquidatable[p]`` is its exact verdict and :meth:`figure` its figures, the initial margin where
    ``initial_held[p]``)."""

    ok: np.ndarray
    initial_held: np.ndarray
    liquidatable: np.ndarray
    hi: np.ndarray
    lo: np.ndarray
    exponent: np.ndarray

    @classmethod
    def none(cls, count: int) -> "CompiledVerdicts":
        """No pool of ``count`` valued (the arrays to fill)."""
        figures = (count, len(FIGURES))
        return cls(
            np.zeros(count, dtype=np.bool_), np.zeros(count, dtype=np.bool_), np.zeros(count, dtype=np.bool_),
            np.zeros(figures, dtype=np.uint64), np.zeros(figures, dtype=np.uint64), np.zeros(figures, dtype=np.int64),
        )  # fmt: skip

    def figure(self, p: int, k: int) -> Decimal:
        """Figure ``k`` (:data:`FIGURES` order) of pool ``p`` as an exact ``Decimal``."""
        value = Decimal(to_int(self.hi[p, k], self.lo[p, k]))
        return value.scaleb(int(self.exponent[p, k]), EXACT)


@njit(cache=True, parallel=True)
def _evaluate_on_threads(
    parts: int, n: int, items: np.ndarray, pools: PoolTable, instruments: InstrumentTable, tiers: TierTable,
    assets: AssetTable, choices: ChoiceTable, out_hi: np.ndarray, out_lo: np.ndarray, out_e: np.ndarray,
    liquidatable: np.ndarray, ok: np.ndarray, initial_held: np.ndarray,
) -> None:  # fmt: skip
    """:func:`_evaluate` over ``parts`` contiguous ranges of ``n`` items, in parallel (``kernels.on_cores``)."""
    for part in prange(parts):
        _evaluate(
            part * n // parts, (part + 1) * n // parts, items, pools, instruments, tiers, assets, choices, out_hi,
            out_lo, out_e, liquidatable, ok, initial_held,
        )  # fmt: skip


def evaluate_tables(table: PoolTable, market: MarketTables) -> CompiledVerdicts:
    """Run the compiled path over a pool table at a market (on every core for many pools)."""
    count = table.eligible.shape[0]
    verdicts = CompiledVerdicts.none(count)
    on_cores(
        _evaluate, np.arange(count, dtype=np.int64), table, market.instruments, market.tiers, market.assets,
        market.choices, verdicts.hi, verdicts.lo, verdicts.exponent, verdicts.liquidatable, verdicts.ok,
        verdicts.initial_held, spread=_evaluate_on_threads,
    )  # fmt: skip
    return verdicts
