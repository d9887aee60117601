"""The ``oracle`` section of a portfolio document as an :class:`~crossmargin.oracle.config.OracleConfig`."""

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from crossmargin.model import InputError
from crossmargin.model.document import GuardsDocument, oracle_section
from crossmargin.oracle.config import Guards, OracleConfig, Policy, Status


def _guards(document: GuardsDocument, base: Guards) -> Guards:
    given = {f.name: getattr(document, f.name) for f in fields(Guards) if getattr(document, f.name) is not None}
    return Guards(**{**{f.name: getattr(base, f.name) for f in fields(Guards)}, **given})


def oracle_config(data: Mapping[str, Any]) -> OracleConfig:
    """The oracle settings of a parsed document (defaults for what it leaves out)."""
    section = oracle_section(data)
    try:
        default = _guards(section, Guards())
    except InputError as err:
        raise err.within("oracle") from None
    symbols = {}
    for name, document in section.symbols.items():
        try:
            symbols[name] = _guards(document, default)
        except InputError as err:
            raise err.within(f"oracle.symbols.{name}") from None
    base = Policy()
    policy = Policy(
        **{
            key: frozenset(Status(s) for s in value) if value is not None else getattr(base, key)
            for key, value in section.policy.model_dump().items()
        }
    )
    return OracleConfig(default, symbols, policy)
