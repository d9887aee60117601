"""Reading contagion scenarios (:mod:`crossmargin.sim.contagion.model`): the shipped library, the venues'
configurations, and errors naming the field's dotted path."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.liquidation.liquidity import LinearImpact
from crossmargin.model import InputError
from crossmargin.sim.contagion.model import (
    Arbitrage,
    CollateralSwap,
    SharedTraders,
    contagion_from_dict,
    library,
    load_contagion,
    venue_configs,
)
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.model import Depeg, StaleSource
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import default_insurance_fund

BASE: dict[str, Any] = {
    "name": "x",
    "market": "flash-crash",
    "venues": {"a": {"book": {"generate": 10, "seed": 1}}, "b": {"book": {"generate": 10, "seed": 2}}},
}


ZZ = {"venue": "zz", "weight": 0.5}
SELF = {"venue": "a", "weight": 0.5}


def test_the_two_venue_scenario_and_its_configurations():
    scenario = load_contagion("two-venue")
    assert "two-venue" in library()
    assert [v.name for v in scenario.venues] == ["alpha", "beta"]
    arbitrage, traders = scenario.links
    assert arbitrage == Arbitrage("arbitrage", ("alpha", "beta"), 6.0, 0.0)
    assert isinstance(traders, SharedTraders) and traders.owners == (("t", (("alpha", "t"), ("beta", "t"))),)
    configs = venue_configs(scenario)
    assert configs["alpha"].terms.partial is False  # the venue's parameter set applied
    assert configs["alpha"].insurance_fund == Decimal(100)
    assert configs["beta"].liquidity["BTC-PERP"] == LinearImpact(Decimal(200), Decimal("0.5"))


def test_a_depth_multiplier_scales_every_model():
    raw = {**BASE, "venues": {**BASE["venues"], "a": {"book": {"generate": 10, "seed": 1}, "depth": 0.5}}}
    thin, full = venue_configs(contagion_from_dict(raw)), venue_configs(contagion_from_dict(BASE))
    name = "BTC-PERP"
    assert thin["a"].liquidity[name] != full["a"].liquidity[name]
    assert thin["b"].liquidity[name] == full["b"].liquidity[name]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"venues": {"a": {"book": {}}}}, "venues.a.book"),
        ({"venues": {"a": {"book": {"generate": 10}, "depth": 0}}}, "venues.a.depth"),
        ({"venues": {"a": {"book": {"generate": 10}, "oracle": [ZZ]}}}, "venues.a.oracle[0].venue"),
        ({"venues": {"a": {"book": {"generate": 10}, "oracle": [SELF]}}}, "venues.a.oracle[0].venue"),
        ({"links": [{"arbitrage": {"venues": ["a", "b"], "capacity": -1}}]}, "links[0].arbitrage.capacity"),
        ({"links": [{"arbitrage": {"venues": ["a", "a"], "capacity": 1}}]}, "links[0].arbitrage.venues"),
        ({"links": [{"traders": {"venues": ["a", "b"], "share": 2}}]}, "links[0].traders.share"),
        ({"links": [{"wormhole": {}}]}, "links[0].wormhole"),
        ({"market": "nope"}, "market"),
    ],
)  # fmt: skip
def test_errors_name_the_field(change, field):
    raw = {**BASE, **change}
    if "venues" in change:
        raw["venues"] = {**BASE["venues"], **change["venues"]}
    with pytest.raises(InputError) as caught:
        contagion_from_dict(raw)
    assert caught.value.field == field


def test_an_unknown_scenario_is_refused():
    with pytest.raises(InputError, match="neither a library scenario"):
        load_contagion("no-such-scenario")


def test_a_collateral_swap_keeps_every_account_s_value_and_own_book_pricing():
    from crossmargin.sim.contagion.model import swapped

    venue = {"book": {"generate": 10, "seed": 1}, "collateral": {"asset": "USDE", "part": 0.4, "weight": 0.9},
             "own_book": {"USDE": "s1"}}  # fmt: skip
    configs = venue_configs(contagion_from_dict({**BASE, "venues": {**BASE["venues"], "a": venue}}))
    book, plain = configs["a"].portfolio, synthetic_book(10, 1)
    assert book.market.prices["USDE"] == 1 and book.assets["USDE"].weight.bands[0].weight == Decimal("0.9")
    for before, after in zip(plain.accounts, book.accounts, strict=True):
        usdt = before.balances.get("USDT", Decimal(0))
        if usdt > 0:  # 40 % of the USDT moved at price 1 (USDT at 1 in the base USD): units 0.4 x usdt, floored
            assert after.balances["USDE"] == (Decimal("0.4") * usdt).quantize(Decimal("1e-8"), "ROUND_DOWN")
            assert after.balances["USDT"] + after.balances["USDE"] == usdt
        else:
            assert after.balances == before.balances
    assert configs["a"].oracle.guards("USDE").price_source == "s1"
    assert configs["a"].oracle.guards("BTC").price_source == "median"  # only the named symbol
    assert configs["b"].portfolio == synthetic_book(10, 2)  # the other venue untouched
    # at price 2 a unit is worth two: 100 USDT, part 0.5 -> 25 units and 50 USDT
    one = plain.with_account(replace(plain.accounts[0], balances={"USDT": Decimal(100)}))
    moved = swapped(one, CollateralSwap("TOK", Decimal("0.5"), Decimal(1), Decimal(2))).accounts[0].balances
    assert (moved["TOK"], moved["USDT"]) == (Decimal(25), Decimal(50))


@pytest.mark.parametrize(
    ("venue", "field"),
    [
        ({"collateral": {"asset": "USDE", "part": 0, "weight": 1}}, "venues.a.collateral.part"),
        ({"collateral": {"asset": "USDE", "part": 1, "weight": 1.5}}, "venues.a.collateral.weight"),
        ({"collateral": {"asset": "USDT", "part": 1, "weight": 1}}, "venues.a.collateral.asset"),
        ({"own_book": {"USDE": "s9"}}, "venues.a.own_book.USDE"),
    ],
)
def test_collateral_and_own_book_errors_name_the_field(venue, field):
    raw = {**BASE, "venues": {**BASE["venues"], "a": {"book": {"generate": 10, "seed": 1}, **venue}}}
    with pytest.raises(InputError) as caught:
        contagion_from_dict(raw)
    assert caught.value.field == field


def test_own_book_needs_a_priced_symbol_and_a_swap_a_new_asset():
    unpriced = {"book": {"generate": 10, "seed": 1}, "own_book": {"USDE": "s1"}}
    with pytest.raises(InputError) as caught:
        venue_configs(contagion_from_dict({**BASE, "venues": {**BASE["venues"], "a": unpriced}}))
    assert caught.value.field == "venues.a.own_book.USDE"
    again = {"book": {"generate": 10, "seed": 1}, "collateral": {"asset": "BTC", "part": 1, "weight": 1}}
    with pytest.raises(InputError) as caught:
        venue_configs(contagion_from_dict({**BASE, "venues": {**BASE["venues"], "a": again}}))
    assert caught.value.field == "venues.a.collateral.asset"


def test_the_shipped_incident_scenarios_cite_their_figures():
    shipped = library()
    for name in ("october-2025-venue-collateral", "ftx-2022-stale-feed"):
        scenario = shipped[name]
        assert scenario.sources and "incidents.md" in " ".join(where for _, where in scenario.sources)
        assert "ASSUMPTION" in scenario.description
    october = shipped["october-2025-venue-collateral"]
    assert october.venue("unified").own_book == (("USDE", "s1"),)
    assert october.venue("unified").collateral == CollateralSwap("USDE", Decimal(1), Decimal("0.95"))
    # the $0.65 depeg on the venue's own source during 21:36-22:16 UTC, t = 0 at 21:05: 31 and 71 minutes in
    depeg = next(f for f in october.venue("unified").faults if isinstance(f, Depeg))
    assert (depeg.start, depeg.end, depeg.price) == (31 * 60, 71 * 60, 0.65)
    configs = venue_configs(october)
    unified = configs["unified"]
    assert unified.oracle.guards("USDE").price_source == "s1" and "USDE" not in configs["hyper"].portfolio.assets
    assert all(a.balances.get("USDT", 0) == 0 for a in unified.portfolio.accounts)  # part 1: all of it as USDE
    # default funds, 1 % of the held value: the swap keeps every account's value, so unified's is its plain book's
    assert unified.insurance_fund == default_insurance_fund(synthetic_book(250, 11))
    stale = [f for f in shipped["ftx-2022-stale-feed"].venue("large").faults if isinstance(f, StaleSource)]
    assert len(stale) == 9  # three sources x BTC, ETH, SOL
    last = generate(shipped["ftx-2022-stale-feed"].market, 0, ["BTC"]).times[-1]  # 120 steps of 1 h: 432,000 s
    assert last == 120 * 3600 and all(f.end > last for f in stale)  # stale through the last step, never resumed
    assert {f.source for f in stale} == {"s1", "s2", "s3"} and {f.start for f in stale} == {86400}  # 11-08 00:00


def test_a_venue_pricing_its_collateral_on_its_own_book_sees_its_own_depeg():
    from crossmargin.sim.contagion.runner import run_contagion

    holding = {"book": {"generate": 10, "seed": 1}, "collateral": {"asset": "USDE", "part": 1, "weight": 1}}
    depeg = {"depeg": {"asset": "USDE", "source": "s1", "start": 60, "end": 600, "price": 0.65}}
    raw = {
        "name": "own-book",
        "market": {"name": "flat", "step_seconds": 60, "steps": 2, "assets": {"BTC": {"table": [[0, 1], [120, 1]]},
                   "*": {"follow": "BTC"}}, "fixed": ["USDT", "USDC", "USDE"]},
        "venues": {
            "own": {**holding, "own_book": {"USDE": "s1"}, "faults": [depeg]},
            "median": {**holding, "faults": [depeg]},  # the same fault, priced at the median of s1, s2, s3
            "reader": holding,
        },
        "links": [{"shared_collateral": {"asset": "USDE", "priced_by": "own", "venues": ["reader"], "weight": 0.5}}],
    }  # fmt: skip
    result = run_contagion(contagion_from_dict(raw), venue_configs(contagion_from_dict(raw)))
    # t = 60: s1 quotes 0.65 on both faulted venues; "own" takes s1 alone, "median" the median of
    # (0.65, 1, 1) = 1; the reader's quotes come from "own"'s price after the step before (1 at t = 0)
    assert [s.own["USDE"] for s in result.venue("own").steps] == [0.65, 0.65]
    assert [s.own["USDE"] for s in result.venue("median").steps] == [1.0, 1.0]
    # t = 120: the reader mixes half of "own"'s 0.65 / 1 into the market's 1: 0.5 x 1 + 0.5 x 0.65 = 0.825
    assert [s.own["USDE"] for s in result.venue("reader").steps] == [1.0, pytest.approx(0.825)]


def test_an_arbitrage_trades_only_the_assets_it_names():
    from crossmargin.sim.contagion.runner import JointRun

    market = {
        "name": "fall",
        "step_seconds": 60,
        "steps": 2,
        "fixed": ["USDT", "USDC"],
        "assets": {"BTC": {"table": [[0, 1], [60, 0.97], [120, 0.95]]}, "*": {"follow": "BTC", "beta": 1.5}},
    }
    venues = {"a": {"book": {"generate": 30, "seed": 1}, "depth": 0.01}, "b": {"book": {"generate": 30, "seed": 2}}}

    def traded(arbitrage: dict[str, Any]) -> set[str]:
        """The instruments the arbitrageur's account holds on venue a after the run."""
        raw = {"name": "arb", "market": market, "venues": venues, "links": [{"arbitrage": arbitrage}]}
        scenario = contagion_from_dict(raw)
        joint = JointRun(scenario, venue_configs(scenario))
        joint.step()
        joint.step()
        state = joint.runs["a"].state
        return {instrument for instrument, _ in state.legs[f"arbitrageur:{scenario.links[0].name}"]}

    every = traded({"venues": ["a", "b"], "capacity": 1e6})
    # each asset's perpetual (BTC-PERP, not the dated BTC-FUT that sorts before it), ETH-PERP, the ALTn perpetuals
    assert {"BTC-PERP", "ETH-PERP", "ALT1-PERP"} <= every and "BTC-FUT" not in every
    assert traded({"venues": ["a", "b"], "capacity": 1e6, "assets": ["BTC", "ETH"]}) == {"BTC-PERP", "ETH-PERP"}
    with pytest.raises(InputError) as caught:
        traded({"name": "x", "venues": ["a", "b"], "capacity": 1e6, "assets": ["NOPE"]})
    assert caught.value.field == "x.assets"
    with pytest.raises(InputError) as caught:
        contagion_from_dict({**BASE, "links": [{"arbitrage": {"venues": ["a", "b"], "capacity": 1, "assets": []}}]})
    assert caught.value.field == "links[0].arbitrage.assets"


@given(
    held=st.decimals("0.00000001", "1e9", places=8),
    part=st.decimals("0.01", "1", places=2),
    price=st.decimals("0.01", "1000", places=2),
)
def test_a_swap_keeps_the_value_to_one_quantum_and_never_creates_any(held, part, price):
    from crossmargin.sim.contagion.model import swapped

    plain = synthetic_book(3, 1)
    one = plain.with_account(replace(plain.accounts[0], balances={"USDT": held}))
    balances = swapped(one, CollateralSwap("TOK", part, Decimal(1), price)).accounts[0].balances
    # USDT at 1 in the base: the value after is USDT left + TOK x price, the value moved part x held at most
    after = balances["USDT"] + balances["TOK"] * price
    assert after == held  # what is not moved as TOK stays as USDT: exact
    assert 0 <= held * part - balances["TOK"] * price < price * Decimal("1e-8")  # TOK floored to 1e-8 units
