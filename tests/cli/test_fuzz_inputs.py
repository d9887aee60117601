"""Hostile input: every file crossmargin reads ends in a result or in one line ``error: <field>: <message>``
with exit code 2, never a traceback, a hang, a usage box or a half-written output.

Two parts:

- a corpus of named hostile cases, one or more per class (numbers, encodings, nesting, YAML aliases and tags,
  duplicate keys, sizes, feeds, scenarios, parameter sets), each run through the real command and checked for
  the field its error must name, worked out from the input;
- hypothesis: mutations of the shipped examples (``examples/*.yaml``, ``examples/portfolio.json``,
  ``examples/feed.jsonl``, the scenario library, ``examples/params/*.yaml``) and arbitrary text and bytes,
  through the loaders and, for a sample, the command. A number outside the input boundary (NaN, infinite,
  ``1e-999999999``, 5,000 digits, ...) put at any numeric leaf must be refused with that leaf's own path.
"""

import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from crossmargin.cli.feed import MAX_UPDATES, read_feed
from crossmargin.cli.loading import load_document
from crossmargin.cli.main import app, portfolio_of, replay_of
from crossmargin.model import InputError
from crossmargin.model.document_text import MAX_BYTES, MAX_DEPTH, MAX_VALUES, MAX_YAML_BYTES, parse_yaml
from crossmargin.model.errors import LONGEST
from crossmargin.sim.scenarios.load import LIBRARY, MAX_ASSETS, MAX_FAULTS, MAX_STEPS, load_scenario
from crossmargin.sim.stress.params import applied, parameter_set
from tests.sim.test_stress import config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DOCUMENTS = [EXAMPLES / "portfolio.yaml", EXAMPLES / "portfolio.json", EXAMPLES / "options.yaml"]
SCENARIOS = sorted(path.name for path in LIBRARY.iterdir() if path.name.endswith(".yaml"))
PARAMETERS = sorted((EXAMPLES / "params").glob("*.yaml"))

runner = CliRunner()

TINY, HUGE, LONG = "1e-999999999", "1e999999999", "1" * 5000
BOOK = """\
version: 1
base: USD
assets:
  USDT: {weight: 1}
  BTC: {weight: 0.95, initial_weight: 0.9}
instruments:
  BTC-PERP:
    kind: perpetual
    underlying: BTC
    settle: USDT
    contract_size: 1
    tiers: [{max_notional: null, mmr: 0.004, imr: 0.008}]
prices: {USDT: 1, BTC: 20000}
marks: {BTC-PERP: 20000}
accounts:
  - id: alice
    balances: {USDT: 1000}
    positions: [{instrument: BTC-PERP, size: 0.5, entry_price: 20000}]
"""
SIZE = "accounts[0] (id 'alice').positions[0].size"
FEED_LINE = '{"t": 1, "source": "a", "symbol": "BTC", "price": 20000}\n'
SCENARIO = "name: mine\nstep_seconds: 10\nsteps: 60\nassets:\n  BTC: {table: [[0, 1.0], [600, 0.75]]}\n"


def invoke(args: list[str]) -> Result:
    """The real command, in process."""
    return runner.invoke(app, args)


def assert_refused(result: Result, field: str | None = None, words: str = "") -> str:
    """Exit code 2, nothing on stdout, and exactly one line ``error: <field>: <message>`` on stderr."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("error: ") and "Traceback" not in line and "Usage:" not in line
    if field is not None:
        assert line.startswith(f"error: {field}: "), line
    assert words in line, line
    return line


def controls(text: str) -> list[str]:
    """The control characters, line and paragraph separators and lone surrogates in ``text``."""
    return [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")]


def assert_one_line(error: InputError) -> None:
    """The error's text is one line of at most LONGEST characters without control characters, its field first."""
    text = str(error)
    assert not controls(text) and len(text) <= LONGEST, text
    if error.field and not controls(error.field):
        assert text.startswith(f"{error.field}: "), text


