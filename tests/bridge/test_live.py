"""A live import through a real ccxt exchange object whose venue endpoints answer with a fixture's recorded
payloads (no network): the recording it writes imports to the same document as the fixture. Credentials come
from the environment only and never reach an error message."""

import json
from typing import Any

import ccxt
import pytest

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.live import credentials, exchange_of, live_recording, record, scrubbed, variable
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_json
from tests.bridge.support import recording, responses


def binance_on_recorded_payloads(secrets: dict[str, str]) -> Any:
    """ccxt's binanceusdm with each endpoint it calls answering the binanceusdm-cross fixture's payload."""
    data = recording("binanceusdm-cross")
    exchange = ccxt.binanceusdm(secrets)
    exchange.set_markets(json.loads(json.dumps(data["fetch_markets"], default=float)))
    raw = json.loads(json.dumps(data["raw"], default=str))
    answers = {
        "fapiPrivateGetLeverageBracket": [
            {"symbol": exchange.markets[s]["id"], "brackets": [t["info"] for t in tiers]}
            for s, tiers in json.loads(json.dumps(data["fetch_leverage_tiers"], default=str)).items()
        ],
        "fapiPrivateV3GetPositionRisk": raw["GET /fapi/v3/positionRisk"],
        "fapiPrivateV3GetAccount": raw["GET /fapi/v3/account"],
        "fapiPublicGetTicker24hr": [
            t["info"] for t in json.loads(json.dumps(data["fetch_tickers"], default=str)).values()
        ],
        "fapiPublicGetPremiumIndex": raw["GET /fapi/v1/premiumIndex"],
        "fapiPrivateGetSymbolConfig": [entry["info"] for entry in data["fetch_leverages"].values()],
        "fapiPrivateGetPositionSideDual": raw["GET /fapi/v1/positionSide/dual"],
        "fapiPrivateGetMultiAssetsMargin": raw["GET /fapi/v1/multiAssetsMargin"],
    }
    for name, value in answers.items():
        setattr(exchange, name, lambda params=None, context=None, value=value: value)
    return exchange


def test_a_live_recording_imports_like_the_recorded_fixture():
    exchange = binance_on_recorded_payloads({"apiKey": "key-1", "secret": "secret-1"})
    written = record(exchange, "binanceusdm")
    assert written["raw"] == {"GET /fapi/v1/multiAssetsMargin": {"multiAssetsMargin": False}}
    text = json.dumps(written)
    assert "key-1" not in text and "secret-1" not in text
    again = read_responses(parse_json(text, "recording"))
    assert document_from_responses(again) == document_from_responses(responses("binanceusdm-cross"))


def test_credentials_come_from_the_environment():
    environment = {
        variable("okx", "API_KEY"): "k",
        variable("okx", "SECRET"): "s",
        variable("okx", "PASSWORD"): "p",
        "CROSSMARGIN_BYBIT_API_KEY": "other",
    }
    assert credentials("okx", environment) == {"apiKey": "k", "secret": "s", "password": "p"}
    assert credentials("hyperliquid", {"CROSSMARGIN_HYPERLIQUID_WALLET_ADDRESS": "0xabc"}) == {"walletAddress": "0xabc"}
    with pytest.raises(InputError) as caught:
        credentials("dydx", environment)
    assert caught.value.field == "--live"
    assert "CROSSMARGIN_DYDX_WALLET_ADDRESS" in caught.value.message


def test_a_venue_error_is_reported_without_the_credentials(monkeypatch):
    environment = {"CROSSMARGIN_BINANCEUSDM_API_KEY": "key-XYZ", "CROSSMARGIN_BINANCEUSDM_SECRET": "sec-XYZ"}

    def refused(self: Any, params: Any = None) -> Any:
        raise ccxt.AuthenticationError('binanceusdm {"code":-2015,"msg":"Invalid API-key key-XYZ"}')

    monkeypatch.setattr(ccxt.binanceusdm, "load_markets", refused)
    with pytest.raises(InputError) as caught:
        live_recording("binanceusdm", environment)
    assert caught.value.field == "--live"
    assert "key-XYZ" not in str(caught.value) and "sec-XYZ" not in str(caught.value)
    assert "AuthenticationError" in caught.value.message and "***" in caught.value.message


def test_scrubbed_and_unknown_venues():
    assert scrubbed("a s3cret b", ["s3cret", ""]) == "a *** b"
    with pytest.raises(InputError) as caught:
        exchange_of("kraken", {})
    assert caught.value.field == "venue"
    assert exchange_of("binanceusdm", {"apiKey": "k"}).apiKey == "k"
