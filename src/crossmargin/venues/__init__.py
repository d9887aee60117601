"""Rulebooks: each venue's rule choices (and, later, its bundled tables), selected by name."""

from crossmargin.venues.registry import available, rulebook

__all__ = ["available", "rulebook"]
