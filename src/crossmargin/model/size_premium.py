"""Size-scaled weights and rates: large holdings count for less, large positions need more.

The IMF ("initial margin fraction") factor scales with the square root of the size, as Drift does:

- a collateral weight ``w`` becomes ``min(w, 1.1 / (1 + imf x sqrt(amount)))``;
- a liability weight or a margin rate ``r`` becomes ``max(r, 0.8 r + imf x sqrt(amount))``,

with ``amount`` in units of the asset or of the underlying. Results are exact to the ledger's context;
venues that compute in fixed point round them further (see docs/rulebooks.md).
"""

from decimal import Decimal

DISCOUNT_NUMERATOR = Decimal("1.1")
PREMIUM_BASE = Decimal("0.8")


def discounted_weight(weight: Decimal, imf_factor: Decimal, amount: Decimal) -> Decimal:
    """An asset weight after the size discount for holding ``amount`` (>= 0) units."""
    if imf_factor == 0:
        return weight
    return min(weight, DISCOUNT_NUMERATOR / (1 + imf_factor * amount.sqrt()))


def premium_rate(rate: Decimal, imf_factor: Decimal, amount: Decimal) -> Decimal:
    """A liability weight or margin rate after the size premium for ``amount`` (>= 0) units."""
    if imf_factor == 0:
        return rate
    return max(rate, PREMIUM_BASE * rate + imf_factor * amount.sqrt())