def write(path: Path, content: str | bytes) -> Path:
    """``content`` written to ``path`` (text as UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# --- the corpus, through the command ------------------------------------------------------------------

DOCUMENT_CASES: list[tuple[str, str, str | bytes, str | None, str]] = [
    # (case, file name, content, field (None: the file's path), words in the message)
    ("size 1e-999999999", "b.yaml", BOOK.replace("size: 0.5", f"size: {TINY}"), SIZE, "at least 1E-30"),
    ("size 1e999999999", "b.yaml", BOOK.replace("size: 0.5", f"size: {HUGE}"), SIZE, "below 1E+30"),
    ("size of 5,000 digits", "b.yaml", BOOK.replace("size: 0.5", f"size: {LONG}"), SIZE, "(5000 digits)"),
    ("a fraction of 5,000 digits", "b.yaml", BOOK.replace("size: 0.5", f"size: 0.{LONG}"), SIZE, "5000 significant"),
    ("price .nan", "b.yaml", BOOK.replace("BTC: 20000}", "BTC: .nan}"), "prices.BTC", "finite"),
    ("mark -.inf", "b.yaml", BOOK.replace("BTC-PERP: 20000}", "BTC-PERP: -.inf}"), "marks.BTC-PERP", "finite"),
    ("price -0", "b.yaml", BOOK.replace("BTC: 20000}", "BTC: -0}"), "prices.BTC", "must be positive"),
    ("size true", "b.yaml", BOOK.replace("size: 0.5", "size: true"), SIZE, ""),
    ("negative entry", "b.yaml", BOOK.replace("entry_price: 20000", "entry_price: -5"), f"{SIZE[:-4]}entry_price", ""),
    (
        "a balance of 5,000 digits",
        "b.yaml",
        BOOK.replace("{USDT: 1000}", f"{{USDT: {LONG}}}"),
        "accounts[0] (id 'alice').balances.USDT",
        "below 1E+30",
    ),
    ("an id of 5,000 digits", "b.yaml", BOOK.replace("id: alice", f"id: {LONG}"), "accounts[0].id", ""),
    ("quorum true", "b.yaml", BOOK + "oracle: {quorum: true}\n", "oracle.quorum", ""),
    ("rate of 5,000 digits", "b.yaml", BOOK + f"rate: {LONG}\n", "rate", ""),
    (
        "liquidity level 1e999999999",
        "b.yaml",
        BOOK + f"liquidity: {{BTC-PERP: {{model: levels, levels: [[0.01, {HUGE}]]}}}}\n",
        "liquidity.BTC-PERP.levels[0][1]",
        "",
    ),
    ("negative insurance fund", "b.yaml", BOOK + "insurance_fund: -5\n", "insurance_fund", "negative"),
    (
        "JSON price NaN",
        "b.json",
        json.dumps(yaml.safe_load(BOOK)).replace('"BTC": 20000', '"BTC": NaN'),
        "prices.BTC",
        "finite",
    ),
    (
        "JSON size of 5,000 digits",
        "b.json",
        json.dumps(yaml.safe_load(BOOK)).replace('"size": 0.5', f'"size": {LONG}'),
        SIZE,
        "",
    ),
    ("NUL in an id", "b.yaml", BOOK.replace("id: alice", 'id: "al\\0ice"'), "accounts[0] (id 'al\\x00ice').id", ""),
    ("escape in an asset name", "b.yaml", BOOK.replace("  USDT: {weight", '  "US\\eDT": {weight'), "assets", ""),
    ("a NUL byte in the text", "b.yaml", BOOK.replace("alice", "al\0ice"), None, "control characters"),
    ("not UTF-8", "b.yaml", BOOK.replace("alice", "al\xefce").encode("latin-1"), None, "not UTF-8"),
    ("binary", "b.yaml", bytes(range(256)) * 8, None, "not UTF-8"),
    ("UTF-16", "b.yaml", BOOK.encode("utf-16"), None, "not UTF-8"),
    ("100,000 levels of JSON lists", "b.json", "[" * 100_000 + "]" * 100_000, None, "nested deeper than 32"),
    ("100,000 levels of JSON objects", "b.json", '{"a": ' * 100_000 + "1" + "}" * 100_000, None, "nested deeper"),
    ("100,000 levels of YAML lists", "b.yaml", "[" * 100_000 + "]" * 100_000, None, "nesting depth"),
    (
        "33 levels of YAML mappings",
        "b.yaml",
        BOOK + "oracle: " + "{a: " * 33 + "1" + "}" * 33 + "\n",
        None,
        "nested deeper than 32",
    ),
    ("100,000 levels, neither JSON nor YAML", "b.txt", "[" * 100_000 + "]" * 100_000, None, "neither JSON"),
    (
        "a billion laughs",
        "b.yaml",
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
        None,
        "more than 4,000,000 values",
    ),
    ("an alias inside itself", "b.yaml", "a: &a [*a]\n", None, "contains it"),
    ("!!python/object/apply", "b.yaml", "!!python/object/apply:os.system ['true']\n", None, "python/object"),
    ("!!binary", "b.yaml", BOOK.replace("base: USD", "base: !!binary VVNE"), None, "binary"),
    ("!!int that is not one", "b.yaml", BOOK.replace("size: 0.5", "size: !!int lots"), None, "not an integer"),
    ("a duplicate key", "b.yaml", BOOK + "base: EUR\n", None, "duplicate key 'base'"),
    ("a duplicate JSON key", "b.json", '{"version": 1, "version": 1}', None, "duplicate key 'version'"),
    ("a complex key", "b.yaml", "? [a, b]\n: 1\n", None, "unhashable"),
    ("empty", "b.yaml", "", None, "found nothing"),
    ("a list", "b.yaml", "- 1\n", None, "found a list"),
    ("two documents", "b.yaml", BOOK + "---\n" + BOOK, None, "another document"),
    ("an unknown key", "b.yaml", BOOK + "colour: red\n", "colour", "Extra inputs"),
    (
        "position for positions",
        "b.yaml",
        BOOK.replace("positions:", "position:"),
        "accounts[0] (id 'alice').position",
        "",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "field", "words"),
    [case[1:] for case in DOCUMENT_CASES],
    ids=[case[0] for case in DOCUMENT_CASES],
)
def test_a_hostile_document_ends_in_one_error_line(
    tmp_path: Path, name: str, content: str | bytes, field: str | None, words: str
):
    path = write(tmp_path / name, content)
    assert_refused(invoke(["evaluate", str(path)]), str(path) if field is None else field, words)


@pytest.mark.parametrize("command", [["what-if", "--account", "alice", "--compare"], ["compare"], ["risk"]])
def test_every_command_reading_a_document_refuses_the_same_way(tmp_path: Path, command: list[str]):
    path = write(tmp_path / "b.yaml", BOOK.replace("size: 0.5", f"size: {TINY}"))
    assert_refused(invoke([command[0], str(path), *command[1:]]), None if command == ["compare"] else SIZE)


def test_a_file_beyond_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path):
    # the file: 1.4 million keys in 50 MB of YAML; refused from its first 16 MiB
    path = tmp_path / "big.yaml"
    with path.open("w") as handle:
        handle.write("version: 1\nbase: USD\nprices:\n")
        handle.writelines(f"  A{i:07d}: {i % 97 + 1}.5                     \n" for i in range(1_400_000))
    assert path.stat().st_size > 50 * 10**6
    assert_refused(invoke(["evaluate", str(path)]), str(path), "larger than 16 MiB")
    assert_refused(invoke(["evaluate", "/dev/zero"]), "/dev/zero", "larger than 16 MiB")


def test_a_duplicate_key_is_found_in_one_pass(tmp_path: Path):
    # 60,000 keys: the quadratic check compared 1.8 billion pairs; the duplicate is the last line's key
    lines = [f"A{i:06d}: 1\n" for i in range(60_000)]
    path = write(tmp_path / "keys.yaml", "".join([*lines, "A000007: 2\n"]))
    with pytest.raises(InputError) as caught:
        load_document(path)
    assert caught.value.message == "invalid YAML at line 60001, column 1: found duplicate key 'A000007'"


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
    book = write(tmp_path / "b.yaml", BOOK)
    path = write(tmp_path / "feed.jsonl", feed)
    assert_refused(invoke(["replay", str(book), "--feed", str(path)]), field.format(feed=path), words)


def test_a_feed_of_more_updates_than_a_replay_takes_is_refused_before_any_line_is_read(tmp_path: Path):
    # the last line is bad, but the count is refused first: no line was parsed
    lines = [
        f'{{"t": {1 + i // 3}, "source": "{"abc"[i % 3]}", "symbol": "BTC", "price": 20000}}\n'
        for i in range(MAX_UPDATES)
    ]
    path = write(tmp_path / "feed.jsonl", "".join([*lines, "not JSON\n", "\n"]))
    result = invoke(["replay", str(write(tmp_path / "b.yaml", BOOK)), "--feed", str(path)])
    assert_refused(result, str(path), f"holds {MAX_UPDATES + 1:,} updates; a replay takes at most {MAX_UPDATES:,}")


def test_a_feed_with_a_byte_order_mark_and_crlf_lines_replays(tmp_path: Path):
    path = write(tmp_path / "feed.jsonl", b"\xef\xbb\xbf" + FEED_LINE.replace("\n", "\r\n").encode() * 2)
    assert [update.price for update in read_feed(path)] == [Decimal(20000), Decimal(20000)]


SCENARIO_CASES = [
    ("steps 1,000,000,000", SCENARIO.replace("steps: 60", "steps: 1000000000"), "steps", f"at most {MAX_STEPS:,}"),
    ("steps of 5,000 digits", SCENARIO.replace("steps: 60", f"steps: {LONG}"), "steps", "5000 digits"),
    ("steps true", SCENARIO.replace("steps: 60", "steps: true"), "steps", "whole number"),
    (
        "steps derived from a table of 10^12 s",
        "name: mine\nstep_seconds: 1\nassets:\n  BTC: {table: [[0, 1.0], [1.0e+12, 0.75]]}\n",
        "steps",
        "1,000,000,000,000 steps",
    ),
    (
        "sigma 1e999999999",
        SCENARIO + "  SOL: {gbm: {sigma: 1.0e+999999999}}\n",
        "assets.SOL.gbm.sigma",
        "below 1E+30",
    ),
    ("sigma .nan", SCENARIO + "  SOL: {gbm: {sigma: .nan}}\n", "assets.SOL.gbm.sigma", "finite"),
    ("a factor of 5,000 digits", SCENARIO.replace("0.75", f"0.{LONG}"), "assets.BTC.table[1][1]", "5000 significant"),
    ("a follower's beta NaN", SCENARIO + "  ETH: {follow: BTC, beta: .nan}\n", "assets.ETH.beta", "finite"),
    (
        "a spike at NaN",
        SCENARIO + "faults:\n  - {spike: {symbol: BTC, source: s1, at: .nan, factor: 0.8}}\n",
        "faults[0].spike.at",
        "finite",
    ),
    (
        "a depeg series of 1e-9 s segments",
        SCENARIO + "faults:\n  - {depeg: {asset: USDC, source: s1, start: 0, end: 600, "
        "series: {file: usdcusdt_kucoin_2023-03-10_1m.csv, every: 1.0e-9}}}\n",
        "faults[0].depeg.series.every",
        f"at most {MAX_FAULTS:,}",
    ),
    (
        "101 assets",
        SCENARIO + "".join(f"  A{i}: {{gbm: {{sigma: 0.5}}}}\n" for i in range(MAX_ASSETS)),
        "assets",
        f"{MAX_ASSETS + 1} assets named",
    ),
    (
        "1,001 faults",
        SCENARIO + "faults:\n" + "  - {spike: {symbol: BTC, source: s1, at: 1, factor: 0.9}}\n" * (MAX_FAULTS + 1),
        "faults",
        f"{MAX_FAULTS + 1:,} faults",
    ),
    ("an unknown key", SCENARIO + "paths: 100\n", "paths", "unknown key"),
]


@pytest.mark.parametrize(("case", "text", "field", "words"), SCENARIO_CASES, ids=[case[0] for case in SCENARIO_CASES])
def test_a_hostile_scenario_ends_in_one_error_line_before_any_run(
    tmp_path: Path, case: str, text: str, field: str, words: str
):
    scenario = write(tmp_path / "mine.yaml", text)
    out = tmp_path / "report"
    result = invoke(["stress", str(scenario), "--book", str(write(tmp_path / "b.yaml", BOOK)), "--out", str(out)])
    assert_refused(result, f"mine.yaml: {field}", words)
    assert not out.exists()


@pytest.mark.parametrize(
    ("case", "content", "words"),
    [
        ("binary", bytes(range(256)) * 8, "not UTF-8"),
        ("nested", "[" * 100_000 + "]" * 100_000, "nesting depth"),
        (
            "a billion laughs",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
            "more than 4,000,000 values",
        ),
        ("empty", "", "expected a mapping"),
    ],
)
def test_a_hostile_scenario_file_is_named_by_its_file(tmp_path: Path, case: str, content: str | bytes, words: str):
    scenario = write(tmp_path / "mine.yaml", content)
    result = invoke(["stress", str(scenario), "--book", str(write(tmp_path / "b.yaml", BOOK))])
    assert_refused(result, "mine.yaml", words)


@pytest.mark.parametrize(
    ("case", "text", "field", "words"),
    [
        ("a buffer of 1e999999999", f"liquidation: {{buffer: {HUGE}}}\n", "liquidation.buffer", "below 1E+30"),
        ("a fund of 5,000 digits", f"insurance_fund: {LONG}\n", "insurance_fund", ""),
        ("a fund 1e-999999999", f"insurance_fund: {TINY}\n", "insurance_fund", "at least 1E-30"),
        ("a weight .nan", "assets: {BTC: {weight: .nan}}\n", "assets.BTC.weight", "finite"),
        (
            "an mmr of 5,000 digits",
            f"tiers: {{BTC-PERP: [{{max_notional: null, mmr: 0.{LONG}, imr: 1}}]}}\n",
            "tiers.BTC-PERP[0].mmr",
            "5000 significant",
        ),
        ("a label with a newline", 'label: "a\\nb"\n', "label", "printable"),
        ("an unknown key", "colour: red\n", "colour", "unknown key"),
    ],
)
def test_a_hostile_parameter_set_ends_in_one_error_line_before_any_run(
    tmp_path: Path, case: str, text: str, field: str, words: str
):
    params = write(tmp_path / "p.yaml", text)
    out = tmp_path / "report"
    book = write(tmp_path / "b.yaml", BOOK)
    result = invoke(["stress", "flash-crash", "--book", str(book), "--params", str(params), "--out", str(out)])
    assert_refused(result, f"{params}.{field}", words)
    assert not out.exists()


def test_a_parameter_set_that_is_not_yaml_is_named_once(tmp_path: Path):
    params = write(tmp_path / "p.yaml", "foo: [1,\n")
    book = write(tmp_path / "b.yaml", BOOK)
    result = invoke(
        ["stress", "flash-crash", "--book", str(book), "--params", str(params), "--out", str(tmp_path / "o")]
    )
    line = assert_refused(result, str(params), "invalid YAML")
    assert line.count(str(params)) == 1, line


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--size", TINY, "at least 1E-30"), ("--price", HUGE, "below 1E+30"), ("--size", "0." + LONG, "5000 significant")],
)
def test_a_what_if_number_is_held_to_the_input_bounds(tmp_path: Path, option: str, value: str, words: str):
    book = write(tmp_path / "b.yaml", BOOK)
    order = {"--size": "0.1", "--price": "60000"} | {option: value}
    args = ["what-if", str(book), "--account", "alice", "--order", "BTC-PERP"]
    result = invoke([*args, "--size", order["--size"], "--price", order["--price"]])
    assert_refused(result, option, words)


# --- hypothesis: mutations of the shipped files ---------------------------------------------------------


class Raw(str):
    """Text written into a JSON document as it is (a hostile number literal)."""


def as_json(value: Any) -> str:
    """``value`` as JSON text; a :class:`Raw` is written verbatim, a Decimal in plain notation."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {as_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(as_json(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar of a parsed file with its path of keys and indices."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def numeric(value: Any) -> list[tuple[Any, ...]]:
    return [path for path, leaf in leaves(value) if isinstance(leaf, int | Decimal) and not isinstance(leaf, bool)]


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {key: replaced(item, rest, new) if key == head else item for key, item in value.items()}
    return [replaced(item, rest, new) if index == head else item for index, item in enumerate(value)]


