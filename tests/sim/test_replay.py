"""The replay (:mod:`crossmargin.sim.replay`): its lines and its end line, directly and through
``crossmargin replay DOC --feed FEED.jsonl --json`` (one JSON line per event, then the end line) on the oracle
tests' book (tests/oracle/conftest.py). That the replay is the engine loop fed one update per event:
tests/live/test_paths.py."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.live import events as live
from crossmargin.live.loop import LoopConfig
from crossmargin.model import InputError, exact
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.document import oracle_config
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.sim.replay import Replay, line_of
from crossmargin.venues import rulebook
from tests.oracle.conftest import DOCUMENT

runner = CliRunner()

FEED = [
    {"t": 1, "source": "a", "symbol": "BTC", "price": 20000},
    {"t": 1, "source": "b", "symbol": "BTC", "price": 20000},
    {"t": 2, "source": "dex", "symbol": "BTC-PERP", "price": 15000},  # thin-market spike: no liquidation
    {"t": 30, "source": "a", "symbol": "BTC", "price": 17900},
    {"t": 30, "source": "b", "symbol": "BTC", "price": 17900},  # the index itself falls: liquidation
    {"t": 100, "source": "a", "symbol": "USDC", "price": 1},  # the clock moves on: BTC stale, invalid
]


D = Decimal


def replay() -> Replay:
    """The book under the generic rulebook, default liquidation terms, no liquidity model, no fund."""
    portfolio = portfolio_from_document(DOCUMENT)
    return Replay(LoopConfig(portfolio, rulebook("generic").rules, LiquidationTerms(), oracle_config(DOCUMENT)))


def test_a_line_is_its_event_without_sequence_number_and_cause():
    adl = live.Deleveraged(
        seq=7, time=D(30), cause="feed-5", account="b", instrument="BTC-PERP", size=D("0.5"),
        fill_price=D(19800), from_account="a", reason="shortfall",
    )  # fmt: skip
    line = line_of(adl)
    assert line == {
        "t": D(30), "event": "adl", "account": "b", "instrument": "BTC-PERP", "size": D("0.5"),
        "fill_price": D(19800), "reason": "shortfall", "from": "a",
    }  # fmt: skip
    assert list(line)[:2] == ["t", "event"]
    # an account status is named by its state; a price status lists its sources
    frozen = live.AccountStatus(
        seq=1, time=D(71), cause="feed-3", account="long", state="frozen", equity=D(1000),
        maintenance_margin=D(40), statuses={"BTC-PERP": "invalid"},
    )  # fmt: skip
    assert line_of(frozen) == {
        "t": D(71), "event": "frozen", "account": "long", "equity": D(1000), "maintenance_margin": D(40),
        "statuses": {"BTC-PERP": "invalid"},
    }  # fmt: skip
    status = live.PriceStatus(
        seq=2, time=D(1), cause="feed-1", symbol="BTC", status="valid", price=D(20000), reason="median",
        sources=("a", "b"),
    )  # fmt: skip
    assert line_of(status)["sources"] == ["a", "b"] and line_of(status)["event"] == "price_status"


def test_an_update_for_a_symbol_the_book_does_not_price_is_refused():
    engine = replay()
    for symbol in ("BTC", "USDC", "BTC-PERP"):  # priced assets and a marked instrument
        engine.check(SourceUpdate(D(1), "a", symbol, D(1)))
    with pytest.raises(InputError) as caught:
        engine.check(SourceUpdate(D(1), "a", "DOGE", D(1)))
    assert caught.value.field == "symbol"


def test_the_end_line_before_any_feed_is_the_document_worked_by_hand():
    end = replay().end()
    assert (end["t"], end["event"]) == (D(0), "end")
    assert end["prices"] == {
        "USDT": {"price": D(1), "status": "valid"}, "USDC": {"price": D(1), "status": "valid"},
        "BTC": {"price": D(20000), "status": "valid"}, "BTC-PERP": {"price": D(20000), "status": "valid"},
    }  # fmt: skip
    # long: 1000 USDT, no PnL at the entry price; MM 0.5 x 20000 x 0.004 = 40. usdc: 100 USDC at 1, weight 1.
    accounts = {a["id"]: a for a in cast(list[dict[str, Any]], end["accounts"])}
    assert [(a, accounts[a]["equity"], accounts[a]["maintenance_margin"]) for a in accounts] == [
        ("long", D(1000), D(40)),
        ("usdc", D(100), D(40)),
    ]
    assert not any(a["liquidatable"] or a["frozen"] or a["below_maintenance"] for a in accounts.values())
    assert (end["insurance_fund"], end["fee_pool"], end["bad_debt"]) == (0, 0, 0)


def run(
    tmp_path: Path, feed: list[dict[str, object]] | str, **sections: object
) -> tuple[int, list[dict[str, Any]], str]:
    document = tmp_path / "book.yaml"
    document.write_text(yaml.safe_dump(json.loads(json.dumps({**DOCUMENT, **sections}, default=str))))
    path = tmp_path / "feed.jsonl"
    path.write_text(feed if isinstance(feed, str) else "\n".join(json.dumps(line) for line in feed) + "\n")
    result = runner.invoke(app, ["replay", str(document), "--feed", str(path), "--json"])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def test_replay_prints_events_and_the_final_state(tmp_path: Path):
    code, lines, err = run(tmp_path, FEED)
    assert code == 0, err
    assert all("t" in line and "event" in line for line in lines)
    liquidations = [line for line in lines if line["event"] == "liquidatable"]
    # nothing at the spike (t=2). At t=30 source a reports 17900 first: a and b (20000) disagree by more
    # than 2 %, so no quorum stands behind their median 18950, which is |18950 - 20000| / 20000 = 5.25 % from
    # the last quorum price (more than max_deviation 2 %): invalid, nobody liquidated (the usdc account is
    # below its 9900 / 0.498 = 19879.52 there: suppressed). Then b reports 17900 too: a quorum of two at
    # 17900, below both liquidation prices (the long's 9000 / 0.498 = 18072.29), in document order.
    suppressed = [(line["t"], line["account"]) for line in lines if line["event"] == "liquidation_suppressed"]
    assert suppressed == [("30", "usdc")]
    assert [(line["t"], line["account"]) for line in liquidations] == [("30", "long"), ("30", "usdc")]
    end = lines[-1]
    assert end["event"] == "end" and end["prices"]["BTC"]["status"] == "invalid"
    assert all(a["positions"] == [] and not a["frozen"] for a in end["accounts"])  # both closed out


def test_replay_executes_the_liquidations(tmp_path: Path):
    _, lines, _ = run(tmp_path, FEED)
    # No liquidity section: fills at the mark; no insurance fund; the generic rulebook deleverages.
    # Both at 17900. long: net value 1000 - 1050 = -50, bankruptcy price 17900 + 50 / 0.5 = 18000.
    # usdc: net value 100 + 0.5 x (17900 - 20000) = -950, bankrupt with nothing to pay it: its long goes at
    # the bankruptcy price 17900 + 950 / 0.5 = 19800 to the market (no short to deleverage); realized
    # 0.5 x (19800 - 20000) = -100 USDT, repaid by selling its 100 USDC at 5 % off for 95 USDT; the 5 left
    # is bad debt.
    fills = [(x["account"], x["size"], x["fill_price"], x["taker"]) for x in lines if x["event"] == "liquidation"]
    assert fills == [("long", "-0.5", "18000", "backstop"), ("usdc", "-0.5", "19800", "backstop")]
    sale = next(x for x in lines if x["event"] == "collateral_sale")
    assert (sale["sold"], sale["sell_asset"], sale["bought"], sale["buy_asset"]) == ("100", "USDC", "95", "USDT")
    assert [(x["account"], x["amount"]) for x in lines if x["event"] == "bad_debt"] == [("usdc", "5")]
    end = lines[-1]
    assert (end["insurance_fund"], end["bad_debt"], end["fee_pool"]) == ("0", "5", "0")
    assert {a["id"]: a["balances"] for a in end["accounts"]} == {"long": {}, "usdc": {}}


def test_replay_fills_against_depth_and_draws_on_the_insurance_fund(tmp_path: Path):
    depth = {"BTC-PERP": {"model": "levels", "levels": [["0.01", 10]]}}
    _, lines, err = run(tmp_path, FEED, insurance_fund=2000, liquidity=depth)
    marks = []  # the oracle's BTC-PERP mark when each liquidation happened
    for line in lines:
        if line["event"] == "price_status" and line["symbol"] == "BTC-PERP":
            mark = Decimal(line["price"])
        if line["event"] == "liquidation":
            marks.append(mark)
    fills = [x for x in lines if x["event"] == "liquidation"]
    assert [x["account"] for x in fills] == ["long", "usdc"], err
    with exact():

        def near(printed: str, expected: Decimal) -> bool:  # printed figures carry 20 significant digits
            return abs(Decimal(printed) - expected) <= Decimal("1e-12")

        # each sells 0.5 at 1 % under the mark m: slippage 0.5 x 0.01 m
        for fill, m in zip(fills, marks, strict=True):
            assert near(fill["fill_price"], m * Decimal("0.99"))
            assert near(fill["slippage"], Decimal("0.005") * m)
        # long: 1000 + 0.5 x (0.99 m - 20000); usdc: realized 0.5 x (0.99 m - 20000) in USDT, plus 95 USDT
        # for its 100 USDC sold at 5 % off. At m near 17877 the deficits are about 151 and 1056: the fund
        # pays each (within its 2000).
        long = -(1000 + Decimal("0.5") * (marks[0] * Decimal("0.99") - 20000))
        usdc = -(Decimal("0.5") * (marks[1] * Decimal("0.99") - 20000) + 95)
        covers = [(x["account"], x["amount"]) for x in lines if x["event"] == "insurance"]
        assert [a for a, _ in covers] == ["long", "usdc"]
        assert near(covers[0][1], long) and near(covers[1][1], usdc)
        end = lines[-1]
        assert near(end["insurance_fund"], 2000 - usdc - long) and end["bad_debt"] == "0"


def test_a_bad_liquidity_section_names_its_field(tmp_path: Path):
    code, lines, err = run(tmp_path, FEED, liquidity={"BTC-PERP": {"model": "levels"}})
    assert code == 2 and lines == [] and "liquidity.BTC-PERP" in err
    code, _, err = run(tmp_path, FEED, liquidity={"DOGE-PERP": {"model": "mark"}})
    assert code == 2 and "liquidity.DOGE-PERP" in err
    code, _, err = run(tmp_path, FEED, insurance_fund=-1)
    assert code == 2 and "insurance_fund" in err


def test_replay_is_deterministic(tmp_path: Path):
    assert run(tmp_path, FEED) == run(tmp_path, FEED)


def test_a_bad_feed_line_names_the_line_and_field(tmp_path: Path):
    good = '{"t": 1, "source": "a", "symbol": "BTC", "price": 20000}'
    bad = '{"t": 2, "source": "a", "symbol": "BTC", "price": -1}'
    code, lines, err = run(tmp_path, f"{good}\n{bad}\n")
    assert code == 2 and lines == []
    assert "feed.jsonl:2" in err and "price" in err


def test_an_unknown_symbol_is_refused_before_any_output(tmp_path: Path):
    feed = [*FEED[:2], {"t": 3, "source": "a", "symbol": "DOGE", "price": 1}]
    code, lines, err = run(tmp_path, feed)
    assert code == 2 and lines == []
    assert "update 3" in err and "DOGE" in err


def test_a_lone_surviving_source_does_not_liquidate(tmp_path: Path):
    # Issue 15's case: quorum 2 of three sources, all at 60000 up to t = 10; at t = 100 only c reports, 50000
    # (a and b are 90 s old: stale at max_age_s 30). c alone is 10000 / 60000 = 16.7 % from the last quorum
    # price, beyond max_deviation 5 %: invalid (not the circuit breaker: the EMA is still 60000 and 16.7 % <
    # 25 %). The long (1 BTC from 60000 on 1000 USDT) is at 1000 - 10000 = -9000 there: below maintenance,
    # but held, not liquidated, and frozen.
    feed: list[dict[str, object]] = [
        {"t": t, "source": s, "symbol": "BTC", "price": 60000} for t in (0, 10) for s in "abc"
    ]
    feed.append({"t": 100, "source": "c", "symbol": "BTC", "price": 50000})
    long = {
        "id": "long",
        "balances": {"USDT": 1000},
        "positions": [{"instrument": "BTC-PERP", "size": 1, "entry_price": 60000}],
    }
    code, lines, err = run(
        tmp_path,
        feed,
        prices={"USDT": 1, "USDC": 1, "BTC": 60000},
        marks={"BTC-PERP": 60000},
        accounts=[long],
        oracle={"max_age_s": 30, "quorum": 2, "max_deviation": "0.05"},
    )
    assert code == 0, err
    last = [line for line in lines if line["event"] == "price_status" and line["symbol"] == "BTC"][-1]
    assert (last["price"], last["status"], last["sources"]) == ("50000", "invalid", ["c"])
    assert "1 agreeing fresh sources, quorum 2" in last["reason"]
    events = [(line["t"], line["event"]) for line in lines if line.get("account") == "long"]
    assert events == [("100", "liquidation_suppressed"), ("100", "frozen")]
    assert not [line for line in lines if line["event"] in ("liquidatable", "liquidation")]
    end = lines[-1]
    assert end["accounts"][0]["positions"] == [
        {"instrument": "BTC-PERP", "size": "1", "entry_price": "60000", "isolated_margin": None}
    ]
