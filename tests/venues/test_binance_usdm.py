"""Binance rulebooks (binance-usdm, binance-pm): Binance's published examples reproduced through our engine.

Every expected number comes from a Binance publication, from freqtrade's test vectors of Binance's example,
or from hand arithmetic written beside it (research record: docs/venues/binance-usdm.md, "the record";
S-ids are its sources, E-ids its worked examples). Binance prints prices and money at 2 decimals; we
quantize our exact figures half-up to the printed digits.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from crossmargin.margin.account import AccountResult
from crossmargin.model.document import portfolio_from_document
from crossmargin.venues import rulebook
from tests.venues.evaluation import evaluate, load

D = Decimal
FREQTRADE = "freqtrade/freqtrade tests/exchange/test_binance.py@c9ae5e1e9ff25bb55dd61f5e5519f7c479291edb"


def q(value: Decimal | None, places: str = "0.01") -> Decimal:
    """``value`` rounded half-up to Binance's printed digits."""
    assert value is not None
    return value.quantize(D(places), rounding=ROUND_HALF_UP)


def tiers(*rows: tuple[str | None, str, str]) -> list[dict[str, Any]]:
    """Brackets from (cap, mmr, cum) rows. ``imr`` 1 is a placeholder: the examples give no leverage and
    test maintenance figures only (imr only has to be >= mmr and never fall)."""
    return [{"max_notional": cap, "mmr": mmr, "imr": "1", "maint_amount": cum} for cap, mmr, cum in rows]


def perp(underlying: str, table: list[dict[str, Any]], settle: str = "USDT") -> dict[str, Any]:
    return {"kind": "perpetual", "underlying": underlying, "settle": settle, "contract_size": "1", "tiers": table}


