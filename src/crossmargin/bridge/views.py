"""A reconciliation as the versioned JSON of ``crossmargin reconcile --json`` and as Rich tables. Pure: nothing
prints.

JSON (every number a decimal string of at most 20 significant digits, a missing figure ``null``)::

    {"version": 1, "base": "USDT", "rulebook": "binance-usdm",
     "summary": {"agrees": 9, "explained": 3, "noted": 0, "missing": 1, "unexplained": 0},
     "accounts": [{"id": "binanceusdm-USDT", "venue": "binanceusdm", "currency": "USDT", "scope": "total",
                   "figures": [LINE, ...],
                   "positions": [{"position": "ETH-PERP", "isolated": false, "figures": [LINE, ...]}]}]}

    LINE = {"figure": "initial_margin", "unit": "USDT", "ours": "1014.964923076", "venue": "5074.82461538",
            "difference": "4059.859692304", "tolerance": "0.00000001", "status": "explained",
            "rule": "initial margin at the user's leverage 20x (ours: the bracket's maximum leverage)"}

Units: an account's money in its ``currency``, a position's in its settle asset (``unit``), liquidation prices
in mark units (``price``), margin ratios as fractions (``ratio``); ``difference`` is the venue's minus ours.
"""

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from crossmargin.bridge.reconcile import STATUSES, UNEXPLAINED, Line, Reconciliation
from crossmargin.bridge.writing import number_text

RESULT_VERSION = 1
JSON_DIGITS = 20
TABLE_DIGITS = 12
STYLES = {"agrees": "green", "explained": "cyan", "noted": "yellow", "missing": "magenta", UNEXPLAINED: "bold red"}


def rounded(value: Decimal | None, significant: int = JSON_DIGITS) -> str | None:
    """``value`` rounded half-even to ``significant`` digits, fixed point, no trailing zeros; None kept."""
    if value is None:
        return None
    return number_text(Context(prec=significant, rounding=ROUND_HALF_EVEN).plus(value))


def line_dict(line: Line) -> dict[str, Any]:
    """One figure's line as JSON values."""
    return {
        "figure": line.figure,
        "unit": line.unit,
        "ours": rounded(line.ours),
        "venue": rounded(line.venue),
        "difference": rounded(line.difference),
        "tolerance": rounded(line.tolerance),
        "status": line.status,
        "rule": line.rule,
    }


def reconciliation_dict(reconciliation: Reconciliation) -> dict[str, Any]:
    """The result document of ``crossmargin reconcile --json`` (shape in the module doc)."""
    found = [line.status for _, _, line in reconciliation.lines()]
    return {
        "version": RESULT_VERSION,
        "base": reconciliation.base,
        "rulebook": reconciliation.rulebook,
        "summary": {status: found.count(status) for status in STATUSES},
        "accounts": [
            {
                "id": account.account_id,
                "venue": account.venue,
                "currency": account.currency,
                "scope": account.scope,
                "figures": [line_dict(line) for line in account.lines],
                "positions": [
                    {"position": p.label, "isolated": p.isolated, "figures": [line_dict(line) for line in p.lines]}
                    for p in account.positions
                ],
            }
            for account in reconciliation.accounts
        ],
    }


def _cell(value: Decimal | None) -> str:
    return rounded(value, TABLE_DIGITS) or "-"


def reconciliation_view(reconciliation: Reconciliation) -> Group:
    """One table per account: its figures, then each position's, ours beside the venue's, the difference, the
    status and the rule."""
    tables = []
    for account in reconciliation.accounts:
        table = Table(
            title=f"Reconcile {account.account_id} ({account.venue}; account figures in {account.currency}, "
            f"scope {account.scope}; positions in their settle asset)",
            title_justify="left",
        )
        table.add_column("position", no_wrap=True)
        table.add_column("figure", no_wrap=True)
        for name in ("ours", "venue", "venue - ours"):
            table.add_column(name, justify="right")
        table.add_column("status", no_wrap=True)
        table.add_column("rule")
        rows = [("account", line) for line in account.lines]
        rows += [(position.label, line) for position in account.positions for line in position.lines]
        for label, line in rows:
            table.add_row(
                label,
                line.figure.replace("_", " "),
                _cell(line.ours),
                _cell(line.venue),
                _cell(line.difference),
                Text(line.status, style=STYLES[line.status]),
                line.rule or "",
            )
        tables.append(table)
    return Group(*tables)
