"""Property-based fuzzing of the API from the OpenAPI document it serves (schemathesis generates each
operation's requests from ``/openapi.json``; an admin key in the header), against the real app with its
writer running, on SQLite and PostgreSQL.

What must hold for every request:

- no 5xx (the test client re-raises an unhandled error, which fails the example too);
- every 4xx is ``{"error": {"field", "message"}}`` and applies nothing: ``/v1/health``'s events and
  digest and the clearing state's digest are as before it (a refusal is not logged: no ``seq`` in it);
- a 2xx is JSON.

Schemathesis draws names and numbers from the schema alone (random text rarely names an account of the
book), so a third of the examples have some of their account, asset, instrument, symbol and source fields,
and of their numbers, replaced by the book's names and decimals, and a third all of them, by values a
request is likely to be applied with: those reach the engine, which must refuse or apply them whole. The
rest are as generated, including invalid (negative-mode) requests.
"""

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.service.api_support import ACCOUNTS, Served, serving

EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 10}
"""Examples per operation and mode. Derandomized: the same examples every run (no flaky run), new ones as the
schema or the code change."""
NAMES: dict[str, list[str]] = {
    "asset": ["USDT", "USDC", "BTC", "ETH"],
    "instrument": ["BTC-PERP", "ETH-PERP", "BTCUSD-PERP", "BTC-0328"],
    "symbol": ["BTC", "ETH", "USDC", "USDT", "BTC-PERP", "ETH-PERP", "BTC-0328"],
    "source": ["binance", "coinbase", "kraken"],
    "buyer": list(ACCOUNTS),
    "seller": list(ACCOUNTS),
    "id": [*ACCOUNTS, "fuzzed"],
    "scenario": ["october-2025", "flash-crash"],
}
NUMBERS = ("amount", "size", "price", "t", "rate", "depth", "confidence", "buyer_fee", "seller_fee")
DECIMALS = st.decimals(min_value=-100_000, max_value=100_000, places=3, allow_nan=False, allow_infinity=False)


def _between(low: str, high: str) -> st.SearchStrategy[str]:
    return st.decimals(min_value=low, max_value=high, places=3).map(str)


LIKELY: dict[str, st.SearchStrategy[Any]] = {
    # A perpetual near its mark (3200), money in the asset every account holds, accounts with free collateral.
    "asset": st.just("USDT"), "instrument": st.just("ETH-PERP"), "symbol": st.just("ETH"),
    "source": st.sampled_from(NAMES["source"]), "buyer": st.just("diversified"), "seller": st.just("coin-and-isolated"),
    "id": st.integers(0, 10**9).map(lambda n: f"fuzzed-{n}"), "amount": _between("0.001", "100"),
    "size": _between("0.001", "10"), "price": _between("3100", "3300"),
    "rate": _between("-0.001", "0.001"), "depth": _between("0.1", "10"), "confidence": _between("0", "10"),
    "buyer_fee": _between("0", "1"), "seller_fee": _between("0", "1"), "scenario": st.just("october-2025"),
}  # fmt: skip
OPERATIONS = {
    "GET /v1/health", "GET /v1/accounts/{account_id}", "GET /v1/accounts", "GET /v1/book",
    "POST /v1/accounts/{account_id}/order-check", "POST /v1/accounts/{account_id}/max-withdrawal",
    "POST /v1/accounts", "POST /v1/accounts/{account_id}/deposits", "POST /v1/accounts/{account_id}/withdrawals",
    "POST /v1/trades", "POST /v1/prices", "POST /v1/clock", "POST /v1/parameters", "POST /v1/funding",
    "GET /v1/accounts/{account_id}/history", "GET /v1/liquidation-map/{instrument}", "GET /v1/oracle",
    "GET /v1/stress/scenarios", "POST /v1/stress", "GET /v1/stress", "GET /v1/stress/{run_id}",
    "GET /v1/stress/{run_id}/report", "GET /v1/stress/{run_id}/summary", "GET /v1/agents",
}  # fmt: skip


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serving(database_url) as service:
        yield service


