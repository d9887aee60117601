"""Rulebooks: each venue's rule choices, liquidation terms and bundled default tables, selected by name."""

from crossmargin.venues.registry import available, rulebook
from crossmargin.venues.rulebook import Rulebook, Source

__all__ = ["Rulebook", "Source", "available", "rulebook"]
