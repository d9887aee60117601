"""Reading portfolio documents from JSON and YAML files: exact numbers, clear errors, documented examples."""

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.cli.loading import load_document
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.schemas import shipped_schema
from tests.model.test_document import document, expected_portfolio

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
