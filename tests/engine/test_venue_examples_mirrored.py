"""Every venue's published examples through the risk book as well as the exact path.

The worked examples of ``tests/venues/test_<venue>.py`` are collected here again, with their parameters and
marks, and run with the venue module's ``evaluate`` and ``load`` (and ``evaluate_account``, where a test calls
it) wrapped: each account the example evaluates, or loads to work on (a liquidation, a what-if), is also built
into a :class:`~crossmargin.engine.book.RiskBook` under the same rules. Every pool's mirrored equity, initial
equity, maintenance and initial margin must equal the exact figures within ``RELATIVE`` (of 1 + the figure),
its float verdict the exact one wherever it is clear of the boundary by more than that, and the screened,
exactly confirmed liquidatable set the exact one. The example itself holds the exact figures to the venue's
published numbers, so the mirror is held to them too, without a number restated here. A mismatch is reported
at the test's teardown, so that a strict xfail (an example the engine cannot reproduce yet) does not hide it.
An example the risk book refuses is skipped with the refusal, which names the field it cannot mirror (none
of today's examples is: none holds an option or a scenario grid).

Tests that evaluate no account (rulebook loading, tier tables, examples the exact path refuses before
evaluating: strict xfails) are listed in ``NOT_EVALUATED`` with what they check instead; a venue test that
is in neither group fails here until it evaluates an account or is listed.
"""

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from crossmargin.engine.book import RiskBook
from crossmargin.engine.screening import screen
from crossmargin.margin import account as exact_account
from crossmargin.margin.account import AccountResult
from crossmargin.model import InputError, Portfolio, RuleChoices, exact
from tests.engine.test_book import RELATIVE, close
from tests.venues import (
    evaluation,
    test_binance_usdm,
    test_bybit_uta,
    test_drift_v2,
    test_dydx_v4,
    test_hyperliquid,
    test_okx,
)

VENUES: dict[str, ModuleType] = {
    "binance": test_binance_usdm,
    "bybit": test_bybit_uta,
    "drift": test_drift_v2,
    "dydx": test_dydx_v4,
    "hyperliquid": test_hyperliquid,
    "okx": test_okx,
}
EXACT_CONTEXT = {test_bybit_uta}  # modules whose autouse fixture runs every test under exact() (checked below)

_LOADS = "checks the bundled rulebook's tables and rules, no account"
_REFUSED = "a strict xfail: the exact path refuses the example before evaluating an account"
NOT_EVALUATED: dict[str, str] = {
    "binance.test_bundled_rulebooks_load": _LOADS,
    "binance.test_bundled_cum_follows_binance_recurrence": "derives tier tables, no account",
    "bybit.test_bundled_tables_load_with_bybit_rules": _LOADS,
    "bybit.test_published_mm_deductions_equal_our_continuity_recurrence": "derives a tier table, no account",
    "drift.test_bundled_rulebook_loads_with_the_venue_rules": _LOADS,
    "drift.test_v1_maintenance_liability_weight_of_an_unvalidated_market_is_refused": "a document refused",
    "drift.test_v2_v4_fill_weights_and_ratios": _REFUSED + " (no fill side)",
    "drift.test_v3_scaled_initial_asset_weight": _REFUSED + " (no market-wide deposits)",
    "drift.test_v8_strict_quote_price": _REFUSED + " (no TWAP-bounded prices)",
    "drift.test_v11_open_spot_orders": _REFUSED + " (no open orders)",
    "dydx.test_bundled_rulebook_loads": _LOADS,
    "hyperliquid.test_bundled_rulebook_loads_with_the_mainnet_margin_tiers": _LOADS,
    "okx.test_bundled_rulebook_loads_with_okx_rules": _LOADS,
}


