"""Liquidation-engine figures against venues' own test vectors (docs/venues/dydx-v4.md section 8: V9 fillable
price, V10 insurance-fund delta, V22 mainnet parameters; Drift's liquidate_perp tests, docs/venues/drift-v2.md
sections 7.1 and 8) and a bankruptcy-price takeover worked by hand."""

from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal

import pytest

from crossmargin.clearing.state import INSURANCE_FUND, LIQUIDATOR, ClearingState, user
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
    Liquidator(state, terms).liquidate("s")
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
    notices = Liquidator(state, terms, {"BTC-PERP": depth}).liquidate("s")
    assert [(n["size"], n["fill_price"]) for n in notices if n["event"] == "liquidation"] == [(D("-0.2"), D(59760))]
    assert state.legs["s"][("BTC-PERP", True)].size == D("0.3")  # the rest waits for depth within the limit


def test_a_bankruptcy_price_takeover_gives_what_is_left_to_the_insurance_fund():
    # long 1 BTC at 1000 on 100 USDC, mark 950: equity 50 < MM 10 % x 950 = 95. Closed out at the mark,
    # the account is treated as closed at its bankruptcy price 950 - 50 / 1 = 900: the 50 above it goes to
    # the insurance fund (Bybit, OKX).
    portfolio = one_account("0.1", "950", "100", "1", "1000")
    state = ClearingState(portfolio, GENERIC)
    terms = replace(LiquidationTerms(fill_price=FillPrice.BANKRUPTCY), partial=False)
    notices = Liquidator(state, terms).liquidate("s")
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
    notices = Liquidator(state, terms, {"BTC-PERP": depth}).liquidate("s")
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
    notices = Liquidator(state, terms).liquidate("x")
    shares = next(n for n in notices if n["event"] == "socialized")["shares"]
    assert isinstance(shares, dict) and sum(shares.values()) == 100
    with exact():
        for account, base in (("l1", 3), ("l2", 4), ("s1", 4)):
            assert abs(shares[account] / base - D(100) / 11) <= D("1e-18")


# Drift protocol v2: liquidate_perp's sizing (docs/venues/drift-v2.md sections 5, 7.1 and 8). PROGRAM =
# github.com/drift-labs/protocol-v2 @ 0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62, programs/drift/src/. The program's
# test market: SOL-PERP margin_ratio_maintenance 500 (5 %), liquidator_fee and if_liquidation_fee 10000 (1 %),
# order_step_size 10000000 (0.01 SOL), oracle $100, USDC at $1; the drift-v2 rulebook's choices (buffer on notional,
# shortage sizing, IF fee headroom 95 %, fees charged in full) with those parameters. A Drift position's
# quote_asset_amount is our entry (quote / base) and, once closed, our USDC balance: the user's "quote" after a
# liquidation is its USDC balance here minus its deposit.

DRIFT_PERP = linear("SOL-PERP", underlying="SOL", settle="USDC", table=tiers((None, "0.05", "0.1")))


def drift_terms(buffer: str) -> LiquidationTerms:
    """The drift-v2 rulebook's liquidation terms with the program test market's fees, step and ``buffer``."""
    terms = rulebook("drift-v2").liquidation
    steps = (("SOL-PERP", D("0.01")),)
    return replace(terms, fee_rate=D("0.01"), insurance_fee_rate=D("0.01"), buffer=D(buffer), size_steps=steps)


def drift_state(usdc: str, size: str, entry: str, mark: str = "100", isolated: bool = False) -> ClearingState:
    """Account ``u``: ``usdc`` deposited (as the isolated position's margin if ``isolated``) and one SOL-PERP
    position; the drift-v2 rules (liquidatable when total collateral < margin requirement)."""
    leg = position("SOL-PERP", size, entry, isolated_margin=usdc if isolated else None)
    accounts = [("u", {} if isolated else {"USDC": usdc}, [leg])]
    portfolio = book([USDC], [DRIFT_PERP], {}, {"SOL-PERP": mark}, accounts, base="USDC")
    return ClearingState(portfolio, rulebook("drift-v2").rules)


def fills(notices: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(n["size"], n["fill_price"], n["fee"]) for n in notices if n["event"] == "liquidation"]


