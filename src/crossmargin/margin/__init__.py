"""Exact margin maths: pure functions over the model (Decimal throughout, base currency out)."""
