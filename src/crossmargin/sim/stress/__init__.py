"""Stress testing: a book stepped through a scenario with liquidations feeding back into prices."""
