"""An account's liquidation odds as ``GET /v1/accounts/{id}?detail=true`` serves them, through the real app on a
small document, with the expected figures by hand from the closed form of a driftless first passage (one asset)
or, for two assets, from the model called directly on volatilities worked by hand.

The document (base USDT, weight 1): BTC-PERP, ETH-PERP and SOL-PERP, linear, one contract one unit, one tier of
mmr 5 %; BTC 100, ETH 10, SOL 20, marks at the prices; ``vols`` BTC 0.8 and ETH 1.0 (none for SOL).

- solo: 150 USDT, long 10 BTC-PERP from 100. Health ``H(S) = 150 + 10 (S - 100) - 0.05 x 10 S = 9.5 S - 850``:
  100 now, 0 at ``S* = 850 / 9.5 = 89.473684``.
- pair: 300 USDT, long 10 BTC-PERP from 100, short 100 ETH-PERP from 10.
- nosol: 1000 USDT, long 1 SOL-PERP from 20 (no volatility for SOL until its prices come).
- other: 100 USDT, nothing else (its key must not read solo).
- iso: 100 USDT and a short 10 BTC-PERP from 100 isolated on 80 USDT. The isolated pool's health
  ``80 - 10 (S - 100) - 0.05 x 10 S = 1080 - 10.5 S``: 30 now, 0 at ``S* = 1080 / 10.5 = 102.857143``; the cross
  pool holds 100 USDT of the base currency, which no price can liquidate.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossmargin.live.document import loop_config_of
from crossmargin.margin.first_passage import liquidation_odds
from crossmargin.model.document_text import parse_document
from crossmargin.service.api import create_app
from crossmargin.service.host import BookHost
from crossmargin.service.store import Store
from tests.service.api_support import Served

DOCUMENT = """\
version: 1
base: USDT
rulebook: generic
assets:
  USDT: {weight: 1}
instruments:
  BTC-PERP: {kind: perpetual, underlying: BTC, settle: USDT, contract_size: 1,
             tiers: [{max_notional: null, mmr: 0.05, max_leverage: 10}]}
  ETH-PERP: {kind: perpetual, underlying: ETH, settle: USDT, contract_size: 1,
             tiers: [{max_notional: null, mmr: 0.05, max_leverage: 10}]}
  SOL-PERP: {kind: perpetual, underlying: SOL, settle: USDT, contract_size: 1,
             tiers: [{max_notional: null, mmr: 0.05, max_leverage: 10}]}
prices: {USDT: 1, BTC: 100, ETH: 10, SOL: 20}
marks: {BTC-PERP: 100, ETH-PERP: 10, SOL-PERP: 20}
vols: {BTC: 0.8, ETH: 1.0}
accounts:
  - {id: solo, balances: {USDT: 150}, positions: [{instrument: BTC-PERP, size: 10, entry_price: 100}]}
  - id: pair
    balances: {USDT: 300}
    positions: [{instrument: BTC-PERP, size: 10, entry_price: 100}, {instrument: ETH-PERP, size: -100, entry_price: 10}]
  - {id: nosol, balances: {USDT: 1000}, positions: [{instrument: SOL-PERP, size: 1, entry_price: 20}]}
  - {id: other, balances: {USDT: 100}}
  - id: iso
    balances: {USDT: 100}
    positions: [{instrument: BTC-PERP, size: -10, entry_price: 100, isolated_margin: 80}]