def dotted(path: tuple[Any, ...], accounts: list[Any] | None = None) -> str:
    """A path as crossmargin's errors write it: keys joined by dots, indices in brackets, and in a portfolio
    document an account named by its id: ``accounts[1] (id 'hedged').positions[0].size``."""
    text = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            text += f"[{part}]"
            if accounts is not None and i == 1 and path[0] == "accounts":
                text += f" (id {str(accounts[part]['id'])!r})"
        else:
            text += f".{part}" if text else str(part)
    return text


# Literals every reader must refuse wherever a number goes: outside the input boundary.
OUT_OF_BOUNDS_JSON = [TINY, HUGE, LONG, "0." + LONG, "-" + LONG, "1e-31", "1e30", "9" * 51, "NaN", "-Infinity"]
OUT_OF_BOUNDS_YAML = ["1.0e-999999999", "1.0e+999999999", LONG, "0." + LONG, "1.0e-31", ".nan", ".inf", "-.inf"]
# Anything else a number could be replaced by; each may be accepted or refused.
OTHER = [
    "-0",
    "0",
    "-1",
    "1e-30",
    "0.1",
    "true",
    "null",
    '"abc"',
    '"1e-999999999"',
    "[]",
    "{}",
    '"\\u0000"',
    "[[[[1]]]]",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**60), 10**60) | st.text(max_size=8) | st.sampled_from(OTHER).map(Raw),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


