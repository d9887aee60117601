"""The portfolio document v1: conversion to model objects, errors named by their document path, schema."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crossmargin.model import (
    Account,
    Asset,
    ContractKind,
    InputError,
    Instrument,
    Market,
    Portfolio,
    Position,
    RiskTier,
    TierTable,
    WeightBand,
    WeightSchedule,
)
from crossmargin.model.document import document_json_schema, portfolio_from_document
from crossmargin.schemas import PORTFOLIO_V1, shipped_schema

D = Decimal


def document() -> dict[str, Any]:
    """A complete valid document: the example of docs/portfolio-document.md."""
    return {
        "version": 1,
        "base": "USD",
        "rulebook": "generic",
        "assets": {
            "USD": {"weight": "1"},
            "USDT": {"weight": "0.99", "liability_weight": "1.02"},
            "BTC": {
                "weight_bands": [["0", "0.95"], ["10", "0.9"], ["100", "0.8"]],
                "initial_weight_bands": [["0", "0.9"], ["10", "0.85"], ["100", "0.7"]],
                "liability_weight": "1.05",
                "initial_liability_weight": "1.1",
            },
            "ETH": {"weight": "0.9", "initial_weight": "0.85"},
        },
        "instruments": {
            "BTC-PERP": {
                "kind": "perpetual",
                "underlying": "BTC",
                "settle": "USDT",
                "contract_size": "0.001",
                "tiers": [
                    {"max_notional": "50000", "mmr": "0.004", "max_leverage": "125"},
                    {"max_notional": "250000", "mmr": "0.005", "max_leverage": "100"},
                    {"max_notional": None, "mmr": "0.01", "imr": "0.02"},
                ],
            },
            "BTCUSD-0328": {
                "kind": "future",
                "underlying": "BTC",
                "settle": "BTC",
                "contract_size": "100",
                "inverse": True,
                "expiry": "2025-03-28T08:00:00Z",
                "tiers": [
                    {"max_notional": "5", "mmr": "0.005", "imr": "0.01"},
                    {"max_notional": None, "mmr": "0.01", "imr": "0.02", "maint_amount": "0.025"},
                ],
            },
        },
        "prices": {"USDT": "1", "BTC": "60000", "ETH": "3000"},
        "marks": {"BTC-PERP": "60010.5", "BTCUSD-0328": "60500"},
        "accounts": [
            {
                "id": "alice",
                "balances": {"USDT": "10000", "BTC": "0.5"},
                "positions": [{"instrument": "BTC-PERP", "size": "2000", "entry_price": "59000"}],
            },
            {
                "id": 42,
                "balances": {"USD": "-500", "ETH": "10"},
                "positions": [
                    {"instrument": "BTC-PERP", "size": "-1500", "entry_price": "61000.5", "isolated_margin": "2500"},
                    {"instrument": "BTCUSD-0328", "size": "-300", "entry_price": "60250"},
                ],
            },
        ],
    }


def bands(*rows: tuple[str, str]) -> WeightSchedule:
    return WeightSchedule(tuple(WeightBand(D(start), D(weight)) for start, weight in rows))


def expected_portfolio() -> Portfolio:
    """The model objects of :func:`document`, written out by hand."""
    assets = {
        "USD": Asset("USD", WeightSchedule.flat(D(1)), WeightSchedule.flat(D(1))),
        # initial schedule and initial liability weight default to the maintenance ones
        "USDT": Asset("USDT", WeightSchedule.flat(D("0.99")), WeightSchedule.flat(D("0.99")), D("1.02"), D("1.02")),
        "BTC": Asset(
            "BTC",
            bands(("0", "0.95"), ("10", "0.9"), ("100", "0.8")),
            bands(("0", "0.9"), ("10", "0.85"), ("100", "0.7")),
            D("1.05"),
            D("1.1"),
        ),
        "ETH": Asset("ETH", WeightSchedule.flat(D("0.9")), WeightSchedule.flat(D("0.85"))),
    }
    perp_tiers = TierTable(
        (
            # imr = 1 / 125 = 0.008; the first bracket's maintenance amount is 0
            RiskTier(D(50000), D("0.004"), D("0.008"), D(0)),
            # imr = 1 / 100 = 0.01; maint_amount = 0 + 50000 x (0.005 - 0.004) = 50
            RiskTier(D(250000), D("0.005"), D("0.01"), D(50)),
            # maint_amount = 50 + 250000 x (0.01 - 0.005) = 50 + 1250 = 1300
            RiskTier(None, D("0.01"), D("0.02"), D(1300)),
        )
    )
    future_tiers = TierTable(
        (
            RiskTier(D(5), D("0.005"), D("0.01"), D(0)),
            # given, and equal to the derived 5 x (0.01 - 0.005) = 0.025
            RiskTier(None, D("0.01"), D("0.02"), D("0.025")),
        )
    )
    instruments = {
        "BTC-PERP": Instrument("BTC-PERP", ContractKind.PERPETUAL, "BTC", "USDT", D("0.001"), False, perp_tiers),
        "BTCUSD-0328": Instrument(
            "BTCUSD-0328",
            ContractKind.FUTURE,
            "BTC",
            "BTC",
            D(100),
            True,
            future_tiers,
            datetime(2025, 3, 28, 8, 0, tzinfo=UTC),
        ),
    }
    market = Market(
        "USD",
        {"USDT": D(1), "BTC": D(60000), "ETH": D(3000)},
        {"BTC-PERP": D("60010.5"), "BTCUSD-0328": D(60500)},
    )
    accounts = (
        Account("alice", {"USDT": D(10000), "BTC": D("0.5")}, (Position("BTC-PERP", D(2000), D(59000)),)),
        Account(
            "42",
            {"USD": D(-500), "ETH": D(10)},
            (
                Position("BTC-PERP", D(-1500), D("61000.5"), D(2500)),
                Position("BTCUSD-0328", D(-300), D(60250)),
            ),
        ),
    )
    return Portfolio("USD", "generic", assets, instruments, market, accounts)


def test_full_document_converts_to_the_expected_model_objects() -> None:
    assert portfolio_from_document(document()) == expected_portfolio()


def test_tier_maintenance_amounts_are_derived_continuous() -> None:
    tiers = portfolio_from_document(document()).instruments["BTC-PERP"].tiers.tiers
    # maint_amount_1 = 50000 x (0.005 - 0.004) = 50; maint_amount_2 = 50 + 250000 x (0.01 - 0.005) = 1300
    assert [t.maint_amount for t in tiers] == [D(0), D(50), D(1300)]
    # continuity at 50000: 50000 x 0.004 - 0 = 200 = 50000 x 0.005 - 50
    assert tiers[0].maintenance(D(50000)) == tiers[1].maintenance(D(50000)) == D(200)


def test_minimal_document_has_empty_sections_and_the_generic_rulebook() -> None:
    portfolio = portfolio_from_document({"version": 1, "base": "USD"})
    assert portfolio == Portfolio("USD", "generic", {}, {}, Market("USD"), ())


def test_float_numbers_are_read_through_their_text() -> None:
    data = document()
    data["prices"]["ETH"] = 0.1
    data["accounts"][0]["positions"][0]["size"] = 2000
    portfolio = portfolio_from_document(data)
    assert portfolio.market.prices["ETH"] == D("0.1")
    assert str(portfolio.market.prices["ETH"]) == "0.1"
    assert portfolio.accounts[0].positions[0].size == D(2000)


def test_null_optional_values_mean_their_default() -> None:
    data = document()
    data["assets"]["ETH"]["weight_bands"] = None
    data["accounts"][0]["positions"][0]["isolated_margin"] = None
    portfolio = portfolio_from_document(data)
    assert portfolio == expected_portfolio()
    assert not portfolio.accounts[0].positions[0].isolated


def _parent(data: dict[str, Any], path: str) -> tuple[Any, str]:
    *keys, last = path.split("/")
    node: Any = data
    for key in keys:
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node, last


def changed(path: str, value: Any) -> dict[str, Any]:
    """The valid document with ``value`` at ``path`` (keys and list indices joined by '/')."""
    data = document()
    node, last = _parent(data, path)
    node[int(last) if isinstance(node, list) else last] = value
    return data


def removed(path: str) -> dict[str, Any]:
    """The valid document without the key at ``path``."""
    data = document()
    node, last = _parent(data, path)
    del node[last]
    return data


def appended(path: str, value: Any) -> dict[str, Any]:
    """The valid document with ``value`` appended to the list at ``path``."""
    data = document()
    node, last = _parent(data, path)
    node[last].append(value)
    return data


def without_usdt() -> dict[str, Any]:
    """The valid document with no USDT price and no USDT balance (BTC-PERP still settles in USDT)."""
    data = removed("prices/USDT")
    del data["accounts"][0]["balances"]["USDT"]
    return data


def first_error(data: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        portfolio_from_document(data)
    return caught.value


ALICE = "accounts[0] (id 'alice')"
FORTY_TWO = "accounts[1] (id '42')"
PERP = "instruments.BTC-PERP"
PERP_TIERS = "instruments/BTC-PERP/tiers"

# (what is wrong, the document, the field of the error, words of its message)
ERRORS: list[tuple[str, Callable[[], Any], str, str]] = [
    # references between sections
    (
        "unknown instrument",
        lambda: changed("accounts/0/positions/0/instrument", "ETH-PERP"),
        f"{ALICE}.positions[0].instrument",
        "unknown instrument 'ETH-PERP'",
    ),
    (
        "unknown asset",
        lambda: changed("accounts/0/balances/DOGE", "5"),
        f"{ALICE}.balances.DOGE",
        "unknown asset 'DOGE'",
    ),
    (
        "missing price of a balance",
        lambda: removed("prices/ETH"),
        f"{FORTY_TWO}.balances.ETH",
        "missing price for 'ETH'",
    ),
    (
        "missing price of a settle asset",
        lambda: without_usdt(),
        f"{ALICE}.positions[0].instrument",
        "missing price for 'USDT'",
    ),
    (
        "missing mark",
        lambda: removed("marks/BTCUSD-0328"),
        f"{FORTY_TWO}.positions[1].instrument",
        "missing mark price",
    ),
    # prices and marks
    ("NaN price", lambda: changed("prices/BTC", D("NaN")), "prices.BTC", "Input should be a finite number"),
    ("float NaN price", lambda: changed("prices/BTC", float("nan")), "prices.BTC", "Input should be a finite number"),
    ("infinite price", lambda: changed("prices/BTC", "Infinity"), "prices.BTC", "Input should be a finite number"),
    ("float -inf price", lambda: changed("prices/BTC", float("-inf")), "prices.BTC", "Input should be a finite number"),
    ("negative price", lambda: changed("prices/BTC", "-60000"), "prices.BTC", "must be positive, got -60000"),
    ("zero mark", lambda: changed("marks/BTC-PERP", 0), "marks.BTC-PERP", "must be positive, got 0"),
    ("base priced other than 1", lambda: changed("prices/USD", "1.01"), "prices.USD", "priced at 1, got 1.01"),
    ("price not a number", lambda: changed("prices/BTC", "sixty"), "prices.BTC", "Input should be a valid decimal"),
    ("price a boolean", lambda: changed("prices/BTC", True), "prices.BTC", "Decimal input should be"),
    # instruments and their tiers
    (
        "zero contract size",
        lambda: changed("instruments/BTC-PERP/contract_size", "0"),
        f"{PERP}.contract_size",
        "must be positive, got 0",
    ),
    (
        "tiers not ascending",
        lambda: changed(f"{PERP_TIERS}/1/max_notional", "40000"),
        f"{PERP}.tiers[1].max_notional",
        "tiers must be ascending: 40000 follows 50000",
    ),
    (
        "maintenance rate falling",
        lambda: changed(f"{PERP_TIERS}/1/mmr", "0.003"),
        f"{PERP}.tiers[1].mmr",
        "must not fall as notional grows: 0.003 follows 0.004",
    ),
    (
        "open tier before the last",
        lambda: changed(f"{PERP_TIERS}/0/max_notional", None),
        f"{PERP}.tiers[0].max_notional",
        "only the last tier may leave max_notional open",
    ),
    (
        "max_notional left out",
        lambda: removed(f"{PERP_TIERS}/2/max_notional"),
        f"{PERP}.tiers[2].max_notional",
        "Field required",
    ),
    (
        "no initial rate",
        lambda: removed(f"{PERP_TIERS}/0/max_leverage"),
        f"{PERP}.tiers[0].imr",
        "needs imr or max_leverage",
    ),
    ("mmr above 1", lambda: changed(f"{PERP_TIERS}/2/mmr", "1.5"), f"{PERP}.tiers[2].mmr", "between 0 and 1, got 1.5"),
    ("no tiers", lambda: changed(f"{PERP_TIERS}", []), f"{PERP}.tiers", "List should have at least 1 item"),
    (
        "inverse settling in another asset",
        lambda: changed("instruments/BTCUSD-0328/settle", "USDT"),
        "instruments.BTCUSD-0328.settle",
        "an inverse contract settles in its underlying ('BTC')",
    ),
    (
        "unknown kind",
        lambda: changed("instruments/BTC-PERP/kind", "swap"),
        f"{PERP}.kind",
        "'perpetual', 'future' or 'option'",
    ),
    ("inverse as text", lambda: changed("instruments/BTC-PERP/inverse", "yes"), f"{PERP}.inverse", "valid boolean"),
    (
        "perpetual with an expiry",
        lambda: changed("instruments/BTC-PERP/expiry", "2025-03-28T08:00:00Z"),
        f"{PERP}.expiry",
        "a perpetual has no expiry",
    ),
    (
        "expiry without a UTC offset",
        lambda: changed("instruments/BTCUSD-0328/expiry", "2025-03-28T08:00:00"),
        "instruments.BTCUSD-0328.expiry",
        "timezone",
    ),
    # assets
    ("weight above 1", lambda: changed("assets/ETH/weight", "1.2"), "assets.ETH.weight", "between 0 and 1, got 1.2"),
    (
        "negative band weight",
        lambda: changed("assets/BTC/weight_bands/1", ["10", "-0.1"]),
        "assets.BTC.weight_bands[1].weight",
        "between 0 and 1, got -0.1",
    ),
    (
        "bands not ascending",
        lambda: changed("assets/BTC/weight_bands/2", ["5", "0.8"]),
        "assets.BTC.weight_bands[2].from_amount",
        "strictly ascending: 5 follows 10",
    ),
    (
        "band of three numbers",
        lambda: changed("assets/BTC/weight_bands/0", ["0", "0.95", "1"]),
        "assets.BTC.weight_bands[0]",
        "at most 2 items",
    ),
    (
        "liability weight below 1",
        lambda: changed("assets/BTC/liability_weight", "0.9"),
        "assets.BTC.liability_weight",
        "must be at least 1, got 0.9",
    ),
    (
        "initial liability weight below the liability weight",
        lambda: changed("assets/BTC/initial_liability_weight", "1.01"),
        "assets.BTC.initial_liability_weight",
        "must be at least liability_weight (1.05)",
    ),
    (
        "initial weight above the weight",
        lambda: changed("assets/ETH/initial_weight", "0.95"),
        "assets.ETH.initial_weight",
        "must not exceed the maintenance weight",
    ),
    (
        "initial band above the weight",
        lambda: changed("assets/BTC/initial_weight_bands/1", ["10", "0.95"]),
        "assets.BTC.initial_weight_bands",
        "at amount 10 the initial weight is 0.95 and the weight 0.9",
    ),
    (
        "both weight and weight_bands",
        lambda: changed("assets/BTC/weight", "0.9"),
        "assets.BTC",
        "give exactly one of weight and weight_bands",
    ),
    ("neither weight nor weight_bands", lambda: removed("assets/ETH/weight"), "assets.ETH", "exactly one of weight"),
    (
        "both initial weights",
        lambda: changed("assets/ETH/initial_weight_bands", [["0", "0.8"]]),
        "assets.ETH",
        "give at most one of initial_weight and initial_weight_bands",
    ),
    # document shape
    ("version 2", lambda: changed("version", 2), "version", "unsupported document version 2"),
    ("version as text", lambda: changed("version", "1"), "version", "unsupported document version '1'"),
    ("version as a boolean", lambda: changed("version", True), "version", "unsupported document version True"),
    ("no version", lambda: removed("version"), "version", "Field required"),
    ("no base", lambda: removed("base"), "base", "Field required"),
    ("unknown top-level key", lambda: changed("price", {}), "price", "Extra inputs are not permitted"),
    (
        "unknown tier key",
        lambda: changed(f"{PERP_TIERS}/0/mmr_rate", "0.1"),
        f"{PERP}.tiers[0].mmr_rate",
        "Extra inputs are not permitted",
    ),
    (
        "unknown position key",
        lambda: changed("accounts/0/positions/0/leverage", 10),
        f"{ALICE}.positions[0].leverage",
        "Extra inputs are not permitted",
    ),
    ("assets not a mapping", lambda: changed("assets", ["BTC"]), "assets", "valid dictionary"),
    ("document not a mapping", lambda: [document()], "", "a portfolio document is a mapping of keys, got list"),
    # accounts and positions
    (
        "duplicate account id",
        lambda: appended("accounts", {"id": "alice"}),
        "accounts[2] (id 'alice').id",
        "duplicate account id 'alice'",
    ),
    (
        "duplicate id, integer and text",
        lambda: appended("accounts", {"id": "42"}),
        "accounts[2] (id '42').id",
        "duplicate account id '42'",
    ),
    ("empty account id", lambda: changed("accounts/0/id", ""), "accounts[0] (id '').id", "at least 1 character"),
    ("account id a list", lambda: changed("accounts/0/id", ["alice"]), "accounts[0].id", "valid string"),
    ("account without id", lambda: removed("accounts/1/id"), "accounts[1].id", "Field required"),
    (
        "zero size",
        lambda: changed("accounts/0/positions/0/size", 0),
        f"{ALICE}.positions[0].size",
        "must not be zero",
    ),
    (
        "size not a number",
        lambda: changed("accounts/0/positions/0/size", "lots"),
        f"{ALICE}.positions[0].size",
        "Input should be a valid decimal",
    ),
    (
        "negative isolated margin",
        lambda: changed("accounts/1/positions/0/isolated_margin", "-1"),
        f"{FORTY_TWO}.positions[0].isolated_margin",
        "must not be negative, got -1",
    ),
    (
        "two positions in one instrument",
        lambda: appended("accounts/0/positions", {"instrument": "BTC-PERP", "size": "1", "entry_price": "60000"}),
        f"{ALICE}.positions[1].instrument",
        "'BTC-PERP' appears twice",
    ),
    ("NaN balance", lambda: changed("accounts/1/balances/ETH", "NaN"), f"{FORTY_TWO}.balances.ETH", "finite number"),
    # the input boundary: every number of the document, whatever its field (numbers.bounded)
    (
        "size 1e-999999999",
        lambda: changed("accounts/0/positions/0/size", D("1e-999999999")),
        f"{ALICE}.positions[0].size",
        "is out of range: a non-zero magnitude must be at least 1E-30, got 1E-999999999",
    ),
    (
        "size of 5,000 digits",
        lambda: changed("accounts/0/positions/0/size", D("1" * 5000)),
        f"{ALICE}.positions[0].size",
        "magnitude must be below 1E+30, got 1.1111…E+4999 (5000 digits)",
    ),
    (
        "price of 51 significant digits",
        lambda: changed("prices/BTC", "6" * 51 + "e-46"),  # 66666.6...: 51 digits, in range
        "prices.BTC",
        "has 51 significant digits, more than the 50 held exactly",
    ),
    ("rate 1e-31", lambda: changed("rate", "1e-31"), "rate", "at least 1E-30"),
    ("smile point 1e-31", lambda: changed("vols", {"BTC": [["1e-31", "0.5"]]}), "vols.BTC[0][0]", "at least 1E-30"),
    ("smile point missing", lambda: changed("vols", {"BTC": [["1"]]}), "vols.BTC[0][1]", "Field required"),
    (
        "band without its weight",
        lambda: changed("assets/BTC/weight_bands", [["0"]]),
        "assets.BTC.weight_bands[0][1]",
        "Field required",
    ),
    ("oracle max_jump of 1e30", lambda: changed("oracle", {"max_jump": "1e30"}), "oracle.max_jump", "below 1E+30"),
    ("quorum true", lambda: changed("oracle", {"quorum": True}), "oracle.quorum", "valid integer"),
    ("negative insurance fund", lambda: changed("insurance_fund", "-1"), "insurance_fund", "must not be negative"),
    # names are printable text
    (
        "NUL in an id",
        lambda: changed("accounts/0/id", "al\x00ice"),
        "accounts[0] (id 'al\\x00ice').id",
        "'al\\x00ice' is not printable text",
    ),
    (
        "escape in an asset name",
        lambda: changed("assets/US\x1bD", {"weight": "1"}),
        "assets",
        "key 'US\\x1bD': names are printable text",
    ),
    ("newline in a base", lambda: changed("base", "US\nD"), "base", "is not printable text"),
]


@pytest.mark.parametrize(("data", "field", "words"), [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_each_error_names_its_document_path(data: Callable[[], Any], field: str, words: str) -> None:
    error = first_error(data())
    assert error.field == field
    assert words in error.message


def test_minus_zero_is_read_as_zero() -> None:
    data = changed("accounts/1/balances/ETH", "-0")
    balance = portfolio_from_document(data).accounts[1].balances["ETH"]
    assert balance == 0 and str(balance) == "0"


def test_several_structural_errors_report_the_first_and_count_the_others() -> None:
    data = changed("accounts/0/positions/0/size", "lots")
    data["accounts"][0]["positions"][0]["entry_price"] = "high"
    data["prices"]["BTC"] = "NaN"
    error = first_error(data)
    assert error.field == "prices.BTC"
    assert error.message == "Input should be a finite number (and 2 more errors)"


def test_a_key_that_is_not_text_is_named() -> None:
    data = document()
    data["prices"][7] = "1"
    error = first_error(data)
    assert error.field == "prices.7"
    assert error.message == "key 7: Input should be a valid string"


def test_the_error_text_reads_path_then_message() -> None:
    error = first_error(changed(f"{PERP_TIERS}/1/mmr", "0.003"))
    assert str(error) == f"{PERP}.tiers[1].mmr: rates must not fall as notional grows: 0.003 follows 0.004"


def test_the_shipped_schema_is_the_generated_one() -> None:
    regenerate = (
        "regenerate it: python -c 'import json, crossmargin.model.document as d; "
        "print(json.dumps(d.document_json_schema(), indent=2, sort_keys=True))' "
        f"> src/crossmargin/schemas/{PORTFOLIO_V1}"
    )
    assert shipped_schema() == document_json_schema(), regenerate


def test_the_schema_names_itself_and_describes_every_field() -> None:
    schema = document_json_schema()
    assert schema["title"] == "crossmargin portfolio document, version 1"
    assert schema["$id"].startswith("urn:crossmargin:")
    objects = [schema, *schema["$defs"].values()]
    for part in objects:
        for name, field in part.get("properties", {}).items():
            assert field.get("description"), f"{part['title']}.{name} has no description"


def test_documents_follow_the_shipped_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(shipped_schema())
    validator.validate(document())
    validator.validate({"version": 1, "base": "USD"})


@pytest.mark.parametrize(
    "data",
    [
        changed("assets/BTC/weight", "0.9"),
        removed("assets/ETH/weight"),
        changed("assets/ETH/initial_weight_bands", [["0", "0.8"]]),
        changed("version", 2),
        changed("price", {}),
        changed("instruments/BTC-PERP/kind", "swap"),
    ],
    ids=["weight and bands", "no weight", "two initial weights", "version 2", "unknown key", "unknown kind"],
)
def test_the_schema_rejects_what_the_document_rejects(data: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    assert not jsonschema.Draft202012Validator(shipped_schema()).is_valid(data)
    first_error(data)


def test_an_account_reads_its_venue_and_owner() -> None:
    data = document()
    data["accounts"][0] |= {"venue": "okx", "owner": "olga"}
    data["accounts"][1] |= {"venue": None, "owner": 7}  # null: the default; an integer owner reads as text
    alice, other = portfolio_from_document(data).accounts
    assert (alice.venue, alice.owner, alice.held_by) == ("okx", "olga", "olga")
    assert (other.venue, other.owner, other.held_by) == (None, "7", "7")
    assert portfolio_from_document(data) == expected_portfolio()  # labels: the accounts compare as before


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [("venue", "", "at least 1 character"), ("venue", 3, "valid string"), ("owner", "", "at least 1 character")],
)
def test_a_bad_venue_or_owner_names_its_field(key: str, value: Any, words: str) -> None:
    data = document()
    data["accounts"][0][key] = value
    with pytest.raises(InputError) as err:
        portfolio_from_document(data)
    assert err.value.field == f"accounts[0] (id 'alice').{key}" and words in err.value.message


def test_the_schema_takes_a_venue_and_an_owner() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = document()
    data["accounts"][0] |= {"venue": "okx", "owner": 7}
    jsonschema.Draft202012Validator(shipped_schema()).validate(data)
    data["accounts"][0]["venue"] = 7
    assert not jsonschema.Draft202012Validator(shipped_schema()).is_valid(data)