def mirror_mismatches(portfolio: Portfolio, rules: RuleChoices, results: dict[str, AccountResult]) -> list[str]:
    """What the risk book of ``portfolio`` under ``rules`` gets wrong against the exact ``results`` (by
    account id; the accounts not in ``results`` are left out of the book)."""
    accounts = tuple(a for a in portfolio.accounts if a.id in results)
    try:
        book = RiskBook(replace(portfolio, accounts=accounts), rules)
    except InputError as refused:
        pytest.skip(f"the risk book cannot mirror this example: {refused}")
    found = []
    threshold = float(rules.liquidation_threshold)
    for account_id, result in results.items():
        pools = [(book.cross_pool[account_id], result.cross)]
        for item in result.positions:
            if item.pool is not None:
                position = item.figures.position
                pools.append((book.isolated_pool[(account_id, position.instrument, position.size > 0)], item.pool))
        for index, truth in pools:
            mirror = book.figures[index]
            expected = (truth.equity, truth.initial_equity, truth.maintenance_margin, truth.initial_margin)
            if not all(close(m, t) for m, t in zip(mirror, expected, strict=True)):
                found.append(f"{account_id} pool {book.owners[index]}: mirror {list(mirror)}, exact {expected}")
            equity, required = float(truth.equity), threshold * float(truth.maintenance_margin)
            clear = abs(equity - required) > RELATIVE * (2.0 + abs(equity) + abs(required))
            decided = truth.maintenance_margin != 0 or mirror[2] == 0.0
            if clear and decided and bool(book.liquidatable[index]) != truth.liquidatable:
                found.append(f"{account_id} pool {book.owners[index]}: float verdict {book.liquidatable[index]}")
    exact_set = {
        account_id
        for account_id, result in results.items()
        if result.cross.liquidatable or any(p.pool is not None and p.pool.liquidatable for p in result.positions)
    }
    if set(screen(book).liquidatable) != exact_set:
        found.append(f"screened {sorted(screen(book).liquidatable)}, exact {sorted(exact_set)}")
    return found


class Mirror:
    """Wraps a venue module's evaluation so that every account it evaluates is mirrored (module doc)."""

    def __init__(self) -> None:
        self.checked = 0
        self.mismatches: list[str] = []

    def check(self, portfolio: Portfolio, rules: RuleChoices, results: dict[str, AccountResult]) -> None:
        self.checked += 1
        self.mismatches += mirror_mismatches(portfolio, rules, results)

    def evaluate(self, document: dict[str, Any]) -> dict[str, AccountResult]:
        results = evaluation.evaluate(document)
        self.check(*evaluation.load(document), results)
        return results

    def load(self, document: dict[str, Any]) -> tuple[Portfolio, RuleChoices]:
        portfolio, rules = evaluation.load(document)
        if portfolio.accounts:
            self.check(portfolio, rules, evaluation.evaluate(document))
        return portfolio, rules

    def evaluate_account(self, account: Any, portfolio: Portfolio, rules: RuleChoices) -> AccountResult:
        result = exact_account.evaluate_account(account, portfolio, rules)
        self.check(portfolio, rules, {account.id: result})
        return result


def venue_tests() -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(venue, name, function) of every test function of the venue modules."""
    for venue, module in VENUES.items():
        for name, value in vars(module).items():
            if name.startswith("test_") and callable(value) and value.__module__ == module.__name__:
                yield venue, name, value


for _venue, _name, _function in venue_tests():
    if f"{_venue}.{_name}" not in NOT_EVALUATED:
        globals()[f"test_{_venue}__{_name.removeprefix('test_')}"] = _function


@pytest.fixture(autouse=True)
def mirrored(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    """Every account the test evaluates also through the risk book; the mismatches fail the teardown."""
    module = next((m for m in VENUES.values() if m.__name__ == request.function.__module__), None)
    if module is None:
        yield Mirror()
        return
    mirror = Mirror()
    monkeypatch.setattr(module, "evaluate", mirror.evaluate)
    monkeypatch.setattr(module, "load", mirror.load)
    if hasattr(module, "evaluate_account"):
        monkeypatch.setattr(module, "evaluate_account", mirror.evaluate_account)
    with exact() if module in EXACT_CONTEXT else nullcontext():
        yield mirror
    assert mirror.mismatches == []
    assert mirror.checked, "evaluated no account: list it in NOT_EVALUATED with what it checks"


def test_the_venue_modules_have_no_fixture_but_the_known_one():
    # a venue module's fixtures do not come along with its tests: the one there is, is stood in for above
    with_fixtures = {
        module
        for module in VENUES.values()
        if any(
            hasattr(value, "_fixture_function_marker") or type(value).__name__ == "FixtureFunctionDefinition"
            for value in vars(module).values()
        )
    }
    assert with_fixtures == EXACT_CONTEXT


def test_every_listed_test_exists():
    names = {f"{venue}.{name}" for venue, name, _ in venue_tests()}
    assert set(NOT_EVALUATED) <= names
