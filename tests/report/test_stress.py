"""The stress report: HTML page (sections, plotly.js inlined once, escaping, figures, every run's steps drawn),
summary.json totals checked against sums done by hand, its per-step records (and their round trip), and the
Rich terminal summary."""

import base64
import json
import math
import re
from dataclasses import fields, replace
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest
from rich.console import Console, RenderableType
from rich.table import Table

from crossmargin.report.numbers import count, money
from crossmargin.report.stress import (
    MAX_ASSETS,
    level_name,
    render_html,
    step_json,
    summary_json,
    summary_renderable,
    summary_table,
    unique_labels,
)
from crossmargin.sim.stress.results import (
    Distribution,
    LiquidationMark,
    MonteCarloResult,
    RunResult,
    StepRecord,
    StressReport,
)

BTC, ETH = "BTC-USDT-PERP", "ETH-USDT-PERP"

# The index after each step of the hand-built runs (both runs see the same path): t -> (BTC, ETH); USDT at 1.
INDEX = {0.0: (60_010.0, 3_001.0), 60.0: (54_020.0, 2_702.5), 120.0: (48_050.0, 2_404.0), 180.0: (51_010.0, 2_551.0)}


def step(
    t: float,
    btc: float,
    eth: float,
    liquidations: int,
    notional: float,
    slippage: float,
    adl: int,
    bad_debt: float,
    fund: float,
) -> StepRecord:
    index = INDEX.get(t, (btc, eth))
    return StepRecord(
        t=t,
        prices={"BTC": index[0], "ETH": index[1], "USDT": 1.0},
        marks={BTC: btc, ETH: eth},
        liquidations=liquidations,
        liquidated_notional=notional,
        slippage=slippage,
        adl_events=adl,
        bad_debt=bad_debt,
        insurance_fund=fund,
        accounts_at_risk=liquidations,
        seconds=0.001,
    )


CROSS_STEPS = (
    step(0.0, 60_000.0, 3_000.0, 0, 0.0, 0.0, 0, 0.0, 250_000.0),
    step(60.0, 54_000.0, 2_700.0, 3, 162_000.0, 1_250.5, 0, 0.0, 248_749.5),
    step(120.0, 48_000.0, 2_400.0, 5, 240_000.0, 4_100.25, 1, 1_520.75, 240_000.0),
    step(180.0, 51_000.0, 2_550.0, 1, 51_000.0, 300.0, 0, 1_520.75, 240_500.0),
)
# By hand from the steps above.
CROSS_LIQUIDATIONS = 0 + 3 + 5 + 1  # 9
CROSS_NOTIONAL = 0.0 + 162_000.0 + 240_000.0 + 51_000.0  # 453,000
CROSS_SLIPPAGE = 0.0 + 1_250.5 + 4_100.25 + 300.0  # 5,650.75
CROSS_DRAWDOWN = 250_000.0 - 240_000.0  # the lowest balance was 240,000

ISOLATED_STEPS = (
    step(0.0, 60_000.0, 3_000.0, 0, 0.0, 0.0, 0, 0.0, 250_000.0),
    step(60.0, 53_500.0, 2_650.0, 7, 371_000.0, 3_000.0, 0, 0.0, 246_000.0),
    step(120.0, 47_000.0, 2_350.0, 12, 1_128_000.0, 15_500.0, 2, 12_345.67, 231_000.0),
    step(180.0, 50_500.0, 2_500.0, 2, 101_000.0, 800.0, 0, 12_345.67, 233_000.0),
)
ISOLATED_LIQUIDATIONS = 0 + 7 + 12 + 2  # 21
ISOLATED_NOTIONAL = 371_000.0 + 1_128_000.0 + 101_000.0  # 1,600,000
ISOLATED_DRAWDOWN = 250_000.0 - 231_000.0  # 19,000


def fill(t: float, account: str, instrument: str, price: float, notional: float, taker: str) -> LiquidationMark:
    return LiquidationMark(t=t, account=account, instrument=instrument, price=price, notional=notional, taker=taker)


def run(label: str, steps: tuple[StepRecord, ...], marks: tuple[LiquidationMark, ...] = ()) -> RunResult:
    return RunResult(
        label=label,
        steps=steps,
        marks=marks,
        equity_before=(10_000.0, 25_000.0, 4_000.0, 60_000.0),
        equity_after=(9_000.0, -1_520.75, 3_000.0, 58_000.0),
        insurance_fund_start=250_000.0,
        accounts=1_200,
        positions=3_456,
    )


