"""The dashboard in headless Chromium over the real app (tests/browser/book.yaml, by hand):

- alice: 10000 USDT, long 1 BTC-PERP at 60000: equity 10000, MM 0.005 x 60000 = 300, IM 0.01 x 60000 = 600;
  liquidated where 10000 + (p - 60000) = 0.005 p, p = 50000 / 0.995 = 50251.2563.
- bob: 2000 USDT, short 1 at 60000: equity 2000, MM 300, IM 600; free collateral 2000 - 600 = 1400;
  liquidated where 2000 - (p - 60000) = 0.005 p, p = 62000 / 1.005 = 61691.5423.
- carol, cross: 5000 USDT + 0.1 BTC at weight 0.9 (5400) = 10400, long 10 ETH-PERP at 3000 (MM 0.01 x 30000
  = 300); liquidated where 10400 + 10 (p - 3000) = 0.01 x 10 p, p = 19600 / 9.9 = 1979.7980.
  isolated: long 0.5 BTC-PERP at 60000 on 1000 USDT (MM 0.005 x 30000 = 150); liquidated where
  1000 + 0.5 (p - 60000) = 0.005 x 0.5 p, p = 29000 / 0.4975 = 58291.4573.
- the book: equity 10000 + 2000 + 10400 + 1000 = 23400; MM 300 + 300 + 300 + 150 = 1050; IM 600 + 600 + 600
  (carol's ETH: 0.02 x 30000) + 300 (her isolated BTC: 0.01 x 30000) = 2100.
- nearest liquidation price from the mark (60000 BTC, 3000 ETH): alice 9748.74 / 60000 = 16.2 %; bob
  1691.54 / 60000 = 2.82 %; carol 1708.54 / 60000 = 2.85 % (her BTC; ETH is 34 % away): within 1 % none,
  within 5 % and 10 % two (bob, carol).

The book's equity and margins come from the risk book's float mirror: they are compared within 1e-9 (relative)
of the figures by hand.
"""

import re
import time
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import Live

pytestmark = pytest.mark.browser

LIQUIDATION_PRICES = {
    ("alice", "BTC-PERP"): Decimal(50000) / Decimal("0.995"),
    ("bob", "BTC-PERP"): Decimal(62000) / Decimal("1.005"),
    ("carol", "ETH-PERP"): Decimal(19600) / Decimal("9.9"),
    ("carol", "BTC-PERP"): Decimal(29000) / Decimal("0.4975"),
}
"""Every position's liquidation price by hand (module doc): none depends on the BTC price, the only one the
tests move (each account's collateral is USDT, or BTC held beside an ETH position only)."""
EQUITY = '#book-figures [data-figure="equity"]'
MAP_EVERY_S = 1.0
"""The map reloads at most once a second (the book's figures come with the stream, at most every 0.1 s)."""
WITHIN_S = 10.0
"""How long a live figure may take to reach the open page: a bound against hanging, not a timing claim (the
page takes it from the stream and the map's next reload; a test on a shared machine cannot time a second)."""


def open_page(page: Page, live: Live, path: str, scope: str = "admin") -> None:
    answer = page.goto(f"{live.url}{path}?key={live.key(scope)}")
    assert answer is not None and answer.status == 200


def book_figure(page: Page, name: str) -> Any:
    return page.locator(f'#book-figures [data-figure="{name}"]')


def wait_for_figure(page: Page, selector: str, expected: float, timeout_ms: float = WITHIN_S * 1000) -> None:
    """Wait until the figure at ``selector`` holds ``expected`` (its data-value, within 1e-9 relative)."""
    page.wait_for_function(
        """([selector, expected]) => {
            const element = document.querySelector(selector);
            return element !== null && element.dataset.value !== undefined && element.dataset.value !== "" &&
                Math.abs(Number(element.dataset.value) - expected) <= 1e-9 * Math.abs(expected);
        }""",
        arg=[selector, expected],
        timeout=timeout_ms,
    )


def rounded(text: str, places: int = 2) -> str:
    """A decimal string as the dashboard shows it: rounded half away from zero to ``places``, grouped."""
    return f"{Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"


def map_traces(page: Page) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = page.evaluate(
        "() => document.getElementById('map').data.map(t => ({name: t.name, type: t.type, x: t.x, y: t.y, "
        "width: t.width || null}))"
    )
    return traces


