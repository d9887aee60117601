"""Liquidation-engine figures against venues' own test vectors (docs/venues/dydx-v4.md section 8: V9 fillable
price, V10 insurance-fund delta, V22 mainnet parameters) and a bankruptcy-price takeover worked by hand."""

from dataclasses import replace
from decimal import Decimal

import pytest

from crossmargin.clearing.state import INSURANCE_FUND, ClearingState, user
from crossmargin.liquidation.engine import Liquidator, fillable_price
from crossmargin.liquidation.liquidity import DepthLevels
from crossmargin.model import Portfolio, Position, exact
from crossmargin.model.rules import FillPrice, LiquidationTerms, Shortfall
from crossmargin.venues import rulebook
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDC = banded("USDC", [("0", "1")])


def one_account(mmr: str, mark: str, usdc: str, size: str, entry: str) -> Portfolio:
    """Account ``s`` with ``usdc`` and one BTC-PERP position (USDC-settled, one tier at ``mmr``)."""
    perp = linear("BTC-PERP", settle="USDC", table=tiers((None, mmr, str(2 * D(mmr)))))
    accounts = [("s", {"USDC": usdc}, [position("BTC-PERP", size, entry)])]
    return book([USDC], [perp], {}, {"BTC-PERP": mark}, accounts, base="USDC")


# V9 (liquidations_test.go TestGetFillablePrice), in USD: usdc, (size, oracle, position MMR) per position,
# the liquidated position first, bankruptcy adjustment, spread to maintenance, expected USD per coin.
V9 = {
    "V9a": ("-4501", [("0.1", "50000", "500")], "1", "0.1", "49999"),
    "V9b": ("-4501", [("0.1", "50000", "500")], "2", "0.1", "49998"),
    "V9c": ("-4501", [("0.1", "50000", "500")], "1", "0.2", "49998"),
    "V9d": ("5499", [("-0.1", "50000", "500")], "1", "0.1", "50001"),
    "V9e": ("5499", [("-0.1", "50000", "500")], "2", "0.1", "50002"),
    "V9f": ("-5000", [("0.1", "50000", "500")], "1", "0.1", "49500"),
    "V9g": ("5000", [("-0.1", "50000", "500")], "1", "0.1", "50500"),
    "V9h": ("-5500", [("0.1", "50000", "500")], "1", "0.1", "49500"),
    "V9i": ("4500", [("-0.1", "50000", "500")], "1", "0.1", "50500"),
    "V9j": ("-490", [("0.1", "3000", "30"), ("0.004", "50000", "20")], "1", "0.1", "2976"),
    "V9k": ("-4501", [("0.1", "50000", "500")], "4294.967295", "0.1", "49500"),
    "V9l": ("-4501", [("0.1", "50000", "500")], "1", "0.000001", "49999.99999"),
    "V9m": ("-4501", [("0.1", "50000", "500")], "1", "1", "49990"),
}


@pytest.mark.parametrize("case", sorted(V9))
def test_dydx_fillable_price_vectors(case: str):
    usdc, positions, adjustment, spread, expected = V9[case]
    # TNC = USDC + sum of size x oracle, TMMR = sum of the positions' MMR (the vectors' arithmetic)
    value = D(usdc) + sum((D(q) * D(p) for q, p, _ in positions), D(0))
    total_mm = sum((D(m) for _, _, m in positions), D(0))
    size, oracle, own_mm = positions[0]
    terms = LiquidationTerms(bankruptcy_adjustment=D(adjustment), spread_to_maintenance=D(spread))
    spec = linear("X", settle="USDC")
    assert fillable_price(spec, D(size), D(oracle), D(1), D(own_mm), value, total_mm, terms) == D(expected)


# V10 (TestGetLiquidationInsuranceFundDelta): 0.1 BTC closed at the given price by a subaccount holding
# `usdc`; the fee is min(fee rate x proceeds, proceeds - bankruptcy amount), all to the insurance fund.
V10 = {
    "V10a": ("-5100", "0.1", "56100", "0.005", "28.05"),
    "V10b": ("-5100", "0.1", "56100", "0.025", "140.25"),
    "V10c": ("-5100", "0.1", "56100", "1", "510"),
    "V10d": ("4900", "-0.1", "44100", "0.005", "22.05"),
    "V10e": ("-5100", "0.1", "51051", "0.005", "5.1"),
    "V10f": ("-5100", "0.1", "51000", "0.005", "0"),
}


@pytest.mark.parametrize("case", sorted(V10))
def test_dydx_insurance_fund_delta_vectors(case: str):
    usdc, size, price, fee_rate, expected = V10[case]
    # dYdX counts the position at size x oracle on top of the USDC; here the balance carries the entry
    # (50000) instead: balance = usdc + size x 50000, so equity = usdc + size x price as there. MMR 20 %
    # makes each of them liquidatable at the fill price (the mark, no depth model).
    balance = D(usdc) + D(size) * 50000
    portfolio = one_account("0.2", price, str(balance), size, "50000")
    state = ClearingState(portfolio, GENERIC)
    terms = LiquidationTerms(fee_rate=D(fee_rate), partial=False)
    Liquidator(state, terms).run()
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == D(expected)
    assert not state.legs["s"]


