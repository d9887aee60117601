"""The rules as the kernels read them (:mod:`crossmargin.engine.rule_arrays`), worked by hand: tier tables
padded to a common width, weight bands as offset + weight x amount per band and side, the rulebook's
choices, initial rates after open-interest scaling and the market's arrays. That the kernels evaluate them
as the exact evaluator does: tests/engine/test_terms.py and tests/engine/test_book.py."""

import math
from dataclasses import replace

import numpy as np
import pytest

from crossmargin.engine.rule_arrays import (
    asset_arrays,
    choice_arrays,
    initial_rates,
    instrument_arrays,
    market_arrays,
    rule_arrays,
    unless_unpriced,
    valuation_table,
)
from crossmargin.model import Market, RuleChoices
from crossmargin.model.rules import MarginValuation, Valuation
from tests.builders import BINANCE_LIKE, D, banded, inverse, linear

INF = math.inf
# BTC-PERP: brackets to 50,000 (mmr 0.4 %), 250,000 (0.5 %) and beyond (1 %); the maintenance amounts keep
# the margin continuous: 0, 50,000 x (0.005 - 0.004) = 50, 50 + 250,000 x (0.01 - 0.005) = 1300
BTC_PERP = replace(linear("BTC-PERP", table=BINANCE_LIKE), margin_quantum=D("0.000001"), initial_upnl_cap=D(100))
ETH_PERP = linear("ETH-PERP", underlying="ETH", settle="USDC", size="0.1")  # one bracket, mmr 0.4 %, imr 0.8 %
BTC_INV = inverse("BTC-INV")  # 100 USD a contract, settled in BTC, one bracket, mmr 0.5 %, imr 1 %
INSTRUMENTS = {i.name: i for i in (BTC_PERP, ETH_PERP, BTC_INV)}
SETTLES = ["USDT", "USDC", "BTC"]


def test_every_tier_table_is_padded_to_the_widest_with_its_last_bracket():
    t = instrument_arrays(INSTRUMENTS, SETTLES)
    assert t.names == ("BTC-PERP", "ETH-PERP", "BTC-INV") and t.index("BTC-INV") == 2
    assert t.settle.tolist() == [0, 1, 2] and t.inverse.tolist() == [False, False, True]
    assert t.contract_size.tolist() == [1.0, 0.1, 100.0]
    assert t.edges.tolist() == [[50000, 250000, INF], [INF, INF, INF], [INF, INF, INF]]
    assert t.mmr.tolist() == [[0.004, 0.005, 0.01], [0.004] * 3, [0.005] * 3]
    assert t.imr.tolist() == [[0.008, 0.01, 0.02], [0.008] * 3, [0.01] * 3]
    assert t.amount.tolist() == [[0, 50, 1300], [0, 0, 0], [0, 0, 0]]
    # what is not set: no cap (+inf), no quantum (0), no maintenance fraction (nan)
    assert t.upnl_cap.tolist() == [100, INF, INF] and t.quantum.tolist() == [1e-6, 0, 0]
    assert np.isnan(t.maintenance_fraction).all() and not t.size_basis.any()


def test_weight_bands_become_an_offset_and_a_weight_per_band_and_side():
    # BTC: maintenance 0.9 to 10 BTC then 0.5; initial 0.8 to 5 BTC then 0.4. The bands start at 0, 5 and 10
    # on both sides. Maintenance: 0.9 x on [0, 10): offsets 0 and 0; from 10: 9 + 0.5 (x - 10) = 4 + 0.5 x.
    # Initial: 0.8 x on [0, 5); from 5: 4 + 0.4 (x - 5) = 2 + 0.4 x (on [5, 10) and beyond).
    btc = replace(
        banded("BTC", [("0", "0.9"), ("10", "0.5")], initial=[("0", "0.8"), ("5", "0.4")]),
        liability_weight=D("1.2"),
        initial_liability_weight=D("1.5"),
    )
    a = asset_arrays({"USDT": banded("USDT", [("0", "1")]), "BTC": btc})
    assert a.names == ("USDT", "BTC") and a.index("BTC") == 1
    assert a.band_from.tolist() == [[0, INF, INF], [0, 5, 10]]
    assert a.weight[:, 1].tolist() == [[0.9, 0.9, 0.5], [0.8, 0.4, 0.4]]
    assert a.offset[:, 1].ravel().tolist() == pytest.approx([0, 0, 4, 0, 2, 2], abs=1e-12)  # [side, band]
    assert (a.weight[:, 0, 0].tolist(), a.offset[:, 0, 0].tolist()) == ([1, 1], [0, 0])
    assert a.liability.tolist() == [[1, 1.2], [1, 1.5]] and a.imf.tolist() == [0, 0]
    # 20 BTC: maintenance 0.9 x 10 + 0.5 x 10 = 14; initial 0.8 x 5 + 0.4 x 15 = 10
    assert a.offset[0, 1, 2] + a.weight[0, 1, 2] * 20 == pytest.approx(14)
    assert a.offset[1, 1, 2] + a.weight[1, 1, 2] * 20 == pytest.approx(10)


