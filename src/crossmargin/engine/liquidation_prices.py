"""Every position's liquidation price for the whole risk book, from its arrays.

The question is the exact solver's (:mod:`crossmargin.margin.liquidation_price`): the mark of a position's
instrument at which its pool (the account's cross pool, or the position's isolated pool) changes status when
the prices of :class:`~crossmargin.margin.scaling.Move` move by one factor ``s`` and every other price is
held: every mark and collateral price on the position's underlying by default, the position's own mark alone
where the rulebook says ``liquidation_price_moves: instrument``. The answer is the position's mark x ``s*``,
in the instrument's quote units like its mark (settle units per underlying for a linear contract, quote units
per coin for an inverse one), always positive. The positions of one pool that move together (the pool's
positions on one underlying, or the legs of one instrument) share ``s*``'s search.

How it is solved, pool by pool on every core (:func:`book_liquidation_prices`). The pool's health
``H(s) = equity(s) - threshold x maintenance(s)`` is evaluated in float64 from the book's arrays by the
terms of :mod:`crossmargin.engine.terms`, as the kernels value a pool: the moving positions at their scaled
marks, their settle asset's price x ``s`` where it moves, the balances through the weight bands (with the
positions' uPnL inside the settle collateral where the rulebook says so), the positions that do not move at
the figures the book already holds for them. Between breakpoints (a moving position's tier edges, unless its
maintenance is valued at entry or its tiers bound size; where its PnL changes sign, under a uPnL weight below
one; where a settle balance plus uPnL crosses a weight band or zero, under uPnL inside the settle collateral)
``H`` is linear in ``s``, or in ``1 / s`` where the moving positions are inverse contracts settled in a coin
whose price is held. So each stretch is valued at two points inside it (a third of the way and two thirds):
its root is the secant's, refined by one Newton step on the secant's slope valued inside the stretch (it takes
out the float error of far points), and equity and maintenance, each linear there too, give the status
anywhere on the stretch (from the Newton step's point, at the root, on either side of it). The walk is the
exact solver's: from the mark, a healthy long looks down first and a healthy short up first, an already
liquidatable pool the other way; in each stretch the status is decided just after its start, before its root
and after it (the exact solver's probes, here on the stretch's lines), then at the breakpoint that ends it
(valued only where the stretch's line puts it on the other side: otherwise the next stretch finds a change
there); the first change is the answer; if one direction never changes status the other is searched. Each
requirement of a moving position follows its unrounded line (a ``margin_quantum`` is not applied), as the
exact solver's roots do.

One shortcut: where every moving requirement is convex in its notional
(:func:`crossmargin.margin.positions.convex_maintenance`, or valued at entry) and uPnL does not count inside
the settle collateral (the balances are then linear in ``s``), ``H`` is concave (uPnL weights are at most
one). From a healthy mark, a direction whose first stretch finds nothing and whose far end is healthy too
then has no change at all (a concave function's least on an interval is at an end): the rest of its tiers are
not walked. A long fully covered by collateral costs a few evaluations, not two for every tier edge.

Cost. A pool's positions are gathered from the instrument blocks into contiguous scratch, a thread's
``CHUNK`` pools at a time; the health is evaluated some seven times a position, inlined (no call per step);
the functions of the search allocate nothing and are compiled without reference counting.

What is NaN, with its :class:`Outcome`:

- ``NONE``: no change of status between ``SCALE_MIN`` and ``SCALE_MAX`` times the mark (for instance a long
  fully covered by collateral: it stays healthy down to zero). The exact solver gives None, or a price
  further than that from the mark.
- ``NOT_SOLVED``: the pool is not of the solver's shape and the exact path gives None too
  (:func:`crossmargin.margin.account.solver_follows`, :func:`~crossmargin.margin.account.solver_prices`): an
  option in the pool, or rules with a scenario grid, a VaR floor or volatility scaling.
- ``UNSUPPORTED``: a pool the exact solver refuses as well: a moving balance (uPnL inside the settle
  collateral) of an asset with a size discount, whose weighted amount is not piecewise linear; moving
  positions of both forms (an inverse contract settled in the base currency beside one whose price moves).
- ``EMPTY``: the slot holds no position.

Tolerance. Against the exact solver on random books under random rules (``tests/engine/
test_liquidation_prices.py``): within ``1e-9`` of the price plus ``1e-12`` of the mark; NaN exactly where
the exact solver gives None (or a price beyond the range above). Where a pool's health at the mark is within
the float error of zero its status there, and so the direction searched first, is the float's (the answer
is then the mark, or the other direction's). A figure shown for one account is made exact by
:func:`confirmed`, which runs the exact solver for that account.
"""

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt
from numba import njit, prange

