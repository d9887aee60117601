"""Reading portfolio documents from JSON and YAML files: exact numbers, clear errors, documented examples."""

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.cli.loading import load_document
from crossmargin.live.document import portfolio_of
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.document_text import MAX_BYTES, MAX_DEPTH, MAX_YAML_BYTES
from crossmargin.schemas import shipped_schema
from crossmargin.venues import rulebook
from tests.model.test_document import D, document, expected_portfolio

ROOT = Path(__file__).parents[2]
REFERENCE = ROOT / "docs" / "portfolio-document.md"
EXAMPLES = sorted(path for path in (ROOT / "examples").glob("*") if path.suffix in (".json", ".yaml", ".yml"))


def as_json(data: dict[str, Any]) -> Any:
    """``data`` as JSON would carry it: YAML dates and exact numbers become text, as the schema allows."""
    return json.loads(json.dumps(data, default=str))


def written(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_document(path)
    return caught.value


def document_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        portfolio_from_document(load_document(path))
    return caught.value


def test_json_numbers_stay_exact(tmp_path: Path) -> None:
    path = written(tmp_path, "book.json", '{"version": 1, "prices": {"A": 0.1, "B": 1e-8, "C": 2.50, "D": 7}}')
    prices = load_document(path)["prices"]
    assert prices == {"A": Decimal("0.1"), "B": Decimal("1e-8"), "C": Decimal("2.50"), "D": 7}
    assert [type(v) for v in prices.values()] == [Decimal, Decimal, Decimal, int]
    assert str(prices["C"]) == "2.50"


def test_yaml_numbers_stay_exact(tmp_path: Path) -> None:
    long = "0.30000000000000000000000000000000000001"  # more digits than a float or a default Decimal context
    text = f"version: 1\nprices: {{A: 0.1, B: -2.50, C: 1_000.5, D: 7, E: 1:30.5, F: {long}}}\n"
    prices = load_document(written(tmp_path, "book.yaml", text))["prices"]
    assert prices == {
        "A": Decimal("0.1"),
        "B": Decimal("-2.50"),
        "C": Decimal("1000.5"),
        "D": 7,
        "E": Decimal("90.5"),  # YAML 1.1 base 60: 1 x 60 + 30.5
        "F": Decimal(long),
    }
    assert isinstance(prices["A"], Decimal)
    assert isinstance(prices["D"], int)


def test_a_yaml_document_converts_to_the_same_portfolio_as_its_dict(tmp_path: Path) -> None:
    yaml_text = json.dumps(document())  # JSON is YAML too
    path = written(tmp_path, "book.yml", yaml_text)
    assert portfolio_from_document(load_document(path)) == expected_portfolio()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("NaN", "Input should be a finite number"),
        ("Infinity", "Input should be a finite number"),
        ("-Infinity", "Input should be a finite number"),
        ("-60000", "must be positive, got -60000"),
        ("0.0", "must be positive, got 0.0"),
    ],
)
def test_bad_prices_in_json_text_are_rejected_by_name(tmp_path: Path, value: str, words: str) -> None:
    path = written(tmp_path, "book.json", f'{{"version": 1, "base": "USD", "prices": {{"BTC": {value}}}}}')
    error = document_error(path)
    assert error.field == "prices.BTC"
    assert words in error.message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (".nan", "Input should be a finite number"),
        (".NaN", "Input should be a finite number"),
        (".inf", "Input should be a finite number"),
        ("+.inf", "Input should be a finite number"),
        ("-.Inf", "Input should be a finite number"),
        ("-60000", "must be positive, got -60000"),
        ("-0.5", "must be positive, got -0.5"),
    ],
)
def test_bad_prices_in_yaml_text_are_rejected_by_name(tmp_path: Path, value: str, words: str) -> None:
    path = written(tmp_path, "book.yaml", f"version: 1\nbase: USD\nprices:\n  BTC: {value}\n")
    error = document_error(path)
    assert error.field == "prices.BTC"
    assert words in error.message


def test_yaml_special_floats_are_decimal_nan_and_infinities(tmp_path: Path) -> None:
    data = load_document(written(tmp_path, "x.yaml", "a: .nan\nb: .inf\nc: -.inf\n"))
    assert data["a"].is_nan()
    assert data["b"] == Decimal("Infinity")
    assert data["c"] == Decimal("-Infinity")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    error = load_error(path)
    assert (error.field, error.message) == (str(path), "no such file")


def test_directory(tmp_path: Path) -> None:
    error = load_error(tmp_path)
    assert error.field == str(tmp_path)
    assert "is a directory" in error.message


def test_json_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = written(tmp_path, "book.json", '{\n  "version": 1,\n  "base": \n}\n')
    error = load_error(path)
    assert error.field == str(path)
    assert error.message.startswith("invalid JSON at line 4, column 1: Expecting value")


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = written(tmp_path, "book.yaml", "version: 1\nprices: {BTC: 1\nbase: USD\n")
    error = load_error(path)
    assert error.field == str(path)
    assert re.match(r"invalid YAML at line \d+, column \d+: ", error.message)
    assert "line 1," not in error.message


