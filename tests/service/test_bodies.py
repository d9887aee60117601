"""Request bodies, read exactly and refused as the CLI refuses the same input: the field named (``amount``,
``[1].price``) and the CLI's words (those of :func:`~crossmargin.model.numbers.bounded`, and of the feed
reader of ``crossmargin replay --feed`` for the same line); over the API, a 422 that applies nothing."""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.model import InputError
from crossmargin.model.numbers import bounded
from crossmargin.service import bodies
from tests.service.api_support import BOOK, Served, serving

LINE = {"t": 1, "source": "binance", "symbol": "BTC", "price": 64000}

TRADE_FEE_TOO_BIG = b'{"buyer": "a", "seller": "b", "instrument": "X", "size": 1, "price": 1, "buyer_fee": 1e99}'
TOO_PRECISE = "1." + "2345678901" * 5 + "23"  # 53 significant digits; the exact context holds 50
# (the bad value as JSON text, as the CLI's Decimal): out of range both ways, too many digits.
BAD_NUMBERS = [(text, Decimal(text)) for text in ("1E-999", "1E+999", "1e30", TOO_PRECISE)]


def _refusal(call: object, *args: object) -> tuple[str, str]:
    with pytest.raises(InputError) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value.field, refused.value.message


def _bounded_message(value: Decimal, field: str) -> tuple[str, str]:
    return _refusal(bounded, value, field)


