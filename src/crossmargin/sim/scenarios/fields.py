"""Reading a scenario file's raw values (parsed YAML) at the input boundary: each check names the field it
refuses (an :class:`~crossmargin.model.InputError`), so a scenario file, a contagion scenario or an uploaded one
says where it is wrong."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.model import InputError
from crossmargin.model.numbers import shown


def kind_of(raw: Any) -> str:
    """How a refused value is shown: a number or a string as written, anything else by its type."""
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        return shown(raw)
    return repr(raw) if isinstance(raw, float | str) else type(raw).__name__


def mapping(raw: Any, field: str) -> Mapping[Any, Any]:
    """``raw`` if it is a mapping."""
    if not isinstance(raw, Mapping):
        raise InputError(field, f"expected a mapping of keys, got {kind_of(raw)}")
    return raw


def listed(raw: Any, field: str) -> list[Any]:
    """``raw`` as a list if it is a list (or a tuple)."""
    if not isinstance(raw, list | tuple):
        raise InputError(field, f"expected a list, got {kind_of(raw)}")
    return list(raw)


def keys(raw: Mapping[Any, Any], field: str, allowed: Sequence[str], required: Sequence[str]) -> None:
    """Refuse a key of ``raw`` not ``allowed`` and a ``required`` one missing, naming it under ``field``."""
    prefix = f"{field}." if field else ""
    for key in raw:
        if key not in allowed:
            raise InputError(f"{prefix}{key}", f"unknown key; expected one of {', '.join(allowed)}")
    for key in required:
        if key not in raw:
            raise InputError(f"{prefix}{key}", "is required")


def text(raw: Any, field: str, empty: bool = False) -> str:
    """``raw`` if it is a string, not blank unless ``empty``."""
    if not isinstance(raw, str) or (not empty and not raw.strip()):
        raise InputError(field, f"expected {'a' if empty else 'a non-empty'} string, got {kind_of(raw)}")
    return raw