from crossmargin.engine import kernels, terms
from crossmargin.engine.book import RiskBook
from crossmargin.engine.kernels import PoolArrays, SlotArrays, uncounted
from crossmargin.engine.risk_requirements import slots_by_pool
from crossmargin.engine.rule_arrays import B1, F64, I64, INDEX, AssetArrays, ChoiceArrays, InstrumentArrays
from crossmargin.engine.rule_arrays import MarketArrays as Market
from crossmargin.engine.terms import MAINTENANCE
from crossmargin.margin.account import evaluate_account, solver_follows, solver_prices
from crossmargin.margin.positions import convex_maintenance
from crossmargin.margin.scaling import Move
from crossmargin.model.rules import PriceMove

SCALE_MIN, SCALE_MAX = 1e-9, 1e9
"""The range of ``s`` searched: a liquidation price further than nine orders of magnitude from the mark is
not one a risk team acts on, and there the pool's figures are within float error of their constant part."""
inlined = njit(cache=True, error_model="numpy", inline="always")
"""What runs in every step (the pool's health) and for every pool (its setup, the walks): inlined, so that no
call passes every array of the book's namedtuples, flattened (a call costs three times the health of a pool of
two positions). Each call site is a copy: each has one, but the health three (the walk's, the setup's, and
:func:`_valued` for the rare others)."""
INSIDE = 1e-9
"""How far inside its stretch (a share of its length) a Newton step from a secant root outside it is valued."""
SHARES = 16
"""Ranges of pools per thread on every core (taken dynamically)."""
CHUNK = 1024
"""Pools whose positions a thread gathers at once into contiguous arrays before pricing them (the slots of a
pool lie in its instruments' blocks, apart)."""
I8 = npt.NDArray[np.int8]


class Outcome(IntEnum):
    """What a slot's figure is (module doc)."""

    PRICED = 0
    NONE = 1
    NOT_SOLVED = 2
    UNSUPPORTED = 3
    EMPTY = 4


_PRICED, _NONE = int(Outcome.PRICED), int(Outcome.NONE)  # as the kernels write them
_NOT_SOLVED, _UNSUPPORTED = int(Outcome.NOT_SOLVED), int(Outcome.UNSUPPORTED)


class LiquidationPrices(NamedTuple):
    """Per position slot of the book (the book's slot order): the liquidation price (the mark, in the
    instrument's quote units, at which the slot's pool changes status; NaN: none, see ``outcome``), what the
    figure is (an :class:`Outcome` value), and the slot's pool (-1: empty) and instrument, as they were."""

    price: F64
    outcome: I8
    pool: INDEX
    instrument: INDEX


class MoveArrays(NamedTuple):
    """What moves together, per instrument ``i``: ``group[i]`` (the instruments of a group move by one factor:
    one underlying's, or the instrument alone), ``moving_asset[group]`` (the asset whose price moves with the
    group, -1: none), ``unsolved[i]`` (an option: its pool gets no price) and ``convex[i]`` (its maintenance
    requirement is convex in the notional: :func:`crossmargin.margin.positions.convex_maintenance`)."""

    group: I64
    moving_asset: I64
    unsolved: B1
    convex: B1


def move_arrays(book: RiskBook, kind: PriceMove | None = None) -> MoveArrays:
    """The book's instruments grouped by what moves with each: :meth:`Move.of
    <crossmargin.margin.scaling.Move.of>` under ``kind``, by default the rulebook's ``liquidation_price_moves``
    (the liquidation odds move the underlying whatever the rulebook: :mod:`crossmargin.sim.forecast_odds`)."""
    portfolio = book.portfolio_of([])
    kind = book.rules.liquidation_price_moves if kind is None else kind
    moves = [Move.of(portfolio, name, kind) for name in book.instruments.names]
    distinct = list(dict.fromkeys(moves))
    held = [[a for a in move.assets if a in book.asset_table] for move in distinct]
    return MoveArrays(
        group=np.array([distinct.index(move) for move in moves], dtype=np.int64),
        moving_asset=np.array([book.assets.index(a[0]) if a else -1 for a in held], dtype=np.int64),
        unsolved=np.array([not solver_prices(book.instrument_table[n]) for n in book.instruments.names], np.bool_),
        convex=np.array([convex_maintenance(book.instrument_table[n]) for n in book.instruments.names], np.bool_),
    )


