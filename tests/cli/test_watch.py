"""``crossmargin watch`` run as a user runs it, the remote venue replaced by a stand-in (tests/bridge/watch_support.py)
that ccxt.pro would otherwise be: its printed JSON lines, its feeding of the real service on loopback, its stop on
Ctrl-C (a real SIGINT), and its refusals of bad input.

The account and its fills are those of tests/bridge/test_watch.py (fixture binanceusdm-cross), by hand:

- buy 0.5 BTC-PERP at 67500, fee 0.5 x 67500 x 0.0004 = 13.5: long 2 at (1.5 x 66104.2 + 0.5 x 67500) / 2 = 66453.15,
  wallet 100284.61735942 - 13.5 = 100271.11735942
- buy 10 ETH-PERP at 2530, fee 10.12: realizes 10 x (2581.37 - 2530) = 513.7; short 30 at 2581.37; wallet
  100271.11735942 + 513.7 - 10.12 = 100774.69735942; the service's fee pool 13.5 + 10.12 = 23.62
- then 5 USDT of funding leave the venue's wallet with no fill: drift -5, not posted
"""

import json
import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from crossmargin.cli import watch as watch_command
from crossmargin.cli.main import app
from crossmargin.service.keys import add_key
from crossmargin.service.store import Store
from tests.bridge.support import FIXTURES
from tests.bridge.watch_support import (
    BTC,
    ETH,
    WALLET,
    StreamingVenue,
    binance_trade,
    free_port,
    mark_update,
    served_book,
    snapshots,
)
from tests.service.api_support import on_loopback

RECORDING = FIXTURES / "binanceusdm-cross.json"
START_MS = 1729771200000
API_KEY, API_SECRET = "venue-key-0123456789abcdef", "venue-secret-fedcba9876543210"
AFTER = WALLET - Decimal("13.5") + Decimal("513.7") - Decimal("10.12")  # 100774.69735942
runner = CliRunner()


async def script(venue: StreamingVenue) -> None:
    """The venue's morning: a mark, two fills, a funding payment; then the user presses Ctrl-C."""
    await snapshots(venue, 1)
    await venue.deliver("watch_mark_prices", {BTC: mark_update(BTC, "67500.1", START_MS + 1000)})
    await venue.deliver("watch_my_trades", [binance_trade(5001, BTC, "BUY", "0.5", "67500", "13.5", START_MS + 2000)])
    venue.position(BTC, "2", "66453.15")
    venue.wallet(WALLET - Decimal("13.5"))
    await venue.signal("watch_positions")
    await venue.deliver("watch_my_trades", [binance_trade(5002, ETH, "BUY", "10", "2530", "10.12", START_MS + 3000)])
    venue.position(ETH, "-30", "2581.37")
    venue.wallet(AFTER)
    await venue.signal("watch_balance")
    venue.wallet(AFTER - 5)
    await venue.signal("watch_balance")  # the difference is seen, and reported at the snapshot one poll later
    await snapshots(venue, venue.calls["fetch_balance"] + 1)
    signal.raise_signal(signal.SIGINT)


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[StreamingVenue]:
    """The stand-in the command gets instead of a ccxt.pro exchange, with the venue keys in the environment, and
    Ctrl-C at Python's own handler for the test (a run started as a background job of a non-interactive shell,
    as CI may be, inherits SIGINT ignored: the script's Ctrl-C would then never stop the watch); afterwards,
    what its script raised (a stall included) fails the test."""
    stand_in = StreamingVenue(script=script)

    def exchange(venue_id: str, secrets: dict[str, str]) -> StreamingVenue:
        assert venue_id == "binanceusdm"
        stand_in.credentials.append(dict(secrets))
        return stand_in

    monkeypatch.setenv("CROSSMARGIN_BINANCEUSDM_API_KEY", API_KEY)
    monkeypatch.setenv("CROSSMARGIN_BINANCEUSDM_SECRET", API_SECRET)
    monkeypatch.delenv("CROSSMARGIN_SERVICE_KEY", raising=False)
    monkeypatch.delenv("CROSSMARGIN_MATCHER_KEY", raising=False)
    monkeypatch.setattr(watch_command, "streaming_exchange", exchange)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield stand_in
    finally:
        signal.signal(signal.SIGINT, inherited)
    error = stand_in.script_error()
    if error is not None:
        raise error


def lines_of(output: str) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in output.splitlines()]


