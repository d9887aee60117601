"""A rulebook file: its sections read into rule choices and liquidation terms (defaults where a section is left
out), its tables filled into a document (the document's own entries winning, or, to compare venues, the venue's
risk terms winning while the contract stays the document's), and every bad file refused naming its origin."""

from decimal import Decimal
from typing import Any

import pytest

from crossmargin.model import InputError, RuleChoices
from crossmargin.model.rules import LiquidationTerms, MarginValuation, ScenarioMargin, Valuation, VarFloor
from crossmargin.venues.rulebook import Rulebook, Source, rulebook_from_data

D = Decimal
HEAD: dict[str, Any] = {"name": "mine", "title": "Mine", "tables_taken": "2025-01-01"}
PERP = {
    "kind": "perpetual", "underlying": "BTC", "settle": "USDT", "contract_size": 0.001,
    "tiers": [{"max_notional": None, "mmr": 0.01, "imr": 0.02}],
}  # fmt: skip


def test_a_file_of_only_its_head_has_the_default_rules_and_terms():
    book = rulebook_from_data(HEAD, "rulebook mine.yaml")
    assert (book.name, book.title, book.tables_taken) == ("mine", "Mine", "2025-01-01")
    assert book.rules == RuleChoices("mine") and book.liquidation == LiquidationTerms()
    assert (book.assets, book.instruments, book.sources, book.notes) == ({}, {}, (), "")


def test_each_section_is_read_into_its_terms():
    data = {
        **HEAD,
        "sources": [{"what": "tiers", "where": "https://example.org/tiers", "taken": "2025-01-01"}],
        "rules": {
            "liquidation_threshold": "1.05",
            "scenario_margin": {"moves": [-0.1, 0, 0.1], "initial_factor": 1.2},
            "var_floor": {"level": 0.99},
            "margin_valuation": {"isolated_initial": "entry"},
        },
        "liquidation": {"fee_rate": 0.005, "adl_ranking": "pro_rata_base_size", "size_steps": {"BTC-PERP": 0.001}},
        "assets": {"USDT": {"weight": 1}},
        "instruments": {"BTC-PERP": PERP},
    }
    book = rulebook_from_data(data, "rulebook mine.yaml")
    assert book.rules.liquidation_threshold == D("1.05")
    assert book.rules.scenario_margin == ScenarioMargin((D("-0.1"), D(0), D("0.1")), initial_factor=D("1.2"))
    assert book.rules.var_floor == VarFloor(D("0.99"))
    assert book.rules.margin_valuation == MarginValuation(isolated_initial=Valuation.ENTRY)
    assert (book.liquidation.fee_rate, book.liquidation.adl_ranking) == (D("0.005"), "pro_rata_base_size")
    assert book.liquidation.size_steps == (("BTC-PERP", D("0.001")),)
    assert book.sources == (Source("tiers", "https://example.org/tiers", "2025-01-01"),)
    assert book.instruments == {"BTC-PERP": PERP}


VENUE = Rulebook(
    "venue", "Venue", "2025-01-01", RuleChoices("venue"), LiquidationTerms(),
    assets={"USDT": {"weight": 1}, "BTC": {"weight": 0.9}},
    instruments={"BTC-PERP": {**PERP, "tiers": [{"max_notional": None, "mmr": 0.05, "imr": 0.1}]}},
)  # fmt: skip
DOCUMENT = {
    "version": 1, "base": "USD",
    "assets": {"BTC": {"weight": 0.5}},
    "instruments": {"BTC-PERP": {**PERP, "contract_size": 1}, "ETH-PERP": {**PERP, "underlying": "ETH"}},
}  # fmt: skip


def test_the_documents_own_entries_override_the_rulebooks():
    merged = VENUE.apply_to(DOCUMENT)
    assert merged["assets"] == {"USDT": {"weight": 1}, "BTC": {"weight": 0.5}}
    assert merged["instruments"]["BTC-PERP"] == {**PERP, "contract_size": 1}
    assert set(merged["instruments"]) == {"BTC-PERP", "ETH-PERP"}
    assert DOCUMENT["assets"] == {"BTC": {"weight": 0.5}}  # the document itself is untouched


def test_to_compare_venues_the_venues_terms_win_and_the_contract_stays():
    merged = VENUE.apply_to(DOCUMENT, tables_win=True)
    assert merged["assets"] == {"USDT": {"weight": 1}, "BTC": {"weight": 0.9}}
    perp = merged["instruments"]["BTC-PERP"]
    # the venue's tiers, the document's contract size (the same positions mean the same exposure)
    assert perp["tiers"] == [{"max_notional": None, "mmr": 0.05, "imr": 0.1}] and perp["contract_size"] == 1
    assert merged["instruments"]["ETH-PERP"]["underlying"] == "ETH"  # the venue does not list it: kept


def test_sections_that_are_not_mappings_are_left_for_validation():
    odd = {"version": 1, "assets": ["BTC"]}
    assert VENUE.apply_to(odd) == odd


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": None}, "rulebook mine.yaml: title"),
        ({"colour": "red"}, "rulebook mine.yaml: colour"),
        ({"rules": {"colour": 1}}, "rulebook mine.yaml: rules.colour"),
        ({"liquidation": {"fill_price": "best"}}, "rulebook mine.yaml: liquidation.fill_price"),
        ({"instruments": {"BTC-PERP": {**PERP, "contract_size": 0}}}, "rulebook mine.yaml: instruments.BTC-PERP"),
    ],
)
def test_a_bad_file_is_refused_naming_its_origin(changes: dict[str, Any], field: str):
    with pytest.raises(InputError) as err:
        rulebook_from_data({**HEAD, **changes}, "rulebook mine.yaml")
    assert err.value.field.startswith(field), err.value.field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rules": {"liquidation_threshold": "0.5"}}, "rulebook mine.yaml: rules.liquidation_threshold"),
        ({"liquidation": {"fee_rate": 2}}, "rulebook mine.yaml: liquidation.fee_rate"),
    ],
)
def test_a_bad_value_in_a_section_is_named_with_its_section(changes: dict[str, Any], field: str):
    with pytest.raises(InputError) as err:
        rulebook_from_data({**HEAD, **changes}, "rulebook mine.yaml")
    assert err.value.field == field
