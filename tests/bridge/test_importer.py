"""Responses -> document: the document imported from Binance's recorded responses evaluates to the figures of the
same account written by hand; names of instruments; what is refused; and, as a property, a document exported to
responses imports back to itself."""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.bridge.importer import document_from_responses, instrument_names
from crossmargin.bridge.reported import split_reported
from crossmargin.bridge.responses import read_responses
from crossmargin.live.document import portfolio_of
from crossmargin.margin.account import evaluate_account
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_yaml
from crossmargin.venues import rulebook
from tests.bridge.support import SYMBOLS, binance_usdm_responses, edited, responses

HAND_BINANCE = """\
# The account of tests/bridge/fixtures/binanceusdm-cross.json written by hand: Binance USDT-M, Single-Asset mode.
version: 1
base: USDT
rulebook: binance-usdm        # its BTC-PERP and ETH-PERP brackets: the same 2024-10-24 leverageBracket snapshot
marks: {BTC-PERP: 67412.35006452, ETH-PERP: 2537.41230769}     # premiumIndex markPrice
accounts:
  - id: binanceusdm-USDT
    balances: {USDT: 100284.61735942}                          # crossWalletBalance
    positions:
      - {instrument: BTC-PERP, size: 1.5, entry_price: 66104.2}
      - {instrument: ETH-PERP, size: -40, entry_price: 2581.37}
"""


def figures(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    portfolio, rules = portfolio_of(split_reported(document)[0])
    rows: list[tuple[Any, ...]] = []
    for account in portfolio.accounts:
        result = evaluate_account(account, portfolio, rules)
        cross = result.cross
        rows.append((account.id, cross.equity, cross.initial_margin, cross.maintenance_margin, cross.free_collateral))
        for p in result.positions:
            f = p.figures
            rows.append(
                (
                    f.position.instrument,
                    f.notional,
                    f.unrealized_pnl,
                    f.initial_margin,
                    f.maintenance_margin,
                    p.liquidation_price,
                )
            )
    return rows


def test_import_then_evaluate_gives_the_hand_written_documents_figures():
    imported = figures(document_from_responses(responses("binanceusdm-cross")))
    by_hand = figures(parse_yaml(HAND_BINANCE, "hand"))
    assert imported == by_hand
    account, btc, eth = by_hand
    # BTC: notional 1.5 x 67412.35006452 = 101118.52509678 (bracket 2: mmr 0.005, cum 50, 100x)
    #   uPnL 1.5 x (67412.35006452 - 66104.2) = 1962.22509678; MM 505.5926254839 - 50 = 455.5926254839;
    #   IM 101118.52509678 / 100 = 1011.1852509678; no liquidation price (the wallet carries it to 0)
    assert btc == (
        "BTC-PERP",
        Decimal("101118.52509678"),
        Decimal("1962.22509678"),
        Decimal("1011.1852509678"),
        Decimal("455.5926254839"),
        None,
    )
    # ETH: notional 40 x 2537.41230769 = 101496.4923076; uPnL -40 x (2537.41230769 - 2581.37) = 1758.3076924;
    #   MM 507.482461538 - 50 = 457.482461538; IM 1014.964923076
    assert eth[:5] == (
        "ETH-PERP",
        Decimal("101496.4923076"),
        Decimal("1758.3076924"),
        Decimal("1014.964923076"),
        Decimal("457.482461538"),
    )
    # equity 100284.61735942 + 1962.22509678 + 1758.3076924 = 104005.1501486; IM 2026.1501740438;
    # MM 913.0750870219; free 104005.1501486 - 2026.1501740438 = 101979.0000 - 0.0000254438 = 101978.9999745562
    assert account == (
        "binanceusdm-USDT",
        Decimal("104005.1501486"),
        Decimal("2026.1501740438"),
        Decimal("913.0750870219"),
        Decimal("101978.9999745562"),
    )


def test_the_imported_document_names_the_rulebook_and_carries_the_venues_figures():
    document = document_from_responses(responses("binanceusdm-cross"))
    assert (document["base"], document["rulebook"]) == ("USDT", "binance-usdm")
    (account,) = document["accounts"]
    assert account["reported"]["equity"] == Decimal("104005.15014860")
    assert account["reported"]["margin_ratio"] is None  # Binance returns none
    eth = account["positions"][1]
    assert eth["reported"]["liquidation_price"] == Decimal("5101.89178683")
    assert eth["reported"]["leverage"] == 20
    # the bracket table as printed: cap, rate, initial leverage, cum
    assert document["instruments"]["BTC-PERP"]["tiers"][1] == {
        "max_notional": 600000,
        "mmr": Decimal("0.005"),
        "max_leverage": 100,
        "maint_amount": Decimal("50.0"),
    }


def test_coin_margined_accounts_are_per_coin_and_inverse():
    document = document_from_responses(responses("binancecoinm-cross"))
    (account,) = document["accounts"]
    assert account["id"] == "binancecoinm-BTC"
    assert document["instruments"]["BTCUSD-PERP"]["inverse"] is True
    assert document["instruments"]["BTCUSD-PERP"]["contract_size"] == 100
    assert document["base"] == "USD"
    assert account["reported"]["currency"] == "BTC"


def test_hedge_mode_legs_are_two_positions():
    document = document_from_responses(responses("binanceusdm-hedge"))
    sizes = [(p["instrument"], p["size"], "isolated_margin" in p) for p in document["accounts"][0]["positions"]]
    assert sizes == [("BTC-PERP", 2, False), ("BTC-PERP", Decimal("-0.8"), False), ("ETH-PERP", 25, True)]


def test_names_are_canonical_unless_two_markets_would_share_one():
    read = responses("binanceusdm-cross")
    assert instrument_names(read, ["BTC/USDT:USDT", "ETH/USDT:USDT"]) == {
        "BTC/USDT:USDT": "BTC-PERP",
        "ETH/USDT:USDT": "ETH-PERP",
    }
    data = edited("binanceusdm-cross", "fetch_markets", 1, "base", value="BTC")
    clash = read_responses(data)
    assert instrument_names(clash, ["BTC/USDT:USDT", "ETH/USDT:USDT"]) == {
        "BTC/USDT:USDT": "BTC/USDT:USDT",
        "ETH/USDT:USDT": "ETH/USDT:USDT",
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("fetch_markets", 0, "swap"), False, "fetch_markets[BTC/USDT:USDT].type"),
        (("fetch_markets", 0, "option"), True, "fetch_markets[BTC/USDT:USDT].option"),
        (("fetch_leverage_tiers", "BTC/USDT:USDT"), [], "fetch_leverage_tiers.BTC/USDT:USDT"),
        (("fetch_positions", 0, "side"), "up", "fetch_positions[0].side"),
        (("fetch_positions", 0, "entryPrice"), 0, "fetch_positions[0].entryPrice"),
        (("fetch_positions", 0, "symbol"), "XRP/USDT:USDT", "fetch_positions[0].symbol"),
    ],
)
def test_what_cannot_be_imported_is_named(path, value, field):
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(edited("binanceusdm-cross", *path, value=value)))
    assert caught.value.field == field


