"""The HTTP and WebSocket API over a :class:`~crossmargin.service.host.BookHost` (FastAPI).

Every number in and out is a decimal (a string, or a JSON number read exactly); every error is
``{"error": {"field", "message"}}``: 401 without a live key, 403 outside the key's scope, 404 for an unknown
account (or instrument), 413 for a body over the size limit, 422 for bad input or a request the engine
refused (nothing applied), 429 over the key's rate, 503 if the log could not be written. Writes are
acknowledged only once committed to the log; an ``Idempotency-Key`` header makes a write apply once per key
(a repeat gets the first answer, ``"repeated": true``). See docs/service.md for every endpoint with examples.
"""

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from crossmargin import __version__
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from crossmargin.margin.whatif import check_order, max_withdrawable
from crossmargin.model import InputError
from crossmargin.model.errors import field_prefix
from crossmargin.model.numbers import ZERO, non_negative, shown
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.report.results import order_dict, withdrawal_dict
from crossmargin.service import bodies
from crossmargin.service.host import BookHost, Maker, Outcome, Unavailable
from crossmargin.service.insight import liquidation_map, oracle_view
from crossmargin.service.keys import Caller, caller_of
from crossmargin.service.limits import BodyLimit, RateLimiter
from crossmargin.service.pages import dashboard_router
from crossmargin.service.stress_runs import RunNotDone, StressRuns, TooManyRuns, UnknownRun, snapshot
from crossmargin.service.views import account_detail, account_view, json_bytes
from crossmargin.sim.replay import line_of
from crossmargin.sim.scenarios.load import library

TOPICS = ("liquidations", "prices", "book", "agents")


@dataclass(frozen=True)
class Limits:
    """Per key: ``rate`` requests a second, bursts of ``burst``; ``body`` bytes per request body."""

    rate: float = 2_000.0
    burst: float = 4_000.0
    body: int = 1 << 20


