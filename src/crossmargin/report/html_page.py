"""The parts the HTML reports are made of (:mod:`crossmargin.report.stress`, :mod:`crossmargin.report.contagion`):
the page's style sheet, escaped text, sections, figures tables, and Plotly figures written as ``<div>``s with
plotly.js inlined once, so a page opens offline. Plotly is imported only when a :class:`Figures` is made.
"""

import html
from collections.abc import Sequence
from typing import Any

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0 auto;
       max-width: 1180px; padding: 1.5rem 2rem 3rem; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #d9dee7; padding-bottom: 0.2rem; }
p.note { color: #4a5568; margin-top: 0.2rem; }
p.empty { color: #4a5568; font-style: italic; }
code { background: #f1f3f7; padding: 0 0.25rem; border-radius: 3px; }
table.figures { border-collapse: collapse; margin: 0.8rem 0 1.2rem; font-variant-numeric: tabular-nums; }
table.figures th, table.figures td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e4e7ee; }
table.figures thead th { text-align: right; background: #f6f7fa; font-weight: 600; }
table.figures thead th:first-child, table.figures tbody th { text-align: left; }
table.figures td { text-align: right; white-space: nowrap; }
td.alert { color: #b3001b; font-weight: 600; }
footer { margin-top: 3rem; color: #718096; font-size: 0.85rem; }
"""

_LAYOUT: dict[str, Any] = {
    "template": "none",
    "font": {"family": "system-ui, -apple-system, sans-serif", "size": 12, "color": "#1d2330"},
    "margin": {"l": 80, "r": 20, "t": 50, "b": 50},
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "hovermode": "closest",
}
_AXES: dict[str, Any] = {
    "showgrid": True,
    "gridcolor": "#e8ebf0",
    "zeroline": False,
    "showline": True,
    "linecolor": "#9aa3b2",
    "ticks": "outside",
    "tickcolor": "#9aa3b2",
}


def escaped(text: object) -> str:
    """Text for HTML and for chart labels (Plotly reads the entities back)."""
    return html.escape(str(text), quote=True)


def _plotly() -> tuple[Any, Any]:
    """``plotly.graph_objects`` and ``plotly.subplots.make_subplots``, imported only when a page is drawn."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    return go, make_subplots


class Figures:
    """Writes figures as ``<div>``s: the first carries plotly.js inline, the rest refer to it."""

    def __init__(self) -> None:
        self.go, self._make_subplots = _plotly()
        self._plotlyjs_written = False

    def subplots(self, rows: int, cols: int = 1, **kwargs: Any) -> Any:
        if rows > 1 and "vertical_spacing" not in kwargs:
            kwargs["vertical_spacing"] = min(0.1, 0.45 / (rows - 1))
        return self._make_subplots(rows=rows, cols=cols, **kwargs)

    def write(self, fig: Any, name: str, height: int) -> str:
        fig.update_layout(**_LAYOUT, height=height)
        fig.update_xaxes(**_AXES)
        fig.update_yaxes(**_AXES)
        fig.update_annotations(font_size=13)  # subplot titles
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=not self._plotlyjs_written,
            div_id=f"figure-{name}",
            default_height=f"{height}px",
            config={"displaylogo": False, "responsive": True},
        )
        self._plotlyjs_written = True
        return str(div)


def section(anchor: str, heading: str, explanation: str, body: str, notes: Sequence[str] = ()) -> str:
    """A ``<section>`` with id ``anchor``: its heading, an explanation and ``notes`` (each a note paragraph),
    then ``body`` (HTML, as it is)."""
    lines = [f'<section id="{anchor}">', f"<h2>{escaped(heading)}</h2>", f'<p class="note">{escaped(explanation)}</p>']
    lines.extend(f'<p class="note">{escaped(note)}</p>' for note in notes)
    lines.append(body)
    lines.append("</section>")
    return "\n".join(lines)


def empty(text: str) -> str:
    """A paragraph saying there is nothing to show (``text``)."""
    return f'<p class="empty">{escaped(text)}</p>'


def html_table(columns: Sequence[str], rows: Sequence[Sequence[str]], alert: Sequence[set[int]] = ()) -> str:
    """A figures table: ``columns`` as its head, one row per ``rows`` entry (its first cell the row's heading),
    the cells of row ``i`` whose column is in ``alert[i]`` marked as alerts; ``none`` where there is no row."""
    head = "".join(f'<th scope="col">{escaped(c)}</th>' for c in columns)
    body: list[str] = []
    for i, row in enumerate(rows):
        flagged = alert[i] if i < len(alert) else set()
        cells = "".join(
            f'<td class="alert">{escaped(v)}</td>' if j in flagged else f"<td>{escaped(v)}</td>"
            for j, v in enumerate(row[1:], start=1)
        )
        body.append(f'<tr><th scope="row">{escaped(row[0])}</th>{cells}</tr>')
    if not rows:
        body.append(f'<tr><td colspan="{len(columns)}">none</td></tr>')
    return (
        f'<table class="figures">\n<thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(body) + "\n</tbody>\n</table>"
    )
