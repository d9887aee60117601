"""The access-control matrix: every endpoint and every stream topic, for every scope and for no key, a wrong
key and a revoked key, on SQLite and on the real PostgreSQL.

The rules (keys.py's module doc, api.py's handlers): ``admin`` may do everything; ``feeder`` posts prices
and moves the clock, and follows ``prices``; ``matcher`` posts trades; ``account:<id>`` reads that account,
asks its what-if questions, deposits to and withdraws from it and follows its topic. ``/v1/health`` needs
no key. Any other request is refused: 401 without a live key (none, unknown, revoked), 403 with a key whose
scope does not allow it; on the stream the socket closes with 4000 + that status. A refused request changes
nothing: the health answer (events, digest), the clearing state's digest and every account are as before.

The endpoints below act on account ``hedged``: "own" is a key of scope ``account:hedged``, "other" one of
``account:diversified``.
"""

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from crossmargin.service.keys import add_key
from tests.service.api_support import Served, closed_with, receive, serving

SCOPES = ("admin", "feeder", "matcher", "own", "other")
KEYLESS = ("no key", "wrong key", "revoked key")
SCOPE_OF = {
    "admin": "admin",
    "feeder": "feeder",
    "matcher": "matcher",
    "own": "account:hedged",
    "other": "account:diversified",
}
Y, N = True, False

#  method, path                                       admin  feeder matcher own   other
ALLOWED: dict[tuple[str, str], tuple[bool, ...]] = {
    ("GET", "/v1/health"):                              (Y,    Y,     Y,      Y,    Y),  # and with no live key
    ("GET", "/v1/accounts/{account_id}"):               (Y,    N,     N,      Y,    N),
    ("GET", "/v1/accounts"):                            (Y,    N,     N,      N,    N),
    ("GET", "/v1/book"):                                (Y,    N,     N,      N,    N),
    ("POST", "/v1/accounts/{account_id}/order-check"):  (Y,    N,     N,      Y,    N),
    ("POST", "/v1/accounts/{account_id}/max-withdrawal"): (Y,  N,     N,      Y,    N),
    ("POST", "/v1/accounts"):                           (Y,    N,     N,      N,    N),
    ("POST", "/v1/accounts/{account_id}/deposits"):     (Y,    N,     N,      Y,    N),
    ("POST", "/v1/accounts/{account_id}/withdrawals"):  (Y,    N,     N,      Y,    N),
    ("POST", "/v1/trades"):                             (Y,    N,     Y,      N,    N),
    ("POST", "/v1/prices"):                             (Y,    Y,     N,      N,    N),
    ("POST", "/v1/clock"):                              (Y,    Y,     N,      N,    N),
    ("POST", "/v1/parameters"):                         (Y,    N,     N,      N,    N),
    ("POST", "/v1/funding"):                            (Y,    N,     N,      N,    N),
    ("GET", "/v1/accounts/{account_id}/history"):       (Y,    N,     N,      Y,    N),
    ("GET", "/v1/liquidation-map/{instrument}"):        (Y,    N,     N,      N,    N),
    ("GET", "/v1/oracle"):                              (Y,    Y,     Y,      Y,    Y),
    ("GET", "/v1/stress/scenarios"):                    (Y,    N,     N,      N,    N),
    ("POST", "/v1/stress"):                             (Y,    N,     N,      N,    N),
    ("GET", "/v1/stress"):                              (Y,    N,     N,      N,    N),
    ("GET", "/v1/stress/{run_id}"):                     (Y,    N,     N,      N,    N),
    ("GET", "/v1/stress/{run_id}/report"):              (Y,    N,     N,      N,    N),
    ("GET", "/v1/stress/{run_id}/summary"):             (Y,    N,     N,      N,    N),
    ("GET", "/v1/agents"):                              (Y,    N,     N,      N,    N),
}  # fmt: skip

#  topic                admin  feeder matcher own   other
TOPICS: dict[str, tuple[bool, ...]] = {
    "account:hedged":   (Y,    N,     N,      Y,    N),
    "liquidations":     (Y,    N,     N,      N,    N),
    "prices":           (Y,    Y,     N,      N,    N),
    "book":             (Y,    N,     N,      N,    N),
    "agents":           (Y,    N,     N,      N,    N),
}  # fmt: skip

_opened = itertools.count()

# A valid body for each write and question, small enough that every allowed request is applied (200).
BODIES: dict[tuple[str, str], Callable[[], Any]] = {
    ("POST", "/v1/accounts/{account_id}/order-check"): lambda: {
        "instrument": "BTC-PERP",
        "size": "1",
        "price": "64000",
    },
    ("POST", "/v1/accounts/{account_id}/max-withdrawal"): lambda: {"asset": "USDT"},
    ("POST", "/v1/accounts"): lambda: {"id": f"opened-{next(_opened)}"},
    ("POST", "/v1/accounts/{account_id}/deposits"): lambda: {"asset": "USDT", "amount": "1"},
    ("POST", "/v1/accounts/{account_id}/withdrawals"): lambda: {"asset": "USDT", "amount": "1"},
    ("POST", "/v1/trades"): lambda: {
        "buyer": "diversified",
        "seller": "hedged",
        "instrument": "BTC-PERP",
        "size": "1",
        "price": "64000",
    },
    ("POST", "/v1/prices"): lambda: [{"t": 1, "source": "binance", "symbol": "BTC", "price": 64000}],
    ("POST", "/v1/clock"): lambda: {"t": 1},
    ("POST", "/v1/parameters"): lambda: {"depth": "1"},
    ("POST", "/v1/funding"): lambda: {"instrument": "BTC-PERP", "rate": "0.0001"},
    ("POST", "/v1/stress"): lambda: {"scenario": "october-2025", "seed": 1},
}


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serving(database_url) as service:
        yield service


