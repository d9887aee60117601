"""Parsing JSON and YAML text with numbers kept exact (portfolio documents, price feeds, stress scenarios and
parameter sets, bundled rulebook tables).

Every number with a fraction or an exponent is read as a ``Decimal`` of its literal text (``0.1`` is
``Decimal("0.1")``, never the float nearest to it); integers stay ``int``, except those of 10^50 or more,
which are read as ``Decimal`` so that the number check (:func:`crossmargin.model.numbers.bounded`) refuses
them by field (Python will not even convert an integer of more than 4,300 digits). Spellings of NaN and the
infinities are read as the Decimal NaN and infinities, so that validation rejects them by name. A key
written twice in one mapping is an error rather than a silent overwrite.

Hostile text is refused before it costs anything (the limits are listed in ``docs/portfolio-document.md``,
section *Limits*): a file larger than :data:`MAX_BYTES` (:func:`decoded`) and YAML text larger than
:data:`MAX_YAML_BYTES`, both before parsing; values nested deeper than :data:`MAX_DEPTH`, more than
:data:`MAX_VALUES` values once YAML aliases are expanded (the "billion laughs"), a YAML alias inside the
collection it names, and the YAML tags of types no crossmargin file holds (``!!binary``, ``!!set``,
``!!omap``, ``!!pairs``; ``!!python/...`` tags were never constructed).
"""

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import DIGITS, exact

MAX_BYTES = 16 * 2**20
"""Largest file read (16 MiB), checked before parsing: JSON parses at 4 MB/s (16 MiB of one-digit values, the
worst case) to 15 MB/s here, so a JSON file at the limit parses in a few seconds; a portfolio document of
100,000 accounts is about 13 MiB of JSON. A feed's 100,000 updates take about 6 MiB."""
MAX_YAML_BYTES = 2 * 2**20
"""Largest YAML text parsed (2 MiB), checked before parsing: YAML costs about 8 µs a value here (0.25 MB/s for
2 MiB of one-digit values, the worst case; 0.6 MB/s for a document of small accounts), so a YAML file at the
limit parses in under ten seconds; a portfolio document of 20,000 accounts is about 2 MiB of YAML. Larger
books are written as JSON."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings; the deepest crossmargin file nests 6 levels."""
MAX_VALUES = 4_000_000
"""Most values (scalars, lists and mappings, a mapping's keys included) in one file once YAML aliases are
expanded: 2.5 times a book of 100,000 accounts (16 values each), far below an alias bomb's billions."""
_WIDEST_INT = 10**DIGITS  # integers from here up are read as Decimal (see module doc)
_EXPONENT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
"""Numbers in exponent notation as YAML 1.2 and JSON write them (``1e-9``, ``2.5E6``); YAML 1.1, which the
loader otherwise follows, reads them as text unless they have a dot and a signed exponent (``1.0e-9``)."""


def decoded(data: bytes, origin: str) -> str:
    """The UTF-8 text of a file's bytes, a leading byte-order mark dropped; errors name ``origin``.

    Readers pass at most ``MAX_BYTES + 1`` bytes (``handle.read(MAX_BYTES + 1)``), so a larger file, or a
    device that never ends, is refused here before anything is parsed.
    """
    if len(data) > MAX_BYTES:
        raise InputError(origin, f"is larger than {MAX_BYTES // 2**20} MiB, the largest file crossmargin reads")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(origin, f"not UTF-8 text (byte {err.start}: {err.reason})") from None


class _DuplicateKeyError(ValueError):
    """A JSON object names one key twice."""


