"""Simulation: synthetic populations of accounts, scenarios and Monte Carlo runs over whole books."""
