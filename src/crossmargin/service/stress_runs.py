"""Stress runs from the service: a scenario run against a snapshot of the live book on local processes, with
progress, ending in the two files ``crossmargin stress --out DIR`` writes (``report.html``, ``summary.json``).

1. :func:`snapshot` cuts the live book (:func:`~crossmargin.sim.stress.live_book.live_book`) on the event
   loop's thread, between two batches of the writer: that is the consistent cut. The book moving on
   afterwards changes nothing in it.
2. :meth:`StressRuns.start` checks the scenario (a library name, or an uploaded YAML scenario) and the seed,
   records the run ``queued`` and returns its id. A thread of the run's own waits for one of the
   ``max_workers`` slots, packs the snapshot (:func:`~crossmargin.sim.stress.live_book.pack`, in small chunks)
   and starts a worker process for the run with ``spawn`` (never forked: docs/stress.md, *Monte Carlo*), so no
   run holds the service's event loop or its interpreter lock.
3. The worker unpacks the book, runs it all cross and all isolated through the scenario
   (:mod:`crossmargin.sim.stress.comparison`, the same core as the CLI's), renders the report
   (:func:`~crossmargin.report.stress.render_html`) and the summary text exactly as ``write_report`` writes
   them, sends them and ends. It uses Numba's threads divided by (workers + 1): the service keeps a share of
   the cores.
4. Progress: the worker says when it starts and, at most every :data:`PROGRESS_EVERY_S` and at the end of
   each run, how many steps it has done, on a pipe of its own that the run's thread reads as it comes; what the
   run sends last settles its end (state, steps, times). The pipe is the run's alone and the service keeps
   only its reading end: a worker that dies (killed, out of memory, or stopped by :meth:`StressRuns.close`),
   even half-way through a message, ends the pipe, and its run fails; no lock or thread of the service can be
   left waiting on it.

Statuses (:meth:`StressRuns.status`): ``{"id", "scenario", "state", "completed", "total", "error",
"started_at", "finished_at"}``. ``state`` is ``queued`` (waiting for a worker), ``running``, ``done`` or
``failed``; ``completed`` and ``total`` count steps over both runs (cross, then isolated: the scenario's steps
x 2); ``error`` is why a run failed (None otherwise); ``started_at`` (when a worker took it) and
``finished_at`` are unix seconds, None until then. At most ``max_runs`` runs are kept: a new one drops the
finished run that finished first, and is refused (:class:`TooManyRuns`) while every run kept is unfinished.

Cost on the caller's thread (meant to be the event loop's): :func:`snapshot` about 0.5 µs an account (about
50 ms at 100,000 accounts here); :meth:`~StressRuns.start` with a library scenario a dictionary lookup and a
thread hand-off (well under a millisecond; the first one also starts the launcher thread, a few ms), with an
uploaded YAML scenario its parse too (about 8 µs a value: 2 ms for a scenario of a few hundred values; bounded
by the API's body limit); :meth:`~StressRuns.status`, :meth:`~StressRuns.runs`, :meth:`~StressRuns.report_html`
and :meth:`~StressRuns.summary_text` read a record under a lock that is only ever held to copy a few fields,
and never do I/O; :meth:`~StressRuns.summary` parses the summary text (megabytes for the longest scenarios:
serve :meth:`~StressRuns.summary_text` as it is where that matters). Elsewhere in the service's process, a run
holds the interpreter lock only while it is handed over: packing takes about 4 µs an account on the run's
thread (0.4 s at 100,000 accounts) in pieces of a few ms, between which the event loop runs; starting the
worker pickles the packed book in one piece (36 MB, about 35 ms at 100,000 accounts here). Each run starts its
own worker (a second or two of imports before its first step). :meth:`~StressRuns.close` stops the workers
and waits for the runs' threads to see them end.
"""

import json
import multiprocessing
import secrets
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Literal

import numba

from crossmargin.model import InputError
from crossmargin.model.document_text import parse_yaml
from crossmargin.report.stress import render_html, summary_json
from crossmargin.service.host import BookHost, Unavailable
from crossmargin.sim.scenarios.load import library, scenario_from_dict
from crossmargin.sim.scenarios.model import Scenario
from crossmargin.sim.stress.comparison import Advance, check_configs, compared_configs, stress_comparison
from crossmargin.sim.stress.live_book import LiveBook, PackedBook, live_book, pack, unpack