class _ExactLoader(yaml.CSafeLoader):
    """YAML's safe loader (libyaml's parser), with floats read as Decimal and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of ``node``; a key written twice is an error naming its line."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:
                raise ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
                ) from None
            if repeated:
                raise ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
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


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | Decimal:
    """A YAML integer (decimal, ``0x``, ``0o``, ``0b``, base 60); from 10^50 up, as a Decimal."""
    text = loader.construct_scalar(node).replace("_", "")
    digits = text.lstrip("+-")
    if digits.isdigit() and len(digits) > DIGITS and not digits.startswith("0"):
        return Decimal(text)  # too long for int() past 4,300 digits
    try:
        value = SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:
        raise ConstructorError(None, None, f"{text!r} is not an integer", node.start_mark) from None
    return Decimal(value) if abs(value) >= _WIDEST_INT else value


def _unsupported(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    """Tags of types no crossmargin file holds are errors, not values that later checks might coerce."""
    raise ConstructorError(None, None, f"the YAML tag {node.tag!r} is not supported here", node.start_mark)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _yaml_decimal)
_ExactLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT, list("-+0123456789"))
_ExactLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)
for _tag in ("binary", "set", "omap", "pairs"):
    _ExactLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _unsupported)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKeyError(key)
        mapping[key] = value
    return mapping


def _json_int(text: str) -> int | Decimal:
    """A JSON integer; from 10^50 up, as a Decimal (see module doc)."""
    return Decimal(text) if len(text.lstrip("-")) > DIGITS else int(text)


_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_int=_json_int, parse_constant=Decimal, object_pairs_hook=_unique_keys
)  # one for every text: a feed parses one a line


def parse_json(text: str, origin: str) -> Any:
    """The value written as JSON in ``text``; errors name ``origin`` (a file name)."""
    return _checked_shape(_json_value(text, origin), origin)


def _json_value(text: str, origin: str) -> Any:
    """The value of the JSON ``text``, before its shape is checked."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as err:
        raise InputError(origin, f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except _DuplicateKeyError as err:
        raise InputError(origin, f"invalid JSON: duplicate key {err.args[0]!r} in one object") from None
    except RecursionError:
        raise InputError(origin, f"invalid JSON: nested deeper than {MAX_DEPTH} levels of lists and objects") from None


def parse_yaml(text: str, origin: str) -> Any:
    """The value written as YAML in ``text``; errors name ``origin`` (a file name)."""
    if len(text) > MAX_YAML_BYTES and len(text.encode("utf-8")) > MAX_YAML_BYTES:
        raise InputError(
            origin,
            f"is larger than {MAX_YAML_BYTES // 2**20} MiB, the largest YAML crossmargin reads (write it as JSON)",
        )
    try:
        value = yaml.load(text, Loader=_ExactLoader)  # a safe loader: no arbitrary objects
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(origin, f"invalid YAML{where}: {err.problem or err.context}") from None
    except yaml.reader.ReaderError as err:
        before = text.encode("utf-8")[: err.position].decode("utf-8", errors="ignore")
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        raise InputError(origin, f"invalid YAML at line {line}, column {column}: {err.reason}") from None
    except yaml.YAMLError as err:
        raise InputError(origin, f"invalid YAML: {err}") from None
    except RecursionError:
        raise InputError(origin, f"invalid YAML: nested deeper than {MAX_DEPTH} levels of lists and mappings") from None
    return _checked_shape(value, origin)


def parse_either(text: str, origin: str) -> Any:
    """JSON if ``text`` parses as JSON, else YAML."""
    try:
        value = _json_value(text, origin)
    except InputError as json_error:
        try:
            return parse_yaml(text, origin)
        except InputError as yaml_error:
            raise InputError(origin, f"neither JSON ({json_error.message}) nor YAML ({yaml_error.message})") from None
    return _checked_shape(value, origin)


def parse_document(text: str, name: str) -> dict[str, Any]:
    """The mapping a portfolio document's ``text`` writes, read by its file ``name``: ``.json`` as JSON,
    ``.yaml``/``.yml`` as YAML, anything else as JSON and then, if that fails, as YAML. A top level that is
    not a mapping raises :class:`InputError` naming ``name``."""
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if suffix == "json":
        data = parse_json(text, name)
    elif suffix in ("yaml", "yml"):
        data = parse_yaml(text, name)
    else:
        data = parse_either(text, name)
    if not isinstance(data, dict):
        found = "nothing" if data is None else f"a {type(data).__name__}"
        raise InputError(name, f"the document must be a mapping of keys (version, base, ...), found {found}")
    return data


def _frame(collection: dict[Any, Any] | list[Any]) -> list[Any]:
    """The walk's record of one collection: [itself, its sub-collections, the next to visit, its values so far]."""
    entries = collection.values() if isinstance(collection, dict) else collection
    inner = [entry for entry in entries if isinstance(entry, dict | list)]
    scalars = (2 * len(collection) if isinstance(collection, dict) else len(collection)) - len(inner)
    return [collection, inner, 0, 1 + scalars]


def _checked_shape(value: Any, origin: str) -> Any:
    """``value`` if it nests at most :data:`MAX_DEPTH` levels, holds at most :data:`MAX_VALUES` values with
    YAML aliases expanded (a mapping's keys count) and contains no collection inside itself; else an
    :class:`InputError` naming ``origin``. A collection shared through aliases is walked once (its size is
    remembered), so the check costs one pass over the text's own collections however far aliases expand."""
    if not isinstance(value, dict | list):
        return value
    sizes: dict[int, int] = {}  # id of a walked collection -> values in it, itself included, aliases expanded
    walking = {id(value)}
    stack = [_frame(value)]
    while stack:
        top = stack[-1]
        collection, inner, index, size = top
        if index < len(inner):
            top[2] = index + 1
            child = inner[index]
            if id(child) in sizes:
                top[3] = size + sizes[id(child)]
            elif id(child) in walking:
                raise InputError(origin, "a YAML alias refers to a collection that contains it")
            elif len(stack) == MAX_DEPTH:
                raise InputError(origin, f"nested deeper than {MAX_DEPTH} levels of lists and mappings")
            else:
                walking.add(id(child))
                stack.append(_frame(child))
                continue
        else:
            stack.pop()
            walking.discard(id(collection))
            sizes[id(collection)] = size
            if stack:
                stack[-1][3] += size
        if (stack and stack[-1][3] > MAX_VALUES) or size > MAX_VALUES:
            raise InputError(origin, f"holds more than {MAX_VALUES:,} values (YAML aliases counted at full size)")
    return value
