"""The live service under load: price-to-stream latency, acknowledged trades per second, and where the time goes.

    .venv/bin/python benchmarks/service.py [--accounts 100000] [--quick] [--db sqlite|postgres|both]
        [--out benchmarks/service.json]

For each database (a SQLite file in a temporary directory; a fresh schema on the PostgreSQL server at
127.0.0.1:5432, database ``test``, dropped at the end) it starts the real server as a child process,
``crossmargin serve --generate N --seed S`` on a free loopback port, with snapshots turned off for the run
(``--snapshot-every 10000000``: a snapshot of the 100,000-account book takes about 2.6 s and would land in
the middle of a measurement) and the per-key rate limit lifted. This script is the load generator: a
separate process on the same machine, talking to the server over loopback only. Every phase is bounded in
count and in time, and the server is stopped (SIGTERM, then SIGKILL) however the run ends.

1. **Ceilings.** ``GET /v1/health`` (no key, no engine) and ``POST /v1/trades`` with a body that fails
   validation (key lookup and body parsing, no engine, no commit), ``--concurrency`` requests in flight: the
   most requests a second the HTTP path alone lets through.
2. **Price update -> figures -> WebSocket.** For the busiest instrument (most positions: BTC-PERP) and the
   median one (by position count), ``--subscribers`` sockets each follow ``account:<id>`` of an account
   holding a cross position in it. One price line for the instrument's underlying (the oracle's index of
   the asset, which moves the mark of every instrument on it; a line naming the instrument would only feed
   its traded price, which moves the mark through a median and mostly not at all) is posted at a time,
   alternately 0.05 % above and below the book's price (no mass liquidation), and the time is taken from
   just before the POST to the arrival of the last subscribed account's ``figures`` message caused by it
   (both clocks on this machine). The POST's own round trip is reported beside it; the response is
   checked for the instrument's new mark.
3. **Acknowledged trades per second.** ``--concurrency`` clients post ``POST /v1/trades`` (a matcher key)
   for ``--trade-seconds`` after a warm-up: 0.001 BTC-PERP at the book's mark between pairs of the
   accounts holding the most USDT, buyer and seller swapping each time. Only 2xx answers count.
4. **Where the time goes, in the server.** With py-spy installed (``.venv/bin/pip install py-spy``; not a
   dependency of the package) the server is sampled (the thread holding the GIL) under trade load, under
   price updates and under trades refused at validation, and the samples are sorted into stages by their
   stacks. Skipped without it.
5. **Where the time goes, in the writer.** In this process, a :class:`~crossmargin.service.host.BookHost`
   on a fresh database of the same kind and the same generated book: trades submitted in batches of
   1 to 256 and price updates with 0, 1 and ``--subscribers`` followed accounts, each stage of
   ``BookHost.process`` timed (the engine loop's ledger apply with its exact margin checks, the risk
   book's mirror, screening, the oracle and the tick, the log records, the commit, the published figures),
   and the per-request costs around it (key lookup, body parsing, the response's JSON).

The engine's kernels run on one thread in the server and in the writer here (``--server-threads 1``,
``NUMBA_NUM_THREADS``): on a machine of two cores the load generator takes the other core, and a parallel
kernel then waits at every launch for its second thread to be scheduled (on this machine about 8 ms a
launch: a BTC price update's tick took 12-38 ms on two threads against 3.5 ms on one, measured alone with a
neighbour busy). ``--server-threads 0`` leaves Numba's default, every core.

Requests go through a minimal HTTP/1.1 keep-alive client on asyncio streams (:class:`Http`) and the
stream through ``websockets``, both on uvloop: with httpx the client, not the server, was the bottleneck.

``--quick`` is a smoke run: 2,000 accounts and small counts (under a minute for both databases). Raw
figures go to ``--out``; the tables are printed. A full run at 100,000 accounts takes 6-8 minutes for both
databases (about 20 s of each server's start, and of the in-process writer's, is opening the book).
"""

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numba
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crossmargin.live import events as live
from crossmargin.model import Portfolio
from crossmargin.service import bodies
from crossmargin.service import host as host_module
from crossmargin.service.books import generated
from crossmargin.service.host import BookHost, Maker
from crossmargin.service.keys import add_key, caller_of
from crossmargin.service.store import Store
from crossmargin.service.views import json_bytes
from crossmargin.sim.benchmark import machine
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.replay import line_of

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SOURCE = "bench"
MOVE = Decimal("0.0005")
"""Each price line sits this fraction above or below the book's price, alternately."""
TRADE_SIZE = Decimal("0.001")
TRADE_INSTRUMENT = "BTC-PERP"
T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    accounts: int
    seed: int
    updates: int
    warmup_updates: int
    price_budget_s: float
    subscribers: tuple[int, ...]
    concurrency: int
    trade_seconds: float
    trade_warmup_s: float
    ceiling_seconds: float
    profile_seconds: float
    writer_trades: int
    writer_updates: int
    server_threads: int


