"""What a command prints on stdout: a result document as JSON, or Rich tables that never cut a number."""

import json

import typer
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table

from crossmargin.report.results import JSONObject

UNBOUNDED_WIDTH = 10_000  # columns offered to a table measuring its natural width off a terminal


def emit_json(document: JSONObject) -> None:
    """Print a result document as indented JSON on stdout."""
    typer.echo(json.dumps(document, indent=2))


def _words_whole(console: Console, view: RenderableType) -> None:
    """Make every column of the tables in ``view`` (a table or a group) at least as wide as its longest word,
    so that Rich wraps a header or a cell between words and never cuts a number."""
    if isinstance(view, Group):
        for part in view.renderables:
            _words_whole(console, part)
    elif isinstance(view, Table):
        unlimited = console.options.update_width(UNBOUNDED_WIDTH)
        for column in view.columns:
            cells = (column.header, *column.cells)
            column.min_width = max(Measurement.get(console, unlimited, cell).minimum for cell in cells)


def emit_view(view: RenderableType) -> None:
    """Print a Rich renderable on stdout without cutting a number: off a terminal as wide as it needs (not 80
    columns); on a terminal as narrow as its words allow, running past the terminal's edge rather than
    cutting a word when even that does not fit."""
    console = Console()
    if console.is_terminal:
        _words_whole(console, view)
        console.print(view, crop=False)
        return
    unlimited = console.options.update_width(UNBOUNDED_WIDTH)
    console = Console(width=max(console.width, console.measure(view, options=unlimited).maximum))
    console.print(view)
