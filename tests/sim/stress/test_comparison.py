"""The stress comparison both the CLI and the service run (:mod:`crossmargin.sim.stress.comparison`), on the
three-account book and the two-step crash of tests/sim/stress/conftest.py (worked by hand in test_runner.py).
That the CLI's report is unchanged by it: tests/cli/test_stress.py; that the service's runs give the CLI's
report: tests/service/test_stress_runs.py."""

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.live.document import portfolio_of
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.stress.comparison import Advance, StressBook, check_configs, compared_configs, stress_comparison
from crossmargin.sim.stress.configs import default_liquidity
from crossmargin.venues import rulebook
from tests.builders import GENERIC, D
from tests.sim.stress.conftest import CRASH, config

OPTIONS = Path(__file__).resolve().parents[3] / "examples" / "options.yaml"


def bare(fund: Decimal | None = None, liquidity: Mapping[str, LiquidityModel] | None = None) -> StressBook:
    return StressBook(
        config().portfolio, GENERIC, LiquidationTerms(partial=False), liquidity or {}, fund, OracleConfig()
    )


def test_a_book_without_liquidity_or_fund_gets_the_defaults():
    cross, isolated = compared_configs(bare())
    assert (cross.label, isolated.label) == ("cross", "isolated")
    # the default fund: 1 % of the held balances at full price, 150 + 1000 + 25 = 1175 USDT -> 11.75, to a
    # whole unit: 12
    assert cross.insurance_fund == isolated.insurance_fund == D(12)
    assert dict(cross.liquidity) == default_liquidity(config().portfolio)
    assert cross.liquidity  # the one marked instrument has its calibrated model


def test_a_books_own_fund_and_liquidity_are_kept_and_other_rulebooks_follow():
    depth = default_liquidity(config().portfolio)
    configs = compared_configs(bare(D(0), depth), ["binance-usdm", "dydx-v4"])
    assert [c.label for c in configs] == ["cross", "isolated", "binance-usdm", "dydx-v4"]
    assert all(c.insurance_fund == 0 and c.liquidity == depth for c in configs)  # a fund of 0 is a fund
    for c in configs[2:]:
        assert (c.rules, c.terms) == (rulebook(c.label).rules, rulebook(c.label).liquidation)
        assert c.portfolio == configs[0].portfolio  # the cross book
    with pytest.raises(InputError) as err:
        compared_configs(bare(), ["no-such-venue"])
    assert err.value.field == "rulebook"


def test_a_book_the_loop_cannot_price_is_refused_naming_the_configuration():
    portfolio, rules = portfolio_of(parse_document(OPTIONS.read_text(encoding="utf-8"), OPTIONS.name))
    configs = compared_configs(StressBook(portfolio, rules, LiquidationTerms(), {}, None, OracleConfig()))
    with pytest.raises(InputError) as err:
        check_configs(configs)
    assert err.value.field == "cross.instruments" and "option" in err.value.message
    check_configs(compared_configs(bare()))  # the plain book passes


def test_every_configuration_runs_through_the_path_and_reports_its_steps():
    told: list[tuple[str, int]] = []
    steps: list[tuple[str, int, int]] = []

    def tasks(description: str, total: int) -> Advance:
        told.append((description, total))
        return lambda k, n: steps.append((description, k, n))

    second = replace(config(), label="second")
    report = stress_comparison(CRASH, [config(), second], "three accounts", 0, tasks=tasks)
    assert told == [("two-steps: cross", 2), ("two-steps: second", 2)]
    assert steps == [(d, k, 2) for d in ("two-steps: cross", "two-steps: second") for k in (1, 2)]
    assert (report.scenario, report.book, [r.label for r in report.runs]) == (
        "two-steps",
        "three accounts",
        ["cross", "second"],
    )
    # by hand (test_runner.py): c closed at 90 (notional 180), then a deleveraged at 85 (notional 850)
    assert [(r.liquidations, r.liquidated_notional, r.adl_events) for r in report.runs] == [(2, 1030.0, 1)] * 2
    assert report.monte_carlo == ()


def test_paths_add_the_monte_carlo_of_the_first_two():
    told: list[tuple[str, int]] = []
    configs = [config(), replace(config(), label="isolated")]

    def tasks(description: str, total: int) -> Advance:
        told.append((description, total))
        return lambda k, n: None

    report = stress_comparison(CRASH, configs, "three accounts", 5, paths=2, workers=1, tasks=tasks)
    assert told[-1] == ("Monte Carlo, 2 paths x 2", 4)
    assert [(m.label, m.seeds) for m in report.monte_carlo] == [("cross", (5, 6)), ("isolated", (5, 6))]
    # the crash's path is a table: every seed gives it, and its bad debt is 0 (the fund was never touched)
    assert report.monte_carlo[0].bad_debt.values == (0.0, 0.0)
