"""Evaluate a document dict under its rulebook, as the command line does (tables filled in from the rulebook)."""

from typing import Any

from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.document import portfolio_from_document
from crossmargin.venues import rulebook


def load(document: dict[str, Any]) -> tuple[Portfolio, RuleChoices]:
    """The portfolio of ``document`` with its rulebook's tables, and the rulebook's rules."""
    book = rulebook(document.get("rulebook", "generic"))
    return portfolio_from_document(book.apply_to(document)), book.rules


def evaluate(document: dict[str, Any]) -> dict[str, AccountResult]:
    """Every account of ``document`` evaluated under its rulebook, by id."""
    portfolio, rules = load(document)
    return {a.id: evaluate_account(a, portfolio, rules) for a in portfolio.accounts}
