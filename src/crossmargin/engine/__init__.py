"""The batch engine: a float64 mirror of every account (the risk book), its kernels, and screening with
exact confirmation."""