MAX_SEED = 2**32 - 1
"""The largest seed, as ``crossmargin stress --seed`` takes it."""
COMPARED = 2
"""Runs a stress run makes of the book: all cross, then all isolated."""
PROGRESS_EVERY_S = 0.2
"""Seconds between a worker's progress messages at most (besides one at the end of each run)."""
MAX_RUNS = 20
"""Runs kept by default (finished ones hold their report and summary: a few MB each)."""
STOP_WAIT_S = 30.0
"""How long :meth:`StressRuns.close` waits for each run's thread once its worker is stopped."""

State = Literal["queued", "running", "done", "failed"]
_FINISHED = ("done", "failed")


class UnknownRun(LookupError):
    """No run of that id is kept (never started here, or dropped to make room)."""


class RunNotDone(LookupError):
    """The run has no report: it is queued, running, or failed."""


class TooManyRuns(Exception):
    """Every run kept is still queued or running: a new one would exceed the runs kept."""


def snapshot(host: BookHost) -> LiveBook:
    """The live book now (:func:`~crossmargin.sim.stress.live_book.live_book`): call it on the event loop's
    thread, which the writer shares, so the cut falls between two batches. Raises
    :class:`~crossmargin.service.host.Unavailable` while the loop may hold events the log does not."""
    if host.stale is not None:
        raise Unavailable(f"the book is being rebuilt from the log: {host.stale}")
    return live_book(host.loop)


def checked_scenario(name: str, uploaded_yaml: str | None = None) -> Scenario:
    """The scenario a run is asked for: the library's scenario ``name``, or the YAML scenario text
    ``uploaded_yaml`` (its ``file:`` tables and ``include``s from the library alone), which ``name`` must name
    if it is not empty. Every error is an InputError whose field starts with ``scenario`` (within the YAML:
    ``scenario: assets.BTC.gbm.sigma``, as the CLI prefixes a file's)."""
    if uploaded_yaml is None:
        scenarios = library()
        if name not in scenarios:
            known = ", ".join(sorted(scenarios))
            raise InputError("scenario", f"{name!r} is not a library scenario ({known}); or upload one as yaml")
        return scenarios[name]
    scenario = scenario_from_dict(parse_yaml(uploaded_yaml, "scenario"), "scenario")
    if name and name != scenario.name:
        raise InputError("scenario", f"the uploaded scenario is named {scenario.name!r}, not {name!r}")
    return scenario


def check_seed(seed: int) -> None:
    """Refuse (field ``seed``) anything but a whole number from 0 to :data:`MAX_SEED`."""
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise InputError("seed", f"must be a whole number from 0 to {MAX_SEED:,}, got {seed!r}")


# ------------------------------------------------------------------ in a worker process


@dataclass(frozen=True)
class _Outcome:
    """What a worker returns: when it started (unix seconds), the steps it did of ``total``, and the report
    and summary texts, or why it failed (``error``)."""

    started_at: float
    completed: int
    total: int
    html: str = ""
    summary: str = ""
    error: str | None = None


_channel: Connection | None = None
"""The worker's end of its run's pipe (set as the worker starts)."""


def _say(*message: object) -> None:
    assert _channel is not None, "a stress run runs in a worker started by StressRuns"
    _channel.send(message)


class _Progress:
    """Steps done over the runs of one stress run, told to the service (module doc, 4)."""

    def __init__(self, run_id: str, runs: int) -> None:
        self.run_id, self.runs = run_id, runs
        self.completed = self.total = 0
        self._said = time.monotonic()

    def task(self, _: str, steps: int) -> Advance:
        before = self.completed
        self.total = steps * self.runs

        def advance(k: int, n: int) -> None:
            self.completed, self.total = before + k, n * self.runs
            now = time.monotonic()
            if k == n or now - self._said >= PROGRESS_EVERY_S:
                self._said = now
                _say("progress", self.run_id, self.completed, self.total)

        return advance


