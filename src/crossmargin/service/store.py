"""The service's durable store: the event log, snapshots, the book document and API keys, on SQLite (the
embedded default) or PostgreSQL, through SQLAlchemy; the schema is built and moved by Alembic
(:func:`migrate`).

Durability: every write is one committed transaction (an event is acknowledged only after the transaction
holding it committed). On SQLite the database runs in WAL mode with ``synchronous=FULL``, so a committed
transaction survives the process being killed and the machine losing power; a transaction cut short by a
kill is rolled back by the database when it is next opened (a torn last write is never half-applied).
"""

import fcntl
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, TextIO

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from crossmargin.model import InputError
from crossmargin.service.schema import api_keys, book, events, snapshots

DEFAULT_DB = "sqlite:///crossmargin.db"
"""The database ``crossmargin serve`` uses unless ``--db`` names another: a SQLite file in the working
directory."""


def database_url(url: str) -> str:
    """``url`` with the driver this package installs: ``postgresql://`` (or ``postgres://``) means psycopg 3;
    anything else but ``sqlite:`` is refused naming ``--db``."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite:")):
        return url
    raise InputError("--db", f"{url!r} is neither a sqlite:/// nor a postgresql:// database URL")


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def connect(url: str) -> sa.Engine:
    """An engine on the database at ``url`` (see :func:`database_url`), its schema migrated to the newest
    revision; a URL that does not parse, or a database that cannot be reached or migrated (a refused
    connection option, tables of another program in the way), raises InputError naming ``--db``."""
    driver_url = database_url(url)
    try:
        pool = {"pool_size": 20, "max_overflow": 40} if driver_url.startswith("postgresql") else {}
        engine = sa.create_engine(driver_url, **pool)  # PostgreSQL: room for FastAPI's threadpool of 40
    except (sa.exc.ArgumentError, ValueError) as err:  # a port that is no number, a URL that does not parse
        raise InputError("--db", f"not a database URL: {err}") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except sa.exc.DBAPIError as err:  # the driver's error, whichever class it raised
        raise InputError("--db", f"cannot open {engine.url.render_as_string()}: {str(err.orig).strip()}") from None
    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the database's schema to the newest Alembic revision (``migrations/versions``)."""
    config = Config()
    config.set_main_option("script_location", str(files("crossmargin.service") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(frozen=True)
class LogEntry:
    """One row of the log: the inbound record, the outbound records it caused, the idempotency key."""

    seq: int
    kind: str
    record: bytes
    outbound: Sequence[bytes]
    idempotency_key: str | None = None
    request_events: int = 0
    request_digest: str | None = None

    def row(self) -> dict[str, Any]:
        listed = b"[" + b",".join(self.outbound) + b"]"
        return {
            "seq": self.seq,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "request_events": self.request_events,
            "request_digest": self.request_digest,
            "record": self.record.decode(),
            "outbound": listed.decode(),
        }


@dataclass(frozen=True)
class KeyRecord:
    """A stored API key: its id, name, scope and whether it was revoked."""

    id: int
    name: str
    scope: str
    revoked: bool


class Store:
    """The log, snapshots, book document and keys of one database (see module doc)."""

    def __init__(self, url: str) -> None:
        self.engine = connect(url)
        self._lock: sa.Connection | TextIO | None = None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.engine.dispose()

    def lock(self) -> None:
        """Hold this database for one writer until the process ends (or :meth:`close`): a second
        ``crossmargin serve`` on it would append to the log behind the first one's back. PostgreSQL: an
        advisory lock keyed by the schema, held by a connection of its own (released by the server when the
        process dies); SQLite: an exclusive ``flock`` on ``<file>.lock``. A database already held raises
        InputError naming ``--db``."""
        held = "another crossmargin serve holds this database (one writer per log)"
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            query = sa.text("SELECT pg_try_advisory_lock(hashtext('crossmargin:' || current_schema()))")
            if not connection.execute(query).scalar_one():
                connection.close()
                raise InputError("--db", held)
            connection.commit()
            self._lock = connection
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            return
        handle = open(f"{database}.lock", "a")  # noqa: SIM115 (held open, closed by close() or process exit)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise InputError("--db", held) from None
        self._lock = handle

    # ------------------------------------------------------------------ the book document

    def book(self) -> tuple[str, str] | None:
        """The document the service was started with (file name, text), or None on a new database."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(book.c.name, book.c.text)).first()
        return None if row is None else (row.name, row.text)

    def set_book(self, name: str, text: str) -> None:
        """Store the document a new service starts from (a database holds one book, once)."""
        with self.engine.begin() as connection:
            connection.execute(sa.insert(book).values(id=1, name=name, text=text))

    # ------------------------------------------------------------------ the log

    def append(self, entries: Sequence[LogEntry], snapshot: tuple[int, bytes] | None = None) -> None:
        """Append ``entries`` (and a snapshot taken after the last of them) in one committed transaction."""
        with self.engine.begin() as connection:
            if entries:
                connection.execute(sa.insert(events), [entry.row() for entry in entries])
            if snapshot is not None:
                connection.execute(sa.insert(snapshots).values(seq=snapshot[0], body=snapshot[1]))
                connection.execute(sa.delete(snapshots).where(snapshots.c.seq < snapshot[0]))

    def last_seq(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))).scalar_one())

    def records_after(self, seq: int) -> Iterator[tuple[int, str]]:
        """(seq, inbound record) of every event after ``seq``, in order."""
        query = sa.select(events.c.seq, events.c.record).where(events.c.seq > seq).order_by(events.c.seq)
        with self.engine.connect() as connection:
            for row in connection.execution_options(yield_per=10_000).execute(query):
                yield int(row.seq), row.record

    def request_of(self, idempotency_key: str) -> tuple[str | None, list[tuple[int, str]]] | None:
        """The digest of the request applied under ``idempotency_key`` and (seq, outbound records as a JSON
        array) of each of its events; None if there was none."""
        first = sa.select(events.c.seq, events.c.request_events, events.c.request_digest).where(
            events.c.idempotency_key == idempotency_key
        )
        with self.engine.connect() as connection:
            row = connection.execute(first).first()
            if row is None:
                return None
            span = events.c.seq.between(row.seq, row.seq + row.request_events - 1)
            rows = connection.execute(sa.select(events.c.seq, events.c.outbound).where(span).order_by(events.c.seq))
            return row.request_digest, [(int(r.seq), r.outbound) for r in rows]

    def deleveraged(self) -> int:
        """The auto-deleveraging lines (outbound ``adl`` records) in the whole log: every one since it began (a
        scan of the events that caused one, read in batches)."""
        query = sa.select(events.c.outbound).where(events.c.outbound.contains('"type":"adl"'))
        with self.engine.connect() as connection:
            rows = connection.execution_options(yield_per=10_000).execute(query)
            return sum(1 for row in rows for line in json.loads(row.outbound) if line["event"]["type"] == "adl")

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        query = sa.select(snapshots.c.seq, snapshots.c.body).order_by(snapshots.c.seq.desc()).limit(1)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else (int(row.seq), bytes(row.body))

    # ------------------------------------------------------------------ keys

    def add_key(self, name: str, scope: str, digest: str) -> int:
        """Store a key by its digest; its id."""
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.insert(api_keys).values(name=name, scope=scope, digest=digest, created=datetime.now(UTC))
            )
            key_id = result.inserted_primary_key
            assert key_id is not None
            return int(key_id[0])

    def key_by_digest(self, digest: str) -> KeyRecord | None:
        query = sa.select(api_keys).where(api_keys.c.digest == digest)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else KeyRecord(row.id, row.name, row.scope, row.revoked is not None)

    def keys(self) -> list[KeyRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(api_keys).order_by(api_keys.c.id)).all()
        return [KeyRecord(row.id, row.name, row.scope, row.revoked is not None) for row in rows]

    def revoke_key(self, key_id: int) -> None:
        """Revoke the key with id ``key_id`` (an unknown id raises InputError naming ``--id``)."""
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.update(api_keys).where(api_keys.c.id == key_id).values(revoked=datetime.now(UTC))
            )
        if done.rowcount == 0:
            raise InputError("--id", f"no key with id {key_id}")
