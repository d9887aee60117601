"""The reconciliation as JSON (numbers as decimal strings, a summary of statuses) and as Rich tables."""

from decimal import Decimal

from rich.console import Console

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.reconcile import STATUSES, reconcile_document
from crossmargin.bridge.views import reconciliation_dict, reconciliation_view, rounded
from tests.bridge.support import responses


def reconciled(name: str):
    return reconcile_document(document_from_responses(responses(name)))


def test_json_shape_and_summary():
    document = reconciliation_dict(reconciled("binanceusdm-cross"))
    assert (document["version"], document["base"], document["rulebook"]) == (1, "USDT", "binance-usdm")
    assert list(document["summary"]) == list(STATUSES)
    (account,) = document["accounts"]
    assert (account["id"], account["venue"], account["currency"], account["scope"]) == (
        "binanceusdm-USDT",
        "binanceusdm",
        "USDT",
        "total",
    )
    lines = [account["figures"]] + [p["figures"] for p in account["positions"]]
    assert sum(document["summary"].values()) == sum(len(group) for group in lines)
    eth_im = account["positions"][1]["figures"][1]
    # ours 101496.4923076 / 100; the venue's 5074.82461538; the difference venue - ours
    assert eth_im == {
        "figure": "initial_margin",
        "unit": "USDT",
        "ours": "1014.964923076",
        "venue": "5074.82461538",
        "difference": "4059.859692304",
        "tolerance": "0.00000001",
        "status": "explained",
        "rule": "initial margin at the user's leverage 20x (ours: the bracket's maximum leverage)",
    }
    assert account["positions"][0]["figures"][0]["ours"] is None  # no liquidation price


def test_rounded_to_twenty_digits():
    assert rounded(Decimal(1) / Decimal(3)) == "0.33333333333333333333"
    assert rounded(None) is None


def test_tables_show_every_line():
    console = Console(width=400, record=True)
    console.print(reconciliation_view(reconciled("okx-cross")))
    text = console.export_text()
    assert "Reconcile okx-USDT (okx; account figures in USDT" in text
    assert text.count("explained") == 8
    assert "the venue's margin ratio is equity / maintenance margin" in text