def _cli_feed_error(tmp_path: Path, raw_line: str) -> str:
    """What ``crossmargin replay BOOK --feed FEED`` says of a one-line feed (the part after the file name)."""
    from typer.testing import CliRunner

    from crossmargin.cli.main import app

    feed = tmp_path / "feed.jsonl"
    feed.write_text(raw_line + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", str(BOOK), "--feed", str(feed), "--json"])
    assert result.exit_code != 0
    prefix = f"error: {feed}:1."
    (message,) = [line for line in result.output.splitlines() if line.startswith(prefix)]
    return message.removeprefix(prefix)


# ------------------------------------------------------------------ reading, exactly


def test_numbers_are_read_exactly_from_json_numbers_or_strings() -> None:
    money = bodies.read_body(bodies.MoneyBody, b'{"asset": "USDT", "amount": 0.1}')
    assert money.amount == Decimal("0.1") and str(money.amount) == "0.1"  # not 0.1000000000000000055...
    assert bodies.read_body(bodies.MoneyBody, b'{"asset": "USDT", "amount": "1234.5678"}').amount == Decimal(
        "1234.5678"
    )
    assert bodies.read_body(bodies.MoneyBody, b'{"asset": "USDT", "amount": 1E-30}').amount == Decimal("1E-30")
    digits = "1." + "2" * 49  # 50 significant digits: the most held exactly
    assert bodies.read_body(bodies.MoneyBody, f'{{"asset": "USDT", "amount": {digits}}}'.encode()).amount == Decimal(
        digits
    )


def test_minus_zero_is_read_as_zero_as_the_cli_reads_it() -> None:
    (line,) = bodies.read_lines(b'[{"t": "-0", "source": "s", "symbol": "BTC", "price": 1}]')
    assert str(line.t) == str(bounded(Decimal("-0"), "t")) == "0"


def test_a_price_line_reads_as_the_feed_line() -> None:
    (line,) = bodies.read_lines(json.dumps([{**LINE, "confidence": "12.5"}]).encode())
    assert (line.t, line.source, line.symbol, line.price, line.confidence) == (
        Decimal(1),
        "binance",
        "BTC",
        Decimal(64000),
        Decimal("12.5"),
    )


# ------------------------------------------------------------------ refusals name the field, in the CLI's words


@pytest.mark.parametrize(("text", "value"), BAD_NUMBERS)
def test_a_bad_number_is_refused_with_bounded_words(text: str, value: Decimal) -> None:
    raw = f'{{"asset": "USDT", "amount": {text}}}'.encode()
    assert _refusal(bodies.read_body, bodies.MoneyBody, raw) == _bounded_message(value, "amount")
    as_string = f'{{"asset": "USDT", "amount": "{text}"}}'.encode()
    assert _refusal(bodies.read_body, bodies.MoneyBody, as_string) == _bounded_message(value, "amount")


@pytest.mark.parametrize(("text", "value"), BAD_NUMBERS)
def test_a_bad_price_line_names_its_place_with_the_feed_readers_words(
    text: str, value: Decimal, tmp_path: Path
) -> None:
    good = json.dumps(LINE)
    bad = good.replace("64000", text)
    field, message = _refusal(bodies.read_lines, f"[{good}, {good}, {bad}]".encode())
    assert (field, message) == _bounded_message(value, "[2].price")
    assert _cli_feed_error(tmp_path, bad) == f"price: {message}"  # the CLI says the same of the same line


def test_a_control_character_is_refused_as_the_feed_reader_refuses_it(tmp_path: Path) -> None:
    bad = json.dumps({**LINE, "source": "bin\x01ance"})
    field, message = _refusal(bodies.read_lines, f"[{bad}]".encode())
    assert field == "[0].source"
    assert _cli_feed_error(tmp_path, bad) == f"source: {message}"
    assert _refusal(bodies.read_body, bodies.MoneyBody, b'{"asset": "US\\u0000DT", "amount": 1}')[0] == "asset"


def test_an_uploaded_document_keeps_its_lines_but_no_other_control_character() -> None:
    text = "name: flat\nsteps: 2\n\tdt: 1\r\n"
    assert bodies.read_body(bodies.StressBody, json.dumps({"yaml": text}).encode()).yaml == text
    # the NUL is on the third line (after two line breaks); the message names the line, not the whole text
    field, message = _refusal(bodies.read_body, bodies.StressBody, json.dumps({"yaml": "a: 1\nb: 2\nc\u0000"}).encode())
    assert (field, message) == ("yaml", "line 3 holds a control character '\\x00'")
    assert _refusal(bodies.read_body, bodies.StressBody, b'{"scenario": "flash\\ncrash"}')[0] == "scenario"


@pytest.mark.parametrize(
    ("kind", "raw", "field"),
    [
        (bodies.MoneyBody, b'{"asset": "USDT"}', "amount"),
        (bodies.MoneyBody, b'{"asset": "USDT", "amount": "abc"}', "amount"),
        (bodies.MoneyBody, b'{"asset": "USDT", "amount": "NaN"}', "amount"),
        (bodies.MoneyBody, b'{"asset": "USDT", "amount": true}', "amount"),
        (bodies.MoneyBody, b'{"asset": "", "amount": 1}', "asset"),
        (bodies.MoneyBody, b'{"asset": "USDT", "amount": 1, "memo": "x"}', "memo"),
        (bodies.MoneyBody, b'{"asset": "USDT", "amount": 1, "amount": 2}', "body"),
        (bodies.MoneyBody, b"[1]", "body"),
        (bodies.MoneyBody, b"\xff", "body"),
        (bodies.MoneyBody, b"", "body"),
        (bodies.TradeBody, b'{"buyer": "a", "seller": "b", "instrument": "X", "size": 1}', "price"),
        (bodies.TradeBody, TRADE_FEE_TOO_BIG, "buyer_fee"),
        (bodies.OpenAccountBody, b'{"id": "' + b"x" * 129 + b'"}', "id"),
    ],
)  # fmt: skip
def test_a_bad_body_names_its_field(kind: type[bodies.Body], raw: bytes, field: str) -> None:
    assert _refusal(bodies.read_body, kind, raw)[0] == field


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[]", "body"),
        (b"{}", "body"),
        (b"[1]", "[0]"),
        (
            b'[{"t": 1, "source": "s", "symbol": "BTC", "price": 1}, {"t": 1, "source": "s", "symbol": "BTC"}]',
            "[1].price",
        ),
        (b'[{"t": 1, "source": "s", "symbol": "BTC", "price": 1, "confidence": "1e-999"}]', "[0].confidence"),
    ],
)
def test_a_bad_list_of_price_lines_names_its_place(raw: bytes, field: str) -> None:
    assert _refusal(bodies.read_lines, raw)[0] == field


def test_a_request_takes_at_most_max_lines() -> None:
    assert len(bodies.read_lines(json.dumps([LINE] * bodies.MAX_LINES).encode())) == bodies.MAX_LINES
    field, message = _refusal(bodies.read_lines, json.dumps([LINE] * (bodies.MAX_LINES + 1)).encode())
    assert field == "body" and f"at most {bodies.MAX_LINES:,}" in message