def test_a_future_needs_its_expiry():
    data = edited("binanceusdm-cross", "fetch_markets", 0, "swap", value=False)
    data["fetch_markets"][0]["future"] = True
    data["fetch_markets"][0]["expiryDatetime"] = "2025-03-28T08:00:00.000Z"
    document = document_from_responses(read_responses(data))
    future = document["instruments"]["BTC/USDT:USDT"]
    assert (future["kind"], future["expiry"]) == ("future", "2025-03-28T08:00:00.000Z")
    data["fetch_markets"][0]["expiryDatetime"] = None
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(data))
    assert caught.value.field == "fetch_markets[BTC/USDT:USDT].expiryDatetime"


# The round trip: a document as the importer writes it (one USDT account on Binance USDT-M), exported to the
# responses Binance would give, imports back to the same document.

money = st.decimals(min_value=Decimal("-1E6"), max_value=Decimal("1E6"), places=8, allow_nan=False)
positive = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1E6"), places=2, allow_nan=False)


@st.composite
def binance_documents(draw: st.DrawFn) -> dict[str, Any]:
    book = rulebook("binance-usdm")
    names = draw(st.lists(st.sampled_from(sorted(SYMBOLS)), unique=True, max_size=2))
    positions = []
    for name in names:
        size = draw(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3)) * draw(
            st.sampled_from([1, -1])
        )
        position: dict[str, Any] = {"instrument": name, "size": size, "entry_price": draw(positive)}
        if draw(st.booleans()):
            position["isolated_margin"] = draw(positive)
        position["reported"] = {
            "liquidation_price": draw(st.none() | positive),
            "initial_margin": draw(st.none() | money),
            "maintenance_margin": draw(st.none() | money),
            "unrealized_pnl": draw(st.none() | money),
            "leverage": Decimal(draw(st.integers(1, 125))),
            "price_tick": draw(st.sampled_from([Decimal("0.1"), Decimal("0.01")])),
        }
        positions.append(position)
    figures = {
        k: draw(st.none() | money) for k in ("equity", "initial_margin", "maintenance_margin", "free_collateral")
    }
    orders = draw(st.none() | money)
    reported: dict[str, Any] = {
        "venue": "binanceusdm",
        "currency": "USDT",
        "scope": "total",
        **figures,
        "margin_ratio": None,
    }
    if orders is not None:
        reported["open_orders_initial_margin"] = orders
    return {
        "version": 1,
        "base": "USDT",
        "rulebook": "binance-usdm",
        "assets": {"USDT": {"weight": Decimal(1)}},
        "instruments": {
            name: {
                "kind": "perpetual",
                "underlying": SYMBOLS[name][2],
                "settle": "USDT",
                "contract_size": Decimal(1),
                "tiers": [{k: Decimal(str(v)) for k, v in t.items()} for t in book.instruments[name]["tiers"]],
            }
            for name in names
        },
        "prices": {},
        "marks": {name: draw(positive) for name in names},
        "accounts": [
            {
                "id": "binanceusdm-USDT",
                "balances": {
                    "USDT": draw(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1E7"), places=8))
                },
                "positions": positions,
                "reported": reported,
            }
        ],
    }


@settings(max_examples=60, deadline=None)
@given(binance_documents())
def test_a_document_exported_to_responses_imports_back_to_itself(document):
    recorded = binance_usdm_responses(document)
    again = document_from_responses(read_responses(recorded))
    assert again == document
    assert binance_usdm_responses(again) == recorded
