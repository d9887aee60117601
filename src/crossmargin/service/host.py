"""The book a service holds: the engine loop over the durable log, one writer, group commit.

Requests become inbound events (:mod:`crossmargin.live.events`) and are applied by a single writer task
in arrival order: it takes every request waiting (up to :data:`MAX_BATCH`), applies each request's events
to the engine loop, appends them with what they caused to the log in **one** committed transaction, and
only then answers the requests and publishes the outbound events to the stream. The commit runs on the
event loop's own thread, so nothing (no read, no socket) sees an event the log does not hold yet; if it
fails, the loop is rebuilt from the log and the batch's requests fail (nothing of them was acknowledged).

Time: the service runs on the feed's clock. A price line carries its own ``t`` (seconds); every other event
takes the oracle's clock (the latest ``t`` seen), so the same log replays to the same state anywhere.

State = the latest snapshot + the log after it (:meth:`BookHost.open`); a snapshot is written with the
batch that crosses each multiple of ``snapshot_every`` events.

Risk agents (``agents``: :mod:`crossmargin.sim.agents`, docs/agents.md): after a batch that applied prices or
a clock event is committed and answered, and before the writer takes the next batch, the agents look at the
loop (the venue's first, then the traders') and each action's inbound event is numbered by the host, applied,
and appended with what it caused in a transaction of its own, then published (its outbound events on their
topics, the action on ``agents``). The log holds them as any other event: opening the host replays them and
never runs the agents. Their cost per batch is the traders' float screen over the risk book plus the exact
look at the few accounts it names (docs/agents.md, "In the service"). If an agent raises, its actions of that
round are dropped (the loop is rebuilt from the log if it had applied any) and the agents stop until the
service restarts (``GET /v1/agents`` shows why); if their transaction fails, the loop is rebuilt from the log
and the agents start afresh.
"""

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crossmargin.live import events as live
from crossmargin.live import snapshot as snapshots
from crossmargin.live.loop import FLOAT_ERROR, EngineLoop, LoopConfig
from crossmargin.model import InputError
from crossmargin.service.books import book_config
from crossmargin.service.history import CAPACITY, MarginHistory
from crossmargin.service.hub import Hub
from crossmargin.service.insight import LiquidationPriceCache
from crossmargin.service.store import LogEntry, Store
from crossmargin.service.views import book_figures, json_bytes, message, mirror_figures, mirror_message
from crossmargin.sim.agents.config import AgentsConfig
from crossmargin.sim.agents.host import Applied, build_agents, run_agents
from crossmargin.sim.agents.protocol import Agent
from crossmargin.sim.agents.record import AgentActivity
from crossmargin.sim.agents.trader import DeRiskingAgent

MAX_BATCH = 4096
"""Requests one transaction takes at most."""
SNAPSHOT_EVERY = 10_000
"""Events between snapshots by default."""

Maker = Callable[[int, Decimal], live.InboundEvent]
"""Builds a request's event given its ``seq`` and the time it takes (the oracle's clock)."""
_TIMED = frozenset({"prices", "clock"})
"""The events after whose batch the agents run (module doc)."""


@dataclass(frozen=True)
class Outcome:
    """What a request did: the ``seq`` of each event it appended and what they caused; ``repeated``: the
    idempotency key had been applied before and this is that answer again."""

    seqs: tuple[int, ...]
    outbound: tuple[live.OutboundEvent, ...]
    repeated: bool = False
    refused: InputError | None = None

    @property
    def refusal(self) -> InputError | None:
        """Why the request was refused: checked before it reached the log (``refused``: nothing logged), or
        by the engine (a ``rejected`` event in the log, which changed nothing); None if it was applied."""
        if self.refused is not None:
            return self.refused
        rejected = next((e for e in self.outbound if isinstance(e, live.Rejected)), None)
        return None if rejected is None else InputError(rejected.field, rejected.message)


class Unavailable(Exception):
    """The log could not be written: the request was not applied (the loop was rebuilt from the log)."""


@dataclass
class _Pending:
    makers: Sequence[Maker]
    key: str | None
    fingerprint: str | None
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _moved(sent: tuple[float, float, float, bool] | None, now: tuple[float, float, float, bool]) -> bool:
    """Whether figures ``now`` differ from those ``sent`` beyond the mirror's float error (the mirror's sums
    of an account whose exact figures were just sent differ from them in the last digits), or the verdict
    changed."""
    if sent is None or sent[3] != now[3]:
        return True
    return any(abs(a - b) > FLOAT_ERROR * (abs(a) + abs(b) + 1.0) for a, b in zip(sent[:3], now[:3], strict=True))


