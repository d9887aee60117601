"""Shared by the stress tests (test_runner.py, test_montecarlo.py, test_params.py): a three-account book
and a hand-built two-step crash, worked by hand in tests/sim/stress/test_runner.py.

The book (base USDT): USDT at weight 1, BTC at 0.8 (priced 100), BTC-PERP linear, one tier mmr 5 %, imr 10 %,
marked 100; a: 150 USDT, long 10 from 100; b: 1000 USDT, short 10 from 100; c: 25 USDT, long 2 from 100. No
partial liquidation, no depth model (fills at the mark), the default oracle settings, an insurance fund of
``fund``. The crash: BTC -10 % a minute, twice (100, 90, 80), USDT fixed.
"""

from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.stress.runner import StressConfig
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
BTC = banded("BTC", [("0", "0.8")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))

CRASH = scenario_from_dict(
    {
        "name": "two-steps",
        "title": "BTC -10 % a minute, twice",
        "step_seconds": 60,
        "assets": {"BTC": {"table": [[0, 1.0], [60, 0.9], [120, 0.8]]}},
        "fixed": ["USDT"],
    }
)


def config(fund: str = "20") -> StressConfig:
    portfolio = book(
        [USDT, BTC],
        [PERP],
        {"BTC": "100"},
        {"BTC-PERP": "100"},
        [
            ("a", {"USDT": "150"}, [position("BTC-PERP", "10", "100")]),
            ("b", {"USDT": "1000"}, [position("BTC-PERP", "-10", "100")]),
            ("c", {"USDT": "25"}, [position("BTC-PERP", "2", "100")]),
        ],
        base="USDT",
    )
    terms = LiquidationTerms(partial=False)
    return StressConfig("cross", portfolio, GENERIC, terms, {}, D(fund), OracleConfig())
