"""``crossmargin replay DOC --feed FEED.jsonl --json``: one JSON line per event, then the end line."""

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from crossmargin.cli.main import app
from tests.oracle.test_oracle import DOCUMENT

runner = CliRunner()

FEED = [
    {"t": 1, "source": "a", "symbol": "BTC", "price": 20000},
    {"t": 1, "source": "b", "symbol": "BTC", "price": 20000},
    {"t": 2, "source": "dex", "symbol": "BTC-PERP", "price": 15000},  # thin-market spike: no liquidation
    {"t": 30, "source": "a", "symbol": "BTC", "price": 17900},
    {"t": 30, "source": "b", "symbol": "BTC", "price": 17900},  # the index itself falls: liquidation
    {"t": 100, "source": "a", "symbol": "USDC", "price": 1},  # the clock moves on: BTC stale, invalid
]


def run(tmp_path: Path, feed: list[dict[str, object]] | str) -> tuple[int, list[dict[str, Any]], str]:
    document = tmp_path / "book.yaml"
    document.write_text(yaml.safe_dump(json.loads(json.dumps(DOCUMENT, default=str))))
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
    # than 2 %, so the index is their median 18950 (degraded, still liquidating): below the usdc account's
    # 9900 / 0.498 = 19879.52; then b reports 17900 too: below the long's 9000 / 0.498 = 18072.29
    assert [(line["t"], line["account"]) for line in liquidations] == [("30", "usdc"), ("30", "long")]
    frozen = [(line["t"], line["account"]) for line in lines if line["event"] == "frozen"]
    assert ("100", "long") in frozen
    end = lines[-1]
    assert end["event"] == "end" and end["prices"]["BTC"]["status"] == "invalid"
    long = next(a for a in end["accounts"] if a["id"] == "long")
    assert long["frozen"] is True and long["liquidatable"] is False and long["below_maintenance"] is True


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