def _entry(event: live.InboundEvent, caused: Sequence[live.OutboundEvent]) -> LogEntry:
    """The log row of an event no request made (an agent's): no idempotency key."""
    kind = type(event).__struct_config__.tag
    return LogEntry(event.seq, str(kind), live.encode(event), [live.encode(e) for e in caused])


def open_loop(store: Store, config: LoopConfig) -> EngineLoop:
    """The loop the store holds: its latest snapshot under ``config`` and the log after it applied."""
    saved = store.latest_snapshot()
    loop = EngineLoop(config) if saved is None else snapshots.restored(config, snapshots.decode(saved[1]))
    for seq, record in store.records_after(loop.seq):
        event = live.decode_inbound(record)
        if event.seq != seq:
            raise InputError("events", f"the log's event {seq} records seq {event.seq}")
        loop.handle(event)
    return loop


class BookHost:
    """The engine loop, its store and its stream (see module doc)."""

    def __init__(
        self,
        store: Store,
        config: LoopConfig,
        snapshot_every: int = SNAPSHOT_EVERY,
        history_points: int = CAPACITY,
        agents: AgentsConfig | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.snapshot_every = snapshot_every
        self.loop = open_loop(store, config)
        self.hub = Hub()
        self.queue: asyncio.Queue[_Pending] | None = None
        self._sent: dict[str, tuple[float, float, float, bool]] = {}
        self._digest: tuple[int, str] | None = None
        self._stale: str | None = None
        """Why the loop may hold events the log does not (a batch was discarded and the log could not be read
        back yet); None when the loop is the log's."""
        self.adl_count = store.deleveraged()
        """Auto-deleveraging lines since the log began: the log's at the start, then each one published."""
        self.liquidation_prices = LiquidationPriceCache()
        self.liquidation_prices.refresh(self.loop)
        self.history = MarginHistory(history_points)
        """Each account's margin-ratio history since this process started (:mod:`crossmargin.service.history`)."""
        self.history.record(self.loop, ())
        self.agents_config = agents
        """The risk agents this process runs (None: none); not stored: the log holds what they did."""
        self.activity = None if agents is None else AgentActivity(agents)
        self.agents: list[Agent] = []
        self._start_agents()

    @classmethod
    def open(
        cls,
        store: Store,
        document: tuple[str, str] | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        history_points: int = CAPACITY,
        agents: AgentsConfig | None = None,
    ) -> "BookHost":
        """The service's book on ``store``: resumed from the log, or on a new database started from
        ``document`` (file name and text, or a generated book: :mod:`crossmargin.service.books`), run with the
        risk ``agents`` (module doc). A document on a database holding another one, or none on a new database,
        raises InputError naming ``--book``."""
        stored = store.book()
        if stored is None and document is None:
            raise InputError("--book", "the database holds no book yet: start the service with --book DOC")
        if stored is not None and document is not None and stored != document:
            raise InputError(
                "--book", f"the database already holds the book started from {stored[0]}: leave out --book to "
                "resume it, or give another --db",
            )  # fmt: skip
        name, text = stored or document  # type: ignore[misc]
        config = book_config(name, text)
        if stored is None:
            store.set_book(name, text)
        return cls(store, config, snapshot_every, history_points, agents)

    # ------------------------------------------------------------------ writing

    async def submit(self, makers: Sequence[Maker], key: str | None = None, fingerprint: str | None = None) -> Outcome:
        """Apply a request's events (in order, in one transaction with whatever else is waiting) and answer
        once they are committed. A request of one event the clearing state would refuse is answered
        ``refused`` and never reaches the log. Under an idempotency ``key`` seen before, the first answer
        again if ``fingerprint`` (the request's digest) is the first one's, else a refusal naming
        ``Idempotency-Key``. Raises :class:`Unavailable` if the log could not be written (nothing applied)."""
        if self.queue is None:
            raise Unavailable("the writer is not running")
        pending = _Pending(makers, key, fingerprint)
        await self.queue.put(pending)
        return await pending.answer

    async def run(self) -> None:
        """The writer: forever takes what waits, applies, commits, answers and publishes."""
        self.queue = asyncio.Queue(MAX_BATCH * 4)
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self.process(batch)

    def process(self, batch: list[_Pending]) -> None:
        """Apply, commit, answer and publish one batch (see module doc). If applying fails (a bug, or the
        database failing while an idempotency key is looked up) or the commit does, every request of the
        batch is answered :class:`Unavailable` and the loop is rebuilt from the log: the writer goes on."""
        if self._stale is not None and not self._rebuilt():
            self._refuse(batch, f"the log could not be read: {self._stale}")
            return
        entries: list[LogEntry] = []
        answers: list[tuple[_Pending, Outcome]] = []
        keyed: dict[str, tuple[Outcome, str | None]] = {}  # this batch's keys: the answer, the fingerprint
        try:
            for pending in batch:
                repeated = self._repeated(pending, keyed)
                if repeated is not None:
                    answers.append((pending, repeated))
                    continue
                outcome, made = self._apply(pending)
                entries += made
                answers.append((pending, outcome))
                if pending.key is not None:
                    again = Outcome(outcome.seqs, outcome.outbound, True, outcome.refused)
                    keyed[pending.key] = (again, pending.fingerprint)
        except Exception as err:  # what the loop applied of the batch is not in the log
            self._discard(batch, f"the batch could not be applied: {err!r}")
            return
        try:
            self.store.append(entries, self._snapshot_due(entries))
        except Exception as err:  # the database failed: what the loop applied is not in the log
            self._discard(batch, f"the log could not be written: {err}")
            return
        for pending, outcome in answers:
            if not pending.answer.done():
                pending.answer.set_result(outcome)
        self._publish([o for _, outcome in answers if not outcome.repeated for o in outcome.outbound])
        if any(entry.kind in _TIMED for entry in entries):
            self.run_agents()

    def _discard(self, batch: list[_Pending], why: str) -> None:
        """The loop holds events of ``batch`` the log does not: answer its requests :class:`Unavailable` and
        rebuild the loop from the log (if the log cannot be read now, before the next batch)."""
        self._refuse(batch, why)
        self._stale = why
        self._rebuilt()

    def _rebuilt(self) -> bool:
        """Rebuild the loop from the log; False (the loop still stale) if the log could not be read."""
        try:
            self.loop = open_loop(self.store, self.config)
        except Exception as err:
            self._stale = str(err)
            return False
        self._stale = None
        self._digest = None  # a digest of the discarded events' loop may be cached under the same seq
        return True

    @staticmethod
    def _refuse(batch: list[_Pending], why: str) -> None:
        for pending in batch:
            if not pending.answer.done():
                pending.answer.set_exception(Unavailable(why))

    def _repeated(self, pending: _Pending, keyed: dict[str, tuple[Outcome, str | None]]) -> Outcome | None:
        """The first answer under the request's idempotency key (this batch's, or the log's), or a refusal if
        the key came with another request; None for a new key."""
        key = pending.key
        if key is None:
            return None
        if key in keyed:
            first, fingerprint = keyed[key]
        else:
            stored = self.store.request_of(key)
            if stored is None:
                return None
            fingerprint, rows = stored
            outbound = tuple(live.decode_outbound(json.dumps(o)) for _, text in rows for o in json.loads(text))
            first = Outcome(tuple(seq for seq, _ in rows), outbound, repeated=True)
        if fingerprint != pending.fingerprint:
            reused = InputError("Idempotency-Key", "already used for a different request")
            return Outcome((), (), refused=reused)
        return first

    def _apply(self, pending: _Pending) -> tuple[Outcome, list[LogEntry]]:
        entries = []
        outbound: list[live.OutboundEvent] = []
        if len(pending.makers) == 1:
            event = pending.makers[0](self.loop.seq + 1, self.loop.oracle.clock)
            try:
                self.loop.check(event)
            except InputError as err:
                return Outcome((), (), refused=err), []
        for number, make in enumerate(pending.makers):
            event = make(self.loop.seq + 1, self.loop.oracle.clock)
            caused = self.loop.handle(event)
            outbound += caused
            first = number == 0
            entries.append(
                LogEntry(
                    event.seq, type(event).__struct_config__.tag, live.encode(event),  # type: ignore[arg-type]
                    [live.encode(e) for e in caused], pending.key if first else None,
                    len(pending.makers) if first else 0, pending.fingerprint if first else None,
                )
            )  # fmt: skip
        return Outcome(tuple(e.seq for e in entries), tuple(outbound)), entries

    # ------------------------------------------------------------------ agents

    def _start_agents(self) -> None:
        """Fresh agents over the loop as it is (nothing of theirs carried over)."""
        config = self.agents_config
        self.agents = [] if config is None else build_agents(config, self.loop)
        self._covered = len(self.loop.state.account_ids)

    def run_agents(self) -> None:
        """One round of the agents on the loop now, their events applied, committed and published (module
        doc); the writer calls it after a batch that moved the clock."""
        if not self.agents or self.activity is None:
            return
        accounts = self.loop.state.account_ids
        if len(accounts) != self._covered:  # accounts were opened: the traders watch them too
            for agent in self.agents:
                if isinstance(agent, DeRiskingAgent):
                    agent.cover(accounts)
            self._covered = len(accounts)
        made: list[LogEntry] = []

        def apply(event: live.InboundEvent) -> Sequence[live.OutboundEvent]:
            made.append(_entry(event, ()))  # the loop may be half-way through it if handling raises
            caused = self.loop.handle(event)
            made[-1] = _entry(event, caused)
            return caused

        applied: list[Applied]
        try:
            applied, caused = run_agents(self.agents, self.loop, self.loop.oracle.clock, apply)
        except Exception as err:  # a bug in an agent (or in the loop): stop the agents, keep the log's state
            self.activity.error = f"the agents stopped: {err!r}"
            self.agents = []
            if made:
                self._stale = self.activity.error
                self._rebuilt()
            return
        if not made:
            return
        try:
            self.store.append(made, self._snapshot_due(made))
        except Exception as err:  # the database failed: what the loop applied is not in the log
            self._stale = f"the agents' events could not be written: {err}"
            if self._rebuilt():
                self._start_agents()
            return
        self._publish(caused)
        for record in self.activity.record(applied):
            self.hub.publish("agents", json_bytes({"event": "agent_action", **record.as_dict()}))

    def agents_view(self) -> dict[str, Any]:
        """The agents' settings and latest actions (:meth:`~crossmargin.sim.agents.record.AgentActivity.view`);
        ``{"running": false, "error": null, "agents": []}`` when the service runs none."""
        if self.activity is None:
            return {"running": False, "error": None, "agents": []}
        return self.activity.view(self.agents, self.loop.state)

    def _snapshot_due(self, entries: list[LogEntry]) -> tuple[int, bytes] | None:
        if not entries:
            return None
        before = entries[0].seq - 1
        if before // self.snapshot_every == self.loop.seq // self.snapshot_every:
            return None
        return self.loop.seq, snapshots.encode(snapshots.snapshot(self.loop))

    # ------------------------------------------------------------------ publishing

    def _publish(self, outbound: list[live.OutboundEvent]) -> None:
        hub = self.hub
        priced = False
        changed: set[str] = set()
        for event in outbound:
            text = message(event)
            if isinstance(event, live.PriceStatus):
                priced = True
                hub.publish("prices", text)
                continue
            account = getattr(event, "account", None)
            if isinstance(event, live.Figures):
                changed.add(event.account)
                exact = (event.equity, event.initial_margin, event.maintenance_margin)
                self._sent[event.account] = (*(float(x) for x in exact), event.liquidatable)  # type: ignore[assignment]
            elif (isinstance(event, live.AccountStatus) and event.state == "liquidatable") or not isinstance(
                event, live.Rejected | live.AccountStatus
            ):
                hub.publish("liquidations", text)
            if account is not None:
                hub.publish(f"account:{account}", text)
            if isinstance(event, live.Deleveraged):
                self.adl_count += 1
                hub.publish(f"account:{event.from_account}", text)
        self.history.record(self.loop, changed)
        if priced:
            self._publish_revalued()

    def _publish_revalued(self) -> None:
        """After prices moved: the mirror's figures of each followed account whose figures it moved (see
        :func:`~crossmargin.service.views.mirror_message`: a tick moves every holder's float figures at once;
        exact figures come with every change of the account's money or positions)."""
        for account_id in self.hub.followed_accounts():
            if account_id not in self.loop.book.accounts:
                continue
            figures = mirror_figures(self.loop, account_id)
            if _moved(self._sent.get(account_id), figures):
                self._sent[account_id] = figures
                self.hub.publish(f"account:{account_id}", mirror_message(self.loop, account_id, figures))

    async def publish_book(self, every_s: float = 0.1) -> None:
        """Forever, every ``every_s`` while someone follows ``book``: the liquidation prices refreshed
        (:class:`~crossmargin.service.insight.LiquidationPriceCache`; a liquidation map asked for refreshes them
        too), and the book's aggregates on ``book`` when something changed (an event, or the liquidation
        prices). Nobody following, nothing is computed."""
        published = (-1, -1)
        while True:
            await asyncio.sleep(every_s)
            if not self.hub.followed("book"):
                continue
            now = (self.loop.seq, self.liquidation_prices.refresh(self.loop).seq)
            if now != published:
                published = now
                self.hub.publish("book", json_bytes({"event": "book", **self.book_figures()}))

    # ------------------------------------------------------------------ reading

    def book_figures(self) -> dict[str, Any]:
        """The book's aggregates (:func:`~crossmargin.service.views.book_figures`) with the liquidation prices
        (computed again if the book changed and their wait is over) and the auto-deleveraging lines since the
        log began."""
        return book_figures(self.loop, self.liquidation_prices.refresh(self.loop), self.adl_count)

    @property
    def stale(self) -> str | None:
        """Why the loop may hold events the log does not (until it is rebuilt); None when it is the log's."""
        return self._stale

    def digest(self) -> str:
        """The loop's digest (computed once per event count)."""
        if self._digest is None or self._digest[0] != self.loop.seq:
            self._digest = (self.loop.seq, self.loop.digest())
        return self._digest[1]
