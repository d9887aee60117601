"""Instruments: linear and inverse contracts, options, and every refused combination named by its field."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from crossmargin.model import ContractKind, InputError, Instrument, OptionRight
from tests.builders import COIN_TIER, ONE_TIER, D, inverse, linear

EXPIRY = datetime(2025, 6, 27, 8, tzinfo=UTC)


def option(settle: str = "USDC", **changes: Any) -> Instrument:
    spec = Instrument(
        "BTC-27JUN25-60000-C", ContractKind.OPTION, "BTC", settle, D(1), False, ONE_TIER,
        expiry=EXPIRY, strike=D(60000), right=OptionRight.CALL,
    )  # fmt: skip
    return replace(spec, **changes)


def test_who_settles_in_the_underlying():
    assert not linear("BTC-PERP").coin_settled
    assert inverse("BTCUSD-PERP").coin_settled
    assert option("BTC").coin_settled and not option("USDC").coin_settled  # Deribit's coin options, USDC ones
    assert linear("BTC-PERP").upnl_weight == linear("BTC-PERP").initial_upnl_weight == 1


BAD = [
    ("contract size zero", lambda: linear("X", size="0"), "contract_size"),
    ("inverse settled elsewhere", lambda: replace(inverse("X"), settle="USD"), "settle"),
    ("linear settled in its underlying", lambda: replace(linear("X"), settle="BTC"), "settle"),
    ("perpetual with an expiry", lambda: replace(linear("X"), expiry=EXPIRY), "expiry"),
    ("uPnL weight above 1", lambda: replace(linear("X"), upnl_weight=D("1.1")), "upnl_weight"),
    (
        "initial uPnL weight above the weight",
        lambda: replace(linear("X"), upnl_weight=D("0.5"), initial_upnl_weight=D("0.6")),
        "initial_upnl_weight",
    ),
    ("close fee above 1", lambda: replace(linear("X"), close_fee_rate=D(2)), "close_fee_rate"),
    ("negative liquidation fee", lambda: replace(linear("X"), liquidation_fee_rate=D(-1)), "liquidation_fee_rate"),
    ("size premium on an inverse", lambda: replace(inverse("X", table=COIN_TIER), imf_factor=D("0.001")), "imf_factor"),
    ("negative uPnL cap", lambda: replace(linear("X"), initial_upnl_cap=D(-1)), "initial_upnl_cap"),
    ("caps not rising", lambda: replace(linear("X"), open_interest_caps=(D(10), D(10))), "open_interest_caps[1]"),
    ("negative lower cap", lambda: replace(linear("X"), open_interest_caps=(D(-1), D(10))), "open_interest_caps[0]"),
    ("margin quantum zero", lambda: replace(linear("X"), margin_quantum=D(0)), "margin_quantum"),
    ("rate quantum negative", lambda: replace(linear("X"), rate_quantum=D(-1)), "rate_quantum"),
    ("strike on a perpetual", lambda: replace(linear("X"), strike=D(1)), "strike"),
    ("right on a perpetual", lambda: replace(linear("X"), right=OptionRight.PUT), "right"),
    ("option without strike", lambda: option(strike=None), "strike"),
    ("option with strike zero", lambda: option(strike=D(0)), "strike"),
    ("option without right", lambda: option(right=None), "right"),
    ("option without expiry", lambda: option(expiry=None), "expiry"),
    ("inverse option", lambda: option("BTC", inverse=True), "inverse"),
]


@pytest.mark.parametrize(("make", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_instrument_is_refused_naming_its_field(make, field):
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field
