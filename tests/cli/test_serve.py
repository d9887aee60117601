"""``crossmargin serve``, ``crossmargin keys`` and ``crossmargin log`` through the real command line (typer's
runner; uvicorn is never started here: its ``run`` is replaced by a recorder, so a test that wrongly got that
far fails instead of serving).

- ``keys add`` prints the key on its last line, and that key is its holder's; ``keys list`` shows ids,
  scopes, names and states, never a key nor its digest; ``keys revoke --id`` makes the key nobody's.
- ``log`` prints the records ``replay --events`` takes: the replay's digest is the service's.
- ``serve`` with a bad ``--port``, ``--rate``, ``--snapshot-every``, ``--history-points``, ``--db``,
  ``--new-key``, no ``--book`` on a new database or another one on a used database: ``error: <field>: ...``
  on stderr, exit 2, nothing on stdout and nothing served. With good options it prints what it serves and the
  new key, then serves.
"""

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from crossmargin.live import events as live
from crossmargin.service.host import BookHost, Maker
from crossmargin.service.keys import Scope, caller_of, digest_of
from crossmargin.service.store import Store
from tests.cli.conftest import EXAMPLES, run
from tests.service.conftest import fresh_schema, postgres_schema_url

EXAMPLE = EXAMPLES / "portfolio.yaml"
D = Decimal


@pytest.fixture(autouse=True)
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``uvicorn.run`` was asked to serve (it is not started)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    return calls


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


def added(db: str, scope: str, name: str = "") -> tuple[str, str]:
    code, out, err = run("keys", "add", "--db", db, "--scope", scope, *(["--name", name] if name else []))
    assert code == 0 and err == "", err
    *_, last = out.splitlines()
    return out, last


def test_keys_add_prints_the_key_last_and_that_key_is_its_holders(db: str):
    out, key = added(db, "feeder", "x")
    assert out.splitlines()[0].startswith("key 1 (feeder, x)")
    store = Store(db)
    try:
        caller = caller_of(store, key)
        assert caller is not None and (caller.key_id, caller.scope) == (1, Scope("feeder"))
        records = store.keys()
        assert [(k.id, k.name, k.scope, k.revoked) for k in records] == [(1, "x", "feeder", False)]
    finally:
        store.close()


def test_keys_list_shows_each_key_but_never_the_key(db: str):
    _, first = added(db, "admin")
    _, second = added(db, "account:alice", "alice's app")
    assert run("keys", "revoke", "--db", db, "--id", "1")[0] == 0
    code, out, err = run("keys", "list", "--db", db)
    assert code == 0 and err == ""
    assert out.splitlines() == ["1\tadmin\t\trevoked", "2\taccount:alice\talice's app\tlive"]
    for key in (first, second):
        assert key not in out and key[3:] not in out and digest_of(key) not in out


def test_keys_revoke_makes_the_key_nobodys(db: str):
    _, key = added(db, "matcher")
    _, other = added(db, "matcher")
    code, out, _ = run("keys", "revoke", "--db", db, "--id", "1")
    assert code == 0 and out.strip() == "key 1 revoked"
    store = Store(db)
    try:
        assert caller_of(store, key) is None and caller_of(store, other) is not None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["keys", "add", "--scope", "root"], "--scope"),
        (["keys", "add", "--scope", "account:"], "--scope"),
        (["keys", "revoke", "--id", "7"], "--id"),  # no such key
        (["keys", "revoke", "--id", "abc"], "--id"),
        (["keys", "revoke", "--id", "0"], "--id"),
        (["keys", "list", "--db", "mysql://u@h/db"], "--db"),
        (["log", "--db", "mysql://u@h/db"], "--db"),
        (["keys", "add", "--scope", "admin", "--db", "postgresql://postgres@127.0.0.1:1/test"], "--db"),
    ],
)
def test_bad_keys_and_log_options_are_errors_naming_the_option(db: str, args: list[str], field: str):
    full = [*args, "--db", db] if "--db" not in args else args
    code, out, err = run(*full)
    assert (code, out) == (2, "") and err.startswith(f"error: {field}: "), err
    if "--db" not in args:
        assert run("keys", "list", "--db", db)[1] == ""  # no key was made


