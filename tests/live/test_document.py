"""What a portfolio document sets up for the engine loop (``live/document.py``), checked against the numbers
the shipped example states (examples/portfolio.yaml, read here by hand):

- ``insurance_fund: 25000`` (USD);
- ``liquidity``: BTC-PERP ``levels`` [[0.0005, 0.5], [0.002, 2], [0.005, 10]] with ``permanent_impact`` 0.5;
  every other instrument (``*``) ``sqrt`` with coefficient 0.05 and ``depth_units`` 500 (no permanent impact);
- no ``oracle`` section: the oracle's documented defaults (docs/oracle.md: max age 60 s, quorum 1, max
  deviation 0.02, max confidence 0.02, max jump 0.25, EMA half-life 300 s; liquidate on valid and degraded,
  freeze on invalid, conservative on degraded and unconfirmed);
- ``rulebook: generic``: the generic rules and liquidation terms; four accounts.
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.liquidation.liquidity import DepthLevels, SquareRootImpact
from crossmargin.live.document import loop_config_of, placed_book, portfolio_of
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.oracle.config import Status
from crossmargin.venues import rulebook

D = Decimal
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portfolio.yaml"
TEXT = EXAMPLE.read_text(encoding="utf-8")


def parsed(text: str = TEXT) -> dict[str, Any]:
    return parse_document(text, EXAMPLE.name)


def test_the_examples_liquidity_and_insurance_fund_are_the_ones_it_states():
    config = loop_config_of(parsed())
    assert config.insurance_fund == D(25000)
    levels = DepthLevels(((D("0.0005"), D("0.5")), (D("0.002"), D(2)), (D("0.005"), D(10))), D("0.5"))
    sqrt = SquareRootImpact(D("0.05"), D(500))
    # the `*` entry is every instrument's model but BTC-PERP's own; `*` itself is no instrument
    assert config.liquidity == {"BTC-PERP": levels, "ETH-PERP": sqrt, "BTCUSD-PERP": sqrt, "BTC-0328": sqrt}
    assert sqrt.permanent_impact == 0


def test_the_example_states_no_oracle_section_so_the_oracle_runs_on_the_documented_defaults():
    oracle = loop_config_of(parsed()).oracle
    guards = oracle.default
    assert (guards.max_age_s, guards.quorum, guards.max_deviation, guards.max_confidence) == (
        D(60), 1, D("0.02"), D("0.02"),
    )  # fmt: skip
    assert (guards.max_jump, guards.ema_half_life_s, guards.peg, guards.price_source) == (
        D("0.25"), D(300), None, "median",
    )  # fmt: skip
    assert oracle.symbols == {}
    assert oracle.policy.liquidate_on == {Status.VALID, Status.DEGRADED}
    assert oracle.policy.freeze_on == {Status.INVALID}
    assert oracle.policy.conservative_on == {Status.DEGRADED, Status.UNCONFIRMED}


def test_an_oracle_section_is_taken_as_the_document_states_it():
    text = TEXT + (
        "oracle:\n"
        "  max_age_s: 30\n"
        "  quorum: 2\n"
        "  max_jump: 0.1\n"
        "  symbols:\n"
        "    USDC: {peg: 1, peg_tolerance: 0.005}\n"
        "  policy:\n"
        "    liquidate_on: [valid]\n"
    )
    oracle = loop_config_of(parsed(text)).oracle
    assert (oracle.default.max_age_s, oracle.default.quorum, oracle.default.max_jump) == (D(30), 2, D("0.1"))
    assert oracle.default.max_deviation == D("0.02")  # not stated: the default
    usdc = oracle.guards("USDC")
    # a symbol's guards are the section's defaults with its own on top
    assert (usdc.peg, usdc.peg_tolerance, usdc.max_age_s, usdc.quorum) == (D(1), D("0.005"), D(30), 2)
    assert oracle.guards("BTC") == oracle.default
    assert oracle.policy.liquidate_on == {Status.VALID} and oracle.policy.freeze_on == {Status.INVALID}


def test_the_rulebook_sets_the_rules_the_terms_and_the_book():
    config = loop_config_of(parsed())
    generic = rulebook("generic")
    assert config.rules == generic.rules and config.terms == generic.liquidation
    assert [a.id for a in config.portfolio.accounts] == [
        "diversified",
        "hedged",
        "near-liquidation",
        "coin-and-isolated",
    ]
    assert config.portfolio.rulebook == "generic" and config.portfolio.base == "USD"
    # BTC-PERP's first tier as the document writes it: max leverage 125 is imr 1 / 125 = 0.008
    first = config.portfolio.instruments["BTC-PERP"].tiers.tiers[0]
    assert (first.max_notional, first.mmr, first.imr) == (D(50000), D("0.004"), D("0.008"))


def test_a_venue_rulebook_brings_its_rules_terms_and_tables_and_star_liquidity_covers_its_instruments():
    venue = rulebook("binance-usdm")
    config = loop_config_of(parsed(TEXT.replace("rulebook: generic", "rulebook: binance-usdm")))
    assert config.rules == venue.rules and config.terms == venue.liquidation
    instruments = set(venue.instruments) | {"BTC-PERP", "ETH-PERP", "BTCUSD-PERP", "BTC-0328"}
    assert set(config.portfolio.instruments) == instruments
    assert set(config.liquidity) == instruments  # `*` gives the venue's own instruments a model too
    portfolio, rules = portfolio_of(parsed(TEXT.replace("rulebook: generic", "rulebook: binance-usdm")))
    assert rules == venue.rules and set(portfolio.instruments) == instruments


def test_without_a_star_entry_only_the_listed_instruments_get_a_model():
    text = TEXT.replace('  "*": {model: sqrt, coefficient: 0.05, depth_units: 500}\n', "")
    config = loop_config_of(parsed(text))
    assert set(config.liquidity) == {"BTC-PERP"}


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("[0.005, 10]]", "[0.005, -10]]", "liquidity.BTC-PERP"),
        ('"*": {model: sqrt', '"ETH-9999": {model: sqrt', "liquidity.ETH-9999"),
        ("insurance_fund: 25000", "insurance_fund: -1", "insurance_fund"),
        ("rulebook: generic", "rulebook: [generic]", "rulebook"),
        ("rulebook: generic", "rulebook: nowhere", "rulebook"),
    ],
)
def test_a_bad_section_is_an_error_naming_it(old: str, new: str, field: str):
    assert old in TEXT
    with pytest.raises(InputError) as caught:
        loop_config_of(parsed(TEXT.replace(old, new)))
    assert caught.value.field.startswith(field), caught.value


PLACED = """\
version: 1
base: USD
rulebook: binance-usdm
prices: {USDT: 1, BTC: 60000}
marks: {BTC-PERP: 60000}
accounts:
  - {id: a, balances: {USDT: 100}, venue: okx}
  - {id: b, balances: {USDT: 200}, owner: a}
  - {id: c, balances: {USDT: 300}, venue: okx, owner: c2}