class ApiError(Exception):
    """An error answer: HTTP ``status``, the ``field`` it is about and why."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _json(value: object, status: int = 200) -> Response:
    return Response(json_bytes(value), status_code=status, media_type="application/json")


def _error(status: int, field: str, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Retry-After": "1"} if status == 429 else None
    return Response(
        json_bytes({"error": {"field": field, "message": message}}), status, headers, media_type="application/json"
    )


def create_app(host: BookHost, limits: Limits = Limits()) -> FastAPI:
    """The API over ``host``; its lifespan runs the host's writer and the book topic's publisher."""
    limiter = RateLimiter(limits.rate, limits.burst)
    stress: list[StressRuns] = []  # the stress runs, made by the first one asked for, closed by the lifespan
    running: list[bool] = []  # holds True while the lifespan runs

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(host.run()), asyncio.create_task(host.publish_book())]
        running.append(True)
        await asyncio.sleep(0)
        try:
            yield
        finally:
            running.clear()
            for task in tasks:
                task.cancel()
            while stress:
                stress.pop().close()

    app = FastAPI(
        title="crossmargin", version=__version__, lifespan=lifespan,
        description="A live cross-margin risk service: the book, its prices, trades and liquidations.",
    )  # fmt: skip
    app.add_middleware(BodyLimit, limit=limits.body)
    app.include_router(dashboard_router(host))  # the dashboard's pages (docs/dashboard.md)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> Response:
        return _error(err.status, err.field, err.message)

    @app.exception_handler(InputError)
    async def input_error(_: Request, err: InputError) -> Response:
        return _error(422, err.field, err.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0]
        return _error(422, ".".join(str(p) for p in first["loc"][1:]) or "request", first["msg"])

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, err: Unavailable) -> Response:
        return _error(503, "log", str(err))

    async def caller(authorization: Annotated[str | None, Header()] = None) -> Caller:
        """The key's holder (looked up on the event loop's thread: one indexed read, cheaper than a hop to the
        threadpool), within its rate."""
        found = _caller(authorization)
        if not limiter.allow(found.key_id):
            raise ApiError(429, "authorization", f"over the key's rate limit of {limits.rate:g} a second")
        return found

    def _caller(authorization: str | None) -> Caller:
        if authorization is None or not authorization.startswith("Bearer "):
            raise ApiError(401, "authorization", "an 'Authorization: Bearer <key>' header is required")
        found = caller_of(host.store, authorization.removeprefix("Bearer ").strip())
        if found is None:
            raise ApiError(401, "authorization", "unknown or revoked key")
        return found

    Who = Annotated[Caller, Depends(caller)]
    IdempotencyKey = Annotated[str | None, Header(max_length=128)]

    def allow(who: Caller, *roles: str, account: str | None = None) -> None:
        scope = who.scope
        if scope.role == "admin" or scope.role in roles or (account is not None and scope.account == account):
            return
        raise ApiError(403, "authorization", f"a key of scope {scope} may not do this")

    def current() -> EngineLoop:
        """The engine loop, if it holds what the log holds (else 503: a batch was discarded and the log could
        not be read back yet; the next write retries)."""
        if host.stale is not None:
            raise Unavailable(f"the engine is being rebuilt from the log: {host.stale}")
        return host.loop

    def known_account(account_id: str) -> None:
        if account_id not in current().state.legs or account_id.startswith("@"):
            raise ApiError(404, "account", f"no account with id {account_id!r}")

    async def body(request: Request) -> bytes:
        return await request.body()

    Raw = Annotated[bytes, Depends(body)]

    async def write(who: Caller, makers: Sequence[Maker], key: str | None) -> Response:
        """Submit the request's events; 200 with what they caused, or 422 with why they were refused (``seq``
        present if the refusal is in the log, as a ``rejected`` event that changed nothing)."""
        keyed = None if key is None else f"{who.key_id}:{key}"
        content = hashlib.sha256(b"\n".join(live.encode(make(0, ZERO)) for make in makers)).hexdigest()
        outcome: Outcome = await host.submit(makers, keyed, content if keyed else None)
        refusal = outcome.refusal
        if refusal is not None:
            answer: dict[str, Any] = {"error": {"field": refusal.field, "message": refusal.message}}
            if outcome.seqs:
                answer["seq"] = outcome.seqs[-1]
            return _json({**answer, "repeated": outcome.repeated}, 422)
        lines = [line_of(e) for e in outcome.outbound]
        return _json({"seq": outcome.seqs[-1], "events": lines, "repeated": outcome.repeated})

    def event_of(kind: Callable[..., live.InboundEvent], **fields: Any) -> Maker:
        return lambda seq, time: kind(seq=seq, time=time, id=f"e{seq}", **fields)

    # ------------------------------------------------------------------ reading

    @app.get("/v1/health")
    async def health() -> Response:
        """No key needed: ``status``, ``events`` applied and the engine's ``digest``."""
        return _json({"status": "ok", "events": current().seq, "digest": host.digest()})

    @app.get("/v1/accounts/{account_id}")
    async def account(
        account_id: str,
        who: Who,
        detail: bool = False,
        horizon: Annotated[
            Decimal, Query(gt=0, le=Decimal(3_153_600_000), description="the liquidation odds' horizon, seconds")
        ] = Decimal(86400),
    ) -> Response:
        """An account as one entry of ``crossmargin evaluate --json``, with ``frozen`` and ``statuses``;
        ``detail``: also each collateral line's weights, the positions in cross and isolated margin side by
        side and the account's liquidation odds within ``horizon`` seconds (> 0, at most a century; a day by
        default), on the loop's realized volatilities or the document's ``vols``
        (:func:`~crossmargin.service.views.account_detail`; one account's exact evaluation, milliseconds)."""
        allow(who, account=account_id)
        known_account(account_id)
        if detail:
            return _json(account_detail(current(), account_id, float(horizon)))
        return _json(account_view(current(), account_id))

    @app.get("/v1/accounts/{account_id}/history")
    async def account_history(account_id: str, who: Who) -> Response:
        """The account's margin ratio, equity and maintenance margin since the service started (this process:
        the history is not in the log), from the risk book's mirror (:mod:`crossmargin.service.history`)."""
        allow(who, account=account_id)
        known_account(account_id)
        return _json(host.history.view(account_id))

    @app.get("/v1/accounts")
    async def accounts(
        who: Who,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        sort: Literal["margin_ratio", "id"] = "margin_ratio",
        order: Literal["desc", "asc"] = "desc",
    ) -> Response:
        """Admin: a page of accounts, each as ``GET /v1/accounts/{id}`` shows it, sorted by margin ratio
        (MM / equity from the risk book's mirror; an account with equity <= 0 and margin owed ranks first
        in ``desc``) or by id."""
        allow(who)
        book = current().book
        ids = [a for a in book.accounts]
        if sort == "id":
            ordered = sorted(ids, reverse=order == "desc")
        else:
            pools = np.fromiter((book.cross_pool[a] for a in ids), dtype=np.int64, count=len(ids))
            equity, margin = book.figures[pools, 0], book.figures[pools, 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(equity > 0, margin / equity, np.where(margin > 0, np.inf, 0.0))
            rank = np.argsort(-ratio if order == "desc" else ratio, kind="stable")
            ordered = [ids[int(i)] for i in rank]
        page = ordered[offset : offset + limit]
        return _json({"total": len(ids), "offset": offset, "accounts": [account_view(current(), a) for a in page]})

    @app.get("/v1/book")
    async def book_aggregates(who: Who) -> Response:
        """Admin: the book's aggregates (see :func:`~crossmargin.service.views.book_figures`)."""
        allow(who)
        current()
        return _json(host.book_figures())

    @app.get("/v1/agents")
    async def agents(who: Who) -> Response:
        """Admin: the risk agents the service runs (``serve --agents``): each one's settings, its actions since
        the service started and its latest ones (the venue's with the multipliers in force, the traders' with
        their trades and slippage); see :meth:`~crossmargin.service.host.BookHost.agents_view`."""
        allow(who)
        current()
        return _json(host.agents_view())

    @app.get("/v1/liquidation-map/{instrument}")
    async def liquidation_map_of(
        instrument: str,
        who: Who,
        bins: Annotated[int, Query(ge=2, le=500)] = 60,
        span: Annotated[Decimal, Query(gt=0, le=Decimal("0.9"))] = Decimal("0.2"),
    ) -> Response:
        """Admin: where the positions in ``instrument`` are liquidated, in ``bins`` bins within ``span`` of
        its mark, against the liquidity that would take them, from the liquidation prices computed again if
        the book changed and their wait is over (``computed_at``: their event); see
        :func:`~crossmargin.service.insight.liquidation_map`."""
        allow(who)
        loop = current()
        if instrument not in loop.book.instrument_table:
            raise ApiError(404, "instrument", f"no instrument {instrument!r}")
        return _json(liquidation_map(loop, host.liquidation_prices.refresh(loop), instrument, bins, span))

    @app.get("/v1/oracle")
    async def oracle(who: Who) -> Response:
        """Any key: every priced symbol's oracle status, why, its price and its sources; see
        :func:`~crossmargin.service.insight.oracle_view`."""
        return _json(oracle_view(current()))

    @app.post("/v1/accounts/{account_id}/order-check", openapi_extra=bodies.schema_of(bodies.OrderBody))
    async def order_check(account_id: str, who: Who, raw: Raw) -> Response:
        """Would this order pass the initial-margin check now (at the guarded market)? As ``what-if --order``."""
        allow(who, account=account_id)
        known_account(account_id)
        order = bodies.read_body(bodies.OrderBody, raw)
        state = current().state
        holder = state.account(account_id)
        portfolio = state.guarded(holder, state.portfolio_of((holder,)))
        check = check_order(holder, portfolio, state.rules, order.instrument, order.size, order.price)
        return _json(order_dict(portfolio.base, account_id, check))

    @app.post("/v1/accounts/{account_id}/max-withdrawal", openapi_extra=bodies.schema_of(bodies.AssetBody))
    async def max_withdrawal(account_id: str, who: Who, raw: Raw) -> Response:
        """The largest withdrawal of the asset now (at the guarded market). As ``what-if --withdraw``."""
        allow(who, account=account_id)
        known_account(account_id)
        asset = bodies.read_body(bodies.AssetBody, raw).asset
        state = current().state
        holder = state.account(account_id)
        portfolio = state.guarded(holder, state.portfolio_of((holder,)))
        amount = max_withdrawable(holder, portfolio, state.rules, asset)
        held = holder.balances.get(asset, ZERO)
        return _json(withdrawal_dict(portfolio.base, account_id, asset, held, amount))

    # ------------------------------------------------------------------ stress runs

    def stress_runs() -> StressRuns:
        """The service's stress runs, started with the first run asked for (a service that never runs one
        starts no worker pool, no thread and no pipe for them)."""
        if not running:
            raise Unavailable("the stress runs start with the service")
        if not stress:
            stress.append(StressRuns())
        return stress[-1]

    def stress_run(run_id: str, read: Callable[[StressRuns, str], Any]) -> Any:
        """``read(runs, run_id)``: 404 for a run not kept (none is before the first), 409 for one not done."""
        try:
            if not stress:
                raise UnknownRun(f"no stress run {run_id!r}: none was started")
            return read(stress_runs(), run_id)
        except UnknownRun as err:
            raise ApiError(404, "run", str(err)) from None
        except RunNotDone as err:
            raise ApiError(409, "run", str(err)) from None

    @app.get("/v1/stress/scenarios")
    async def stress_scenarios(who: Who) -> Response:
        """Admin: the library's scenarios, ``[{"name", "title", "steps"}]``."""
        allow(who)
        return _json([{"name": n, "title": s.title, "steps": s.steps} for n, s in sorted(library().items())])

    @app.post("/v1/stress", openapi_extra=bodies.schema_of(bodies.StressBody))
    async def stress_start(who: Who, raw: Raw) -> Response:
        """Admin: stress a snapshot of the live book (taken now, between two events) against a library scenario
        or an uploaded one, cross against isolated, on a local worker process (the service goes on); the run's
        status. Poll ``GET /v1/stress/{id}``; once ``done``, its report. 429 while every kept run is unfinished."""
        allow(who)
        asked = bodies.read_body(bodies.StressBody, raw)
        runs = stress_runs()
        current()
        try:
            run_id = runs.start(snapshot(host), asked.scenario, asked.seed, asked.yaml)
        except TooManyRuns as err:
            raise ApiError(429, "run", str(err)) from None
        return _json(runs.status(run_id))

    @app.get("/v1/stress")
    async def stress_list(who: Who) -> Response:
        """Admin: every kept run's status, in the order they were started."""
        allow(who)
        return _json(stress_runs().runs() if stress else [])

    @app.get("/v1/stress/{run_id}")
    async def stress_status(run_id: str, who: Who) -> Response:
        """Admin: a run's status: ``state`` (queued, running, done, failed), ``completed`` of ``total`` steps,
        ``error``, ``started_at`` and ``finished_at`` (unix seconds)."""
        allow(who)
        return _json(stress_run(run_id, StressRuns.status))

    @app.get("/v1/stress/{run_id}/report")
    async def stress_report(run_id: str, who: Who) -> Response:
        """Admin: a done run's report, the HTML ``crossmargin stress --out`` writes."""
        allow(who)
        return Response(stress_run(run_id, StressRuns.report_html), media_type="text/html")

    @app.get("/v1/stress/{run_id}/summary")
    async def stress_summary(run_id: str, who: Who) -> Response:
        """Admin: a done run's summary, the ``summary.json`` ``crossmargin stress --out`` writes."""
        allow(who)
        return Response(stress_run(run_id, StressRuns.summary_text), media_type="application/json")

    # ------------------------------------------------------------------ writing

    @app.post("/v1/accounts", openapi_extra=bodies.schema_of(bodies.OpenAccountBody))
    async def open_account(who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Admin: open an empty account."""
        allow(who)
        opened = bodies.read_body(bodies.OpenAccountBody, raw)
        return await write(who, [event_of(live.OpenAccount, account=opened.id)], idempotency_key)

    async def move_money(
        kind: type[live.Deposit | live.Withdrawal], account_id: str, who: Caller, raw: bytes, key: str | None
    ) -> Response:
        allow(who, account=account_id)
        known_account(account_id)
        money = bodies.read_body(bodies.MoneyBody, raw)
        return await write(who, [event_of(kind, account=account_id, asset=money.asset, amount=money.amount)], key)

    @app.post("/v1/accounts/{account_id}/deposits", openapi_extra=bodies.schema_of(bodies.MoneyBody))
    async def deposit(account_id: str, who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Credit the account's cross balance."""
        return await move_money(live.Deposit, account_id, who, raw, idempotency_key)

    @app.post("/v1/accounts/{account_id}/withdrawals", openapi_extra=bodies.schema_of(bodies.MoneyBody))
    async def withdraw(account_id: str, who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Debit the cross balance if the free collateral (at the guarded market) and the oracle policy allow."""
        return await move_money(live.Withdrawal, account_id, who, raw, idempotency_key)

    @app.post("/v1/trades", openapi_extra=bodies.schema_of(bodies.TradeBody))
    async def trade(who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Matcher: a fill between two accounts; each side that adds risk passes the initial-margin check."""
        allow(who, "matcher")
        fill = bodies.read_body(bodies.TradeBody, raw)
        return await write(who, [event_of(live.Trade, **dict(fill))], idempotency_key)

    @app.post("/v1/prices", openapi_extra=bodies.schema_of(bodies.PriceLine, listed=True))
    async def prices(who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Feeder: source quotes in the ``replay`` feed format, one engine event per line, as ``replay``
        applies them; every line is checked before any is applied (as the feed reader checks a line: a
        symbol the book prices, ``t`` >= 0, ``price`` > 0, ``confidence`` >= 0), so the engine refuses none
        of them and a refused request applies nothing."""
        allow(who, "feeder")
        lines = bodies.read_lines(raw)
        oracle = current().oracle
        for number, line in enumerate(lines):
            with field_prefix(f"[{number}]"):
                if line.symbol not in oracle.document_prices and line.symbol not in oracle.underlying:
                    raise InputError("symbol", f"{line.symbol!r} is neither a priced asset nor a marked instrument")
                SourceUpdate(line.t, line.source, line.symbol, line.price, line.confidence)
        return await write(who, [_quote(line) for line in lines], idempotency_key)

    @app.post("/v1/clock", openapi_extra=bodies.schema_of(bodies.ClockBody))
    async def clock(who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Feeder: time passes to ``t`` (feed seconds) with no price; silent sources turn stale."""
        allow(who, "feeder")
        t = non_negative(bodies.read_body(bodies.ClockBody, raw).t, "t")
        if t < current().oracle.clock:
            raise InputError("t", f"is before the clock, {shown(current().oracle.clock)}: time does not go back")
        return await write(who, [lambda seq, _: live.Clock(seq=seq, time=t, id=f"e{seq}")], idempotency_key)

    @app.post("/v1/parameters", openapi_extra=bodies.schema_of(bodies.ParametersBody))
    async def parameters(who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Admin: liquidity depth multiplier from now on."""
        allow(who)
        depth = bodies.read_body(bodies.ParametersBody, raw).depth
        return await write(who, [event_of(live.ParameterChange, depth=depth)], idempotency_key)

    @app.post("/v1/funding", openapi_extra=bodies.schema_of(bodies.FundingBody))
    async def funding(who: Who, raw: Raw, idempotency_key: IdempotencyKey = None) -> Response:
        """Admin: a funding payment on a perpetual (longs pay shorts ``rate`` x notional; negative: the reverse)."""
        allow(who)
        paid = bodies.read_body(bodies.FundingBody, raw)
        return await write(who, [event_of(live.Funding, instrument=paid.instrument, rate=paid.rate)], idempotency_key)

    # ------------------------------------------------------------------ streaming

    @app.websocket("/v1/stream")
    async def stream(
        socket: WebSocket,
        topic: Annotated[list[str] | None, Query()] = None,
        key: str | None = None,
    ) -> None:
        """Topics ``account:<id>``, ``liquidations``, ``prices``, ``book``, ``agents`` (``?topic=...`` repeated);
        the key in ``Authorization: Bearer`` or ``?key=``. Refusals close the socket: 4401 (no live key), 4403 (a topic
        outside the scope), 4404 (an account topic of no account), 4422 (no or unknown topic), 4429 (rate). Messages
        are JSON text frames: first ``subscribed`` (its topics, and the ``events`` applied so far), then what
        the topics carry."""
        await socket.accept()
        header = socket.headers.get("authorization") or (None if key is None else f"Bearer {key}")
        try:
            who = await caller(header)
            wanted = frozenset(topic or ())
            if not wanted:
                raise ApiError(
                    422, "topic", "name at least one topic: account:<id>, liquidations, prices, book, agents"
                )
            for name in sorted(wanted):
                _check_topic(who, name)
        except ApiError as err:
            await socket.send_text(json_bytes({"error": {"field": err.field, "message": err.message}}).decode())
            await socket.close(code=4000 + err.status)
            return
        subscriber = host.hub.subscribe(wanted)
        subscribed = {"event": "subscribed", "topics": sorted(wanted), "events": current().seq}
        await socket.send_text(json_bytes(subscribed).decode())
        try:
            await _forward(socket, subscriber.queue, subscriber.dropped)
        finally:
            host.hub.unsubscribe(subscriber)

    def _check_topic(who: Caller, name: str) -> None:
        if name.startswith("account:"):
            allow(who, account=name.removeprefix("account:"))
            known_account(name.removeprefix("account:"))
        elif name == "prices":
            allow(who, "feeder")
        elif name in TOPICS:
            allow(who)
        else:
            raise ApiError(422, "topic", f"{name!r} is not a topic (account:<id>, liquidations, prices, book, agents)")

    return app


def _quote(line: bodies.PriceLine) -> Maker:
    """One price line as the event ``replay`` makes of it: stamped with its own ``t``."""
    quote = live.Quote(source=line.source, symbol=line.symbol, price=line.price, confidence=line.confidence)
    return lambda seq, _: live.Prices(seq=seq, time=line.t, id=f"e{seq}", quotes=(quote,))


async def _forward(socket: WebSocket, queue: asyncio.Queue[bytes], dropped: asyncio.Event) -> None:
    """Send what arrives on ``queue`` until the client leaves or falls too far behind (code 1013)."""
    closed = asyncio.create_task(_closed(socket))
    try:
        while not closed.done():
            getting = asyncio.create_task(queue.get())
            dropping = asyncio.create_task(dropped.wait())
            done, _ = await asyncio.wait({getting, dropping, closed}, return_when=asyncio.FIRST_COMPLETED)
            if getting in done:
                await socket.send_text(getting.result().decode())
            else:
                getting.cancel()
            dropping.cancel()
            if dropped.is_set():
                await socket.close(code=1013)
                return
    except WebSocketDisconnect:
        return
    finally:
        closed.cancel()


async def _closed(socket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_bytes()