def test_the_book_page_opens_with_an_admin_key_which_leaves_the_address_bar(live: Live, page: Page) -> None:
    key = live.key("admin")
    open_page(page, live, "/")
    expect(page).to_have_url(f"{live.url}/")
    assert page.evaluate("sessionStorage.getItem('crossmargin.key')") == key
    wait_for_figure(page, EQUITY, 23400)
    expect(book_figure(page, "equity")).to_have_text("23,400.00")
    wait_for_figure(page, '#book-figures [data-figure="maintenance_margin"]', 1050)
    wait_for_figure(page, '#book-figures [data-figure="initial_margin"]', 2100)
    expect(book_figure(page, "insurance_fund")).to_have_attribute("data-value", "10000")
    expect(book_figure(page, "bad_debt")).to_have_attribute("data-value", "0")
    expect(book_figure(page, "accounts")).to_have_text("3")
    expect(book_figure(page, "liquidatable")).to_have_text("0")
    expect(book_figure(page, "adl_count")).to_have_text("0")
    for band, count in (("1%", "0"), ("5%", "2"), ("10%", "2")):
        expect(book_figure(page, f"within.{band}")).to_have_text(count)
    # nearest first: bob 300 / 2000 = 15 %, alice 300 / 10000 = 3 %, carol 300 / 10400 = 2.88 %
    rows = page.locator("#nearest tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-row") for i in range(3)] == ["bob", "alice", "carol"]
    expect(rows.nth(0).locator('[data-key="margin_ratio"]')).to_have_text("15.00 %")
    expect(rows.nth(2).locator('[data-key="margin_ratio"]')).to_have_text("2.88 %")
    # a row's link opens the account's page with the key, which leaves the address bar again
    rows.nth(0).get_by_role("link", name="bob").click()
    expect(page).to_have_url(f"{live.url}/accounts/bob")
    expect(page.locator('#account-figures [data-figure="equity"]')).to_have_attribute("data-value", "2000")


def test_without_a_key_a_page_is_refused_until_one_is_given(live: Live, page: Page) -> None:
    answer = page.goto(f"{live.url}/")
    assert answer is not None and answer.status == 401
    expect(page.get_by_role("heading", name="A key is needed")).to_be_visible()
    for shown in ("alice", "23,400", "23400", "10000"):
        assert shown not in page.content()
    page.get_by_label("Key").fill("cm_not-a-key")
    with page.expect_navigation() as refused:
        page.get_by_label("Key").press("Enter")
    assert refused.value is not None and refused.value.status == 401
    expect(page).to_have_url(f"{live.url}/")  # the refused key left the address bar too
    page.get_by_label("Key").fill(live.key("admin"))
    with page.expect_navigation() as opened:
        page.get_by_role("button", name="Open").click()
    assert opened.value is not None and opened.value.status == 200
    wait_for_figure(page, EQUITY, 23400)
    expect(page).to_have_url(f"{live.url}/")
    # a reload (the key no longer in the address bar) opens the page again with the key the tab keeps
    page.reload()
    wait_for_figure(page, EQUITY, 23400)
    expect(page).to_have_url(f"{live.url}/")


def test_a_key_of_another_scope_is_refused(live: Live, page: Page) -> None:
    answer = page.goto(f"{live.url}/?key={live.key('account:bob')}")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="Not for this key")).to_be_visible()
    answer = page.goto(f"{live.url}/accounts/alice?key={live.key('account:bob')}")
    assert answer is not None and answer.status == 403
    open_page(page, live, "/accounts/bob", "account:bob")
    expect(page.locator('#account-figures [data-figure="equity"]')).to_have_attribute("data-value", "2000")
    expect(page.get_by_role("navigation").get_by_role("link")).to_have_text(["Account bob"])


