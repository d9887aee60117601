"""Options in the model and the document, and an account's greeks and revaluation: checked by hand, against
Black-76 written out in the test, and against finite differences of the account's full revaluation. The
options' model marks are tested in test_valuation.py."""

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from crossmargin.margin.exposure import account_risk, factors, pnl_function
from crossmargin.margin.valuation import with_option_marks
from crossmargin.model import Account, ContractKind, InputError, Instrument, Market, OptionRight, Portfolio
from crossmargin.model.document import portfolio_from_document
from tests.builders import D, banded, inverse, linear, position, tiers

NOW = datetime(2025, 1, 1, tzinfo=UTC)
EXPIRY = NOW + timedelta(days=73)  # 0.2 years of 365 days
USDC = banded("USDC", [("0", "1")])
BTC = banded("BTC", [("0", "0.9")])


def option(name: str, strike: str, right: OptionRight, settle: str = "USDC", size: str = "1") -> Instrument:
    return Instrument(
        name, ContractKind.OPTION, "BTC", settle, D(size), False, tiers((None, "0.1", "0.15")), EXPIRY,
        strike=D(strike), right=right,
    )  # fmt: skip


CALL = option("C-50000", "50000", OptionRight.CALL)
COIN_PUT = option("P-40000", "40000", OptionRight.PUT, settle="BTC")
PERP = linear("BTC-PERP", settle="USDC", size="0.001")
COIN_PERP = inverse("BTC-USD")


