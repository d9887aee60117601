"""Each margin rule term's float form, one small function per term, beside the exact form it mirrors.

The exact forms (``Decimal``, the truth) live in :mod:`crossmargin.margin.positions`,
:mod:`crossmargin.margin.pools`, :mod:`crossmargin.model.size_premium` and
:class:`crossmargin.model.Asset`; each function here names the one it mirrors and is the only float formula
of that term: the fused kernels (:mod:`crossmargin.engine.kernels`,
:mod:`crossmargin.engine.risk_requirements`) call these and restate none. Adding a term means its model
field, its exact formula, its float formula here (reading the array :mod:`crossmargin.engine.rule_arrays`
copies it into) and its generator in ``tests/margin/test_rule_properties.py`` (docs/risk-book.md, "Adding a
rule term"). Terms evaluated once per market rather than per position (the open-interest-scaled initial rate,
the volatility multiplier) are computed by their exact form and copied (:func:`rule_arrays.market_arrays`).

Units: notionals, requirements and PnL in the position's settle asset; sizes in contracts; a side is
0 (maintenance) or 1 (initial), as in the kernels.

Rounding to a quantum (``margin_quantum``): the exact value of a requirement on a venue's lattice (prices
in ticks, sizes in lots, rates in ppm) is very often a multiple of the quantum, where its float may land a
few units of the last place on either side and a plain ceiling would add a whole quantum. So a float within
``SNAP`` (relative) of a multiple is taken as that multiple; float error is some 1e-15 relative, and an
exact value that close to a multiple without being one (it would then be one quantum off here: low when
rounding up, high when rounding down) is left to the screen's band like any float error.

A term no instrument uses may reach these functions as a :class:`~crossmargin.engine.rule_arrays.Uniform`
instead of its array (:func:`~crossmargin.engine.rule_arrays.trimmed`): Numba types it by its value
(:class:`UniformType`), indexing it gives that value as a constant, and the kernel is compiled without the
branches and loads the term costs, the formulas here unchanged.

A bracket is an unsigned index (:func:`bracket`): the arrays it indexes then need no check for a negative one.

The kernels that inline these functions are cached on disk by Numba, which checks only a kernel's own
source file: :func:`depends_on_terms` makes their caches follow this file (and the prefetch intrinsic's)
too, so a formula edited here is never served stale.
"""

import math
import operator
import os
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.dispatcher import Dispatcher
from numba.extending import NativeValue, models, overload, register_model, typeof_impl, unbox

from crossmargin.engine import prefetch
from crossmargin.engine.rule_arrays import B1, F64, INDEX, AssetArrays, InstrumentArrays, Trimmed, Uniform
from crossmargin.model import size_premium

MAINTENANCE, INITIAL = 0, 1
SNAP = 1e-12  # relative: a float this close to a multiple of a quantum is that multiple (see module doc)
DISCOUNT_NUMERATOR = float(size_premium.DISCOUNT_NUMERATOR)
PREMIUM_BASE = float(size_premium.PREMIUM_BASE)

unsigned = cast(Callable[[int], int], np.uint64)
"""``np.uint64`` (an index without a check for a negative one), typed as an ``int`` for the callers."""
ONE = unsigned(1)  # a step of an unsigned index

term = njit(cache=True, inline="always", error_model="numpy")


class UniformType(types.Type):
    """Numba's type of a :class:`~crossmargin.engine.rule_arrays.Uniform`: its value, part of the type (so of
    a kernel's signature and its cache key), and no data."""

    def __init__(self, value: float | bool) -> None:
        self.value = value
        super().__init__(name=f"Uniform({value!r})")


@typeof_impl.register(Uniform)
def _typeof_uniform(value: Uniform, context: Any) -> UniformType:
    return UniformType(value.value)


@typeof_impl.register(Trimmed)
def _typeof_trimmed(value: Trimmed, context: Any) -> types.Type:
    """A trimmed namedtuple's type, worked out once and kept on it: Numba types a tuple holding anything but
    arrays and scalars field by field in Python on every call (some 150 us for the instruments' arrays)."""
    known: types.Type | None = value.__dict__.get("numba_type")
    if known is None:
        known = value.__dict__["numba_type"] = typeof_impl.dispatch(tuple)(value, context)
    return known


register_model(UniformType)(models.OpaqueModel)


@unbox(UniformType)  # type: ignore[untyped-decorator, no-untyped-call]  # numba's extension API is untyped
def _unbox_uniform(typ: UniformType, obj: Any, c: Any) -> NativeValue:
    """No data: the value is in the type."""
    return NativeValue(ir.Constant(c.context.get_value_type(typ), None))  # type: ignore[no-untyped-call]