def test_duplicate_json_key(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "book.json", '{"prices": {"BTC": 1, "BTC": 2}}'))
    assert error.message == "invalid JSON: duplicate key 'BTC' in one object"


def test_duplicate_yaml_key_names_its_line(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "book.yaml", "prices:\n  BTC: 1\n  BTC: 2\n"))
    assert error.message == "invalid YAML at line 3, column 3: found duplicate key 'BTC'"


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = "base_tier: &t {mmr: 0.01, imr: 0.02}\ntier:\n  <<: *t\n  imr: 0.05\n"
    assert load_document(written(tmp_path, "x.yaml", text))["tier"] == {"mmr": Decimal("0.01"), "imr": Decimal("0.05")}


def test_a_tagged_float_that_is_not_a_number(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "x.yaml", "a: !!float lots\n"))
    assert error.message == "invalid YAML at line 1, column 4: 'lots' is not a number"


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [("list.json", "[1, 2]", "a list"), ("empty.yaml", "", "nothing"), ("text.yaml", "just words", "a str")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, name: str, text: str, found: str) -> None:
    error = load_error(written(tmp_path, name, text))
    assert error.message == f"the document must be a mapping of keys (version, base, ...), found {found}"


def test_not_utf8(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "book.json", b'{"base": "\xff"}'))
    assert error.message.startswith("not UTF-8 text")


@pytest.mark.parametrize(("name", "text"), [("book.json", '{"version": 1}'), ("book.yaml", "version: 1\n")])
def test_a_byte_order_mark_is_dropped(tmp_path: Path, name: str, text: str) -> None:
    assert load_document(written(tmp_path, name, b"\xef\xbb\xbf" + text.encode())) == {"version": 1}


def test_yaml_reads_exponent_notation_as_numbers(tmp_path: Path) -> None:
    # YAML 1.1 reads 1e-9 as text; JSON and YAML 1.2 as a number, and so does crossmargin
    text = "a: 1e-9\nb: 2.5E6\nc: -3e+2\nd: 1.0e-9\ne: 1e5x\n"
    data = load_document(written(tmp_path, "x.yaml", text))
    assert data == {"a": D("1e-9"), "b": D("2.5E6"), "c": D("-3e2"), "d": D("1.0e-9"), "e": "1e5x"}


@pytest.mark.parametrize(("name", "template"), [("x.json", '{{"a": {}}}'), ("x.yaml", "a: {}\n")])
def test_integers_from_ten_to_the_fiftieth_are_read_as_decimals(tmp_path: Path, name: str, template: str) -> None:
    # below 10^50 an int; from there (5,000 digits too, which int() refuses) a Decimal the number check refuses
    below, at, long = "9" * 50, "1" + "0" * 50, "7" * 5000
    for digits, kind in ((below, int), (at, D), (long, D), ("-" + long, D)):
        value = load_document(written(tmp_path, name, template.format(digits)))["a"]
        assert (type(value), value) == (kind, kind(digits))


@pytest.mark.parametrize("tag", ["!!binary aGVsbG8=", "!!set {a, b}", "!!omap [{a: 1}]", "!!pairs [{a: 1}]"])
def test_yaml_tags_of_types_no_document_holds_are_refused(tmp_path: Path, tag: str) -> None:
    error = load_error(written(tmp_path, "x.yaml", f"base: {tag}\n"))
    name = tag[2:].split()[0]  # binary, set, omap, pairs
    assert (
        error.message
        == f"invalid YAML at line 1, column 7: the YAML tag 'tag:yaml.org,2002:{name}' is not supported here"
    )


def test_an_int_tag_on_text_is_refused(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "x.yaml", "a: !!int lots\n"))
    assert error.message == "invalid YAML at line 1, column 4: 'lots' is not an integer"


def test_a_control_character_in_yaml_text_names_its_line(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "x.yaml", "version: 1\nbase: U\x00SD\n"))
    assert error.message == "invalid YAML at line 2, column 8: control characters are not allowed"


@pytest.mark.parametrize(
    ("name", "opener", "closer"), [("x.json", '{"a": ', "}"), ("x.json", "[", "]"), ("x.yaml", "{a: ", "}")]
)
def test_nesting_is_limited_to_32_levels(tmp_path: Path, name: str, opener: str, closer: str) -> None:
    def nested(levels: int) -> str:
        return "{" + '"top": ' + opener * (levels - 1) + "1" + closer * (levels - 1) + "}"

    assert load_document(written(tmp_path, name, nested(MAX_DEPTH)))  # the top mapping and 31 more levels
    error = load_error(written(tmp_path, name, nested(MAX_DEPTH + 1)))
    assert error.message == "nested deeper than 32 levels of lists and mappings"
    error = load_error(written(tmp_path, name, nested(100_000)))
    assert "nested deeper than 32 levels" in error.message or "exceeded maximum nesting depth" in error.message


