"""Oracle settings (:mod:`crossmargin.oracle.config`): the documented defaults, each guard refused out of its
range by name, per-symbol guards over the default, and the default policy (docs/oracle.md)."""

from decimal import Decimal

import pytest

from crossmargin.model import InputError
from crossmargin.oracle.config import Guards, OracleConfig, Policy, Status

D = Decimal


def test_the_default_guards_are_the_documented_ones():
    guards = Guards()
    assert (guards.max_age_s, guards.quorum, guards.ema_half_life_s) == (D(60), 1, D(300))
    assert (guards.max_deviation, guards.max_confidence, guards.max_jump) == (D("0.02"), D("0.02"), D("0.25"))
    assert (guards.peg, guards.peg_tolerance) == (None, D("0.01"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_age_s": D(0)}, "max_age_s"),  # a source is never fresh
        ({"quorum": 0}, "quorum"),
        ({"max_deviation": D("1.01")}, "max_deviation"),  # a fraction of the median, at most all of it
        ({"max_deviation": D(-1)}, "max_deviation"),
        ({"max_confidence": D("-0.01")}, "max_confidence"),
        ({"max_jump": D(0)}, "max_jump"),  # every move would trip the breaker
        ({"ema_half_life_s": D(0)}, "ema_half_life_s"),
        ({"peg": D(0)}, "peg"),
        ({"peg_tolerance": D("1.5")}, "peg_tolerance"),
        ({"max_age_s": D("NaN")}, "max_age_s"),
    ],
)
def test_a_guard_out_of_its_range_is_refused_by_name(changes, field):
    with pytest.raises(InputError) as caught:
        Guards(**changes)
    assert caught.value.field == field


def test_the_edges_of_the_ranges_are_taken():
    # a fraction may be 0 or 1 (closed ranges); confidence 0 ignores every source that gives one
    Guards(max_deviation=D(0), peg_tolerance=D(1), max_confidence=D(0))
    Guards(max_deviation=D(1), peg_tolerance=D(0), max_confidence=None, max_jump=None)


def test_a_symbol_of_its_own_guards_overrides_the_default_and_the_rest_take_the_default():
    default, usdc = Guards(quorum=2), Guards(quorum=3, peg=D(1))
    config = OracleConfig(default, {"USDC": usdc})
    assert config.guards("USDC") is usdc and config.guards("BTC") is default
    assert OracleConfig().guards("anything") == Guards()


def test_the_default_policy_liquidates_on_quorum_prices_only_and_freezes_on_invalid_ones():
    policy = Policy()
    # below the quorum (unconfirmed) the engine holds: the policy must name it to liquidate there
    assert policy.liquidate_on == {Status.VALID, Status.DEGRADED}
    assert policy.freeze_on == {Status.INVALID}
    assert policy.conservative_on == {Status.DEGRADED, Status.UNCONFIRMED}
    assert [str(s) for s in Status] == ["valid", "degraded", "unconfirmed", "invalid"]  # the names documents use
