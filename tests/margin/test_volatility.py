"""Volatility-scaled requirements worked by hand: the bounded multiplier on a position's requirements, and
the smoothed index that rises at once and releases slowly (never faster than its daily limit)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.account import cross_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.volatility import VolatilityIndex
from crossmargin.model import Account, InputError, Market, Portfolio
from crossmargin.model.rules import RuleChoices, VolatilityScaling
from tests.builders import D, banded, linear, position, tiers

USDC = banded("USDC", [("0", "1")])
PERP = linear("BTC-PERP", settle="USDC", table=tiers((None, "0.005", "0.01")))
TERMS = VolatilityScaling(D("0.5"), floor=D(1), cap=D(3), half_life_days=D(1), max_daily_fall=D("0.1"))
DAY = 86400.0


def requirements(vol: str | None) -> tuple[Decimal, Decimal]:
    vols = {} if vol is None else {"BTC": ((D(1), D(vol)),)}
    market = Market("USDC", {"BTC": D(40000)}, {"BTC-PERP": D(40000)}, vols=vols)
    account = Account("a", {"USDC": D(10000)}, (position("BTC-PERP", "1", "40000"),))
    book = Portfolio("USDC", "g", {"USDC": USDC}, {"BTC-PERP": PERP}, market, (account,))
    figures = evaluate_pool(cross_pool(account), book, RuleChoices("g", volatility_scaling=TERMS))
    return figures.maintenance_margin, figures.initial_margin


def test_requirements_follow_the_bounded_multiplier_by_hand():
    # tables: MM 0.5 % x 40,000 = 200, IM 1 % = 400. Vol 0.8 against the reference 0.5: x 1.6
    assert requirements("0.8") == (D(320), D(640))
    # vol 0.3: 0.6, held at the floor 1 (never below the tables); vol 2.5: 5, capped at 3
    assert requirements("0.3") == (D(200), D(400))
    assert requirements("2.5") == (D(600), D(1200))
    # no volatility for the underlying: the floor
    assert requirements(None) == (D(200), D(400))


def test_the_index_rises_at_once_and_releases_slowly_by_hand():
    index = VolatilityIndex(TERMS)
    # first look: vol 1.0, multiplier 1.0 / 0.5 = 2
    assert index.observe(1.0, 0.0) == 2.0
    # a day later vol 0.5: half-life one day, smoothed 0.75, target 1.5; a day's release is at most 10 %:
    # 2 x 0.9 = 1.8
    assert index.observe(0.5, DAY) == pytest.approx(1.8)
    # another day at 0.5: smoothed 0.625, target 1.25, floor of the release 1.8 x 0.9 = 1.62
    assert index.observe(0.5, 2 * DAY) == pytest.approx(1.62)
    # half a day later a spike to 2.0: smoothed 0.625 x 0.5^0.5 + 2 x (1 - 0.5^0.5) = 1.02773, target
    # 2.05546: a rise applies at once
    assert index.observe(2.0, 2.5 * DAY) == pytest.approx(2 * (0.625 * 0.5**0.5 + 2 * (1 - 0.5**0.5)), rel=1e-9)


@given(st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(0.01, 3.0)), min_size=1, max_size=40))
def test_the_multiplier_never_whipsaws(observations):
    index = VolatilityIndex(TERMS)
    t = 0.0
    previous = None
    for vol, days in observations:
        t += days * DAY
        current = index.observe(vol, t)
        assert 1.0 <= current <= 3.0 + 1e-12
        if previous is not None:
            assert current >= previous * 0.9**days - 1e-12  # never released faster than 10 % a day
        previous = current


def test_bad_terms_name_their_field():
    with pytest.raises(InputError) as error:
        VolatilityScaling(D("0.5"), floor=D("0.8"))
    assert error.value.field == "volatility_scaling.floor"
    with pytest.raises(InputError) as error:
        VolatilityScaling(D("0.5"), cap=D("0.5"))
    assert error.value.field == "volatility_scaling.cap"
