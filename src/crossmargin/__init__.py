"""crossmargin: a cross-margin risk engine with exact (Decimal) margin maths."""

__version__ = "0.1.0"