@pytest.mark.parametrize("isolated", [False, True])
def test_drift_liquidation_covers_the_margin_shortage_with_its_buffer(isolated: bool):
    # PROGRAM controller/liquidation/tests.rs l.739 successful_liquidation_to_cover_margin_shortage (cross) and
    # l.9563 (isolated): 5 USDC, long 2 SOL with quote -200 at the $100 oracle, buffer 200 (2 %). Its open bid is
    # cancelled first, which our book does not hold. Shortage = MR + buffer - TC = (200 x 5 % + 200 x 2 %) - 5 = 9.
    # m = 5 % + 2 % = 7 %; IF fee = min(1 %, 95 % x (7 % - 1 % - 9 / 200)) = min(1 %, 1.425 %) = 1 %;
    # base = 9 / (100 x (7 % - 1 %) - 100 x 1 %) = 9 / 5 = 1.8 SOL (program: 1800000000 to the liquidator).
    state = drift_state("5", "2", "100", isolated=isolated)
    notices = Liquidator(state, drift_terms("0.02")).liquidate("u")
    # fees 180 x 1 % = 1.8 each: the liquidator's quote -180 + 1.8 = -178.2, total_liquidation_fee 1800000
    assert fills(notices) == [(D("-1.8"), D(100), D("3.6"))]
    assert state.ledger.balance(LIQUIDATOR, "USDC") == D("1.8")
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == D("1.8")
    # the user keeps 0.2 SOL (base 200000000) and 5 - 3.6 = 1.4 USDC (program: deposit 5, quote -200 + 180 - 3.6
    # = -23.6 on 0.2 SOL worth 20, TC = 5 + 20 - 23.6 = 1.4); margin ratio 1.4 / 20 = 700 (7 %): TC = MR + buffer
    (leg,) = state.legs["u"].values()
    assert leg.size == D("0.2")
    held = state.ledger.balance(state.pool_of("u", "SOL-PERP", True) if isolated else user("u"), "USDC")
    assert held == D("1.4")


def test_drift_isolated_liquidation_is_not_paced():
    # PROGRAM l.9742 liquidation_over_multiple_slots_takes_one: isolated 50 USDC, long 20 SOL (quote -2000), buffer
    # 2 %, initial_pct_to_liquidate 10 %: the isolated mode never paces. Shortage = 100 + 40 - 50 = 90; IF fee
    # min(1 %, 95 % x (7 % - 1 % - 90 / 2000)) = 1 %; base = 90 / (6 - 1) = 18: 2 SOL left (2000000000), out of
    # liquidation. (The cross account of l.1528 is paced over slots and keeps 1.91 SOL; ours closes 18 there too.)
    state = drift_state("50", "20", "100", isolated=True)
    notices = Liquidator(state, drift_terms("0.02")).liquidate("u")
    assert fills(notices) == [(D("-18"), D(100), D(36))]
    assert state.legs["u"][("SOL-PERP", True)].size == D(2)


@pytest.mark.parametrize(("size", "entry"), [("1", "150"), ("-1", "50")])
def test_drift_liquidator_fee_is_charged_in_full_on_a_bankrupt_account(size: str, entry: str):
    # PROGRAM l.157 successful_liquidation_long_perp and l.306 successful_liquidation_short_perp: no deposit, 1 SOL
    # (quote -150 long / +50 short) at $100: PnL -50, buffer 10 (0.1 %). Shortage 5.1 + 50.05 = 55.15; IF fee
    # 95 % x (5.1 % - 1 % - 55.15 / 100) < 0 -> 0; base 55.15 / 4.1 = 13.45 > 1: the whole SOL, the liquidator
    # fee 100 x 1 % = 1 charged although the account is bankrupt: the user's quote -150 + 100 - 1 = -51 (short:
    # 50 - 100 - 1), the liquidator's -100 + 1 = -99 (short: 100 + 1 = 101), total_liquidation_fee 0.
    state = drift_state("0", size, entry)
    notices = Liquidator(state, drift_terms("0.001")).liquidate("u")
    assert fills(notices) == [(-D(size), D(100), D(1))]
    assert state.ledger.balance(LIQUIDATOR, "USDC") == 1
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == 0
    # the -51 it owes is the bankruptcy: no insurance fund here, nobody else holds SOL-PERP, so it is bad debt
    assert [n["amount"] for n in notices if n["event"] == "bad_debt"] == [D(51)]


def test_drift_liquidation_of_a_position_of_one_step():
    # PROGRAM l.1382 liquidate_user_with_step_size_position: deposit 6/11 USDC (scaled balance 6e9 // 11 ->
    # 0.545454 USDC), long 0.01 SOL with quote -1.5, $100, buffer 10 (0.1 %). TC = 0.545454 - 0.5 = 0.045454 <
    # MR 0.05. Shortage = 0.051 - (0.045454 - 0.0005) = 0.006046; IF fee min(1 %, 95 % x (5.1 % - 1 % - 0.6046 %))
    # = 1 %; base = 0.006046 / (4.1 - 1) = 0.00195, rounded up to the 0.01 step: the whole position. Fees 1 x 1 %
    # each: quote -1.5 + 1 - 0.02 = -0.52, the liquidator's -0.99, total_liquidation_fee 10000 (0.01).
    state = drift_state("0.545454", "0.01", "150")
    notices = Liquidator(state, drift_terms("0.001")).liquidate("u")
    assert fills(notices) == [(D("-0.01"), D(100), D("0.02"))]
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == D("0.01")
    assert state.ledger.balance(user("u"), "USDC") == D("0.025454")  # 0.545454 - 0.52


