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
"""

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from crossmargin.live import events as live
from crossmargin.live import snapshot as snapshots
from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.service.hub import Hub
from crossmargin.service.store import LogEntry, Store
from crossmargin.service.views import book_figures, figures_message, json_bytes, message

MAX_BATCH = 4096
"""Requests one transaction takes at most."""
SNAPSHOT_EVERY = 10_000
"""Events between snapshots by default."""

Maker = Callable[[int, Decimal], live.InboundEvent]
"""Builds a request's event given its ``seq`` and the time it takes (the oracle's clock)."""


@dataclass(frozen=True)
class Outcome:
    """What a request did: the ``seq`` of each event it appended and what they caused; ``repeated``: the
    idempotency key had been applied before and this is that answer again."""

    seqs: tuple[int, ...]
    outbound: tuple[live.OutboundEvent, ...]
    repeated: bool = False

    @property
    def refusal(self) -> live.Rejected | None:
        """The first event the engine refused, if any."""
        return next((e for e in self.outbound if isinstance(e, live.Rejected)), None)


class Unavailable(Exception):
    """The log could not be written: the request was not applied (the loop was rebuilt from the log)."""


@dataclass
class _Pending:
    makers: Sequence[Maker]
    key: str | None
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


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

    def __init__(self, store: Store, config: LoopConfig, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.store = store
        self.config = config
        self.snapshot_every = snapshot_every
        self.loop = open_loop(store, config)
        self.hub = Hub()
        self.queue: asyncio.Queue[_Pending] | None = None
        self._sent: dict[str, tuple[Decimal, ...]] = {}
        self._digest: tuple[int, str] | None = None

    @classmethod
    def open(
        cls, store: Store, document: tuple[str, str] | None = None, snapshot_every: int = SNAPSHOT_EVERY
    ) -> "BookHost":
        """The service's book on ``store``: resumed from the log, or on a new database started from
        ``document`` (file name, text). A document on a database holding another one, or none on a new
        database, raises InputError naming ``--book``."""
        stored = store.book()
        if stored is None and document is None:
            raise InputError("--book", "the database holds no book yet: start the service with --book DOC")
        if stored is not None and document is not None and stored != document:
            raise InputError(
                "--book", f"the database already holds the book started from {stored[0]}: leave out --book to "
                "resume it, or give another --db",
            )  # fmt: skip
        name, text = stored or document  # type: ignore[misc]
        config = loop_config_of(parse_document(text, name))
        if stored is None:
            store.set_book(name, text)
        return cls(store, config, snapshot_every)

    # ------------------------------------------------------------------ writing

    async def submit(self, makers: Sequence[Maker], key: str | None = None) -> Outcome:
        """Apply a request's events (in order, in one transaction with whatever else is waiting) and answer
        once they are committed; under an idempotency ``key`` seen before, the first answer again. Raises
        :class:`Unavailable` if the log could not be written (nothing applied)."""
        if self.queue is None:
            raise Unavailable("the writer is not running")
        pending = _Pending(makers, key)
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
        """Apply, commit, answer and publish one batch (see module doc)."""
        entries: list[LogEntry] = []
        answers: list[tuple[_Pending, Outcome]] = []
        keyed: dict[str, Outcome] = {}
        for pending in batch:
            repeated = self._repeated(pending.key, keyed)
            if repeated is not None:
                answers.append((pending, repeated))
                continue
            outcome, made = self._apply(pending)
            entries += made
            answers.append((pending, outcome))
            if pending.key is not None:
                keyed[pending.key] = Outcome(outcome.seqs, outcome.outbound, repeated=True)
        try:
            self.store.append(entries, self._snapshot_due(entries))
        except Exception as err:  # the database failed: what the loop applied is not in the log
            self.loop = open_loop(self.store, self.config)
            for pending, _ in answers:
                if not pending.answer.done():
                    pending.answer.set_exception(Unavailable(f"the log could not be written: {err}"))
            return
        for pending, outcome in answers:
            if not pending.answer.done():
                pending.answer.set_result(outcome)
        self._publish([o for _, outcome in answers if not outcome.repeated for o in outcome.outbound])

    def _repeated(self, key: str | None, keyed: dict[str, Outcome]) -> Outcome | None:
        if key is None:
            return None
        if key in keyed:
            return keyed[key]
        stored = self.store.request_of(key)
        if stored is None:
            return None
        outbound = tuple(live.decode_outbound(json.dumps(o)) for _, text in stored for o in json.loads(text))
        return Outcome(tuple(seq for seq, _ in stored), outbound, repeated=True)

    def _apply(self, pending: _Pending) -> tuple[Outcome, list[LogEntry]]:
        entries = []
        outbound: list[live.OutboundEvent] = []
        for number, make in enumerate(pending.makers):
            event = make(self.loop.seq + 1, self.loop.oracle.clock)
            caused = self.loop.handle(event)
            outbound += caused
            first = number == 0
            entries.append(
                LogEntry(
                    event.seq, type(event).__struct_config__.tag, live.encode(event),  # type: ignore[arg-type]
                    [live.encode(e) for e in caused], pending.key if first else None,
                    len(pending.makers) if first else 0,
                )
            )  # fmt: skip
        return Outcome(tuple(e.seq for e in entries), tuple(outbound)), entries

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
        for event in outbound:
            text = message(event)
            if isinstance(event, live.PriceStatus):
                priced = True
                hub.publish("prices", text)
                continue
            account = getattr(event, "account", None)
            if isinstance(event, live.Figures):
                self._sent[event.account] = (event.equity, event.initial_margin, event.maintenance_margin)
            elif not isinstance(event, live.Rejected | live.AccountStatus):
                hub.publish("liquidations", text)
            if account is not None:
                hub.publish(f"account:{account}", text)
            if isinstance(event, live.Deleveraged):
                hub.publish(f"account:{event.from_account}", text)
        if priced:
            self._publish_revalued()

    def _publish_revalued(self) -> None:
        """After prices moved: the new exact figures of each followed account whose figures changed."""
        for account_id in self.hub.followed_accounts():
            if account_id not in self.loop.book.accounts:
                continue
            figures, text = figures_message(self.loop, account_id)
            if self._sent.get(account_id) != figures:
                self._sent[account_id] = figures
                self.hub.publish(f"account:{account_id}", text)

    async def publish_book(self, every_s: float = 0.1) -> None:
        """Forever: the book's aggregates on ``book`` when something changed, at most every ``every_s``."""
        published = -1
        while True:
            await asyncio.sleep(every_s)
            if self.hub.followed("book") and self.loop.seq != published:
                published = self.loop.seq
                self.hub.publish("book", json_bytes({"event": "book", **book_figures(self.loop)}))

    # ------------------------------------------------------------------ reading

    def digest(self) -> str:
        """The loop's digest (computed once per event count)."""
        if self._digest is None or self._digest[0] != self.loop.seq:
            self._digest = (self.loop.seq, self.loop.digest())
        return self._digest[1]
