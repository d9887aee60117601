"""The contagion report's files (:mod:`crossmargin.report.contagion`) on the shipped two-venue cascade, whose runs
are worked by hand in tests/sim/contagion/test_runner.py: the page's tables, chart, propagation and links read
against the measures object (not against the page's own output), plotly.js inlined, nothing fetched."""

import json
import re
from typing import Any

import pytest

from crossmargin.report.contagion import chart_asset, render_html, summary_json, write_report
from crossmargin.sim.contagion.measures import FIGURES, ContagionMeasures, measure
from crossmargin.sim.contagion.model import load_contagion, venue_configs

TWO = load_contagion("two-venue")


@pytest.fixture(scope="module")
def found() -> ContagionMeasures:
    return measure(TWO, venue_configs(TWO))


@pytest.fixture(scope="module")
def summary(found: ContagionMeasures) -> dict[str, Any]:
    return summary_json(found, "Two venues <script>alert('x')</script> & co")


@pytest.fixture(scope="module")
def page(summary: dict[str, Any]) -> str:
    return render_html(summary)


def _cells(page: str, first: str) -> list[list[str]]:
    """The rows (cell texts) of the page's tables whose first cell is ``first``."""
    rows = re.findall(r"<tr><th scope=\"row\">([^<]*)</th>(.*?)</tr>", page)
    return [[head, *re.findall(r"<td[^>]*>([^<]*)</td>", rest)] for head, rest in rows if head == first]


def _figure_data(page: str, name: str) -> list[dict[str, Any]]:
    """The traces of the figure drawn into ``figure-NAME``."""
    call = re.search(rf'Plotly\.newPlot\(\s*"figure-{name}",\s*', page)
    assert call is not None
    start = call.end()
    data, _ = json.JSONDecoder().raw_decode(page[start:])
    return list(data)