def test_a_price_moves_the_book_figures_and_the_liquidation_map_on_the_open_page(live: Live, page: Page) -> None:
    open_page(page, live, "/")
    wait_for_figure(page, EQUITY, 23400)
    chart = page.locator("#map")
    expect(chart).to_have_attribute("data-mark", "60000")
    time.sleep(MAP_EVERY_S)  # the map reloads at most once a second: let the second after its first load pass
    started = time.monotonic()
    live.post("/v1/prices", [{"t": 1, "source": "binance", "symbol": "BTC", "price": 61500}], scope="feeder")

    def left_ms() -> float:
        return max(1.0, (WITHIN_S - (time.monotonic() - started)) * 1000)

    # BTC 60000 -> 61500 moves the BTC-PERP mark with it: alice +1500, bob -1500, carol's isolated long of 0.5
    # +750, carol's 0.1 BTC at weight 0.9 +135: equity 23400 + 885 = 24285;
    # MM 0.005 x (61500 + 61500 + 30750) + 300 = 1068.75; IM 0.01 x (61500 + 61500 + 30750) + 600 = 2137.5
    wait_for_figure(page, EQUITY, 24285, left_ms())
    wait_for_figure(page, '#book-figures [data-figure="maintenance_margin"]', 1068.75, left_ms())
    wait_for_figure(page, '#book-figures [data-figure="initial_margin"]', 2137.5, left_ms())
    # nearest liquidation price from 61500: bob 191.54 / 61500 = 0.31 %; carol 3208.54 / 61500 = 5.2 %
    for band, count in (("1%", "1"), ("5%", "1"), ("10%", "2")):
        expect(book_figure(page, f"within.{band}")).to_have_text(count, timeout=left_ms())
    expect(chart).to_have_attribute("data-mark", "61500", timeout=left_ms())
    assert live.get("/v1/accounts/alice")["positions"][0]["mark"] == "61500"
    # the map around 61500 +/- 20 % (49200 to 73800) holds every BTC-PERP position: each in the bar where its
    # liquidation price is, of notional |size| x price (linear, one BTC a contract)
    traces = {t["name"]: t for t in map_traces(page)}
    longs, shorts = traces["Longs liquidated"], traces["Shorts liquidated"]
    expected_longs = {
        LIQUIDATION_PRICES[("alice", "BTC-PERP")]: LIQUIDATION_PRICES[("alice", "BTC-PERP")],
        LIQUIDATION_PRICES[("carol", "BTC-PERP")]: LIQUIDATION_PRICES[("carol", "BTC-PERP")] / 2,
    }
    expected_shorts = {LIQUIDATION_PRICES[("bob", "BTC-PERP")]: LIQUIDATION_PRICES[("bob", "BTC-PERP")]}
    for trace, expected in ((longs, expected_longs), (shorts, expected_shorts)):
        bars = [(x, w, y) for x, w, y in zip(trace["x"], trace["width"], trace["y"], strict=True) if y]
        assert len(bars) == len(expected)
        for price, notional in expected.items():
            (found,) = [y for x, w, y in bars if x - w / 2 <= float(price) <= x + w / 2]
            assert found == pytest.approx(float(notional), rel=1e-9)
    assert len(longs["width"]) == 60
    assert sum(longs["width"]) == pytest.approx(2 * 0.2 * 61500)  # 60 bins over the span


def test_the_account_page_shows_the_liquidation_prices_of_the_api(live: Live, page: Page) -> None:
    open_page(page, live, "/accounts/carol", "account:carol")
    view = live.get("/v1/accounts/carol", scope="account:carol")
    rows = page.locator("#positions tbody tr")
    expect(rows).to_have_count(2)
    for position in view["positions"]:
        cell = page.locator(f'#positions tr[data-row="{position["instrument"]}"] [data-key="liquidation_price"]')
        expect(cell).to_have_attribute("data-value", position["liquidation_price"])
        expect(cell).to_have_text(rounded(position["liquidation_price"]))
        by_hand = LIQUIDATION_PRICES[("carol", position["instrument"])]
        assert abs(Decimal(position["liquidation_price"]) - by_hand) <= by_hand * Decimal("1e-12")
    # cross beside isolated: carol's cross pool (equity 10400, MM 300) and her isolated BTC-PERP pool (1000, 150)
    pools = page.locator("#pools")
    expect(pools.locator('[data-pool="Cross"][data-key="equity"]')).to_have_attribute("data-value", "10400")
    expect(pools.locator('[data-pool="Isolated BTC-PERP"][data-key="equity"]')).to_have_attribute("data-value", "1000")
    expect(pools.locator('[data-pool="Cross"][data-key="maintenance_margin"]')).to_have_attribute("data-value", "300")
    isolated_mm = pools.locator('[data-pool="Isolated BTC-PERP"][data-key="maintenance_margin"]')
    expect(isolated_mm).to_have_attribute("data-value", "150")
    # all cross beside all isolated, as the API's detail compares them: the same liquidation prices shown
    modes = live.get("/v1/accounts/carol?detail=true", scope="account:carol")["modes"]
    for column, mode in (("All cross", modes["cross"]), ("All isolated", modes["isolated"])):
        for instrument, price in mode["liquidation_prices"].items():
            cell = page.locator(f'#modes [data-pool="{column}"][data-key="liquidation_price:{instrument}"]')
            expect(cell).to_have_attribute("data-value", price or "")


