"""The service's store on SQLite and on the real PostgreSQL: the log appended and read back in order, a
request's events found by its idempotency key, snapshots (the latest kept), the book document stored once;
a batch is one transaction (a bad row in it leaves none of its rows); database URLs it cannot use and
databases it cannot reach are refused naming ``--db``; SQLite runs durable (WAL, synchronous FULL)."""

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crossmargin.live import events as live
from crossmargin.model import InputError
from crossmargin.service.schema import events, snapshots
from crossmargin.service.store import LogEntry, Store, database_url

D = Decimal


def deposit(seq: int, amount: str) -> live.Deposit:
    return live.Deposit(seq=seq, time=D(0), id=f"e{seq}", account="a", asset="USDT", amount=D(amount))


def entry(
    seq: int,
    key: str | None = None,
    request_events: int = 0,
    outbound: tuple[bytes, ...] = (),
    digest: str | None = None,
) -> LogEntry:
    return LogEntry(seq, "deposit", live.encode(deposit(seq, f"{seq}.5")), outbound, key, request_events, digest)


def rejected(seq: int, cause: str) -> bytes:
    return live.encode(live.Rejected(seq=seq, time=D(0), cause=cause, field="amount", message="too much"))


@pytest.fixture
def store(database_url: str):
    opened = Store(database_url)
    yield opened
    opened.close()


def test_the_log_reads_back_in_order_from_any_seq(store: Store):
    assert store.last_seq() == 0 and list(store.records_after(0)) == []
    store.append([entry(1), entry(2)])
    store.append([entry(3)])
    read = list(store.records_after(0))
    assert [seq for seq, _ in read] == [1, 2, 3] and store.last_seq() == 3
    # each record decodes to the event appended, digit for digit: the deposit of seq n is n.5 USDT
    for seq, record in read:
        assert live.decode_inbound(record) == deposit(seq, f"{seq}.5")
    assert [seq for seq, _ in store.records_after(1)] == [2, 3]
    assert list(store.records_after(3)) == []


def test_a_request_is_found_by_its_idempotency_key_with_its_digest_and_every_event_it_appended(store: Store):
    # a request of three events (a price post of three lines, say) holds its key, the count of its events
    # and its digest on its first event; the requests before and after it are not part of it
    caused = rejected(1, "e3")
    store.append(
        [
            entry(1, "k0", 1, digest="d0"), entry(2, "k1", 3, digest="d1"), entry(3, outbound=(caused,)), entry(4),
            entry(5, "k2", 1),
        ]
    )  # fmt: skip
    assert store.request_of("k1") == ("d1", [(2, "[]"), (3, "[" + caused.decode() + "]"), (4, "[]")])
    assert store.request_of("k0") == ("d0", [(1, "[]")])
    assert store.request_of("k2") == (None, [(5, "[]")])
    assert store.request_of("unknown") is None


def test_a_batch_is_one_transaction_a_bad_row_leaves_none_of_its_rows(store: Store):
    store.append([entry(1, "k", 1)])
    before = list(store.records_after(0))
    with pytest.raises(sa.exc.IntegrityError):  # seq 1 again, after a good seq 2
        store.append([entry(2), entry(1)], (2, b"{}"))
    with pytest.raises(sa.exc.IntegrityError):  # the idempotency key of an applied request again
        store.append([entry(2), entry(3, "k", 1)])
    assert list(store.records_after(0)) == before and store.latest_snapshot() is None


def test_the_latest_snapshot_is_kept_and_older_ones_dropped(store: Store):
    assert store.latest_snapshot() is None
    store.append([entry(1), entry(2)], (2, b'{"at": 2}'))
    assert store.latest_snapshot() == (2, b'{"at": 2}')
    store.append([entry(3)], (3, b"\x00\xff binary"))
    assert store.latest_snapshot() == (3, b"\x00\xff binary")
    with store.engine.connect() as connection:
        kept = connection.execute(sa.select(snapshots.c.seq)).scalars().all()
    assert kept == [3]
    store.append([], None)  # an empty batch (every request of it repeated) writes nothing
    assert store.last_seq() == 3


