"""The stress runner under a venue-specific price (docs/stress.md, "Venue-specific prices"): one venue (s1)
prices a collateral stablecoin on its own; a book priced at the median of its sources does not see it, a book
priced at its own venue (``price_source: s1``) is liquidated. And the warnings for what of a scenario changes
nothing on the book, from the run and through ``crossmargin stress``. Every figure by hand.

The book (base USDT): USDT and USDE collateral at weight 1, USDE pegged at 1 (floor 0.99); BTC priced 100;
BTC-PERP linear, 1 contract = 1 BTC, one tier mmr 5 %, imr 10 %, marked 100. One account ``u``: 100 USDE,
long 15 BTC-PERP from 100. Notional 15 x 100 = 1500, MM 5 % x 1500 = 75, uPnL 0: equity 100 x USDE's price.
Not liquidatable while USDE >= 75 / 100 = 0.75. No partial liquidation, no fee, no depth model (fills at the
mark). The scenario: BTC and USDE held at 1.0 (factors), three steps of 60 s; s1 prices USDE on its own
during [60, 120).
"""

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import Guards, OracleConfig, Status
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.scenarios.model import Scenario
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.runner import Run, StressConfig, assets_of, run, warnings_of
from tests.builders import GENERIC, banded, book, linear, position, tiers
from tests.cli.conftest import run as command

D = Decimal
USDE_GUARDS = Guards(peg=D(1), max_jump=None)  # a stablecoin; no circuit breaker (one test adds it back)
MEDIAN = OracleConfig(symbols={"USDE": USDE_GUARDS})
OWN_VENUE = OracleConfig(symbols={"USDE": replace(USDE_GUARDS, price_source="s1")})


def scenario(venue: dict[str, object], steps: int = 3, name: str = "venue") -> Scenario:
    fault = {"asset": "USDE", "source": "s1", "start": 60, "end": 120, **venue}
    return scenario_from_dict(
        {"name": name, "step_seconds": 60, "steps": steps, "fixed": ["BTC", "USDE"], "faults": [{"venue_price": fault}]}
    )


def config(oracle: OracleConfig, collateral: str = "USDE", usde: bool = True) -> StressConfig:
    """The book above (``collateral`` its account's 100 units); without USDE at all when ``usde`` is false."""
    assets = [banded("USDT", [("0", "1")]), banded("BTC", [("0", "0.8")])]
    prices = {"USDT": "1", "BTC": "100"}
    if usde:
        assets.append(banded("USDE", [("0", "1")]))
        prices["USDE"] = "1"
    portfolio = book(
        assets,
        [linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))],
        prices,
        {"BTC-PERP": "100"},
        [("u", {collateral: "100"}, [position("BTC-PERP", "15", "100")])],
        base="USDT",
    )
    return StressConfig("cross", portfolio, GENERIC, LiquidationTerms(partial=False), {}, D(20), oracle)


def test_usde_at_0_65_on_one_venue_liquidates_only_under_own_venue_pricing():
    crash = scenario({"price": 0.65})
    median, own = run(config(MEDIAN), crash), run(config(OWN_VENUE), crash)
    # median: s1's 0.65 is 35 % from the median of (0.65, 1, 1) = 1 and is ignored: USDE stays 1, equity 100
    # >= MM 75 at every step, no liquidation
    assert [s.prices["USDE"] for s in median.steps] == [1.0, 1.0, 1.0]
    assert median.liquidations == 0 and median.marks == ()
    # own venue: USDE is s1's 0.65 at t = 60 (below the floor 0.99: degraded, which the policy liquidates on):
    # equity 100 x 0.65 = 65 < MM 75, the long of 15 closed at the mark 100: one fill, notional 1500.
    # From t = 120 s1 reports the market again: USDE 1.
    assert [s.prices["USDE"] for s in own.steps] == [0.65, 1.0, 1.0]
    assert [(s.t, s.liquidations, s.liquidated_notional) for s in own.steps] == [
        (60.0, 1, 1500.0),
        (120.0, 0, 0.0),
        (180.0, 0, 0.0),
    ]
    assert [(m.t, m.account, m.price, m.taker) for m in own.marks] == [(60.0, "u", 100.0, "market")]
    # closed at its entry price with no fee: the account keeps its 100 USDE, worth 100 once USDE is back at 1
    assert own.equity_after == median.equity_after == (100.0,)
    assert own.warnings == median.warnings == ()


def test_the_venue_prices_its_own_path_of_factors():
    # s1's path: 1.0 at t = 0 to 0.5 at t = 120, linear; in the window [60, 180) it reports 1 (the start
    # price) x 0.75 at t = 60 and x 0.5 at t = 120; at t = 180 the window is over and it reports the market (1)
    venue = scenario({"factors": [[0, 1.0], [120, 0.5]], "end": 180})
    median, own = run(config(MEDIAN), venue), run(config(OWN_VENUE), venue)
    assert [s.prices["USDE"] for s in median.steps] == [1.0, 1.0, 1.0]
    assert [s.prices["USDE"] for s in own.steps] == [0.75, 0.5, 1.0]
    # at 0.75 equity 75 is not below MM 75; at 0.5 it is (50 < 75): liquidated at t = 120
    assert [s.liquidations for s in own.steps] == [0, 1, 0] and median.liquidations == 0