class _Problem(NamedTuple):
    """One pool with one group moving, and the thread's scratch arrays filled for it."""

    p: int
    n: int  # the pool's positions: slots[:n]
    slots: I64  # [k] the pool's slots
    moving: B1  # [k] the position moves with the group
    entry_mm: F64  # [k] a moving position's maintenance valued at entry, base currency at s = 1 (NaN: at the mark)
    moving_asset: int  # the asset whose price moves (-1: none)
    recip: bool  # the health is linear in 1 / s (else in s)
    folded: bool  # uPnL inside the settle collateral (a cross pool under that rule)
    concave: bool  # the health is concave in s (or 1 / s): see _walk
    gap: float  # the health at the mark, equity less threshold x maintenance (base currency)
    fixed: F64  # [4] held equity, equity x s, held maintenance, maintenance x s (base currency)
    amount0: F64  # [asset] folded: balance + the held positions' counted uPnL (settle units)
    amount: F64  # [asset] folded: amount0 + the moving positions' counted uPnL at the last s evaluated
    settles: I64  # [asset] what moves its amount: 0 nothing, 1 linear contracts, 2 inverse ones
    cuts: F64  # both walks' breakpoints and 1, ascending (_cuts)
    points: F64  # [2, asset] the amounts at two points of a stretch


@inlined
def _health(
    s: float, pr: _Problem, slots: SlotArrays, market: Market, t: InstrumentArrays, assets: AssetArrays
) -> tuple[float, float]:
    """The pool's (equity, maintenance margin), base currency, with the group's prices x ``s``."""
    equity = pr.fixed[0] + pr.fixed[1] * s
    maintenance = pr.fixed[2] + pr.fixed[3] * s
    amount = pr.amount
    if pr.folded:
        for a in range(amount.shape[0]):
            amount[a] = pr.amount0[a]
    for k in range(pr.n):
        if not pr.moving[k]:
            continue
        j = pr.slots[k]
        i = slots.instrument[j]
        q, e, a = slots.size[j], slots.entry[j], t.settle[i]
        c, inverse = t.contract_size[i], t.inverse[i]
        mark = market.marks[i] * s
        moves = s if a == pr.moving_asset else 1.0
        counted = terms.counted_pnl(terms.unrealized_pnl(q, c, e, mark, inverse), i, t)[0]
        if pr.folded:
            amount[a] += counted
        else:
            equity += counted * market.prices[a] * moves
        if pr.entry_mm[k] == pr.entry_mm[k]:
            maintenance += pr.entry_mm[k] * moves
            continue
        units = abs(q) * c
        margined = terms.margined_notional(terms.notional(units, mark, inverse), t.quantum[i])
        bracket = terms.bracket(terms.bracket_key(units, margined, i, t), i, slots.bracket[j], t.edges)
        requirement = terms.maintenance_requirement(margined, units, q, e, i, bracket, t) * market.scale[i]
        maintenance += requirement * market.prices[a] * moves
    if pr.folded:
        for a in range(amount.shape[0]):
            if amount[a] != 0.0:
                moves = s if a == pr.moving_asset else 1.0
                equity += terms.weighted_amount(amount[a], a, MAINTENANCE, assets) * market.prices[a] * moves
    return equity, maintenance


@uncounted
def _valued(
    s: float, pr: _Problem, slots: SlotArrays, market: Market, t: InstrumentArrays, assets: AssetArrays
) -> tuple[float, float]:
    """:func:`_health` as a call, where the health is rarely wanted: a cut valued, a band crossing refined."""
    return _health(s, pr, slots, market, t, assets)


@inlined
def _liquidatable(
    s: float,
    pr: _Problem,
    slots: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
) -> bool:
    """The rulebook's verdict on the pool at ``s``."""
    equity, maintenance = _valued(s, pr, slots, market, t, assets)
    threshold, at_equality, without = choices.threshold, choices.at_equality, choices.without_requirement
    return terms.is_liquidatable(equity, maintenance, pools.positions, pr.p, threshold, at_equality, without)


