"""The ``oracle`` section of a document as oracle settings (:mod:`crossmargin.oracle.document`): defaults
for what it leaves out, per-symbol guards on top of the section's defaults (not the built-in ones), the
policy by status name, and errors named by their place in the document."""

from decimal import Decimal
from typing import Any

import pytest

from crossmargin.model import InputError
from crossmargin.oracle.config import Guards, Policy, Status
from crossmargin.oracle.document import oracle_config
from tests.oracle.conftest import DOCUMENT

D = Decimal


def with_oracle(section: dict[str, Any] | None) -> dict[str, Any]:
    document = {key: value for key, value in DOCUMENT.items() if key != "oracle"}
    return document if section is None else {**document, "oracle": section}


def test_the_books_section():
    config = oracle_config(DOCUMENT)
    # max_age_s 60, quorum 2, max_deviation 2 %, max_jump 25 %; the rest as built in
    assert config.default == Guards(max_age_s=D(60), quorum=2, max_deviation=D("0.02"), max_jump=D("0.25"))
    # USDC names its peg and tolerance only: the section's quorum 2 carries over, not the built-in 1
    usdc = config.guards("USDC")
    assert (usdc.quorum, usdc.peg, usdc.peg_tolerance, usdc.max_age_s) == (2, D(1), D("0.01"), D(60))
    assert config.guards("BTC") == config.default
    assert config.policy == Policy()


def test_no_section_gives_the_built_in_settings():
    config = oracle_config(with_oracle(None))
    assert (config.default, dict(config.symbols), config.policy) == (Guards(), {}, Policy())


def test_a_policy_names_its_statuses_and_keeps_the_default_for_the_rest():
    config = oracle_config(with_oracle({"policy": {"liquidate_on": ["valid", "degraded", "unconfirmed"]}}))
    assert config.policy.liquidate_on == {Status.VALID, Status.DEGRADED, Status.UNCONFIRMED}
    assert config.policy.freeze_on == {Status.INVALID}  # not named: the default
    assert config.policy.conservative_on == {Status.DEGRADED, Status.UNCONFIRMED}
    assert oracle_config(with_oracle({"policy": {"freeze_on": []}})).policy.freeze_on == frozenset()


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"quorum": 0}, "oracle.quorum"),
        ({"max_deviation": 2}, "oracle.max_deviation"),
        ({"symbols": {"USDC": {"peg_tolerance": 2}}}, "oracle.symbols.USDC.peg_tolerance"),
        ({"symbols": {"BTC": {"max_age_s": 0}}}, "oracle.symbols.BTC.max_age_s"),
    ],
)
def test_a_guard_out_of_range_is_named_by_its_place_in_the_document(section, field):
    with pytest.raises(InputError) as caught:
        oracle_config(with_oracle(section))
    assert caught.value.field == field