def document(
    balances: dict[str, str],
    positions: list[dict[str, str]],
    marks: dict[str, str],
    *,
    book: str = "binance-usdm",
    instruments: dict[str, Any] | None = None,
    assets: dict[str, Any] | None = None,
    prices: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A one-account portfolio document (account id ``a``) under rulebook ``book``."""
    return {
        "version": 1,
        "base": "USD",
        "rulebook": book,
        "assets": assets or {},
        "instruments": instruments or {},
        "prices": {"USDT": "1", **(prices or {})},
        "marks": marks,
        "accounts": [{"id": "a", "balances": balances, "positions": positions}],
    }


def held(instrument: str, size: str, entry: str, isolated: str | None = None) -> dict[str, str]:
    row = {"instrument": instrument, "size": size, "entry_price": entry}
    if isolated is not None:
        row["isolated_margin"] = isolated
    return row


def account(doc: dict[str, Any]) -> AccountResult:
    return evaluate(doc)["a"]


def liq_price(result: AccountResult, instrument: str) -> Decimal | None:
    (found,) = [p for p in result.positions if p.figures.position.instrument == instrument]
    return found.liquidation_price


# --- the bundled rulebooks ------------------------------------------------------------------------------

CANONICAL = {"BTC-PERP", "ETH-PERP", "SOL-PERP"}


def test_bundled_rulebooks_load():
    usdm = rulebook("binance-usdm")
    assert usdm.name == "binance-usdm"
    assert set(usdm.instruments) == CANONICAL
    assert set(usdm.assets) == {"USDT"}  # Single-Asset mode: only the settle asset is collateral
    assert usdm.rules.liquidate_at_equality is False  # printed "... < Maintenance Margin" (S5, S6)
    assert usdm.rules.liquidation_price_moves == "instrument"  # S1 moves contract 1's mark only
    pm = rulebook("binance-pm")
    assert set(pm.instruments) == CANONICAL
    assert set(pm.assets) == {"USDT", "USDC", "BTC", "ETH", "SOL"}
    assert pm.rules.liquidation_threshold == D("1.05") and pm.rules.liquidate_at_equality  # uniMMR <= 105 % (S14)
    for book in (usdm, pm):
        assert book.tables_taken == "2024-10-24"
        assert book.sources and all(s.where for s in book.sources)


@pytest.mark.parametrize("book", ["binance-usdm", "binance-pm"])
def test_bundled_cum_follows_binance_recurrence(book: str):
    # S1: cum_k = cum_{k-1} + floor_k x (MMR_k - MMR_{k-1}), cum_1 = 0 -- our derivation of omitted
    # maint_amounts. Every cum of the 2024-10-24 snapshot, as written in the rulebook, must equal it.
    raw = rulebook(book).instruments
    given = portfolio_from_document({"version": 1, "base": "USD", "instruments": raw})
    stripped = {
        name: {**spec, "tiers": [{k: v for k, v in t.items() if k != "maint_amount"} for t in spec["tiers"]]}
        for name, spec in raw.items()
    }
    derived = portfolio_from_document({"version": 1, "base": "USD", "instruments": stripped})
    for name in raw:
        assert [t.maint_amount for t in given.instruments[name].tiers.tiers] == [
            t.maint_amount for t in derived.instruments[name].tiers.tiers
        ]


def test_canonical_book_evaluates_under_binance_usdm():
    # Default tables only (2024-10-24 brackets). 10000 USDT; long 0.5 BTC-PERP at 60000, mark 60000:
    # notional 30000 <= 50000, bracket 1: MM = 30000 x 0.004 = 120, IM = 30000 / 125 = 240.
    # Short 10 ETH-PERP at 2500, mark 2500: notional 25000, MM = 100, IM = 200.
    # Long 100 SOL-PERP at 150, mark 150: notional 15000 <= 20000: MM = 15000 x 0.005 = 75, IM = 150.
    doc = document(
        {"USDT": "10000"},
        [held("BTC-PERP", "0.5", "60000"), held("ETH-PERP", "-10", "2500"), held("SOL-PERP", "100", "150")],
        {"BTC-PERP": "60000", "ETH-PERP": "2500", "SOL-PERP": "150"},
    )
    result = account(doc)
    assert result.cross.equity == D(10000)
    assert result.cross.maintenance_margin == D(295)
    assert result.cross.initial_margin == D(590)
    assert not result.cross.liquidatable


def test_canonical_book_evaluates_under_binance_pm():
    # 10000 USDT + 1 BTC at 60000 (PM rate 0.95, S15): collateral 10000 + 57000 = 67000.
    # Long 0.5 BTC-PERP at mark = entry: MM = 30000 x 0.004 = 120.
    doc = document(
        {"USDT": "10000", "BTC": "1"},
        [held("BTC-PERP", "0.5", "60000")],
        {"BTC-PERP": "60000"},
        book="binance-pm",
        prices={"BTC": "60000"},
    )
    result = account(doc)
    assert result.cross.collateral_value == D(67000)
    assert result.cross.maintenance_margin == D(120)


# --- E1: cross margin, one-way mode, two longs (S1's example; freqtrade's vectors) -------------------------

# Binance's 2021 brackets (S24, third-party reverse engineering; record section 9.3): (cap, MMR, cum).
BTCUSDT_2021 = tiers(
    ("50000", "0.004", "0"),
    ("250000", "0.005", "50"),
    ("1000000", "0.01", "1300"),
    ("10000000", "0.025", "16300"),
    ("20000000", "0.05", "266300"),
    ("50000000", "0.10", "1266300"),
    ("100000000", "0.125", "2516300"),
    ("200000000", "0.15", "5016300"),
    ("300000000", "0.25", "25016300"),
    ("500000000", "0.50", "100016300"),
)
ETHUSDT_2021 = tiers(
    ("10000", "0.005", "0"),
    ("100000", "0.0065", "15"),
    ("500000", "0.01", "365"),
    ("1000000", "0.02", "5365"),
    ("2000000", "0.05", "35365"),
    ("5000000", "0.10", "135365"),
    ("10000000", "0.125", "260365"),
    ("20000000", "0.15", "510365"),
    (None, "0.25", "2510365"),
)
INSTRUMENTS_2021 = {"BTC-PERP": perp("BTC", BTCUSDT_2021), "ETH-PERP": perp("ETH", ETHUSDT_2021)}


def e1(btc_size: str = "109.488") -> dict[str, Any]:
    return document(
        {"USDT": "1535443.01"},
        [held("BTC-PERP", btc_size, "32481.98"), held("ETH-PERP", "3683.979", "1456.84")],
        {"BTC-PERP": "31967.27", "ETH-PERP": "1335.18"},
        instruments=INSTRUMENTS_2021,
    )


def test_e1_cross_liquidation_prices():
    # S1 "Example: Calculating Liquidation Price in One-way & Cross Margin mode", reproduced by freqtrade
    # (PR 5576) as FREQTRADE::test_liquidation_price_binance: LP(BTCUSDT) = 26316.89, LP(ETHUSDT) = 1153.26.
    # LP(ETH) = (WB - TMM1 + UPNL1 + cum - Q x EP) / (Q x MMR - Q) with the BTC position's MM and uPnL at its mark:
    #   (1535443.01 - 71200.81144 - 56354.56848 + 135365 - 3683.979 x 1456.84) / (3683.979 x 0.10 - 3683.979)
    #   = 1153.256464...; its notional 3683.979 x 1153.26 = 4.25 M is in the 2 M - 5 M bracket (10 %, 135365).
    # LP(BTC) = (1535443.01 - 356512.508122 - 448192.88514 + 16300 - 109.488 x 32481.98) / (109.488 x 0.025
    #   - 109.488) = 26316.893264...; notional 2.88 M in the 1 M - 10 M bracket (2.5 %, 16300).
    result = account(e1())
    assert q(liq_price(result, "BTC-PERP")) == D("26316.89")
    assert q(liq_price(result, "ETH-PERP")) == D("1153.26")


def test_e1_account_figures():
    # The same book now (hand arithmetic, record E1):
    #   BTC MM = 109.488 x 31967.27 x 0.025 - 16300 = 71200.81144; uPnL = 109.488 x (31967.27 - 32481.98) = -56354.56848
    #   ETH MM = 3683.979 x 1335.18 x 0.10 - 135365 = 356512.508122 (notional 4918775.08 at the mark, in the
    #   10 % bracket -- at the entry it would be 5.37 M, the 12.5 % bracket: Binance brackets at the mark);
    #   uPnL = 3683.979 x (1335.18 - 1456.84) = -448192.88514.
    #   Margin balance = 1535443.01 - 56354.56848 - 448192.88514 = 1030895.55638; MM = 427713.319566.
    result = account(e1())
    assert result.cross.collateral_value == D("1535443.01")
    assert result.cross.unrealized_pnl == D("-504547.45362")
    assert result.cross.equity == D("1030895.55638")
    assert result.cross.maintenance_margin == D("427713.319566")
    assert not result.cross.liquidatable


def test_e11_short_other_position_and_freqtrades_sign_bug():
    # Record E11 (hand arithmetic from S1's formula): E1 with the BTC position SHORT. Its uPnL is now a profit,
    # UPNL1 = -109.488 x (31967.27 - 32481.98) = +56354.56848, TMM1 = 71200.81144 as before:
    #   LP(ETH) = (1535443.01 - 71200.81144 + 56354.56848 + 135365 - 5366967.96636) / (-3315.5811)
    #           = 1119.262683... -> 1119.26
    # freqtrade (binance.py line 235, commit c9ae5e1e) adds amount x (mark - open_rate) whatever the side, so
    # it counts this profitable short as a loss and returns E1's 1153.26: we do not agree with it here.
    result = account(e1("-109.488"))
    ours = q(liq_price(result, "ETH-PERP"))
    assert ours == D("1119.26")
    assert ours != D("1153.26")  # freqtrade's figure for this book


# --- E10: freqtrade's isolated vectors ---------------------------------------------------------------------


def test_e10_isolated_vectors():
    # FREQTRADE::test_liquidation_price_binance, isolated rows (freqtrade's own cases, not Binance's): isolated
    # wallet 1535443.01, long, LP = (WB + cum - Q x EP) / (Q x MMR - Q).
    # #1 ETH 3683.979 @ 1456.84, MMR 0.10, cum 135365: (1535443.01 + 135365 - 5366967.96636) / (-3315.5811)
    #    = 1114.784963... -> 1114.78. Marked at the entry the notional (5.37 M) is in the 12.5 % bracket; at the
    #    LP (4.11 M) it is in the 10 % one: our bracket walk lands where freqtrade's mocked bracket puts it.
    # #2 BTC 109.488 @ 32481.98, MMR 0.025, cum 16300: (1535443.01 + 16300 - 3556387.02624) / (-106.7508)
    #    = 18778.725932... -> 18778.73 (notional at the LP 2.06 M: the 1 M - 10 M bracket).
    eth = account(
        document(
            {},
            [held("ETH-PERP", "3683.979", "1456.84", isolated="1535443.01")],
            {"ETH-PERP": "1456.84"},
            instruments=INSTRUMENTS_2021,
        )
    )
    assert q(liq_price(eth, "ETH-PERP")) == D("1114.78")
    btc = account(
        document(
            {},
            [held("BTC-PERP", "109.488", "32481.98", isolated="1535443.01")],
            {"BTC-PERP": "32481.98"},
            instruments=INSTRUMENTS_2021,
        )
    )
    assert q(liq_price(btc, "BTC-PERP")) == D("18778.73")


# --- E2: maintenance amount and bracket lookup (S1, old BTCUSDT table) -------------------------------------


def test_e2_maintenance_amount_and_bracket():
    # S1: "Level 3 maintenance amount = 250,000 x (1% - 0.5%) + 50 = 1,300 USDT"; a 264,000 USDT position is
    # in the 1 % bracket; a 500,000 USDT one has maintenance amount 1,300. The table is written without
    # maint_amount so that our derivation produces it.
    table = [
        {"max_notional": "50000", "mmr": "0.004", "imr": "1"},
        {"max_notional": "250000", "mmr": "0.005", "imr": "1"},
        {"max_notional": "1000000", "mmr": "0.01", "imr": "1"},
    ]
    portfolio, _ = load(document({}, [], {}, instruments={"BTC-PERP": perp("BTC", table)}))
    level3 = portfolio.instruments["BTC-PERP"].tiers.tiers[2]
    assert level3.maint_amount == D(1300)
    # 264000 USDT: 2.64 BTC at 100000 -> bracket 3 (index 2), MM = 264000 x 0.01 - 1300 = 1340.
    # 500000 USDT: 5 BTC at 100000 -> MM = 500000 x 0.01 - 1300 = 3700.
    for size, mm in (("2.64", "1340"), ("5", "3700")):
        result = account(
            document(
                {"USDT": "1000000"},
                [held("BTC-PERP", size, "100000")],
                {"BTC-PERP": "100000"},
                instruments={"BTC-PERP": perp("BTC", table)},
            )
        )
        (position,) = result.positions
        assert position.figures.tier == 2
        assert position.figures.maintenance_margin == D(mm)


def test_notional_on_a_cap_is_in_the_lower_bracket():
    # S18 writes brackets "0 < Position <= 300,000": a notional exactly on the cap belongs to the lower bracket.
    # Default BTC-PERP: 0.5 BTC at 100000 = 50000 USDT, bracket 1 (125x): IM = 50000 / 125 = 400,
    # MM = 50000 x 0.004 = 200. freqtrade (exchange.py line 3657) and ccxt take the upper bracket there
    # (100x: IM 500; MM 50000 x 0.005 - 50 = 200, the same, as cum makes MM continuous): we differ on IM only.
    result = account(document({"USDT": "1000"}, [held("BTC-PERP", "0.5", "100000")], {"BTC-PERP": "100000"}))
    (position,) = result.positions
    assert position.figures.tier == 0
    assert position.figures.initial_margin == D(400)
    assert position.figures.maintenance_margin == D(200)


# --- the liquidation condition ------------------------------------------------------------------------------


def test_single_asset_liquidation_is_strict():
    # S5/S6: liquidated when collateral + PnL < MM. Isolated long 1 BTC-PERP at 50000 (default tables):
    # MM = 50000 x 0.004 = 200. Margin 200: equity 200 = MM, not liquidatable; 199.99 < 200: liquidatable.
    def isolated(margin: str) -> bool:
        result = account(
            document({}, [held("BTC-PERP", "1", "50000", isolated=margin)], {"BTC-PERP": "50000"}),
        )
        (position,) = result.positions
        assert position.pool is not None
        return position.pool.liquidatable

    assert not isolated("200")
    assert isolated("199.99")


# --- a multi-position cross account worked by hand with the bundled tables ---------------------------------


def test_hand_worked_cross_account_with_bundled_tables():
    # 100000 USDT; long 2 BTC-PERP @ 60000 (mark 62000), short 30 ETH-PERP @ 2500 (mark 2400),
    # long 500 SOL-PERP @ 150 (mark 140); brackets of 2024-10-24 (rulebook defaults).
    #   BTC: notional 124000 -> bracket 2 (0.005, cum 50): MM = 620 - 50 = 570;  uPnL = 2 x 2000 = +4000
    #   ETH: notional 72000 -> bracket 2 (0.005, cum 50): MM = 360 - 50 = 310;   uPnL = -30 x -100 = +3000
    #   SOL: notional 70000 -> bracket 2 (0.0065, cum 30): MM = 455 - 30 = 425;  uPnL = 500 x -10 = -5000
    #   equity = 100000 + 2000 = 102000; MM = 1305; IM = 124000/100 + 72000/100 + 70000/75 = 2893.333...
    doc = document(
        {"USDT": "100000"},
        [held("BTC-PERP", "2", "60000"), held("ETH-PERP", "-30", "2500"), held("SOL-PERP", "500", "150")],
        {"BTC-PERP": "62000", "ETH-PERP": "2400", "SOL-PERP": "140"},
    )
    result = account(doc)
    assert result.cross.equity == D(102000)
    assert result.cross.maintenance_margin == D(1305)
    assert q(result.cross.initial_margin) == D("2893.33")
    # LP(BTC), long, S1 one-way: (WB - TMM1 + UPNL1 + cum - Q x EP) / (Q x MMR - Q), TMM1 = 310 + 425 = 735,
    # UPNL1 = 3000 - 5000 = -2000. Bracket 2: (100000 - 735 - 2000 + 50 - 120000) / (0.01 - 2) = 11399.497...,
    # but there the notional (22799) is below bracket 2's floor 50000: re-solve in bracket 1 (S1's rule):
    # (100000 - 735 - 2000 + 0 - 120000) / (0.008 - 2) = -22735 / -1.992 = 11413.152610... (notional 22826 ok).
    assert q(liq_price(result, "BTC-PERP")) == D("11413.15")
    # LP(ETH), short: (WB - TMM1 + UPNL1 + cum + Q x EP) / (Q x MMR + Q), TMM1 = 570 + 425 = 995,
    # UPNL1 = 4000 - 5000 = -1000: (100000 - 995 - 1000 + 50 + 75000) / (0.15 + 30) = 173055 / 30.15
    # = 5739.800995... (notional 172194: bracket 2 holds).
    assert q(liq_price(result, "ETH-PERP")) == D("5739.80")


# --- E4: Multi-Assets mode (S12) ---------------------------------------------------------------------------

# S12: USDTUSD index 0.99, bid buffer 0.01, ask buffer 0.005 -> bidRate 0.9801, askRate 0.99495; USDC 1 / 1.
# In our terms USDT: price 0.99, weight = 0.9801 / 0.99 = 0.99, liability weight = 0.99495 / 0.99 = 1.005.
MULTI_ASSETS = {"USDT": {"weight": "0.99", "liability_weight": "1.005"}, "USDC": {"weight": "1"}}
E4_INSTRUMENTS = {
    # S12's own rates: BTCUSDT 100x with MMR 0.8 %, ETHUSDC 50x with MMR 1 %.
    "BTC-PERP": perp("BTC", [{"max_notional": None, "mmr": "0.008", "max_leverage": "100"}]),
    "ETH-PERP": perp("ETH", [{"max_notional": None, "mmr": "0.01", "max_leverage": "50"}], settle="USDC"),
}


def e4(with_positions: bool) -> dict[str, Any]:
    positions = [held("BTC-PERP", "0.5", "20000"), held("ETH-PERP", "20", "600")] if with_positions else []
    return document(
        {"USDT": "200", "USDC": "220"},
        positions,
        {"BTC-PERP": "20000", "ETH-PERP": "600"},
        assets=MULTI_ASSETS,
        instruments=E4_INSTRUMENTS,
        prices={"USDT": "0.99", "USDC": "1"},
    )


def test_e4_multi_assets_equity():
    # S12 case 1 (no positions): Account Equity = 200 x 0.9801 + 220 x 1 = 416.02; margin ratio 0.
    # Ours: 200 x 0.99 (price) x 0.99 (weight) + 220 = 416.02.
    empty = account(e4(False))
    assert empty.cross.equity == D("416.02")
    assert empty.cross.margin_ratio == 0
    # S12 case 2 (positions at mark = entry, uPnL 0): Account Equity = 416.02.
    assert account(e4(True)).cross.equity == D("416.02")


@pytest.mark.xfail(
    strict=True,
    reason="engine converts a position's margin to base at the settle asset's price; Binance Multi-Assets "
    "converts it at the asset's ask rate (index x (1 + askBuffer)), a per-asset margin conversion weight",
)
def test_e4_multi_assets_maintenance_and_ratio():
    # S12 case 2: Margin Ratio = 199.596 / 416.02 = 0.47977 (printed truncated; 47.98 %).
    # 199.596 = 0.5 x 20000 x 0.008 x 0.99495 + 20 x 600 x 0.01 x 1 (MM at the ask rate, DERIVED).
    # Ours: 80 x 0.99 + 120 = 199.2.
    result = account(e4(True))
    assert result.cross.maintenance_margin == D("199.596")
    assert result.cross.margin_ratio is not None
    assert result.cross.margin_ratio.quantize(D("0.00001"), rounding="ROUND_DOWN") == D("0.47977")


@pytest.mark.xfail(
    strict=True,
    reason="engine converts initial margin at the settle asset's price; Binance's uniAvailableForOrder = "
    "equity - sum(asset cross IM x askRate) needs the ask-rate conversion weight",
)
def test_e4_multi_assets_available_for_order():
    # S12 case 2: uniAvailableForOrder = 416.02 - (0.5 x 20000 x 0.01 x 0.99495 + 20 x 600 x 0.02 x 1) = 76.525.
    # Ours (free collateral): 416.02 - (100 x 0.99 + 240) = 77.02.
    assert account(e4(True)).cross.free_collateral == D("76.525")


# --- binance-pm -------------------------------------------------------------------------------------------


def test_e6_pm_collateral_rate():
    # S15 (2022): 1 BTC in each of the Margin, USDⓈ-M and COIN-M wallets -> 3 BTC x 0.95 = 2.85 BTC.
    # At 20000 USD: 2.85 x 20000 = 57000 (the rulebook's default BTC rate).
    result = account(document({"BTC": "3"}, [], {}, book="binance-pm", prices={"BTC": "20000"}))
    assert result.cross.collateral_value / D(20000) == D("2.85")


def test_e7_tiered_collateral_is_marginal():
    # S20 (spot Cross Margin; the record's evidence that Binance's collateral tiers are marginal): BTC 100 % on
    # 0 - 100 M USDT, 97.5 % on 100 M - 120 M, 95 % to 150 M, 90 % to 180 M, 85 % to 200 M. 6000 BTC at
    # 20000 = 120 M -> 100 M x 100 % + 20 M x 97.5 % = 119,500,000 USDT.
    # Our bands are by amount: at 20000 the USD floors are 5000, 6000, 7500, 9000 BTC (only at this price).
    bands = {"weight_bands": [["0", "1"], ["5000", "0.975"], ["6000", "0.95"], ["7500", "0.9"], ["9000", "0.85"]]}
    result = account(
        document({"BTC": "6000"}, [], {}, book="binance-pm", assets={"BTC": bands}, prices={"BTC": "20000"})
    )
    assert result.cross.collateral_value == D(119500000)


def test_e8_pm_um_positions():
    # S14 PM Pro uniMMR example (partial copy): BTCUSDT_PERP short 0.05 @ 52000, mark 40000 -> uPnL 600 USDT;
    # BTCUSDT_20220624 long 0.04 @ 52350, mark 42000 -> uPnL -414 USDT (printed). MMR bracket 0.5 % for both:
    # futuresMM = 0.05 x 40000 x 0.005 = 10 and 0.04 x 42000 x 0.005 = 8.4 (DERIVED, S13's formula, cum 0).
    # The rest of the example (index prices, collateral rates, uniMMR) is cut off in every copy.
    one = [{"max_notional": None, "mmr": "0.005", "max_leverage": "100"}]
    future = {**perp("BTC", one), "kind": "future", "expiry": "2022-06-24T08:00:00Z"}
    result = account(
        document(
            {"USDT": "5000"},
            [held("BTC-PERP", "-0.05", "52000"), held("BTC-220624", "0.04", "52350")],
            {"BTC-PERP": "40000", "BTC-220624": "42000"},
            book="binance-pm",
            instruments={"BTC-PERP": perp("BTC", one), "BTC-220624": future},
            prices={"BTC": "40000"},
        )
    )
    figures = {p.figures.position.instrument: p.figures for p in result.positions}
    assert figures["BTC-PERP"].unrealized_pnl == D(600)
    assert figures["BTC-220624"].unrealized_pnl == D(-414)
    assert figures["BTC-PERP"].maintenance_margin == D(10)
    assert figures["BTC-220624"].maintenance_margin == D("8.4")


def test_pm_liquidates_at_unimmr_105_inclusive():
    # S14: "100% < uniMMR <= 105%: liquidation". Long 1 BTC-PERP @ 50000, mark 50000 (bracket 1: MM = 200);
    # 1.05 x 200 = 210. USDT 210: uniMMR = 210 / 200 = 1.05 -> liquidatable; USDT 210.01 -> 1.05005, not.
    def liquidatable(usdt: str) -> bool:
        return account(
            document({"USDT": usdt}, [held("BTC-PERP", "1", "50000")], {"BTC-PERP": "50000"}, book="binance-pm")
        ).cross.liquidatable

    assert liquidatable("210")
    assert not liquidatable("210.01")


def test_pm_liquidation_price_by_hand():
    # No PM liquidation price is published (record 6.2): worked from S13/S14's definitions. 10000 USDT and
    # 0.1 BTC (rate 0.95) with long 1 BTC-PERP @ 60000, BTC at 60000; the whole underlying moves to P and the
    # pool is liquidatable at equity <= 1.05 x MM.
    #   bracket 2 (0.005, cum 50): 10000 + 0.095 P + (P - 60000) - 1.05 (0.005 P - 50) = 1.08975 P - 49947.5
    #     -> P = 45833.906..., notional below bracket 2's floor 50000: not valid;
    #   bracket 1 (0.004): 10000 + 0.095 P + (P - 60000) - 1.05 x 0.004 P = 1.0908 P - 50000
    #     -> P = 50000 / 1.0908 = 45837.917125... (notional 45837.9 <= 50000).
    result = account(
        document(
            {"USDT": "10000", "BTC": "0.1"},
            [held("BTC-PERP", "1", "60000")],
            {"BTC-PERP": "60000"},
            book="binance-pm",
            prices={"BTC": "60000"},
        )
    )
    assert q(liq_price(result, "BTC-PERP")) == D("45837.92")