@inlined
def _status_at(
    x: float, line: tuple[float, float, float, float, float], p: int, pools: PoolArrays, choices: ChoiceArrays
) -> bool:
    """The rulebook's verdict on pool ``p`` at ``x`` of a stretch whose equity and maintenance are each linear in
    ``x`` there: ``line = (x0, equity0, maintenance0, equity slope, maintenance slope)``, valued at ``x0``."""
    x0, equity0, maintenance0, equity_slope, maintenance_slope = line
    equity = equity0 + equity_slope * (x - x0)
    maintenance = maintenance0 + maintenance_slope * (x - x0)
    threshold, at_equality, without = choices.threshold, choices.at_equality, choices.without_requirement
    return terms.is_liquidatable(equity, maintenance, pools.positions, p, threshold, at_equality, without)


@inlined
def _x(s: float, recip: bool) -> float:
    """The variable the health is linear in: ``s``, or ``1 / s``."""
    return 1.0 / s if recip else s


@inlined
def _sort(cuts: F64, count: int) -> None:
    """Sort ``cuts[:count]`` ascending in place (a few values: insertion)."""
    for n in range(1, count):
        value = cuts[n]
        m = n - 1
        while m >= 0 and cuts[m] > value:
            cuts[m + 1] = cuts[m]
            m -= 1
        cuts[m + 1] = value


@inlined
def _add_cut(cuts: F64, count: int, s: float) -> int:
    """Append scale ``s`` where it lies within the range searched."""
    if SCALE_MIN < s < SCALE_MAX:
        cuts[count] = s
        return count + 1
    return count


@uncounted
def _band_crossings(
    lo: float,
    hi: float,
    count: int,
    pr: _Problem,
    slots: SlotArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
) -> int:
    """Within ``(lo, hi)`` (uPnL weights fixed), the scales where a moving settle amount (uPnL inside the settle
    collateral) reaches zero or a weight band's start, appended to ``pr.cuts[count:]``; the new count. Each
    amount is linear in ``s`` there, or in ``1 / s`` for an inverse contract's coin: a secant through two points
    inside, then a Newton step."""
    n_assets = pr.amount.shape[0]
    for side in range(2):
        _valued(lo + (hi - lo) * (side + 1.0) / 3.0, pr, slots, market, t, assets)  # fills pr.amount
        for a in range(n_assets):
            pr.points[side, a] = pr.amount[a]
    for a in range(n_assets):
        kind = pr.settles[a]
        if kind == 0 or pr.points[0, a] == pr.points[1, a]:
            continue
        y0, y1 = lo + (hi - lo) / 3.0, lo + 2.0 * (hi - lo) / 3.0
        if kind == 2:
            y0, y1 = 1.0 / y0, 1.0 / y1
        slope = (pr.points[1, a] - pr.points[0, a]) / (y1 - y0)
        for b in range(assets.band_from.shape[1]):
            edge = assets.band_from[a, b]
            if edge == math.inf:
                break
            y = y0 + (edge - pr.points[0, a]) / slope
            s = 1.0 / y if kind == 2 else y
            if not lo * 0.5 < s < hi * 2.0:
                continue
            _valued(s, pr, slots, market, t, assets)
            y -= (pr.amount[a] - edge) / slope
            s = 1.0 / y if kind == 2 else y
            if lo < s < hi:
                count = _add_cut(pr.cuts, count, s)
    return count


@inlined
def _cuts(pr: _Problem, slots: SlotArrays, market: Market, t: InstrumentArrays, assets: AssetArrays) -> int:
    """The breakpoints of both walks (module doc) and the mark's scale 1 (where both start) into ``pr.cuts``,
    ascending; their count."""
    cuts = pr.cuts
    cuts[0] = 1.0
    count = 1
    for k in range(pr.n):
        if not pr.moving[k]:
            continue
        j = pr.slots[k]
        i = slots.instrument[j]
        mark = market.marks[i]
        if t.upnl_weight[i] != 1.0:
            count = _add_cut(cuts, count, slots.entry[j] / mark)
        if t.size_basis[i] or pr.entry_mm[k] == pr.entry_mm[k]:
            continue
        notional = terms.notional(abs(slots.size[j]) * t.contract_size[i], mark, t.inverse[i])
        for b in range(t.edges.shape[1]):
            edge = t.edges[i, b]
            if edge == math.inf:
                break
            count = _add_cut(cuts, count, notional / edge if t.inverse[i] else edge / notional)
    _sort(cuts, count)
    if pr.folded:
        stops = count
        for n in range(stops + 1):
            lo = SCALE_MIN if n == 0 else cuts[n - 1]
            hi = cuts[n] if n < stops else SCALE_MAX
            count = _band_crossings(lo, hi, count, pr, slots, market, t, assets)
        _sort(cuts, count)
    return count


