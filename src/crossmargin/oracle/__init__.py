"""Price oracles: source updates -> validated index and mark prices, each with a status."""
