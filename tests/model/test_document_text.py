"""Parsing JSON and YAML with numbers kept exact: literals read as Decimals of their text, integers as ints up
to 10^50, NaN and the infinities kept for validation to refuse by name, duplicate keys and unsupported tags
refused, and the limits (size, nesting, values once aliases expand) checked before the cost is paid."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.cli.loading import load_document
from crossmargin.model import InputError
from crossmargin.model.document_text import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    MAX_YAML_BYTES,
    decoded,
    parse_either,
    parse_json,
    parse_yaml,
)
from tests.builders import FUZZ, write

D = Decimal


def test_json_numbers_are_read_through_their_text():
    value = parse_json('{"a": 0.1, "b": 3, "c": 2.50e-3, "d": NaN, "e": -Infinity, "f": -0.0}', "f.json")
    assert value == {"a": D("0.1"), "b": 3, "c": D("0.00250"), "d": value["d"], "e": D("-Infinity"), "f": D("-0.0")}
    assert isinstance(value["b"], int) and value["d"].is_nan() and str(value["c"]) == "0.00250"


def test_an_integer_of_fifty_one_digits_or_more_is_a_decimal():
    fifty, fifty_one = "9" * 50, "1" + "0" * 50  # 10^50 - 1 and 10^50
    assert parse_json(f"[{fifty}, {fifty_one}, -{fifty_one}]", "f") == [int(fifty), D(fifty_one), -D(fifty_one)]
    assert isinstance(parse_json(f"[{fifty}]", "f")[0], int)
    assert isinstance(parse_yaml(f"a: {fifty_one}", "f")["a"], Decimal)
    assert parse_yaml("a: " + "7" * 5000, "f")["a"] == D("7" * 5000)  # past Python's 4,300-digit int limit


def test_yaml_numbers_are_read_through_their_text():
    value = parse_yaml("a: 1e-9\nb: 1.0e+3\nc: 1_000.5\nd: .inf\ne: -.Inf\nf: .nan\ng: 0.1\n", "f.yaml")
    assert value["a"] == D("1E-9") and value["b"] == D("1.0E+3") and value["c"] == D("1000.5")
    assert (value["d"], value["e"], value["g"]) == (D("Infinity"), D("-Infinity"), D("0.1"))
    assert value["f"].is_nan()
    # YAML 1.1 integers: hexadecimal 0x1F = 31, octal 017 = 15, sexagesimal 190:20:30 = 190 x 3600 + 20 x 60 + 30
    assert parse_yaml("[0x1F, 017, 190:20:30, 1:30.5]", "f") == [31, 15, 685230, D("90.5")]


def test_a_key_written_twice_is_an_error_naming_the_line():
    with pytest.raises(InputError) as caught:
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert str(caught.value) == "f.yaml: invalid YAML at line 3, column 1: found duplicate key 'a'"
    with pytest.raises(InputError) as caught:
        parse_json('{"a": 1, "a": 2}', "f.json")
    assert str(caught.value) == "f.json: invalid JSON: duplicate key 'a' in one object"


@pytest.mark.parametrize("tag", ["!!binary VVNE", "!!set {a}", "!!omap [a: 1]", "!!pairs [a: 1]"])
def test_yaml_tags_of_types_no_file_holds_are_refused(tag: str):
    with pytest.raises(InputError) as caught:
        parse_yaml(f"x: {tag}\n", "f.yaml")
    assert caught.value.field == "f.yaml" and "is not supported here" in caught.value.message


def test_a_syntax_error_names_its_line_and_column():
    with pytest.raises(InputError) as caught:
        parse_json('{"a": 1,}', "f.json")
    assert str(caught.value) == (
        "f.json: invalid JSON at line 1, column 9: Expecting property name enclosed in double quotes"
    )
    with pytest.raises(InputError) as caught:
        parse_yaml("a: [1,\nb: 2\n", "f.yaml")
    assert caught.value.message.startswith("invalid YAML at line ")


def test_either_is_json_first_then_yaml():
    assert parse_either('{"a": 0.5}', "f") == {"a": D("0.5")}
    assert parse_either("a: 0.5\n", "f") == {"a": D("0.5")}
    with pytest.raises(InputError) as caught:
        parse_either("[1, ", "f")
    assert caught.value.message.startswith("neither JSON (invalid JSON at line 1, column 5")


def test_bytes_are_utf8_with_an_optional_byte_order_mark():
    assert decoded(b"\xef\xbb\xbfversion: 1", "f") == "version: 1"
    with pytest.raises(InputError) as caught:
        decoded(b"ab\xffc", "f")
    assert str(caught.value) == "f: not UTF-8 text (byte 2: invalid start byte)"
    with pytest.raises(InputError) as caught:
        decoded(b" " * (MAX_BYTES + 1), "big.json")
    assert str(caught.value) == "big.json: is larger than 16 MiB, the largest file crossmargin reads"


def test_yaml_larger_than_its_limit_is_refused_before_it_is_parsed():
    text = "a: [" + "1, " * (MAX_YAML_BYTES // 3) + "1]\n"  # a little over 2 MiB
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "big.yaml")
    assert caught.value.message == "is larger than 2 MiB, the largest YAML crossmargin reads (write it as JSON)"


def test_nesting_is_counted_to_the_limit():
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(deepest, "f") is not None and parse_yaml(deepest, "f") is not None
    for parse in (parse_json, parse_yaml):
        with pytest.raises(InputError) as caught:
            parse("[" + deepest + "]", "f")
        assert caught.value.message == f"nested deeper than {MAX_DEPTH} levels of lists and mappings"


def test_a_yaml_alias_inside_the_collection_it_names_is_refused():
    with pytest.raises(InputError) as caught:
        parse_yaml("a: &a [1, *a]\n", "f.yaml")
    assert caught.value.message == "a YAML alias refers to a collection that contains it"
    # a shared collection (no cycle) is fine: b holds two aliases of a
    assert parse_yaml("a: &a [1, 2]\nb: [*a, *a]\n", "f")["b"] == [[1, 2], [1, 2]]


def test_a_duplicate_key_is_found_in_one_pass(tmp_path: Path):
    # 60,000 keys: the quadratic check compared 1.8 billion pairs; the duplicate is the last line's key
    lines = [f"A{i:06d}: 1\n" for i in range(60_000)]
    path = write(tmp_path / "keys.yaml", "".join([*lines, "A000007: 2\n"]))
    with pytest.raises(InputError) as caught:
        load_document(path)
    assert caught.value.message == "invalid YAML at line 60001, column 1: found duplicate key 'A000007'"


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