def test_the_circuit_breaker_holds_an_own_venue_crash_until_its_ema_catches_up():
    # With max_jump 0.25 and the EMA (half-life 300 s) at 1: one step of 60 s moves the EMA by the weight
    # w = 1 - 2^(-60/300) = 0.129449 of the gap. s1 at 0.65 from t = 60 on (the window lasts to 600):
    #   t = 60:  EMA 1 -> 1 - w x 0.35 = 0.954693; jump (0.954693 - 0.65) / 0.954693 = 0.319 > 0.25: invalid
    #   t = 120: EMA 0.65 + 0.304693 x 0.870551 = 0.915252; jump 0.265252 / 0.915252 = 0.290: invalid
    #   t = 180: EMA 0.65 + 0.265252 x 0.870551 = 0.880915; jump 0.230915 / 0.880915 = 0.262: invalid
    #   t = 240: EMA 0.65 + 0.230915 x 0.870551 = 0.851023; jump 0.201023 / 0.851023 = 0.236 <= 0.25: degraded
    # An invalid price freezes the account and is never liquidated on: the liquidation waits for t = 240.
    guarded = OracleConfig(symbols={"USDE": Guards(peg=D(1), max_jump=D("0.25"), price_source="s1")})
    result = run(config(guarded), scenario({"price": 0.65, "end": 600}, steps=5))
    assert [s.prices["USDE"] for s in result.steps] == [0.65] * 5
    assert [s.liquidations for s in result.steps] == [0, 0, 0, 1, 0]


def test_the_runner_reports_the_venue_price_to_s1_only():
    current = Run(config(OWN_VENUE), generate(scenario({"price": 0.65}), 0, assets_of(config(OWN_VENUE).portfolio)))
    current.step()  # t = 60
    quote = current.loop.oracle.index("USDE")
    assert (quote.price, quote.status, quote.sources) == (D("0.65"), Status.DEGRADED, ("s1",))
    reports = {(u.source, u.price) for u in current.loop.oracle.latest["USDE"].values()}
    assert reports == {("s1", D("0.65")), ("s2", D(1)), ("s3", D(1))}


def test_a_scenario_on_an_asset_the_book_does_not_hold_warns_naming_it():
    crash = scenario({"price": 0.65})
    # an account holding USDT only, in a book that still prices USDE: the fault reaches the oracle, no warning
    assert run(config(OWN_VENUE, collateral="USDT"), crash).warnings == ()
    no_usde = config(OWN_VENUE, collateral="USDT", usde=False)
    expected = (
        "venue: the path of USDE is not used: the book has no USDE",
        "venue: the venue_price fault on USDE (source s1) changes nothing: the book has no USDE",
    )
    assert warnings_of(crash, no_usde.portfolio) == expected
    assert run(no_usde, crash).warnings == expected


def test_the_command_prints_the_warnings_and_puts_them_in_its_json(tmp_path: Path):
    scenario_file = tmp_path / "venue.yaml"
    scenario_file.write_text(
        "name: venue\nstep_seconds: 60\nsteps: 2\nfixed: [BTC, USDE]\n"
        "faults:\n  - {venue_price: {asset: USDE, source: s1, start: 60, end: 120, price: 0.65}}\n",
        encoding="utf-8",
    )
    book_file = tmp_path / "book.yaml"
    book_file.write_text(
        "version: 1\nbase: USDT\nassets: {USDT: {weight: 1}, BTC: {weight: 0.8}}\n"
        "instruments:\n  BTC-PERP: {kind: perpetual, underlying: BTC, settle: USDT, contract_size: 1, "
        "tiers: [{max_notional: null, mmr: 0.05, imr: 0.1}]}\n"
        "prices: {USDT: 1, BTC: 100}\nmarks: {BTC-PERP: 100}\n"
        "accounts:\n  - {id: u, balances: {USDT: 100}, "
        "positions: [{instrument: BTC-PERP, size: 1, entry_price: 100}]}\n",
        encoding="utf-8",
    )
    code, out, err = command("stress", scenario_file, "--book", book_file, "--json")
    assert code == 0, err
    expected = [
        "venue: the path of USDE is not used: the book has no USDE",
        "venue: the venue_price fault on USDE (source s1) changes nothing: the book has no USDE",
    ]
    assert [line for line in err.splitlines() if line.startswith("warning: ")] == [f"warning: {w}" for w in expected]
    assert json.loads(out)["warnings"] == expected


@pytest.mark.parametrize("oracle", [MEDIAN, OWN_VENUE])
def test_a_venue_run_is_a_pure_function_of_its_inputs(oracle: OracleConfig):
    crash = scenario({"factors": [[0, 1.0], [120, 0.5]], "end": 180})
    assert run(config(oracle), crash) == run(config(oracle), crash)
