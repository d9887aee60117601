"""Risk agents in the service (``serve --agents``), through the real app on SQLite and on the real PostgreSQL.

The book, worked by hand (base USD; the generic rulebook: liquidation threshold 1): BTC-PERP linear, 1 contract
= 1 BTC, settled in USDT, one tier mmr 0.004, imr 0.008; BTC 20000, marked 20000 at t = 0 (the document's
prices: the volatility index's first observation). Account ``a``: 1000 USDT, long 1.000 BTC-PERP from 20000:
equity 1000, MM 0.004 x 20000 = 80. Prices are posted from one source, ``s1``: with the default oracle (quorum
1, no basis between the document's price and mark) the index and the mark are the posted price.

- The venue's agent raises the multiplier after a volatile sequence, the event is in the log, a new host over
  the same store has the same digest without running the agents, and a stopped agent leaves prices flowing.
- The traders' agent sells down to its target after a drop and a reaction time, paying the depth's slippage;
  its action is on the ``agents`` topic.
- ``GET /v1/agents`` and the ``agents`` topic are the admin's; a bad agents file fails ``serve`` naming the field.
"""

import contextlib
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from crossmargin.live import events as live
from crossmargin.service.api import create_app
from crossmargin.service.host import BookHost
from crossmargin.service.keys import add_key
from crossmargin.service.store import Store
from crossmargin.sim.agents import host as agents_host
from crossmargin.sim.agents.config import AgentsConfig, agents_from_dict
from crossmargin.sim.agents.venue import VenueRiskAgent
from tests.cli.conftest import run
from tests.service.api_support import closed_with, receive

D = Decimal
YEAR_S = 365 * 86400


