"""Who a risk book's pools belong to and which are due (:mod:`crossmargin.engine.book_pools`), by hand.

The book: X-PERP linear on X (contract 1, one tier: maintenance rate 0.01, initial 0.02), marked 100; generic
rules (liquidatable when equity < MM). Pools are numbered as accounts and their isolated positions come:

- a: cross pool 0 (1000 USDT, long 10 from 100); no isolated position;
- b: cross pool 1 (50 USDT); isolated pool 2: short 10 from 100 with 30 USDT, marked 100: equity 30 >= MM 10;
- c: cross pool 3 (no balance); isolated pool 4: long 10 from 100 with 5 USDT: equity 5 < MM 0.01 x 1000 = 10.
"""

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_pools import cross_pools, due_pools
from tests.builders import GENERIC, banded, book, linear, position, tiers


def test_pools_accounts_and_the_due() -> None:
    portfolio = book(
        [banded("USDT", [("0", "1")])],
        [linear("X-PERP", underlying="X", table=tiers((None, "0.01", "0.02")))],
        {"USDT": "1", "X": "100"},
        {"X-PERP": "100"},
        [
            ("a", {"USDT": "1000"}, [position("X-PERP", "10", "100")]),
            ("b", {"USDT": "50"}, [position("X-PERP", "-10", "100", "30")]),
            ("c", {}, [position("X-PERP", "10", "100", "5")]),
        ],
    )
    risk = RiskBook(portfolio, GENERIC)
    assert [(o.account, o.instrument) for o in risk.owners] == [
        ("a", None), ("b", None), ("b", "X-PERP"), ("c", None), ("c", "X-PERP")
    ]  # fmt: skip
    assert list(cross_pools(risk)) == [0, 1, 1, 3, 3]
    assert list(due_pools(risk)) == [4]
    assert due_pools(risk).dtype == np.int64