def mutated_text(data: st.DataObject, text: str) -> str:
    """``text`` with a few edits: a slice deleted or repeated, random text put in."""
    draw = data.draw
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        edit = draw(st.sampled_from(["delete", "repeat", "insert"]))
        if edit == "delete":
            text = text[:start] + text[end:]
        elif edit == "repeat":
            text = text[:end] + text[start:end] + text[end:]
        else:
            text = text[:start] + draw(st.text(max_size=20)) + text[start:]
    return text


def document_outcome(path: Path) -> None:
    """What ``evaluate`` and ``replay`` do with a document: its portfolio, oracle and clearing sections."""
    raw = load_document(path)
    portfolio_of(raw)
    replay_of(raw)


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data(), source=st.sampled_from(DOCUMENTS), as_yaml=st.booleans())
def test_a_number_out_of_bounds_in_a_document_is_refused_by_its_path(
    tmp_path: Path, data: st.DataObject, source: Path, as_yaml: bool
):
    document = load_document(source)
    choices = [path for path in numeric(document) if path[-1] not in ("version", "quorum", "id")]
    path = data.draw(st.sampled_from(choices))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_YAML if as_yaml else OUT_OF_BOUNDS_JSON))
    target = write(
        tmp_path / ("book.yaml" if as_yaml else "book.json"), as_json(replaced(document, path, Raw(literal)))
    )
    with pytest.raises(InputError) as caught:
        document_outcome(target)
    assert caught.value.field == dotted(path, document["accounts"])
    assert_one_line(caught.value)