@overload(operator.getitem)
def _uniform_item(uniform: Any, index: Any) -> Callable[[Any, Any], float | bool] | None:
    """``uniform[i]`` for any index: the value, a constant."""
    if not isinstance(uniform, UniformType):
        return None
    value = uniform.value

    def item(uniform: Any, index: Any) -> float | bool:
        return value

    return item


@term
def notional(units: float, price: float, inverse: bool) -> float:
    """:func:`crossmargin.margin.positions.notional`: ``units = |size| x contract_size`` at ``price``."""
    return units / price if inverse else units * price


@term
def unrealized_pnl(q: float, c: float, entry: float, mark: float, inverse: bool) -> float:
    """:func:`crossmargin.margin.positions.unrealized_pnl` of ``q`` contracts of size ``c``."""
    if inverse:
        return q * c * (1.0 / entry - 1.0 / mark)
    return q * c * (mark - entry)


@term
def round_down(value: float, quantum: float) -> float:
    """:func:`crossmargin.margin.positions._round_down`: down to a multiple of ``quantum`` (snapped: module
    doc)."""
    steps = value / quantum
    nearest = math.floor(steps + 0.5)
    if abs(steps - nearest) <= SNAP * max(1.0, abs(steps)):
        return nearest * quantum
    return math.floor(steps) * quantum


@term
def round_up(value: float, quantum: float) -> float:
    """:func:`crossmargin.margin.positions._round_up`: up to a multiple of ``quantum`` (snapped: module doc)."""
    steps = value / quantum
    nearest = math.floor(steps + 0.5)
    if abs(steps - nearest) <= SNAP * max(1.0, abs(steps)):
        return nearest * quantum
    return math.ceil(steps) * quantum


@term
def margined_notional(value: float, quantum: float) -> float:
    """:func:`crossmargin.margin.positions.margined_notional`: truncated to ``margin_quantum`` (0: none)."""
    return round_down(value, quantum) if quantum > 0.0 else value


@term
def bracket(key: float, i: int, k: int, edges: F64) -> int:
    """:meth:`crossmargin.model.TierTable.index_for`: instrument ``i``'s bracket of ``key`` (the first whose
    upper edge is at least ``key``), searched from bracket ``k``; unsigned (module doc)."""
    found = unsigned(k)
    while key > edges[i, found]:
        found += ONE
    while found and key <= edges[i, found - ONE]:
        found -= ONE
    return found


@term
def bracket_key(units: float, margined: float, i: int, t: InstrumentArrays) -> float:
    """:func:`crossmargin.margin.positions.bracket_index`'s key: ``units`` under ``tier_basis: size``, else
    the margined notional."""
    return units if t.size_basis[i] else margined


@term
def premium_rate(rate: float, imf: float, units: float) -> float:
    """:func:`crossmargin.model.size_premium.premium_rate`: ``max(r, 0.8 r + imf x sqrt(units))``."""
    if imf == 0.0:
        return rate
    return max(rate, PREMIUM_BASE * rate + imf * math.sqrt(units))


@term
def discounted_weight(weight: float, imf: float, amount: float) -> float:
    """:func:`crossmargin.model.size_premium.discounted_weight`: ``min(w, 1.1 / (1 + imf x sqrt(amount)))``."""
    if imf == 0.0:
        return weight
    return min(weight, DISCOUNT_NUMERATOR / (1.0 + imf * math.sqrt(amount)))


@term
def close_fee(q: float, e: float, i: int, k: int, t: InstrumentArrays) -> float:
    """The ``close_fee_rate`` part of :func:`crossmargin.margin.positions.requirement_terms`: the rate x the
    notional at the bankruptcy price of ``q`` contracts from entry ``e`` at bracket ``k``'s max leverage."""
    rate = t.close_fee[i]
    if rate == 0.0:
        return 0.0
    side = 1.0 if q > 0.0 else -1.0
    imr = t.imr[i, k]
    units = abs(q) * t.contract_size[i]
    if t.inverse[i]:
        return float(rate * units * (1.0 + side * imr) / e)
    return float(rate * units * e * (1.0 - side * imr))


@term
def maintenance_requirement(
    margined: float, units: float, q: float, e: float, i: int, k: int, t: InstrumentArrays
) -> float:
    """:func:`crossmargin.margin.positions.requirement_terms` (maintenance) then
    :meth:`crossmargin.margin.positions.Requirement.of`: ``margined x (premium(mmr) + liquidation_fee_rate)
    - maint_amount + close fee``, rounded up to ``margin_quantum``; with a quantum and a maintenance
    fraction, the fraction of the rounded-up initial requirement at the bracket's rate, rounded up again."""
    fee = close_fee(q, e, i, k, t)
    step = t.quantum[i]
    if step > 0.0:
        fraction = t.maintenance_fraction[i]
        if fraction == fraction:
            return float(round_up(round_up(margined * t.imr[i, k], step) * fraction, step) - t.amount[i, k] + fee)
        rate = premium_rate(t.mmr[i, k], t.imf[i], units) + t.liquidation_fee[i]
        return round_up(margined * rate - t.amount[i, k] + fee, step)
    rate = premium_rate(t.mmr[i, k], t.imf[i], units) + t.liquidation_fee[i]
    return float(margined * rate - t.amount[i, k] + fee)


