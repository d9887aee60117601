"""Reading portfolio documents from JSON and YAML files, with numbers kept exact.

Every number with a fraction or an exponent is read as a ``Decimal`` of its literal text (``0.1`` is
``Decimal("0.1")``, never the float nearest to it); integers stay ``int``. Spellings of NaN and the
infinities are read as the Decimal NaN and infinities, so that validation rejects them by name. A key
written twice in one mapping is an error rather than a silent overwrite.
"""

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
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


def load_document(path: Path) -> dict[str, Any]:
    """The mapping written in the JSON or YAML file at ``path``, numbers exact (see module doc).

    ``.json`` files are read as JSON, ``.yaml`` and ``.yml`` as YAML, anything else as JSON and then, if
    that fails, as YAML. The content is not validated: pass it to
    :func:`crossmargin.model.document.portfolio_from_document`. A missing or unreadable file, a syntax
    error (with its line) or a top level that is not a mapping raises :class:`InputError` whose field is
    the file name.
    """
    text = _read(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = _parse_json(text, path)
    elif suffix in (".yaml", ".yml"):
        data = _parse_yaml(text, path)
    else:
        data = _parse_either(text, path)
    if not isinstance(data, dict):
        found = "nothing" if data is None else f"a {type(data).__name__}"
        raise InputError(str(path), f"the document must be a mapping of keys (version, base, ...), found {found}")
    return data


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a document") from None
    except UnicodeDecodeError as err:
        raise InputError(str(path), f"not UTF-8 text (byte {err.start}: {err.reason})") from None
    except OSError as err:
        raise InputError(str(path), f"cannot be read: {err.strerror}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKeyError(key)
        mapping[key] = value
    return mapping


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise InputError(str(path), f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except _DuplicateKeyError as err:
        raise InputError(str(path), f"invalid JSON: duplicate key {err.args[0]!r} in one object") from None


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        return yaml.load(text, Loader=_ExactLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(str(path), f"invalid YAML{where}: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise InputError(str(path), f"invalid YAML: {err}") from None


def _parse_either(text: str, path: Path) -> Any:
    try:
        return _parse_json(text, path)
    except InputError as json_error:
        try:
            return _parse_yaml(text, path)
        except InputError as yaml_error:
            raise InputError(
                str(path), f"neither JSON ({json_error.message}) nor YAML ({yaml_error.message})"
            ) from None
