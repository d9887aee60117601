"""JSON Schemas shipped with crossmargin (package data)."""

import json
from importlib.resources import files
from typing import Any

PORTFOLIO_V1 = "portfolio-v1.schema.json"
"""File name of the portfolio document (version 1) schema in this package."""


def shipped_schema() -> dict[str, Any]:
    """The JSON Schema of portfolio document version 1, as shipped in ``crossmargin/schemas``."""
    schema: dict[str, Any] = json.loads(files(__name__).joinpath(PORTFOLIO_V1).read_text(encoding="utf-8"))
    return schema
