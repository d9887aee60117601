"""Venue-specific prices in scenarios (docs/stress.md, "Venue-specific prices"): the ``venue_price`` fault read
from YAML (a fixed price or the venue's own factor path), its fields checked by name, the shipped October 2025
case, and :meth:`Scenario.warnings`: what of a scenario changes nothing on a book, named. Expected values by
hand in the comments."""

from typing import Any

import numpy as np
import pytest

from crossmargin.model.errors import InputError
from crossmargin.sim.scenarios.load import library, load_scenario, scenario_from_dict
from crossmargin.sim.scenarios.model import Depeg, Scenario, Table, VenuePrice
from crossmargin.sim.scenarios.paths import generate, table_factor, table_factors
from tests.sim.scenarios.conftest import base


def venue(**body: Any) -> dict[str, Any]:
    """A scenario document with one venue_price fault of ``body`` (over the defaults below)."""
    fault = {"asset": "USDE", "source": "s1", "start": 60, "end": 180, **body}
    return base(faults=[{"venue_price": {k: v for k, v in fault.items() if v is not None}}])


def only_fault(doc: dict[str, Any]) -> VenuePrice:
    (fault,) = scenario_from_dict(doc).faults
    assert isinstance(fault, VenuePrice)
    return fault


def test_a_fixed_venue_price_from_yaml():
    assert only_fault(venue(price=0.65)) == VenuePrice("USDE", "s1", 60.0, 180.0, price=0.65)


def test_a_venue_path_of_inline_factors_is_interpolated_linearly():
    fault = only_fault(venue(factors=[[0, 1.0], [100, 0.5]]))
    assert fault.price is None and fault.factors == Table((0.0, 100.0), (1.0, 0.5), "linear", "inline")
    assert fault.factors is not None
    # linear: at 50 s, 1 + (0.5 - 1) x 50 / 100 = 0.75; held after the last point: 0.5 at 150 s
    assert [table_factor(fault.factors, t) for t in (0.0, 50.0, 100.0, 150.0)] == [1.0, 0.75, 0.5, 0.5]


def test_a_venue_path_held_or_from_a_price_file(tmp_path):
    held = only_fault(venue(factors={"points": [[0, 1.0], [100, 0.5]], "interpolate": "hold"})).factors
    assert held is not None and [table_factor(held, t) for t in (50.0, 100.0)] == [1.0, 0.5]
    # a CSV of the venue's prices: divided by the first (2000 -> 1.0, 240 -> 0.12), held (the file default)
    (tmp_path / "wbeth.csv").write_text("t,price\n0,2000\n60,240\n", encoding="utf-8")
    fault = {"asset": "WBETH", "source": "s2", "start": 60, "end": 120, "factors": {"file": "wbeth.csv"}}
    (tmp_path / "v.yaml").write_text(f"name: v\nstep_seconds: 60\nsteps: 3\nfaults:\n  - venue_price: {fault}\n")
    (loaded,) = load_scenario(tmp_path / "v.yaml").faults
    assert isinstance(loaded, VenuePrice) and loaded.factors is not None
    assert (loaded.factors.factors, loaded.factors.interpolate, loaded.factors.origin) == (
        (1.0, 0.12),
        "hold",
        "wbeth.csv",
    )
    assert table_factor(loaded.factors, 90.0) == 0.12


def test_one_time_reads_as_the_whole_grid_does():
    table = Table((0.0, 30.0, 90.0), (1.0, 0.4, 0.9), "linear")
    times = np.arange(0.0, 121.0, 7.0)
    assert [table_factor(table, float(t)) for t in times] == table_factors(table, times).tolist()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"price": None}, "faults[0].venue_price", "exactly one of price, factors"),
        ({"price": 0.65, "factors": [[0, 1.0]]}, "faults[0].venue_price", "exactly one of price, factors"),
        ({"price": 0.65, "start": None}, "faults[0].venue_price.start", "required"),
        ({"price": 0.65, "asset": None}, "faults[0].venue_price.asset", "required"),
        ({"price": 0.65, "source": "s4"}, "faults[0].venue_price.source", "s1, s2, s3"),
        ({"price": -0.65}, "faults[0].venue_price.price", "positive"),
        ({"price": "cheap"}, "faults[0].venue_price.price", "a number"),
        ({"price": 0.65, "end": 60}, "faults[0].venue_price.end", "after start"),
        ({"price": 0.65, "colour": "red"}, "faults[0].venue_price.colour", "unknown key"),
        ({"factors": [[0, 0.9]]}, "faults[0].venue_price.factors[0][1]", "starts at 1.0"),
        ({"factors": [[0, 1.0], [0, 0.5]]}, "faults[0].venue_price.factors[1][0]", "increase"),
        ({"factors": 0.5}, "faults[0].venue_price.factors", "expected a mapping"),
        ({"factors": {"file": "nowhere.csv"}}, "faults[0].venue_price.factors.file", "no price series file"),
    ],
)
def test_bad_venue_prices_name_their_field(body: dict[str, Any], field: str, words: str):
    doc = venue(**body) if "price" in body or "factors" in body else venue(price=0.65, **body)
    with pytest.raises(InputError) as caught:
        scenario_from_dict(doc)
    assert caught.value.field == field and words in caught.value.message


def test_the_model_checks_a_venue_price_on_its_own():
    with pytest.raises(InputError) as caught:
        VenuePrice("USDE", "s1", 0, 60)
    assert caught.value.field == "price"
    with pytest.raises(InputError) as caught:
        VenuePrice("USDE", "s1", 0, 60, price=0.65, factors=Table((0.0,), (1.0,)))
    assert caught.value.field == "price"