def _steered(data: st.DataObject, value: Any, every: bool, clock: Decimal) -> Any:
    """A generated body with the book's names and small decimals in place of some of its fields; ``every``:
    all of them, with values a request is likely to be applied with (:data:`LIKELY`; a time at or after
    the feed's ``clock``)."""
    if isinstance(value, list):
        return [_steered(data, item, every, clock) for item in value]
    if not isinstance(value, dict):
        return value
    fields = dict(value)
    for name in fields:
        if every and name == "t":
            fields[name] = str(clock + data.draw(st.decimals(0, 100, places=3)))
        elif every and name in LIKELY:
            fields[name] = data.draw(LIKELY[name])
        elif name in NAMES and data.draw(st.booleans()):
            fields[name] = data.draw(st.sampled_from(NAMES[name]))
        elif name in NUMBERS and data.draw(st.booleans()):
            fields[name] = str(data.draw(DECIMALS))
    return fields


def _send(served: Served, case: schemathesis.Case[Any]) -> Any:
    admin = served.auth("admin")
    case.headers.pop("authorization", None)  # a case-insensitive mapping: any spelling
    request = case.as_transport_kwargs(base_url="http://testserver", headers=admin)
    headers = {k: v for k, v in request["headers"].items() if k.lower() != "content-length"}
    if "json" in request:
        content: Any = json.dumps(request["json"]).encode()  # as sent: NaN and all
    else:
        content = request.get("data")
    try:
        return served.client.request(
            request["method"], request["url"], params=request.get("params"), headers=headers, content=content
        )
    except UnicodeEncodeError:  # a header httpx cannot write: nothing was sent
        reject()


Snapshot = tuple[dict[str, Any], str]
"""The health answer and the clearing state's digest."""


def _check(before: Snapshot, after: Snapshot, answer: Any) -> None:
    """``answer`` and the (health, clearing state digest) before and after it hold to the module doc."""
    status = answer.status_code
    assert status < 500, answer.text
    body = answer.json()
    if status < 400:
        return
    assert set(body) <= {"error", "repeated"} and set(body["error"]) == {"field", "message"}, body
    assert after == before, f"{status} {body} changed the book: {before} -> {after}"


def _now(served: Served) -> Snapshot:
    return served.health(), served.host.loop.state.digest()


def _fuzz(
    served: Served, operation: Any, mode: GenerationMode, statuses: dict[str, set[int]], last: list[Snapshot]
) -> None:
    """Run ``operation``'s examples of ``mode``; ``last``: the snapshot after the previous example (nothing
    changes the book between two examples, so it is this one's before)."""

    @given(case=operation.as_strategy(mode), data=st.data())
    @settings(
        max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )  # fmt: skip
    def fuzz(case: schemathesis.Case[Any], data: st.DataObject) -> None:
        steer = data.draw(st.sampled_from(["as generated", "some fields", "every field"]))
        if steer != "as generated":
            if case.path_parameters and "account_id" in case.path_parameters:
                case.path_parameters["account_id"] = data.draw(st.sampled_from(ACCOUNTS))
            clock = served.host.loop.oracle.clock
            case.body = _steered(data, case.body, every=steer == "every field", clock=clock)
        if steer == "every field":
            case.headers.pop("idempotency-key", None)  # a key drawn before, for another request: refused
        answer = _send(served, case)
        statuses.setdefault(operation.label, set()).add(answer.status_code)
        before, last[0] = last[0], _now(served)
        _check(before, last[0], answer)

    fuzz()


def test_no_request_from_the_schema_breaks_the_service_or_half_applies(served: Served) -> None:
    schema = schemathesis.openapi.from_dict(served.client.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert {op.label for op in operations} == OPERATIONS
    statuses: dict[str, set[int]] = {}
    last = [_now(served)]
    for operation in operations:
        _fuzz(served, operation, GenerationMode.POSITIVE, statuses, last)
        if operation.method.upper() == "POST" or operation.path == "/v1/accounts":
            _fuzz(served, operation, GenerationMode.NEGATIVE, statuses, last)  # no input, no invalid form
    # The fuzzing reached past the input checks: every write was applied (200) at least once.
    writes = {label for label in OPERATIONS if label.startswith("POST")}
    assert {label for label in writes if 200 in statuses.get(label, ())} == writes, statuses