def _stress(run_id: str, packed: PackedBook, scenario: Scenario, seed: int) -> _Outcome:
    """The stress run (module doc, 3). Never raises: an error comes back as the outcome's ``error`` (an
    InputError's text names its field)."""
    started = time.time()
    _say("started", run_id, started)
    progress = _Progress(run_id, COMPARED)
    try:
        live = unpack(packed)
        configs = compared_configs(live.stress_book())
        check_configs(configs)
        report = stress_comparison(scenario, configs, live.described, seed, tasks=progress.task)
        html, summary = render_html(report), json.dumps(summary_json(report), indent=2) + "\n"
    except InputError as err:
        return _Outcome(started, progress.completed, progress.total, error=str(err))
    except Exception as err:  # a bug: its type and text, for the operator
        return _Outcome(started, progress.completed, progress.total, error=f"{type(err).__name__}: {err}")
    return _Outcome(started, progress.completed, progress.total, html, summary)


def _worker(channel: Connection, threads: int, run_id: str, packed: PackedBook, scenario: Scenario, seed: int) -> None:
    """A worker process: one run, its messages and then its outcome on ``channel``, with ``threads`` threads
    for Numba's parallel kernels."""
    global _channel
    _channel = channel
    numba.set_num_threads(threads)
    _say("outcome", run_id, _stress(run_id, packed, scenario, seed))
    channel.close()


# ------------------------------------------------------------------ in the service


@dataclass
class _Run:
    """One run's record; every field but ``id`` is read and written under :attr:`StressRuns._lock`."""

    id: str
    scenario: Scenario
    seed: int
    total: int
    book: LiveBook | None  # until it is packed
    state: State = "queued"
    completed: int = 0
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    html: str | None = None
    summary: str | None = None

    def status(self) -> dict[str, Any]:
        return {
            "id": self.id, "scenario": self.scenario.name, "state": self.state, "completed": self.completed,
            "total": self.total, "error": self.error, "started_at": self.started_at, "finished_at": self.finished_at,
        }  # fmt: skip

    def fail(self, error: str) -> None:
        """Failed now, for ``error`` (a run already finished stays as it ended)."""
        if self.state not in _FINISHED:
            self.state, self.error, self.finished_at = "failed", error, time.time()
        self.book = None


