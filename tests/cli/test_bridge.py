"""``crossmargin import`` and ``crossmargin reconcile`` end to end on the recorded fixtures: the document written
(JSON on stdout, JSON or YAML to --out), the reconciliation as tables and JSON, and errors naming the field with
exit code 2 and nothing written."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.bridge.importer import document_from_responses
from crossmargin.model.document_text import parse_json, parse_yaml
from tests.bridge.support import FIXTURES, responses
from tests.cli.conftest import plain, run

CROSS = FIXTURES / "binanceusdm-cross.json"


def test_import_prints_the_document_as_json():
    code, out, err = run("import", "binanceusdm", "--from-file", CROSS)
    assert (code, err) == (0, "")
    assert parse_json(out, "stdout") == document_from_responses(responses("binanceusdm-cross"))


@pytest.mark.parametrize("name", ["doc.yaml", "doc.json"])
def test_import_writes_the_document_to_out(tmp_path: Path, name: str):
    out = tmp_path / name
    code, stdout, _ = run("import", "okx", "--from-file", FIXTURES / "okx-cross.json", "--out", out)
    assert (code, stdout) == (0, "")
    text = out.read_text(encoding="utf-8")
    written = parse_yaml(text, name) if name.endswith("yaml") else parse_json(text, name)
    assert written == document_from_responses(responses("okx-cross"))


@pytest.mark.parametrize("fixture", sorted(path.stem for path in FIXTURES.glob("*.json")))
def test_an_imported_document_evaluates_with_the_figures_reconcile_shows(tmp_path: Path, fixture: str):
    # the document keeps the venue's figures under reported:, which evaluate reads past; its equity is the one
    # reconcile sets beside the venue's (a second route: reconcile evaluates the document stripped of them)
    document = tmp_path / "doc.yaml"
    venue = responses(fixture).venue
    assert run("import", venue, "--from-file", FIXTURES / f"{fixture}.json", "--out", document)[0] == 0
    code, out, err = run("evaluate", document, "--json")
    assert (code, err) == (0, "")
    evaluated = {account["id"]: account for account in json.loads(out)["accounts"]}
    reconciled = json.loads(run("reconcile", document, "--json")[1])
    written = parse_yaml(document.read_text(encoding="utf-8"), "doc.yaml")
    prices = {**written.get("prices", {}), written["base"]: 1}
    for account in reconciled["accounts"]:
        ours = {line["figure"]: line["ours"] for line in account["figures"]}
        if account["scope"] == "cross" and ours.get("equity") is not None:
            # reconcile shows money in the venue's currency, evaluate in the base currency
            in_base = Decimal(ours["equity"]) * Decimal(str(prices[account["currency"]]))
            assert in_base == pytest.approx(Decimal(evaluated[account["id"]]["equity"]), rel=Decimal("1e-20"))


def test_reconcile_reads_a_recording_or_an_imported_document(tmp_path: Path):
    document = tmp_path / "doc.yaml"
    assert run("import", "bybit", "--from-file", FIXTURES / "bybit-unified.json", "--out", document)[0] == 0
    code, out, err = run("reconcile", document, "--json")
    assert (code, err) == (0, "")
    from_document = json.loads(out)
    code, out, _ = run("reconcile", FIXTURES / "bybit-unified.json", "--json")
    assert json.loads(out) == from_document
    # 5 agree, 8 are explained (IM and MM at the user's leverage with the fee to close, the ETH estimate...)
    assert from_document["summary"] == {"agrees": 5, "explained": 8, "noted": 0, "missing": 0, "unexplained": 0}


def test_reconcile_prints_tables():
    code, out, _ = run("reconcile", FIXTURES / "binanceusdm-hedge.json")
    assert code == 0
    text = plain(out)
    assert "Reconcile binanceusdm-USDT" in text
    assert "hedge mode: the venue prints the legs' one liquidation price" in text
    assert "unexplained" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "kraken", "--from-file", CROSS), "error: VENUE: unknown venue 'kraken'"),
        (("import", "okx", "--from-file", CROSS), "error: {cross}: venue: the file records 'binanceusdm', not 'okx'"),
        (("import", "binanceusdm", "--from-file", CROSS, "--record", "r.json"), "error: --record: only goes with"),
        (("import", "binanceusdm"), "error: --live: no credentials for binanceusdm in the environment"),
        (("reconcile", "missing.json"), "error: missing.json: no such file"),
    ],
)
def test_errors_name_the_field(args, message, monkeypatch):
    for variable in ("API_KEY", "SECRET", "PASSWORD", "WALLET_ADDRESS"):
        monkeypatch.delenv(f"CROSSMARGIN_BINANCEUSDM_{variable}", raising=False)
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith(message.format(cross=CROSS))


def test_a_bad_recording_names_the_file_and_the_field(tmp_path: Path):
    data = json.loads(CROSS.read_text(encoding="utf-8"))
    data["fetch_positions"][1]["entryPrice"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "doc.json"
    code, _, err = run("import", "binanceusdm", "--from-file", bad, "--out", out)
    assert code == 2
    assert err.startswith(f"error: {bad}: fetch_positions[1].entryPrice: must be positive")
    assert not out.exists()