def settings_of(args: argparse.Namespace) -> Settings:
    if args.quick:
        return Settings(
            accounts=args.accounts or 2_000, seed=args.seed, updates=60, warmup_updates=10, price_budget_s=20,
            subscribers=tuple(args.subscribers or (1, 20)), concurrency=args.concurrency or 32, trade_seconds=3,
            trade_warmup_s=1, ceiling_seconds=2, profile_seconds=3, writer_trades=256, writer_updates=20,
            server_threads=args.server_threads,
        )  # fmt: skip
    return Settings(
        accounts=args.accounts or 100_000, seed=args.seed, updates=args.updates, warmup_updates=20,
        price_budget_s=args.price_budget, subscribers=tuple(args.subscribers or (1, 100)),
        concurrency=args.concurrency or 128, trade_seconds=args.trade_seconds, trade_warmup_s=3,
        ceiling_seconds=5, profile_seconds=8, writer_trades=2_048, writer_updates=100,
        server_threads=args.server_threads,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- the book


@dataclass(frozen=True)
class BookFacts:
    """What the load generator needs to know of the generated book (drawn again here from the same seed:
    the server's book is the same by construction)."""

    portfolio: Portfolio
    positions: dict[str, int]
    busiest: str
    median: str

    @classmethod
    def of(cls, accounts: int, seed: int) -> "BookFacts":
        portfolio = synthetic_book(accounts, seed)
        counts = Counter(p.instrument for a in portfolio.accounts for p in a.positions)
        ranked = sorted(counts, key=lambda name: (-counts[name], name))
        return cls(portfolio, dict(counts), ranked[0], ranked[len(ranked) // 2])

    def underlying(self, instrument: str) -> str:
        return self.portfolio.instruments[instrument].underlying

    def holders(self, instrument: str, count: int, seed: int) -> list[str]:
        """A seeded sample of ``count`` accounts holding a cross position in ``instrument``."""
        held = [
            a.id
            for a in self.portfolio.accounts
            if any(p.instrument == instrument and p.isolated_margin is None for p in a.positions)
        ]
        picked = np.random.default_rng(seed).choice(len(held), size=min(count, len(held)), replace=False)
        return [held[int(i)] for i in sorted(picked)]

    def traders(self, count: int) -> list[str]:
        """The ``count`` accounts holding the most USDT, none with an isolated position."""
        cross = [a for a in self.portfolio.accounts if all(p.isolated_margin is None for p in a.positions)]
        cross.sort(key=lambda a: -a.balances.get("USDT", Decimal(0)))
        return [a.id for a in cross[:count]]


class FeedClock:
    """The feed's ``t``: a thousandth of a second further at every price line, so a whole run spans a few
    seconds of feed time and no source turns stale (``max_age_s`` 60)."""

    def __init__(self) -> None:
        self.t = Decimal(1)

    def next(self) -> Decimal:
        self.t += Decimal("0.001")
        return self.t


def moved_price(base: Decimal, number: int) -> Decimal:
    """The ``number``-th price line's price: ``base`` moved by :data:`MOVE` up, then down, then up..."""
    factor = Decimal(1) + (MOVE if number % 2 == 0 else -MOVE)
    return (base * factor).normalize()


def price_line(clock: FeedClock, symbol: str, price: Decimal) -> bytes:
    return json.dumps([{"t": str(clock.next()), "source": SOURCE, "symbol": symbol, "price": str(price)}]).encode()


# ---------------------------------------------------------------------------------------------- infrastructure


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(name: str) -> str:
    """An executable of this virtual environment (or on the PATH)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found beside {sys.executable} or on the PATH")
    return found


@contextlib.contextmanager
def database(kind: str, workdir: Path, label: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file under ``workdir``, or a new PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'{label}.db'}"
        return
    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def new_key(db: str, scope: str) -> str:
    """A key made by ``crossmargin keys add`` (printed on its last line)."""
    done = subprocess.run(
        [command("crossmargin"), "keys", "add", "--db", db, "--scope", scope, "--name", "benchmark"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    """A running ``crossmargin serve`` child process."""

    process: subprocess.Popen[bytes]
    base: str
    admin: str
    matcher: str
    feeder: str
    started_s: float

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")


@contextlib.contextmanager
def server(db: str, settings: Settings, workdir: Path, console: Console) -> Iterator[Server]:
    """``crossmargin serve`` on a generated book and ``db``, ready (health answered); stopped on the way out."""
    matcher, feeder = new_key(db, "matcher"), new_key(db, "feeder")
    port = free_port()
    argv = [
        command("crossmargin"), "serve", "--generate", str(settings.accounts), "--seed", str(settings.seed),
        "--db", db, "--host", "127.0.0.1", "--port", str(port), "--new-key", "admin", "--rate", "10000000",
        "--snapshot-every", "10000000",
    ]  # fmt: skip
    log_path = workdir / f"server-{port}.log"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        env = dict(os.environ)
        if settings.server_threads:
            env["NUMBA_NUM_THREADS"] = str(settings.server_threads)
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        try:
            admin = _wait_ready(process, log_path, f"http://127.0.0.1:{port}", timeout_s=900)
            elapsed = time.perf_counter() - started
            console.log(f"server pid {process.pid} ready on port {port} after {elapsed:.1f} s")
            yield Server(process, f"http://127.0.0.1:{port}", admin, matcher, feeder, elapsed)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def _wait_ready(process: subprocess.Popen[bytes], log: Path, base: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    key = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        if key is None:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("new admin key: "):
                    key = line.removeprefix("new admin key: ").strip()
        if key is not None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/v1/health", timeout=60).status_code == 200:
                    return key
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed (it is, with uvicorn[standard]): the client's own overhead is
    part of every latency measured here, so keep it low."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def percentiles(samples: list[float]) -> Json:
    """n, mean, p50, p99, p99.9 and max of ``samples`` (seconds) in milliseconds."""
    if not samples:
        return {"n": 0}
    values = np.array(samples) * 1000.0
    p50, p99, p999 = np.percentile(values, [50, 99, 99.9])
    return {
        "n": len(samples), "mean_ms": float(values.mean()), "p50_ms": float(p50), "p99_ms": float(p99),
        "p99_9_ms": float(p999), "max_ms": float(values.max()),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------- load phases


class Http:
    """One keep-alive HTTP/1.1 connection, as little client as will do: a request is bytes prepared once, the
    answer its status and body (by Content-Length). httpx's connection pool costs the client more CPU per
    request than the server spends once tens of requests are in flight (at 32 in flight on this machine:
    about 190 health checks a second with httpx against 6,600 with this, the client's core saturated), which
    would measure the client."""

    def __init__(self, base: str) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    @staticmethod
    def prepare(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request``; the answer's status and body (status 0: the connection failed, and is dropped)."""
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            writer.write(request)
            status = int((await reader.readline()).split(b" ", 2)[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            return status, await reader.readexactly(length)
        except (OSError, IndexError, ValueError, asyncio.IncompleteReadError):
            await self.close()
            return 0, b""

    async def close(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def request_rate(
    request: Callable[[], bytes], base: str, concurrency: int, seconds: float, warmup_s: float
) -> Json:
    """``concurrency`` connections each send ``request()`` as soon as the last answer came, for
    ``warmup_s + seconds``; answers completed in the last ``seconds`` are counted by status, with their
    latencies, and the share of a core this process used meanwhile."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    start = time.perf_counter()
    window, stop = start + warmup_s, start + warmup_s + seconds
    cpu = 0.0

    async def worker() -> None:
        connection = Http(base)
        try:
            while (sent := time.perf_counter()) < stop:
                status, _ = await connection.exchange(request())
                done = time.perf_counter()
                if window <= done <= stop:
                    statuses[status] += 1
                    latencies.append(done - sent)
        finally:
            await connection.close()

    async def meter() -> None:
        nonlocal cpu
        await asyncio.sleep(max(0.0, window - time.perf_counter()))
        before = time.process_time()
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        cpu = time.process_time() - before

    await asyncio.gather(meter(), *(worker() for _ in range(concurrency)))
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "seconds": seconds, "concurrency": concurrency, "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "ok": ok, "ok_per_s": ok / seconds, "answers_per_s": sum(statuses.values()) / seconds,
        "latency": percentiles(latencies), "client_cpu_share": cpu / seconds,
    }  # fmt: skip


def refused_trade(srv: Server) -> bytes:
    """A trade the API refuses at validation (422: ``size`` is no number), after the key lookup."""
    bad = json.dumps({"buyer": "x", "seller": "y", "instrument": TRADE_INSTRUMENT, "size": "x", "price": "1"}).encode()
    headers = {"Authorization": f"Bearer {srv.matcher}", "Content-Type": "application/json"}
    return Http.prepare("POST", "/v1/trades", bad, headers)


async def ceilings(srv: Server, settings: Settings) -> Json:
    """Requests a second through the HTTP path alone: no key and no engine; a key and a body, no engine."""
    health = Http.prepare("GET", "/v1/health")
    refused = refused_trade(srv)
    seconds, warmup = settings.ceiling_seconds, 1.0
    return {
        "health": await request_rate(lambda: health, srv.base, settings.concurrency, seconds, warmup),
        "trade_refused_at_validation": await request_rate(
            lambda: refused, srv.base, settings.concurrency, seconds, warmup
        ),
    }


async def trades(srv: Server, facts: BookFacts, settings: Settings, seconds: float, warmup_s: float) -> Json:
    """Acknowledged trades a second (see module doc, 3)."""
    traders = facts.traders(2 * settings.concurrency)
    mark = str(facts.portfolio.market.marks[TRADE_INSTRUMENT])
    headers = {"Authorization": f"Bearer {srv.matcher}", "Content-Type": "application/json"}
    prepared: list[bytes] = []
    for number in range(settings.concurrency):
        a, b = traders[(2 * number) % len(traders)], traders[(2 * number + 1) % len(traders)]
        for buyer, seller in ((a, b), (b, a)):
            fill = {"buyer": buyer, "seller": seller, "instrument": TRADE_INSTRUMENT, "size": str(TRADE_SIZE),
                    "price": mark}  # fmt: skip
            prepared.append(Http.prepare("POST", "/v1/trades", json.dumps(fill).encode(), headers))
    turn = itertools.count()
    result = await request_rate(
        lambda: prepared[next(turn) % len(prepared)], srv.base, settings.concurrency, seconds, warmup_s
    )
    result["instrument"], result["size"] = TRADE_INSTRUMENT, str(TRADE_SIZE)
    return result


class Followers:
    """Sockets following ``account:<id>`` topics; when each ``figures`` message arrived, by its cause."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.progress = asyncio.Event()
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []

    async def open(self, srv: Server, accounts: list[str]) -> None:
        async def one(account: str) -> ClientConnection:
            uri = f"{srv.ws}/v1/stream?topic=account:{account}&key={srv.admin}"
            sock = await connect(uri, compression=None, ping_interval=None, max_queue=None, open_timeout=60)
            first = json.loads(await asyncio.wait_for(sock.recv(), 60))
            if first.get("event") != "subscribed":
                raise RuntimeError(f"subscribing to account:{account}: {first}")
            return sock

        for start in range(0, len(accounts), 50):
            self.sockets += await asyncio.gather(*(one(a) for a in accounts[start : start + 50]))
        self.readers = [asyncio.create_task(self._read(s)) for s in self.sockets]

    async def _read(self, sock: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in sock:
                now = time.perf_counter()
                message = json.loads(raw)
                if message.get("event") == "figures":
                    self.arrivals[message["cause"]].append(now)
                    self.progress.set()

    async def wait_for(self, cause: str, count: int, timeout_s: float) -> list[float]:
        """The arrival times of the messages caused by ``cause`` once ``count`` came (or the timeout passed)."""
        deadline = time.perf_counter() + timeout_s
        while len(self.arrivals[cause]) < count and (left := deadline - time.perf_counter()) > 0:
            self.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.progress.wait(), left)
        return self.arrivals.pop(cause)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)


async def price_latency(
    srv: Server, facts: BookFacts, settings: Settings, clock: FeedClock, instrument: str, subscribers: int
) -> Json:
    """Price line posted -> the last subscribed account's figures message received (module doc, 2)."""
    symbol = facts.underlying(instrument)
    base = facts.portfolio.market.prices[symbol]
    accounts = facts.holders(instrument, subscribers, settings.seed)
    followers = Followers()
    headers = {"Authorization": f"Bearer {srv.feeder}", "Content-Type": "application/json"}
    posts: list[float] = []
    firsts: list[float] = []
    lasts: list[float] = []
    moved = incomplete = 0
    cpu = 0.0
    try:
        await followers.open(srv, accounts)
        client = Http(srv.base)
        try:
            mark = None
            stop = time.perf_counter() + settings.price_budget_s
            for number in range(settings.warmup_updates + settings.updates):
                if time.perf_counter() > stop:
                    break
                line = price_line(clock, symbol, moved_price(base, number))
                request = Http.prepare("POST", "/v1/prices", line, headers)
                cpu_before = time.process_time()
                sent = time.perf_counter()
                status, body = await client.exchange(request)
                answered = time.perf_counter()
                if status != 200:
                    raise RuntimeError(f"POST /v1/prices: {status} {body[:500]!r}")
                answer = json.loads(body)
                arrived = await followers.wait_for(f"e{answer['seq']}", len(accounts), 10.0)
                spent = time.process_time() - cpu_before
                new_mark = next(
                    (
                        e["price"]
                        for e in answer["events"]
                        if e["event"] == "price_status" and e["symbol"] == instrument
                    ),
                    None,
                )
                if number < settings.warmup_updates:
                    mark = new_mark
                    continue
                moved += new_mark is not None and new_mark != mark
                mark = new_mark
                if len(arrived) < len(accounts):
                    incomplete += 1
                    continue
                cpu += spent
                posts.append(answered - sent)
                firsts.append(min(arrived) - sent)
                lasts.append(max(arrived) - sent)
        finally:
            await client.close()
    finally:
        await followers.close()
    counted = len(lasts)
    return {
        "instrument": instrument, "symbol": symbol, "positions": facts.positions[instrument],
        "subscribers": len(accounts), "updates": counted + incomplete, "incomplete": incomplete,
        "marks_moved": moved, "post": percentiles(posts), "first_message": percentiles(firsts),
        "last_message": percentiles(lasts), "client_cpu_ms_per_update": 1000 * cpu / counted if counted else None,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------- server profile


STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("commit (SQLAlchemy + driver)", ("Store.append (",)),
    ("published figures of followed accounts", ("figures_message (", "mirror_message (", "mirror_figures (")),
    ("publishing, other (messages, hub)", ("BookHost._publish (",)),
    ("ledger apply: exact margin checks", ("ClearingState._trade (",)),
    ("mirror: risk book + exact figures of changed accounts", ("EngineLoop._mirror (",)),
    ("screening + confirmation", ("EngineLoop._liquidate (",)),
    ("oracle + tick (prices into state and risk book)", ("EngineLoop._prices (", "EngineLoop._sync (")),
    ("frozen report", ("EngineLoop._report_frozen (",)),
    ("engine loop, other", ("EngineLoop.handle (",)),
    ("writer, other (log records, outcome)", ("BookHost.process (",)),
    ("key lookup (a query per request)", ("caller_of (",)),
    ("body parsing (exact decimals, pydantic)", ("read_body (", "read_lines (")),
    ("response (lines, JSON)", (".write (crossmargin/service/api.py",)),
]
"""The writer's and the API's own stages: a sample goes to the first one any frame of its stack names."""
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("WebSocket sending", ("_forward (crossmargin/service/api.py", "websockets/")),
    ("threadpool hand-off (anyio, for the sync key dependency)", ("anyio/", "threading.py")),
    ("FastAPI + Starlette (routing, dependencies, exceptions)", ("fastapi/", "starlette/")),
    ("uvicorn + httptools (HTTP/1.1)", ("uvicorn/", "httptools")),
    ("event loop (uvloop, asyncio)", ("asyncio/", "uvloop/")),
]
"""The layers around them: a sample none of :data:`STAGES` claims goes to the layer of its innermost frame
that one names (every stack of the main thread passes through uvicorn and asyncio on its way in)."""


def stage_of(stack: str) -> str:
    for name, markers in STAGES:
        if any(m in stack for m in markers):
            return name
    for frame in reversed(stack.split(";")):
        for name, markers in LAYERS:
            if any(m in frame for m in markers):
                return name
    return "other"


def summarize_samples(raw: str) -> Json:
    """py-spy's collapsed stacks (``frame;frame;... count``) sorted into stages (:func:`stage_of`), and the
    functions with the most samples of their own. Samples are of the thread holding the GIL (``--gil``): the
    interpreter is the one resource the writer and every request share. Time spent without it (the commit's
    fsync or round trip, a thread waiting for the GIL) is not in them; the writer's table has the commit's
    wall time."""
    stages: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        stages[stage_of(stack)] += count
        name, _, where = stack.rsplit(";", 1)[-1].partition(" (")
        own[f"{name} ({where.rsplit('/', 1)[-1].split(':')[0].rstrip(')')})"] += count
    return {
        "samples": total,
        "stages": {k: v / total for k, v in stages.most_common()} if total else {},
        "own": {k: v / total for k, v in own.most_common(15)} if total else {},
    }


async def profiled(
    srv: Server, seconds: float, load: Coroutine[Any, Any, Json], workdir: Path, label: str
) -> Json | None:
    """Sample the server with py-spy while ``load`` runs (None without py-spy). py-spy pauses the server for
    each sample (its default, blocking mode: ``--nonblocking`` reads stacks while they change, and a quarter
    of its samples then ended in frames the server was not running), so a profiled phase runs slower than a
    measured one; the shares are what counts."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        load.close()
        return None
    out = workdir / f"{label}.txt"
    argv = [str(spy), "record", "--pid", str(srv.process.pid), "--duration", f"{seconds:.0f}", "--rate", "100",
            "--gil", "--format", "raw", "-o", str(out)]  # fmt: skip
    spy_process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await load
        await asyncio.wait_for(spy_process.wait(), seconds + 60)
    finally:
        if spy_process.returncode is None:
            spy_process.kill()
            await spy_process.wait()
    return summarize_samples(out.read_text()) if out.exists() else None


# ---------------------------------------------------------------------------------------------- the writer in-process


class Stages:
    """Wall time spent in named calls (wrapped in place; :meth:`restore` puts the originals back)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._wrapped: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, label: str) -> None:
        """Time calls of ``owner.name`` under ``label`` (nothing if the code has no such name any more)."""
        inner: Callable[..., Any] | None = getattr(owner, name, None)
        if inner is None:
            return
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - started

        self._wrapped.append((owner, name, inner))
        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        taken = dict(self.seconds)
        self.seconds.clear()
        return taken

    def restore(self) -> None:
        for owner, name, inner in reversed(self._wrapped):
            setattr(owner, name, inner)
        self._wrapped.clear()


WRITER_STAGES = [
    ("loop", "handle", "engine loop (all of it)"),
    ("loop", "_apply", "  apply (ledger with exact checks; oracle and tick)"),
    ("book", "tick", "    risk book tick"),
    ("loop", "_mirror", "  mirror + exact figures of changed accounts"),
    ("loop", "_liquidate", "  screening + confirmation"),
    ("loop", "_report_frozen", "  frozen report"),
    ("live", "encode", "log records (msgspec)"),
    ("store", "append", "commit"),
    ("host", "_publish", "publishing"),
    ("host_module", "figures_message", "  exact figures of followed accounts"),
    ("host_module", "mirror_figures", "  mirror figures of followed accounts"),
    ("host_module", "mirror_message", "  figures messages (JSON)"),
]


async def writer_profile(db: str, facts: BookFacts, settings: Settings, console: Console) -> Json:
    """Stage times of ``BookHost.process`` on a fresh database (module doc, 5)."""
    if settings.server_threads:
        numba.set_num_threads(settings.server_threads)
    started = time.perf_counter()
    store = Store(db)
    host = BookHost.open(store, generated(settings.accounts, settings.seed), snapshot_every=10_000_000)
    opened = time.perf_counter() - started
    console.log(f"in-process host opened in {opened:.1f} s")
    stages = Stages()
    owners = {"loop": host.loop, "book": host.loop.book, "live": live, "store": store, "host": host,
              "host_module": host_module}  # fmt: skip
    writer = asyncio.create_task(host.run())
    await asyncio.sleep(0)
    result: Json = {"open_s": opened}
    try:
        for owner, name, label in WRITER_STAGES:
            stages.wrap(owners[owner], name, label)
        result["trades"] = await _writer_trades(host, facts, settings, stages)
        result["prices"] = await _writer_prices(host, facts, settings, stages)
        result["requests"] = await _request_costs(store, host, facts)
    finally:
        stages.restore()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        store.close()
    return result


def _trade_maker(buyer: str, seller: str, price: Decimal) -> Maker:
    return lambda seq, at: live.Trade(
        seq=seq, time=at, id=f"e{seq}", buyer=buyer, seller=seller, instrument=TRADE_INSTRUMENT, size=TRADE_SIZE,
        price=price,
    )  # fmt: skip


async def _writer_trades(host: BookHost, facts: BookFacts, settings: Settings, stages: Stages) -> list[Json]:
    traders = facts.traders(512)
    mark = facts.portfolio.market.marks[TRADE_INSTRUMENT]
    rows = []
    number = 0
    for batch in (1, 16, 64, 256):
        batches = max(2, settings.writer_trades // batch // (4 if batch == 1 else 1))
        await _submit_trades(host, traders, mark, batch, number)  # warm-up batch
        number += batch
        stages.take()
        started = time.perf_counter()
        refused = 0
        for _ in range(batches):
            refused += await _submit_trades(host, traders, mark, batch, number)
            number += batch
        elapsed = time.perf_counter() - started
        count = batches * batch
        per = {k: 1e6 * v / count for k, v in stages.take().items()}
        rows.append({"batch": batch, "trades": count, "refused": refused, "trades_per_s": count / elapsed,
                     "us_per_trade": 1e6 * elapsed / count, "stages_us": per})  # fmt: skip
    return rows


async def _submit_trades(host: BookHost, traders: list[str], mark: Decimal, batch: int, start: int) -> int:
    makers = []
    for number in range(start, start + batch):
        a, b = traders[(2 * number) % len(traders)], traders[(2 * number + 1) % len(traders)]
        makers.append(_trade_maker(a, b, mark) if (number // len(traders)) % 2 == 0 else _trade_maker(b, a, mark))
    outcomes = await asyncio.gather(*(host.submit([m]) for m in makers))
    return sum(o.refusal is not None for o in outcomes)


def _price_maker(t: Decimal, symbol: str, price: Decimal) -> Maker:
    quote = live.Quote(source=SOURCE, symbol=symbol, price=price)
    return lambda seq, _: live.Prices(seq=seq, time=t, id=f"e{seq}", quotes=(quote,))


async def _writer_prices(host: BookHost, facts: BookFacts, settings: Settings, stages: Stages) -> list[Json]:
    clock = FeedClock()
    clock.t = Decimal(100)  # past any feed time the server run used on another database
    rows = []
    for instrument in (facts.busiest, facts.median):
        symbol = facts.underlying(instrument)
        base = facts.portfolio.market.prices[symbol]
        for followed in sorted({0, 1, max(settings.subscribers)}):
            accounts = facts.holders(instrument, followed, settings.seed)
            subscriber = host.hub.subscribe(frozenset(f"account:{a}" for a in accounts)) if accounts else None
            times = []
            published = 0
            for number in range(5 + settings.writer_updates):
                maker = _price_maker(clock.next(), symbol, moved_price(base, number))
                if number == 5:
                    stages.take()
                started = time.perf_counter()
                await host.submit([maker])
                if number >= 5:
                    times.append(time.perf_counter() - started)
                while subscriber is not None and not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                    published += number >= 5
            if subscriber is not None:
                host.hub.unsubscribe(subscriber)
            count = len(times)
            per = {k: 1e3 * v / count for k, v in stages.take().items()}
            rows.append({
                "instrument": instrument, "followed": followed, "updates": count, "published": published,
                "ms_per_update": percentiles(times), "stages_ms": per,
            })  # fmt: skip
    return rows


async def _request_costs(store: Store, host: BookHost, facts: BookFacts) -> Json:
    """Per-request work around the writer, each timed alone: the key lookup (a query), the trade body's
    parsing, and a trade answer's JSON."""
    key = add_key(store, "matcher", "benchmark")[1]
    traders = facts.traders(2)
    mark = facts.portfolio.market.marks[TRADE_INSTRUMENT]
    raw = json.dumps({"buyer": traders[0], "seller": traders[1], "instrument": TRADE_INSTRUMENT,
                      "size": str(TRADE_SIZE), "price": str(mark)}).encode()  # fmt: skip
    outcome = await host.submit([_trade_maker(traders[0], traders[1], mark)])
    outbound = outcome.outbound
    answer = {"seq": outcome.seqs[-1], "events": [line_of(e) for e in outbound], "repeated": False}

    def mean_us(action: Callable[[], object], count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            action()
        return 1e6 * (time.perf_counter() - started) / count

    return {
        "key_lookup_us": mean_us(lambda: caller_of(store, key), 300),
        "trade_body_us": mean_us(lambda: bodies.read_body(bodies.TradeBody, raw), 2_000),
        "trade_answer_json_us": mean_us(
            lambda: json_bytes({**answer, "events": [line_of(e) for e in outbound]}), 2_000
        ),
    }


# ---------------------------------------------------------------------------------------------- one database


def fsync_probe(directory: Path, count: int = 200) -> Json:
    """The disk's floor under every commit: 4 KiB appended and fsync'ed, ``count`` times."""
    times = []
    with (directory / "fsync-probe").open("wb") as probe:
        for _ in range(count):
            started = time.perf_counter()
            probe.write(b"x" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
            times.append(time.perf_counter() - started)
    (directory / "fsync-probe").unlink()
    return percentiles(times)


def bench_database(kind: str, facts: BookFacts, settings: Settings, workdir: Path, console: Console) -> Json:
    """Every phase on one kind of database (module doc); the machine's load average after each, since this
    machine is shared and a neighbour's work shows in every figure."""
    result: Json = {"database": kind, "load_average": {}}

    def loaded(phase: str) -> None:
        result["load_average"][phase] = os.getloadavg()[0]

    with database(kind, workdir, "served") as db, server(db, settings, workdir, console) as srv:
        result["server_ready_s"] = srv.started_s
        loaded("start")
        result["fsync"] = fsync_probe(workdir)
        result["ceilings"] = run(ceilings(srv, settings))
        loaded("ceilings")
        console.log(f"{kind}: ceilings {_rates(result['ceilings'])}")
        clock = FeedClock()
        result["prices"] = []
        for instrument in (facts.busiest, facts.median):
            for count in settings.subscribers:
                row = run(price_latency(srv, facts, settings, clock, instrument, count))
                result["prices"].append(row)
                console.log(f"{kind}: {instrument} x{count} subscribers: last message {_ms(row['last_message'])}")
        loaded("prices")
        result["trades"] = run(trades(srv, facts, settings, settings.trade_seconds, settings.trade_warmup_s))
        loaded("trades")
        console.log(f"{kind}: {result['trades']['ok_per_s']:.0f} acknowledged trades/s {result['trades']['statuses']}")
        seconds = settings.profile_seconds
        refused = refused_trade(srv)
        refusals = request_rate(lambda: refused, srv.base, settings.concurrency, seconds + 1, 0.5)
        result["server_profile"] = {
            "trades": run(profiled(srv, seconds, trades(srv, facts, settings, seconds + 1, 0.5), workdir, "trades")),
            "prices": run(profiled(srv, seconds, _price_load(srv, facts, settings, clock, seconds), workdir, "prices")),
            "trades_refused_at_validation": run(profiled(srv, seconds, refusals, workdir, "refused")),
        }
        loaded("server_profile")
    with database(kind, workdir, "writer") as db:
        result["writer"] = run(writer_profile(db, facts, settings, console))
    loaded("writer")
    return result


async def _price_load(srv: Server, facts: BookFacts, settings: Settings, clock: FeedClock, seconds: float) -> Json:
    bounded = dataclasses.replace(settings, updates=10**6, warmup_updates=0, price_budget_s=seconds + 1)
    return await price_latency(srv, facts, bounded, clock, facts.busiest, max(settings.subscribers))


def _ms(figures: Json) -> str:
    if not figures.get("n"):
        return "-"
    return f"p50 {figures['p50_ms']:.1f} / p99 {figures['p99_ms']:.1f} / p99.9 {figures['p99_9_ms']:.1f} ms"


def _rates(ceilings: Json) -> str:
    return ", ".join(f"{k} {v['answers_per_s']:.0f}/s" for k, v in ceilings.items())


# ---------------------------------------------------------------------------------------------- report


def print_tables(results: list[Json], console: Console) -> None:
    latency = Table(title="price update -> every subscribed account's figures on its WebSocket (ms)")
    for title in ("db", "instrument (positions)", "subscribers", "updates", "p50", "p99", "p99.9", "max",
                  "POST p50", "POST p99", "first msg p50", "marks moved", "client CPU ms/update"):  # fmt: skip
        latency.add_column(title, justify="right")
    for result in results:
        for row in result["prices"]:
            last, post, first = row["last_message"], row["post"], row["first_message"]
            if not last.get("n"):
                continue
            latency.add_row(
                result["database"], f"{row['instrument']} ({row['positions']:,})", str(row["subscribers"]),
                str(row["updates"]), f"{last['p50_ms']:.1f}", f"{last['p99_ms']:.1f}", f"{last['p99_9_ms']:.1f}",
                f"{last['max_ms']:.1f}", f"{post['p50_ms']:.1f}", f"{post['p99_ms']:.1f}", f"{first['p50_ms']:.1f}",
                f"{row['marks_moved']}/{last['n']}", f"{row['client_cpu_ms_per_update']:.2f}",
            )  # fmt: skip
    console.print(latency)
    rates = Table(title="requests answered per second (concurrency in flight)")
    for title in ("db", "what", "concurrency", "per s", "2xx per s", "statuses", "mean ms", "p99 ms", "client CPU"):
        rates.add_column(title, justify="right")
    for result in results:
        rows = [("GET /v1/health", result["ceilings"]["health"]),
                ("POST /v1/trades, 422 at validation", result["ceilings"]["trade_refused_at_validation"]),
                ("POST /v1/trades, acknowledged", result["trades"])]  # fmt: skip
        for what, row in rows:
            rates.add_row(
                result["database"], what, str(row["concurrency"]), f"{row['answers_per_s']:,.0f}",
                f"{row['ok_per_s']:,.0f}", json.dumps(row["statuses"]), f"{row['latency'].get('mean_ms', 0):.1f}",
                f"{row['latency'].get('p99_ms', 0):.1f}", f"{row['client_cpu_share']:.0%}",
            )  # fmt: skip
    console.print(rates)
    for result in results:
        writer = result["writer"]
        table = Table(title=f"{result['database']}: the writer in-process, us per trade by batch size")
        labels = sorted({k for row in writer["trades"] for k in row["stages_us"]}, key=_stage_order)
        table.add_column("stage")
        for row in writer["trades"]:
            table.add_column(f"batch {row['batch']}", justify="right")
        table.add_row("trades/s", *(f"{row['trades_per_s']:,.0f}" for row in writer["trades"]))
        table.add_row("total us/trade", *(f"{row['us_per_trade']:.0f}" for row in writer["trades"]))
        for label in labels:
            table.add_row(label, *(f"{row['stages_us'].get(label, 0):.0f}" for row in writer["trades"]))
        console.print(table)
        table = Table(title=f"{result['database']}: the writer in-process, ms per price update")
        labels = sorted({k for row in writer["prices"] for k in row["stages_ms"]}, key=_stage_order)
        table.add_column("stage")
        for row in writer["prices"]:
            table.add_column(f"{row['instrument']} f{row['followed']}", justify="right")
        table.add_row("p50 ms", *(f"{row['ms_per_update']['p50_ms']:.2f}" for row in writer["prices"]))
        table.add_row("mean ms", *(f"{row['ms_per_update']['mean_ms']:.2f}" for row in writer["prices"]))
        for label in labels:
            table.add_row(label, *(f"{row['stages_ms'].get(label, 0):.2f}" for row in writer["prices"]))
        console.print(table)
        console.print(f"{result['database']}: per request {json.dumps(writer['requests'])}")
        for what, profile in result["server_profile"].items():
            if profile is None:
                continue
            table = Table(title=f"{result['database']}: server samples under {what} ({profile['samples']:,})")
            table.add_column("stage")
            table.add_column("share", justify="right")
            for stage, share in profile["stages"].items():
                table.add_row(stage, f"{share:.1%}")
            console.print(table)


def _stage_order(label: str) -> int:
    order = [label for _, _, label in WRITER_STAGES]
    return order.index(label) if label in order else len(order)


def describe_machine() -> Json:
    described: Json = {**machine(), "platform": platform.platform(), "sqlite": sqlite3.sqlite_version}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                described["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        described["memory_gib"] = round(kib / 2**20)
    with contextlib.suppress(Exception):
        admin = sa.create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
        with admin.connect() as connection:
            described["postgresql"] = connection.execute(sa.text("SHOW server_version")).scalar_one()
        admin.dispose()
    described["taken"] = time.strftime("%Y-%m-%d %H:%M")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(Path(__file__).resolve().parent)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=30)
        changed = [*git, "status", "--porcelain", "--", ":/src"]
        dirty = subprocess.run(changed, capture_output=True, text=True, timeout=30)
        described["commit"] = head.stdout.strip()
        described["src_files_changed_since"] = len(dirty.stdout.splitlines())
    return described


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=None, help="generated accounts (default 100000; 2000 quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 accounts, small counts")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--updates", type=int, default=1_000, help="price updates per instrument and sample size")
    parser.add_argument("--price-budget", type=float, default=60.0, help="seconds at most per price phase")
    parser.add_argument("--subscribers", type=int, nargs="+", default=None, help="sample sizes (default 1 100)")
    parser.add_argument("--concurrency", type=int, default=None, help="requests in flight (default 128)")
    parser.add_argument("--trade-seconds", type=float, default=15.0)
    parser.add_argument(
        "--server-threads", type=int, default=1,
        help="threads of the engine's kernels in the server (NUMBA_NUM_THREADS) and in the in-process writer; "
        "0: Numba's default, every core (default 1: see the module doc)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("benchmarks/service.json"))
    args = parser.parse_args()
    settings = settings_of(args)
    if not 10 <= settings.accounts <= 1_000_000 or not 0 < settings.updates <= 100_000:
        parser.error("--accounts from 10 to 1,000,000; --updates from 1 to 100,000")
    if not 1 <= settings.concurrency <= 1_024 or not 0 < settings.trade_seconds <= 600:
        parser.error("--concurrency from 1 to 1,024; --trade-seconds up to 600")
    if not 0 <= settings.server_threads <= (os.cpu_count() or 1):
        parser.error("--server-threads from 0 to the machine's cores")
    if not all(1 <= s <= 1_000 for s in settings.subscribers) or not 0 < settings.price_budget_s <= 600:
        parser.error("--subscribers from 1 to 1,000; --price-budget up to 600")
    console = Console(width=200)
    started = time.perf_counter()
    facts = BookFacts.of(settings.accounts, settings.seed)
    console.log(f"book drawn: busiest {facts.busiest}, median {facts.median}")
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = []
    with tempfile.TemporaryDirectory(prefix="crossmargin-bench-") as scratch:
        for kind in kinds:
            results.append(bench_database(kind, facts, settings, Path(scratch), console))
    print_tables(results, console)
    args.out.write_text(
        json.dumps(
            {"machine": describe_machine(), "settings": settings.__dict__, "busiest": facts.busiest,
             "median": facts.median, "positions": facts.positions, "results": results,
             "wall_s": time.perf_counter() - started}, indent=2,
        ) + "\n"
    )  # fmt: skip
    console.log(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