def test_the_account_page_follows_its_topic(live: Live, page: Page) -> None:
    open_page(page, live, "/accounts/alice")
    equity = page.locator('#account-figures [data-figure="equity"]')
    expect(equity).to_have_attribute("data-value", "10000")
    expect(page.locator("#stream-state")).to_have_text("live")
    live.post("/v1/prices", [{"t": 1, "source": "binance", "symbol": "BTC", "price": 59000}], scope="feeder")
    # long 1 BTC from 60000 at 59000: equity 10000 - 1000 = 9000, MM 0.005 x 59000 = 295
    expect(equity).to_have_attribute("data-value", "9000")
    expect(page.locator('#account-figures [data-figure="maintenance_margin"]')).to_have_attribute("data-value", "295")
    expect(page.locator("#events li").first).to_contain_text("figures")


def test_the_what_if_forms_answer_from_the_api(live: Live, page: Page) -> None:
    open_page(page, live, "/accounts/bob")
    page.get_by_label("Asset").select_option("USDT")
    page.get_by_role("button", name="Ask").click()
    # bob's free collateral 2000 - 600 = 1400 USDT (weight 1), of 2000 held
    expect(page.locator("#withdrawal-answer strong")).to_have_attribute("data-value", "1400")
    page.get_by_label("Instrument").fill("BTC-PERP")
    page.get_by_label("Size").fill("-1")
    page.get_by_label("Price").fill("60000")
    page.get_by_role("button", name="Check").click()
    # selling 1 more at 60000: short 2, IM 0.01 x 120000 = 1200, free collateral 2000 - 1200 = 800
    answer = page.locator("#order-answer")
    expect(answer.locator("strong")).to_have_text("Passes")
    expect(answer.locator("dd").nth(1)).to_have_attribute("data-value", "800")
    expect(answer.locator("dd").nth(2)).to_have_attribute("data-value", "1200")
    page.get_by_label("Instrument").fill("DOGE-PERP")
    page.get_by_role("button", name="Check").click()
    expect(answer).to_have_class("answer refused")
    expect(answer).to_contain_text("instrument")
    expect(page.get_by_label("Instrument")).to_have_attribute("aria-invalid", "true")


def test_the_accounts_table_sorts_from_the_keyboard(live: Live, page: Page) -> None:
    open_page(page, live, "/")
    rows = page.locator("#nearest tbody tr")
    expect(rows).to_have_count(3)
    header = page.locator('#nearest th[data-key="equity"]')
    header.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    ids = page.locator("#nearest tbody tr")
    # equity: carol 10400, alice 10000, bob 2000
    expect(ids.locator('[data-key="id"]')).to_have_text(["carol", "alice", "bob"])
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(ids.locator('[data-key="id"]')).to_have_text(["bob", "alice", "carol"])
    page.keyboard.press("Tab")  # on to the next header
    page.keyboard.press("Enter")
    expect(page.locator('#nearest th[data-key="maintenance_margin"]')).to_have_attribute("aria-sort", "descending")


def test_the_banner_names_the_prices_that_are_not_valid(live: Live, page: Page) -> None:
    open_page(page, live, "/oracle")
    banner = page.locator("#oracle-banner")
    expect(page.locator('#symbols tr[data-symbol="BTC"]').first).to_be_visible()
    expect(banner).to_be_hidden()
    live.post("/v1/prices", [{"t": 1, "source": "binance", "symbol": "BTC", "price": 60000}], scope="feeder")
    live.post("/v1/clock", {"t": 200}, scope="feeder")
    # BTC's only source last reported at t = 1: 199 s old at t = 200, past max_age_s (60): invalid
    expect(banner).to_be_visible(timeout=5000)
    expect(banner.locator('[data-symbol="BTC"]')).to_have_text("BTC invalid")
    status = page.locator('#symbols tr[data-symbol="BTC"] [data-key="status"]')
    expect(status).to_have_text("invalid")
    source = page.locator('#symbols tr[data-symbol="BTC"][data-source="binance"] td').nth(-2)
    expect(source).to_have_attribute("data-value", "199")  # age: 200 - 1
    page.get_by_role("link", name="Book").click()
    expect(page).to_have_url(f"{live.url}/")
    expect(page.locator("#oracle-banner [data-symbol='BTC']")).to_have_text("BTC invalid", timeout=5000)