def test_a_fillable_limit_stops_the_order_at_the_depth_beyond_it():
    # V22 (dYdX mainnet parameters): 0.5 BTC long at 60000, TNC 800, MMR 3 % = 900: ABR = 1 - 800/900 = 1/9,
    # fillable = (30000 - 1/9 x 1.5 x 900) / 0.5 = 59700.
    portfolio = one_account("0.03", "60000", "800", "0.5", "60000")
    state = ClearingState(portfolio, GENERIC)
    # Depth: 0.2 BTC at 0.4 % under the mark (59760, within the limit), then 10 at 1 % (59400, beyond it)
    depth = DepthLevels(((D("0.004"), D("0.2")), (D("0.01"), D(10))))
    terms = LiquidationTerms(fill_price=FillPrice.FILLABLE, partial=False)
    notices = Liquidator(state, terms, {"BTC-PERP": depth}).run()
    assert [(n["size"], n["fill_price"]) for n in notices if n["event"] == "liquidation"] == [(D("-0.2"), D(59760))]
    assert state.legs["s"][("BTC-PERP", True)].size == D("0.3")  # the rest waits for depth within the limit


def test_a_bankruptcy_price_takeover_gives_what_is_left_to_the_insurance_fund():
    # long 1 BTC at 1000 on 100 USDC, mark 950: equity 50 < MM 10 % x 950 = 95. Closed out at the mark,
    # the account is treated as closed at its bankruptcy price 950 - 50 / 1 = 900: the 50 above it goes to
    # the insurance fund (Bybit, OKX).
    portfolio = one_account("0.1", "950", "100", "1", "1000")
    state = ClearingState(portfolio, GENERIC)
    terms = replace(LiquidationTerms(fill_price=FillPrice.BANKRUPTCY), partial=False)
    notices = Liquidator(state, terms).run()
    fill = next(n for n in notices if n["event"] == "liquidation")
    assert (fill["fill_price"], fill["fee"], fill["bankruptcy_price"]) == (D(950), D(50), D(900))
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == D(50)
    assert state.ledger.balance(user("s"), "USDC") == 0


def test_the_dydx_rulebook_carries_its_fillable_parameters():
    terms = rulebook("dydx-v4").liquidation
    assert terms.fill_price is FillPrice.FILLABLE
    assert (terms.bankruptcy_adjustment, terms.spread_to_maintenance) == (Decimal(1), Decimal("1.5"))


@pytest.mark.parametrize(("fill", "to_fund"), [("64980", "980"), ("63950", "-50")])
def test_bybit_insurance_fund_settles_the_difference_to_the_bankruptcy_price(fill: str, to_fund: str):
    # docs/venues/bybit-uta.md E11: an isolated 1 BTC long with bankruptcy price 64000 is settled at 64000
    # whatever the fill: filled at 64980 the fund gains 980, at 63950 it pays 50. Here: entry 70000 with
    # 6000 of isolated margin (bankruptcy 70000 - 6000 = 64000), mark 65000 (equity 1000 < MM 2 % x 65000).
    perp = linear("BTC-PERP", settle="USDC", table=tiers((None, "0.02", "0.04")))
    accounts: list[tuple[str, dict[str, str], list[Position]]] = [
        ("s", {}, [position("BTC-PERP", "1", "70000", isolated_margin="6000")])
    ]
    state = ClearingState(book([USDC], [perp], {}, {"BTC-PERP": "65000"}, accounts, base="USDC"), GENERIC, D(1000))
    with exact():
        depth = DepthLevels(((1 - D(fill) / 65000, D(5)),))  # the whole order at the fill price
    terms = LiquidationTerms(fill_price=FillPrice.BANKRUPTCY, partial=False)
    notices = Liquidator(state, terms, {"BTC-PERP": depth}).run()
    assert next(n for n in notices if n["event"] == "liquidation")["bankruptcy_price"] == D(64000)
    with exact():
        assert abs(state.ledger.balance(INSURANCE_FUND, "USDC") - (1000 + D(to_fund))) <= D("1e-18")
    assert state.ledger.balance(user("s"), "USDC") == 0 and not state.legs["s"]


def test_drift_socialized_loss_pro_rata_to_base_size():
    # docs/venues/drift-v2.md V17: a $100 perp loss over longs of 7 and shorts of 4 (base) is $100 / 11 =
    # 9.0909... per unit of base (Drift books it as a cumulative funding delta rounded up to its 1e-9 USD
    # precision: 9 090 910 000 = 9.09091 USD per base after x 1000; here shares are exact to 1e-18).
    # The bankrupt account: long 1 at 1000 on 100 with the mark at 800, sold at the mark: -100 after its 100.
    perp = linear("BTC-PERP", settle="USDC", table=tiers((None, "0.05", "0.1")))
    accounts = [
        ("x", {"USDC": "100"}, [position("BTC-PERP", "1", "1000")]),
        ("l1", {"USDC": "10000"}, [position("BTC-PERP", "3", "800")]),
        ("l2", {"USDC": "10000"}, [position("BTC-PERP", "4", "800")]),
        ("s1", {"USDC": "10000"}, [position("BTC-PERP", "-4", "800")]),
    ]
    state = ClearingState(book([USDC], [perp], {}, {"BTC-PERP": "800"}, accounts, base="USDC"), GENERIC)
    terms = LiquidationTerms(shortfall=Shortfall.SOCIALIZED, adl_ranking="pro_rata_base_size", partial=False)
    notices = Liquidator(state, terms).run()
    shares = next(n for n in notices if n["event"] == "socialized")["shares"]
    assert isinstance(shares, dict) and sum(shares.values()) == 100
    with exact():
        for account, base in (("l1", 3), ("l2", 4), ("s1", 4)):
            assert abs(shares[account] / base - D(100) / 11) <= D("1e-18")
