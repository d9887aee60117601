"""Parsing JSON and YAML text with numbers kept exact (portfolio documents, bundled rulebook tables).

Every number with a fraction or an exponent is read as a ``Decimal`` of its literal text (``0.1`` is
``Decimal("0.1")``, never the float nearest to it); integers stay ``int``. Spellings of NaN and the
infinities are read as the Decimal NaN and infinities, so that validation rejects them by name. A key
written twice in one mapping is an error rather than a silent overwrite.
"""

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import exact


class _DuplicateKeyError(ValueError):
    """A JSON object names one key twice."""


class _ExactLoader(yaml.SafeLoader):
    """YAML's safe loader, with floats read as Decimal and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of ``node``; a key written twice is an error naming its line."""
        seen: list[Any] = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.append(key)
        return super().construct_mapping(node, deep)


def _yaml_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    """A YAML float as the Decimal of its literal text (``.inf``, ``-.inf``, ``.nan`` included)."""
    text = loader.construct_scalar(node).replace("_", "").lower()
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-")
    try:
        if digits == ".inf":
            return Decimal(f"{sign}Infinity")
        if digits == ".nan":
            return Decimal("NaN")
        if ":" not in digits:
            return Decimal(text)
        return Decimal(sign + str(_base_60(digits)))
    except InvalidOperation:
        raise ConstructorError(None, None, f"{text!r} is not a number", node.start_mark) from None


def _base_60(digits: str) -> Decimal:
    """A YAML 1.1 sexagesimal number, e.g. ``1:30.5`` is 90.5."""
    value = Decimal(0)
    with exact():
        for part in digits.split(":"):
            value = value * 60 + Decimal(part)
    return value


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _yaml_decimal)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKeyError(key)
        mapping[key] = value
    return mapping


def parse_json(text: str, origin: str) -> Any:
    """The value written as JSON in ``text``; errors name ``origin`` (a file name)."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise InputError(origin, f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except _DuplicateKeyError as err:
        raise InputError(origin, f"invalid JSON: duplicate key {err.args[0]!r} in one object") from None


def parse_yaml(text: str, origin: str) -> Any:
    """The value written as YAML in ``text``; errors name ``origin`` (a file name)."""
    try:
        return yaml.load(text, Loader=_ExactLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(origin, f"invalid YAML{where}: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise InputError(origin, f"invalid YAML: {err}") from None


def parse_either(text: str, origin: str) -> Any:
    """JSON if ``text`` parses as JSON, else YAML."""
    try:
        return parse_json(text, origin)
    except InputError as json_error:
        try:
            return parse_yaml(text, origin)
        except InputError as yaml_error:
            raise InputError(origin, f"neither JSON ({json_error.message}) nor YAML ({yaml_error.message})") from None
