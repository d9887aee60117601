"""Screenshots of the dashboard's four views at 1366x768 for docs/dashboard.md:

    .venv/bin/python -m tests.browser.screenshots [OUT_DIR]   # default docs/screenshots

The book is the one ``crossmargin serve --generate 1000`` starts from (seed 7), on a temporary SQLite
database. BTC walks 2 % lower over the first minute (a quote every 10 s), so some accounts come nearer to
liquidation; the account view shows the nearest one holding an isolated position; the stress view runs the
library's flash crash on the book; last, BTC's only source goes silent past ``max_age_s``, so the oracle view
(and its banner) shows an invalid price.
"""

import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from crossmargin.service.books import generated
from tests.browser.support import VIEWPORT, Live, launch_chromium, serving

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STRESS_WAIT_MS = 600_000
"""The most the flash crash may take on the generated book (two runs of 360 steps over 1,000 accounts)."""


def shoot(page: Page, live: Live, path: str, scope: str, out: Path, name: str) -> None:
    page.goto(f"{live.url}{path}?key={live.key(scope)}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / name))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, serving(f"sqlite:///{folder}/screens.db", generated(1000, 7)) as live:
        symbols = live.get("/v1/oracle")["symbols"]
        price = Decimal(next(s["price"] for s in symbols if s["symbol"] == "BTC"))
        for step in range(1, 7):  # BTC walks 2 % lower over a minute, a quote every 10 s
            lower = str(price * (1 - step / Decimal(300)))
            live.post("/v1/prices", [{"t": 10 * step, "source": "binance", "symbol": "BTC", "price": lower}], "feeder")
        nearest = live.get("/v1/accounts?limit=50")["accounts"]
        # the account page shows the nearest account that holds an isolated position beside its cross ones
        shown = next((a for a in nearest if any(p["isolated"] for p in a["positions"])), nearest[0])["id"]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_context(viewport=VIEWPORT).new_page()
            shoot(page, live, "/", "admin", out, "book.png")
            shoot(page, live, f"/accounts/{shown}", f"account:{shown}", out, "account.png")
            page.goto(f"{live.url}/stress?key={live.key('admin')}")
            page.get_by_label("From the library").select_option("flash-crash")
            page.get_by_role("button", name="Run").click()
            expect(page.locator("#run-state")).to_have_attribute("data-state", "done", timeout=STRESS_WAIT_MS)
            page.frame_locator("#report").locator("body").wait_for()
            page.wait_for_timeout(2000)  # the report's charts draw
            page.screenshot(path=str(out / "stress.png"))
            live.post("/v1/clock", {"t": 200}, scope="feeder")
            shoot(page, live, "/oracle", "admin", out, "oracle.png")
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
