"""``evaluate``, ``compare`` and ``what-if`` on a document whose accounts are at several venues: the owner view
(exposure, delta, each venue's first liquidation price) against figures worked by hand, and documents without
venues or owners printing exactly what they printed before.

The hand document (BTC-PERP from each venue's bundled tables; one market: USDT 1, BTC and BTC-PERP 60000):

- olga-binance at binance-usdm (the document's rulebook): 8210 USDT, long 1 BTC-PERP (1 BTC a contract) at 60000.
  Notional 60000 in the second bracket (0.5 %, less 50): MM = 300 - 50 = 250. Falling to P (still bracket 2):
  8210 + (P - 60000) < 0.005 P - 50  ->  0.995 P < 51740  ->  liquidated below P = 52000 (-2/15 = -13.3 %).
- olga-okx at okx: 2144 USDT, short 50 BTC-PERP (0.01 BTC a contract: 0.5 BTC) at 60000. Notional 30000; MM =
  30000 x (0.004 + 0.0005 liquidation fee) = 135. Rising to P: 2144 + 0.5 (60000 - P) <= 0.5 P x 0.0045
  ->  32144 <= 0.50225 P  ->  liquidated from P = 64000 (+1/15 = +6.7 %).
- olga: notional 60000 + 30000 = 90000, net 60000 - 30000 = 30000, delta 1 - 0.5 = 0.5 BTC.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.cli.output import emit_view
from crossmargin.live.document import portfolio_of
from crossmargin.margin.account import evaluate_account
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.document_text import parse_document
from crossmargin.report import results, tables
from crossmargin.report import venues as venue_report
from crossmargin.report.venues import VenueOutcome
from crossmargin.venues import available, rulebook
from tests.cli.conftest import EXAMPLES, HAND_BOOK, by_id, plain, run, run_json

OLGA = """\
version: 1
base: USD
rulebook: binance-usdm
prices: {USDT: 1, BTC: 60000}
marks: {BTC-PERP: 60000}
accounts:
  - id: olga-binance
    owner: olga
    balances: {USDT: 8210}
    positions: [{instrument: BTC-PERP, size: 1, entry_price: 60000}]
  - id: olga-okx
    owner: olga
    venue: okx
    balances: {USDT: 2144}
    positions: [{instrument: BTC-PERP, size: -50, entry_price: 60000}]
