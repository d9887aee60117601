"""Hostile input: every file crossmargin reads ends in a result or in one line ``error: <field>: <message>``
with exit code 2, never a traceback, a hang, a usage box or a half-written output.

Two parts:

- a corpus of named hostile documents, one or more per class (numbers, encodings, nesting, YAML aliases and
  tags, duplicate keys, sizes), each run through the real command and checked for the field its error must
  name, worked out from the input;
- hypothesis: mutations of the shipped examples (``examples/*.yaml``, ``examples/portfolio.json``) and arbitrary
  text and bytes, through the loaders and, for a sample, the command. A number outside the input boundary (NaN,
  infinite, ``1e-999999999``, 5,000 digits, ...) put at any numeric leaf must be refused with that leaf's own
  path; arbitrary bytes and deep nesting must be refused in one line by every reader.

The same checks of each other reader live with its module: feeds in tests/cli/test_feed.py, scenarios in
tests/sim/scenarios/test_load.py, parameter sets in tests/sim/stress/test_params.py, and the parser's own
limits in tests/model/test_document_text.py.
"""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.cli.feed import MAX_UPDATES
from crossmargin.cli.loading import load_document
from crossmargin.cli.main import replay_of
from crossmargin.live.document import portfolio_of
from crossmargin.model import InputError
from crossmargin.model.document_text import MAX_BYTES, MAX_DEPTH, MAX_VALUES, MAX_YAML_BYTES
from crossmargin.sim.scenarios.load import MAX_ASSETS, MAX_FAULTS, MAX_STEPS, load_scenario
from tests.builders import (
    FUZZ,
    HOSTILE_BOOK,
    HUGE,
    LONG,
    OUT_OF_BOUNDS_JSON,
    OUT_OF_BOUNDS_YAML,
    TINY,
    Raw,
    as_json,
    assert_one_line,
    assert_refused,
    dotted,
    invoke,
    json_values,
    leaves,
    mutated_text,
    numeric,
    replaced,
    write,
)
from tests.cli.test_feed import feed_outcome
from tests.sim.stress.test_params import parameters_outcome

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DOCUMENTS = [EXAMPLES / "portfolio.yaml", EXAMPLES / "portfolio.json", EXAMPLES / "options.yaml"]
SIZE = "accounts[0] (id 'alice').positions[0].size"


# --- the corpus, through the command ------------------------------------------------------------------

