"""Documents written as JSON or YAML read back as the same document, every number exact."""

from decimal import Decimal

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.writing import document_text, json_text, number_text, yaml_text
from crossmargin.model.document_text import parse_json, parse_yaml
from tests.bridge.support import fixture_paths, responses


def test_number_text_keeps_every_digit_without_exponents():
    assert number_text(Decimal("1E-8")) == "0.00000001"
    assert number_text(Decimal("100.00000000")) == "100"
    assert number_text(Decimal("5E+3")) == "5000"
    assert number_text(Decimal("-0.0")) == "0"
    assert number_text(Decimal("0.1234567890123456789012345678901")) == "0.1234567890123456789012345678901"


def test_every_imported_document_reads_back_from_json_and_yaml():
    for path in fixture_paths():
        document = document_from_responses(responses(path.stem))
        assert parse_json(json_text(document), "doc.json") == document
        assert parse_yaml(yaml_text(document), "doc.yaml") == document


def test_the_file_name_chooses_the_format():
    value = {"a": [Decimal("0.5"), None, True, "x"], "b": {}}
    assert document_text(value, "doc.YAML").startswith("a:\n- 0.5\n")
    assert (
        document_text(value, "doc.json") == '{\n  "a": [\n    0.5,\n    null,\n    true,\n    "x"\n  ],\n  "b": {}\n}\n'
    )
