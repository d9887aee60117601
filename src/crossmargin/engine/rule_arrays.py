"""The margin rules as float64 arrays: the kernels' view of the same rule data the exact evaluator reads.

Every instrument's tier table, fee terms, size premium, uPnL weights and rounding, every asset's weight
bands, liability weights and size discount, and the rulebook's margin valuation are copied here from the
model objects (never restated), padded to a common width. :mod:`crossmargin.engine.kernels` evaluates
them; the tests hold the kernels equal to :mod:`crossmargin.margin` on random books.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from crossmargin.model import Asset, Instrument, Side
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import MarginValuation

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
INDEX = npt.NDArray[np.integer[Any]]  # index arrays of any integer width
B1 = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class InstrumentArrays:
    """Per instrument ``i`` and bracket ``k`` (padded with an unreachable edge of +inf)."""

    names: tuple[str, ...]
    contract_size: F64
    inverse: B1
    size_basis: B1
    settle: I64  # index into the asset arrays
    edges: F64  # [i, k] upper edge of bracket k (+inf for the last)
    mmr: F64
    imr: F64
    amount: F64
    liquidation_fee: F64
    close_fee: F64
    imf: F64
    upnl_weight: F64
    initial_upnl_weight: F64
    upnl_cap: F64  # +inf: no cap
    quantum: F64  # 0: exact
    maintenance_fraction: F64  # nan: none

    def index(self, name: str) -> int:
        """Position of instrument ``name`` in the arrays."""
        return self.names.index(name)


@dataclass(frozen=True)
class AssetArrays:
    """Per asset ``a`` and weight band ``b`` (padded with +inf starts), for each side."""

    names: tuple[str, ...]
    band_from: F64  # [a, b]
    weight: F64  # [side, a, b] marginal weight; side 0 maintenance, 1 initial
    offset: F64  # [side, a, b]: weighted(x) = offset + weight x on band b
    liability: F64  # [side, a]
    imf: F64  # [a]

    def index(self, name: str) -> int:
        """Position of asset ``name`` in the arrays."""
        return self.names.index(name)


SIDES = (Side.MAINTENANCE, Side.INITIAL)


def valuation_table(valuation: MarginValuation) -> B1:
    """``[mode, side]``: whether a requirement values its position at the entry price (else at the mark);
    mode 0 cross, 1 isolated; side 0 maintenance, 1 initial (the kernels' side order)."""
    return np.array(
        [[valuation.at_entry(side, isolated) for side in SIDES] for isolated in (False, True)], dtype=np.bool_
    )


def instrument_arrays(instruments: Mapping[str, Instrument], assets: Sequence[str]) -> InstrumentArrays:
    """The float arrays of every instrument; ``assets`` gives the order settle assets are indexed in."""
    items = list(instruments.values())
    width = max((len(i.tiers.tiers) for i in items), default=1)
    n = len(items)

    def table(fill: float) -> F64:
        return np.full((n, width), fill, dtype=np.float64)

    edges, mmr, imr, amount = table(np.inf), table(0.0), table(1.0), table(0.0)
    for row, instrument in enumerate(items):
        for k, tier in enumerate(instrument.tiers.tiers):
            edges[row, k] = (
                np.inf
                if tier.max_notional is None or k == len(instrument.tiers.tiers) - 1
                else float(tier.max_notional)
            )
            mmr[row, k], imr[row, k], amount[row, k] = float(tier.mmr), float(tier.imr), float(tier.maint_amount)
        for k in range(len(instrument.tiers.tiers), width):
            mmr[row, k], imr[row, k], amount[row, k] = mmr[row, k - 1], imr[row, k - 1], amount[row, k - 1]

    def column(values: Sequence[float]) -> F64:
        return np.array(values, dtype=np.float64)

    def optional(value: object, absent: float) -> float:
        return absent if value is None else float(value)  # type: ignore[arg-type]

    return InstrumentArrays(
        names=tuple(instruments),
        contract_size=column([float(i.contract_size) for i in items]),
        inverse=np.array([i.inverse for i in items], dtype=np.bool_),
        size_basis=np.array([i.tier_basis is TierBasis.SIZE for i in items], dtype=np.bool_),
        settle=np.array([assets.index(i.settle) for i in items], dtype=np.int64),
        edges=edges,
        mmr=mmr,
        imr=imr,
        amount=amount,
        liquidation_fee=column([float(i.liquidation_fee_rate) for i in items]),
        close_fee=column([float(i.close_fee_rate) for i in items]),
        imf=column([float(i.imf_factor) for i in items]),
        upnl_weight=column([float(i.upnl_weight) for i in items]),
        initial_upnl_weight=column([float(i.initial_upnl_weight) for i in items]),
        upnl_cap=column([optional(i.initial_upnl_cap, np.inf) for i in items]),
        quantum=column([optional(i.margin_quantum, 0.0) for i in items]),
        maintenance_fraction=column([optional(i.tiers.maintenance_fraction, np.nan) for i in items]),
    )


def asset_arrays(assets: Mapping[str, Asset]) -> AssetArrays:
    """The float arrays of every asset's weights."""
    items = list(assets.values())
    starts = [sorted({b.from_amount for side in SIDES for b in a.schedule(side).bands}) for a in items]
    width = max((len(s) for s in starts), default=1)
    n = len(items)
    band_from = np.full((n, width), np.inf, dtype=np.float64)
    weight = np.zeros((2, n, width), dtype=np.float64)
    offset = np.zeros((2, n, width), dtype=np.float64)
    liability = np.ones((2, n), dtype=np.float64)
    for a, asset in enumerate(items):
        for b, start in enumerate(starts[a]):
            band_from[a, b] = float(start)
            for s, side in enumerate(SIDES):
                schedule = asset.schedule(side)
                weight[s, a, b] = float(schedule.weight_at(start))
                offset[s, a, b] = float(schedule.weighted_amount(start) - schedule.weight_at(start) * start)
        for s, side in enumerate(SIDES):
            liability[s, a] = float(asset.liability(side))
    return AssetArrays(
        names=tuple(assets),
        band_from=band_from,
        weight=weight,
        offset=offset,
        liability=liability,
        imf=np.array([float(a.imf_factor) for a in items], dtype=np.float64),
    )