TINY_SCENARIO = """name: tiny-drop
title: "BTC -20 % in a minute"
step_seconds: 10
steps: 12
assets:
  BTC: {table: [[0, 1.0], [60, 0.8], [120, 0.8]]}
  "*": {follow: BTC, beta: 1.0}
fixed: [USDT]
liquidity: [[0, 1.0]]
"""
"""Two runs (all cross, all isolated) of 12 steps each. BTC at 48000 is below alice's liquidation price (50251)
and carol's isolated long's (58291), so both are liquidated (at least one fill each) in the cross run; ETH,
following BTC down 20 % to 2400, stays above carol's ETH liquidation price (1980)."""


def run_to_its_report(page: Page, steps: int) -> None:
    """Press Run and wait for the run to be done: ``steps`` steps a run, two runs (all cross, all isolated)."""
    page.get_by_role("button", name="Run").click()
    state = page.locator("#run-state")
    expect(state).to_have_attribute("data-state", re.compile("^(done|failed|refused)$"), timeout=60_000)
    assert state.get_attribute("data-state") == "done", state.text_content()
    assert page.locator("#progress").evaluate("p => [p.value, p.max]") == [2 * steps, 2 * steps]
    expect(page.locator("#report-link")).to_be_visible()


def test_the_stress_view_runs_a_library_scenario_to_its_report(live: Live, page: Page) -> None:
    open_page(page, live, "/stress")
    page.get_by_label("From the library").select_option("flash-crash")
    run_to_its_report(page, 360)  # the flash crash: 360 steps of 10 s
    expect(page.frame_locator("#report").locator("body")).to_contain_text("flash-crash", timeout=10_000)
    # BTC falls 25 %, to 45000: below alice's liquidation price (50251) and carol's isolated long's (58291)
    fills = page.locator('#summary [data-run="cross"][data-key="liquidations"]')
    expect(fills).to_be_visible()
    assert int(fills.get_attribute("data-value") or "0") >= 2


def test_the_stress_view_runs_an_uploaded_scenario_to_its_report(live: Live, page: Page, tmp_path: Any) -> None:
    scenario = tmp_path / "tiny-drop.yaml"
    scenario.write_text(TINY_SCENARIO, encoding="utf-8")
    open_page(page, live, "/stress")
    expect(page.locator('#scenario option[value="flash-crash"]')).to_be_attached()
    page.get_by_label("Or upload a scenario").set_input_files(str(scenario))
    page.get_by_label("Seed").fill("3")
    run_to_its_report(page, 12)
    expect(page.frame_locator("#report").locator("body")).to_contain_text("tiny-drop", timeout=10_000)
    fills = page.locator('#summary [data-run="cross"][data-key="liquidations"]')
    expect(fills).to_be_visible()
    assert int(fills.get_attribute("data-value") or "0") >= 2


NUMBERS = [
    "0", "7", "1234.5", "-1234.565", "0.005", "-0.004", "999.995", "0.5", "0.000123456", "0.00000000012345",
    "-0.0000000001", "33391.480730223123732", "123456789012345678901234567890.125", "34411.779892720488462",
]  # fmt: skip
"""Decimal strings as the API writes them (fixed point), some past a float's precision."""


def _half_up(value: Decimal, places: int) -> str:
    with localcontext(prec=100):  # room for every digit the API may write
        rounded_value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{abs(rounded_value) if rounded_value == 0 else rounded_value:,f}"


def _shown_by_hand(text: str) -> dict[str, str]:
    """How the dashboard must show ``text`` (docs/dashboard.md, *Numbers*), by Decimal arithmetic."""
    value = Decimal(text)
    price_places = 2 if value == 0 or abs(value) >= 1 else min(max(-value.adjusted() - 1 + 4, 2), 12)
    amount = f"{value:,f}" if len(text.partition(".")[2]) <= 8 else _half_up(value, 8).rstrip("0").rstrip(".")
    return {
        "money": _half_up(value, 2),
        "price": _half_up(value, price_places),
        "ratio": f"{_half_up(value.scaleb(2, Context(prec=100)), 2)} %",
        "amount": amount,
    }


def test_figures_are_rounded_as_decimals_never_through_a_float(live: Live, page: Page) -> None:
    open_page(page, live, "/")
    shown = page.evaluate(
        """async (values) => {
            const common = await import("/dashboard/static/common.js");
            const kinds = ["money", "price", "ratio", "amount"];
            return values.map((v) => Object.fromEntries(kinds.map((k) => [k, common.shown(v, k)])));
        }""",
        NUMBERS,
    )
    assert shown == [_shown_by_hand(text) for text in NUMBERS]