"""


def test_a_placed_book_holds_every_account_at_its_venue_in_document_order():
    book = placed_book(parsed(PLACED))
    assert (book.base, book.rulebook, book.placed) == ("USD", "binance-usdm", True)
    assert [b.venue for b in book.venues] == ["okx", "binance-usdm"]
    assert [(a.id, b.venue, a.held_by) for a, b in book.holders] == [
        ("a", "okx", "a"),
        ("b", "binance-usdm", "a"),
        ("c", "okx", "c2"),
    ]
    account, venue = book.holder("b")
    assert (account.balances, venue.rules) == ({"USDT": Decimal(200)}, rulebook("binance-usdm").rules)
    with pytest.raises(InputError) as err:
        book.holder("zed")
    assert err.value.field == "account"


def test_a_book_without_venues_is_the_one_portfolio_of_its_rulebook():
    book = placed_book(parsed())
    portfolio, rules = portfolio_of(parsed())
    (only,) = book.venues
    assert (only.portfolio, only.rules, book.placed) == (portfolio, rules, False)
    assert [a for a, _ in book.holders] == list(portfolio.accounts)


def test_the_engine_loop_refuses_an_account_at_another_venue():
    with pytest.raises(InputError) as err:
        loop_config_of(parsed(PLACED))
    assert err.value.field == "accounts[0] (id 'a').venue"
    at_home = PLACED.replace("venue: okx", "venue: binance-usdm")
    assert [a.held_by for a in loop_config_of(parsed(at_home)).portfolio.accounts] == ["a", "a", "c2"]
