"""Scenario (portfolio) margin worked by hand: the grid's worst loss, add-ons, the correlation credit, the
short-option floor, volatility shocks (against Black-76 written out), and hedged books that need far less
than their standard cross margin."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crossmargin.engine.book import RiskBook
from crossmargin.live.policy import check_oracle_priced
from crossmargin.margin.account import cross_pool, evaluate_account
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.scenario import scenario_requirement
from crossmargin.margin.valuation import with_option_marks
from crossmargin.model import Account, ContractKind, InputError, Instrument, Market, OptionRight, Portfolio
from crossmargin.model.rules import RuleChoices, ScenarioMargin
from crossmargin.venues import rulebook
from tests.builders import D, banded, linear, position, tiers
from tests.margin.test_exposure import black76_by_hand

NOW = datetime(2025, 1, 1, tzinfo=UTC)
EXPIRY = NOW + timedelta(days=73)  # 0.2 years
USDC = banded("USDC", [("0", "1")])
BTC = banded("BTC", [("0", "0.9")])
ETH = banded("ETH", [("0", "0.9")])
PERP = linear("BTC-PERP", settle="USDC", table=tiers((None, "0.005", "0.01")))
FUT = Instrument("BTC-FUT", ContractKind.FUTURE, "BTC", "USDC", D(1), False, tiers((None, "0.005", "0.01")), EXPIRY)
ETH_PERP = linear("ETH-PERP", underlying="ETH", settle="USDC", table=tiers((None, "0.005", "0.01")))
FIVE = tuple(D(m) for m in ("-0.16", "-0.08", "0", "0.08", "0.16"))


def option(name: str, strike: str, right: OptionRight) -> Instrument:
    return Instrument(
        name, ContractKind.OPTION, "BTC", "USDC", D(1), False, tiers((None, "0.1", "0.15")), EXPIRY,
        strike=D(strike), right=right,
    )  # fmt: skip


OPTIONS = [option("C-40000", "40000", OptionRight.CALL), option("P-40000", "40000", OptionRight.PUT)]
OTM_PUT = option("P-20000", "20000", OptionRight.PUT)


def book(*accounts: Account) -> Portfolio:
    market = Market(
        "USDC", {"BTC": D(40000), "ETH": D(3000)}, {"BTC-PERP": D(40000), "BTC-FUT": D(40000), "ETH-PERP": D(3000)},
        {}, NOW, {"BTC": ((D(1), D("0.8")),)},
    )  # fmt: skip
    instruments = {i.name: i for i in (PERP, FUT, ETH_PERP, *OPTIONS, OTM_PUT)}
    return with_option_marks(
        Portfolio("USDC", "generic", {"USDC": USDC, "BTC": BTC, "ETH": ETH}, instruments, market, accounts)
    )


def requirement(account: Account, terms: ScenarioMargin):
    portfolio = book(account)
    return scenario_requirement(account.positions, account.balances, portfolio, terms)


def test_one_perpetual_by_hand():
    # long 1 BTC at 40,000: the worst move is -16 %, a loss of 6,400; the delta add-on 1 % x 1 x 40,000 = 400
    terms = ScenarioMargin(FIVE, delta_addon=D("0.01"), initial_factor=D("1.25"))
    result = requirement(Account("a", {"USDC": D(10000)}, (position("BTC-PERP", "1", "40000"),)), terms)
    assert result.maintenance == D(6800) and result.initial == D(8500)  # 6,800 x 1.25
    (btc,) = result.underlyings
    assert (btc.worst_loss, btc.worst, btc.delta_addon) == (pytest.approx(6400.0), (D("-0.16"), D(0)), 400.0)


def test_underlyings_offset_up_to_the_credit():
    # BTC: W = 6,400, add-on 400; ETH: long 2 at 3,000, W = 0.16 x 6,000 = 960, add-on 0.01 x 6,000 = 60.
    # Credit 0.5: 7,360 - 0.5 x (7,360 - 6,400) = 6,880, plus 460 of add-ons = 7,340
    terms = ScenarioMargin(FIVE, delta_addon=D("0.01"), correlation_credit=D("0.5"))
    account = Account("a", {"USDC": D(10000)}, (position("BTC-PERP", "1", "40000"), position("ETH-PERP", "2", "3000")))
    assert requirement(account, terms).maintenance == D(7340)
    # no credit: 7,360 + 460
    assert requirement(account, ScenarioMargin(FIVE, delta_addon=D("0.01"))).maintenance == D(7820)


def test_a_volatility_shock_by_hand():
    # long 1 ATM call, no price move, volatility x 0.5, x 1, x 1.5: the loss is when it halves,
    # C(0.8) - C(0.4), Black-76 at F = K = 40,000, t = 0.2
    terms = ScenarioMargin((D(0),), vol_shocks=(D("-0.5"), D(0), D("0.5")))
    result = requirement(Account("a", {"USDC": D(10000)}, (position("C-40000", "1", "5000"),)), terms)
    high, _ = black76_by_hand(40000, 40000, 0.8, 0.2, OptionRight.CALL)
    low, _ = black76_by_hand(40000, 40000, 0.4, 0.2, OptionRight.CALL)
    assert float(result.maintenance) == pytest.approx(high - low, rel=1e-9)
    assert result.underlyings[0].worst == (D(0), D("-0.5"))


def test_a_far_short_option_needs_its_minimum():
    # short 1 put at 20,000 with BTC at 40,000: a 4 % fall costs it a few USDC; the floor is 1 % of 40,000
    terms = ScenarioMargin((D("-0.04"), D(0), D("0.04")), short_option_minimum=D("0.01"))
    result = requirement(Account("a", {"USDC": D(10000)}, (position("P-20000", "-1", "100"),)), terms)
    assert result.underlyings[0].worst_loss == 400.0 and result.maintenance == D(400)


def test_concentration_above_the_threshold():
    # 1 BTC long: gross notional 40,000, 20,000 above the threshold at 10 %: 2,000 on top of the 6,400
    terms = ScenarioMargin(FIVE, concentration_threshold=D(20000), concentration_rate=D("0.1"))
    result = requirement(Account("a", {"USDC": D(10000)}, (position("BTC-PERP", "1", "40000"),)), terms)
    assert result.maintenance == D(8400)


PM = rulebook("scenario-margin").rules


@pytest.mark.parametrize(
    ("positions", "balances"),
    [
        # long the perpetual, short the future: every move moves both marks alike
        ((position("BTC-PERP", "1", "40000"), position("BTC-FUT", "-1", "40000")), {"USDC": D(10000)}),
        # spot held against the perpetual
        ((position("BTC-PERP", "-1", "40000"),), {"USDC": D(10000), "BTC": D(1)}),
        # long the perpetual, a put bought and a call sold at 40,000: P - C = K - F at zero rate, so the
        # book's value moves with neither price nor volatility; only the 1 % short-option minimum is left
        (
            (position("BTC-PERP", "1", "40000"), position("P-40000", "1", "5000"), position("C-40000", "-1", "5000")),
            {"USDC": D(10000)},
        ),
    ],
)
def test_hedged_books_need_far_less_than_standard_cross_margin(positions, balances):
    account = Account("hedged", balances, positions)
    portfolio = book(account)
    standard = evaluate_pool(cross_pool(account), portfolio, RuleChoices("generic"))
    scenario = evaluate_pool(cross_pool(account), portfolio, PM)
    with_options = any(p.instrument.startswith(("P-", "C-")) for p in positions)
    # 1 % x 40,000 for the sold call, 1.3 x that initially; nothing for the others
    assert scenario.maintenance_margin == (D(400) if with_options else 0)
    assert scenario.initial_margin == (D(520) if with_options else 0)
    assert scenario.maintenance_margin * 3 < standard.maintenance_margin


def test_the_rulebook_margins_an_unhedged_perpetual_on_its_worst_move():
    # the bundled scenario-margin rulebook: -16 % on 1 BTC is 6,400, 1 % delta add-on 400; initial x 1.3
    account = Account("a", {"USDC": D(50000)}, (position("BTC-PERP", "1", "40000"),))
    result = evaluate_account(account, book(account), PM)
    assert result.cross.maintenance_margin == D(6800) and result.cross.initial_margin == D(8840)
    assert result.positions[0].liquidation_price is None


def test_bad_terms_name_their_field():
    with pytest.raises(InputError) as error:
        ScenarioMargin((D("-1"),))
    assert error.value.field == "scenario_margin.moves[0]"
    with pytest.raises(InputError) as error:
        ScenarioMargin(FIVE, initial_factor=Decimal("0.9"))
    assert error.value.field == "scenario_margin.initial_factor"


def test_the_risk_book_mirrors_the_grid_and_the_runner_refuses_options():
    # long 1 BTC-PERP on 50,000 USDC under the rulebook: worst move -16 %, 6,400, plus 1 % x 40,000 = 400
    account = Account("a", {"USDC": D(50000)}, (position("BTC-PERP", "1", "40000"),))
    mirror = RiskBook(book(account), PM)
    assert mirror.figures[mirror.cross_pool["a"], 2] == pytest.approx(6800.0)
    assert mirror.figures[mirror.cross_pool["a"], 3] == pytest.approx(6800.0 * 1.3)
    writer = Account("w", {"USDC": D(50000)}, (position("C-40000", "-1", "5000"),))
    with pytest.raises(InputError) as error:
        check_oracle_priced(book(writer))
    assert error.value.field == "instruments" and "option" in error.value.message