def test_october_2025_prices_usde_and_wbeth_on_one_venue():
    scenario = library()["october-2025"]
    venue_faults = [f for f in scenario.faults if isinstance(f, Depeg | VenuePrice)]
    # 21:36-22:16 UTC from the 20:50 start: 46 and 86 minutes, 2760 and 5160 s; USDe $0.65, wBETH -88 %
    assert venue_faults[0] == Depeg("USDE", "s1", 2760.0, 5160.0, 0.65)
    wbeth = venue_faults[1]
    assert isinstance(wbeth, VenuePrice) and (wbeth.asset, wbeth.source, wbeth.start, wbeth.end) == (
        "WBETH",
        "s1",
        2760.0,
        5160.0,
    )
    assert wbeth.factors is not None
    assert [table_factor(wbeth.factors, t) for t in (2760.0, 5159.0)] == [pytest.approx(0.12)] * 2
    # off the venue, WBETH follows ETH (beta 1): the same factors, ETH -16 % at the trough
    path = generate(scenario, 0, ["ETH", "WBETH"])
    assert np.array_equal(path.factors["WBETH"], path.factors["ETH"]) and path.factors["WBETH"][-1] == 0.84


# --- warnings: what of a scenario changes nothing on a book ----------------------------------------


def scenario_of(**changes: Any) -> Scenario:
    return scenario_from_dict(base(**changes))


def test_a_path_on_an_asset_the_book_does_not_price_is_named():
    # base() names BTC, ETH, SOL, XRP (and a stale fault on BTC); the book prices BTC and ETH only
    warnings = scenario_of().warnings(["BTC", "ETH"], ["BTC-PERP"], "USD")
    assert warnings == (
        "test: the path of SOL is not used: the book has no SOL",
        "test: the path of XRP is not used: the book has no XRP",
    )
    assert scenario_of().warnings(["BTC", "ETH", "SOL", "XRP"], [], "USD") == ()


def test_an_asset_a_priced_asset_follows_is_used():
    assets = {"BTC": {"table": [[0, 1.0], [60, 0.9]]}, "WBETH": {"follow": "ETH"}, "ETH": {"follow": "BTC"}}
    # the book prices WBETH only: it follows ETH, which follows BTC: every path is used
    assert scenario_of(assets=assets, faults=[]).warnings(["WBETH"], [], "USD") == ()
    assert scenario_of(assets=assets, faults=[]).warnings(["ETH"], [], "USD") == (
        "test: the path of WBETH is not used: the book has no WBETH",
    )


def test_the_base_fixed_at_one_is_no_warning_but_a_moving_base_is():
    fixed = scenario_of(assets={}, fixed=["USDT"], faults=[])
    assert fixed.warnings([], [], "USDT") == ()
    moving = scenario_of(assets={"USDT": {"table": [[0, 1.0], [60, 0.9]]}}, faults=[])
    assert moving.warnings([], [], "USDT") == (
        "test: the path of USDT is not used: USDT is the book's base currency (priced 1 by definition)",
    )


def test_faults_on_symbols_the_sources_never_report_are_named_once():
    faults = [
        {"stale": {"symbols": ["BTC", "DOGE"], "source": "s1", "start": 0, "end": 60}},
        {"thin_market": {"symbol": "BTC-PERP", "start": 0, "end": 60, "factor": 0.9}},  # an instrument: reported
        {"spike": {"symbol": "ETH-PERP", "source": "s2", "at": 60, "factor": 0.9}},  # not in the book
        {"depeg": {"asset": "BTC-PERP", "source": "s3", "start": 0, "end": 60, "price": 0.9}},  # not an asset
        {"depeg": {"asset": "USDE", "source": "s1", "start": 0, "end": 60, "price": 0.65}},
        {"depeg": {"asset": "USDE", "source": "s1", "start": 60, "end": 120, "price": 0.7}},  # same: once
        {"venue_price": {"asset": "USDT", "source": "s1", "start": 0, "end": 60, "price": 0.99}},  # the base
    ]
    scenario = scenario_of(assets={"BTC": {"table": [[0, 1.0], [60, 0.9]]}}, faults=faults)
    assert scenario.warnings(["BTC"], ["BTC-PERP"], "USDT") == (
        "test: the stale fault on DOGE (source s1) changes nothing: the book has no DOGE",
        "test: the spike fault on ETH-PERP (source s2) changes nothing: the book has no ETH-PERP",
        "test: the depeg fault on BTC-PERP (source s3) changes nothing: BTC-PERP is an instrument of the book, "
        "and a depeg fault prices an asset",
        "test: the depeg fault on USDE (source s1) changes nothing: the book has no USDE",
        "test: the venue_price fault on USDT (source s1) changes nothing: USDT is the book's base currency "
        "(priced 1 by definition)",
    )


def test_october_2025_on_a_book_without_usde_or_wbeth_warns_of_both():
    warnings = library()["october-2025"].warnings(["BTC", "ETH", "SOL", "USDC"], ["BTC-PERP"], "USDT")
    assert warnings == (
        "october-2025: the path of USDE is not used: the book has no USDE",
        "october-2025: the path of WBETH is not used: the book has no WBETH",
        "october-2025: the depeg fault on USDE (source s1) changes nothing: the book has no USDE",
        "october-2025: the venue_price fault on WBETH (source s1) changes nothing: the book has no WBETH",
    )