def test_drift_insurance_fee_takes_at_most_95_percent_of_what_is_left():
    # PROGRAM l.2066 successful_liquidation_half_of_if_fee: 1.5 USDC, short 1 SOL (quote +100) at $100, buffer 10.
    # Shortage = (5 + 0.1) - 1.5 = 3.6; IF fee = min(1 %, 95 % x (5.1 % - 1 % - 3.6 / 100)) = 95 % x 0.5 % = 0.475 %
    # (4750); base = 3.6 / (100 x 4.1 % - 100 x 0.475 %) = 0.9931 -> 1.00 SOL; IF fee 100 x 0.475 % = 0.475
    # ("0.5 % x 100 x 0.95 = $0.475": total_liquidation_fee 475000).
    state = drift_state("1.5", "-1", "100")
    notices = Liquidator(state, drift_terms("0.001")).liquidate("u")
    assert fills(notices) == [(D(1), D(100), D("1.475"))]
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == D("0.475")
    assert state.ledger.balance(LIQUIDATOR, "USDC") == 1


def test_drift_insurance_fee_on_a_large_short():
    # PROGRAM l.2194 successful_liquidation_portion_of_if_fee: oracle 23.244136, short 299.4 SOL with quote
    # 6959.294318 (= 299.4 x 23.244136 to the 1e-6 below: PnL 0 to the program, -4e-7 to us), deposit 113.838792,
    # buffer 200. Program (integers, 1e6 $): notional 6959294318, MR 347964715, MR + buffer 487150601, shortage
    # 373311809; IF fee = (70000 - 10000 - 53642) x 19 // 20 = 6040 (0.604 %) with 53642 = shortage / notional
    # (floored in 1e-6); base = 373311809e9 // (1394648 - 140394) = 297636530559 -> 297.64 SOL (step 0.01);
    # IF fee 297.64 x 23.244136 = 6918.384639 x 0.604 % = 41.787043 (total_liquidation_fee 41787043); the user
    # leaves liquidation.
    with exact():
        entry = D("6959.294318") / D("299.4")
    state = drift_state("113.838792", "-299.4", str(entry), mark="23.244136")
    notices = Liquidator(state, drift_terms("0.02")).liquidate("u")
    ((size, price, _),) = fills(notices)
    assert (size, price) == (D("297.64"), D("23.244136"))
    # Ours, exact: shortage 487.150602288 - 113.838791592 = 373.311810696 (TC 113.838792 - 4e-7, buffer -8e-9),
    # its share of the notional 0.0536421932..., IF fee rate 95 % x (6 % - 5.36421932 %) = 0.603991... %: the
    # program floors the subtracted share to 53642e-6 and so charges 6040e-6, one step of its 1e-6 above ours.
    with exact():
        notional = D("297.64") * D("23.244136")
        rate = state.ledger.balance(INSURANCE_FUND, "USDC") / notional
    assert D("0.006039") < rate < D("0.006040")
    assert (notional * D("0.006040")).quantize(D("0.000001"), rounding=ROUND_FLOOR) == D("41.787043")
    assert state.ledger.balance(LIQUIDATOR, "USDC") == notional * D("0.01")  # 69.1838463904 (program 69183846)
    assert not state.liquidatable("u")


def test_drift_liquidation_after_a_20_percent_fall():
    # PROGRAM l.1942 partial_liquidation_oracle_down_20_pct: 10 USDC, long 1 SOL (quote -100), oracle $80,
    # buffer 2 %. Shortage = (4 + 1.6) - (10 - 20 - 0.4) = 16 (< $50: not paced); IF fee 95 % x (7 % - 1 % - 16 / 80)
    # < 0 -> 0; base 16 / 4.8 = 3.33 > 1: the whole SOL (base 0), the liquidator fee 80 x 1 % = 0.8 in full: quote
    # -20.8 on the 10 USDC deposit, -10.8 owed. (The program's liquidation_margin_freed, 4.784, keeps the
    # -20.8 as unsettled PnL under the 2 % buffer; to us the closed loss is the USDC balance: not compared.)
    state = drift_state("10", "1", "100", mark="80")
    notices = Liquidator(state, drift_terms("0.02")).liquidate("u")
    assert fills(notices) == [(D(-1), D(80), D("0.8"))]
    assert state.ledger.balance(INSURANCE_FUND, "USDC") == 0
    assert [n["amount"] for n in notices if n["event"] == "bad_debt"] == [D("10.8")]
