"""The API over HTTP (FastAPI's TestClient, the lifespan running the writer), on SQLite and on the real
PostgreSQL: worked cases whose expected figures come by hand from the document's figures (arithmetic in the
comments; the opening book's is in :mod:`tests.service.api_support`) or from a second method, the CLI's
``evaluate``, ``what-if`` and ``replay`` (and the ``Replay`` class) on the same document and feed."""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossmargin.live.document import loop_config_of
from crossmargin.model.document_text import parse_document
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.sim.replay import Replay
from tests.service.api_support import (
    ACCOUNTS,
    BOOK,
    BOOK_TEXT,
    Served,
    cli_json_lines,
    closed_with,
    dec,
    evaluated,
    feed_lines,
    receive,
    replayed,
    serving,
    without_stream_fields,
)

# The prices each account depends on (its balances' assets, then its positions' instruments), all valid at
# the opening: read off the document's accounts.
OPENING_STATUSES = {
    "diversified": dict.fromkeys(("USDT", "USDC", "BTC", "ETH", "BTC-PERP", "ETH-PERP"), "valid"),
    "hedged": dict.fromkeys(("USDT", "BTC-PERP", "BTC-0328"), "valid"),
    "near-liquidation": dict.fromkeys(("USDT", "BTC-PERP"), "valid"),
    "coin-and-isolated": dict.fromkeys(("BTC", "USDT", "BTCUSD-PERP", "ETH-PERP"), "valid"),
}

# One source's BTC quote at 63900. The perpetual's mark stands at the BTC price (the document marks it at
# the price, 64000), so near-liquidation (long 3 BTC-PERP from 66500, 8500 USDT) is then worth
#   equity = 8500 + 3 x (63900 - 66500) = 700;  MM = 191700 x 0.005 - 50 = 908.5  ->  700 < 908.5: liquidated.
# Its liquidation sells into BTC-PERP's levels [[0.0005, 0.5 BTC], [0.002, 2 BTC], ...] off the mark 63900:
#   the size sold is 1540 contracts = 1.54 BTC: 0.5 at 63900 x 0.9995 = 63868.05, 1.04 at 63900 x 0.998 =
#   63772.2; proceeds 31934.025 + 66323.088 = 98257.113; fill price 98257.113 / 1.54;
#   slippage = 1.54 x 63900 - 98257.113 = 148.887.
# Half of the last level's move stays in the mark (permanent impact 0.5): 63900 - 0.5 x 127.8 = 63836.1, so
#   equity after = 700 - 148.887 + 1.46 x (63836.1 - 63900) = 700 - 148.887 - 93.294 = 457.819.
LIQUIDATING = {"t": 1, "source": "binance", "symbol": "BTC", "price": 63900}


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serving(database_url) as service:
        yield service


def _balances(view: dict[str, Any]) -> dict[str, Decimal]:
    return {c["asset"]: dec(c["amount"]) for c in view["collateral"]}


def _positions(view: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    return {p["instrument"]: (dec(p["size"]), dec(p["entry_price"])) for p in view["positions"]}


# ------------------------------------------------------------------ reading


def test_health_at_the_opening_is_the_replay_engines(served: Served) -> None:
    # Second method: the replay engine on the same document, before any event.
    fresh = Replay(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))
    assert served.client.get("/v1/health").json() == {"status": "ok", "events": 0, "digest": fresh.loop.digest()}


def test_an_account_is_its_evaluate_entry_with_frozen_and_statuses(served: Served) -> None:
    for account_id in ACCOUNTS:
        expected = {**evaluated()[account_id], "frozen": False, "statuses": OPENING_STATUSES[account_id]}
        assert served.view(account_id) == expected
    # The figures the module doc works by hand, as the API shows them.
    hedged = served.view("hedged")
    figures = (dec(hedged["equity"]), dec(hedged["initial_margin"]), dec(hedged["free_collateral"]))
    assert figures == (Decimal(51000), Decimal(45050), Decimal(5950))


def test_an_unknown_account_is_404_naming_it(served: Served) -> None:
    answer = served.client.get("/v1/accounts/nobody", headers=served.auth("admin"))
    assert answer.status_code == 404
    assert answer.json() == {"error": {"field": "account", "message": "no account with id 'nobody'"}}


