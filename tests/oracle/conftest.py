"""Shared by the oracle tests and the engine loop's (tests/live, tests/sim/test_replay.py): the book
:data:`DOCUMENT`, worked by hand.

The book (base USD): USDT and USDC collateral (USDC pegged at 1, floor 0.99), BTC-PERP linear, 1 contract =
1 BTC, mmr 0.004, imr 0.008; prices BTC 20000, marks BTC-PERP 20000. Guards: max age 60 s, quorum 2, max
deviation 2 %, circuit breaker at 25 % from the EMA (half-life 300 s).

- ``long``: 1000 USDT, long 0.5 BTC-PERP from 20000. Liquidation at 1000 + 0.5 (P - 20000) - 0.002 P = 0,
  P = 9000 / 0.498 = 18072.29; MM 40 at 20000.
- ``usdc``: 100 USDC, long 0.5 BTC-PERP from 20000: at USDC 1, equity 100, MM 40, IM 80, free 20.
"""

DOCUMENT = {
    "version": 1,
    "base": "USD",
    "assets": {"USDT": {"weight": 1}, "USDC": {"weight": 1}, "BTC": {"weight": "0.9"}},
    "instruments": {
        "BTC-PERP": {
            "kind": "perpetual",
            "underlying": "BTC",
            "settle": "USDT",
            "contract_size": 1,
            "tiers": [{"max_notional": None, "mmr": "0.004", "imr": "0.008"}],
        }
    },
    "prices": {"USDT": 1, "USDC": 1, "BTC": 20000},
    "marks": {"BTC-PERP": 20000},
    "accounts": [
        {
            "id": "long",
            "balances": {"USDT": 1000},
            "positions": [{"instrument": "BTC-PERP", "size": "0.5", "entry_price": 20000}],
        },
        {
            "id": "usdc",
            "balances": {"USDC": 100},
            "positions": [{"instrument": "BTC-PERP", "size": "0.5", "entry_price": 20000}],
        },
    ],
    "oracle": {
        "max_age_s": 60,
        "quorum": 2,
        "max_deviation": "0.02",
        "max_jump": "0.25",
        "symbols": {"USDC": {"peg": 1, "peg_tolerance": "0.01"}},
    },
}
