"""Shared by the browser tests and the screenshot script: the real app under uvicorn on a free loopback port (in
a background thread) over a SQLite store, keys of every scope, and Debian's Chromium driven by Playwright.

Chromium is the system's (``/usr/bin/chromium``, installed by ``.ci/run``); Playwright never downloads a
browser of its own here."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Playwright, ViewportSize

from crossmargin.service.host import BookHost
from crossmargin.service.keys import add_key
from crossmargin.service.store import Store
from tests.service.api_support import on_loopback

BOOK = Path(__file__).with_name("book.yaml")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
"""A laptop screen: every view must read at this size."""
WAIT_S = 10.0
"""The most a test waits for the server or the page (a bound against hanging, never a timing claim)."""


@dataclass
class Live:
    """A served book: its base URL, host, store and keys of every scope (made once each)."""

    url: str
    host: BookHost
    store: Store
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, scope: str) -> str:
        if scope not in self.keys:
            self.keys[scope] = add_key(self.store, scope, f"browser {scope}")[1]
        return self.keys[scope]

    def get(self, path: str, scope: str = "admin") -> Any:
        """A read of the API with a key of ``scope``: its JSON answer (failing on any error)."""
        answer = httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.key(scope)}"}, timeout=WAIT_S)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: object, scope: str = "admin") -> Any:
        """A write (or what-if question) with a key of ``scope``: its JSON answer (failing on any error)."""
        headers = {"Authorization": f"Bearer {self.key(scope)}"}
        answer = httpx.post(self.url + path, json=body, headers=headers, timeout=WAIT_S)
        assert answer.status_code == 200, answer.text
        return answer.json()


@contextlib.contextmanager
def serving(url: str, document: tuple[str, str]) -> Iterator[Live]:
    """The book ``document`` (file name and text, or a generated book) on a new database at ``url``, served by
    the real app on a loopback port for as long as the block runs."""
    store = Store(url)
    try:
        with on_loopback(store, document) as (port, host):
            yield Live(f"http://127.0.0.1:{port}", host, store)
    finally:
        store.close()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless (a missing browser fails here, naming what to install)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