@FUZZ
@given(data=st.data(), source=st.sampled_from(DOCUMENTS), suffix=st.sampled_from([".yaml", ".json", ".txt"]))
def test_a_mutated_document_is_accepted_or_refused_in_one_line(
    tmp_path: Path, data: st.DataObject, source: Path, suffix: str
):
    document = load_document(source)
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from([path for path, _ in leaves(document)]))
        text = as_json(replaced(document, path[: data.draw(st.integers(0, len(path)))], data.draw(json_values)))
    else:
        text = mutated_text(data, source.read_text(encoding="utf-8"))
    try:
        document_outcome(write(tmp_path / f"book{suffix}", text))
    except InputError as error:
        assert_one_line(error)


COMMANDS = [
    ["evaluate", "{book}", "--json"],
    ["compare", "{book}", "--json"],
    ["risk", "{book}", "--json"],
    ["replay", "{book}", "--feed", str(EXAMPLES / "feed.jsonl"), "--json"],
]


@settings(FUZZ, max_examples=40)
@given(data=st.data(), source=st.sampled_from(DOCUMENTS), command=st.sampled_from(COMMANDS))
def test_a_command_on_a_mutated_document_prints_a_result_or_one_error_line(
    tmp_path: Path, data: st.DataObject, source: Path, command: list[str]
):
    text = mutated_text(data, source.read_text(encoding="utf-8"))
    book = write(tmp_path / f"book{source.suffix}", text)
    result = invoke([arg.format(book=book) for arg in command])
    if result.exit_code == 0:
        assert result.exception is None and result.stdout.strip()
    else:
        assert_refused(result)


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