"""
DAY = 86400.0
YEAR = 365 * DAY
Z = 0.6744897501960817
"""``N^-1(3/4)``, from a table of the normal distribution: the driftless median first-passage time to a log
distance ``a`` is ``(a / (sigma Z))**2``."""


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@contextmanager
def serving_document(url: str) -> Iterator[Served]:
    store = Store(url)
    try:
        host = BookHost.open(store, ("odds.yaml", DOCUMENT))
        with TestClient(create_app(host)) as client:
            yield Served(host, store, client)
    finally:
        store.close()


@pytest.fixture
def served(sqlite_url: str) -> Iterator[Served]:
    with serving_document(sqlite_url) as service:
        yield service


def odds_of(served: Served, account: str, query: str = "", scope: str = "admin") -> dict[str, Any]:
    answer = served.client.get(f"/v1/accounts/{account}?detail=true{query}", headers=served.auth(scope))
    assert answer.status_code == 200, answer.text
    odds: dict[str, Any] = answer.json()["liquidation_odds"]
    return odds


def post_prices(served: Served, t: int, prices: dict[str, str]) -> None:
    lines = [{"t": t, "source": "binance", "symbol": s, "price": p} for s, p in prices.items()]
    answer = served.client.post("/v1/prices", json=lines, headers=served.auth("admin"))
    assert answer.status_code == 200, answer.text


def test_one_asset_is_the_closed_form_on_the_documents_vol(served: Served) -> None:
    odds = odds_of(served, "solo")
    # a = ln(89.473684 / 100) = -0.1112256; sigma sqrt(T) = 0.8 x sqrt(86400 / 31,536,000) = 0.8 x 0.0523424
    # = 0.0418739; P = 2 N(-0.1112256 / 0.0418739) = 2 N(-2.656204) = 2 x 0.0039513 = 0.0079026
    a = math.log(850 / 9.5 / 100)
    expected = 2 * normal_cdf(-abs(a) / (0.8 * math.sqrt(DAY / YEAR)))
    assert expected == pytest.approx(0.0079026, abs=1e-7)
    assert float(odds["probability"]) == pytest.approx(expected, rel=1e-9)
    # median: (0.1112256 / (0.8 x 0.6744898))^2 years = 0.0424893 x 31,536,000 s = 1,339,941 s (15.5 days)
    assert float(odds["median_time_s"]) == pytest.approx((a / (0.8 * Z)) ** 2 * YEAR, rel=1e-9)
    assert (odds["available"], odds["horizon_s"], odds["pool"]) == (True, "86400", "cross")
    assert odds["volatilities"] == {"BTC": {"volatility": "0.8", "source": "market"}}
    (pool,) = odds["pools"]
    assert (pool["health"], pool["dominant"], pool["liquidatable"]) == ("100", "BTC", False)
    (btc,) = pool["factors"]
    assert float(btc["barrier_price"]) == pytest.approx(850 / 9.5, rel=1e-12)
    assert btc["slope_kind"] == "barrier"
    # a week: sigma sqrt(T) = 0.8 x sqrt(7 / 365) = 0.1107880; P = 2 N(-1.003951) = 2 x 0.1577012 = 0.315402
    week = odds_of(served, "solo", "&horizon=604800")
    assert week["horizon_s"] == "604800"
    assert float(week["probability"]) == pytest.approx(2 * normal_cdf(a / (0.8 * math.sqrt(7 / 365))), rel=1e-9)
    assert float(week["probability"]) == pytest.approx(0.315402, abs=1e-6)


def test_the_realized_index_takes_over_once_prices_come(served: Served) -> None:
    # BTC 100 at the opening (t = 0), 101 at t = 60: one return ln(1.01) = 0.00995033 over 60 s. With one return
    # the index is r^2 / dt (module doc of margin/realized_volatility.py), annualized |r| sqrt(31,536,000 / 60)
    # = 0.00995033 x 724.9828 = 7.213818.
    post_prices(served, 60, {"BTC": "101"})
    odds = odds_of(served, "solo")
    vol = math.log(1.01) * math.sqrt(YEAR / 60)
    assert vol == pytest.approx(7.213818, abs=1e-6)
    btc = odds["volatilities"]["BTC"]
    assert {k: btc[k] for k in ("source", "half_life_s", "returns")} == {
        "source": "realized", "half_life_s": "3600", "returns": 1,
    }  # fmt: skip
    assert float(btc["volatility"]) == pytest.approx(vol, rel=1e-12)
    # the mark follows BTC to 101: H = 9.5 x 101 - 850 = 109.5; a = ln(89.473684 / 101) = -0.1211760;
    # sigma sqrt(T) = 7.213818 x 0.0523424 = 0.3775885; P = 2 N(-0.3209207) = 2 x 0.3741352 = 0.748270
    assert odds["pools"][0]["health"] == "109.5"
    a = math.log(850 / 9.5 / 101)
    expected = 2 * normal_cdf(a / (vol * math.sqrt(DAY / YEAR)))
    assert expected == pytest.approx(0.748270, abs=1e-6)
    assert float(odds["probability"]) == pytest.approx(expected, rel=1e-9)


def test_two_sources_side_by_side(served: Served) -> None:
    # BTC realized (7.213818, as above), ETH from the document (1.0): each says where it came from, and the
    # probability is the model's on those volatilities (second method: the model called directly on the
    # document at the posted prices, with the volatilities worked by hand).
    post_prices(served, 60, {"BTC": "101"})
    odds = odds_of(served, "pair")
    assert {n: v["source"] for n, v in odds["volatilities"].items()} == {"BTC": "realized", "ETH": "market"}
    assert odds["volatilities"]["ETH"] == {"volatility": "1", "source": "market"}
    config = loop_config_of(parse_document(DOCUMENT, "odds.yaml"))
    market = config.portfolio.market
    moved = config.portfolio.with_market(
        replace(market, prices={**market.prices, "BTC": Decimal(101)}, marks={**market.marks, "BTC-PERP": Decimal(101)})
    )
    account = next(a for a in moved.accounts if a.id == "pair")
    vols = {"BTC": math.log(1.01) * math.sqrt(YEAR / 60), "ETH": 1.0}
    expected = liquidation_odds(account, moved, config.rules, DAY, vols)
    assert float(odds["probability"]) == pytest.approx(expected.probability, rel=1e-9)
    assert 0.0 < expected.probability < 1.0


def test_an_asset_without_a_volatility_leaves_the_odds_unavailable(served: Served) -> None:
    odds = odds_of(served, "nosol")
    assert (odds["available"], odds["missing"]) == (False, ["SOL"])
    assert "SOL" in odds["reason"] and "probability" not in odds
    # SOL 20 at t = 0, 20.2 at t = 60: realized now. 1000 USDT behind a long 1 SOL-PERP: H = 1000 + (S - 20) -
    # 0.05 S = 980 + 0.95 S > 0 at every price: no barrier, probability 0 and no median (never).
    post_prices(served, 60, {"SOL": "20.2"})
    odds = odds_of(served, "nosol")
    assert (odds["available"], odds["probability"], odds["median_time_s"]) == (True, "0", None)
    assert odds["volatilities"]["SOL"]["source"] == "realized"


def test_access_is_the_accounts_own_key_or_admin(served: Served) -> None:
    url = "/v1/accounts/solo?detail=true"
    assert served.client.get(url, headers=served.auth("account:other")).status_code == 403
    assert served.client.get(url, headers=served.auth("account:solo")).status_code == 200
    assert served.client.get(url + "&horizon=60", headers=served.auth("account:other")).status_code == 403
    # other's own odds: 100 USDT in the base currency and nothing else, no pool any price can liquidate
    own = odds_of(served, "other", scope="account:other")
    assert {k: own[k] for k in ("available", "probability", "median_time_s", "pool", "pools")} == {
        "available": True, "probability": "0", "median_time_s": None, "pool": None, "pools": [],
    }  # fmt: skip


@pytest.mark.parametrize("horizon", ["0", "-60", "abc", "nan", "inf", "1e400", ""])
def test_a_bad_horizon_is_refused_naming_it(served: Served, horizon: str) -> None:
    answer = served.client.get(f"/v1/accounts/solo?detail=true&horizon={horizon}", headers=served.auth("admin"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "horizon"


def test_without_detail_the_answer_has_no_odds(served: Served) -> None:
    plain = served.client.get("/v1/accounts/solo", headers=served.auth("admin")).json()
    assert "liquidation_odds" not in plain and "modes" not in plain


def test_an_isolated_pool_is_scored_on_its_own(served: Served) -> None:
    odds = odds_of(served, "iso")
    (pool,) = odds["pools"]  # the cross pool is not scored: nothing in it can be liquidated
    assert (pool["pool"], pool["isolated"], pool["health"], odds["pool"]) == ("BTC-PERP", True, "30", "BTC-PERP")
    # a = ln(102.857143 / 100) = 0.0281709 (above: a short); sigma sqrt(T) = 0.0418739 (as solo's);
    # P = 2 N(-0.0281709 / 0.0418739) = 2 N(-0.672755) = 2 x 0.2505516 = 0.501103
    a = math.log(1080 / 10.5 / 100)
    expected = 2 * normal_cdf(-abs(a) / (0.8 * math.sqrt(DAY / YEAR)))
    assert expected == pytest.approx(0.501103, abs=1e-6)
    assert float(odds["probability"]) == pytest.approx(expected, rel=1e-9)
    assert float(pool["factors"][0]["barrier_price"]) == pytest.approx(1080 / 10.5, rel=1e-12)