def test_aliases_expand_to_at_most_the_value_limit(tmp_path: Path) -> None:
    # a: 2,000 scalars; b: 1,000 aliases of a, that is 1 + 1,000 x (1 + 2,000) = 2,001,001 values
    a = "a: &a [" + ", ".join(["x"] * 2000) + "]\n"
    data = load_document(written(tmp_path, "x.yaml", a + "b: [" + ", ".join(["*a"] * 1000) + "]\n"))
    assert len(data["b"]) == 1000 and data["b"][0] is data["a"]
    # c: two of b makes 1 + 2 x 2,001,001 = 4,002,003 values in c alone: above 4,000,000
    text = a + "b: &b [" + ", ".join(["*a"] * 1000) + "]\nc: [*b, *b]\n"
    error = load_error(written(tmp_path, "x.yaml", text))
    assert error.message == "holds more than 4,000,000 values (YAML aliases counted at full size)"


def test_an_alias_inside_the_collection_it_names_is_refused(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "x.yaml", "a: &a {b: [1, *a]}\n"))
    assert error.message == "a YAML alias refers to a collection that contains it"


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: no byte of it is parsed
    assert load_error(path).message == "is larger than 16 MiB, the largest file crossmargin reads"
    assert load_document(written(tmp_path, "edge.json", '{"a": 1}' + " " * (MAX_BYTES - 8))) == {"a": 1}


def test_yaml_larger_than_its_limit_is_refused_unparsed(tmp_path: Path) -> None:
    # YAML costs about 8 µs a value: 2 MiB is its limit, JSON's is 16 MiB
    assert load_document(written(tmp_path, "edge.yaml", "a: 1\n" + "#" * (MAX_YAML_BYTES - 5))) == {"a": 1}
    error = load_error(written(tmp_path, "big.yaml", "a: 1\n" + "#" * (MAX_YAML_BYTES - 4)))
    assert error.message == "is larger than 2 MiB, the largest YAML crossmargin reads (write it as JSON)"
    error = load_error(written(tmp_path, "big.txt", "a: 1\n" + "#" * (MAX_YAML_BYTES - 4)))
    assert error.message.endswith(
        "nor YAML (is larger than 2 MiB, the largest YAML crossmargin reads (write it as JSON))"
    )


@pytest.mark.parametrize("section", ["assets", "instruments"])
def test_the_sections_rulebooks_merge_into_are_mappings(section: str) -> None:
    # a rulebook's tables are merged in by name before validation: a list there is left for validation to name
    raw = {**document(), "rulebook": "binance-usdm", section: ["USDT"]}
    with pytest.raises(InputError) as err:
        portfolio_from_document(rulebook("binance-usdm").apply_to(raw))
    assert (err.value.field, err.value.message) == (section, "Input should be a valid dictionary")


@pytest.mark.parametrize(
    "text", ['{"version": 1, "prices": {"BTC": 0.1}}', "version: 1\nprices:\n  BTC: 0.1\n"], ids=["json", "yaml"]
)
def test_other_extensions_are_read_as_json_then_yaml(tmp_path: Path, text: str) -> None:
    data = load_document(written(tmp_path, "book.txt", text))
    assert data == {"version": 1, "prices": {"BTC": Decimal("0.1")}}


def test_other_extensions_report_both_failures(tmp_path: Path) -> None:
    error = load_error(written(tmp_path, "book", "{unclosed: [\n"))
    assert error.message.startswith("neither JSON (invalid JSON at line 1")
    assert "nor YAML (invalid YAML at line" in error.message


def reference_examples(language: str) -> list[str]:
    """The complete documents (those starting with their version) in the reference's code blocks."""
    blocks = re.findall(rf"```{language}\n(.*?)```", REFERENCE.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [block for block in blocks if re.match(r'\s*(\{\s*)?"?version"?:', block)]


@pytest.mark.parametrize(("language", "suffix"), [("yaml", ".yaml"), ("json", ".json")])
def test_the_reference_examples_are_the_test_book(tmp_path: Path, language: str, suffix: str) -> None:
    (example,) = reference_examples(language)
    data = load_document(written(tmp_path, f"example{suffix}", example))
    assert portfolio_from_document(data) == expected_portfolio()


def test_the_reference_examples_follow_the_shipped_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(shipped_schema())
    for language in ("yaml", "json"):
        (example,) = reference_examples(language)
        validator.validate(as_json(load_document(written(tmp_path, f"example.{language}", example))))


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_the_shipped_examples_are_valid_documents(path: Path) -> None:
    assert portfolio_from_document(load_document(path)).accounts


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_the_shipped_examples_follow_the_shipped_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(shipped_schema()).validate(as_json(load_document(path)))


def test_a_rulebook_that_is_not_a_name_is_refused():
    with pytest.raises(InputError) as err:
        portfolio_of({"version": 1, "base": "USD", "rulebook": ["generic"]})
    assert err.value.field == "rulebook"
