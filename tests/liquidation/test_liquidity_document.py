"""A liquidity model read from a document section: each model built, every bad field named with its path."""

from decimal import Decimal

import pytest

from crossmargin.liquidation.liquidity import AtMark, DepthLevels, LinearImpact, SquareRootImpact
from crossmargin.liquidation.liquidity_document import liquidity_from_dict
from crossmargin.model.errors import InputError

D = Decimal


def test_from_dict_builds_each_model():
    levels = liquidity_from_dict(
        {"model": "levels", "levels": [[0.001, 2], ["0.002", D(3)]], "permanent_impact": "0.5"}, "liquidity.X"
    )
    assert levels == DepthLevels(((D("0.001"), D(2)), (D("0.002"), D(3))), D("0.5"))
    assert liquidity_from_dict({"model": "linear", "depth_units": 100}, "l") == LinearImpact(D(100))
    sqrt = liquidity_from_dict({"model": "sqrt", "coefficient": 0.1, "depth_units": 1000}, "l")
    assert sqrt == SquareRootImpact(D("0.1"), D(1000))
    assert liquidity_from_dict({"model": "mark"}, "l") == AtMark()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"model": "levels", "levels": [[0.001, 2], [0.001, 5]]}, "liquidity.BTC-PERP.levels[1].offset"),
        ({"model": "levels", "levels": [[0.001, 2], [1, 5]]}, "liquidity.BTC-PERP.levels[1].offset"),
        ({"model": "levels", "levels": [[-0.001, 2]]}, "liquidity.BTC-PERP.levels[0].offset"),
        ({"model": "levels", "levels": [[0.001, 0]]}, "liquidity.BTC-PERP.levels[0].units"),
        ({"model": "levels", "levels": [[0.001, "NaN"]]}, "liquidity.BTC-PERP.levels[0].units"),
        ({"model": "levels", "levels": [[0.001, "lots"]]}, "liquidity.BTC-PERP.levels[0].units"),
        ({"model": "levels", "levels": [[0.001, True]]}, "liquidity.BTC-PERP.levels[0].units"),
        ({"model": "levels", "levels": [[0.001]]}, "liquidity.BTC-PERP.levels[0]"),
        ({"model": "levels", "levels": []}, "liquidity.BTC-PERP.levels"),
        ({"model": "levels", "levels": "0.001:2"}, "liquidity.BTC-PERP.levels"),
        ({"model": "levels"}, "liquidity.BTC-PERP.levels"),
        ({"model": "levels", "levels": [[0, 1]], "permanent_impact": 1.5}, "liquidity.BTC-PERP.permanent_impact"),
        ({"model": "linear", "depth_units": 0}, "liquidity.BTC-PERP.depth_units"),
        ({"model": "linear", "depth_units": float("inf")}, "liquidity.BTC-PERP.depth_units"),
        ({"model": "linear", "depth_units": None}, "liquidity.BTC-PERP.depth_units"),
        ({"model": "sqrt", "coefficient": -1, "depth_units": 10}, "liquidity.BTC-PERP.coefficient"),
        ({"model": "sqrt", "depth_units": 10}, "liquidity.BTC-PERP.coefficient"),
        ({"model": "mark", "depth_units": 10}, "liquidity.BTC-PERP.depth_units"),
        ({"model": "orderbook"}, "liquidity.BTC-PERP.model"),
        ({}, "liquidity.BTC-PERP.model"),
        ([["model", "mark"]], "liquidity.BTC-PERP"),
    ],
)
def test_from_dict_names_the_bad_field(raw, field):
    with pytest.raises(InputError) as err:
        liquidity_from_dict(raw, "liquidity.BTC-PERP")
    assert err.value.field == field


def test_from_dict_without_a_prefix_keeps_the_relative_path():
    with pytest.raises(InputError) as err:
        liquidity_from_dict({"model": "linear", "depth_units": -5}, "")
    assert err.value.field == "depth_units"