DOCUMENT_CASES: list[tuple[str, str, str | bytes, str | None, str]] = [
    # (case, file name, content, field (None: the file's path), words in the message)
    ("size 1e-999999999", "b.yaml", HOSTILE_BOOK.replace("size: 0.5", f"size: {TINY}"), SIZE, "at least 1E-30"),
    ("size 1e999999999", "b.yaml", HOSTILE_BOOK.replace("size: 0.5", f"size: {HUGE}"), SIZE, "below 1E+30"),
    ("size of 5,000 digits", "b.yaml", HOSTILE_BOOK.replace("size: 0.5", f"size: {LONG}"), SIZE, "(5000 digits)"),
    (
        "a fraction of 5,000 digits",
        "b.yaml",
        HOSTILE_BOOK.replace("size: 0.5", f"size: 0.{LONG}"),
        SIZE,
        "5000 significant",
    ),
    ("price .nan", "b.yaml", HOSTILE_BOOK.replace("BTC: 20000}", "BTC: .nan}"), "prices.BTC", "finite"),
    ("mark -.inf", "b.yaml", HOSTILE_BOOK.replace("BTC-PERP: 20000}", "BTC-PERP: -.inf}"), "marks.BTC-PERP", "finite"),
    ("price -0", "b.yaml", HOSTILE_BOOK.replace("BTC: 20000}", "BTC: -0}"), "prices.BTC", "must be positive"),
    ("size true", "b.yaml", HOSTILE_BOOK.replace("size: 0.5", "size: true"), SIZE, ""),
    (
        "negative entry",
        "b.yaml",
        HOSTILE_BOOK.replace("entry_price: 20000", "entry_price: -5"),
        f"{SIZE[:-4]}entry_price",
        "",
    ),
    (
        "a balance of 5,000 digits",
        "b.yaml",
        HOSTILE_BOOK.replace("{USDT: 1000}", f"{{USDT: {LONG}}}"),
        "accounts[0] (id 'alice').balances.USDT",
        "below 1E+30",
    ),
    ("an id of 5,000 digits", "b.yaml", HOSTILE_BOOK.replace("id: alice", f"id: {LONG}"), "accounts[0].id", ""),
    ("quorum true", "b.yaml", HOSTILE_BOOK + "oracle: {quorum: true}\n", "oracle.quorum", ""),
    ("rate of 5,000 digits", "b.yaml", HOSTILE_BOOK + f"rate: {LONG}\n", "rate", ""),
    (
        "liquidity level 1e999999999",
        "b.yaml",
        HOSTILE_BOOK + f"liquidity: {{BTC-PERP: {{model: levels, levels: [[0.01, {HUGE}]]}}}}\n",
        "liquidity.BTC-PERP.levels[0][1]",
        "",
    ),
    ("negative insurance fund", "b.yaml", HOSTILE_BOOK + "insurance_fund: -5\n", "insurance_fund", "negative"),
    (
        "JSON price NaN",
        "b.json",
        json.dumps(yaml.safe_load(HOSTILE_BOOK)).replace('"BTC": 20000', '"BTC": NaN'),
        "prices.BTC",
        "finite",
    ),
    (
        "JSON size of 5,000 digits",
        "b.json",
        json.dumps(yaml.safe_load(HOSTILE_BOOK)).replace('"size": 0.5', f'"size": {LONG}'),
        SIZE,
        "",
    ),
    (
        "NUL in an id",
        "b.yaml",
        HOSTILE_BOOK.replace("id: alice", 'id: "al\\0ice"'),
        "accounts[0] (id 'al\\x00ice').id",
        "",
    ),
    (
        "escape in an asset name",
        "b.yaml",
        HOSTILE_BOOK.replace("  USDT: {weight", '  "US\\eDT": {weight'),
        "assets",
        "",
    ),
    ("a NUL byte in the text", "b.yaml", HOSTILE_BOOK.replace("alice", "al\0ice"), None, "control characters"),
    ("not UTF-8", "b.yaml", HOSTILE_BOOK.replace("alice", "al\xefce").encode("latin-1"), None, "not UTF-8"),
    ("binary", "b.yaml", bytes(range(256)) * 8, None, "not UTF-8"),
    ("UTF-16", "b.yaml", HOSTILE_BOOK.encode("utf-16"), None, "not UTF-8"),
    ("100,000 levels of JSON lists", "b.json", "[" * 100_000 + "]" * 100_000, None, "nested deeper than 32"),
    ("100,000 levels of JSON objects", "b.json", '{"a": ' * 100_000 + "1" + "}" * 100_000, None, "nested deeper"),
    ("100,000 levels of YAML lists", "b.yaml", "[" * 100_000 + "]" * 100_000, None, "nesting depth"),
    (
        "33 levels of YAML mappings",
        "b.yaml",
        HOSTILE_BOOK + "oracle: " + "{a: " * 33 + "1" + "}" * 33 + "\n",
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
    ("!!binary", "b.yaml", HOSTILE_BOOK.replace("base: USD", "base: !!binary VVNE"), None, "binary"),
    ("!!int that is not one", "b.yaml", HOSTILE_BOOK.replace("size: 0.5", "size: !!int lots"), None, "not an integer"),
    ("a duplicate key", "b.yaml", HOSTILE_BOOK + "base: EUR\n", None, "duplicate key 'base'"),
    ("a duplicate JSON key", "b.json", '{"version": 1, "version": 1}', None, "duplicate key 'version'"),
    ("a complex key", "b.yaml", "? [a, b]\n: 1\n", None, "unhashable"),
    ("empty", "b.yaml", "", None, "found nothing"),
    ("a list", "b.yaml", "- 1\n", None, "found a list"),
    ("two documents", "b.yaml", HOSTILE_BOOK + "---\n" + HOSTILE_BOOK, None, "another document"),
    ("an unknown key", "b.yaml", HOSTILE_BOOK + "colour: red\n", "colour", "Extra inputs"),
    (
        "position for positions",
        "b.yaml",
        HOSTILE_BOOK.replace("positions:", "position:"),
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
    path = write(tmp_path / "b.yaml", HOSTILE_BOOK.replace("size: 0.5", f"size: {TINY}"))
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


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--size", TINY, "at least 1E-30"), ("--price", HUGE, "below 1E+30"), ("--size", "0." + LONG, "5000 significant")],
)
def test_a_what_if_number_is_held_to_the_input_bounds(tmp_path: Path, option: str, value: str, words: str):
    book = write(tmp_path / "b.yaml", HOSTILE_BOOK)
    order = {"--size": "0.1", "--price": "60000"} | {option: value}
    args = ["what-if", str(book), "--account", "alice", "--order", "BTC-PERP"]
    result = invoke([*args, "--size", order["--size"], "--price", order["--price"]])
    assert_refused(result, option, words)


# --- hypothesis: mutations of the shipped files ---------------------------------------------------------


def document_outcome(path: Path) -> None:
    """What ``evaluate`` and ``replay`` do with a document: its portfolio, oracle and clearing sections."""
    raw = load_document(path)
    portfolio_of(raw)
    replay_of(raw)


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


def test_the_limits_are_what_the_reference_says():
    reference = (ROOT / "docs" / "portfolio-document.md").read_text(encoding="utf-8")
    figures = [f"{MAX_BYTES // 2**20} MiB", f"{MAX_YAML_BYTES // 2**20} MiB", f"{MAX_DEPTH} levels"]
    figures += [f"{MAX_VALUES:,}", f"{MAX_UPDATES:,}", f"{MAX_STEPS:,}", f"| {MAX_ASSETS} named", f"{MAX_FAULTS:,}"]
    for figure in figures:
        assert figure in reference, figure
