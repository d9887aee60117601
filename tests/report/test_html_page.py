"""The HTML reports' parts (:mod:`crossmargin.report.html_page`), each checked against the markup written out
by hand."""

from crossmargin.report.html_page import Figures, empty, escaped, html_table, section


def test_escaped_text() -> None:
    # &, <, >, and both quotes become entities (quote=True)
    assert escaped("<a & \"b\" 'c'>") == "&lt;a &amp; &quot;b&quot; &#x27;c&#x27;&gt;"
    assert escaped(1.5) == "1.5"


def test_a_table_with_an_alert_cell() -> None:
    found = html_table(["run", "bad debt", "fills"], [["cross", "1,000.00", "3"], ["a<b", "0.00", "0"]], [{1}])
    assert found == (
        '<table class="figures">\n'
        '<thead><tr><th scope="col">run</th><th scope="col">bad debt</th><th scope="col">fills</th></tr></thead>\n'
        "<tbody>\n"
        '<tr><th scope="row">cross</th><td class="alert">1,000.00</td><td>3</td></tr>\n'
        '<tr><th scope="row">a&lt;b</th><td>0.00</td><td>0</td></tr>\n'
        "</tbody>\n</table>"
    )


def test_a_table_without_rows_says_none() -> None:
    assert '<tr><td colspan="2">none</td></tr>' in html_table(["a", "b"], [])


def test_a_section_and_an_empty_note() -> None:
    found = section("runs", "Runs & steps", "Each run.", "<p>body</p>", ["a note"])
    assert found.split("\n") == [
        '<section id="runs">',
        "<h2>Runs &amp; steps</h2>",
        '<p class="note">Each run.</p>',
        '<p class="note">a note</p>',
        "<p>body</p>",
        "</section>",
    ]
    assert empty("No fills.") == '<p class="empty">No fills.</p>'


def test_plotly_js_is_inlined_in_the_first_figure_only() -> None:
    figures = Figures()
    first = figures.write(figures.go.Figure(), "one", 300)
    second = figures.write(figures.go.Figure(), "two", 300)
    assert 'id="figure-one"' in first and 'id="figure-two"' in second
    # plotly.js itself is some megabytes of script; the second figure refers to it
    assert len(first) > 1_000_000 > len(second)
