"""What a command prints: JSON that reads back as the document, tables that never cut a number."""

import json

from rich.table import Table

from crossmargin.cli.output import emit_json, emit_view
from crossmargin.report.results import JSONObject


def test_a_result_document_is_printed_as_indented_json(capsys):
    document: JSONObject = {"version": 2, "figures": {"equity": "1000.50"}, "accounts": ["a", "b"]}
    emit_json(document)
    text = capsys.readouterr().out
    assert json.loads(text) == document
    assert '\n  "figures": {\n    "equity": "1000.50"' in text  # two spaces per level


def test_off_a_terminal_a_table_is_as_wide_as_its_longest_number(capsys):
    # 200 characters: far past the 80 columns Rich assumes off a terminal; the row comes out whole, on one line
    figure = "1" * 100 + "." + "2" * 99
    table = Table("account", "equity")
    table.add_row("acct-1", figure)
    emit_view(table)
    rows = [line for line in capsys.readouterr().out.splitlines() if "acct-1" in line]
    assert len(rows) == 1 and figure in rows[0]
