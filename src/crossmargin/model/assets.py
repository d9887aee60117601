"""Collateral assets and their haircuts.

An asset's holding is valued in the base currency as ``amount x price x weight``. A weight below one
is the haircut. Weights can be *marginal bands by amount*: the first units held count at the first
band's weight, the units beyond the next band's ``from_amount`` at that band's weight, and so on, so a
large holding is haircut more than a small one and the value never jumps as the amount grows.

A negative balance is a liability and counts at ``amount x price x liability_weight`` with
``liability_weight >= 1``. Two sides are kept: the *maintenance* side decides liquidation; the
*initial* side (collateral weighed lower, liabilities higher) decides free collateral, new risk and
withdrawals.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, finite, non_negative, within
from crossmargin.model.size_premium import discounted_weight, premium_rate

_BISECTION_STEPS = 200


class Side(StrEnum):
    """Which requirement a valuation serves."""

    INITIAL = "initial"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class WeightBand:
    """Units held from ``from_amount`` (in asset units) up to the next band count at ``weight``."""

    from_amount: Decimal
    weight: Decimal


@dataclass(frozen=True)
class WeightSchedule:
    """Marginal weight bands by amount; the first band starts at zero, the last runs to infinity."""

    bands: tuple[WeightBand, ...]

    def __post_init__(self) -> None:
        if not self.bands:
            raise InputError("", "needs at least one weight band")
        for i, band in enumerate(self.bands):
            non_negative(band.from_amount, f"[{i}].from_amount")
            within(band.weight, ZERO, ONE, f"[{i}].weight")
        if self.bands[0].from_amount != 0:
            raise InputError("[0].from_amount", f"the first band must start at 0, got {self.bands[0].from_amount}")
        for i in range(1, len(self.bands)):
            if self.bands[i].from_amount <= self.bands[i - 1].from_amount:
                raise InputError(
                    f"[{i}].from_amount",
                    f"bands must be strictly ascending: {self.bands[i].from_amount} "
                    f"follows {self.bands[i - 1].from_amount}",
                )

    @classmethod
    def flat(cls, weight: Decimal) -> "WeightSchedule":
        """One weight for every unit."""
        return cls((WeightBand(ZERO, weight),))

    def edges(self) -> tuple[Decimal, ...]:
        """The amounts where the marginal weight changes (every band start after the first)."""
        return tuple(band.from_amount for band in self.bands[1:])

    def weighted_amount(self, amount: Decimal) -> Decimal:
        """``sum over bands of weight x (units of amount inside the band)``, for ``amount >= 0``."""
        total = ZERO
        for i, band in enumerate(self.bands):
            if amount <= band.from_amount:
                break
            upper = self.bands[i + 1].from_amount if i + 1 < len(self.bands) else amount
            total += band.weight * (min(amount, upper) - band.from_amount)
        return total

    def amount_for(self, weighted: Decimal) -> Decimal | None:
        """The smallest amount whose weighted amount reaches ``weighted`` (None: never reached)."""
        if weighted <= 0:
            return ZERO
        total = ZERO
        for i, band in enumerate(self.bands):
            if band.weight == 0:
                continue
            upper = self.bands[i + 1].from_amount if i + 1 < len(self.bands) else None
            if upper is None or total + band.weight * (upper - band.from_amount) >= weighted:
                return band.from_amount + (weighted - total) / band.weight
            total += band.weight * (upper - band.from_amount)
        return None

    def line_at(self, amount: Decimal) -> tuple[Decimal, Decimal]:
        """``(c, w)`` with ``weighted_amount(x) = c + w x`` on the band containing ``amount`` (>= 0)."""
        index = max(i for i, band in enumerate(self.bands) if amount >= band.from_amount)
        band = self.bands[index]
        return self.weighted_amount(band.from_amount) - band.weight * band.from_amount, band.weight

    def weight_at(self, amount: Decimal) -> Decimal:
        """The marginal weight of the unit held at ``amount`` (the band containing it)."""
        weight = self.bands[0].weight
        for band in self.bands:
            if amount >= band.from_amount:
                weight = band.weight
        return weight


@dataclass(frozen=True)
class Asset:
    """A collateral asset: maintenance and initial weight schedules and liability weights."""

    name: str
    weight: WeightSchedule
    initial_weight: WeightSchedule
    liability_weight: Decimal = ONE
    initial_liability_weight: Decimal = ONE
    imf_factor: Decimal = ZERO

    def __post_init__(self) -> None:
        non_negative(self.imf_factor, "imf_factor")
        if self.imf_factor and (len(self.weight.bands) > 1 or len(self.initial_weight.bands) > 1):
            raise InputError("imf_factor", "a size discount goes with flat weights, not weight bands")
        if finite(self.liability_weight, "liability_weight") < 1:
            raise InputError("liability_weight", f"must be at least 1, got {self.liability_weight}")
        if finite(self.initial_liability_weight, "initial_liability_weight") < self.liability_weight:
            raise InputError(
                "initial_liability_weight",
                f"must be at least liability_weight ({self.liability_weight}): the initial side counts "
                f"liabilities higher, got {self.initial_liability_weight}",
            )
        edges = sorted({ZERO, *self.weight.edges(), *self.initial_weight.edges()})
        for amount in edges:
            if self.initial_weight.weight_at(amount) > self.weight.weight_at(amount):
                raise InputError(
                    "initial_weight",
                    f"must not exceed the maintenance weight: at amount {amount} the initial weight is "
                    f"{self.initial_weight.weight_at(amount)} and the weight {self.weight.weight_at(amount)}",
                )

    @classmethod
    def simple(cls, name: str, weight: Decimal = ONE, initial_weight: Decimal | None = None) -> "Asset":
        """An asset with flat weights (the initial weight defaults to the maintenance weight)."""
        flat = WeightSchedule.flat(weight)
        initial = flat if initial_weight is None else WeightSchedule.flat(initial_weight)
        return cls(name, flat, initial)

    def schedule(self, side: Side) -> WeightSchedule:
        """The weight schedule of one side."""
        return self.initial_weight if side is Side.INITIAL else self.weight

    def liability(self, side: Side) -> Decimal:
        """The liability weight of one side."""
        return self.initial_liability_weight if side is Side.INITIAL else self.liability_weight

    def weighted_amount(self, amount: Decimal, side: Side) -> Decimal:
        """The amount after haircut (assets) or markup (liabilities), in asset units, sign kept.

        With an ``imf_factor`` the weight of a holding shrinks, and a liability's weight grows, with the
        square root of the amount (:mod:`crossmargin.model.size_premium`).
        """
        if amount >= 0:
            if self.imf_factor:
                weight = self.schedule(side).bands[0].weight
                return amount * discounted_weight(weight, self.imf_factor, amount)
            return self.schedule(side).weighted_amount(amount)
        return amount * premium_rate(self.liability(side), self.imf_factor, -amount)

    def line_at(self, amount: Decimal, side: Side) -> tuple[Decimal, Decimal]:
        """``(c, w)`` with ``weighted_amount(x, side) = c + w x`` near ``amount`` (a band, or the liability side).

        Not defined with a size discount, whose weighted amount is not piecewise linear.
        """
        if self.imf_factor:
            raise InputError("imf_factor", f"{self.name}: a size-discounted weight has no linear piece")
        if amount >= 0:
            return self.schedule(side).line_at(amount)
        return ZERO, self.liability(side)

    def edges(self, side: Side) -> tuple[Decimal, ...]:
        """Amounts where the weighted amount changes slope on ``side``: zero and the band starts."""
        return (ZERO, *self.schedule(side).edges())

    def amount_for(self, weighted: Decimal, side: Side) -> Decimal | None:
        """The smallest holding whose weighted amount reaches ``weighted`` (None: never reached).

        Weight bands invert in closed form; with a size discount the weighted amount is increasing in
        the amount (``1.1 x a / (1 + imf x sqrt(a))`` grows without bound), so bisection finds it.
        """
        if not self.imf_factor:
            return self.schedule(side).amount_for(weighted)
        if weighted <= 0:
            return ZERO
        high = ONE
        while self.weighted_amount(high, side) < weighted:
            high *= 2
        low = ZERO
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2
            if middle in (low, high):
                break
            if self.weighted_amount(middle, side) < weighted:
                low = middle
            else:
                high = middle
        return high

    def value(self, amount: Decimal, price: Decimal, side: Side) -> Decimal:
        """Collateral value in base currency of holding ``amount`` (negative: owed) at ``price``."""
        return self.weighted_amount(amount, side) * price
