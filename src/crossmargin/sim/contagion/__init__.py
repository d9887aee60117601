"""Cross-platform contagion: several venues stepped together through one market path, linked by arbitrage,
oracles that read each other's prices, shared collateral and traders present on several venues."""
