"""The dashboard's pages and assets (crossmargin.service.pages) through the real app: which key opens which
page, what a refusal shows (no data), and the static assets (no key; Plotly's script is the installed
package's own file). What the pages do in a browser is tested in tests/browser."""

from collections.abc import Iterator
from importlib import resources

import pytest

from crossmargin.service.keys import add_key
from tests.service.api_support import Served, serving

PAGES = ("/", "/oracle", "/stress")
"""The pages an admin key opens (and only an admin key)."""
FIGURES = ("51000", "45050", "8500", "64000")
"""Figures of the example book (hedged's equity and IM, near-liquidation's USDT, the BTC price: see
api_support): none may show on a page, which holds no data."""


@pytest.fixture
def served(sqlite_url: str) -> Iterator[Served]:
    with serving(sqlite_url) as served:
        yield served


def _no_data(text: str) -> None:
    for figure in FIGURES:
        assert figure not in text
    for account in ("hedged", "diversified", "near-liquidation"):
        assert account not in text


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_key_opens_the_admin_pages(served: Served, path: str) -> None:
    answer = served.client.get(path, params={"key": served.key("admin")})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    text = answer.text
    assert 'data-scope="admin"' in text
    assert '<div id="oracle-banner"' in text
    for link in ('href="/"', 'href="/oracle"', 'href="/stress"'):
        assert link in text
    assert served.key("admin") not in text  # the page never repeats the key
    _no_data(text)


@pytest.mark.parametrize("path", [*PAGES, "/accounts/hedged"])
def test_without_a_key_a_page_is_refused_with_401_and_no_data(served: Served, path: str) -> None:
    for params in ({}, {"key": ""}, {"key": "cm_not-a-key"}):
        answer = served.client.get(path, params=params)
        assert answer.status_code == 401, params
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert "A key is needed" in answer.text
        assert '<form method="get"' in answer.text
        _no_data(answer.text)


def test_a_revoked_key_is_refused(served: Served) -> None:
    key_id, key = add_key(served.store, "admin", "to revoke")
    assert served.client.get("/", params={"key": key}).status_code == 200
    served.store.revoke_key(key_id)
    assert served.client.get("/", params={"key": key}).status_code == 401


@pytest.mark.parametrize("scope", ["account:hedged", "feeder", "matcher"])
@pytest.mark.parametrize("path", PAGES)
def test_other_scopes_may_not_open_the_admin_pages(served: Served, scope: str, path: str) -> None:
    answer = served.client.get(path, params={"key": served.key(scope)})
    assert answer.status_code == 403
    assert f"A key of scope {scope} may not open this page." in answer.text
    _no_data(answer.text.replace(scope, ""))


def test_an_account_page_opens_with_its_own_key_or_an_admin_key(served: Served) -> None:
    own = served.client.get("/accounts/hedged", params={"key": served.key("account:hedged")})
    assert own.status_code == 200
    assert 'data-account="hedged"' in own.text
    assert 'data-scope="account:hedged"' in own.text
    assert 'href="/accounts/hedged"' in own.text
    assert 'href="/oracle"' not in own.text  # an account key sees no link to the admin pages
    admin = served.client.get("/accounts/hedged", params={"key": served.key("admin")})
    assert admin.status_code == 200
    assert 'href="/oracle"' in admin.text and 'href="/accounts/hedged"' in admin.text


def test_another_account_key_is_refused_before_the_account_is_looked_up(served: Served) -> None:
    key = served.key("account:hedged")
    assert served.client.get("/accounts/diversified", params={"key": key}).status_code == 403
    assert served.client.get("/accounts/nobody", params={"key": key}).status_code == 403
    for scope in ("feeder", "matcher"):
        assert served.client.get("/accounts/hedged", params={"key": served.key(scope)}).status_code == 403


def test_an_unknown_account_is_404(served: Served) -> None:
    for account in ("nobody", "@insurance"):
        answer = served.client.get(f"/accounts/{account}", params={"key": served.key("admin")})
        assert answer.status_code == 404
        assert "No such account" in answer.text


def test_an_account_id_is_escaped_in_the_page(served: Served) -> None:
    admin = served.auth("admin")
    opened = served.client.post("/v1/accounts", json={"id": '<b>"x"&'}, headers=admin)
    assert opened.status_code == 200, opened.text
    answer = served.client.get('/accounts/<b>"x"&', params={"key": served.key("admin")})
    assert answer.status_code == 200
    assert "<b>" not in answer.text
    assert 'data-account="&lt;b&gt;&quot;x&quot;&amp;"' in answer.text
    assert 'href="/accounts/%3Cb%3E%22x%22%26"' in answer.text


def test_static_assets_need_no_key(served: Served) -> None:
    shipped_assets = (("common.js", "text/javascript"), ("dashboard.css", "text/css"), ("book.js", "text/javascript"))
    for name, media in shipped_assets:
        answer = served.client.get(f"/dashboard/static/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(media)
        shipped = resources.files("crossmargin.service").joinpath("dashboard", "static", name).read_bytes()
        assert answer.content == shipped


def test_plotly_comes_from_the_installed_package(served: Served) -> None:
    answer = served.client.get("/dashboard/static/plotly.min.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.content == resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    again = served.client.get("/dashboard/static/plotly.min.js", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "name", ["missing.js", "shell.html", "refusal.html", "..%2Fpages.py", "..%2F..%2Fapi.py", "%2E%2E", "plotly.js"]
)
def test_nothing_else_is_served_as_an_asset(served: Served, name: str) -> None:
    assert served.client.get(f"/dashboard/static/{name}").status_code == 404


def test_the_pages_are_not_in_the_openapi_document(served: Served) -> None:
    paths = served.client.get("/openapi.json").json()["paths"]
    assert all(path.startswith("/v1/") for path in paths)