def test_the_openapi_request_bodies_are_the_body_models() -> None:
    listed = bodies.schema_of(bodies.PriceLine, listed=True)["requestBody"]
    assert listed["required"] is True
    schema = listed["content"]["application/json"]["schema"]
    assert (schema["type"], schema["minItems"], schema["maxItems"]) == ("array", 1, bodies.MAX_LINES)
    assert set(schema["items"]["required"]) == {"t", "source", "symbol", "price"}
    money = bodies.schema_of(bodies.MoneyBody)["requestBody"]["content"]["application/json"]["schema"]
    assert money["additionalProperties"] is False and set(money["required"]) == {"asset", "amount"}


# ------------------------------------------------------------------ over the API: 422, nothing applied


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serving(database_url) as service:
        yield service


def test_the_api_refuses_bad_input_with_the_field_and_the_clis_words(served: Served) -> None:
    admin = served.auth("admin")
    before = served.fingerprint()
    lines = [LINE, {**LINE, "price": "1E-999"}]
    answer = served.client.post("/v1/prices", json=lines, headers=admin)
    field, message = _bounded_message(Decimal("1E-999"), "[1].price")
    assert (answer.status_code, answer.json()) == (422, {"error": {"field": field, "message": message}})
    answer = served.client.post("/v1/accounts/hedged/deposits", json={"asset": "USDT", "amount": "1e99"}, headers=admin)
    field, message = _bounded_message(Decimal("1e99"), "amount")
    assert (answer.status_code, answer.json()) == (422, {"error": {"field": field, "message": message}})
    refusals = [
        ("/v1/prices", [{**LINE, "symbol": "DOGE"}], "[0].symbol"),
        ("/v1/prices", [LINE, {**LINE, "t": -1}], "[1].t"),
        ("/v1/clock", {"t": -1}, "t"),
        ("/v1/trades", {"buyer": "diversified", "seller": "hedged", "instrument": "BTC-PERP", "size": "x", "price": 1},
         "size"),
        ("/v1/accounts/hedged/withdrawals", {"asset": "USDT"}, "amount"),
        ("/v1/accounts/hedged/order-check", {"instrument": "BTC-PERP", "size": 1}, "price"),
        ("/v1/accounts/hedged/max-withdrawal", {}, "asset"),
        ("/v1/accounts", {"id": "a\tb"}, "id"),
        ("/v1/parameters", {"depth": "deep"}, "depth"),
        ("/v1/funding", {"instrument": "BTC-PERP"}, "rate"),
    ]  # fmt: skip
    for path, body, field in refusals:
        answer = served.client.post(path, json=body, headers=admin)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"]["field"] == field, (path, answer.text)
        assert "seq" not in answer.json()  # refused before the engine: nothing logged
    too_long = served.client.post(
        "/v1/accounts/hedged/deposits",
        json={"asset": "USDT", "amount": 1},
        headers={**admin, "Idempotency-Key": "k" * 129},
    )
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "idempotency-key"
    assert served.fingerprint() == before  # nothing applied, nothing logged


def test_a_line_the_engine_would_refuse_is_refused_before_any_line_is_applied(served: Served, tmp_path: Path) -> None:
    # The first line is good and the second is not: the request is refused whole, naming the second line in
    # the feed reader's words, and the first is not applied either (it would move BTC: it is not a duplicate).
    before = served.fingerprint()
    for bad, field in (({"price": -1}, "price"), ({"price": 0}, "price"), ({"confidence": -1}, "confidence")):
        lines = [{**LINE, "price": 63000}, {**LINE, "source": "kraken", **bad}]
        answer = served.client.post("/v1/prices", json=lines, headers=served.auth("feeder"))
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["field"] == f"[1].{field}"
        assert _cli_feed_error(tmp_path, json.dumps(lines[1])) == f"{field}: {error['message']}"
        assert served.fingerprint() == before


def test_the_openapi_document_carries_every_request_body(served: Served) -> None:
    document = served.client.get("/openapi.json").json()
    posts = {path: item["post"] for path, item in document["paths"].items() if "post" in item}
    assert set(posts) == {
        "/v1/accounts", "/v1/accounts/{account_id}/order-check", "/v1/accounts/{account_id}/max-withdrawal",
        "/v1/accounts/{account_id}/deposits", "/v1/accounts/{account_id}/withdrawals", "/v1/trades", "/v1/prices",
        "/v1/clock", "/v1/parameters", "/v1/funding", "/v1/stress",
    }  # fmt: skip
    for path, operation in posts.items():
        assert operation["requestBody"]["required"] is True, path
    prices = posts["/v1/prices"]["requestBody"]["content"]["application/json"]["schema"]
    assert prices["type"] == "array" and prices["items"]["title"] == "PriceLine"
