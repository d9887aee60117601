"""What a parsed portfolio document sets up: its portfolio under its rulebook, and the engine loop's whole
configuration (rules, liquidation terms, oracle settings, insurance fund, liquidity). The CLI's ``replay``
and the service (``crossmargin serve``) both start from here, so the same document gives the same loop."""

from typing import Any

from crossmargin.liquidation.liquidity import liquidity_from_dict
from crossmargin.live.loop import LoopConfig
from crossmargin.margin.valuation import with_option_marks
from crossmargin.model import InputError, Portfolio, RuleChoices
from crossmargin.model.document import clearing_section, portfolio_from_document
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook


def portfolio_of(raw: dict[str, Any]) -> tuple[Portfolio, RuleChoices]:
    """The portfolio of a parsed document, with its rulebook's tables, and the rulebook's rules."""
    name = raw.get("rulebook", "generic")
    if not isinstance(name, str):
        portfolio_from_document(raw)  # reports the bad rulebook field as the document check words it
        raise InputError("rulebook", f"must be a rulebook name, got {name!r}")
    book = rulebook(name)
    return with_option_marks(portfolio_from_document(book.apply_to(raw))), book.rules


def loop_config_of(raw: dict[str, Any]) -> LoopConfig:
    """The engine loop's configuration for a parsed document: its portfolio and rulebook, the rulebook's
    liquidation terms, the oracle settings, the insurance fund and each instrument's liquidity (a ``*``
    entry is every instrument's default; errors name ``liquidity.<instrument>...``)."""
    portfolio, rules = portfolio_of(raw)
    book = rulebook(raw.get("rulebook", "generic"))
    fund, sections = clearing_section(book.apply_to(raw))
    models = {name: liquidity_from_dict(section, f"liquidity.{name}") for name, section in sections.items()}
    default = models.pop("*", None)
    if default is not None:
        models = {name: models.get(name, default) for name in portfolio.instruments}
    return LoopConfig(portfolio, rules, book.liquidation, oracle_config(raw), models, fund)