CROSS = run(
    "cross",
    CROSS_STEPS,
    (
        fill(60.0, "acct-1", BTC, 54_000.0, 108_000.0, "market"),
        fill(60.0, "acct-2", ETH, 2_700.0, 54_000.0, "market"),
        fill(120.0, "acct-3", BTC, 48_000.0, 240_000.0, "backstop"),
        fill(180.0, "acct-4", BTC, 51_000.0, 51_000.0, "adl"),
    ),
)
ISOLATED = run(
    "isolated",
    ISOLATED_STEPS,
    (
        fill(60.0, "acct-1", BTC, 53_500.0, 371_000.0, "market"),
        fill(120.0, "acct-5", ETH, 2_350.0, 1_128_000.0, "backstop"),
    ),
)

MONTE_CARLO = (
    MonteCarloResult(
        label="cross",
        seeds=(1, 2, 3, 4, 5),
        bad_debt=Distribution(
            values=(0.0, 0.0, 100.0, 1_500.0, 25_000.0),
            var={"0.95": 20_300.0, "0.99": 24_060.0},
            expected_shortfall={"0.95": 25_000.0, "0.99": 25_000.0},
        ),
        insurance_fund_drawdown=Distribution(
            values=(1_000.0, 2_000.0, 3_000.0, 10_000.0, 40_000.0),
            var={"0.95": 34_000.0, "0.99": 38_800.0},
            expected_shortfall={"0.95": 40_000.0, "0.99": 40_000.0},
        ),
        liquidated_notional=Distribution(values=(1.0, 2.0, 3.0, 4.0, 5.0)),
    ),
    MonteCarloResult(
        label="isolated",
        seeds=(1, 2, 3, 4, 5),
        bad_debt=Distribution(
            values=(0.0, 500.0, 1_000.0, 2_000.0, 96_500.0),
            var={"0.95": 77_600.0},
            expected_shortfall={"0.95": 96_500.0},
        ),
        insurance_fund_drawdown=Distribution(
            values=(5_000.0, 5_000.0, 6_000.0, 7_000.0, 8_000.0),
            var={"0.95": 7_800.0},
            expected_shortfall={"0.95": 8_000.0},
        ),
        liquidated_notional=Distribution(values=(10.0, 20.0, 30.0, 40.0, 50.0)),
    ),
)


def make_report(
    runs: tuple[RunResult, ...] = (CROSS, ISOLATED),
    monte_carlo: tuple[MonteCarloResult, ...] = MONTE_CARLO,
    title: str = "Flash crash <script>alert('x')</script> & co",
) -> StressReport:
    return StressReport(
        scenario="flash-crash-2021-05-19",
        title=title,
        description="BTC falls 20% in three minutes & recovers part.\n\nMarks from the venue's feed.",
        sources=(
            ("BTC 1-minute bars", "https://example.org/bars?from=2021-05-19&to=2021-05-20"),
            ("desk notes", "javascript:alert(1)"),
        ),
        book="generated: 1,200 accounts, seed 7",
        runs=runs,
        monte_carlo=monte_carlo,
    )


SECTIONS = (
    "Sources",
    "Book",
    "Summary",
    "Price path and liquidations",
    "Index prices",
    "Equity before and after",
    "Insurance fund and bad debt",
    "Liquidations per step",
    "Run comparison: cross vs isolated",
    "Monte Carlo",
)


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(make_report())


def plotlyjs_marker() -> str:
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    return str(get_plotlyjs()[:120])