def test_a_row_holds_its_kind_key_count_digest_and_outbound_array(store: Store):
    caused = (rejected(1, "e1"), rejected(2, "e1"))
    store.append([entry(1, "key", 1, caused, "digest")])
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(events)).one()
    assert (row.seq, row.kind, row.idempotency_key, row.request_events, row.request_digest) == (
        1, "deposit", "key", 1, "digest",
    )  # fmt: skip
    # the outbound column is the JSON array of the records, each decoding to the event written
    assert row.outbound == "[" + b",".join(caused).decode() + "]"
    written = [live.decode_outbound(json.dumps(item)) for item in json.loads(row.outbound)]
    assert written == [live.decode_outbound(r) for r in caused]


def test_the_book_document_is_stored_once(store: Store):
    assert store.book() is None
    store.set_book("portfolio.yaml", "version: 1\n")
    assert store.book() == ("portfolio.yaml", "version: 1\n")
    with pytest.raises(sa.exc.IntegrityError):
        store.set_book("other.yaml", "version: 1\n")
    assert store.book() == ("portfolio.yaml", "version: 1\n")


def test_a_second_store_on_the_same_database_sees_the_first_ones_commits(database_url: str):
    first = Store(database_url)
    first.append([entry(1), entry(2)])
    first.close()
    second = Store(database_url)  # a restart: migrating again changes nothing, the rows are there
    try:
        assert [seq for seq, _ in second.records_after(0)] == [1, 2]
    finally:
        second.close()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u@h/db?options=-csearch_path%3Ds", "postgresql+psycopg://u@h/db?options=-csearch_path%3Ds"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///service.db", "sqlite:///service.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_urls_get_the_installed_driver(given: str, used: str):
    assert database_url(given) == used


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+asyncpg://u@h/db", "service.db", ""])
def test_a_database_url_it_cannot_use_is_refused_naming_db(url: str):
    with pytest.raises(InputError) as caught:
        database_url(url)
    assert caught.value.field == "--db"
    with pytest.raises(InputError) as caught:
        Store(url)
    assert caught.value.field == "--db"


def test_an_unreachable_postgresql_is_refused_naming_db():
    # port 1 on loopback: nothing listens there (connection refused)
    with pytest.raises(InputError) as caught:
        Store("postgresql://postgres@127.0.0.1:1/test")
    assert caught.value.field == "--db" and "127.0.0.1:1" in caught.value.message


def test_a_sqlite_file_in_a_missing_directory_is_refused_naming_db(tmp_path):
    with pytest.raises(InputError) as caught:
        Store(f"sqlite:///{tmp_path / 'missing' / 'service.db'}")
    assert caught.value.field == "--db"


def test_sqlite_runs_in_wal_mode_with_full_synchronous_commits(sqlite_url: str):
    store = Store(sqlite_url)
    try:
        with store.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        # SQLite's codes: synchronous 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
        assert (mode, synchronous) == ("wal", 2)
    finally:
        store.close()


@pytest.mark.parametrize("url", ["postgresql://u@h:port/db", "sqlite:service.db", "postgresql://u@[::1/db"])
def test_a_database_url_that_does_not_parse_is_refused_naming_db(url: str):
    with pytest.raises(InputError) as caught:
        Store(url)
    assert caught.value.field == "--db" and "not a database URL" in caught.value.message


def test_a_connection_option_the_server_refuses_is_an_error_naming_db(postgres_url: str):
    with pytest.raises(InputError) as caught:
        Store(postgres_url + "&no_such_option=1")
    assert caught.value.field == "--db" and "no_such_option" in caught.value.message


def test_a_database_holding_another_programs_tables_is_refused_naming_db(database_url: str):
    # an `events` table of something else, and no Alembic version: the migration cannot build the log there
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)"))
    engine.dispose()
    with pytest.raises(InputError) as caught:
        Store(database_url)
    assert caught.value.field == "--db" and "events" in caught.value.message


def test_one_writer_holds_a_database_until_it_lets_go(database_url: str):
    first, second = Store(database_url), Store(database_url)
    first.lock()
    with pytest.raises(InputError) as err:
        second.lock()
    assert err.value.field == "--db" and "another crossmargin serve" in err.value.message
    first.close()
    second.lock()  # released: the next writer may start
    second.close()