@term
def initial_requirement(
    margined: float, units: float, q: float, e: float, i: int, k: int, t: InstrumentArrays, initial_rate: F64
) -> float:
    """:func:`crossmargin.margin.positions.requirement_terms` (initial) then
    :meth:`~crossmargin.margin.positions.Requirement.of`: ``margined x premium(initial rate) + close fee``,
    rounded up to ``margin_quantum``; ``initial_rate[i, k]`` is the bracket's rate after open-interest
    scaling (:func:`crossmargin.margin.positions.open_interest_rate`, copied per market)."""
    value = margined * premium_rate(initial_rate[i, k], t.imf[i], units) + close_fee(q, e, i, k, t)
    step = t.quantum[i]
    return round_up(value, step) if step > 0.0 else float(value)


@term
def counted_pnl(pnl: float, i: int, t: InstrumentArrays) -> tuple[float, float]:
    """:func:`crossmargin.margin.positions.counted_pnl` on both sides: losses in full; a profit at
    ``upnl_weight`` (maintenance) and at ``initial_upnl_weight`` discounted by ``imf_factor`` for its size,
    at most ``initial_upnl_cap`` (initial). Branch-free in the sign (a tick's loop runs it on every slot)."""
    loss, gain = min(pnl, 0.0), max(pnl, 0.0)
    weight = discounted_weight(t.initial_upnl_weight[i], t.imf[i], gain)
    return loss + gain * t.upnl_weight[i], loss + min(gain * weight, t.upnl_cap[i])


@term
def weighted_amount(x: float, a: int, side: int, assets: AssetArrays) -> float:
    """:meth:`crossmargin.model.Asset.weighted_amount`: a holding through the marginal weight bands (or the
    size discount), a debt at the liability weight (with the size premium), in asset units, sign kept."""
    imf = assets.imf[a]
    if x >= 0.0:
        if imf > 0.0:
            return float(x * discounted_weight(assets.weight[side, a, 0], imf, x))
        band_from = assets.band_from
        b = 0
        while b + 1 < band_from.shape[1] and band_from[a, b + 1] <= x:
            b += 1
        return float(assets.offset[side, a, b] + assets.weight[side, a, b] * x)
    return float(x * premium_rate(assets.liability[side, a], imf, -x))


@term
def valued_at_entry(at_entry: B1, isolated: bool, side: int) -> bool:
    """:meth:`crossmargin.model.rules.MarginValuation.at_entry`: whether the ``side`` requirement of an
    isolated (else cross) position values it at its entry price rather than the mark (``at_entry``:
    :attr:`ChoiceArrays.at_entry <crossmargin.engine.rule_arrays.ChoiceArrays>`)."""
    return bool(at_entry[1 if isolated else 0, side])


@term
def is_liquidatable(
    equity: float,
    maintenance: float,
    positions: INDEX,
    p: int,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
) -> bool:
    """:func:`crossmargin.margin.pools.is_liquidatable` for pool ``p``: equity below ``threshold``
    (``liquidation_threshold``) x maintenance (``<=`` ``at_equality`` with positions: the pool's position
    count is read only then, saving a cache miss a pool otherwise); never without a requirement unless
    ``without_requirement``. The choices come as scalars: read through their namedtuple inside a kernel's
    loop they cost a tick some 10 ns a position."""
    required = maintenance * threshold
    if maintenance == 0.0 and not without_requirement:
        return False
    if at_equality and positions[p] > 0:
        return equity <= required
    return equity < required


def _stamp(path: str) -> tuple[float, int]:
    status = os.stat(path)
    return status.st_mtime, status.st_size


def depends_on_terms(namespace: dict[str, Any]) -> None:
    """Make every disk-cached kernel defined in ``namespace`` (a module's globals) stale when this file or
    the prefetch intrinsic changes, as when its own file does: Numba keys a cache index on the kernel's own
    source file alone, and these functions are compiled into the kernels that call them."""
    sources = tuple(_stamp(path) for path in (__file__, prefetch.__file__) if path is not None)
    for value in namespace.values():
        cache = getattr(value, "_cache", None) if isinstance(value, Dispatcher) else None
        index = getattr(cache, "_cache_file", None)
        if index is not None and value.py_func.__module__ == namespace["__name__"]:
            index._source_stamp = (index._source_stamp, *sources)
