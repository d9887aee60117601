"""What the service shows, on the engine loop itself: numbers as decimal strings, stream messages as the
``replay --json`` lines plus ``cause`` and ``seq``, an account as its ``evaluate --json`` entry plus ``frozen``
and ``statuses``, the mirror's figures and the book's aggregates. Expected values by hand from the example
book (tests/service/api_support.py) or from a second method (``evaluate``, the replay's ``end``)."""

import json
from decimal import Decimal

import pytest

from crossmargin.live import events as live
from crossmargin.live.document import loop_config_of
from crossmargin.model.document_text import parse_document
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.service.views import account_view, book_figures, json_bytes, message, mirror_figures, mirror_message
from crossmargin.sim.replay import Replay
from tests.service.api_support import ACCOUNTS, BOOK_TEXT, evaluated, feed_lines


def _replay() -> Replay:
    return Replay(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))


def _fed(replay: Replay) -> Replay:
    """``replay`` after the shipped feed; its lines are kept in ``replay.lines``."""
    replay.lines = []  # type: ignore[attr-defined]
    for line in feed_lines():
        update = SourceUpdate(
            Decimal(str(line["t"])), line["source"], line["symbol"], Decimal(str(line["price"])), None
        )
        replay.lines += replay.feed(update)  # type: ignore[attr-defined]
    return replay


def test_json_bytes_writes_decimals_as_the_cli_does() -> None:
    value = {"a": Decimal("1E+3"), "b": [Decimal("0E-18"), Decimal("-0.50")], "c": None, "d": 2, "e": "x"}
    assert json_bytes(value) == b'{"a":"1000","b":["0","-0.5"],"c":null,"d":2,"e":"x"}'
    with pytest.raises(TypeError):
        json_bytes({"f": 1.5j})


def test_a_message_is_the_replay_line_with_cause_and_seq() -> None:
    refused = live.Rejected(seq=3, time=Decimal("2.50"), cause="e7", field="amount", message="too much")
    assert json.loads(message(refused)) == {
        "t": "2.5", "event": "rejected", "field": "amount", "message": "too much", "cause": "e7", "seq": 3
    }  # fmt: skip
    figures = live.Figures(
        seq=9, time=Decimal(0), cause="e1", account="hedged", equity=Decimal("51000.000"),
        initial_margin=Decimal(45050), maintenance_margin=Decimal(17475), liquidatable=False,
    )  # fmt: skip
    assert json.loads(message(figures)) == {
        "t": "0", "event": "figures", "account": "hedged", "equity": "51000", "initial_margin": "45050",
        "maintenance_margin": "17475", "liquidatable": False, "basis": "exact", "cause": "e1", "seq": 9,
    }  # fmt: skip
    status = live.AccountStatus(
        seq=1, time=Decimal(1), cause="e1", account="a", state="liquidatable", equity=Decimal(700),
        maintenance_margin=Decimal("908.5"), statuses={"BTC-PERP": "valid"},
    )  # fmt: skip
    assert json.loads(message(status))["event"] == "liquidatable"  # an account status is named by its state


def test_an_account_view_is_evaluate_plus_frozen_and_statuses() -> None:
    loop = _replay().loop
    for account_id in ACCOUNTS:
        view = account_view(loop, account_id)
        assert {k: v for k, v in view.items() if k not in ("frozen", "statuses")} == evaluated()[account_id]
        assert view["frozen"] is False and set(view["statuses"].values()) == {"valid"}


def test_after_the_feed_frozen_and_statuses_are_the_replays() -> None:
    replay = _fed(_replay())
    end = json.loads(json_bytes(replay.end()))
    for account in end["accounts"]:
        view = account_view(replay.loop, account["id"])
        assert (view["frozen"], view["equity"]) == (account["frozen"], account["equity"])
        invalid = {s for s, status in view["statuses"].items() if status == "invalid"}
        assert view["frozen"] == bool(invalid)  # BTC and its marks went invalid; whoever depends on them froze
    assert account_view(replay.loop, "diversified")["statuses"]["BTC"] == "invalid"


def test_mirror_figures_by_hand() -> None:
    loop = _replay().loop
    # hedged at the opening (api_support's module doc): equity 51000, IM 45050, MM 17475, not liquidatable.
    equity, initial, maintenance, liquidatable = mirror_figures(loop, "hedged")
    assert (equity, initial, maintenance) == pytest.approx((51000, 45050, 17475), rel=1e-12)
    assert liquidatable is False
    shown = json.loads(mirror_message(loop, "hedged", (51000.0, 45050.0, 17475.0, False)))
    assert shown == {
        "t": "0", "event": "figures", "account": "hedged", "equity": "51000", "initial_margin": "45050",
        "maintenance_margin": "17475", "liquidatable": False, "basis": "mirror", "cause": loop.last_id,
    }  # fmt: skip


def test_book_figures_by_hand_and_after_the_feed() -> None:
    replay = _replay()
    opening = book_figures(replay.loop)
    # Four cross pools (evaluate) and the isolated ETH-PERP pool: 400 + 5 x (3200 - 3150) = 650 equity, MM 80.
    equity = sum(Decimal(a["equity"]) for a in evaluated().values()) + 650
    margin = sum(Decimal(a["maintenance_margin"]) for a in evaluated().values()) + 80
    assert float(opening["equity"]) == pytest.approx(float(equity), rel=1e-12)
    assert float(opening["maintenance_margin"]) == pytest.approx(float(margin), rel=1e-12)
    assert (opening["events"], opening["accounts"], opening["near_liquidation"]) == (0, 4, 0)
    assert (opening["insurance_fund"], opening["fee_pool"], opening["bad_debt"]) == ("25000", "0", "0")
    after = book_figures(_fed(replay).loop)
    end = json.loads(json_bytes(replay.end()))
    # The fund after the feed: 25000 less what its insurance lines paid (one, for near-liquidation's deficit).
    paid = [line["amount"] for line in replay.lines if line["event"] == "insurance"]  # type: ignore[attr-defined]
    assert len(paid) == 1
    assert after["insurance_fund"] == end["insurance_fund"]
    assert abs(Decimal(after["insurance_fund"]) - (25000 - paid[0])) < Decimal("1e-15")  # 20 digits shown
    assert (after["fee_pool"], after["bad_debt"], after["events"]) == (end["fee_pool"], end["bad_debt"], 11)
