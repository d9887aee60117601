"""Liquidation: plan and execute liquidations, insurance fund, auto-deleveraging."""
