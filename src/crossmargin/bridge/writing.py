"""Writing an imported document or a recording as text, numbers exact: every ``Decimal`` appears as the number its
digits say (``0.004``, never ``0.004000000000000000083``, never an exponent), so the file reads back as the
same document (docs/portfolio-document.md: numbers are read as the decimal of their literal text)."""

import json
from decimal import Decimal
from typing import Any

import yaml


def number_text(value: Decimal) -> str:
    """``value`` in fixed-point notation without trailing zeros (``-0`` as ``0``), every digit kept."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def json_text(value: Any, indent: int = 2) -> str:
    """``value`` (mappings, lists, text, booleans, null, ``Decimal``, ``int``, ``float``) as indented JSON, each
    ``Decimal`` written as a JSON number with its exact digits."""
    return _json(value, indent, 0) + "\n"


def _json(value: Any, indent: int, depth: int) -> str:
    pad, inner = " " * (indent * depth), " " * (indent * (depth + 1))
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_json(v, indent, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{_json(v, indent, depth + 1)}" for v in value) + f"\n{pad}]"
    return json.dumps(value)


class _ExactDumper(yaml.SafeDumper):
    """A YAML dumper writing each ``Decimal`` as a plain number scalar with its exact digits."""


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = number_text(value)
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


_ExactDumper.add_representer(Decimal, _decimal)


def yaml_text(value: Any) -> str:
    """``value`` as block-style YAML, keys in their order, each ``Decimal`` a plain number with its exact digits."""
    return yaml.dump(value, Dumper=_ExactDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def document_text(value: Any, file_name: str) -> str:
    """``value`` as the file ``file_name`` should hold it: YAML for ``.yaml``/``.yml``, JSON otherwise."""
    return yaml_text(value) if file_name.lower().endswith((".yaml", ".yml")) else json_text(value)
