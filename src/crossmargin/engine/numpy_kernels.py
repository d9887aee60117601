"""The position kernel written with whole-array NumPy operations: the reference the fused Numba loop is
measured against (benchmarks) and checked against (tests). Same arithmetic as
:func:`crossmargin.engine.kernels.revalue_range`, for every slot at once."""

import numpy as np

from crossmargin.engine.rule_arrays import B1, F64, INDEX, InstrumentArrays


def _premium(rate: F64, imf: F64, units: F64) -> F64:
    return np.where(imf == 0.0, rate, np.maximum(rate, 0.8 * rate + imf * np.sqrt(units)))


def position_money(
    size: F64,
    entry: F64,
    instrument: INDEX,
    marks: F64,
    imr_now: F64,
    scale: F64,
    t: InstrumentArrays,
    at_entry: B1 | None = None,
) -> F64:
    """``[slot, 4]``: counted PnL (maintenance, initial), maintenance and initial margin (x the instrument's
    ``scale``), settle units. ``at_entry[slot, side]`` (side 0 maintenance, 1 initial) values that
    requirement of the slot's position at its entry price instead of the mark; None: every one at the mark."""
    q = size
    c = t.contract_size[instrument]
    m = marks[instrument]
    inverse = t.inverse[instrument]
    safe_entry = np.where(q != 0.0, entry, 1.0)
    notional = np.where(inverse, np.abs(q) * c / m, np.abs(q) * c * m)
    pnl = np.where(inverse, q * c * (1.0 / safe_entry - 1.0 / m), q * c * (m - safe_entry))
    step = t.quantum[instrument]
    rows = instrument
    units = np.abs(q) * c
    side = np.where(q > 0.0, 1.0, -1.0)
    imf = t.imf[rows]
    rounded = step > 0.0
    unit = np.where(rounded, step, 1.0)

    def valued(base: F64) -> tuple[F64, INDEX, F64]:
        """A requirement on notional ``base``: its margined notional, its bracket and its fee to close."""
        margined = np.where(rounded, np.floor(base / unit) * step, base)
        key = np.where(t.size_basis[instrument], units, margined)
        k = (key[:, None] > t.edges[instrument]).sum(axis=1)
        imr_k = t.imr[rows, k]
        bankruptcy_notional = np.where(
            inverse, units * (1.0 + side * imr_k) / safe_entry, units * safe_entry * (1.0 - side * imr_k)
        )
        return margined, k, t.close_fee[rows] * bankruptcy_notional

    if at_entry is None:
        margined_m, k_m, close_m = margined_i, k_i, close_i = valued(notional)
    else:
        at_e = np.where(inverse, units / safe_entry, units * safe_entry)
        margined_m, k_m, close_m = valued(np.where(at_entry[:, 0], at_e, notional))
        margined_i, k_i, close_i = valued(np.where(at_entry[:, 1], at_e, notional))
    rate_m = _premium(t.mmr[rows, k_m], imf, units) + t.liquidation_fee[rows]
    rate_i = _premium(imr_now[rows, k_i], imf, units)
    maintenance = margined_m * rate_m - t.amount[rows, k_m] + close_m
    initial = margined_i * rate_i + close_i
    if rounded.any():
        fraction = t.maintenance_fraction[rows]
        by_initial = np.ceil(np.ceil(margined_m * t.imr[rows, k_m] / unit) * unit * fraction / unit) * unit
        by_fraction = by_initial - t.amount[rows, k_m] + close_m
        plain = np.ceil(maintenance / unit) * unit
        maintenance = np.where(rounded, np.where(np.isnan(fraction), plain, by_fraction), maintenance)
        initial = np.where(rounded, np.ceil(initial / unit) * unit, initial)
    maintenance, initial = maintenance * scale[rows], initial * scale[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        discount = np.where(imf > 0.0, 1.1 / (1.0 + imf * np.sqrt(np.maximum(pnl, 0.0))), np.inf)
    weight_i = np.minimum(t.initial_upnl_weight[rows], discount)
    counted_m = np.where(pnl <= 0.0, pnl, pnl * t.upnl_weight[rows])
    counted_i = np.where(pnl <= 0.0, pnl, np.minimum(pnl * weight_i, t.upnl_cap[rows]))
    money = np.stack([counted_m, counted_i, maintenance, initial], axis=1)
    money[q == 0.0] = 0.0
    return money


def pool_money(
    money: F64, pool: INDEX, settle_of_slot: INDEX, prices: F64, n_pools: int, n_assets: int, by_asset: bool
) -> F64:
    """Sum position money (settle units) into ``[row, 4, pool]``: one row per settle asset in its units with
    ``by_asset``, else one row in base currency (empty slots have pool -1)."""
    used = pool >= 0
    rows = n_assets if by_asset else 1
    if by_asset:
        flat = settle_of_slot[used] * n_pools + pool[used]
        values = money[used]
    else:
        flat = pool[used].astype(np.int64)
        values = money[used] * prices[settle_of_slot[used]][:, None]
    out = np.empty((4, rows * n_pools), dtype=np.float64)
    for column in range(4):
        out[column] = np.bincount(flat, weights=values[:, column], minlength=rows * n_pools)
    return out.reshape(4, rows, n_pools).transpose(1, 0, 2)
