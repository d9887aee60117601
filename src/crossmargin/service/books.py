"""The book a service database holds, as stored in its ``book`` row: a portfolio document (its file name
and text, parsed exactly as the CLI parses the file), or a generated book (name :data:`GENERATED`, text
``{"accounts": N, "seed": S}``: :func:`~crossmargin.sim.population.synthetic_book` under the generic
rulebook with the stress runs' default liquidity and insurance fund), for load tests at sizes no document
file holds."""

import json

from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import LoopConfig
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.stress.configs import default_insurance_fund, default_liquidity
from crossmargin.venues import rulebook

GENERATED = "generated/synthetic_book"
"""The ``book`` row's name for a generated book: a file name never holds a ``/``, so no document's name is
this one."""


def generated(accounts: int, seed: int) -> tuple[str, str]:
    """The ``book`` row of a generated book of ``accounts`` accounts drawn with ``seed``."""
    return GENERATED, json.dumps({"accounts": accounts, "seed": seed})


def book_config(name: str, text: str) -> LoopConfig:
    """The engine loop's configuration for a stored book (see module doc)."""
    if name != GENERATED:
        return loop_config_of(parse_document(text, name))
    try:
        spec = json.loads(text)
    except json.JSONDecodeError:
        spec = None
    if (
        not isinstance(spec, dict)
        or set(spec) != {"accounts", "seed"}
        or not all(type(v) is int for v in spec.values())
    ):
        raise InputError("book", f"a generated book is stored as {{accounts, seed}}, found {text!r}")
    portfolio = synthetic_book(spec["accounts"], spec["seed"])
    generic = rulebook("generic")
    return LoopConfig(
        portfolio, generic.rules, generic.liquidation, OracleConfig(), default_liquidity(portfolio),
        default_insurance_fund(portfolio),
    )  # fmt: skip
