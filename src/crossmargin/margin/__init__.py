"""Margin maths: pure functions over the model, base currency out. Margin figures are exact (Decimal);
option values (Black-76, :mod:`options`) and risk measures (VaR, :mod:`var`) are float64 model outputs."""
