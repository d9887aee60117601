"""Oracle settings: the guards per symbol and the policy the engine follows for each price status.

Both are data with defaults (documented in docs/oracle.md). Fractions are of the price; times are in
seconds of the feed's clock.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from crossmargin.model import InputError
from crossmargin.model.numbers import ONE, ZERO, non_negative, positive, within


class Status(StrEnum):
    """How far a price can be trusted (docs/oracle.md, "Status")."""

    VALID = "valid"  # a quorum of fresh sources agrees
    DEGRADED = "degraded"  # a quorum agrees, but the asset is off its peg
    UNCONFIRMED = "unconfirmed"  # fewer agreeing fresh sources than the quorum, near the last quorum price
    INVALID = "invalid"  # no fresh source, the circuit breaker tripped, or an unconfirmed price moved away


MEDIAN = "median"
"""The ``price_source`` of an index that is the median of its agreeing fresh sources (the default); any other
value names the one source the index is taken from (own-venue pricing)."""


@dataclass(frozen=True)
class Guards:
    """The checks on one symbol's sources.

    - ``max_age_s``: a source is fresh when its last update is at most this old.
    - ``quorum``: fresh, agreeing sources needed for a valid price (fewer: unconfirmed, or invalid when the
      price they give is further than ``max_deviation`` from the last price a quorum gave).
    - ``max_deviation``: a source further than this fraction from the median of fresh sources is ignored.
    - ``max_confidence``: a source whose confidence interval is wider than this fraction is ignored.
    - ``max_jump``: an index further than this fraction from its EMA trips the circuit breaker (invalid).
    - ``ema_half_life_s``: half-life of the EMA (and of an instrument's basis EMA).
    - ``peg`` / ``peg_tolerance``: a pegged asset (stablecoin, liquid-staking token) priced below
      ``peg x (1 - peg_tolerance)`` is degraded.
    - ``price_source``: :data:`MEDIAN` (the default) prices the symbol at the median of its agreeing fresh
      sources; a source's name prices it at that source's fresh price alone (own-venue pricing: a venue
      valuing collateral at its own order book). When that source is not fresh the index falls back to the
      median of the fresh sources, with that median's status (docs/oracle.md, "Own-venue pricing").
    """

    max_age_s: Decimal = Decimal(60)
    quorum: int = 1
    max_deviation: Decimal = Decimal("0.02")
    max_confidence: Decimal | None = Decimal("0.02")
    max_jump: Decimal | None = Decimal("0.25")
    ema_half_life_s: Decimal = Decimal(300)
    peg: Decimal | None = None
    peg_tolerance: Decimal = Decimal("0.01")
    price_source: str = MEDIAN

    def __post_init__(self) -> None:
        positive(self.max_age_s, "max_age_s")
        if self.quorum < 1:
            raise InputError("quorum", f"must be at least 1, got {self.quorum}")
        within(self.max_deviation, ZERO, ONE, "max_deviation")
        if self.max_confidence is not None:
            non_negative(self.max_confidence, "max_confidence")
        if self.max_jump is not None:
            positive(self.max_jump, "max_jump")
        positive(self.ema_half_life_s, "ema_half_life_s")
        if self.peg is not None:
            positive(self.peg, "peg")
        within(self.peg_tolerance, ZERO, ONE, "peg_tolerance")
        if not isinstance(self.price_source, str) or not self.price_source.strip():
            raise InputError("price_source", f"must be {MEDIAN!r} or a source's name, got {self.price_source!r}")

    @property
    def own_venue(self) -> str | None:
        """The source the symbol is priced at alone (own-venue pricing), or None for the median."""
        return None if self.price_source == MEDIAN else self.price_source


@dataclass(frozen=True)
class Policy:
    """What the engine does with a price of each status.

    - ``liquidate_on``: an account is liquidated only when every price it is valued at has one of these.
      The default leaves ``unconfirmed`` out: a quorum the user asked for is a promise, and below it the
      engine holds (``liquidation_suppressed``) unless the policy names ``unconfirmed`` explicitly.
    - ``freeze_on``: an account valued at a price of one of these may not withdraw or add risk.
    - ``conservative_on``: collateral valued at a price of one of these counts at the lower of index and
      EMA when held and at the higher when owed.
    """

    liquidate_on: frozenset[Status] = frozenset({Status.VALID, Status.DEGRADED})
    freeze_on: frozenset[Status] = frozenset({Status.INVALID})
    conservative_on: frozenset[Status] = frozenset({Status.DEGRADED, Status.UNCONFIRMED})


@dataclass(frozen=True)
class OracleConfig:
    """Default guards, per-symbol overrides and the policy."""

    default: Guards = field(default_factory=Guards)
    symbols: Mapping[str, Guards] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)

    def guards(self, symbol: str) -> Guards:
        """The guards of ``symbol``."""
        return self.symbols.get(symbol, self.default)
