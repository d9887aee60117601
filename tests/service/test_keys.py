"""API keys on SQLite and on the real PostgreSQL: a key is stored by its SHA-256 only (no column of the table
holds it; the digest checked with hashlib, a second method), it names its holder's id and scope, a revoked or
unknown key is nobody; scopes parse as documented and anything else is refused naming ``--scope``."""

import hashlib
import re

import pytest
import sqlalchemy as sa

from crossmargin.model import InputError
from crossmargin.service.keys import PREFIX, Caller, Scope, add_key, caller_of, digest_of
from crossmargin.service.schema import api_keys
from crossmargin.service.store import KeyRecord, Store


@pytest.fixture
def store(database_url: str):
    opened = Store(database_url)
    yield opened
    opened.close()


def test_a_key_is_stored_by_its_sha256_only(store: Store):
    key_id, key = add_key(store, "feeder", "prices bot")
    # cm_ and 43 URL-safe characters: 32 random bytes in unpadded base64 (ceil(32 x 8 / 6) = 43)
    assert re.fullmatch(r"cm_[A-Za-z0-9_-]{43}", key) and key.startswith(PREFIX)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(api_keys)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == key_id and (row["name"], row["scope"], row["revoked"]) == ("prices bot", "feeder", None)
    assert row["digest"] == hashlib.sha256(key.encode("ascii")).hexdigest() == digest_of(key)
    # no column holds the key, nor the part after its prefix
    assert not any(key[len(PREFIX) :] in str(value) for value in row.values())


def test_two_keys_differ_and_each_names_its_holder(store: Store):
    first_id, first = add_key(store, "admin")
    second_id, second = add_key(store, "account:alice", "alice")
    assert first != second and first_id != second_id
    assert caller_of(store, first) == Caller(first_id, Scope("admin"))
    assert caller_of(store, second) == Caller(second_id, Scope("account", "alice"))
    assert store.keys() == [
        KeyRecord(first_id, "", "admin", False),
        KeyRecord(second_id, "alice", "account:alice", False),
    ]


def test_a_revoked_key_and_an_unknown_key_are_nobody(store: Store):
    key_id, key = add_key(store, "matcher")
    _, other = add_key(store, "matcher")
    store.revoke_key(key_id)
    assert caller_of(store, key) is None
    assert store.key_by_digest(digest_of(key)) == KeyRecord(key_id, "", "matcher", True)
    assert caller_of(store, other) is not None  # revoking one key leaves the others live
    assert caller_of(store, PREFIX + "x" * 43) is None and caller_of(store, "") is None
    # the digest of a live key with one character changed is another digest: nobody
    assert caller_of(store, other[:-1] + ("A" if other[-1] != "A" else "B")) is None


def test_revoking_an_unknown_id_is_refused_naming_id(store: Store):
    with pytest.raises(InputError) as caught:
        store.revoke_key(999)
    assert caught.value.field == "--id"


@pytest.mark.parametrize(
    ("text", "scope", "shown"),
    [
        ("admin", Scope("admin"), "admin"),
        ("feeder", Scope("feeder"), "feeder"),
        ("matcher", Scope("matcher"), "matcher"),
        ("account:alice", Scope("account", "alice"), "account:alice"),
        ("account:a:b", Scope("account", "a:b"), "account:a:b"),
        ("account:" + "x" * 200, Scope("account", "x" * 200), "account:" + "x" * 200),  # documents allow it
    ],
)
def test_scopes_parse_as_documented(text: str, scope: Scope, shown: str):
    assert Scope.parse(text) == scope and str(scope) == shown


@pytest.mark.parametrize(
    "text", ["", "root", "Admin", " admin", "account:", "account", "accounts:alice", "account:a\nb", "account:\x00"]
)
def test_anything_else_is_refused_naming_scope(text: str, database_url: str):
    with pytest.raises(InputError) as caught:
        Scope.parse(text)
    assert caught.value.field == "--scope"
    store = Store(database_url)
    try:
        with pytest.raises(InputError) as caught:
            add_key(store, text)
        assert caught.value.field == "--scope" and store.keys() == []  # nothing stored
    finally:
        store.close()


def test_what_a_scope_reads():
    assert Scope("admin").reads("anyone")
    assert Scope("account", "alice").reads("alice") and not Scope("account", "alice").reads("bob")
    assert not Scope("feeder").reads("alice") and not Scope("matcher").reads("alice")