def library_scenario(name: str) -> Any:
    return parse_yaml((LIBRARY / name).read_text(encoding="utf-8"), name)


@FUZZ
@given(data=st.data(), name=st.sampled_from(SCENARIOS))
def test_a_number_out_of_bounds_in_a_scenario_is_refused_by_its_path(tmp_path: Path, data: st.DataObject, name: str):
    scenario = library_scenario(name)
    path = data.draw(st.sampled_from(numeric(scenario)))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_YAML))
    target = write(tmp_path / "mine.yaml", as_json(replaced(scenario, path, Raw(literal))))
    with pytest.raises(InputError) as caught:
        load_scenario(target)
    assert caught.value.field == f"mine.yaml: {dotted(path)}"
    assert_one_line(caught.value)


@FUZZ
@given(data=st.data(), name=st.sampled_from(SCENARIOS))
def test_a_mutated_scenario_is_accepted_or_refused_in_one_line(tmp_path: Path, data: st.DataObject, name: str):
    scenario = library_scenario(name)
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from([path for path, _ in leaves(scenario)]))
        text = as_json(replaced(scenario, path[: data.draw(st.integers(0, len(path)))], data.draw(json_values)))
    else:
        text = mutated_text(data, (LIBRARY / name).read_text(encoding="utf-8"))
    try:
        built = load_scenario(write(tmp_path / "mine.yaml", text))
    except InputError as error:
        assert_one_line(error)
    else:
        assert built.steps <= MAX_STEPS and len(built.faults) <= MAX_FAULTS


