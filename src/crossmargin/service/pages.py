"""The live dashboard: four pages (the book, an account, the oracle, stress runs) and their static assets.

A page is an HTML shell that holds no figures: its JavaScript reads everything from the API (``/v1/...``) and
the stream with the caller's key. The key comes in the page's URL (``?key=``) and is checked before the page
is served: ``/``, ``/oracle`` and ``/stress`` take an ``admin`` key, ``/accounts/{id}`` an ``admin`` key or
that account's key. Without a live key the answer is 401, with a key of another scope 403, for an unknown
account 404: each a small HTML page with a form for a key and nothing of the book. The page's script then
keeps the key in the tab's ``sessionStorage``, takes it out of the address bar and sends it as
``Authorization: Bearer`` (as ``?key=`` on the WebSocket).

Static assets (``/dashboard/static/<name>``) need no key and hold no data: the dashboard's own scripts and
style sheet (package data under ``crossmargin/service/dashboard``), and Plotly's JavaScript from the
installed ``plotly`` package, so the pages load nothing from the network. See docs/dashboard.md.
"""

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from crossmargin.service.host import BookHost
from crossmargin.service.keys import Caller, caller_of

DASHBOARD = resources.files("crossmargin.service").joinpath("dashboard")
"""The dashboard's HTML templates and, under ``static/``, its scripts and style sheet."""
PLOTLY = "plotly.min.js"
"""Served from the installed ``plotly`` package (``plotly/package_data/plotly.min.js``)."""
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
PAGE_HEADERS = {
    "Cache-Control": "no-store",  # a page is checked against its key on every load, never served from a cache
    "Referrer-Policy": "no-referrer",  # the first load's URL holds the key: never sent on to another site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class View:
    """A page: its title, the template of its main part, its script, and whether it draws Plotly charts."""

    title: str
    template: str
    script: str
    charts: bool


VIEWS = {
    "book": View("Book", "book.html", "book.js", charts=True),
    "account": View("Account", "account.html", "account.js", charts=True),
    "oracle": View("Oracle", "oracle.html", "oracle.js", charts=False),
    "stress": View("Stress", "stress.html", "stress.js", charts=False),
}


@cache
def _text(name: str) -> str:
    return DASHBOARD.joinpath(name).read_text(encoding="utf-8")


@cache
def _static_names() -> frozenset[str]:
    """The files under ``static/`` (the only names ``/dashboard/static/`` serves, with Plotly's)."""
    return frozenset(item.name for item in DASHBOARD.joinpath("static").iterdir() if item.is_file())


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """A static asset's bytes and their ETag (a SHA-256 prefix)."""
    if name == PLOTLY:
        data = resources.files("plotly").joinpath("package_data", PLOTLY).read_bytes()
    else:
        data = DASHBOARD.joinpath("static", name).read_bytes()
    return data, f'"{hashlib.sha256(data).hexdigest()[:32]}"'


def _nav(caller: Caller, view: str, account: str | None) -> str:
    """The header's links: the admin pages for an admin key, the account's own page for an account key."""
    links: list[tuple[str, str, bool]] = []
    if caller.scope.role == "admin":
        links = [("/", "Book", view == "book"), ("/oracle", "Oracle", view == "oracle")]
        links.append(("/stress", "Stress", view == "stress"))
    own = caller.scope.account or account
    if own is not None:
        links.append((f"/accounts/{quote(own, safe='')}", f"Account {own}", view == "account"))
    current = ' aria-current="page"'
    return "".join(
        f'<a href="{html.escape(href)}" data-keyed{current if here else ""}>{html.escape(label)}</a>'
        for href, label, here in links
    )


def _head(title: str) -> str:
    """The opening every page shares, to its style sheet (``head.html``), with ``title``."""
    return Template(_text("head.html")).substitute(title=html.escape(title)).rstrip("\n")


def _page(caller: Caller, view: str, account: str | None = None) -> Response:
    shown = VIEWS[view]
    main = Template(_text(shown.template)).substitute(account=html.escape(account or ""))
    scripts = '<script src="/dashboard/static/plotly.min.js" defer></script>\n' if shown.charts else ""
    scripts += f'<script type="module" src="/dashboard/static/{shown.script}"></script>'
    title = shown.title if account is None else f"{shown.title} {account}"
    text = Template(_text("shell.html")).substitute(
        head=_head(title), view=view, scope=html.escape(str(caller.scope)),
        account=html.escape(account or ""), nav=_nav(caller, view, account), main=main, scripts=scripts,
    )  # fmt: skip
    return Response(text, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _refusal(status: int, title: str, message: str) -> Response:
    """A page that shows no data: why the page was refused, and a form to open it with a key."""
    text = Template(_text("refusal.html")).substitute(
        head=_head(title), status=status, title=html.escape(title), message=html.escape(message)
    )
    return Response(text, status, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def dashboard_router(host: BookHost) -> APIRouter:
    """The dashboard's pages and assets over ``host`` (kept out of the OpenAPI document: they are not API)."""
    router = APIRouter(include_in_schema=False)
    KeyQuery = Annotated[str | None, Query()]

    def holder(key: str | None) -> Caller | Response:
        """The key's holder, or the 401 page (no key, or an unknown or revoked one)."""
        found = None if not key else caller_of(host.store, key)
        if found is None:
            why = "This page needs a key." if not key else "This key is unknown or revoked."
            return _refusal(401, "A key is needed", f"{why} Open the page with ?key=<key>, or enter one below.")
        return found

    def admin_page(view: str, key: str | None) -> Response:
        found = holder(key)
        if isinstance(found, Response):
            return found
        if found.scope.role != "admin":
            return _refusal(403, "Not for this key", f"A key of scope {found.scope} may not open this page.")
        return _page(found, view)

    @router.get("/")
    async def book(key: KeyQuery = None) -> Response:
        """The book: its aggregates, the accounts nearest to liquidation, the liquidation map."""
        return admin_page("book", key)

    @router.get("/oracle")
    async def oracle(key: KeyQuery = None) -> Response:
        """The oracle: every symbol's sources, prices, ages and status."""
        return admin_page("oracle", key)

    @router.get("/stress")
    async def stress(key: KeyQuery = None) -> Response:
        """Stress runs: a library scenario or an uploaded one, their progress and report."""
        return admin_page("stress", key)

    @router.get("/accounts/{account_id}")
    async def account(account_id: str, key: KeyQuery = None) -> Response:
        """One account: balances, positions, cross and isolated figures, history and what-if questions."""
        found = holder(key)
        if isinstance(found, Response):
            return found
        if not found.scope.reads(account_id):
            return _refusal(403, "Not for this key", f"A key of scope {found.scope} may not open this account.")
        if account_id not in host.loop.state.legs or account_id.startswith("@"):
            return _refusal(404, "No such account", f"The book holds no account with id {account_id!r}.")
        return _page(found, "account", account_id)

    @router.get("/dashboard/static/{name}")
    async def static(name: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
        """A script or style sheet of the dashboard, or Plotly's script (no key: they hold no data)."""
        suffix = name[name.rfind(".") :]
        if (name != PLOTLY and name not in _static_names()) or suffix not in MEDIA_TYPES:
            return Response("not found", 404, media_type="text/plain")
        data, etag = _asset(name)
        headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if if_none_match == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=MEDIA_TYPES[suffix], headers=headers)

    return router