@inlined
def _walk(
    down: bool,
    status: bool,
    count: int,
    pr: _Problem,
    slots: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
) -> float:
    """The first scale, moving from 1 down (else up), where the pool's status is not ``status``; NaN: none.
    ``pr.cuts[:count]``: the breakpoints of both walks (:func:`_cuts`)."""
    below = 0
    while below < count and pr.cuts[below] < 1.0:
        below += 1
    above = below
    while above < count and pr.cuts[above] <= 1.0:
        above += 1
    steps = below if down else count - above
    threshold, at_equality, without = choices.threshold, choices.at_equality, choices.without_requirement
    positions = pools.positions
    start = 1.0
    for n in range(steps + 1):
        last = n == steps
        cut = (SCALE_MIN if down else SCALE_MAX) if last else pr.cuts[below - 1 - n if down else above + n]
        if cut == start:
            continue
        xa, xb = (1.0 / start, 1.0 / cut) if pr.recip else (start, cut)
        x1, x2 = xa + (xb - xa) / 3.0, xa + 2.0 * (xb - xa) / 3.0
        lo, hi = min(start, cut), max(start, cut)
        # The stretch's secant points and a Newton step from the secant's root, valued at one site (the health
        # is inlined once). The step takes out the float error of the secant's far points.
        equity1 = maintenance1 = equity2 = maintenance2 = equity3 = maintenance3 = h1 = slope = 0.0
        x = x3 = math.nan
        for k in range(3):
            if k == 2 and not lo * 0.5 < (1.0 / x if pr.recip else x) < hi * 2.0:
                break  # no root near (or a flat line: x is NaN)
            # the Newton step is valued inside the stretch, on its own line (a secant root pushed just past an
            # end by the far points' float error is brought back)
            clamped = min(max(x, min(xa, xb) + INSIDE * abs(xb - xa)), max(xa, xb) - INSIDE * abs(xb - xa))
            at = x1 if k == 0 else x2 if k == 1 else clamped
            equity, maintenance = _health(1.0 / at if pr.recip else at, pr, slots, market, t, assets)
            gap = equity - threshold * maintenance
            if k == 0:
                equity1, maintenance1, h1 = equity, maintenance, gap
            elif k == 1:
                equity2, maintenance2 = equity, maintenance
                if gap != h1:
                    slope = (gap - h1) / (x2 - x1)
                    x = x1 - h1 / slope
            else:
                x3, equity3, maintenance3 = at, equity, maintenance
                x = at - gap / slope
        root = 1.0 / x if pr.recip else x
        slopes = ((equity2 - equity1) / (x2 - x1), (maintenance2 - maintenance1) / (x2 - x1))
        # As the exact solver's segment: the status just after the start, before the root and after it, here
        # on the stretch's lines through the Newton step's point, at the root (the float error of the secant's
        # points grows with their distance; the status at the root itself is the one after it, the line
        # crossing there)
        if lo < root < hi:
            line = (x3, equity3, maintenance3, slopes[0], slopes[1])
            if _status_at(_x(0.5 * (start + root), pr.recip), line, pr.p, pools, choices) != status:
                return start
            if _status_at(_x(0.5 * (root + cut), pr.recip), line, pr.p, pools, choices) != status:
                return root
        else:  # no root: the status is the same anywhere inside (the exact solver probes the middle)
            inside = terms.is_liquidatable(equity1, maintenance1, positions, pr.p, threshold, at_equality, without)
            if inside != status:
                return start
        if last:
            return math.nan
        # The status at the cut is that of one side's limit. Where the stretch's line holds the walk's status
        # there, the cut changes nothing the next stretch would not find (its status right after the cut
        # differs: the answer is the cut either way). Else the cut is valued.
        if (
            _status_at(xb, (x2, equity2, maintenance2, slopes[0], slopes[1]), pr.p, pools, choices) != status
            and _liquidatable(cut, pr, slots, pools, market, t, assets, choices) != status
        ):
            return cut
        if n == 0 and steps >= 2 and pr.concave and not status and pr.gap > 0.0:
            # Healthy at the mark and concave: the health's least on the rest of the way is at one of its ends,
            # so where it is healthy at the far end too, no status changes (a whole walk saved, tier by tier)
            end = SCALE_MIN if down else SCALE_MAX
            equity, maintenance = _valued(end, pr, slots, market, t, assets)
            far = terms.is_liquidatable(equity, maintenance, positions, pr.p, threshold, at_equality, without)
            if not far and equity - threshold * maintenance > 0.0:
                return math.nan
        start = cut
    return math.nan