STRESS_CONFIG = config()


def parameters_outcome(path: Path) -> None:
    """What ``stress --params`` checks before any run: the set read, then applied to a run's book."""
    applied(STRESS_CONFIG, parameter_set(load_document(path), path.stem))


@FUZZ
@given(data=st.data(), source=st.sampled_from(PARAMETERS))
def test_a_number_out_of_bounds_in_a_parameter_set_is_refused_by_its_path(
    tmp_path: Path, data: st.DataObject, source: Path
):
    params = load_document(source)
    path = data.draw(st.sampled_from(numeric(params)))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_YAML))
    target = write(tmp_path / "p.yaml", as_json(replaced(params, path, Raw(literal))))
    with pytest.raises(InputError) as caught:
        parameters_outcome(target)
    assert caught.value.field == dotted(path)
    assert_one_line(caught.value)


@FUZZ
@given(data=st.data(), source=st.sampled_from(PARAMETERS))
def test_a_mutated_parameter_set_is_accepted_or_refused_in_one_line(tmp_path: Path, data: st.DataObject, source: Path):
    params = load_document(source)
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from([path for path, _ in leaves(params)]))
        text = as_json(replaced(params, path[: data.draw(st.integers(0, len(path)))], data.draw(json_values)))
    else:
        text = mutated_text(data, source.read_text(encoding="utf-8"))
    try:
        parameters_outcome(write(tmp_path / "p.yaml", text))
    except InputError as error:
        assert_one_line(error)


