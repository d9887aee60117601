"""The rulebook list and the venue comparison (one book under every rulebook), as JSON dicts and tables.

Money in the book's base currency, liquidation prices in each instrument's mark units, every number a
decimal string in JSON. A rulebook under which the book cannot be evaluated (say, its tables lack an
asset the book holds) shows the reason instead of figures. A document that places its accounts at venues
also gets its owners' views as placed (:func:`crossmargin.report.results.owner_dict`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from rich.console import Group
from rich.table import Table
from rich.text import Text

from crossmargin.margin.account import AccountResult, leg_label
from crossmargin.margin.owners import OwnerView
from crossmargin.report.results import RESULT_VERSION, JSONObject, JSONValue, number, owner_dict
from crossmargin.report.tables import cell, owner_table, status
from crossmargin.venues import Rulebook


@dataclass(frozen=True)
class VenueOutcome:
    """One rulebook's evaluation of the book: results per account, or why there are none."""

    rulebook: str
    results: tuple[AccountResult, ...] = ()
    error: str | None = None

    def account(self, account_id: str) -> AccountResult | None:
        """The result for one account, None when the book failed under this rulebook."""
        return next((r for r in self.results if r.account.id == account_id), None)


def rulebooks_dict(books: Sequence[Rulebook]) -> JSONObject:
    """Every rulebook: name, title, when its tables were taken, its default assets and instruments, sources."""
    listed: list[JSONValue] = [
        {
            "name": book.name,
            "title": book.title,
            "tables_taken": book.tables_taken,
            "assets": list[JSONValue](sorted(book.assets)),
            "instruments": list[JSONValue](sorted(book.instruments)),
            "liquidate_at_equality": book.rules.liquidate_at_equality,
            "sources": [{"what": s.what, "where": s.where, "taken": s.taken} for s in book.sources],
        }
        for book in books
    ]
    return {"version": RESULT_VERSION, "rulebooks": listed}


def rulebooks_table(books: Sequence[Rulebook]) -> Table:
    """The rulebooks, one per row."""
    table = Table(title="Rulebooks")
    for column in ("name", "title", "tables taken", "instruments", "assets"):
        table.add_column(column)
    for book in books:
        table.add_row(
            book.name,
            book.title,
            book.tables_taken,
            ", ".join(sorted(book.instruments)),
            ", ".join(sorted(book.assets)),
        )
    return table


def _figures(result: AccountResult) -> JSONObject:
    cross = result.cross
    return {
        "equity": number(cross.equity),
        "initial_margin": number(cross.initial_margin + result.isolated_initial_margin),
        "maintenance_margin": number(cross.maintenance_margin),
        "free_collateral": number(cross.free_collateral),
        "margin_ratio": number(cross.margin_ratio),
        "liquidatable": cross.liquidatable,
        "liquidation_prices": {
            leg_label(p.figures.position, result.account): number(p.liquidation_price) for p in result.positions
        },
    }


def comparison_dict(
    base: str,
    account_ids: Sequence[str],
    outcomes: Sequence[VenueOutcome],
    owners: Sequence[OwnerView] | None = None,
) -> JSONObject:
    """``{version, base, rulebooks, accounts: [{id, by_rulebook: {name: figures | {error}}}]}``, and ``owners``
    (each account at its own venue) when given: a document that places its accounts.

    ``initial_margin`` includes isolated positions' initial margin; the other figures are the cross pool's.
    """
    accounts: list[JSONValue] = []
    for account_id in account_ids:
        by_rulebook: JSONObject = {}
        for outcome in outcomes:
            result = outcome.account(account_id)
            by_rulebook[outcome.rulebook] = {"error": outcome.error} if result is None else _figures(result)
        accounts.append({"id": account_id, "by_rulebook": by_rulebook})
    document: JSONObject = {
        "version": RESULT_VERSION,
        "base": base,
        "rulebooks": [o.rulebook for o in outcomes],
        "accounts": accounts,
    }
    if owners is not None:
        document["owners"] = [owner_dict(view) for view in owners]
    return document


def comparison_view(
    base: str,
    account_ids: Sequence[str],
    outcomes: Sequence[VenueOutcome],
    owners: Sequence[OwnerView] | None = None,
) -> Group:
    """One table per account: a column per rulebook, rows of figures and liquidation prices; then each owner's
    view, accounts at their own venues, when given."""
    tables = []
    for account_id in account_ids:
        table = Table(title=f"{account_id} under every rulebook ({base})")
        table.add_column("")
        for outcome in outcomes:
            table.add_column(outcome.rulebook, justify="right")
        found = [outcome.account(account_id) for outcome in outcomes]
        rows: list[tuple[str, list[str | Text]]] = [
            ("equity", _row(found, lambda r: cell(r.cross.equity))),
            ("IM", _row(found, lambda r: cell(r.cross.initial_margin + r.isolated_initial_margin))),
            ("MM", _row(found, lambda r: cell(r.cross.maintenance_margin))),
            ("free collateral", _row(found, lambda r: cell(r.cross.free_collateral))),
            ("status", _row(found, lambda r: status(r.cross.liquidatable))),
        ]
        legs = sorted({leg_label(p.figures.position, r.account) for r in found if r is not None for p in r.positions})
        rows += [(f"{leg} liq. price", _row(found, partial(_liquidation_cell, leg=leg))) for leg in legs]
        for label, values in rows:
            table.add_row(label, *values)
        errors = [f"{o.rulebook}: {o.error}" for o in outcomes if o.error is not None]
        if errors:
            table.caption = "not evaluated - " + "; ".join(errors)
        tables.append(table)
    tables.extend(owner_table(base, view) for view in owners or ())
    return Group(*tables)


def _row(found: Sequence[AccountResult | None], show: Callable[[AccountResult], str | Text]) -> list[str | Text]:
    return ["-" if result is None else show(result) for result in found]


def _liquidation_cell(result: AccountResult, leg: str) -> str:
    for position in result.positions:
        if leg_label(position.figures.position, result.account) == leg:
            return cell(position.liquidation_price)
    return "-"