@inlined
def _setup(
    g: int,
    pr: _Problem,
    slots: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    moves: MoveArrays,
) -> tuple[int, bool, bool, float, bool]:
    """Fill ``pr`` for group ``g`` moving: which positions move, what is held (``fixed``, ``amount0``), what
    moves each settle amount. Returns the pool's outcome where it cannot be solved (else -1), whether its
    health is linear in ``1 / s``, whether it is concave (uPnL not inside the settle collateral, so the
    balances are linear in ``s``, and every moving requirement convex in its notional, or fixed at entry), and
    its health and status at the mark. The held positions' figures are the book's cached ones (settle units
    where uPnL counts inside the settle collateral, else base currency)."""
    p, ma, fixed, cached, prices = pr.p, pr.moving_asset, pr.fixed, slots.cached, market.prices
    haircut = pools.haircut[p]
    fixed[:] = 0.0
    pr.settles[:] = 0
    for a in range(pools.balance.shape[0]):
        held = pools.balance[a, p]
        if pr.folded:
            pr.amount0[a] = held
        elif held != 0.0:
            weighted = terms.weighted_amount(held, a, MAINTENANCE, assets) if haircut else held
            fixed[1 if a == ma else 0] += weighted * prices[a]
    at_entry = terms.valued_at_entry(choices.at_entry, not haircut, MAINTENANCE)
    linear = recip = False
    concave = not pr.folded
    for k in range(pr.n):
        j = pr.slots[k]
        i = slots.instrument[j]
        a = t.settle[i]
        to_base = prices[a] if choices.folded else 1.0
        pr.moving[k] = moves.group[i] == g
        if pr.moving[k]:
            pr.entry_mm[k] = cached[j, 2] * to_base if at_entry else math.nan
            concave = concave and (at_entry or moves.convex[i])
            kind = 2 if t.inverse[i] else 1
            if pr.folded and (assets.imf[a] > 0.0 or pr.settles[a] not in (0, kind)):
                return _UNSUPPORTED, False, False, 0.0, False
            pr.settles[a] = kind
            if t.inverse[i] and a != ma:
                recip = True
            else:
                linear = True
            continue
        part = 1 if a == ma else 0
        if pr.folded:
            pr.amount0[a] += cached[j, 0]
        else:
            fixed[part] += cached[j, 0] * to_base
        fixed[2 + part] += cached[j, 2] * to_base
    if linear and recip:
        return _UNSUPPORTED, False, False, 0.0, False
    equity, maintenance = _health(1.0, pr, slots, market, t, assets)
    threshold, at_equality, without = choices.threshold, choices.at_equality, choices.without_requirement
    status = terms.is_liquidatable(equity, maintenance, pools.positions, p, threshold, at_equality, without)
    return -1, recip, concave, equity - threshold * maintenance, status


@inlined
def _price_pool(
    p: int,
    start: int,
    n: int,
    pr: _Problem,
    done: B1,
    near: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    moves: MoveArrays,
    price: F64,
    outcome: I8,
) -> None:
    """Every position of pool ``p`` (``near[start:start + n]``, gathered): its price and outcome into ``price``
    and ``outcome`` at the same places (``pr`` holds the thread's scratch)."""
    js = pr.slots
    for k in range(n):
        js[k] = start + k
        if moves.unsolved[near.instrument[start + k]]:
            for m in range(start, start + n):
                outcome[m] = _NOT_SOLVED
            return
    folded = choices.folded and pools.haircut[p]
    for k in range(n):
        done[k] = False
    for k in range(n):
        if done[k]:
            continue
        g = moves.group[near.instrument[js[k]]]
        ma = moves.moving_asset[g]
        pr = _Problem(p, n, js, pr.moving, pr.entry_mm, ma, False, folded, False, 0.0, pr.fixed, pr.amount0,
                      pr.amount, pr.settles, pr.cuts, pr.points)  # fmt: skip
        verdict, recip, concave, gap, status = _setup(g, pr, near, pools, market, t, assets, choices, moves)
        pr = _Problem(p, n, js, pr.moving, pr.entry_mm, ma, recip, folded, concave, gap, pr.fixed, pr.amount0,
                      pr.amount, pr.settles, pr.cuts, pr.points)  # fmt: skip
        for m in range(k, n):
            done[m] = done[m] or pr.moving[m]
        if verdict >= 0:
            for m in range(k, n):
                if pr.moving[m]:
                    outcome[js[m]] = verdict
            continue
        count = _cuts(pr, near, market, t, assets)
        down_scale = up_scale = math.nan
        down_searched = up_searched = False
        for m in range(k, n):
            if not pr.moving[m]:
                continue
            j = js[m]
            first_down = (near.size[j] > 0.0) != status
            scale = math.nan
            for down in (first_down, not first_down):
                if not (down_searched if down else up_searched):  # one call site: the walk is inlined
                    found = _walk(down, status, count, pr, near, pools, market, t, assets, choices)
                    if down:
                        down_scale, down_searched = found, True
                    else:
                        up_scale, up_searched = found, True
                scale = down_scale if down else up_scale
                if scale == scale:
                    break
            if scale == scale:
                price[j] = market.marks[near.instrument[j]] * scale
                outcome[j] = _PRICED
            else:
                outcome[j] = _NONE


