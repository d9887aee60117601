"""Crash recovery of the real service (issue 18, item 5), on SQLite and on the real PostgreSQL.

``crossmargin serve`` runs as a subprocess on the shipped example (examples/portfolio.yaml) while clients
send events over HTTP: account openings (some refused: the id exists), deposits into accounts nobody else
touches, price posts of two lines each (a request of two events) and trades between two example accounts.
Every request carries its own ``Idempotency-Key``; a request whose answer is lost (the server was killed) is
sent again with the same key until it is answered, as a client of the service does. The server is killed
with SIGKILL at random moments, five times, and restarted each time without ``--book`` (with the key it made
the first time); after the last round the clients stop and it is killed and restarted once more, so that
the state checked is the one recovered from the database (the latest snapshot and the log after it).

Then:

- the log's seqs are 1..N without a gap, and every acknowledged answer with a seq (a 200, or a 422 whose
  refusal is logged) is in it: the request's key on its first event, its event count, its last event the seq
  the answer gave, the record what was sent (a torn last write was discarded, never half-applied); a 422
  without a seq (refused before the log: the opening of an existing id) is not;
- every request was applied exactly once (one row per key, however often it was sent), so the log is the
  clients' requests and nothing else;
- each deposit account's balance is the sum of the amounts sent to it, added up here;
- every opened account exists; the service's digest (``/v1/health``) equals the digest of a fresh replay of
  the log (``crossmargin log``, then ``crossmargin replay --events``: a second method) and of the records
  fed to a fresh engine loop.

A second test kills a writer in the middle of a transaction (rows inserted, no commit) and checks that the
store and a reopened host never see it.
"""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.live import events as live
from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import EngineLoop
from crossmargin.model.document_text import parse_document
from crossmargin.service.host import BookHost, Maker
from crossmargin.service.schema import events
from crossmargin.service.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio.yaml"
CLI = Path(sys.executable).parent / "crossmargin"
KILLS = 5
"""SIGKILLs while clients send (each restart costs the service's start, about 2 s)."""
READY_S = 60.0
"""How long a (re)started server may take to answer /v1/health before the test gives up."""
D = Decimal


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``crossmargin serve`` as a subprocess: started (the first time with the book and a new admin key),
    killed with SIGKILL, restarted on a fresh port."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url, self.workdir = url, workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.key = ""
        self.up = asyncio.Event()
        self.starts = 0

    async def start(self) -> None:
        port = free_port()
        args = [str(CLI), "serve", "--db", self.url, "--port", str(port), "--snapshot-every", "7"]
        if not self.key:
            args += ["--book", str(EXAMPLE), "--new-key", "admin"]
        self.starts += 1
        out = self.workdir / f"serve-{self.starts}.out"
        err = self.workdir / f"serve-{self.starts}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.process = subprocess.Popen(args, stdout=stdout, stderr=stderr, cwd=self.workdir)
        self.base = f"http://127.0.0.1:{port}"
        await self.ready(out, err)
        if not self.key:
            lines = [line for line in out.read_text().splitlines() if line.startswith("new admin key: ")]
            assert len(lines) == 1, out.read_text()
            self.key = lines[0].removeprefix("new admin key: ")
        self.up.set()

    async def ready(self, out: Path, err: Path) -> None:
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + READY_S
        async with httpx.AsyncClient() as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"serve exited {self.process.returncode}: {out.read_text()}{err.read_text()}")
                try:
                    if (await client.get(self.base + "/v1/health", timeout=2)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"serve did not answer within {READY_S} s: {err.read_text()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        self.up.clear()
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait() == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Request:
    """One request a client sends until it is answered, and the answer."""

    key: str
    path: str
    body: Any
    events: int = 1
    answer: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    sent: int = 0


class Clients:
    """Clients sending requests concurrently, each waiting for its answer before its next request."""

    def __init__(self, server: Server, rng: random.Random) -> None:
        self.server, self.rng = server, rng
        self.stop = asyncio.Event()
        self.requests: list[Request] = []
        self.deposits: dict[str, list[Decimal]] = {}
        self.opened: list[Request] = []

    async def send(self, client: httpx.AsyncClient, request: Request) -> Request:
        self.requests.append(request)
        headers = {"Idempotency-Key": request.key}
        while True:
            await self.server.up.wait()
            request.sent += 1
            try:
                response = await client.post(
                    self.server.base + request.path, json=request.body, timeout=20,
                    headers={**headers, "Authorization": f"Bearer {self.server.key}"},
                )  # fmt: skip
            except httpx.TransportError:  # killed: the answer is lost, the request may or may not be logged
                await asyncio.sleep(0.02)
                continue
            if response.status_code == 503:  # the log could not be written: not applied
                await asyncio.sleep(0.02)
                continue
            body = response.json()
            # 200: applied; 422: refused, in the log with its refusal ("seq") or refused before it (none)
            assert response.status_code in (200, 422) and (response.status_code == 422 or "seq" in body), (
                request.path, response.status_code, body,
            )  # fmt: skip
            request.status, request.answer = response.status_code, body
            return request

    async def depositor(self, name: str) -> None:
        async with httpx.AsyncClient() as client:
            opened = await self.send(client, Request(f"{name}-open", "/v1/accounts", {"id": name}))
            assert opened.status == 200, opened.answer
            self.opened.append(opened)
            amounts = self.deposits.setdefault(name, [])
            number = 0
            while not self.stop.is_set():
                number += 1
                amount = D(self.rng.randint(1, 9_999_999)) / 100  # 0.01 to 99999.99 USDT
                body = {"asset": "USDT", "amount": str(amount)}
                await self.send(client, Request(f"{name}-{number}", f"/v1/accounts/{name}/deposits", body))
                amounts.append(amount)

    async def opener(self) -> None:
        async with httpx.AsyncClient() as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                # every fourth request opens acc-1 again: refused (the id exists) before it reaches the log
                name = "acc-1" if number % 4 == 0 else f"acc-{number}"
                done = await self.send(client, Request(f"open-{number}", "/v1/accounts", {"id": name}))
                if number % 4 == 0:
                    assert done.status == 422 and done.answer["error"]["field"] == "account", done.answer
                    assert "seq" not in done.answer
                else:
                    assert done.status == 200, done.answer
                    self.opened.append(done)

    async def feeder(self) -> None:
        async with httpx.AsyncClient() as client:
            t = 0
            while not self.stop.is_set():
                t += 1
                # BTC about the near-liquidation account's liquidation price (63969.85, the document says)
                btc = D(self.rng.randint(63_600, 64_400))
                lines = [
                    {"t": str(t), "source": "binance", "symbol": "BTC", "price": str(btc)},
                    {"t": str(t), "source": "coinbase", "symbol": "BTC", "price": str(btc + 5)},
                ]
                await self.send(client, Request(f"prices-{t}", "/v1/prices", lines, events=2))

    async def matcher(self) -> None:
        async with httpx.AsyncClient() as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                buyer, seller = ("hedged", "diversified") if number % 2 else ("diversified", "hedged")
                body = {
                    "buyer": buyer, "seller": seller, "instrument": "BTC-PERP",
                    "size": str(self.rng.randint(1, 3)), "price": str(self.rng.randint(63_900, 64_100)),
                }  # fmt: skip
                await self.send(client, Request(f"trade-{number}", "/v1/trades", body))


async def kill_loop(server: Server, clients: Clients, rng: random.Random) -> None:
    await server.start()
    workers = [
        asyncio.create_task(clients.depositor("vault-1")),
        asyncio.create_task(clients.depositor("vault-2")),
        asyncio.create_task(clients.opener()),
        asyncio.create_task(clients.feeder()),
        asyncio.create_task(clients.matcher()),
    ]
    try:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            server.kill()
            await server.start()
        await asyncio.sleep(0.3)
        clients.stop.set()
        await asyncio.wait_for(asyncio.gather(*workers), READY_S)
    finally:
        for worker in workers:
            worker.cancel()
    # the state checked is the one recovered from the database alone
    server.kill()
    await server.start()


def logged_rows(url: str) -> list[Any]:
    store = Store(url)
    try:
        with store.engine.connect() as connection:
            query = sa.select(events.c.seq, events.c.idempotency_key, events.c.request_events, events.c.record)
            return list(connection.execute(query.order_by(events.c.seq)).all())
    finally:
        store.close()


def test_kill_9_in_a_loop_loses_no_acknowledged_event(database_url: str, tmp_path: Path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    server = Server(database_url, tmp_path)
    clients = Clients(server, rng)
    try:
        asyncio.run(kill_loop(server, clients, rng))
        with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {server.key}"}) as http:
            health = http.get("/v1/health").json()
            balances = {
                name: http.get(f"/v1/accounts/{name}").json()["collateral"] for name in sorted(clients.deposits)
            }
            opened = {r.body["id"]: http.get(f"/v1/accounts/{r.body['id']}").status_code for r in clients.opened}
    finally:
        server.stop()
    resent = sum(1 for r in clients.requests if r.sent > 1)
    repeated = sum(1 for r in clients.requests if r.answer.get("repeated"))  # committed, the answer lost
    where = (
        f"(seed {seed}, {server.starts} starts, {len(clients.requests)} requests, {resent} sent again, "
        f"{repeated} answered as repeated)"
    )
    assert server.starts == KILLS + 2 and len(clients.requests) > 10 * KILLS, where

    rows = logged_rows(database_url)
    saved = Store(database_url)
    snapshot = saved.latest_snapshot()
    saved.close()
    # a snapshot with the batch that crossed each multiple of 7: the latest at or after the last multiple
    # (the restarts resumed from one and the log after it)
    assert snapshot is not None and len(rows) // 7 * 7 <= snapshot[0] <= len(rows), where
    seqs = [row.seq for row in rows]
    assert seqs == list(range(1, len(rows) + 1)), f"the log has gaps {where}"
    by_seq = {row.seq: row for row in rows}
    keyed = {row.idempotency_key.split(":", 1)[1]: row for row in rows if row.idempotency_key is not None}
    # every request was answered (it was sent again until it was); a refused one without a seq is not in
    # the log, every other one is, exactly once: one row per key, its event count, its last event the seq
    # of the answer; the rows between keys are the price posts' second lines, so the log is the clients'
    # logged requests and nothing more
    logged = [r for r in clients.requests if "seq" in r.answer]
    refused = [r for r in clients.requests if "seq" not in r.answer]
    assert all(r.status == 422 for r in refused) and len({r.key for r in clients.requests}) == len(clients.requests)
    assert set(keyed) == {r.key for r in logged}, where
    assert sum(r.events for r in logged) == len(rows), where
    for request in logged:
        row = keyed[request.key]
        assert row.request_events == request.events, (request, where)
        assert request.answer["seq"] == row.seq + request.events - 1, (request, where)
        for continuation in range(row.seq + 1, row.seq + request.events):
            assert by_seq[continuation].idempotency_key is None and by_seq[continuation].request_events == 0
        first = live.decode_inbound(row.record)
        if request.path.endswith("/deposits"):
            assert isinstance(first, live.Deposit) and first.amount == D(request.body["amount"]), (request, where)
        if request.path == "/v1/accounts":
            assert isinstance(first, live.OpenAccount) and first.account == request.body["id"], (request, where)
        if request.path == "/v1/prices":
            last = live.decode_inbound(by_seq[request.answer["seq"]].record)
            assert isinstance(first, live.Prices) and isinstance(last, live.Prices)
            assert [(q.source, q.price) for q in (*first.quotes, *last.quotes)] == [
                (line["source"], D(line["price"])) for line in request.body
            ], (request, where)

    # each deposit account holds the sum of what was sent to it (the deposits are its only events)
    for name, amounts in clients.deposits.items():
        [usdt] = balances[name]
        assert usdt["asset"] == "USDT" and D(usdt["amount"]) == sum(amounts, D(0)), (name, where)
    assert set(opened.values()) == {200}, (opened, where)

    # the service's digest is a fresh replay's: crossmargin log, then crossmargin replay --events
    printed = CliRunner().invoke(app, ["log", "--db", database_url])
    assert printed.exit_code == 0, printed.stderr
    assert printed.stdout.splitlines() == [row.record for row in rows]
    exported = tmp_path / "log.jsonl"
    exported.write_text(printed.stdout, encoding="utf-8")
    replayed = CliRunner().invoke(app, ["replay", str(EXAMPLE), "--events", str(exported), "--json"])
    assert replayed.exit_code == 0, replayed.stderr
    end = json.loads(replayed.stdout.splitlines()[-1])
    assert health["events"] == end["events"] == len(rows), where
    assert health["digest"] == end["digest"], where
    # and a third: the records fed to a fresh engine loop
    loop = EngineLoop(loop_config_of(parse_document(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE.name)))
    for row in rows:
        loop.handle(live.decode_inbound(row.record))
    assert loop.digest() == health["digest"], where


TORN_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import sqlalchemy as sa
    from crossmargin.live import events as live
    from crossmargin.service.schema import events
    from crossmargin.service.store import LogEntry, Store
    from decimal import Decimal

    store = Store(sys.argv[1])
    connection = store.engine.connect()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA cache_size=1")  # spill uncommitted pages into the WAL file
    rows = []
    for seq in range(4, 2004):
        event = live.Deposit(seq=seq, time=Decimal(0), id=f"torn{seq}", account="hedged", asset="USDT",
                             amount=Decimal(1))
        rows.append(LogEntry(seq, "deposit", live.encode(event), [b'{"pad": "' + b"x" * 400 + b'"}'],
                             "torn" if seq == 4 else None, 2000 if seq == 4 else 0).row())
    connection.execute(sa.insert(events), rows)
    wal = store.engine.url.database + "-wal" if connection.dialect.name == "sqlite" else None
    print("inserted", os.path.getsize(wal) if wal else 0, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_writer_killed_mid_transaction_leaves_nothing_of_it(database_url: str, tmp_path: Path):
    store = Store(database_url)
    host = BookHost.open(store, (EXAMPLE.name, EXAMPLE.read_text(encoding="utf-8")))

    def deposit(amount: str) -> Maker:
        return lambda seq, time: live.Deposit(
            seq=seq, time=time, id=f"e{seq}", account="hedged", asset="USDT", amount=D(amount)
        )

    async def three() -> None:
        writer = asyncio.create_task(host.run())
        await asyncio.sleep(0)
        for amount in ("1", "2", "3"):
            await host.submit([deposit(amount)])
        writer.cancel()

    asyncio.run(three())
    before = host.digest()
    store.close()
    child = subprocess.run(
        [sys.executable, "-c", TORN_WRITER, database_url], capture_output=True, text=True, timeout=120, check=False
    )
    assert child.returncode == -signal.SIGKILL and child.stdout.startswith("inserted"), child.stderr
    if database_url.startswith("sqlite"):
        # the torn transaction's pages reached the WAL file (2000 rows of over 400 bytes each) uncommitted
        assert int(child.stdout.split()[1]) > 2000 * 400, child.stdout
    reopened = Store(database_url)
    try:
        assert [seq for seq, _ in reopened.records_after(0)] == [1, 2, 3]
        assert reopened.request_of("torn") is None
        resumed = BookHost.open(reopened)
        # 50000 USDT in the document + 1 + 2 + 3, none of the 2000 torn deposits
        assert resumed.loop.state.account("hedged").balances["USDT"] == D(50006)
        assert resumed.loop.seq == 3 and resumed.digest() == before
        # and the log goes on at 4
        reopened.append([])
        assert reopened.last_seq() == 3
    finally:
        reopened.close()