def test_log_prints_records_replay_takes_to_the_services_digest(db: str, tmp_path: Path):
    store = Store(db)
    host = BookHost.open(store, (EXAMPLE.name, EXAMPLE.read_text(encoding="utf-8")))
    quotes = (
        live.Quote(source="a", symbol="BTC", price=D(63000)),
        live.Quote(source="b", symbol="BTC", price=D(63010)),
    )
    inbound: list[live.InboundEvent] = [
        live.OpenAccount(seq=1, time=D(0), id="e1", account="new"),
        live.Deposit(seq=2, time=D(0), id="e2", account="new", asset="USDT", amount=D("1000.25")),
        live.Trade(seq=3, time=D(0), id="e3", buyer="new", seller="hedged", instrument="BTC-PERP", size=D(5),
                   price=D(64000)),
        live.Prices(seq=4, time=D(2), id="e4", quotes=quotes),  # liquidates near-liquidation
        live.Withdrawal(seq=5, time=D(2), id="e5", account="new", asset="USDT", amount=D(10**9)),  # refused
    ]  # fmt: skip

    def given(event: live.InboundEvent) -> Maker:
        return lambda seq, time: event

    async def apply() -> None:
        writer = asyncio.create_task(host.run())
        await asyncio.sleep(0)
        for event in inbound:
            await host.submit([given(event)])
        writer.cancel()

    asyncio.run(apply())
    digest = host.digest()
    store.close()
    code, out, err = run("log", "--db", db)
    assert code == 0 and err == ""
    # the withdrawal was refused before it reached the log (the account holds about 1000 USDT)
    assert [live.decode_inbound(line) for line in out.splitlines()] == inbound[:4]
    events = tmp_path / "events.jsonl"
    events.write_text(out, encoding="utf-8")
    code, replayed, err = run("replay", EXAMPLE, "--events", events, "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in replayed.splitlines()]
    assert any(line["event"] == "liquidation" and line["account"] == "near-liquidation" for line in lines)
    assert (lines[-1]["event"], lines[-1]["events"], lines[-1]["digest"]) == ("end", 4, digest)


def test_log_of_a_new_database_prints_nothing(db: str):
    assert run("log", "--db", db) == (0, "", "")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--port", "0"], "--port"),
        (["--port", "65536"], "--port"),
        (["--port", "http"], "--port"),
        (["--rate", "0"], "--rate"),
        (["--snapshot-every", "-1"], "--snapshot-every"),
        (["--history-points", "0"], "--history-points"),
        (["--history-points", "241"], "--history-points"),
        (["--new-key", "root"], "--new-key"),
        (["--db", "mysql://u@h/db"], "--db"),
        (["--db", "postgresql://postgres@127.0.0.1:1/test"], "--db"),
    ],
)
def test_serve_with_a_bad_option_is_an_error_naming_it(
    db: str, options: list[str], field: str, served: list[dict[str, Any]]
):
    args: list[str | Path] = ["serve", "--book", EXAMPLE, *options]
    code, out, err = run(*args, *([] if "--db" in options else ["--db", db]))
    assert (code, out) == (2, "") and err.startswith(f"error: {field}: "), err
    assert served == []


def test_serve_without_a_book_on_a_new_database_is_an_error_naming_book(db: str, served: list[dict[str, Any]]):
    code, out, err = run("serve", "--db", db)
    assert (code, out) == (2, "") and err.startswith("error: --book: "), err
    assert served == []


def test_serve_with_a_missing_book_file_names_the_file(db: str, tmp_path: Path, served: list[dict[str, Any]]):
    missing = tmp_path / "nowhere.yaml"
    code, out, err = run("serve", "--book", missing, "--db", db)
    assert (code, out) == (2, "") and err.startswith(f"error: {missing}: "), err
    assert served == []


def test_serve_starts_a_new_database_prints_the_key_and_resumes_without_book(
    db: str, tmp_path: Path, served: list[dict[str, Any]]
):
    code, out, err = run("serve", "--book", EXAMPLE, "--db", db, "--port", "8123", "--new-key", "admin")
    assert code == 0, err
    lines = out.splitlines()
    # the example holds four accounts
    assert lines[0] == "crossmargin serving 4 accounts on http://127.0.0.1:8123"
    assert lines[1] == f"database {db}, 0 events applied"
    assert lines[2].startswith("new admin key: cm_")
    key = lines[2].removeprefix("new admin key: ")
    assert [(call["host"], call["port"]) for call in served] == [("127.0.0.1", 8123)]
    store = Store(db)
    try:
        caller = caller_of(store, key)
        assert caller is not None and caller.scope == Scope("admin")
        assert store.book() == (EXAMPLE.name, EXAMPLE.read_text(encoding="utf-8"))
    finally:
        store.close()
    # restarted without --book: the same database resumes; another book on it is refused
    code, out, err = run("serve", "--db", db, "--port", "8124")
    assert code == 0 and out.splitlines()[1] == f"database {db}, 0 events applied", err
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text(encoding="utf-8").replace("insurance_fund: 25000", "insurance_fund: 1"))
    code, out, err = run("serve", "--book", other, "--db", db)
    assert (code, out) == (2, "") and err.startswith("error: --book: "), err
    assert len(served) == 2


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    with fresh_schema() as schema:
        yield schema


def test_serve_does_not_print_a_password_given_in_db(postgres_schema: str, served: list[dict[str, Any]]):
    # the server trusts loopback: any password connects, and none may be printed
    url = postgres_schema_url(postgres_schema).replace("postgres@", "postgres:hunter2@")
    code, out, err = run("serve", "--book", EXAMPLE, "--db", url)
    assert code == 0, err
    assert "hunter2" not in out and "postgres:***@127.0.0.1" in out.splitlines()[1]
    assert len(served) == 1