class StressRuns:
    """Stress runs of snapshots of the live book on ``max_workers`` local processes (module doc); at most
    ``max_runs`` kept. Thread-safe; :meth:`close` (or leaving a ``with`` block) stops the workers."""

    def __init__(self, max_workers: int = 1, max_runs: int = MAX_RUNS) -> None:
        if max_workers < 1 or max_runs < 1:
            raise ValueError(f"max_workers and max_runs must be at least 1, got {max_workers} and {max_runs}")
        library()  # the library is parsed once, here, not in the first start()
        self._max_runs = max_runs
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._closed = False
        self._context = multiprocessing.get_context("spawn")
        self._threads = max(1, numba.get_num_threads() // (max_workers + 1))
        self._slots = threading.BoundedSemaphore(max_workers)
        self._workers: dict[str, BaseProcess] = {}  # the runs' workers now running, by run id
        self._serving: list[threading.Thread] = []

    def __enter__(self) -> "StressRuns":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ asking

    def start(self, snapshot: LiveBook, scenario: str, seed: int, uploaded_yaml: str | None = None) -> str:
        """Check the inputs (:func:`checked_scenario`, :func:`check_seed`: an InputError, nothing started),
        record the run ``queued`` and hand it to the launcher; the run's id (16 hex digits). Raises
        :class:`TooManyRuns` when every run kept is unfinished, RuntimeError once closed."""
        checked = checked_scenario(scenario, uploaded_yaml)
        check_seed(seed)
        with self._lock:
            if self._closed:
                raise RuntimeError("the stress runs are closed")
            self._make_room()
            run = _Run(secrets.token_hex(8), checked, seed, checked.steps * COMPARED, snapshot)
            self._runs[run.id] = run
            serving = threading.Thread(target=self._serve, args=(run,), name=f"stress-{run.id}", daemon=True)
            self._serving = [t for t in self._serving if t.is_alive()] + [serving]
        serving.start()
        return run.id

    def status(self, run_id: str) -> dict[str, Any]:
        """The run's status (module doc); :class:`UnknownRun` if none of that id is kept."""
        with self._lock:
            return self._run(run_id).status()

    def runs(self) -> list[dict[str, Any]]:
        """Every kept run's status, in the order they were started."""
        with self._lock:
            return [run.status() for run in self._runs.values()]

    def report_html(self, run_id: str) -> str:
        """The run's ``report.html`` text; :class:`UnknownRun`, or :class:`RunNotDone` before it is done."""
        with self._lock:
            return self._done(run_id).html or ""

    def summary_text(self, run_id: str) -> str:
        """The run's ``summary.json`` text, byte for byte what ``write_report`` writes; errors as
        :meth:`report_html`."""
        with self._lock:
            return self._done(run_id).summary or ""

    def summary(self, run_id: str) -> dict[str, Any]:
        """The run's ``summary.json`` document (:func:`~crossmargin.report.stress.summary_json`: money, prices
        and times as decimal strings); errors as :meth:`report_html`."""
        document: dict[str, Any] = json.loads(self.summary_text(run_id))
        return document

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise UnknownRun(f"no stress run {run_id!r} (never started, or dropped to keep the last {self._max_runs})")
        return run

    def _done(self, run_id: str) -> _Run:
        run = self._run(run_id)
        if run.state == "failed":
            raise RunNotDone(f"stress run {run_id} failed: {run.error}")
        if run.state != "done":
            raise RunNotDone(f"stress run {run_id} is {run.state} ({run.completed} of {run.total} steps): not done yet")
        return run

    def _make_room(self) -> None:
        """Drop the finished run that finished first if the runs kept are at the most; refuse if none is."""
        if len(self._runs) < self._max_runs:
            return
        finished = [run for run in self._runs.values() if run.state in _FINISHED]
        if not finished:
            raise TooManyRuns(f"all {len(self._runs)} stress runs kept are queued or running: wait for one to end")
        del self._runs[min(finished, key=lambda run: run.finished_at or 0.0).id]

    # ------------------------------------------------------------------ running

    def _serve(self, run: _Run) -> None:
        """On the run's own thread: wait for a slot, pack the snapshot, start the run's worker and apply what it
        says until its outcome or its end (module doc, 2 and 4)."""
        with self._slots:
            try:
                book = run.book
                assert book is not None
                packed = pack(book)
                reader, writer = self._context.Pipe(duplex=False)
                worker = self._context.Process(
                    target=_worker, args=(writer, self._threads, run.id, packed, run.scenario, run.seed),
                    name=f"stress-{run.id}", daemon=True,
                )  # fmt: skip
                worker.start()
                writer.close()  # the worker holds the only writing end: its end is the pipe's
            except Exception as err:
                with self._lock:
                    run.fail(f"could not be started: {type(err).__name__}: {err}")
                return
            with self._lock:
                stopped = self._closed
                if not stopped:
                    run.book = None
                    self._workers[run.id] = worker
            if stopped:  # closed while it started: its run has failed already
                worker.terminate()
            try:
                self._read(run, reader)
            finally:
                reader.close()
                worker.join(STOP_WAIT_S)
                if worker.is_alive():  # it sent its outcome but does not end
                    worker.terminate()
                    worker.join()
                with self._lock:
                    self._workers.pop(run.id, None)

    def _read(self, run: _Run, reader: Connection) -> None:
        """Apply the worker's messages as they come, until its outcome or the pipe's end."""
        while True:
            try:
                kind, _, *figures = reader.recv()
            except (EOFError, OSError):
                with self._lock:
                    run.fail("its worker process ended abruptly (killed, or out of memory)")
                return
            with self._lock:
                if run.state in _FINISHED:
                    continue
                if kind == "outcome":
                    self._finished(run, figures[0])
                    return
                run.state = "running"
                if kind == "started":
                    run.started_at = figures[0]
                else:
                    run.completed, run.total = max(run.completed, figures[0]), figures[1]

    @staticmethod
    def _finished(run: _Run, outcome: _Outcome) -> None:
        """The run's end as its worker sent it (under the lock)."""
        run.started_at, run.completed, run.total = outcome.started_at, outcome.completed, outcome.total
        if outcome.error is not None:
            run.fail(outcome.error)
            return
        run.state, run.finished_at = "done", time.time()
        run.html, run.summary = outcome.html, outcome.summary

    def close(self) -> None:
        """Stop: every unfinished run fails (``stopped: the service's stress runs were closed``), a snapshot
        being packed is dropped, the workers are ended (a run in progress with them), and the runs' threads
        are waited for (:data:`STOP_WAIT_S` each at most: they only wait for their worker's pipe to end)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for run in self._runs.values():
                if run.state not in _FINISHED:
                    run.fail("stopped: the service's stress runs were closed")
            workers = list(self._workers.values())
            serving = list(self._serving)
        for worker in workers:
            worker.terminate()
        for thread in serving:
            thread.join(STOP_WAIT_S)
