"""Shared by the API tests: the shipped example book served by the real app, keys of every scope, and the
second methods the expected figures come from (the ``evaluate``, ``what-if`` and ``replay`` commands run
in-process on the same document and feed).

The example book (examples/portfolio.yaml) at its opening, by hand from the document's figures (the same
arithmetic the document's comments and ``crossmargin evaluate`` show):

- hedged: 50000 USDT; long 10 BTC-PERP (10000 x 0.001 BTC) at 63800, marked 64000; short 10 BTC-0328 at
  64400, marked 64500.
    uPnL = 10 x (64000 - 63800) - 10 x (64500 - 64400) = 2000 - 1000 = 1000; equity = 51000
    IM: BTC-PERP notional 640000 (tier up to 1000000, max leverage 50: imr 0.02) = 12800;
        BTC-0328 notional 645000 (tier up to 2500000, max leverage 20: imr 0.05) = 32250; IM = 45050
    free collateral = 51000 - 45050 = 5950; USDT counts at weight 1, so at most 5950 USDT may leave.
- near-liquidation: 8500 USDT; long 3 BTC-PERP at 66500, marked 64000.
    equity = 8500 + 3 x (64000 - 66500) = 1000; IM = 192000 x 0.01 = 1920; free collateral = -920
    MM = 192000 x 0.005 - 50 = 910 (the 50 keeps MM continuous where the 0.004 and 0.005 tiers meet:
    50000 x (0.005 - 0.004)).
"""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from crossmargin.cli.main import app as cli
from crossmargin.service.api import Limits, create_app
from crossmargin.service.host import BookHost
from crossmargin.service.keys import add_key
from crossmargin.service.store import Store
from crossmargin.service.views import account_view

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = EXAMPLES / "portfolio.yaml"
BOOK_TEXT = BOOK.read_text(encoding="utf-8")
FEED = EXAMPLES / "feed.jsonl"
ACCOUNTS = ("diversified", "hedged", "near-liquidation", "coin-and-isolated")
"""The example book's accounts, in the document's order."""
WAIT_S = 10.0
"""The most a test waits for a message that must come (a bound against hanging, never a timing claim)."""


@dataclass
class Served:
    """The real app over a host on a fresh database, its lifespan running (the writer task is up)."""

    host: BookHost
    store: Store
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, scope: str) -> str:
        """A live key of ``scope`` (made once per scope)."""
        if scope not in self.keys:
            self.keys[scope] = add_key(self.store, scope, f"test {scope}")[1]
        return self.keys[scope]

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(scope)}"}

    def health(self) -> dict[str, Any]:
        answer = self.client.get("/v1/health")
        assert answer.status_code == 200, answer.text
        health: dict[str, Any] = answer.json()
        return health

    def view(self, account_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/v1/accounts/{account_id}", headers=self.auth("admin"))
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view

    def fingerprint(self) -> tuple[Any, ...]:
        """Everything a refused request must leave as it was: the health answer (events applied, the
        engine's digest), the clearing state's digest and every account as ``GET /v1/accounts/{id}`` shows
        it (read off the host, which is quicker than asking for each)."""
        loop = self.host.loop
        return self.health(), loop.state.digest(), [account_view(loop, a) for a in sorted(loop.book.accounts)]


DEFAULT_LIMITS = Limits()


@contextlib.contextmanager
def serving(url: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Served]:
    """The example book served on the database at ``url`` (a new one), for as long as the block runs."""
    store = Store(url)
    try:
        host = BookHost.open(store, ("portfolio.yaml", BOOK_TEXT))
        with TestClient(create_app(host, limits)) as client:
            yield Served(host, store, client)
    finally:
        store.close()


def receive(socket: WebSocketTestSession, within_s: float = WAIT_S) -> dict[str, Any]:
    """The next stream message (JSON), waiting at most ``within_s``; a close raises WebSocketDisconnect.

    The test client's own ``receive`` waits forever; this reads the same channel under a deadline (the
    session's ``_send_rx`` stream, on the client's event loop) so a missing message fails the test instead
    of hanging it."""

    async def next_message() -> Any:
        with anyio.fail_after(within_s):
            return await socket._send_rx.receive()

    message = socket.portal.call(next_message)
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(code=message.get("code", 1000), reason=message.get("reason", ""))
    data = message.get("bytes") or message.get("text")
    assert data is not None, message
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def closed_with(socket: WebSocketTestSession) -> tuple[list[dict[str, Any]], int]:
    """The messages the server sends before it closes the socket, and the close code."""
    messages = []
    while True:
        try:
            messages.append(receive(socket))
        except WebSocketDisconnect as closed:
            return messages, closed.code


# ------------------------------------------------------------------ the second methods: the CLI itself

_runner = CliRunner()


def cli_json_lines(*args: str | Path) -> list[dict[str, Any]]:
    """The JSON lines (or one JSON document) a ``crossmargin`` command prints, every number as printed
    (a decimal string)."""
    result = _runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    text = result.stdout.strip()
    if text.startswith("{\n"):
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines()]


@cache
def evaluated(document: Path = BOOK) -> dict[str, dict[str, Any]]:
    """``crossmargin evaluate DOC --json``'s accounts, by id."""
    (result,) = cli_json_lines("evaluate", document, "--json")
    return {a["id"]: a for a in result["accounts"]}


def replayed(tmp: Path, lines: Sequence[Mapping[str, Any]], document: Path = BOOK) -> list[dict[str, Any]]:
    """What ``crossmargin replay DOC --feed FEED --json`` prints for the feed ``lines`` (the ``end`` line last)."""
    feed = tmp / "feed.jsonl"
    feed.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return cli_json_lines("replay", document, "--feed", feed, "--json")


def feed_lines() -> list[dict[str, Any]]:
    """The shipped feed (examples/feed.jsonl), line by line."""
    return [json.loads(line) for line in FEED.read_text(encoding="utf-8").splitlines() if line.strip()]


def without_stream_fields(message: Mapping[str, Any]) -> dict[str, Any]:
    """A stream message as ``replay --json`` prints the same event: no ``cause``, ``seq`` or ``basis`` (a
    ``figures`` message's ``exact`` or ``mirror``)."""
    return {k: v for k, v in message.items() if k not in ("cause", "seq", "basis")}


def dec(text: object) -> Decimal:
    """A decimal string of an answer, as a Decimal (refusing anything else, floats included)."""
    assert isinstance(text, str), text
    return Decimal(text)


def wait_for(condition: Callable[[], bool], what: str, within_s: float = WAIT_S) -> None:
    """Wait until ``condition()`` holds, failing (naming ``what``) after ``within_s``."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s} s")
        time.sleep(0.01)


@contextlib.contextmanager
def on_loopback(store: Store, document: tuple[str, str]) -> Iterator[tuple[int, BookHost]]:
    """The real app over a new host of ``document`` (file name and text, or a generated book) on ``store``,
    served by uvicorn in a thread on a free loopback port for as long as the block runs: ``(port, host)``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        host = BookHost.open(store, document)
        listener.bind(("127.0.0.1", 0))  # a free port, held from here on: no race for it
        server = uvicorn.Server(uvicorn.Config(create_app(host), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        try:
            wait_for(lambda: server.started or not thread.is_alive(), "the server starting")
            assert server.started, "the server did not start"
            yield listener.getsockname()[1], host
        finally:
            server.should_exit = True
            thread.join(WAIT_S)
        assert not thread.is_alive(), "the server did not stop"
    finally:
        listener.close()