def test_summary_keeps_its_keys_and_adds_the_chart_asset(summary, tmp_path):
    assert summary["version"] == 1 and set(summary["venues"]) == {"alpha", "beta"}
    # the step records: one a step (two steps of 60 s), arbitrage on beta 4 x 89.1 = 356.4 at t = 60
    assert [s["t"] for s in summary["steps"]["beta"]] == [60.0, 120.0]
    assert round(summary["steps"]["beta"][0]["arbitrage_notional"], 9) == 356.4
    assert summary["chart_asset"] == "BTC" == chart_asset(summary)  # the one asset both venues price
    write_report(summary, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == summary
    assert (tmp_path / "out" / "report.html").read_text() == render_html(summary)


def test_the_venues_side_by_side(found, page):
    header = re.search(r"<section id=\"venues\">.*?<thead><tr>(.*?)</tr>", page, re.DOTALL)
    assert header is not None
    assert re.findall(r"<th scope=\"col\">([^<]*)</th>", header.group(1)) == ["figure", "alpha", "beta", "total"]
    section = page[page.index('<section id="venues">') : page.index('<section id="prices">')]
    # alpha liquidates the whale (877.5, by hand), beta the trader t (868.725): one fill each, two in total
    notional = [found.venues["alpha"].liquidated_notional, found.venues["beta"].liquidated_notional]
    assert _cells(section, "liquidated notional") == [
        ["liquidated notional", *(f"{x:,.2f}" for x in notional), f"{sum(notional):,.2f}"]
    ]
    assert _cells(section, "liquidations (fills)") == [["liquidations (fills)", "1", "1", "2"]]


def test_the_amplification_table(found, page):
    section = page[page.index('<section id="amplification">') : page.index('<section id="propagation-time">')]
    rows = {(r[0], r[1]): r[2:] for r in (_cells(section, v)[i] for v in ("alpha", "beta", "total") for i in range(5))}
    assert len(rows) == 3 * len(FIGURES)
    # beta apart liquidates nobody: no ratio from nothing
    assert rows["beta", "liquidations (fills)"] == ["1", "0", "-"]
    # total notional (877.5 + 868.725) / 877.5 = 1.99 by hand
    total = found.total.liquidated_notional
    assert rows["total", "liquidated notional"] == [f"{total:,.2f}", "877.50", "1.99x"]
    assert rows["alpha", "liquidations (fills)"] == ["1", "1", "1.00x"]
    assert rows["total", "bad debt"] == ["0.00", "0.00", "-"]


def test_the_price_chart_one_trace_a_venue_and_the_liquidations_marked(found, page):
    traces = _figure_data(page, "prices")
    lines = {t["name"]: t for t in traces if t["mode"] == "lines"}
    marks = {t["name"]: t for t in traces if t["mode"] == "markers"}
    assert set(lines) == {"alpha", "beta"} and set(marks) == {"alpha: liquidations", "beta: liquidations"}
    for venue in found.linked_run.venues:  # the own BTC price after each step, from the result object
        assert lines[venue.name]["x"] == [s.t for s in venue.steps]
        assert lines[venue.name]["y"] == pytest.approx([s.own["BTC"] for s in venue.steps])
    # both liquidate at t = 60 only (by hand, test_runner.py): alpha's mark 87.75 after the whale, then the
    # arbitrageur's buy of 360 / 87.75 = 4.1025641 BTC moves it 0.5 x 87.75 x 4.1025641 / 200 = 0.9 up: 88.65;
    # beta's after the arbitrageur's sale (89.1) and t's liquidation: 86.8725
    assert (marks["alpha: liquidations"]["x"], marks["alpha: liquidations"]["y"]) == ([60.0], [pytest.approx(88.65)])
    assert marks["beta: liquidations"]["y"] == [pytest.approx(86.8725)]
    assert "time from the path&#x27;s start (s)" in page or "time from the path's start (s)" in page
    assert "BTC own price (base currency per BTC)" in page


def test_propagation_and_the_carrier(found, page):
    p = found.propagation
    assert (p.origin, p.induced_venue, p.delay_s) == ("alpha", "beta", 0.0)  # the same step, by hand
    assert "first liquidation came on alpha at 60 s; the first induced one, on beta at 60 s" in page
    assert "a propagation time of 0 s" in page
    assert "The link that carried most of the loss: arbitrage." in page
    # each link alone is necessary: either off, beta's 868.725 is gone (no loss either way)
    for link in ("arbitrage", "trader-t"):
        row = _cells(page, link)[0]
        assert float(row[3].replace(",", "")) == pytest.approx(868.725, abs=0.006) and row[2] == "0.00"


def test_self_contained_and_escaped(page):
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    assert page.startswith("<!doctype html>")
    assert page.count(get_plotlyjs()[:120]) == 1  # plotly.js inlined once
    assert re.findall(r"<script\b[^>]*\bsrc\s*=", page, flags=re.IGNORECASE) == []
    assert re.findall(r"<link\b", page, flags=re.IGNORECASE) == []
    assert re.findall(r"<(?:img|iframe)\b", page, flags=re.IGNORECASE) == []
    assert "<script>alert('x')</script>" not in page
    assert "<h1>Two venues &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</h1>" in page


def test_the_monte_carlo_section_with_several_paths(found):
    from crossmargin.report.numbers import money
    from crossmargin.sim.contagion.measures import monte_carlo

    spread = monte_carlo(TWO, venue_configs(TWO), [1, 2], workers=1)
    page = render_html(summary_json(found, TWO.title, spread))
    assert "monte-carlo" not in render_html(summary_json(found, TWO.title))  # one path: no section
    section = page[page.index('<section id="monte-carlo">') :]
    # a table path: both paths alike, linked notional 877.5 + 868.725, apart 877.5 (by hand), so the mean, VaR
    # and expected shortfall are that figure at every level
    linked, apart = _cells(section, "liquidated notional")
    assert linked == ["liquidated notional", "linked", "2", *[money(877.5 + 868.725)] * 5]
    assert apart == ["liquidated notional", "apart", "2", *[money(877.5)] * 5]
    assert _cells(section, "bad debt")[0][3:] == ["0.00"] * 5