READERS: dict[str, Callable[[Path], object]] = {
    "document.yaml": document_outcome,
    "document.json": document_outcome,
    "document.txt": document_outcome,
    "feed.jsonl": feed_outcome,
    "scenario.yaml": load_scenario,
    "params.yaml": parameters_outcome,
}


@FUZZ
@given(name=st.sampled_from(sorted(READERS)), content=st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_and_text_are_accepted_or_refused_in_one_line(tmp_path: Path, name: str, content: bytes | str):
    try:
        READERS[name](write(tmp_path / name, content))
    except InputError as error:
        assert_one_line(error)


@FUZZ
@given(
    name=st.sampled_from(sorted(READERS)),
    depth=st.integers(1, 3 * MAX_DEPTH),
    opener=st.sampled_from(["[", "{a: ", '{"a": ']),
)
def test_nesting_is_refused_past_the_limit_by_the_file(tmp_path: Path, name: str, depth: int, opener: str):
    closer = "]" if opener == "[" else "}"
    path = write(tmp_path / name, opener * depth + "1" + closer * depth)
    try:
        READERS[name](path)
    except InputError as error:
        assert_one_line(error)
        yaml_in_json = opener == "{a: " and name == "document.json"  # a syntax error first
        if depth > MAX_DEPTH and not yaml_in_json and name != "feed.jsonl":  # a feed's error names its line
            assert error.field in (str(path), path.name), error
            assert "nested deeper" in error.message or "nesting depth" in error.message
    else:
        raise AssertionError(f"{opener * 2}... is no document, feed, scenario or parameter set")


@FUZZ
@given(levels=st.integers(1, 9), fanout=st.integers(2, 12))
def test_yaml_aliases_expand_to_at_most_the_value_limit(tmp_path: Path, levels: int, fanout: int):
    # level 0 holds `fanout` scalars; each further level `fanout` aliases of the one below
    text = f"l0: &l0 [{', '.join(['x'] * fanout)}]\n" + "".join(
        f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * fanout)}]\n" for k in range(1, levels)
    )
    expanded = 1 + sum(1 + sum(fanout**j for j in range(1, k + 2)) for k in range(levels)) + levels  # keys included
    path = write(tmp_path / "laughs.yaml", text)
    if expanded <= MAX_VALUES:
        assert isinstance(load_document(path), dict)
    else:
        with pytest.raises(InputError, match=re.escape(f"holds more than {MAX_VALUES:,} values")):
            load_document(path)


def test_the_limits_are_what_the_reference_says():
    reference = (ROOT / "docs" / "portfolio-document.md").read_text(encoding="utf-8")
    figures = [f"{MAX_BYTES // 2**20} MiB", f"{MAX_YAML_BYTES // 2**20} MiB", f"{MAX_DEPTH} levels"]
    figures += [f"{MAX_VALUES:,}", f"{MAX_UPDATES:,}", f"{MAX_STEPS:,}", f"| {MAX_ASSETS} named", f"{MAX_FAULTS:,}"]
    for figure in figures:
        assert figure in reference, figure
