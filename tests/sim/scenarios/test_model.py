"""Scenario records: faults, path specs and the scenario itself check their own values on construction (a bad
one named by its field), and what a scenario says of itself (random assets, correlation matrix, duration,
the spec that moves an asset, whether the seed matters)."""

import pytest

from crossmargin.model.errors import InputError
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.scenarios.model import (
    Clustering,
    Depeg,
    Follow,
    Jumps,
    Process,
    Scenario,
    Spike,
    StaleSource,
    Table,
    ThinMarket,
    is_random,
)
from tests.sim.scenarios.conftest import base


def test_fault_records_check_themselves():
    with pytest.raises(InputError) as err:
        StaleSource("BTC", "s4", 0, 10)
    assert err.value.field == "source"
    with pytest.raises(InputError) as err:
        Depeg("USDC", "s1", 10, 10, 0.9)
    assert err.value.field == "end"


def test_non_positive_definite_three_way_correlation():
    # 0.9, 0.9 and -0.9: det = 1 - 3 x 0.81 + 2 x 0.9 x 0.9 x (-0.9) = 1 - 2.43 - 1.458 < 0
    assets = {name: {"gbm": {"sigma": 1}} for name in ("A", "B", "C")}
    doc = {"name": "c", "step_seconds": 60, "steps": 5, "assets": assets}
    doc["correlation"] = {"A": {"B": 0.9, "C": 0.9}, "B": {"C": -0.9}}
    with pytest.raises(InputError, match="positive definite") as err:
        scenario_from_dict(doc)
    assert err.value.field == "correlation"


def test_stochastic_flag():
    assert scenario_from_dict(base()).stochastic  # SOL and XRP are gbm
    tables = base(assets={"BTC": {"table": [[0, 1]]}, "*": {"follow": "BTC", "beta": 2}})
    assert not scenario_from_dict(tables).stochastic
    noisy = base(assets={"BTC": {"table": [[0, 1]]}, "*": {"follow": "BTC", "sigma": 0.3}})
    assert scenario_from_dict(noisy).stochastic


def test_fault_windows_and_factors_are_checked():
    assert Spike("BTC", "s2", 0, 0.5).factor == 0.5
    assert ThinMarket("BTC-PERP", 10, 20, 1.5).end == 20
    for make, field in (
        (lambda: Spike("BTC", "s2", -1, 0.5), "at"),
        (lambda: Spike("", "s2", 1, 0.5), "symbol"),
        (lambda: ThinMarket("BTC-PERP", 10, 20, 0), "factor"),
        (lambda: StaleSource("BTC", "s1", 0, float("inf")), "end"),
        (lambda: Depeg("USDC", "s1", 0, 10, -0.9), "price"),
        (lambda: Spike("BTC", "s1", True, 0.5), "at"),  # a boolean is no time
    ):
        with pytest.raises(InputError) as err:
            make()
        assert err.value.field == field


def test_a_table_starts_at_one_at_zero_and_rises_in_time():
    table = Table((0.0, 60.0, 90.0), (1.0, 0.8, 0.9), "hold")
    assert table.span == 90.0
    for times, factors, interpolate, field in (
        ((), (), "linear", "points"),
        ((0.0, 1.0), (1.0,), "linear", "points"),
        ((5.0,), (1.0,), "linear", "points[0]"),
        ((0.0,), (0.9,), "linear", "points[0]"),
        ((0.0, 60.0, 60.0), (1.0, 0.9, 0.8), "linear", "points[2].t"),
        ((0.0, 60.0), (1.0, 0.0), "linear", "points[1].factor"),
        ((0.0,), (1.0,), "cubic", "interpolate"),
    ):
        with pytest.raises(InputError) as err:
            Table(times, factors, interpolate)  # type: ignore[arg-type]
        assert err.value.field == field