@uncounted
def _price_each(
    lo: int,
    hi: int,
    items: INDEX,
    pr: _Problem,
    done: B1,
    near: SlotArrays,
    near_price: F64,
    near_outcome: I8,
    first: I64,
    order: I64,
    slots: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    moves: MoveArrays,
    price: F64,
    outcome: I8,
) -> None:
    """:func:`_price_pool` for each pool of ``items[lo:hi]``, ``CHUNK`` pools at a time: their positions
    gathered from the book's slots into ``near`` (one tight loop: its cache misses overlap), priced there, and
    the figures put back by slot."""
    for chunk in range(lo, hi, CHUNK):
        end = min(hi, chunk + CHUNK)
        m = 0
        for idx in range(chunk, end):
            p = items[idx]
            for at in range(first[p], first[p + 1]):
                j = order[at]
                near.size[m], near.entry[m], near.instrument[m] = slots.size[j], slots.entry[j], slots.instrument[j]
                near.pool[m], near.bracket[m] = p, slots.bracket[j]
                for c in range(4):
                    near.cached[m, c] = slots.cached[j, c]
                near_price[m], near_outcome[m] = math.nan, _NONE
                m += 1
        m = 0
        for idx in range(chunk, end):
            p = items[idx]
            n = first[p + 1] - first[p]
            _price_pool(p, m, n, pr, done, near, pools, market, t, assets, choices, moves, near_price, near_outcome)
            m += n
        m = 0
        for idx in range(chunk, end):
            p = items[idx]
            for at in range(first[p], first[p + 1]):
                price[order[at]], outcome[order[at]] = near_price[m], near_outcome[m]
                m += 1


@njit(cache=True, error_model="numpy")
def price_pools(
    lo: int,
    hi: int,
    items: INDEX,
    first: I64,
    order: I64,
    slots: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    moves: MoveArrays,
    price: F64,
    outcome: I8,
) -> None:
    """The liquidation price and outcome of every position of the pools ``items[lo:hi]`` (distinct), into
    ``price`` and ``outcome`` by slot (``first``, ``order``: the slots by pool); ``t`` is the instruments' arrays
    without ``margin_quantum`` (each requirement on its unrounded line). Allocates the thread's scratch."""
    most = held = 1
    for chunk in range(lo, hi, CHUNK):
        in_chunk = 0
        for idx in range(chunk, min(hi, chunk + CHUNK)):
            count = first[items[idx] + 1] - first[items[idx]]
            most, in_chunk = max(most, count), in_chunk + count
        held = max(held, in_chunk)
    n_assets, n_bands = assets.band_from.shape
    cuts = most * t.edges.shape[1] + 2
    if choices.folded:
        cuts *= 1 + n_assets * n_bands
    pr = _Problem(
        0, 0, np.empty(most, np.int64), np.zeros(most, np.bool_), np.empty(most), -1, False, False, False, 0.0,
        np.empty(4),
        np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets, np.int64), np.empty(cuts), np.empty((2, n_assets)),
    )  # fmt: skip
    near = SlotArrays(
        np.empty(held), np.empty(held), np.empty(held, np.int64), np.empty(held, np.int64), np.empty(held, np.int64),
        np.empty((held, 4)),
    )  # fmt: skip
    near_price, near_outcome = np.empty(held), np.empty(held, np.int8)
    done = np.zeros(most, np.bool_)
    _price_each(
        lo, hi, items, pr, done, near, near_price, near_outcome, first, order, slots, pools, market, t, assets,
        choices, moves, price, outcome,
    )  # fmt: skip