def _keys(served: Served) -> dict[str, str | None]:
    """Each caller's key: a live key of each scope, none, a key never made, and a revoked admin key."""
    revoked_id, revoked = add_key(served.store, "admin", "revoked")
    served.store.revoke_key(revoked_id)
    keys: dict[str, str | None] = {name: served.key(SCOPE_OF[name]) for name in SCOPES}
    return {**keys, "no key": None, "wrong key": "cm_" + "A" * 43, "revoked key": revoked}


def _expected(allowed: tuple[bool, ...], caller: str, public: bool = False) -> int | None:
    """None if the caller may; else the refusal's status."""
    if caller in KEYLESS:
        return None if public else 401
    return None if allowed[SCOPES.index(caller)] else 403


def test_the_table_covers_every_endpoint_and_topic(served: Served) -> None:
    routes = served.client.app.routes  # type: ignore[attr-defined]
    endpoints = {
        (m, r.path) for r in routes if isinstance(r, APIRoute) and r.path.startswith("/v1/") for m in r.methods or ()
    }
    assert endpoints == set(ALLOWED)
    assert [r.path for r in routes if isinstance(r, APIWebSocketRoute)] == ["/v1/stream"]
    assert {t.split(":")[0] for t in TOPICS} == {"account", "liquidations", "prices", "book", "agents"}


def _finished_run(served: Served) -> str:
    """A stress run started by an admin and done (its report and summary can be read)."""
    started = served.client.post("/v1/stress", json={"scenario": "october-2025"}, headers=served.auth("admin"))
    assert started.status_code == 200, started.text
    run_id: str = started.json()["id"]
    deadline = time.monotonic() + 120
    while served.client.get(f"/v1/stress/{run_id}", headers=served.auth("admin")).json()["state"] != "done":
        assert time.monotonic() < deadline, "the stress run did not finish"
        time.sleep(0.1)
    return run_id


def test_every_endpoint_for_every_caller(served: Served) -> None:
    keys = _keys(served)
    run_id = _finished_run(served)
    wrong: list[str] = []
    for (method, path), allowed in ALLOWED.items():
        for caller, key in keys.items():
            expected = _expected(allowed, caller, public=path == "/v1/health")
            before = served.fingerprint()
            headers = {} if key is None else {"Authorization": f"Bearer {key}"}
            body = BODIES.get((method, path))
            url = path.replace("{account_id}", "hedged").replace("{instrument}", "BTC-PERP").replace("{run_id}", run_id)
            answer = served.client.request(method, url, headers=headers, json=None if body is None else body())
            label = f"{method} {path} as {caller}: {answer.status_code} {answer.text[:200]}"
            if expected is None:
                if answer.status_code != 200:
                    wrong.append(f"{label}, expected 200")
                continue
            if answer.status_code != expected:
                wrong.append(f"{label}, expected {expected}")
                continue
            error = answer.json()["error"]
            if error["field"] != "authorization":
                wrong.append(f"{label}: the refusal names {error['field']!r}")
            if expected == 401 and answer.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{label}: no WWW-Authenticate: Bearer")
            if served.fingerprint() != before:
                wrong.append(f"{label}: the refused request changed the book")
    assert not wrong, "\n".join(wrong)


def test_every_topic_for_every_caller(served: Served) -> None:
    keys = _keys(served)
    wrong: list[str] = []
    for topic, allowed in TOPICS.items():
        for caller, key in keys.items():
            expected = _expected(allowed, caller)
            before = served.fingerprint()
            url = f"/v1/stream?topic={topic}" + ("" if key is None else f"&key={key}")
            with served.client.websocket_connect(url) as socket:
                if expected is None:
                    first = receive(socket)
                    if first != {"event": "subscribed", "topics": [topic], "events": before[0]["events"]}:
                        wrong.append(f"{topic} as {caller}: {first}, expected the subscription")
                    continue
                messages, code = closed_with(socket)
            if code != 4000 + expected:
                wrong.append(f"{topic} as {caller}: closed {code}, expected {4000 + expected}")
            if [m["error"]["field"] for m in messages] != ["authorization"]:
                wrong.append(f"{topic} as {caller}: {messages}")
            if served.fingerprint() != before:
                wrong.append(f"{topic} as {caller}: the refused subscription changed the book")
    assert not wrong, "\n".join(wrong)


def test_the_stream_takes_the_key_in_the_authorization_header(served: Served) -> None:
    with served.client.websocket_connect("/v1/stream?topic=prices", headers=served.auth("feeder")) as socket:
        assert receive(socket)["event"] == "subscribed"
    with served.client.websocket_connect("/v1/stream?topic=book", headers=served.auth("feeder")) as socket:
        assert closed_with(socket)[1] == 4403


def test_a_key_revoked_while_in_use_is_refused_from_its_next_request(served: Served) -> None:
    key_id, key = add_key(served.store, "account:hedged")
    headers = {"Authorization": f"Bearer {key}"}
    assert served.client.get("/v1/accounts/hedged", headers=headers).status_code == 200
    served.store.revoke_key(key_id)
    before = served.fingerprint()
    answer = served.client.post("/v1/accounts/hedged/deposits", json={"asset": "USDT", "amount": "1"}, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": {"field": "authorization", "message": "unknown or revoked key"}}
    assert served.fingerprint() == before


def test_a_refused_scope_does_not_learn_whether_an_account_exists(served: Served) -> None:
    other = served.auth("account:diversified")
    for account_id in ("hedged", "nobody"):
        assert served.client.get(f"/v1/accounts/{account_id}", headers=other).status_code == 403
    assert served.client.get("/v1/accounts/nobody", headers=served.auth("admin")).status_code == 404
