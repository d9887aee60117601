"""Rule choices: the few decisions that differ between venues beyond their tables."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleChoices:
    """How a rulebook decides; tables (tiers, weights) live on the assets and instruments.

    ``liquidate_at_equality``: liquidatable when ``equity <= maintenance`` instead of ``<``.
    """

    name: str
    liquidate_at_equality: bool = False
