"""Results as Rich tables for the terminal. Pure: every function returns a renderable, nothing prints.

Numbers are written by :func:`crossmargin.report.numbers.decimal_string` rounded to
:data:`TABLE_DIGITS` significant digits (percentages to :data:`PERCENT_DIGITS`) to fit a terminal;
the ``--json`` output carries the full 20. Money is in the portfolio's base currency, sizes in
contracts, marks and liquidation prices in mark units, asset amounts in asset units.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from crossmargin.margin.account import AccountResult, PositionResult
from crossmargin.margin.owners import OwnerView, VenueExposure
from crossmargin.margin.pools import PoolFigures
from crossmargin.margin.whatif import ModeComparison, OrderCheck
from crossmargin.report.numbers import NONE_MARK, decimal_string
from crossmargin.report.results import signed_max_size

TABLE_DIGITS = 10
PERCENT_DIGITS = 4
ALERT_STYLE = "bold red"


def cell(x: Decimal | None) -> str:
    """A figure for a table cell (``-`` for none)."""
    return NONE_MARK if x is None else decimal_string(x, TABLE_DIGITS)


def percent(ratio: Decimal | None) -> str:
    """A ratio written as a percentage to :data:`PERCENT_DIGITS` significant digits (``0.04`` is ``4%``)."""
    return NONE_MARK if ratio is None else f"{decimal_string(ratio * 100, PERCENT_DIGITS)}%"


def status(liquidatable: bool) -> Text:
    """``LIQUIDATABLE`` in red, or a quiet ``ok``."""
    return Text("LIQUIDATABLE", style=ALERT_STYLE) if liquidatable else Text("ok", style="green")


def _numeric_table(title: str, first: str, columns: Sequence[str], labels: Sequence[str] = ()) -> Table:
    """A table of a name column, then ``labels`` columns of text, then ``columns`` of numbers."""
    table = Table(title=title, title_justify="left")
    table.add_column(first, no_wrap=True)
    for name in labels:
        table.add_column(name, no_wrap=True)
    for name in columns:
        table.add_column(name, justify="right")
    return table


def accounts_table(base: str, results: Sequence[AccountResult], venues: Sequence[str] | None = None) -> Table:
    """One row per account: its cross pool's equity, IM, MM, free collateral, margin ratio and status; with
    ``venues`` (each result's venue) also its venue and owner."""
    table = _numeric_table(
        f"Accounts (cross pool, {base})",
        "account",
        ["equity", "IM", "MM", "free collateral", "margin ratio", "isolated IM"],
        () if venues is None else ("venue", "owner"),
    )
    table.add_column("status")
    for k, result in enumerate(results):
        cross = result.cross
        placed = () if venues is None else (venues[k], result.account.held_by)
        table.add_row(
            result.account.id,
            *placed,
            cell(cross.equity),
            cell(cross.initial_margin),
            cell(cross.maintenance_margin),
            cell(cross.free_collateral),
            percent(cross.margin_ratio),
            cell(result.isolated_initial_margin),
            status(cross.liquidatable),
        )
    return table


def _mode(pool: PoolFigures | None) -> Text:
    if pool is None:
        return Text("cross")
    if pool.liquidatable:
        return Text("isolated LIQUIDATABLE", style=ALERT_STYLE)
    return Text("isolated")


def _position_row(position: PositionResult) -> tuple[str | Text, ...]:
    figures = position.figures
    return (
        figures.position.instrument,
        cell(figures.position.size),
        cell(figures.mark),
        cell(figures.notional),
        cell(figures.unrealized_pnl),
        cell(figures.initial_margin),
        cell(figures.maintenance_margin),
        cell(position.liquidation_price),
        _mode(position.pool),
    )


def positions_table(base: str, result: AccountResult, venue: str | None = None) -> Table:
    """The positions of one account (cross first, then isolated), at ``venue`` when given."""
    at = "" if venue is None else f" at {venue}"
    table = _numeric_table(
        f"Positions of {result.account.id}{at} ({base})",
        "instrument",
        ["size", "mark", "notional", "uPnL", "IM", "MM", "liq. price"],
    )
    table.add_column("margin")
    for position in result.positions:
        table.add_row(*_position_row(position))
    return table


def evaluation_view(
    base: str, results: Sequence[AccountResult], venues: Sequence[str] | None = None, owners: Sequence[OwnerView] = ()
) -> Group:
    """The accounts table followed by the positions table of every account that holds positions; for a document
    that places its accounts (``venues``: each result's venue) each table names venues, and every owner's view
    follows (:func:`owner_table`)."""
    parts: list[RenderableType] = [accounts_table(base, results, venues)]
    parts.extend(
        positions_table(base, result, None if venues is None else venues[k])
        for k, result in enumerate(results)
        if result.positions
    )
    parts.extend(owner_table(base, view) for view in owners)
    return Group(*parts)


def _first_liquidation(part: VenueExposure) -> tuple[str | Text, ...]:
    """A venue's first liquidation: the underlying's price, its move and the account, or why there is none."""
    if not part.solved:
        return ("not solved", NONE_MARK, NONE_MARK)
    if part.scale is None:
        return (NONE_MARK, NONE_MARK, NONE_MARK)
    move = Text("liquidatable now", style=ALERT_STYLE) if part.scale == 1 else Text(percent(part.scale - 1))
    return (cell(part.liquidation_price), move, part.account or NONE_MARK)


def owner_table(base: str, view: OwnerView) -> Table:
    """One owner's exposure per underlying, over all venues and at each, and the price of the underlying (base)
    at which each venue liquidates the owner first, with the move from today's price and the account."""
    table = _numeric_table(
        f"Owner {view.owner} ({base}): {', '.join(view.accounts)}",
        "underlying",
        ["price", "notional", "net notional", "delta", "first liq. price", "move"],
        ("venue",),
    )
    table.add_column("first liquidated", no_wrap=True)
    for exposure in view.underlyings:
        table.add_row(
            exposure.underlying,
            "all venues",
            cell(exposure.price),
            cell(exposure.notional),
            cell(exposure.net_notional),
            cell(exposure.delta),
            "",
            "",
            "",
        )
        for part in exposure.venues:
            table.add_row(
                "",
                part.venue,
                "",
                cell(part.notional),
                cell(part.net_notional),
                cell(part.delta),
                *_first_liquidation(part),
            )
    if not view.underlyings:
        table.caption = "no positions"
    return table


def _pairs_table(title: str, rows: Sequence[tuple[str, str | Text]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def withdrawal_table(account_id: str, asset: str, held: Decimal, amount: Decimal) -> Table:
    """The largest withdrawal of ``asset`` from the account's cross balance (asset units)."""
    return _pairs_table(
        f"Withdrawal ({asset})",
        [("account", account_id), ("held", cell(held)), ("max withdrawable", cell(amount))],
    )


def order_table(base: str, account_id: str, check: OrderCheck) -> Table:
    """An order's initial-margin check and the largest size that passes in the same direction
    (contracts, signed like the order)."""
    max_size = signed_max_size(check)
    verdict = Text("passes", style="green") if check.passes else Text("fails", style=ALERT_STYLE)
    return _pairs_table(
        f"Order check ({base})",
        [
            ("account", account_id),
            ("order", f"{cell(check.size)} {check.instrument} @ {cell(check.price)}"),
            ("check", verdict),
            ("reason", check.reason),
            ("free collateral before", cell(check.free_collateral_before)),
            ("free collateral after", cell(check.free_collateral_after)),
            ("IM after", cell(check.initial_margin_after)),
            ("max size", "no limit" if max_size is None else cell(max_size)),
        ],
    )


def comparison_table(base: str, account_id: str, comparison: ModeComparison) -> Table:
    """Cross against isolated margin: requirements (base), isolated margins (settle units) and
    liquidation prices (mark units) per instrument."""
    cross, isolated = comparison.cross, comparison.isolated
    table = Table(title=f"Cross vs isolated margin: {account_id} ({base})", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("cross", justify="right")
    table.add_column("isolated", justify="right")
    table.add_row("IM", cell(cross.initial_margin), cell(isolated.initial_margin))
    table.add_row("MM", cell(cross.maintenance_margin), cell(isolated.maintenance_margin))
    table.add_row("collateral required", cell(cross.collateral_required), cell(isolated.collateral_required))
    instruments = list(dict.fromkeys([*cross.liquidation_prices, *isolated.liquidation_prices]))
    for name in instruments:
        table.add_row(
            f"{name} isolated margin",
            cell(cross.isolated_margins.get(name)),
            cell(isolated.isolated_margins.get(name)),
        )
    for name in instruments:
        table.add_row(
            f"{name} liq. price",
            cell(cross.liquidation_prices.get(name)),
            cell(isolated.liquidation_prices.get(name)),
        )
    return table


def bench_table(figures: Mapping[str, float | int]) -> Table:
    """The benchmark figures of one book size, one per row (times in ms unless the name says s or us)."""
    table = Table(title=f"Risk book benchmark: {figures['accounts']:,} accounts, {figures['positions']:,} positions")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:,.3f}" if isinstance(value, float) else f"{value:,}")
    return table