def book_text(liquidity: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {
        "version": 1,
        "base": "USD",
        "assets": {"USDT": {"weight": 1}, "BTC": {"weight": "0.9"}},
        "instruments": {
            "BTC-PERP": {
                "kind": "perpetual", "underlying": "BTC", "settle": "USDT", "contract_size": 1,
                "tiers": [{"max_notional": None, "mmr": "0.004", "imr": "0.008"}],
            }
        },
        "prices": {"USDT": 1, "BTC": "20000"},
        "marks": {"BTC-PERP": "20000"},
        "accounts": [
            {
                "id": "a", "balances": {"USDT": "1000"},
                "positions": [{"instrument": "BTC-PERP", "size": "1.000", "entry_price": "20000"}],
            }
        ],
    }  # fmt: skip
    if liquidity is not None:
        document["liquidity"] = liquidity
    return yaml.safe_dump(document)


VENUE = {"venue": {"reference_volatility": 2, "cap": 3, "step": 0.05}}
TRADER_REACTION_S = YEAR_S / 1_000_000  # 31.536 s: sqrt(T / year) = 0.001
TRADER = {
    "trader": {"reaction_s": TRADER_REACTION_S, "threshold": 2, "target": 3, "min_volatility": 20},
}
"""A volatility floor of 20 (2000 % a year) over 31.536 s: one sigma s = 20 x 0.001 = 0.02 (the floor rules:
the realized volatility of the prices posted below stays under it, see the trader's test)."""


class Served:
    """The real app over a host of the book with ``agents`` on ``store``, and an admin key."""

    def __init__(self, store: Store, host: BookHost, client: TestClient) -> None:
        self.store, self.host, self.client = store, host, client
        self.admin = {"Authorization": f"Bearer {add_key(store, 'admin', 'test')[1]}"}

    def price(self, t: int, price: str) -> None:
        line = {"t": t, "source": "s1", "symbol": "BTC", "price": price}
        answer = self.client.post("/v1/prices", json=[line], headers=self.admin)
        assert answer.status_code == 200, answer.text

    def agents(self) -> dict[str, Any]:
        answer = self.client.get("/v1/agents", headers=self.admin)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def digest(self) -> str:
        return str(self.client.get("/v1/health").json()["digest"])

    def records(self) -> list[live.InboundEvent]:
        return [live.decode_inbound(record) for _, record in self.store.records_after(0)]


@contextlib.contextmanager
def serving(store: Store, agents: AgentsConfig | None, book: str | None = None) -> Iterator[Served]:
    """The app over a host on ``store`` (a new one started from ``book``, or the one it holds)."""
    host = BookHost.open(store, None if book is None else ("book.yaml", book), agents=agents)
    with TestClient(create_app(host)) as client:
        yield Served(store, host, client)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def rounds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each round of agents the host runs (the seq of the loop when it starts): counted, then run."""
    calls: list[int] = []
    real = agents_host.run_agents

    def counted(agents: Any, loop: Any, time: Any, apply: Any) -> Any:
        calls.append(loop.seq)
        return real(agents, loop, time, apply)

    monkeypatch.setattr("crossmargin.service.host.run_agents", counted)
    return calls


# ------------------------------------------------------------------ the venue's agent


def test_the_venue_agent_raises_the_multiplier_logs_it_and_a_restart_replays_it_without_the_agents(
    store: Store, rounds: list[int]
):
    config = agents_from_dict(VENUE)
    with serving(store, config, book_text()) as served:
        # BTC 20000 (t = 0) -> 20200 (t = 100) -> 20000 (t = 200): log returns +r and -r, r = ln(1.01), each over
        # dt = 100 s. The index (half-life h = 3600 s) after one return: A = (s/dt) r^2, B = s, rate = r^2 / dt.
        # After the second, with the decay d of 100 s: A = (1 + d)(s/dt) r^2, B = (1 + d) s: the same rate.
        # Annualized: r x sqrt(year / dt) = 0.00995033 x sqrt(31536000 / 100) = 0.00995033 x 561.569 = 5.58780.
        # The venue's target: 5.58780 / 2 = 2.79390 (under the cap 3), published rounded up to the step 0.05:
        # 2.80, at once (a rise), after the first price; the second asks the same 2.80: nothing new.
        expected_volatility = math.log(1.01) * math.sqrt(YEAR_S / 100)
        assert abs(expected_volatility - 5.58780) < 1e-5
        served.price(100, "20200")
        served.price(200, "20000")
        assert rounds == [1, 3]  # after each price batch: the first round's event is seq 2
        seq1, seq2, seq3 = served.records()
        assert isinstance(seq1, live.Prices) and isinstance(seq3, live.Prices)
        assert seq2 == live.MarginMultipliers(seq=2, time=D(100), id="venue|100", multipliers={"BTC": D("2.80")})
        # applied: MM = 2.80 x 0.004 x 20000 = 224 (80 without the agent); IM = 2.80 x 0.008 x 20000 = 448
        view = served.client.get("/v1/accounts/a", headers=served.admin).json()
        assert (D(view["maintenance_margin"]), D(view["initial_margin"])) == (D(224), D(448))
        shown = served.agents()
        assert shown["running"] is True and shown["error"] is None
        (venue,) = shown["agents"]
        assert (venue["name"], venue["kind"], venue["multipliers"], venue["actions"]) == (
            "venue", "venue", {"BTC": "2.8"}, 1,
        )  # fmt: skip
        assert venue["settings"]["reference_volatility"] == 2 and venue["settings"]["max_daily_fall"] == 0.25
        (action,) = venue["recent"]
        assert (action["seq"], action["kind"], action["note"], action["refused"]) == (
            2, "margin_multipliers", "BTC x2.80", False,
        )  # fmt: skip
        digest = served.digest()
    rounds.clear()
    with serving(store, config) as again:  # a restart: the store's log replayed by a new host
        assert rounds == []  # replaying the log ran no agent
        assert again.host.loop.seq == 3 and again.digest() == digest
        assert again.host.loop.state.market.margin_multipliers == {"BTC": D("2.80")}
        # the agents run again from the next price on: a calm one (t = 300, 20000) asks for less than the
        # 2.80 in force, and a release starts only after the agent's first look: nothing new is logged
        again.price(300, "20000")
        assert rounds == [4] and again.host.loop.seq == 4


def test_an_agent_that_raises_is_stopped_and_prices_go_on(store: Store, monkeypatch: pytest.MonkeyPatch):
    def broken(self: VenueRiskAgent, view: Any) -> Any:
        raise RuntimeError("broken agent")

    monkeypatch.setattr(VenueRiskAgent, "act", broken)
    with serving(store, agents_from_dict(VENUE), book_text()) as served:
        served.price(100, "20200")
        served.price(200, "20000")
        assert [type(e) for e in served.records()] == [live.Prices, live.Prices]
        shown = served.agents()
        assert shown["running"] is False and "broken agent" in shown["error"]
        assert served.host.stale is None


# ------------------------------------------------------------------ the traders' agent


def test_the_trader_agent_sells_down_to_its_target_after_a_drop_paying_the_depth(store: Store):
    # the depth: 10 BTC 0.1 % below the mark (a sell of n <= 10 units fills at m x 0.999)
    book = book_text({"BTC-PERP": {"model": "levels", "levels": [[0.001, 10]]}})
    with serving(store, agents_from_dict(TRADER), book) as served:
        # before: health 1000 - 80 = 920, risk 20000 x 0.02 = 400, buffer 2.3 (>= 2: nothing)
        with served.client.websocket_connect("/v1/stream?topic=agents", headers=served.admin) as socket:
            assert receive(socket)["event"] == "subscribed"
            # BTC 20000 -> 19800 at t = 30: realized volatility ln(1/0.99) x sqrt(31536000 / 30) = 10.30 < 20
            # (the floor rules). equity 1000 - 200 = 800, MM 0.004 x 19800 = 79.2, health 720.8,
            # risk 19800 x 0.02 = 396, buffer 1.8202 < 2: the alarm starts (t = 30), no trade yet
            served.price(30, "19800")
            assert served.host.loop.seq == 1
            (trader,) = served.agents()["agents"]
            assert trader["alarms"] == {"a": "30"} and trader["recent"] == [] and trader["accounts"] == 1
            # t = 62, 32 s >= 31.536 s later (a clock event: time passes, the prices hold): it sells
            # wanted = (risk - health / target) / risk x 1 = (396 - 240.2667) / 396 = 0.39327, down to the size
            # step 0.001: 0.393 at 19800 x 0.999 = 19780.2. After: realized 0.393 x (19780.2 - 20000) = -86.3814,
            # balance 913.6186; 0.607 left: uPnL 0.607 x -200 = -121.4, equity 792.2186, MM 0.004 x 0.607 x
            # 19800 = 48.0744, health 744.1442, risk 0.607 x 19800 x 0.02 = 240.372, buffer 3.0958 >= 3: done.
            # slippage 0.393 x (19800 - 19780.2) = 7.7814
            answer = served.client.post("/v1/clock", json={"t": 62}, headers=served.admin)
            assert answer.status_code == 200, answer.text
            message = receive(socket)
        assert message["event"] == "agent_action"
        assert (message["seq"], message["account"], message["instrument"]) == (3, "a", "BTC-PERP")
        assert (D(message["size"]), D(message["price"]), D(message["slippage"])) == (
            D("-0.393"), D("19780.2"), D("7.7814"),
        )  # fmt: skip
        *_, trade = served.records()
        assert trade == live.Trade(
            seq=3, time=D(62), id="trader|62|a|BTC-PERP", buyer="@market", seller="a", instrument="BTC-PERP",
            size=D("0.393"), price=D("19780.2"),
        )  # fmt: skip
        view = served.client.get("/v1/accounts/a", headers=served.admin).json()
        assert D(view["positions"][0]["size"]) == D("0.607")
        assert D(view["collateral"][0]["amount"]) == D("913.6186")
        assert (D(view["equity"]), D(view["maintenance_margin"])) == (D("792.2186"), D("48.0744"))
        (trader,) = served.agents()["agents"]
        assert trader["alarms"] == {} and trader["actions"] == 1 and D(trader["slippage"]) == D("7.7814")
        assert trader["recent"][0]["note"].startswith("buffer 1.82 -> 3.1")


# ------------------------------------------------------------------ access, and serve's --agents


def test_agents_are_the_admins_and_a_service_without_agents_says_so(store: Store):
    with serving(store, None, book_text()) as served:
        assert served.agents() == {"running": False, "error": None, "agents": []}
        assert served.client.get("/v1/agents").status_code == 401
        for scope in ("feeder", "matcher", "account:a"):
            headers = {"Authorization": f"Bearer {add_key(store, scope, scope)[1]}"}
            answer = served.client.get("/v1/agents", headers=headers)
            assert answer.status_code == 403, (scope, answer.text)
            assert answer.json()["error"]["field"] == "authorization"
            with served.client.websocket_connect("/v1/stream?topic=agents", headers=headers) as socket:
                _, code = closed_with(socket)
            assert code == 4403, scope


@pytest.fixture
def served_apps(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``uvicorn.run`` was asked to serve (it is not started)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    return calls


@pytest.mark.parametrize(
    ("agents", "field"),
    [
        ({"trader": {"threshold": 2, "target": 1}}, "--agents.trader.target"),
        ({"venue": {"capp": 2}}, "--agents.venue.capp"),
        ({"venue": {"cap": "high"}}, "--agents.venue.cap"),
        ({"broker": {}}, "--agents.broker"),
    ],
)
def test_a_bad_agents_file_fails_serve_naming_the_field(
    tmp_path: Path, served_apps: list[dict[str, Any]], agents: dict[str, Any], field: str
):
    path = tmp_path / "agents.yaml"
    path.write_text(yaml.safe_dump(agents), encoding="utf-8")
    book = tmp_path / "book.yaml"
    book.write_text(book_text(), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'service.db'}"
    code, out, err = run("serve", "--book", book, "--db", db, "--agents", path)
    assert (code, out) == (2, "") and err.startswith(f"error: {field}: "), err
    assert served_apps == []
    store = Store(db)
    try:
        assert store.book() is None  # nothing started: the file is read before the database is touched
    finally:
        store.close()


def test_serve_runs_the_agents_of_a_good_file(tmp_path: Path, served_apps: list[dict[str, Any]]):
    path = tmp_path / "agents.yaml"
    path.write_text(yaml.safe_dump({**VENUE, **TRADER}), encoding="utf-8")
    book = tmp_path / "book.yaml"
    book.write_text(book_text(), encoding="utf-8")
    code, out, err = run("serve", "--book", book, "--db", f"sqlite:///{tmp_path / 'service.db'}", "--agents", path)
    assert code == 0, err
    assert "risk agents: trader+venue (GET /v1/agents)" in out.splitlines()
    assert len(served_apps) == 1