def test_without_serve_it_prints_one_exact_json_line_per_update_until_ctrl_c(venue: StreamingVenue) -> None:
    result = runner.invoke(app, ["watch", "binanceusdm", "--from-file", str(RECORDING), "--poll", "0.05"])
    assert result.exit_code == 0, result.output
    assert venue.credentials == [{"apiKey": API_KEY, "secret": API_SECRET}]
    printed = result.stdout.splitlines()
    assert printed[1] == '{"event":"price","t":1729771201,"source":"binanceusdm","symbol":"BTC-PERP","price":67500.1}'
    assert printed[2] == (
        '{"event":"trade","t":1729771202,"venue_trade_id":"5001","buyer":"binanceusdm-USDT","seller":"@market",'
        '"instrument":"BTC-PERP","size":0.5,"price":67500,"buyer_fee":13.5,"seller_fee":0,'
        '"venue_fee":{"cost":13.5,"currency":"USDT"}}'
    )
    lines = lines_of(result.stdout)
    assert lines[0]["event"] == "watch" and lines[0]["poll_s"] == Decimal("0.05") and lines[0]["serve"] is None
    assert [line["event"] for line in lines[1:]] == ["price", "trade", "trade", "drift", "stopped"]
    assert lines[4] == {
        "event": "drift", "kind": "balance", "account": "binanceusdm-USDT", "asset": "USDT",
        "venue": Decimal("100769.69735942"), "book": Decimal("100774.69735942"), "difference": -5,
    }  # fmt: skip
    assert lines[-1] == {"event": "stopped", "venue": "binanceusdm"}
    assert venue.closed
    assert API_KEY not in result.output and API_SECRET not in result.output


def test_with_serve_it_moves_the_services_book(
    venue: StreamingVenue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'service.db'}")
    try:
        admin, feeder, matcher = (add_key(store, scope, "test")[1] for scope in ("admin", "feeder", "matcher"))
        with on_loopback(store, served_book()) as (port, _):
            url = f"http://127.0.0.1:{port}"
            monkeypatch.setenv("CROSSMARGIN_SERVICE_KEY", feeder)
            monkeypatch.setenv("CROSSMARGIN_MATCHER_KEY", matcher)
            args = ["watch", "binanceusdm", "--from-file", str(RECORDING), "--serve", url, "--poll", "0.05"]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            answers = [(line["event"], line["what"]) for line in lines_of(result.stdout) if "what" in line]
            assert answers == [("posted", "prices"), ("posted", "trade"), ("posted", "trade")]
            headers = {"Authorization": f"Bearer {admin}"}
            account = httpx.get(f"{url}/v1/accounts/binanceusdm-USDT", headers=headers).json()
            held = {p["instrument"]: (p["size"], p["entry_price"]) for p in account["positions"]}
            assert held == {"BTC-PERP": ("2", "66453.15"), "ETH-PERP": ("-30", "2581.37")}
            # the venue's mark is BTC-PERP's only source in this book (BTC is not a priced asset), so it is the mark
            assert {p["instrument"]: p["mark"] for p in account["positions"]}["BTC-PERP"] == "67500.1"
            # the funding payment is drift: reported, not posted, so the service keeps the fills' wallet
            assert [(c["asset"], c["amount"]) for c in account["collateral"]] == [("USDT", "100774.69735942")]
            assert httpx.get(f"{url}/v1/book", headers=headers).json()["fee_pool"] == "23.62"
            assert httpx.get(f"{url}/v1/health").json()["events"] == 3
            for secret in (feeder, matcher, API_KEY, API_SECRET):
                assert secret not in result.output
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "environment", "error"),
    [
        (["nowhere"], {}, "error: VENUE: unknown venue 'nowhere'; crossmargin imports binanceusdm, binancecoinm, "
                          "bybit, okx, hyperliquid, dydx"),
        (["binanceusdm", "--poll", "0"], {}, "error: --poll: must be between 0.01 and 86400, got 0"),
        (["binanceusdm", "--poll", "soon"], {}, "error: --poll: not a decimal number: 'soon'"),
        (["binanceusdm", "--rate", "0"], {}, "error: --rate: must be between 0.1 and 10000, got 0"),
        (["binanceusdm", "--serve", "ftp://x"], {}, "error: --serve: an http:// or https:// URL, got 'ftp://x'"),
        (["binanceusdm", "--serve", "http://127.0.0.1:1"], {},
         "error: --key: posting to a service needs its key: set CROSSMARGIN_SERVICE_KEY (feeder or admin)"),
        (["binanceusdm"], {"CROSSMARGIN_BINANCEUSDM_API_KEY": None, "CROSSMARGIN_BINANCEUSDM_SECRET": None},
         "error: environment: no credentials for binanceusdm in the environment (set CROSSMARGIN_BINANCEUSDM_API_KEY, "
         "CROSSMARGIN_BINANCEUSDM_SECRET, CROSSMARGIN_BINANCEUSDM_PASSWORD, CROSSMARGIN_BINANCEUSDM_WALLET_ADDRESS; "
         "read-only keys)"),
        (["binanceusdm", "--from-file", str(FIXTURES / "bybit-unified.json")], {},
         f"error: {FIXTURES / 'bybit-unified.json'}: venue: the file records 'bybit', not 'binanceusdm'"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_anything_is_watched(
    venue: StreamingVenue,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    environment: dict[str, str | None],
    error: str,
) -> None:
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["watch", *args])
    assert result.exit_code == 2
    assert result.stderr.strip() == error
    assert result.stdout == ""
    assert venue.calls == {}


def test_a_service_that_does_not_answer_is_refused_at_the_start(
    venue: StreamingVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSMARGIN_SERVICE_KEY", "cm_x")
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["watch", "binanceusdm", "--from-file", str(RECORDING), "--serve", url])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --serve: no crossmargin service answers at {url}: ")
    assert "Connection refused" in result.stderr
    assert venue.calls == {}