"""


@pytest.fixture
def olga(tmp_path: Path) -> Path:
    path = tmp_path / "olga.yaml"
    path.write_text(OLGA, encoding="utf-8")
    return path


def close(text: str, expected: Decimal) -> bool:
    """A 20-significant-digit result string equal to ``expected`` to its last digit."""
    return abs(Decimal(text) - expected) <= abs(expected) * Decimal("1e-19")


def test_evaluate_json_carries_the_owner_view(olga: Path):
    document = run_json("evaluate", olga)
    assert (document["rulebook"], [a["id"] for a in document["accounts"]]) == (
        "binance-usdm",
        ["olga-binance", "olga-okx"],
    )
    binance, okx = by_id(document, "olga-binance"), by_id(document, "olga-okx")
    assert (binance["venue"], binance["owner"], okx["venue"], okx["owner"]) == ("binance-usdm", "olga", "okx", "olga")
    assert (binance["maintenance_margin"], okx["maintenance_margin"]) == ("250", "135")
    assert (binance["positions"][0]["liquidation_price"], okx["positions"][0]["liquidation_price"]) == (
        "52000",
        "64000",
    )
    (view,) = document["owners"]
    assert (view["owner"], view["accounts"]) == ("olga", ["olga-binance", "olga-okx"])
    btc = view["underlyings"]["BTC"]
    assert {k: btc[k] for k in ("price", "notional", "net_notional", "delta")} == {
        "price": "60000",
        "notional": "90000",
        "net_notional": "30000",
        "delta": "0.5",
    }
    first = btc["venues"]
    assert list(first) == ["binance-usdm", "okx"]
    assert {k: first["binance-usdm"][k] for k in ("notional", "net_notional", "delta")} == {
        "notional": "60000",
        "net_notional": "60000",
        "delta": "1",
    }
    assert {k: first["okx"][k] for k in ("notional", "net_notional", "delta")} == {
        "notional": "30000",
        "net_notional": "-30000",
        "delta": "-0.5",
    }
    assert (first["binance-usdm"]["liquidation_price"], first["binance-usdm"]["account"]) == ("52000", "olga-binance")
    assert (first["okx"]["liquidation_price"], first["okx"]["account"]) == ("64000", "olga-okx")
    assert close(first["binance-usdm"]["move"], Decimal(-2) / 15) and close(first["okx"]["move"], Decimal(1) / 15)
    assert first["binance-usdm"]["solved"] is first["okx"]["solved"] is True


def test_evaluate_tables_end_with_the_owner_table(olga: Path):
    code, out, err = run("evaluate", olga)
    assert code == 0, err
    text = plain(out)
    assert "Owner olga (USD): olga-binance, olga-okx" in text and "Positions of olga-okx at okx (USD)" in text
    rows = {line.split("│")[2].strip(): line for line in text.splitlines() if line.count("│") > 8}
    assert (
        "52000" in rows["binance-usdm"] and "-13.33%" in rows["binance-usdm"] and "olga-binance" in rows["binance-usdm"]
    )
    assert "64000" in rows["okx"] and "6.667%" in rows["okx"]
    assert "0.5" in rows["all venues"] and "90000" in rows["all venues"]


def test_one_account_shows_its_owners_whole_view(olga: Path):
    document = run_json("evaluate", olga, "--account", "olga-okx")
    assert [a["id"] for a in document["accounts"]] == ["olga-okx"]
    assert document["owners"][0]["accounts"] == ["olga-binance", "olga-okx"]


def test_compare_keeps_each_accounts_contracts_and_adds_the_owner_view(olga: Path):
    document = run_json("compare", olga)
    assert document["owners"] == run_json("evaluate", olga)["owners"]
    (okx_account,) = [a for a in document["accounts"] if a["id"] == "olga-okx"]
    # the okx account is 0.5 BTC short under every rulebook: notional 30000; binance-usdm's first bracket 0.4 %
    # gives MM 120, okx's 0.4 % plus its 0.05 % fee 135
    assert okx_account["by_rulebook"]["binance-usdm"]["maintenance_margin"] == "120"
    assert okx_account["by_rulebook"]["okx"]["maintenance_margin"] == "135"
    code, out, err = run("compare", olga)
    assert code == 0 and "Owner olga (USD)" in plain(out), err


def test_what_if_answers_at_the_accounts_own_venue(olga: Path, tmp_path: Path):
    # second route: a one-venue document at okx holding olga-okx alone
    alone = tmp_path / "alone.yaml"
    raw = parse_document(OLGA, "olga")
    alone.write_text(json.dumps({**raw, "rulebook": "okx", "accounts": [raw["accounts"][1]]}, default=str))
    for question in (["--withdraw", "USDT"], ["--compare"]):
        assert run_json("what-if", olga, "--account", "olga-okx", *question) == run_json(
            "what-if", alone, "--account", "olga-okx", *question
        )


def test_a_one_rulebook_command_refuses_an_account_at_another_venue(olga: Path, tmp_path: Path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"t": 0, "source": "a", "symbol": "BTC", "price": 60000}\n')
    code, out, err = run("replay", olga, "--feed", feed)
    assert code == 2 and out == "" and "accounts[1] (id 'olga-okx').venue:" in err


def test_an_unknown_venue_is_refused_naming_the_field(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(OLGA.replace("venue: okx", "venue: okex"))
    code, out, err = run("evaluate", path)
    assert code == 2 and out == ""
    assert err.startswith("error: accounts[1] (id 'olga-okx').venue: unknown rulebook 'okex'")


# --- documents without venues or owners print what they printed before -----------------------------------------


DOCUMENTS = [EXAMPLES / "portfolio.yaml", EXAMPLES / "portfolio.json", EXAMPLES / "options.yaml"]


def committed_evaluation(raw: dict[str, Any]) -> tuple[str, Any]:
    """The committed route of ``evaluate``: the whole book under the document's rulebook, evaluated account by
    account, as the JSON text and the tables it printed."""
    portfolio, rules = portfolio_of(raw)
    evaluated = tuple(evaluate_account(a, portfolio, rules) for a in portfolio.accounts)
    document = results.evaluation_dict(portfolio.base, portfolio.rulebook, evaluated)
    return json.dumps(document, indent=2) + "\n", tables.evaluation_view(portfolio.base, evaluated)


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_evaluate_prints_byte_for_byte_what_the_one_venue_route_prints(path: Path, capsys: pytest.CaptureFixture[str]):
    text, view = committed_evaluation(parse_document(path.read_text(encoding="utf-8"), path.name))
    code, out, err = run("evaluate", path, "--json")
    assert code == 0 and out == text, err
    emit_view(view)
    code, out, err = run("evaluate", path)
    assert code == 0 and out == capsys.readouterr().out, err


def test_the_hand_book_prints_what_the_one_venue_route_prints(book: Path):
    text, _ = committed_evaluation(parse_document(HAND_BOOK, "book"))
    assert run("evaluate", book, "--json")[1] == text


def test_compare_prints_byte_for_byte_what_the_one_venue_route_prints():
    path = EXAMPLES / "portfolio.yaml"
    raw = parse_document(path.read_text(encoding="utf-8"), path.name)
    ids: list[str] = []
    outcomes = []
    for name in available():  # the committed route: the whole document under each rulebook's tables
        book = rulebook(name)
        try:
            portfolio = portfolio_from_document(book.apply_to(raw, tables_win=True))
        except InputError as err:
            outcomes.append(VenueOutcome(name, error=str(err)))
            continue
        ids = ids or [a.id for a in portfolio.accounts]
        outcomes.append(
            VenueOutcome(name, tuple(evaluate_account(a, portfolio, book.rules) for a in portfolio.accounts))
        )
    expected = json.dumps(venue_report.comparison_dict(str(raw["base"]), ids, outcomes), indent=2) + "\n"
    assert run("compare", path, "--json")[1] == expected


def test_naming_each_account_its_own_owner_at_the_documents_rulebook_only_adds_the_owner_view(tmp_path: Path):
    stripped = EXAMPLES / "portfolio.yaml"
    raw = parse_document(stripped.read_text(encoding="utf-8"), stripped.name)
    placed = {**raw, "accounts": [{**a, "venue": raw["rulebook"], "owner": str(a["id"])} for a in raw["accounts"]]}
    path = tmp_path / "placed.json"
    path.write_text(json.dumps(placed, default=str))
    before, after = run_json("evaluate", stripped), run_json("evaluate", path)
    assert "owners" not in before and [v["owner"] for v in after.pop("owners")] == [a["id"] for a in before["accounts"]]
    for account in after["accounts"]:
        assert (account.pop("venue"), account.pop("owner")) == (raw["rulebook"], account["id"])
    assert after == before