def test_the_choices_and_the_valuation_table():
    valuation = MarginValuation(cross_initial=Valuation.ENTRY, isolated_maintenance=Valuation.ENTRY)
    # [mode, side]: mode 0 cross, 1 isolated; side 0 maintenance, 1 initial
    assert valuation_table(valuation).tolist() == [[False, True], [True, False]]
    rules = RuleChoices(
        "r", liquidate_at_equality=True, liquidation_threshold=D("1.25"), liquidate_without_requirement=False,
        pnl_in_settle_collateral=True, margin_valuation=valuation,
    )  # fmt: skip
    c = choice_arrays(rules)
    assert (c.threshold, c.at_equality, c.without_requirement, c.folded) == (1.25, True, False, True)
    assert c.at_entry.tolist() == [[False, True], [True, False]]
    assert choice_arrays(RuleChoices("plain")).at_entry.tolist() == [[False, False], [False, False]]


def test_open_interest_raises_the_initial_rates_between_the_caps():
    # caps 1000 to 3000 and open interest 2000: half way, each rate r goes to r + (1 - r) / 2
    scaled = replace(BTC_PERP, open_interest_caps=(D(1000), D(3000)))
    instruments = {"BTC-PERP": scaled, "ETH-PERP": ETH_PERP}
    t = instrument_arrays(instruments, SETTLES)
    rates = initial_rates(t, instruments, Market("USD", open_interest={"BTC-PERP": D(2000), "ETH-PERP": D(9999)}))
    assert rates[0].tolist() == pytest.approx([0.504, 0.505, 0.51], abs=1e-15)  # 0.008 + 0.992 / 2, ...
    assert rates[1].tolist() == [0.008] * 3  # no caps: open interest changes nothing
    below = initial_rates(t, instruments, Market("USD", open_interest={"BTC-PERP": D(500)}))
    assert below[0].tolist() == [0.008, 0.01, 0.02]
    # with a rate quantum of 1 %, the scaled rates are rounded down: 0.50, 0.50, 0.51
    quantized = {"BTC-PERP": replace(scaled, rate_quantum=D("0.01"))}
    t = instrument_arrays(quantized, SETTLES)
    rates = initial_rates(t, quantized, Market("USD", open_interest={"BTC-PERP": D(2000)}))
    assert rates[0].tolist() == pytest.approx([0.5, 0.5, 0.51], abs=1e-15)


def test_the_market_arrays_and_an_asset_without_a_price():
    market = Market("USDT", prices={"BTC": D(20000)}, marks={"BTC-PERP": D("20001.5")})
    # the base is priced at 1; USDC has no price: 0, read nowhere until a tick gives one
    assert [unless_unpriced(market, a) for a in SETTLES] == [1.0, 0.0, 20000.0]
    arrays = rule_arrays({a: banded(a, [("0", "1")]) for a in SETTLES}, INSTRUMENTS, RuleChoices("r"))
    m = market_arrays(arrays, INSTRUMENTS, market, RuleChoices("r"))
    assert m.marks.tolist() == [20001.5, 1.0, 1.0]  # an instrument without a mark: 1
    assert m.prices.tolist() == [1.0, 0.0, 20000.0]
    assert m.scale.tolist() == [1.0, 1.0, 1.0]  # no volatility scaling
    assert m.initial_rate.tolist() == arrays.instruments.imr.tolist()
