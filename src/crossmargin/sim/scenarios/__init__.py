"""Stress scenarios as data: named YAML scenarios of price paths, oracle faults and liquidity, turned into paths."""
