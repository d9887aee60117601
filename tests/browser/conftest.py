"""The browser tests' fixtures: one headless Chromium for each test module (closed with it, so Playwright's event
loop is gone before any other module's tests run), the small book of book.yaml served afresh for each test (a
new SQLite database), and a page at 1366x768 that fails its test on any uncaught error of the dashboard's
scripts."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.support import BOOK, VIEWPORT, WAIT_S, Live, launch_chromium, serving

expect.set_options(timeout=WAIT_S * 1000)  # a bound against hanging on a busy machine, not a timing claim


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with serving(f"sqlite:///{tmp_path / 'dashboard.db'}", (BOOK.name, BOOK.read_text(encoding="utf-8"))) as live:
        yield live


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_S * 1000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the dashboard's scripts raised: {errors}"