class TagBalance(HTMLParser):
    """Checks that every element is closed, in order (void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.doctype = False
        self.texts: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] not in ("script", "style"):
            self.texts.append(data)


def parse(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    return parser


def headings(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


# ------------------------------------------------------------------------------------------------ HTML


def test_html_is_one_well_formed_document_with_every_section(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.count("</html>") == 1
    assert page.count("<body") == 1 and page.count("</body>") == 1
    parsed = parse(page)
    assert parsed.doctype
    assert parsed.errors == []
    assert parsed.stack == []
    assert headings(page) == list(SECTIONS)
    # Each section has its one-sentence explanation right under the heading.
    assert len(re.findall(r'</h2>\n<p class="note">[^<]+</p>', page)) == len(SECTIONS)


def test_plotlyjs_is_inlined_exactly_once_and_nothing_is_fetched(page: str) -> None:
    assert page.count(plotlyjs_marker()) == 1
    assert page.count("window.PlotlyConfig") == 1
    assert re.findall(r"<script\b[^>]*\bsrc\s*=", page, flags=re.IGNORECASE) == []
    assert re.findall(r"<link\b", page, flags=re.IGNORECASE) == []
    # Seven figures, each drawn into its own div with a stable id.
    ids = re.findall(r'<div id="(figure-[a-z-]+)" class="plotly-graph-div"', page)
    assert ids == [
        "figure-price-path",
        "figure-index-prices",
        "figure-equity",
        "figure-insurance-fund",
        "figure-liquidations",
        "figure-comparison",
        "figure-monte-carlo",
    ]
    # plotly.js comes before the first figure's script uses it.
    assert page.index(plotlyjs_marker()) < page.index("Plotly.newPlot")


def test_text_from_the_report_is_escaped(page: str) -> None:
    assert "<script>alert('x')</script>" not in page
    assert "<h1>Flash crash &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</h1>" in page
    assert "<title>Flash crash &lt;script&gt;" in page
    assert "BTC falls 20% in three minutes &amp; recovers part.</p>" in page
    assert "<p>Marks from the venue&#x27;s feed.</p>" in page  # paragraphs kept
    # A URL source is a link (escaped in the attribute); anything else is text, never a link.
    assert '<li>BTC 1-minute bars: <a href="https://example.org/bars?from=2021-05-19&amp;to=2021-05-20">' in page
    assert "<li>desk notes: javascript:alert(1)</li>" in page
    assert 'href="javascript' not in page
    # Every <script> in the page is plotly's: plotly.js itself and one per figure.
    assert len(re.findall(r"<script\b", page)) == 1 + 1 + 7  # PlotlyConfig, plotly.js, seven figures


def test_text_in_chart_labels_is_escaped() -> None:
    sneaky = run("<img src=x onerror=alert(1)>", CROSS_STEPS, CROSS.marks)
    page = render_html(make_report(runs=(sneaky, ISOLATED), monte_carlo=()))
    assert "<img" not in page
    assert "onerror=alert(1)&gt;" in page  # in the summary table, escaped
    assert parse(page).errors == []


def test_summary_table_in_html_shows_the_figures(page: str) -> None:
    summary = page[page.index('<section id="summary">') : page.index('<section id="price-path">')]
    rows = re.findall(r"<tr>(.*?)</tr>", summary)
    cross = next(r for r in rows if '<th scope="row">cross</th>' in r)
    assert re.findall(r"<td[^>]*>(.*?)</td>", cross) == [
        "9",
        "453,000.00",
        "5,650.75",
        "1",
        "1,520.75",
        "250,000.00 → 240,500.00",
        "10,000.00",
        "1,200",
    ]
    isolated = next(r for r in rows if '<th scope="row">isolated</th>' in r)
    assert "<td>21</td><td>1,600,000.00</td>" in isolated
    assert '<td class="alert">12,345.67</td>' in isolated  # bad debt stands out
    # Monte Carlo: one row per label and level.
    assert any(
        '<th scope="row">cross</th><td>5</td><td>95%</td><td>20,300.00</td><td>25,000.00</td><td>34,000.00</td>'
        "<td>40,000.00</td>" in r
        for r in rows
    )
    assert any(
        "<td>99%</td><td>24,060.00</td><td>25,000.00</td><td>38,800.00</td><td>40,000.00</td>" in r for r in rows
    )
    assert any("<td>95%</td><td>77,600.00</td><td>96,500.00</td><td>7,800.00</td><td>8,000.00</td>" in r for r in rows)


def test_html_book_and_charts_name_what_they_show(page: str) -> None:
    assert "<p>generated: 1,200 accounts, seed 7</p>" in page
    assert "cross: 1,200 accounts, 3,456 positions; isolated: 1,200 accounts, 3,456 positions" in page
    # Fills coloured by taker: one trace per run and taker; both instruments had fills, so both panels show.
    for name in ("cross market", "cross backstop", "cross adl", "isolated market", "isolated backstop"):
        assert f'"name":"{name}"' in page
    assert '"text":"BTC-USDT-PERP"' in page and '"text":"ETH-USDT-PERP"' in page
    # The isolated run's marks differ from cross's, so they are overlaid.
    assert '"name":"cross mark"' in page and '"name":"isolated mark"' in page
    # Monte Carlo VaR/ES lines are named by level.
    for name in ("VaR 95%", "ES 95%", "VaR 99%", "ES 99%"):
        assert f'"name":"{name}"' in page


def test_html_is_deterministic() -> None:
    assert render_html(make_report()) == render_html(make_report())


def test_identical_marks_are_not_drawn_twice() -> None:
    same_path = run("isolated", CROSS_STEPS)
    page = render_html(make_report(runs=(CROSS, same_path), monte_carlo=()))
    assert '"name":"cross mark"' in page
    assert '"name":"isolated mark"' not in page


def test_no_monte_carlo_has_no_monte_carlo_section() -> None:
    page = render_html(make_report(monte_carlo=()))
    assert headings(page) == list(SECTIONS[:-1])
    assert "Monte Carlo tail measures" not in page
    assert page.count(plotlyjs_marker()) == 1
    assert parse(page).errors == []


def test_single_run_without_liquidations() -> None:
    quiet = RunResult(
        label="cross",
        steps=(
            step(0.0, 60_000.0, 3_000.0, 0, 0.0, 0.0, 0, 0.0, 1_000.0),
            step(1.0, 59_900.0, 2_990.0, 0, 0.0, 0.0, 0, 0.0, 1_000.0),
        ),
        marks=(),
        equity_before=(1.0,),
        equity_after=(1.0,),
        insurance_fund_start=1_000.0,
        accounts=1,
        positions=1,
    )
    page = render_html(make_report(runs=(quiet,), monte_carlo=()))
    assert "Run comparison" in headings(page)
    assert "Run comparison: " not in page
    assert "No liquidations in any run." in page
    assert page.count(plotlyjs_marker()) == 1
    assert parse(page).errors == []
    assert summary_json(make_report(runs=(quiet,), monte_carlo=()))["cross"] == {
        "liquidations": 0,
        "liquidated_notional": "0",
        "slippage": "0",
        "adl_events": 0,
        "bad_debt": "0",
        "insurance_fund_start": "1000",
        "insurance_fund_end": "1000",
        "insurance_fund_drawdown": "0",
        "accounts": 1,
        "positions": 1,
    }


def test_empty_report_renders_everywhere() -> None:
    report = make_report(runs=(), monte_carlo=())
    page = render_html(report)
    parsed = parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert headings(page) == [*SECTIONS[:8], "Run comparison"]
    assert "No marks or liquidations were recorded." in page
    assert "No index prices were recorded." in page
    assert "No steps were recorded." in page
    assert page.count(plotlyjs_marker()) == 0  # no figure, no plotly.js
    assert "<script" not in page
    assert summary_json(report)["runs"] == {}
    assert summary_json(report)["monte_carlo"] == {}
    assert summary_json(report)["steps"] == {}
    assert "cross" not in render(summary_renderable(report))


def test_runs_without_steps() -> None:
    idle = RunResult(
        label="cross",
        steps=(),
        marks=(),
        equity_before=(),
        equity_after=(),
        insurance_fund_start=500.0,
        accounts=0,
        positions=0,
    )
    report = make_report(runs=(idle,), monte_carlo=())
    page = render_html(report)
    assert parse(page).errors == []
    assert "No account equity was recorded." in page
    assert "250,000" not in page
    assert "500.00 → 500.00" in page
    assert summary_json(report)["cross"]["insurance_fund_end"] == "500"  # type: ignore[index]
    assert summary_json(report)["cross"]["liquidated_notional"] == "0"  # type: ignore[index]  # no steps: int 0


def test_many_instruments_show_those_with_most_liquidations() -> None:
    names = [f"I{i}" for i in range(6)]
    steps = tuple(
        StepRecord(
            t=float(t),
            prices={},
            marks={name: 100.0 + t for name in names},
            liquidations=0,
            liquidated_notional=0.0,
            slippage=0.0,
            adl_events=0,
            bad_debt=0.0,
            insurance_fund=10.0,
            accounts_at_risk=0,
            seconds=0.0,
        )
        for t in range(3)
    )
    # I5 has three fills, I3 two, I1 one: they come first, then I0 (first of the rest in order).
    fills = tuple(fill(1.0, "a", name, 101.0, 10.0, "market") for name in ("I5", "I5", "I5", "I3", "I3", "I1"))
    many = RunResult("cross", steps, fills, (1.0,), (1.0,), 10.0, 1, 6)
    page = render_html(make_report(runs=(many,), monte_carlo=()))
    assert "Showing the 4 instruments with the most liquidations, of 6." in page
    titles = re.findall(r'"text":"(I\d)"', page)
    assert titles == ["I5", "I3", "I1", "I0"]


def test_marker_sizes_follow_notional() -> None:
    from crossmargin.report.stress import _marker_sizes

    fills = [fill(0.0, "a", BTC, 1.0, n, "market") for n in (0.0, float("nan"), 25.0, 100.0)]
    assert _marker_sizes(fills, 100.0) == [6.0, 6.0, 6.0 + 20.0 * 0.5, 26.0]  # area ~ notional: sqrt(1/4)


# ------------------------------------------------------------------------------------------------ JSON


def test_summary_json_totals_equal_the_sums_by_hand() -> None:
    summary = summary_json(make_report())
    assert summary["scenario"] == "flash-crash-2021-05-19"
    assert summary["title"] == "Flash crash <script>alert('x')</script> & co"  # JSON keeps the text as it is
    assert summary["book"] == "generated: 1,200 accounts, seed 7"
    runs = summary["runs"]
    assert isinstance(runs, dict)
    assert list(runs) == ["cross", "isolated"]
    cross, isolated = runs["cross"], runs["isolated"]
    assert cross["liquidations"] == CROSS_LIQUIDATIONS == 9
    # every sum below is exact in binary floating point, so the decimal strings are the hand figures
    assert cross["liquidated_notional"] == "453000" and CROSS_NOTIONAL == 453_000
    assert cross["slippage"] == "5650.75" and CROSS_SLIPPAGE == 5_650.75
    assert cross["adl_events"] == 1
    assert cross["bad_debt"] == "1520.75"  # cumulative: the last step's figure, not a sum
    assert cross["insurance_fund_start"] == "250000"
    assert cross["insurance_fund_end"] == "240500"
    assert cross["insurance_fund_drawdown"] == "10000" and CROSS_DRAWDOWN == 10_000
    assert cross["accounts"] == 1_200 and cross["positions"] == 3_456
    assert isolated["liquidations"] == ISOLATED_LIQUIDATIONS == 21
    assert isolated["liquidated_notional"] == "1600000" and ISOLATED_NOTIONAL == 1_600_000
    assert isolated["adl_events"] == 2
    assert isolated["bad_debt"] == "12345.67"
    assert isolated["insurance_fund_drawdown"] == "19000" and ISOLATED_DRAWDOWN == 19_000


def test_summary_json_has_each_run_at_the_top_level() -> None:
    summary = summary_json(make_report())
    assert summary["cross"]["bad_debt"] == "1520.75"  # type: ignore[index]
    assert summary["isolated"]["liquidations"] == 21  # type: ignore[index]
    runs = summary["runs"]
    assert isinstance(runs, dict)
    assert summary["cross"] == runs["cross"]


def test_summary_json_monte_carlo() -> None:
    monte_carlo = summary_json(make_report())["monte_carlo"]
    assert isinstance(monte_carlo, dict)
    assert list(monte_carlo) == ["cross", "isolated"]
    cross = monte_carlo["cross"]
    assert cross["paths"] == 5
    assert cross["bad_debt"] == {
        "var": {"0.95": "20300", "0.99": "24060"},
        "expected_shortfall": {"0.95": "25000", "0.99": "25000"},
        "mean": "5320",  # (0 + 0 + 100 + 1,500 + 25,000) / 5
        "max": "25000",
    }
    assert cross["insurance_fund_drawdown"]["mean"] == "11200"  # (1,000 + 2,000 + 3,000 + 10,000 + 40,000) / 5
    assert cross["insurance_fund_drawdown"]["var"]["0.99"] == "38800"
    assert monte_carlo["isolated"]["bad_debt"]["expected_shortfall"] == {"0.95": "96500"}
    assert monte_carlo["isolated"]["liquidated_notional"]["mean"] == "30"


def test_summary_json_is_plain_json_with_money_as_decimal_strings() -> None:
    summary = summary_json(make_report())
    text = json.dumps(summary, allow_nan=False)
    back = json.loads(text)
    assert back == summary
    assert isinstance(back["cross"]["liquidations"], int)
    assert isinstance(back["monte_carlo"]["cross"]["paths"], int)
    assert back["cross"]["bad_debt"] == "1520.75"
    assert back["monte_carlo"]["cross"]["bad_debt"]["var"]["0.95"] == "20300"
    money_keys = set(back["cross"]) - {"liquidations", "adl_events", "accounts", "positions"}
    assert all(isinstance(back[label][key], str) for label in ("cross", "isolated") for key in money_keys)
    assert not re.search(r"\d\.\d*e|\de[+-]?\d", text, re.IGNORECASE)  # no float or exponent anywhere
    assert back["sources"][1] == {"what": "desk notes", "where": "javascript:alert(1)"}


def test_non_finite_figures_become_null() -> None:
    broken = run("cross", (step(0.0, 1.0, 1.0, 0, float("nan"), 0.0, 0, 0.0, 1.0),))
    summary = summary_json(make_report(runs=(broken,), monte_carlo=()))
    json.dumps(summary, allow_nan=False)
    assert summary["cross"]["liquidated_notional"] is None  # type: ignore[index]


def test_labels_that_repeat_or_clash_with_fixed_keys() -> None:
    assert unique_labels(["cross", "cross", "isolated", "cross"]) == ["cross", "cross (2)", "isolated", "cross (3)"]
    assert unique_labels(["a", "a (2)", "a"]) == ["a", "a (2)", "a (3)"]
    runs_run = run("runs", CROSS_STEPS)
    summary = summary_json(make_report(runs=(CROSS, CROSS, runs_run), monte_carlo=()))
    runs = summary["runs"]
    assert isinstance(runs, dict)
    assert list(runs) == ["cross", "cross (2)", "runs"]
    assert summary["cross (2)"] == runs["cross"]
    assert summary["runs"] is runs  # a run named "runs" does not replace the key


# ------------------------------------------------------------------------------------------------ Rich


def render(renderable: RenderableType) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_rich_summary_table_shows_each_run() -> None:
    table = summary_table(make_report())
    assert isinstance(table, Table)
    assert [str(c.header) for c in table.columns][:2] == ["run", "liquidations"]
    text = render(table)
    assert "Flash crash <script>alert('x')</script> & co" in text
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("│ ")}
    cross, isolated = lines["cross"], lines["isolated"]
    for figure in ("9", "453,000.00", "5,650.75", "1,520.75", "250,000.00 → 240,500.00", "10,000.00", "1,200"):
        assert figure in cross
    for figure in ("21", "1,600,000.00", "12,345.67", "250,000.00 → 233,000.00", "19,000.00"):
        assert figure in isolated


def test_rich_summary_with_monte_carlo_adds_a_second_table() -> None:
    text = render(summary_renderable(make_report()))
    assert "Monte Carlo" in text
    rows = [line for line in text.splitlines() if "95%" in line or "99%" in line]
    assert len(rows) == 3  # cross at 95% and 99%, isolated at 95%
    assert all(f in rows[0] for f in ("cross", "5", "20,300.00", "25,000.00", "34,000.00", "40,000.00"))
    assert all(f in rows[2] for f in ("isolated", "77,600.00", "96,500.00", "7,800.00", "8,000.00"))


def test_rich_summary_without_monte_carlo_is_the_runs_table() -> None:
    renderable = summary_renderable(make_report(monte_carlo=()))
    assert isinstance(renderable, Table)
    assert "Monte Carlo" not in render(renderable)


def test_rich_labels_are_not_markup() -> None:
    text = render(summary_table(make_report(runs=(run("[bold]cross[/]", CROSS_STEPS),), title="[/oops]")))
    assert "[bold]cross[/]" in text
    assert "[/oops]" in text


# ------------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (1_234_567.891, "1,234,567.89"),
        (0.0, "0.00"),
        (-0.001, "0.00"),
        (-1_520.75, "-1,520.75"),
        (2.675, "2.67"),  # the float just below 2.675 rounds down
        (float("nan"), "-"),
        (None, "-"),
    ],
)
def test_money(x: float | None, text: str) -> None:
    assert money(x) == text


def test_count_and_levels() -> None:
    assert count(1_234_567) == "1,234,567"
    assert [level_name(x) for x in ("0.95", "0.99", "0.995", "0.999", "p99", "1.5")] == [
        "95%",
        "99%",
        "99.5%",
        "99.9%",
        "p99",
        "1.5",
    ]


# ------------------------------------------------------------------------------------- every step, drawn

TIMES = [0.0, 60.0, 120.0, 180.0]


def decoded(value: Any) -> list[Any]:
    """A trace's data array: a list, or Plotly's typed array (``{"dtype": "f8", "bdata": base64}``)."""
    if isinstance(value, dict):
        return list(np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])))
    return list(value)


def figure_traces(page: str, figure: str) -> list[dict[str, Any]]:
    """The traces of one figure of the page, read back from its ``Plotly.newPlot`` call."""
    at = page.index(f'"figure-{figure}",', page.index(f'<div id="figure-{figure}"'))
    data, _ = json.JSONDecoder().raw_decode(page, page.index("[", at))
    traces: list[dict[str, Any]] = data
    for trace in traces:
        for key in ("x", "y"):
            trace[key] = decoded(trace[key])
    return traces


def panel(traces: list[dict[str, Any]], row: int) -> dict[str, dict[str, Any]]:
    """The traces of one panel (1 is the top one) by name."""
    axis = "y" if row == 1 else f"y{row}"
    return {trace["name"]: trace for trace in traces if trace["yaxis"] == axis}


def test_every_runs_marks_and_index_prices_are_drawn_against_its_step_times(page: str) -> None:
    marks = figure_traces(page, "price-path")
    # BTC has the most fills (3 + 1), so it is the top panel; each run's mark line has a point a step
    for row, instrument in ((1, BTC), (2, ETH)):
        lines = panel(marks, row)
        assert lines["cross mark"]["x"] == lines["isolated mark"]["x"] == TIMES
        assert lines["cross mark"]["y"] == [s.marks[instrument] for s in CROSS_STEPS]
        assert lines["isolated mark"]["y"] == [s.marks[instrument] for s in ISOLATED_STEPS]
    assert panel(marks, 1)["cross mark"]["y"] == [60_000.0, 54_000.0, 48_000.0, 51_000.0]
    # Index prices: a panel an asset, the largest move first: BTC (60,010 - 48,050) / 60,010 = 0.19930, then
    # ETH (3,001 - 2,404) / 3,001 = 0.19893, then USDT (0). Both runs see the same index: one line for both.
    prices = figure_traces(page, "index-prices")
    assert re.findall(r'"text":"(BTC|ETH|USDT)"', page) == ["BTC", "ETH", "USDT"]
    for row, expected in (
        (1, [60_010.0, 54_020.0, 48_050.0, 51_010.0]),
        (2, [3_001.0, 2_702.5, 2_404.0, 2_551.0]),
        (3, [1.0, 1.0, 1.0, 1.0]),
    ):
        lines = panel(prices, row)
        assert list(lines) == ["cross, isolated"]
        assert (lines["cross, isolated"]["x"], lines["cross, isolated"]["y"]) == (TIMES, expected)


def test_every_runs_liquidations_fund_and_bad_debt_are_drawn_step_by_step(page: str) -> None:
    bars = figure_traces(page, "liquidations")
    fills, notional = panel(bars, 1), panel(bars, 2)
    assert (fills["cross"]["x"], fills["cross"]["y"]) == (TIMES, [0, 3, 5, 1])
    assert (fills["isolated"]["x"], fills["isolated"]["y"]) == (TIMES, [0, 7, 12, 2])
    assert notional["cross"]["y"] == [0.0, 162_000.0, 240_000.0, 51_000.0]
    assert notional["isolated"]["y"] == [0.0, 371_000.0, 1_128_000.0, 101_000.0]
    lines = figure_traces(page, "insurance-fund")
    fund, debt = panel(lines, 1), panel(lines, 2)
    # the starting balance first (at t = 0), then the balance after each step
    assert fund["cross"]["x"] == [0.0, *TIMES]
    assert fund["cross"]["y"] == [250_000.0, 250_000.0, 248_749.5, 240_000.0, 240_500.0]
    assert fund["isolated"]["y"] == [250_000.0, 250_000.0, 246_000.0, 231_000.0, 233_000.0]
    assert debt["cross"]["y"] == [0.0, 0.0, 0.0, 1_520.75, 1_520.75]
    assert debt["isolated"]["y"] == [0.0, 0.0, 0.0, 12_345.67, 12_345.67]


def test_runs_with_different_index_prices_get_a_line_each_and_the_most_moved_assets_show() -> None:
    moved = run("isolated", tuple(replace(s, prices={**s.prices, "BTC": s.prices["BTC"] - 100.0}) for s in CROSS_STEPS))
    page = render_html(make_report(runs=(CROSS, moved), monte_carlo=()))
    btc = panel(figure_traces(page, "index-prices"), 1)
    assert list(btc) == ["cross", "isolated"]
    assert btc["isolated"]["y"] == [59_910.0, 53_920.0, 47_950.0, 50_910.0]
    # Six assets, A5 moving most (50 %), then A1 (40 %), A3 (30 %), A0 and A2 (20 %, in order), A4 (10 %)
    moves = [0.2, 0.4, 0.2, 0.3, 0.1, 0.5]
    prices = [{f"A{i}": 10.0 * (1 - m * t) for i, m in enumerate(moves)} for t in (0, 1)]
    steps = tuple(StepRecord(float(t), prices[t], {}, 0, 0.0, 0.0, 0, 0.0, 1.0, 0) for t in (0, 1))
    page = render_html(make_report(runs=(run("cross", steps),), monte_carlo=()))
    assert f"Showing the {MAX_ASSETS} assets whose index moved most, of 6." in page
    assert re.findall(r'"text":"(A\d)"', page) == ["A5", "A1", "A3", "A0"]


# --------------------------------------------------------------------------------- every step, exported


def test_summary_json_carries_every_step_of_each_run_by_hand() -> None:
    summary = summary_json(make_report())
    steps = summary["steps"]
    assert isinstance(steps, dict)
    assert list(steps) == ["cross", "isolated"]
    cross, isolated = steps["cross"], steps["isolated"]
    assert [r["t"] for r in cross] == [r["t"] for r in isolated] == ["0", "60", "120", "180"]
    assert cross[2] == {
        "t": "120",
        "prices": {"BTC": "48050", "ETH": "2404", "USDT": "1"},
        "marks": {BTC: "48000", ETH: "2400"},
        "liquidations": 5,
        "liquidated_notional": "240000",
        "slippage": "4100.25",
        "adl_events": 1,
        "bad_debt": "1520.75",
        "insurance_fund": "240000",
        "accounts_at_risk": 5,
        "volatility": {},  # these hand-made records carry none (a run's: tests/cli/test_stress.py)
    }
    assert isolated[1]["prices"] == {"BTC": "54020", "ETH": "2702.5", "USDT": "1"}
    assert isolated[1]["marks"] == {BTC: "53500", ETH: "2650"}
    # The records add up to the totals worked by hand at the top of this file.
    totals = summary["runs"]
    assert isinstance(totals, dict)
    for label, records, liquidations, notional, drawdown in (
        ("cross", cross, CROSS_LIQUIDATIONS, CROSS_NOTIONAL, CROSS_DRAWDOWN),
        ("isolated", isolated, ISOLATED_LIQUIDATIONS, ISOLATED_NOTIONAL, ISOLATED_DRAWDOWN),
    ):
        assert sum(r["liquidations"] for r in records) == liquidations == totals[label]["liquidations"]
        assert sum(Decimal(r["liquidated_notional"]) for r in records) == Decimal(notional)
        assert Decimal(totals[label]["liquidated_notional"]) == Decimal(notional)
        assert sum(r["adl_events"] for r in records) == totals[label]["adl_events"]
        assert records[-1]["insurance_fund"] == totals[label]["insurance_fund_end"]
        assert records[-1]["bad_debt"] == totals[label]["bad_debt"]
        lowest = min(Decimal(r["insurance_fund"]) for r in records)
        assert Decimal(totals[label]["insurance_fund_start"]) - lowest == Decimal(drawdown)
    assert (cross[-1]["insurance_fund"], isolated[-1]["bad_debt"]) == ("240500", "12345.67")


def test_a_step_record_has_every_field_but_the_wall_time() -> None:
    record = step_json(CROSS_STEPS[1])
    # ``agents`` only for a run with risk agents (tests/cli/test_stress.py has one)
    assert set(record) == {f.name for f in fields(StepRecord)} - {"seconds", "agents"}
    # Runs that differ only in their steps' wall times give the same document, byte for byte.
    slow = run("cross", tuple(replace(s, seconds=s.seconds + 7.25) for s in CROSS_STEPS), CROSS.marks)
    text = json.dumps(summary_json(make_report(runs=(slow, ISOLATED))), indent=2)
    assert text == json.dumps(summary_json(make_report()), indent=2)
    assert "seconds" not in text and "7.25" not in text


def no_float(text: str) -> None:
    raise AssertionError(f"a JSON number with a fraction: {text}")


def step_from_json(record: dict[str, Any]) -> StepRecord:
    """A step record read back from summary.json (decimal strings to floats, counts as they are)."""
    return StepRecord(
        t=float(record["t"]),
        prices={asset: float(x) for asset, x in record["prices"].items()},
        marks={name: float(x) for name, x in record["marks"].items()},
        liquidations=record["liquidations"],
        liquidated_notional=float(record["liquidated_notional"]),
        slippage=float(record["slippage"]),
        adl_events=record["adl_events"],
        bad_debt=float(record["bad_debt"]),
        insurance_fund=float(record["insurance_fund"]),
        accounts_at_risk=record["accounts_at_risk"],
    )


def test_step_records_round_trip_through_summary_json() -> None:
    odd = StepRecord(
        t=0.1 + 0.2,
        prices={"BTC": 0.1 + 0.2, "ALT": 1e-7, "BIG": 1e22},
        marks={"X-PERP": 2.0 / 3.0},
        liquidations=2,
        liquidated_notional=123_456.789,
        slippage=1e-9,
        adl_events=0,
        bad_debt=0.0,
        insurance_fund=500_000.01,
        accounts_at_risk=7,
    )
    report = make_report(runs=(CROSS, ISOLATED, run("odd", (odd,))))
    back = json.loads(json.dumps(summary_json(report), indent=2), parse_float=no_float)
    for label, result in (("cross", CROSS), ("isolated", ISOLATED), ("odd", report.runs[2])):
        assert tuple(step_from_json(r) for r in back["steps"][label]) == result.steps
    record = back["steps"]["odd"][0]
    # the shortest decimal that reads back as the float, fixed-point, never an exponent
    assert record["t"] == "0.30000000000000004"
    assert record["prices"] == {"BTC": "0.30000000000000004", "ALT": "0.0000001", "BIG": "10000000000000000000000"}
    assert record["marks"] == {"X-PERP": "0.6666666666666666"} and record["slippage"] == "0.000000001"


def test_a_non_finite_step_figure_is_null() -> None:
    broken = StepRecord(60.0, {"BTC": math.nan}, {BTC: math.inf}, 0, math.nan, 0.0, 0, 0.0, 1.0, 0)
    record = summary_json(make_report(runs=(run("cross", (broken,)),), monte_carlo=()))["steps"]["cross"][0]  # type: ignore[index]
    json.dumps(record, allow_nan=False)
    assert (record["prices"], record["marks"], record["liquidated_notional"]) == ({"BTC": None}, {BTC: None}, None)


def test_a_run_named_steps_is_under_runs_only_and_its_steps_under_steps() -> None:
    summary = summary_json(make_report(runs=(run("steps", CROSS_STEPS),), monte_carlo=()))
    steps = summary["steps"]
    assert isinstance(steps, dict) and list(steps) == ["steps"]
    assert len(steps["steps"]) == 4
    assert summary["runs"]["steps"]["liquidations"] == CROSS_LIQUIDATIONS  # type: ignore[index]