def test_a_process_names_its_kind_and_bounds_its_parameters():
    assert Process(0.8).kind == "gbm"
    assert Process(0.8, jumps=Jumps(24, -0.01, 0.005)).kind == "jump"
    assert Process(0.8, jumps=Jumps(24, -0.01, 0.005), clustering=Clustering(0.1, 0.85)).kind == "garch"
    for make, field in (
        (lambda: Process(0), "sigma"),
        (lambda: Process(50.5), "sigma"),
        (lambda: Process(0.8, mu=float("nan")), "mu"),
        (lambda: Jumps(1001, 0, 0.1), "intensity"),
        (lambda: Jumps(1, 10.5, 0.1), "mean"),
        (lambda: Jumps(1, 0, 10.5), "sd"),
        (lambda: Clustering(0.2, 0.8), "beta"),
        (lambda: Clustering(-0.1, 0.5), "alpha"),
        (lambda: Follow("*"), "follow"),
        (lambda: Follow("BTC", sigma=-1), "sigma"),
        (lambda: Follow("BTC", beta=float("inf")), "beta"),
    ):
        with pytest.raises(InputError) as err:
            make()
        assert err.value.field == field


def test_what_is_random_is_a_process_or_a_noisy_follower():
    assert is_random(Process(0.5)) and is_random(Follow("BTC", sigma=0.3))
    assert not is_random(Follow("BTC", beta=2)) and not is_random(Table((0.0,), (1.0,)))


def scenario(**changes: object) -> Scenario:
    fields: dict[str, object] = {
        "name": "s", "title": "", "description": "", "sources": (), "step_seconds": 60, "steps": 10,
        "assets": (("BTC", Table((0.0, 60.0), (1.0, 0.9))), ("SOL", Process(1.0)), ("ETH", Process(0.8))),
        "others": Follow("BTC", beta=1.5),
    }  # fmt: skip
    fields.update(changes)
    return Scenario(**fields)  # type: ignore[arg-type]


def test_what_a_scenario_says_of_itself():
    s = scenario(correlation=(("ETH", "SOL", 0.6),))
    assert s.duration == 600.0  # 10 steps of 60 s
    assert s.random_assets == ("SOL", "ETH")  # the order the assets are given in
    assert s.spec("BTC") == Table((0.0, 60.0), (1.0, 0.9)) and s.spec("DOGE") == Follow("BTC", beta=1.5)
    assert scenario(others=None).spec("DOGE") is None
    # the matrix of the names asked for: 0.6 between ETH and SOL, identity elsewhere
    assert s.correlation_matrix(["SOL", "XRP", "ETH"]).tolist() == [[1, 0, 0.6], [0, 1, 0], [0.6, 0, 1]]
    assert s.stochastic and not scenario(assets=(("BTC", Table((0.0,), (1.0,))),)).stochastic


def test_a_bad_scenario_is_refused_naming_its_field():
    btc = ("BTC", Table((0.0,), (1.0,)))
    for changes, field in (
        ({"name": " "}, "name"),
        ({"steps": 0}, "steps"),
        ({"steps": True}, "steps"),
        ({"step_seconds": 1.5}, "step_seconds"),
        ({"assets": (btc, btc)}, "assets"),
        ({"assets": (("*", Process(1.0)),)}, "assets"),
        ({"others": Follow("DOGE")}, "assets.*.follow"),
        ({"correlation": (("SOL", "ETH", 0.5),)}, "correlation.SOL.ETH"),  # not in sorted order
        ({"correlation": (("BTC", "SOL", 0.5),)}, "correlation.BTC.SOL"),  # BTC is a table
        ({"liquidity": ((),)}, "liquidity"),
        ({"liquidity": (((0.0, 1.0),), ((10.0, 1.0),))}, "liquidity[1][0]"),
        ({"liquidity": (((0.0, 1.0), (60.0, 0.0)),)}, "liquidity[1].multiplier"),
    ):
        with pytest.raises(InputError) as err:
            scenario(**changes)
        assert err.value.field == field, changes