@njit(cache=True, parallel=True)
def _price_pools_on_threads(
    parts: int,
    n: int,
    items: INDEX,
    first: I64,
    order: I64,
    slots: SlotArrays,
    pools: PoolArrays,
    market: Market,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    moves: MoveArrays,
    price: F64,
    outcome: I8,
) -> None:
    """:func:`price_pools` over ``SHARES`` contiguous ranges of ``n`` items per thread (``parts`` threads), in
    parallel (:func:`crossmargin.engine.kernels.on_cores`), each range to the next free thread (the caller sets a
    chunk size: a core busy with other work takes fewer)."""
    pieces = parts * SHARES
    for piece in prange(pieces):
        lo, hi = piece * n // pieces, (piece + 1) * n // pieces
        price_pools(lo, hi, items, first, order, slots, pools, market, t, assets, choices, moves, price, outcome)


def price_pools_on_cores(
    items: INDEX, first: I64, order: I64, slots: SlotArrays, pools: PoolArrays, market: Market, t: InstrumentArrays,
    assets: AssetArrays, choices: ChoiceArrays, moves: MoveArrays, price: F64, outcome: I8,
) -> None:  # fmt: skip
    """:func:`price_pools` over every one of ``items``, on every core when there are enough of them, each range
    of pools to the next free thread."""
    with numba.parallel_chunksize(1):  # the ranges taken as threads come free, not dealt out in advance
        kernels.on_cores(
            price_pools, items, first, order, slots, pools, market, t, assets, choices, moves, price, outcome,
            spread=_price_pools_on_threads,
        )  # fmt: skip


def book_liquidation_prices(book: RiskBook, moves: MoveArrays | None = None) -> LiquidationPrices:
    """Every position's liquidation price at the book's market (module doc), by slot; on every core for a
    large book. ``moves``: what moves together (:func:`move_arrays`), by default as the rulebook says."""
    n_slots = book.size.shape[0]
    price = np.full(n_slots, np.nan)
    outcome = np.full(n_slots, Outcome.EMPTY, dtype=np.int8)
    count = book.pool_count
    first, order = slots_by_pool(book.pool, count)
    if not solver_follows(book.rules):
        outcome[order] = Outcome.NOT_SOLVED
    else:
        rules = book.rule_arrays
        line = rules.instruments._replace(quantum=np.zeros_like(rules.instruments.quantum))
        price_pools_on_cores(
            np.arange(count, dtype=np.int64), first, order, book.slot_arrays(), book.pool_arrays(),
            book.market_arrays, line, rules.assets, rules.choices, move_arrays(book) if moves is None else moves,
            price, outcome,
        )  # fmt: skip
    return LiquidationPrices(price, outcome, book.pool.copy(), book.instrument.copy())


@dataclass(frozen=True)
class ConfirmedPrice:
    """One position's liquidation price by the exact solver (:func:`crossmargin.margin.account.evaluate_account`)
    at the book's market: its ``slot`` in the book (where :func:`book_liquidation_prices` puts its figure),
    the ``mark`` and ``price`` in the instrument's quote units (``price`` None: none, or not solved)."""

    slot: int
    instrument: str
    long: bool
    isolated: bool
    mark: Decimal
    price: Decimal | None


def confirmed(book: RiskBook, account_id: str) -> tuple[ConfirmedPrice, ...]:
    """Every position of one account priced exactly (cross positions first, then isolated, as
    :func:`~crossmargin.margin.account.evaluate_account` gives them), to show beside or instead of the array
    figures."""
    portfolio = book.portfolio_of([account_id])
    result = evaluate_account(portfolio.accounts[0], portfolio, book.rules)
    found = []
    for item in result.positions:
        position = item.figures.position
        long = position.size > 0
        key = (account_id, position.instrument, long)
        pool = book.isolated_pool[key] if item.isolated else book.cross_pool[account_id]
        slot = book.slot[(pool, position.instrument, long)]
        found.append(
            ConfirmedPrice(slot, position.instrument, long, item.isolated, item.figures.mark, item.liquidation_price)
        )
    return tuple(found)


terms.depends_on_terms(globals())