def test_accounts_page_sorted_by_margin_ratio(served: Served) -> None:
    # Margin ratio = MM / equity from evaluate (exact): near-liquidation 910/1000 = 0.91, hedged 17475/51000,
    # coin-and-isolated 0.0103..., diversified 750/76200 = 0.0098...
    ratios = {a: dec(entry["margin_ratio"]) for a, entry in evaluated().items()}
    assert ratios["near-liquidation"] == Decimal("0.91")
    assert abs(ratios["diversified"] - Decimal(750) / Decimal(76200)) < Decimal("1e-20")  # 20 digits printed
    descending = sorted(ratios, key=lambda a: ratios[a], reverse=True)
    assert descending == ["near-liquidation", "hedged", "coin-and-isolated", "diversified"]
    admin = served.auth("admin")

    def page(**query: object) -> dict[str, Any]:
        answer = served.client.get("/v1/accounts", params=query, headers=admin)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    first, second = page(limit=2), page(limit=2, offset=2)
    assert (first["total"], first["offset"], second["total"], second["offset"]) == (4, 0, 4, 2)
    assert [a["id"] for a in first["accounts"] + second["accounts"]] == descending
    assert page(limit=3, offset=3)["accounts"] == [served.view(descending[3])]
    assert page(offset=4)["accounts"] == []
    ascending = page(order="asc")["accounts"]
    assert [a["id"] for a in ascending] == descending[::-1]
    assert ascending == [served.view(a) for a in descending[::-1]]  # each entry as GET /v1/accounts/{id}
    assert [a["id"] for a in page(sort="id", order="asc")["accounts"]] == sorted(ACCOUNTS)
    assert [a["id"] for a in page(sort="id")["accounts"]] == sorted(ACCOUNTS, reverse=True)
    bad = served.client.get("/v1/accounts", params={"limit": 0}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "limit"


def test_book_aggregates_by_hand(served: Served) -> None:
    admin = served.auth("admin")
    book = served.client.get("/v1/book", headers=admin).json()
    # Every pool: the four cross pools (evaluate's equity and MM) and coin-and-isolated's isolated ETH-PERP
    # pool: 400 USDT of margin + 5 ETH x (3200 - 3150) = 650 equity; MM 16000 x 0.005 = 80.
    equity = sum(dec(a["equity"]) for a in evaluated().values()) + 650
    margin = sum(dec(a["maintenance_margin"]) for a in evaluated().values()) + 80
    assert float(book["equity"]) == pytest.approx(float(equity), rel=1e-12)
    assert float(book["maintenance_margin"]) == pytest.approx(float(margin), rel=1e-12)
    assert {k: book[k] for k in ("events", "accounts", "near_liquidation", "insurance_fund", "fee_pool")} == {
        "events": 0,
        "accounts": 4,
        "near_liquidation": 0,  # near-liquidation: 1000 >= 910 x 1.005 = 914.55, outside the 0.5% band
        "insurance_fund": "25000",
        "fee_pool": "0",
    }
    assert book["bad_debt"] == "0"
    # BTC at 63971: near-liquidation's equity = 8500 + 3 x (63971 - 66500) = 913, MM = 191913 x 0.005 - 50 =
    # 909.565: above MM, below 909.565 x 1.005 = 914.11: within the band, not liquidated.
    line = {"t": 1, "source": "binance", "symbol": "BTC", "price": "63971"}
    assert served.client.post("/v1/prices", json=[line], headers=admin).status_code == 200
    book = served.client.get("/v1/book", headers=admin).json()
    assert (book["events"], book["near_liquidation"]) == (1, 1)
    near = served.view("near-liquidation")
    assert (dec(near["equity"]), dec(near["maintenance_margin"])) == (Decimal(913), Decimal("909.565"))
    assert near["liquidatable"] is False


def test_order_check_is_what_if_order(served: Served) -> None:
    before = served.health()
    for account_id in ("hedged", "near-liquidation"):
        answer = served.client.post(
            f"/v1/accounts/{account_id}/order-check",
            json={"instrument": "BTC-PERP", "size": "100", "price": "64000"},
            headers=served.auth(f"account:{account_id}"),
        )
        assert answer.status_code == 200, answer.text
        (expected,) = cli_json_lines(
            "what-if", BOOK, "--account", account_id, "--order", "BTC-PERP", "--size", "100", "--price", "64000",
            "--json",
        )  # fmt: skip
        assert answer.json() == expected
    # By hand (module doc): near-liquidation's free collateral is -920 already, so no order adds risk.
    assert (expected["free_collateral_before"], expected["passes"]) == ("-920", False)
    assert served.health() == before  # a question changes nothing


def test_max_withdrawal_is_what_if_withdraw(served: Served) -> None:
    for account_id in ACCOUNTS:
        answer = served.client.post(
            f"/v1/accounts/{account_id}/max-withdrawal", json={"asset": "USDT"}, headers=served.auth("admin")
        )
        (expected,) = cli_json_lines("what-if", BOOK, "--account", account_id, "--withdraw", "USDT", "--json")
        assert answer.json() == expected
    hedged = served.client.post(
        "/v1/accounts/hedged/max-withdrawal", json={"asset": "USDT"}, headers=served.auth("admin")
    )
    assert hedged.json()["max_withdrawable"] == "5950"  # by hand: free collateral 5950 at weight 1


# ------------------------------------------------------------------ money


def test_withdrawal_beyond_free_collateral_is_refused_and_within_it_passes(served: Served) -> None:
    own = served.auth("account:hedged")
    maximum = served.client.post("/v1/accounts/hedged/max-withdrawal", json={"asset": "USDT"}, headers=own)
    assert maximum.json()["max_withdrawable"] == "5950"  # by hand: 51000 - 45050 (module doc)

    before = served.fingerprint()
    refused = served.client.post(
        "/v1/accounts/hedged/withdrawals", json={"asset": "USDT", "amount": "5950.01"}, headers=own
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "amount" and "free collateral" in error["message"], error
    assert "5950" in error["message"].replace("5950.01", "")  # the reason names the figure worked by hand
    # Nothing changed: no balance, no figure, the same clearing state, the same log (refused before it).
    assert served.fingerprint() == before and "seq" not in refused.json()

    passed = served.client.post(
        "/v1/accounts/hedged/withdrawals", json={"asset": "USDT", "amount": "5950"}, headers=own
    )
    assert passed.status_code == 200, passed.text
    # 50000 - 5950 = 44050 USDT; equity 51000 - 5950 = 45050 = IM: free collateral 0.
    (figures,) = passed.json()["events"]
    assert (figures["event"], figures["account"]) == ("figures", "hedged")
    assert dec(figures["equity"]) == dec(figures["initial_margin"]) == Decimal(45050)
    view = served.view("hedged")
    assert (_balances(view), dec(view["free_collateral"])) == ({"USDT": Decimal(44050)}, Decimal(0))
    after = served.client.post("/v1/accounts/hedged/max-withdrawal", json={"asset": "USDT"}, headers=own)
    assert dec(after.json()["max_withdrawable"]) == 0
    again = served.client.post("/v1/accounts/hedged/withdrawals", json={"asset": "USDT", "amount": "0.01"}, headers=own)
    assert again.status_code == 422 and again.json()["error"]["field"] == "amount"
    assert _balances(served.view("hedged")) == {"USDT": Decimal(44050)}


def test_an_account_under_its_initial_margin_may_withdraw_nothing(served: Served) -> None:
    before = served.fingerprint()
    answer = served.client.post(
        "/v1/accounts/near-liquidation/withdrawals", json={"asset": "USDT", "amount": "1"}, headers=served.auth("admin")
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "amount"  # free collateral -920
    assert served.fingerprint() == before


def test_deposit_is_the_document_with_the_deposit(served: Served, tmp_path: Path) -> None:
    answer = served.client.post(
        "/v1/accounts/hedged/deposits", json={"asset": "USDT", "amount": 1000}, headers=served.auth("account:hedged")
    )
    assert answer.status_code == 200, answer.text
    (figures,) = answer.json()["events"]
    assert dec(figures["equity"]) == 52000  # 51000 + 1000
    # Second method: evaluate the document with hedged's balance at 51000 USDT.
    document = tmp_path / "deposited.yaml"
    document.write_text(BOOK_TEXT.replace("balances: {USDT: 50000}", "balances: {USDT: 51000}"), encoding="utf-8")
    assert served.view("hedged") == {
        **evaluated(document)["hedged"],
        "frozen": False,
        "statuses": OPENING_STATUSES["hedged"],
    }
    for account_id in ("diversified", "near-liquidation", "coin-and-isolated"):
        assert served.view(account_id) == {
            **evaluated()[account_id],
            "frozen": False,
            "statuses": OPENING_STATUSES[account_id],
        }


def test_an_idempotency_key_applies_once(served: Served) -> None:
    own = {**served.auth("account:hedged"), "Idempotency-Key": "deposit-1"}
    events = served.health()["events"]
    first = served.client.post("/v1/accounts/hedged/deposits", json={"asset": "USDT", "amount": "250"}, headers=own)
    second = served.client.post("/v1/accounts/hedged/deposits", json={"asset": "USDT", "amount": "250"}, headers=own)
    assert first.status_code == second.status_code == 200
    assert first.json()["repeated"] is False and second.json()["repeated"] is True
    assert {**first.json(), "repeated": True} == second.json()  # the first answer again
    assert served.health()["events"] == events + 1
    assert _balances(served.view("hedged")) == {"USDT": Decimal(50250)}  # 50000 + 250, once
    # The key is the key holder's: another API key's request under the same Idempotency-Key is its own.
    other = {**served.auth("admin"), "Idempotency-Key": "deposit-1"}
    third = served.client.post("/v1/accounts/hedged/deposits", json={"asset": "USDT", "amount": "250"}, headers=other)
    assert third.json()["repeated"] is False
    assert _balances(served.view("hedged")) == {"USDT": Decimal(50500)}
    # The same key with another request is refused, naming the key; nothing applied.
    changed = {"asset": "USDT", "amount": "1"}
    reused = served.client.post("/v1/accounts/hedged/deposits", json=changed, headers=own)
    assert reused.status_code == 422 and reused.json()["error"]["field"] == "Idempotency-Key"
    # A refused request under a key: refused each time, nothing applied, nothing logged.
    keyed = {**served.auth("account:hedged"), "Idempotency-Key": "withdraw-too-much"}
    refusals = [
        served.client.post("/v1/accounts/hedged/withdrawals", json={"asset": "USDT", "amount": "50000"}, headers=keyed)
        for _ in range(2)
    ]
    assert [r.status_code for r in refusals] == [422, 422]
    assert refusals[0].json()["error"] == refusals[1].json()["error"]
    assert refusals[0].json()["error"]["field"] == "amount"
    assert served.health()["events"] == events + 2
    assert _balances(served.view("hedged")) == {"USDT": Decimal(50500)}


# ------------------------------------------------------------------ trades and accounts


def test_a_matchers_trade_by_hand(served: Served) -> None:
    answer = served.client.post(
        "/v1/trades",
        json={
            "buyer": "diversified",
            "seller": "hedged",
            "instrument": "BTC-PERP",
            "size": "100",
            "price": "64000",
            "buyer_fee": "1.5",
            "seller_fee": "0.5",
        },
        headers=served.auth("matcher"),
    )
    assert answer.status_code == 200, answer.text
    figures = {e["account"]: e for e in answer.json()["events"] if e["event"] == "figures"}
    # diversified buys 100 contracts (0.1 BTC) at the mark, 64000: no PnL, 1.5 USDT fee.
    #   BTC-PERP 2100 at (2000 x 61500 + 100 x 64000) / 2100; USDT 30000 - 1.5 = 29998.5; equity 76198.5
    #   IM: BTC-PERP 134400 x 0.01 = 1344, + ETH-PERP 320 = 1664; MM: 134400 x 0.005 - 50 = 622, + 160 = 782
    # hedged sells 100 of its 10000: 100 x 0.001 x (64000 - 63800) = 20 USDT realised, 0.5 USDT fee.
    #   BTC-PERP 9900 at 63800; USDT 50000 + 20 - 0.5 = 50019.5; equity 51000 - 0.5 = 50999.5
    #   IM: 633600 x 0.02 = 12672, + 32250 = 44922; MM: 633600 x 0.01 - 1300 = 5036, + 12375 = 17411
    #   (1300 = 50000 x (0.005 - 0.004) + 250000 x (0.01 - 0.005), MM continuous at the tiers' edges)
    shown = {
        a: tuple(dec(f[k]) for k in ("equity", "initial_margin", "maintenance_margin")) for a, f in figures.items()
    }
    assert shown == {
        "diversified": (Decimal("76198.5"), Decimal(1664), Decimal(782)),
        "hedged": (Decimal("50999.5"), Decimal(44922), Decimal(17411)),
    }
    diversified, hedged = served.view("diversified"), served.view("hedged")
    assert _balances(diversified)["USDT"] == Decimal("29998.5")
    assert _balances(hedged)["USDT"] == Decimal("50019.5")
    size, entry = _positions(diversified)["BTC-PERP"]
    assert size == 2100 and abs(entry - Decimal(129_400_000) / 2100) < Decimal("1e-12")
    assert _positions(hedged)["BTC-PERP"] == (Decimal(9900), Decimal(63800))


def test_a_trade_the_margin_check_refuses_changes_nothing(served: Served) -> None:
    before = served.fingerprint()
    answer = served.client.post(
        "/v1/trades",
        json={
            "buyer": "near-liquidation",
            "seller": "hedged",
            "instrument": "BTC-PERP",
            "size": "100",
            "price": "64000",
        },
        headers=served.auth("matcher"),
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "buyer" and "initial-margin" in error["message"], error
    assert served.fingerprint() == before


def test_open_an_account_then_fund_it(served: Served) -> None:
    admin = served.auth("admin")
    opened = served.client.post("/v1/accounts", json={"id": "fresh"}, headers=admin)
    assert opened.status_code == 200, opened.text
    view = served.view("fresh")
    assert {k: view[k] for k in ("equity", "initial_margin", "maintenance_margin", "free_collateral")} == dict.fromkeys(
        ("equity", "initial_margin", "maintenance_margin", "free_collateral"), "0"
    )
    assert (view["margin_ratio"], view["collateral"], view["positions"], view["frozen"], view["statuses"]) == (
        None, [], [], False, {}
    )  # fmt: skip
    twice = served.client.post("/v1/accounts", json={"id": "fresh"}, headers=admin)
    assert twice.status_code == 422 and twice.json()["error"]["field"] == "account"
    listed = served.client.get("/v1/accounts", headers=admin).json()
    # An empty account owes no margin: ratio 0, the lowest, so it ranks last by margin ratio, descending.
    assert (listed["total"], listed["accounts"][-1]["id"]) == (5, "fresh")
    funded = served.client.post("/v1/accounts/fresh/deposits", json={"asset": "USDT", "amount": "100"}, headers=admin)
    assert funded.status_code == 200
    view = served.view("fresh")
    assert (dec(view["equity"]), dec(view["free_collateral"])) == (Decimal(100), Decimal(100))
    assert view["statuses"] == {"USDT": "valid"}


# ------------------------------------------------------------------ prices and liquidations


def test_a_price_that_liquidates_one_account(served: Served, tmp_path: Path) -> None:
    admin = served.key("admin")
    url = f"/v1/stream?topic=account:near-liquidation&topic=liquidations&key={admin}"
    with served.client.websocket_connect(url) as socket:
        assert receive(socket) == {
            "event": "subscribed", "topics": ["account:near-liquidation", "liquidations"], "events": 0
        }  # fmt: skip
        answer = served.client.post("/v1/prices", json=[LIQUIDATING], headers=served.auth("feeder"))
        assert answer.status_code == 200, answer.text
        *lines, end = replayed(tmp_path, [LIQUIDATING])  # second method: `crossmargin replay --json`
        assert answer.json()["events"] == lines
        health = served.health()
        # On the socket: every line of the account (its standing, its fill, its figures) and of the
        # liquidations (the fill, the mark it moved), each once, in the replay's order; no price status.
        followed = [line for line in lines if line["event"] != "price_status"]
        assert [line["event"] for line in followed] == ["liquidatable", "liquidation", "figures", "mark_moved"]
        messages = [receive(socket) for _ in followed]
        # A sentinel: read up to the next event's message, so whatever else came in between is seen.
        deposit = {"asset": "USDT", "amount": "1"}
        served.client.post("/v1/accounts/near-liquidation/deposits", json=deposit, headers=served.auth("admin"))
        between = [receive(socket)]
        while between[-1]["cause"] != "e2":
            between.append(receive(socket))
        *extra, sentinel = between
    assert [without_stream_fields(m) for m in messages] == followed
    assert [(m["cause"], m["seq"]) for m in messages] == [("e1", n) for n in (5, 6, 7, 8)]  # after 4 statuses
    assert [m.get("basis") for m in messages] == [None, None, "exact", None]  # the engine's exact figures
    assert (sentinel["event"], sentinel["cause"]) == ("figures", "e2")
    assert extra == []  # no mirror echo of the exact figures just sent (they agree within float error)
    # Only near-liquidation was liquidated, at the figures worked by hand above.
    assert {line["account"] for line in lines if line["event"] == "liquidation"} == {"near-liquidation"}
    status, fill, figures, moved = followed
    assert (dec(status["equity"]), dec(status["maintenance_margin"])) == (Decimal(700), Decimal("908.5"))
    assert dec(fill["size"]) == -1540 and dec(fill["slippage"]) == Decimal("148.887")
    assert abs(dec(fill["fill_price"]) - Decimal("98257.113") / Decimal("1.54")) < Decimal("1e-12")
    assert dec(figures["equity"]) == Decimal("457.819")
    assert (dec(moved["before"]), dec(moved["mark"])) == (Decimal(63900), Decimal("63836.1"))
    # The replay's engine after the same line has the digest health showed after it.
    assert (health["events"], health["digest"]) == (end["events"], end["digest"]) == (1, end["digest"])


def test_the_shipped_feed_through_the_api_is_its_replay(served: Served, tmp_path: Path) -> None:
    lines = feed_lines()
    answer = served.client.post("/v1/prices", json=lines, headers=served.auth("feeder"))
    assert answer.status_code == 200, answer.text
    *expected, end = replayed(tmp_path, lines)
    assert answer.json()["events"] == expected
    assert served.health() == {"status": "ok", "events": len(lines), "digest": end["digest"]}
    # Second method for the same: the Replay class, line by line.
    replay = Replay(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))
    for line in lines:
        replay.feed(SourceUpdate(Decimal(line["t"]), line["source"], line["symbol"], Decimal(str(line["price"])), None))
    assert replay.end()["digest"] == end["digest"]
    for account in end["accounts"]:
        view = served.view(account["id"])
        assert (view["frozen"], view["equity"]) == (account["frozen"], account["equity"])
    # The oracle policy refuses a withdrawal that depends on a frozen price (BTC went invalid), changing nothing.
    assert served.view("diversified")["statuses"]["BTC"] == "invalid"
    before = served.fingerprint()
    refused = served.client.post(
        "/v1/accounts/diversified/withdrawals", json={"asset": "USDT", "amount": "1"}, headers=served.auth("admin")
    )
    assert refused.status_code == 422
    assert "frozen" in refused.json()["error"]["message"]
    assert served.fingerprint() == before


def test_stream_refusals_close_with_the_status_as_code(served: Served) -> None:
    cases = [
        ("/v1/stream?topic=liquidations", 4401),
        (f"/v1/stream?topic=liquidations&key={served.key('account:hedged')}", 4403),
        (f"/v1/stream?topic=nope&key={served.key('admin')}", 4422),
        (f"/v1/stream?key={served.key('admin')}", 4422),
        (f"/v1/stream?topic=account:nobody&key={served.key('admin')}", 4404),
        (f"/v1/stream?topic=account:nobody&key={served.key('account:hedged')}", 4403),  # the scope first
    ]
    for url, code in cases:
        with served.client.websocket_connect(url) as socket:
            messages, closed = closed_with(socket)
        assert closed == code, url
        assert [set(m["error"]) for m in messages] == [{"field", "message"}], messages


def test_the_clock_does_not_go_back(served: Served) -> None:
    feeder = served.auth("feeder")
    line = {"t": 5, "source": "binance", "symbol": "USDC", "price": 1}
    assert served.client.post("/v1/prices", json=[line], headers=feeder).status_code == 200
    assert served.client.post("/v1/clock", json={"t": 6}, headers=feeder).status_code == 200
    before = served.fingerprint()
    answer = served.client.post("/v1/clock", json={"t": 5}, headers=feeder)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "t"
    assert served.fingerprint() == before


def test_a_json_number_in_a_price_line_is_read_exactly(served: Served) -> None:
    # The feed lines as the API takes them: JSON numbers read exactly (no float on the way).
    line = {"t": 1, "source": "binance", "symbol": "USDC", "price": 0.1}
    answer = served.client.post("/v1/prices", content=json.dumps([line]), headers=served.auth("feeder"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"][0]["price"] == "0.1"
