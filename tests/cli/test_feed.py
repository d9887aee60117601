"""Reading a price feed: JSON lines of exact numbers, blank lines skipped, and every bad line, file or count
refused in one line naming the file, the line and the key; hostile feeds through ``crossmargin replay``, and
mutations of the shipped example feed (hypothesis)."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.cli.feed import MAX_UPDATES, read_feed
from crossmargin.cli.loading import load_document
from crossmargin.cli.main import replay_of
from crossmargin.model import InputError
from crossmargin.oracle.feed import SourceUpdate
from tests.builders import (
    FUZZ,
    HOSTILE_BOOK,
    LONG,
    OUT_OF_BOUNDS_JSON,
    TINY,
    Raw,
    as_json,
    assert_one_line,
    assert_refused,
    invoke,
    json_values,
    mutated_text,
    write,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FEED_LINE = '{"t": 1, "source": "a", "symbol": "BTC", "price": 20000}\n'


def test_each_line_is_one_update_with_exact_numbers(tmp_path: Path):
    text = (
        '{"t": 1, "source": "binance", "symbol": "BTC", "price": 20000.10}\n'
        "\n"
        "   \n"
        '{"t": 1.5, "source": "okx", "symbol": "BTC", "price": 0.1, "confidence": 0.005}\n'
        '{"t": 2, "source": "okx", "symbol": "ETH", "price": 1500, "confidence": null}\n'
    )
    updates = list(read_feed(write(tmp_path / "feed.jsonl", text)))
    assert updates == [
        SourceUpdate(t=Decimal(1), source="binance", symbol="BTC", price=Decimal("20000.10"), confidence=None),
        SourceUpdate(t=Decimal("1.5"), source="okx", symbol="BTC", price=Decimal("0.1"), confidence=Decimal("0.005")),
        SourceUpdate(t=Decimal(2), source="okx", symbol="ETH", price=Decimal(1500), confidence=None),
    ]
    assert str(updates[0].price) == "20000.10"  # the literal's own digits, never a float's


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ('{"source": "a", "symbol": "BTC", "price": 1}', "t", "must be a number, got None"),
        ('{"t": "1", "source": "a", "symbol": "BTC", "price": 1}', "t", "must be a number, got '1'"),
        ('{"t": 1, "source": 7, "symbol": "BTC", "price": 1}', "source", "must be a string, got 7"),
        ('{"t": 1, "source": "a", "symbol": "B\\nTC", "price": 1}', "symbol", "is not printable text"),
        ('{"t": 1, "source": "a", "symbol": "BTC", "price": 1, "confidence": false}', "confidence", "got False"),
    ],
)
def test_a_bad_value_is_named_by_file_line_and_key(tmp_path: Path, line: str, key: str, message: str):
    path = write(tmp_path / "feed.jsonl", FEED_LINE + line + "\n")
    with pytest.raises(InputError) as caught:
        list(read_feed(path))
    assert caught.value.field == f"{path}:2.{key}" and message in caught.value.message


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path):
    for path, message in ((tmp_path / "none.jsonl", "no such file"), (tmp_path, "is a directory, not a feed")):
        with pytest.raises(InputError) as caught:
            next(read_feed(path))
        assert (caught.value.field, caught.value.message) == (str(path), message)


@pytest.mark.parametrize(
    ("case", "feed", "field", "words"),
    [
        (
            "price 1e-999999999",
            FEED_LINE + f'{{"t": 2, "source": "a", "symbol": "BTC", "price": {TINY}}}\n',
            "{feed}:2.price",
            "at least 1E-30",
        ),
        (
            "price of 5,000 digits",
            FEED_LINE + f'{{"t": 2, "source": "a", "symbol": "BTC", "price": {LONG}}}\n',
            "{feed}:2.price",
            "",
        ),
        ("t NaN", FEED_LINE + '{"t": NaN, "source": "a", "symbol": "BTC", "price": 1}\n', "{feed}:2.t", "finite"),
        (
            "price true",
            FEED_LINE + '{"t": 2, "source": "a", "symbol": "BTC", "price": true}\n',
            "{feed}:2.price",
            "number",
        ),
        (
            "negative price",
            FEED_LINE + '{"t": 2, "source": "a", "symbol": "BTC", "price": -5}\n',
            "{feed}:2.price",
            "positive",
        ),
        (
            "NUL in a source",
            FEED_LINE + '{"t": 2, "source": "a\\u0000", "symbol": "BTC", "price": 1}\n',
            "{feed}:2.source",
            "",
        ),
        ("a nested line", FEED_LINE + "[" * 100_000 + "]" * 100_000 + "\n", "{feed}:2", "nested deeper"),
        ("a list line", FEED_LINE + "[1, 2]\n", "{feed}:2", "JSON object"),
        (
            "a duplicate key",
            FEED_LINE + '{"t": 2, "t": 3, "source": "a", "symbol": "BTC", "price": 1}\n',
            "{feed}:2",
            "duplicate",
        ),
        (
            "an unknown key",
            FEED_LINE + '{"t": 2, "source": "a", "symbol": "BTC", "price": 1, "x": 1}\n',
            "{feed}:2.x",
            "unknown",
        ),
        ("binary", bytes(range(256)) * 8, "{feed}", "not UTF-8"),
        ("a NUL byte", FEED_LINE + "\0\n", "{feed}:2", "invalid JSON"),
        (
            "an unknown symbol",
            FEED_LINE + '{"t": 2, "source": "a", "symbol": "DOGE", "price": 1}\n',
            "{feed} update 2.symbol",
            "DOGE",
        ),
    ],
)
def test_a_hostile_feed_ends_in_one_error_line(tmp_path: Path, case: str, feed: str | bytes, field: str, words: str):
    book = write(tmp_path / "b.yaml", HOSTILE_BOOK)
    path = write(tmp_path / "feed.jsonl", feed)
    assert_refused(invoke(["replay", str(book), "--feed", str(path)]), field.format(feed=path), words)


def test_a_feed_of_more_updates_than_a_replay_takes_is_refused_before_any_line_is_read(tmp_path: Path):
    # the last line is bad, but the count is refused first: no line was parsed
    lines = [
        f'{{"t": {1 + i // 3}, "source": "{"abc"[i % 3]}", "symbol": "BTC", "price": 20000}}\n'
        for i in range(MAX_UPDATES)
    ]
    path = write(tmp_path / "feed.jsonl", "".join([*lines, "not JSON\n", "\n"]))
    result = invoke(["replay", str(write(tmp_path / "b.yaml", HOSTILE_BOOK)), "--feed", str(path)])
    assert_refused(result, str(path), f"holds {MAX_UPDATES + 1:,} updates; a replay takes at most {MAX_UPDATES:,}")


def test_a_feed_with_a_byte_order_mark_and_crlf_lines_replays(tmp_path: Path):
    path = write(tmp_path / "feed.jsonl", b"\xef\xbb\xbf" + FEED_LINE.replace("\n", "\r\n").encode() * 2)
    assert [update.price for update in read_feed(path)] == [Decimal(20000), Decimal(20000)]


def feed_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EXAMPLES / "feed.jsonl").read_text(encoding="utf-8").splitlines() if line]


FEED_BOOK = replay_of(load_document(EXAMPLES / "portfolio.yaml"))


def feed_outcome(path: Path) -> None:
    """What ``replay`` checks before it prints anything: every line read, every symbol known."""
    for update in read_feed(path):
        FEED_BOOK.check(update)


@FUZZ
@given(data=st.data())
def test_a_number_out_of_bounds_in_a_feed_is_refused_by_its_line_and_key(tmp_path: Path, data: st.DataObject):
    lines = feed_lines()
    row = data.draw(st.integers(0, len(lines) - 1))
    key = data.draw(st.sampled_from(["t", "price", "confidence"]))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_JSON))
    lines[row] = {**lines[row], key: Raw(literal)}
    path = write(tmp_path / "feed.jsonl", "".join(as_json(line) + "\n" for line in lines))
    with pytest.raises(InputError) as caught:
        feed_outcome(path)
    assert caught.value.field == f"{path}:{row + 1}.{key}"
    assert_one_line(caught.value)


@FUZZ
@given(data=st.data())
def test_a_mutated_feed_is_accepted_or_refused_in_one_line(tmp_path: Path, data: st.DataObject):
    lines = feed_lines()
    if data.draw(st.booleans()):
        row = data.draw(st.integers(0, len(lines) - 1))
        key = data.draw(st.sampled_from(["t", "source", "symbol", "price", "confidence", "x"]))
        lines[row] = {**lines[row], key: data.draw(json_values)}
        text = "".join(as_json(line) + "\n" for line in lines)
    else:
        text = mutated_text(data, (EXAMPLES / "feed.jsonl").read_text(encoding="utf-8"))
    try:
        feed_outcome(write(tmp_path / "feed.jsonl", text))
    except InputError as error:
        assert_one_line(error)
