"""Risk tiers: margin rates that grow with position size.

A tier table is a list of brackets by position notional (in the settle asset, see
:mod:`crossmargin.margin.positions`). A position whose notional ``n`` lies in bracket ``k`` (the first
bracket with ``n <= max_notional``) needs

- maintenance margin ``n x mmr_k - maint_amount_k`` and
- initial margin ``n x imr_k`` (``imr_k = 1 / max_leverage_k``).

When a bracket's ``maint_amount`` is not given it is derived so that maintenance margin is continuous
where the brackets meet: ``maint_amount_k = maint_amount_{k-1} + max_notional_{k-1} x (mmr_k - mmr_{k-1})``
with ``maint_amount_0 = 0`` (the "maintenance amount" of Binance's brackets is built the same way).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, exact, finite, non_negative, positive, within


@dataclass(frozen=True)
class TierSpec:
    """One bracket as written in a document: ``imr`` or ``max_leverage`` (or both, agreeing) is needed;
    ``mmr`` may be left out when the table gives a maintenance fraction (see :meth:`TierTable.build`)."""

    max_notional: Decimal | None
    mmr: Decimal | None
    imr: Decimal | None = None
    max_leverage: Decimal | None = None
    maint_amount: Decimal | None = None


@dataclass(frozen=True)
class RiskTier:
    """A resolved bracket: notional up to ``max_notional`` (None: no upper limit), in settle units."""

    max_notional: Decimal | None
    mmr: Decimal
    imr: Decimal
    maint_amount: Decimal

    def maintenance(self, notional: Decimal) -> Decimal:
        """Maintenance margin of a position of ``notional`` in this bracket, in settle units."""
        return notional * self.mmr - self.maint_amount

    def initial(self, notional: Decimal) -> Decimal:
        """Initial margin of a position of ``notional`` in this bracket, in settle units."""
        return notional * self.imr


def _initial_rate(spec: TierSpec) -> Decimal:
    if spec.imr is None and spec.max_leverage is None:
        raise InputError("imr", "a tier needs imr or max_leverage")
    if spec.max_leverage is not None and finite(spec.max_leverage, "max_leverage") < 1:
        raise InputError("max_leverage", f"must be at least 1, got {spec.max_leverage}")
    from_leverage = None if spec.max_leverage is None else ONE / spec.max_leverage
    if spec.imr is None:
        assert from_leverage is not None
        return from_leverage
    within(spec.imr, ZERO, ONE, "imr")
    if spec.imr == 0:
        raise InputError("imr", "must be positive")
    if from_leverage is not None and spec.imr != from_leverage:
        raise InputError("imr", f"{spec.imr} disagrees with max_leverage {spec.max_leverage} (1/{spec.max_leverage})")
    return spec.imr


@dataclass(frozen=True)
class TierTable:
    """Ascending brackets of one instrument."""

    tiers: tuple[RiskTier, ...]
    maintenance_fraction: Decimal | None = None

    @classmethod
    def build(
        cls, specs: Sequence[TierSpec], maintenance_fraction: Decimal | None = None, derive_amounts: bool = True
    ) -> "TierTable":
        """Validate brackets as written and resolve ``imr`` and ``maint_amount`` (see module doc).

        ``maintenance_fraction``: a bracket without ``mmr`` gets ``mmr = imr x maintenance_fraction``
        (Hyperliquid: maintenance margin is half the initial margin at max leverage).
        ``derive_amounts`` False: a bracket without ``maint_amount`` gets 0 instead of the continuity
        amount (brackets that bound size rather than notional: their edges are not notionals).
        """
        if not specs:
            raise InputError("", "needs at least one tier")
        if maintenance_fraction is not None:
            within(maintenance_fraction, ZERO, ONE, "maintenance_fraction")
        tiers: list[RiskTier] = []
        with exact():
            for i, spec in enumerate(specs):
                try:
                    previous = tiers[-1] if tiers else None
                    if not derive_amounts and spec.maint_amount is None:
                        spec = replace(spec, maint_amount=ZERO)
                    tiers.append(cls._resolve(spec, previous, i == len(specs) - 1, maintenance_fraction))
                except InputError as err:
                    raise err.within(f"[{i}]") from None
        return cls(tuple(tiers), maintenance_fraction)

    @staticmethod
    def _resolve(
        spec: TierSpec, previous: RiskTier | None, is_last: bool, maintenance_fraction: Decimal | None
    ) -> RiskTier:
        if spec.max_notional is None:
            if not is_last:
                raise InputError("max_notional", "only the last tier may leave max_notional open")
        else:
            positive(spec.max_notional, "max_notional")
        imr = _initial_rate(spec)
        if spec.mmr is not None:
            mmr = within(spec.mmr, ZERO, ONE, "mmr")
        elif maintenance_fraction is not None:
            mmr = imr * maintenance_fraction
        else:
            raise InputError("mmr", "a tier needs mmr unless the instrument gives a maintenance_fraction")
        if imr < mmr:
            raise InputError("imr", f"initial rate {imr} is below the maintenance rate {mmr}")
        if previous is not None:
            assert previous.max_notional is not None
            if spec.max_notional is not None and spec.max_notional <= previous.max_notional:
                raise InputError(
                    "max_notional",
                    f"tiers must be ascending: {spec.max_notional} follows {previous.max_notional}",
                )
            if mmr < previous.mmr:
                raise InputError("mmr", f"rates must not fall as notional grows: {mmr} follows {previous.mmr}")
            if imr < previous.imr:
                raise InputError("imr", f"rates must not fall as notional grows: {imr} follows {previous.imr}")
        if spec.maint_amount is not None:
            maint_amount = non_negative(spec.maint_amount, "maint_amount")
            lower_edge = ZERO if previous is None or previous.max_notional is None else previous.max_notional
            if lower_edge * mmr < maint_amount:
                raise InputError(
                    "maint_amount",
                    f"{maint_amount} exceeds notional x mmr at the bracket's lower edge "
                    f"({lower_edge} x {mmr}): maintenance margin would be negative",
                )
        elif previous is None:
            maint_amount = ZERO
        else:
            assert previous.max_notional is not None
            maint_amount = previous.maint_amount + previous.max_notional * (mmr - previous.mmr)
        return RiskTier(spec.max_notional, mmr, imr, maint_amount)

    def index_for(self, notional: Decimal) -> int:
        """The bracket of ``notional``: the first with ``notional <= max_notional``, else the last."""
        for i, tier in enumerate(self.tiers):
            if tier.max_notional is None or notional <= tier.max_notional:
                return i
        return len(self.tiers) - 1

    @property
    def limit(self) -> Decimal | None:
        """The largest notional the table allows, None when the last bracket is open."""
        return self.tiers[-1].max_notional

    def edges(self) -> tuple[Decimal, ...]:
        """Notionals where the bracket changes."""
        return tuple(t.max_notional for t in self.tiers[:-1] if t.max_notional is not None)