def black76_by_hand(f: float, k: float, vol: float, t: float, right: OptionRight) -> tuple[float, float]:
    """(price, delta) at zero rate, N written with erf: the closed form the module must agree with."""
    d1 = (math.log(f / k) + vol * vol * t / 2) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)

    def n(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    if right is OptionRight.CALL:
        return f * n(d1) - k * n(d2), n(d1)
    return k * n(-d2) - f * n(-d1), n(d1) - 1


def portfolio(
    accounts: list[Account], vols: Mapping[str, tuple[tuple[Decimal, Decimal], ...]] | None = None
) -> Portfolio:
    market = Market(
        "USDC", {"BTC": D(40000)}, {"BTC-PERP": D(40000), "BTC-USD": D(40000)}, {}, NOW,
        vols or {"BTC": ((D(1), D("0.8")),)},
    )  # fmt: skip
    instruments = {i.name: i for i in (CALL, COIN_PUT, PERP, COIN_PERP)}
    return Portfolio("USDC", "generic", {"USDC": USDC, "BTC": BTC}, instruments, market, tuple(accounts))


def test_greeks_and_delta_by_underlying_by_hand():
    accounts = [
        # 1 BTC held against 1,000 x 0.001 BTC short on the perpetual: no delta
        Account("hedged", {"BTC": D(1), "USDC": D(1000)}, (position("BTC-PERP", "-1000", "40000"),)),
        # 2 USDC-settled calls sold and 1.5 BTC long on the perpetual, 0.5 BTC held
        Account(
            "calls",
            {"USDC": D(50000), "BTC": D("0.5")},
            (position("C-50000", "-2", "3000"), position("BTC-PERP", "1500", "40000")),
        ),
        # 3 coin-settled puts bought at 0.1 BTC each, an inverse perpetual short of 100 x 100 USD at 50,000
        Account("coin", {"USDC": D(50000)}, (position("P-40000", "3", "0.1"), position("BTC-USD", "-100", "50000"))),
    ]
    book = with_option_marks(portfolio(accounts))
    hedged, calls, coin = (account_risk(a, book) for a in book.accounts)
    assert hedged.delta_by_underlying["BTC"] == pytest.approx(0.0, abs=1e-9)
    _, call_delta = black76_by_hand(40000, 50000, 0.8, 0.2, OptionRight.CALL)
    _, put_delta = black76_by_hand(40000, 40000, 0.8, 0.2, OptionRight.PUT)
    # -2 call deltas + 1.5 + 0.5 BTC
    assert calls.delta_by_underlying["BTC"] == pytest.approx(-2 * call_delta + 2.0, rel=1e-6)
    assert calls.delta_base["BTC"] == pytest.approx((-2 * call_delta + 2.0) * 40000, rel=1e-6)
    # coin-settled, in base currency: a put's PnL 3 (V(P) / P - 0.1) BTC is worth 3 V(P) - 0.3 P, so its
    # delta is 3 put deltas - 0.3; the inverse short's PnL -100 x 100 (1/50,000 - 1/m) BTC with m = P is
    # worth -10,000 (P / 50,000 - 1): a delta of -10,000 / 50,000 = -0.2 BTC
    assert coin.delta_by_underlying["BTC"] == pytest.approx(3 * put_delta - 0.3 - 0.2, rel=1e-6)
    # position greeks are the instruments' own: -2 call deltas; the inverse future's quote notional over the
    # mark, -10,000 / 40,000 = -0.25 BTC
    assert [p.instrument for p in calls.positions] == ["C-50000", "BTC-PERP"]
    assert calls.positions[0].delta == pytest.approx(-2 * call_delta, rel=1e-12)
    assert coin.positions[1].delta == -0.25 and coin.positions[1].gamma == 0.0
    assert calls.positions[0].gamma < 0 < coin.positions[0].gamma


def test_the_account_gamma_is_its_options_gamma():
    # linear book but for the options: the full revaluation's second difference is the options' gamma
    # (the coin-settled put's base value 3 V(P) - 0.3 P is linear but for V)
    account = Account(
        "a", {"USDC": D(50000), "BTC": D("0.5")},
        (position("C-50000", "-2", "3000"), position("P-40000", "3", "0.1"), position("BTC-PERP", "1500", "40000")),
    )  # fmt: skip
    book = with_option_marks(portfolio([account]))
    risk = account_risk(book.accounts[0], book)
    assert factors(book) == ["BTC"]
    options_gamma = risk.positions[0].gamma + risk.positions[1].gamma
    assert risk.gamma_by_underlying["BTC"] == pytest.approx(options_gamma, rel=1e-3)


def test_a_linear_book_revalues_to_its_exposure():
    # 2 BTC held and 1 BTC long on the perpetual: a BTC return r is a P&L of 3 x 40,000 x r, exactly
    account = Account("a", {"BTC": D(2), "USDC": D(100)}, (position("BTC-PERP", "1000", "40000"),))
    book = portfolio([account])
    pnl = pnl_function(book.accounts[0], book)(np.array([[0.1], [-0.25]]))
    assert pnl.tolist() == pytest.approx([12000.0, -30000.0], rel=1e-12)


def test_an_option_without_mark_needs_what_values_it():
    account = Account("a", {"USDC": D(100)}, (position("C-50000", "1", "100"),))
    book = portfolio([account])
    with pytest.raises(InputError) as error:
        replace(book, market=replace(book.market, valuation_time=None))
    assert error.value.field == "accounts[0] (id 'a').positions[0].instrument"
    with pytest.raises(InputError) as error:
        replace(book, market=replace(book.market, vols={}))
    assert error.value.field == "accounts[0] (id 'a').positions[0].instrument.vols.C-50000"


OPTION_DOCUMENT: dict[str, Any] = {
    "version": 1,
    "base": "USDC",
    "valuation_time": "2025-01-01T00:00:00Z",
    "vols": {"BTC": 0.8, "C": [[0.9, 0.85], [1.1, 0.75]]},
    "assets": {"USDC": {"weight": 1}, "BTC": {"weight": 0.9}},
    "instruments": {
        "C": {
            "kind": "option", "underlying": "BTC", "settle": "USDC", "contract_size": 1, "strike": 50000,
            "right": "call", "expiry": "2025-03-15T00:00:00Z",
            "tiers": [{"max_notional": None, "mmr": 0.1, "imr": 0.2}],
        },
        "P": {
            "kind": "option", "underlying": "BTC", "settle": "BTC", "inverse": True, "contract_size": 1,
            "strike": 40000, "right": "put", "expiry": "2025-03-15T00:00:00Z",
            "tiers": [{"max_notional": None, "mmr": 0.1, "imr": 0.2}],
        },
    },
    "prices": {"BTC": 40000},
    "accounts": [
        {"id": "a", "balances": {"USDC": 100}, "positions": [{"instrument": "C", "size": 1, "entry_price": 10}]}
    ],
}  # fmt: skip


def test_options_in_the_document():
    book = portfolio_from_document(OPTION_DOCUMENT)
    call, coin_put = book.instruments["C"], book.instruments["P"]
    assert (call.kind, call.strike, call.right, call.inverse) == (
        ContractKind.OPTION,
        D(50000),
        OptionRight.CALL,
        False,
    )
    # inverse: true for an option means coin-settled; its premium is linear, so the contract is not inverse
    assert coin_put.coin_settled and not coin_put.inverse
    assert book.market.valuation_time == datetime(2025, 1, 1, tzinfo=UTC)
    assert book.market.vols == {"BTC": ((D(1), D("0.8")),), "C": ((D("0.9"), D("0.85")), (D("1.1"), D("0.75")))}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("instruments", "C", "strike"), None, "instruments.C.strike"),
        (("instruments", "C", "right"), None, "instruments.C.right"),
        (("instruments", "C", "expiry"), None, "instruments.C.expiry"),
        (("instruments", "P", "inverse"), False, "instruments.P.inverse"),
        (("vols", "BTC"), -0.1, "vols.BTC[0][1]"),
        (("vols", "C"), [[1.1, 0.8], [0.9, 0.7]], "vols.C[1][0]"),
        (("valuation_time",), "2025-01-01T00:00:00", "valuation_time"),
    ],
)
def test_option_errors_name_their_field(path, value, field):
    document: dict[str, Any] = {
        **OPTION_DOCUMENT,
        "instruments": {k: dict(v) for k, v in OPTION_DOCUMENT["instruments"].items()},
    }
    node = document
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(InputError) as error:
        portfolio_from_document(document)
    assert error.value.field == field
