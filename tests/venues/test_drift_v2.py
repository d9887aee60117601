"""Drift protocol v2: the rulebook's tables and the program's vectors and docs examples through our engine.

Sources (research record docs/venues/drift-v2.md):

- PROGRAM = github.com/drift-labs/protocol-v2 @ 0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62, paths under
  programs/drift/src/ (unit-test vectors V1-V18 of the record's section 8);
- DOCS = github.com/drift-labs/drift-protocol-v2-docs @ f1021e414d5fd62755cf859dc4ad97c7469ef022 and the
  rendered page https://drift-docs-v2.vercel.app/getting-started/cross-collateral-deposits (UNDATED).

The program works in fixed point: weights and margin ratios in 1e-4 (MARGIN_PRECISION), IMF factors in 1e-6,
dollars in 1e-6. Our formulas are the exact real-number forms (src/crossmargin/model/size_premium.py), so a
vector is compared at the program's precision with its rounding direction:

- a size-discounted asset weight ``1.1e10 // (1e6 + isqrt(10 size + 1) x imf // 1e5)`` only ever rounds down
  (isqrt and both divisions floor; flooring the denominator can only raise the quotient, but never past the
  next 1e-4 in the vectors below), so ``floor(ours, 1e-4)`` is the program's weight;
- a size-premium liability weight or margin ratio ``(r - r // 5) + isqrt(10 size + 1) x imf // 1e7`` rounds
  down too (``r - r // 5`` is exact for the ratios used), so again ``floor(ours, 1e-4)``;
- dollar figures: notional ``|base| x P // 1e9`` and requirement ``notional x ratio // 1e4`` floor; a short's
  PnL ``quote + trunc(base x P / 1e9)`` is rounded toward zero on the negative part, i.e. up.
"""

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

import pytest

import crossmargin.venues
from crossmargin.clearing.state import INSURANCE_FUND, LIQUIDATOR, ClearingState
from crossmargin.liquidation.engine import Liquidator
from crossmargin.liquidation.sizing import target
from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.margin.pools import position_figures
from crossmargin.model import InputError, Position, Side, exact
from crossmargin.model.rules import BufferBasis, FillPrice, PriceMove, Shortfall, Sizing
from tests.venues.evaluation import evaluate, load

D = Decimal
CLOSE = D("1E-40")
BP = D("0.0001")  # the program's weight / margin-ratio precision (1e4)
MICRO = D("0.000001")  # the program's dollar precision (QUOTE_PRECISION 1e6)


def div(a: Decimal | int | str, b: Decimal | int | str) -> Decimal:
    """``a / b`` at the ledger's precision."""
    with exact():
        return D(a) / D(b)


def floor_bp(x: Decimal) -> Decimal:
    """``x`` rounded down to the program's 1e-4 weight precision."""
    return x.quantize(BP, rounding=ROUND_FLOOR)


def document(**sections: Any) -> dict[str, Any]:
    """A portfolio document under the drift-v2 rulebook."""
    return {"version": 1, "base": "USD", "rulebook": "drift-v2", **sections}


def perp(imr: str, mmr: str, imf: str = "0", **terms: Any) -> dict[str, Any]:
    """A USDC-settled linear perpetual on SOL with one open tier (Drift has one ratio pair per market)."""
    return {
        "kind": "perpetual",
        "underlying": "SOL",
        "settle": "USDC",
        "contract_size": 1,
        "tiers": [{"max_notional": None, "imr": imr, "mmr": mmr}],
        "imf_factor": imf,
        **terms,
    }


def one_account(doc: dict[str, Any]) -> AccountResult:
    (result,) = evaluate(doc).values()
    return result


# --------------------------------------------------------------------------------------------------------
# The bundled tables


def test_bundled_rulebook_loads_with_the_venue_rules():
    book = crossmargin.venues.rulebook("drift-v2")
    assert book.name == "drift-v2"
    # state/margin_calculation.rs meets_margin_requirement: TC >= MR is safe, liquidatable when TC < MR
    assert book.rules.liquidate_at_equality is False
    assert book.rules.liquidation_threshold == 1
    # sdk/src/user.ts liquidationPrice moves the perp oracle together with the spot market on that oracle
    assert book.rules.liquidation_price_moves is PriceMove.UNDERLYING
    # controller/liquidation.rs resolve_perp_bankruptcy: IF -> fee pool -> socialized through funding, no ADL
    assert book.liquidation.shortfall is Shortfall.SOCIALIZED
    assert book.liquidation.fill_price is FillPrice.MARKET
    # controller/liquidation.rs liquidate_perp: out of liquidation at TC + buffer >= MR + buffer, buffer 200 (2 %,
    # DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO) on notional; sized to cover the shortage, fees in full
    terms = book.liquidation
    assert (terms.buffer, terms.buffer_basis, terms.sizing) == (D("0.02"), BufferBasis.NOTIONAL, Sizing.SHORTAGE)
    assert not terms.cap_fee_at_bankruptcy
    # the SOL-PERP account of 2026-03-09 (math/repeg/tests.rs l.420): liquidator_fee 7500, if_liquidation_fee 7500
    # (1e6), the IF fee at most 95 % of what is left (calculate_perp_if_fee), all of it to the fund
    assert (terms.fee_rate, terms.insurance_fund_share) == (D("0.0075"), D(0))
    assert (terms.insurance_fee_rate, terms.insurance_fee_headroom) == (D("0.0075"), D("0.95"))
    # order_step_size 1e7 / 1e5 / 1e6 of 1e9 base (record 9.2)
    steps = {name: terms.size_step(name) for name in ("SOL-PERP", "BTC-PERP", "ETH-PERP")}
    assert steps == {"SOL-PERP": D("0.01"), "BTC-PERP": D("0.0001"), "ETH-PERP": D("0.001")}
    assert set(book.instruments) == {"BTC-PERP", "ETH-PERP", "SOL-PERP"}  # no coin-margined perpetual
    assert set(book.assets) == {"USDC", "USDT", "BTC", "ETH", "SOL"}
    assert all(source.taken for source in book.sources)


def test_canonical_document_evaluates_under_the_rulebook_tables():
    # Only canonical names; every table comes from the rulebook: BTC 0.9 / 0.8 with imf 0.105, BTC-PERP
    # imr 0.05 / mmr 0.03 (UNVERIFIED defaults, see the YAML), uPnL weight 1, initial cap $100.
    doc = document(
        prices={"USDC": 1, "BTC": 60000},
        marks={"BTC-PERP": 60000},
        accounts=[
            {
                "id": "a",
                "balances": {"USDC": 10000, "BTC": "0.1"},
                "positions": [{"instrument": "BTC-PERP", "size": 1, "entry_price": 59000}],
            }
        ],
    )
    result = one_account(doc)
    cross = result.cross
    # BTC discount: 1.1 / (1 + 0.105 sqrt(0.1)) = 1.1 / 1.0332... = 1.0646 > 0.9, so the flat weights apply:
    # collateral 10000 + 0.1 x 60000 x 0.9 = 15400; initial 10000 + 0.1 x 60000 x 0.8 = 14800
    assert cross.collateral_value == D(15400)
    assert cross.initial_collateral_value == D(14800)
    # uPnL 1 x (60000 - 59000) = 1000: in full for maintenance, capped at $100 for initial
    assert cross.equity == D(16400)
    assert cross.initial_equity == D(14900)
    # MM 60000 x 0.03 = 1800, IM 60000 x 0.05 = 3000, free collateral 14900 - 3000 = 11900
    assert cross.maintenance_margin == D(1800)
    assert cross.initial_margin == D(3000)
    assert cross.free_collateral == D(11900)
    assert not cross.liquidatable
    # BTC spot moves with the perp: 10000 + 0.1 x 0.9 P + (P - 59000) - 0.03 P = 1.06 P - 49000 = 0
    (position,) = result.positions
    assert position.liquidation_price is not None
    assert abs(position.liquidation_price - div(49000, "1.06")) < CLOSE


# --------------------------------------------------------------------------------------------------------
# Spot collateral: size discount on asset weights, size premium on liability weights


def spot_weights(asset: dict[str, Any], amount: str, price: str = "1") -> tuple[Decimal, Decimal]:
    """(maintenance, initial) weight our engine gives a balance of ``amount`` (negative: a liability)."""
    doc = document(
        assets={"X": asset},
        prices={"X": price},
        accounts=[{"id": "a", "balances": {"X": amount}}],
    )
    (line,) = one_account(doc).cross.collateral
    held = line.amount * line.price
    return div(line.value, held), div(line.initial_value, held)


def test_docs_2000_sol_example():
    # DOCS getting-started/cross-collateral-deposits: "Initial Asset Weight on 2000 SOL Collateral":
    # weight = min(.80, 1.1 / [1 + (0.003 * sqrt(2000))]) = min(.80, ~.96987) = .80
    sol = {"weight": "0.9", "initial_weight": "0.8", "imf_factor": "0.003"}
    maintenance, initial = spot_weights(sol, "2000", price="150")
    assert initial == D("0.8")
    assert maintenance == D("0.9")
    # the discount itself, on an asset whose weight does not bind: 1.1 / (1 + 0.003 x 44.72136) = 0.9698773...;
    # the page's "~.96987" cuts it at 5 decimals (rounding would give .96988)
    discount, _ = spot_weights({"weight": 1, "imf_factor": "0.003"}, "2000")
    assert discount.quantize(D("0.00001"), rounding=ROUND_DOWN) == D("0.96987")
    # the program (record 2.4): isqrt(2e13 + 1) = 4472135, x 3000 // 1e5 = 134164, 1.1e10 // 1134164 = 9698
    assert floor_bp(discount) == D("0.9698")


# PROGRAM math/margin/tests.rs l.84 spot_market_asset_weight (V1): market initial asset weight 9000,
# initial liability weight 11000, decimals 6, price $1. The test market's maintenance weights are 0 (the test
# reads the initial side); a document needs maintenance >= initial, so we give both sides the initial weights.
V1_MARKET = {"weight": "0.9", "liability_weight": "1.1"}


@pytest.mark.parametrize(
    ("imf", "tokens", "asset_weight", "liability_weight"),
    [
        # imf 0: the flat weights
        ("0", "1000", "0.9", "1.1"),
        # imf 10 (1e-5): 1.1 / (1 + 1e-5 sqrt(1000)) = 1.0997 > 0.9; 0.88 + 1e-5 x 31.6 = 0.8803 < 1.1
        ("0.00001", "1000", "0.9", "1.1"),
        # imf 10, 1000 x 1e6 tokens: 1.1 / (1 + 1e-5 x 31622.78) = 1.1 / 1.3162278 = 0.83571 -> 8357
        # (program: isqrt(1e19 + 1) = 3162277660, x 10 // 1e5 = 316227, 1.1e10 // 1316227 = 8357)
        ("0.00001", "1000000000", "0.8357", None),
        # imf 10000 (0.01): s = isqrt(1e13 + 1) = 3162277, x 10000 // 1e5 = 316227, 1.1e10 // 1316227 = 8357;
        # liability 8800 + 3162277 x 10000 // 1e7 = 8800 + 3162 = 11962 (exact: 0.88 + 0.3162278 = 1.1962278)
        ("0.01", "1000", "0.8357", "1.1962"),
        # imf 100000 (0.1): 1.1e10 // (1e6 + 3162277) = 1.1e10 // 4162277 = 2642 (exact 1.1 / 4.1622777 = 0.26428);
        # liability 8800 + 3162277 x 100000 // 1e7 = 8800 + 31622 = 40422 (exact 0.88 + 3.1622777 = 4.0422777)
        ("0.1", "1000", "0.2642", "4.0422"),
    ],
)
def test_v1_spot_weights_with_imf(imf, tokens, asset_weight, liability_weight):
    market = {**V1_MARKET, "imf_factor": imf}
    maintenance, initial = spot_weights(market, tokens)
    assert floor_bp(initial) == floor_bp(maintenance) == D(asset_weight)
    if liability_weight is not None:
        maintenance, initial = spot_weights(market, f"-{tokens}")
        assert floor_bp(initial) == floor_bp(maintenance) == D(liability_weight)


def test_v1_maintenance_liability_weight_of_an_unvalidated_market_is_refused():
    # V1's last cell, maintenance liability weight 31622 = 0 + 3162277 x 100000 // 1e7, comes from a test market
    # whose maintenance_liability_weight is 0. validate_margin_weights (validation/margin.rs) requires >= 1, and
    # so does our document: the cell describes a market neither the venue nor we accept.
    with pytest.raises(InputError, match="liability_weight"):
        spot_weights({"weight": "0.9", "liability_weight": 0, "imf_factor": "0.1"}, "-1000")


def test_v1_driftpy_rounds_the_size_discount_up():
    # Peer: driftpy 18fe3d7 src/driftpy/math/margin.py calculate_size_discount_asset_weight uses
    # ceil(sqrt(10 size)) + 1 in floats and rounds the result up: 8358 (imf 0.01) and 2643 (imf 0.1) for 1000
    # tokens, where the program floors to 8357 and 2642 (record section 10, row 6). The exact weights are
    # 0.835710... and 0.264276...: the program is floor(exact, 1e-4) and driftpy is ceil(exact, 1e-4). We follow the
    # program; driftpy's figure is one 1e-4 too generous.
    for imf, program, driftpy in (("0.01", "0.8357", "0.8358"), ("0.1", "0.2642", "0.2643")):
        _, ours = spot_weights({**V1_MARKET, "imf_factor": imf}, "1000")
        assert floor_bp(ours) == D(program)
        assert ours.quantize(BP, rounding=ROUND_CEILING) == D(driftpy)


# PROGRAM math/margin/tests.rs spot_market2 (V2): weights initial asset 1500, maintenance asset 7500, initial
# liability 15000, maintenance liability 12500, decimals 6, 100000 tokens at $0.5.
V2_MARKET = {"weight": "0.75", "initial_weight": "0.15", "liability_weight": "1.25", "initial_liability_weight": "1.5"}


def test_v2_weights_without_imf():
    # imf 0: initial 1500, maintenance 7500
    maintenance, initial = spot_weights(V2_MARKET, "100000", price="0.5")
    assert (initial, maintenance) == (D("0.15"), D("0.75"))


def test_v2_imf_applies_to_initial_and_maintenance_weights():
    # imf 100000 (0.1): s = isqrt(1e15 + 1) = 31622776, x 1e5 // 1e5 = 31622776, 1.1e10 // 32622776 = 337 on
    # every side (exact: 1.1 / (1 + 0.1 x 316.22777) = 1.1 / 32.622777 = 0.033719 -> 0.0337)
    maintenance, initial = spot_weights({**V2_MARKET, "imf_factor": "0.1"}, "100000", price="0.5")
    assert floor_bp(initial) == floor_bp(maintenance) == D("0.0337")


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="no Fill requirement type: Drift checks maker fills with the integer mean (initial + maintenance) // 2 "
    "of asset weights, liability weights and margin ratios (state/spot_market.rs get_asset_weight, "
    "state/perp_market.rs get_margin_ratio, MarginRequirementType::Fill)",
)
def test_v2_v4_fill_weights_and_ratios():
    fill = Side("fill")
    # V2 (imf 0): fill asset weight (1500 + 7500) // 2 = 4500; V4: fill margin ratio (1000 + 500) // 2 = 750
    doc = document(
        assets={"X": V2_MARKET},
        prices={"X": "0.5"},
        accounts=[{"id": "a", "balances": {"X": "100000"}}],
    )
    (line,) = one_account(doc).cross.collateral
    assert div(getattr(line, f"{fill}_value"), line.amount * line.price) == D("0.45")


@pytest.mark.xfail(
    strict=True,
    raises=InputError,
    reason="no market-wide deposits input: Drift scales the initial asset weight by the spot market's total "
    "deposits D (at the oracle price) once D >= scale_initial_asset_weight_start: w_init = w x start / D "
    "(state/spot_market.rs get_scaled_initial_asset_weight)",
)
@pytest.mark.parametrize(
    ("total_deposits_sol", "initial_weight"),
    [("1", "0.9"), ("20000", "0.9"), ("40000", "0.45"), ("60000", "0.3")],
)
def test_v3_scaled_initial_asset_weight(total_deposits_sol, initial_weight):
    # PROGRAM math/margin/tests.rs l.191 (V3): initial asset weight 9000, start $500000, SOL $25. Deposits of
    # 1 / 20000 / 40000 / 60000 SOL are $25 / $500000 / $1000000 / $1500000: 9000, 9000 (D == start),
    # 9000 x 500000 // 1000000 = 4500, 9000 x 500000 // 1500000 = 3000.
    doc = document(
        assets={"SOL": {"weight": "0.9", "scale_initial_weight_start": 500000}},
        prices={"SOL": 25},
        total_deposits={"SOL": total_deposits_sol},
        accounts=[{"id": "a", "balances": {"SOL": 1}}],
    )
    assert one_account(doc).cross.initial_collateral_value == 25 * D(initial_weight)


# --------------------------------------------------------------------------------------------------------
# Perp margin ratios: size premium; high-leverage mode


def perp_rates(instrument: dict[str, Any], base: str, mark: str = "100") -> tuple[Decimal, Decimal]:
    """(initial, maintenance) margin over notional for a long of ``base`` tokens."""
    doc = document(
        instruments={"P": instrument},
        prices={"USDC": 1},
        marks={"P": mark},
        accounts=[{"id": "a", "positions": [{"instrument": "P", "size": base, "entry_price": mark}]}],
    )
    (figures,) = one_account(doc).cross.positions
    return div(figures.initial_margin, figures.notional), div(figures.maintenance_margin, figures.notional)


def test_v4_margin_ratio_without_imf():
    # PROGRAM state/perp_market/tests.rs l.50 (V4): mri 1000, mrm 500, 1 base -> initial 1000, maintenance 500
    assert perp_rates(perp("0.1", "0.05"), "1") == (D("0.1"), D("0.05"))


def test_v4_high_leverage_mode_without_imf_is_the_hlm_table():
    # V4: with HLM 200 / 100 and an HLM user -> initial 200, maintenance 100. Without an IMF factor the HLM
    # ratios are the defaults as they stand, so a user in HLM is a document whose tables are the HLM pair.
    assert perp_rates(perp("0.02", "0.01"), "1") == (D("0.02"), D("0.01"))


def test_v5_size_premium_on_the_initial_ratio():
    # PROGRAM state/perp_market/tests.rs l.146 (V5): mri 1000, mrm 500, imf_factor 50 (5e-5), 1000000 base:
    # 800 + isqrt(1e16 + 1) x 50 // 1e7 = 800 + 500 = 1300 (exact 0.08 + 5e-5 x 1000 = 0.13)
    initial, _ = perp_rates(perp("0.1", "0.05", imf="0.00005"), "1000000")
    assert floor_bp(initial) == D("0.13")


@pytest.mark.parametrize(
    ("base", "ratio"),
    [
        # 3000 base: max(50, 40 + isqrt(3e13 + 1) x 50 // 1e7) = 40 + 5477225 x 50 // 1e7 = 40 + 27 = 67
        # (exact 0.004 + 5e-5 x 54.772 = 0.0067386)
        ("3000", "0.0067"),
        # 300000 base: 40 + isqrt(3e15 + 1) x 50 // 1e7 = 40 + 54772255 x 50 // 1e7 = 40 + 273 = 313
        # (exact 0.004 + 5e-5 x 547.72 = 0.0313861)
        ("300000", "0.0313"),
    ],
)
def test_v5_high_leverage_maintenance_with_imf(base, ratio):
    # V5: HLM pair 100 / 50; HLM maintenance is the normal size-premium formula on the HLM maintenance ratio
    _, maintenance = perp_rates(perp("0.01", "0.005", imf="0.00005"), base)
    assert floor_bp(maintenance) == D(ratio)


HLM_INTERPOLATION = (
    "no high-leverage-mode interpolation of the initial ratio: with pre = the normal initial ratio after the "
    "size premium and sa = 0.8 pre + imf x sqrt(base), Drift uses hl + max(pre - hl, 1e-4) x f with "
    "f = max(0, 1 - (pre - sa) / (pre / 5)) while sa < pre, hl when sa == pre, sa above "
    "(math/margin.rs calc_high_leverage_mode_initial_margin_ratio_from_size)"
)


@pytest.mark.parametrize(
    ("base", "ratio"),
    [
        # 0.1 and 1 base: f = 0 (the premium is far below pre), the ratio is the HLM ratio 100
        pytest.param("0.1", "0.01"),
        pytest.param("1", "0.01"),
        # 10 base: sa = 800 + 1 = 801, f = 1e6 - 199 x 1e6 // 200 = 5000, 900 x 5000 // 1e6 = 4 -> 104
        pytest.param("10", "0.0104", marks=pytest.mark.xfail(strict=True, reason=HLM_INTERPOLATION)),
        # 3000 base: sa = 827, f = 1e6 - 173 x 1e6 // 200 = 135000, 900 x 135000 // 1e6 = 121 -> 221
        pytest.param("3000", "0.0221", marks=pytest.mark.xfail(strict=True, reason=HLM_INTERPOLATION)),
    ],
)
def test_v5_high_leverage_initial_with_imf(base, ratio):
    # PROGRAM state/perp_market/tests.rs l.146 (V5): mri 1000, mrm 500, HLM 100 / 50, imf_factor 50.
    # As tables we can only give the HLM pair with the size premium on it: max(0.01, 0.008 + 5e-5 sqrt(base)),
    # which is the published ratio while the HLM ratio binds (0.1 and 1 base) and too low beyond.
    initial, _ = perp_rates(perp("0.01", "0.005", imf="0.00005"), base)
    assert floor_bp(initial) == D(ratio)


@pytest.mark.xfail(strict=True, reason=HLM_INTERPOLATION)
def test_v6_high_leverage_initial_meets_the_normal_ratio_once_the_premium_binds():
    # PROGRAM state/perp_market/tests.rs l.106 (V6): mri 500, mrm 303, HLM 100 / 66, imf 50; sizes i x 1000 base,
    # i = 1..999. Where the normal initial ratio differs from 500 (0.04 + 5e-5 sqrt(1000 i) > 0.05, i.e. i > 40)
    # the HLM initial ratio equals it: 999 - 40 = 959 sizes.
    normal = perp("0.05", "0.0303", imf="0.00005")
    hlm = perp("0.01", "0.0066", imf="0.00005")
    sizes = [1000 * i for i in range(1, 1000)]
    doc = document(
        instruments={"N": normal, "H": hlm},
        prices={"USDC": 1},
        marks={"N": 1, "H": 1},
        accounts=[
            {
                "id": "a",
                "positions": [
                    {"instrument": "N", "size": 1, "entry_price": 1},
                    {"instrument": "H", "size": 1, "entry_price": 1},
                ],
            }
        ],
    )
    portfolio, _ = load(doc)

    def initial_ratio(instrument: str, size: int) -> Decimal:
        figures = position_figures(Position(instrument, D(size), D(1)), portfolio)
        return floor_bp(div(figures.initial_margin, figures.notional))

    matches = 0
    for size in sizes:
        n, h = initial_ratio("N", size), initial_ratio("H", size)
        matches += n != D("0.05") and h == n
    assert matches == 959


# --------------------------------------------------------------------------------------------------------
# Unrealized PnL: weights, size discount, $100 initial cap


# PROGRAM math/margin/tests.rs l.234 calculate_user_equity_value_tests (V7): mri 1000, mrm 500, imf_factor 1000,
# unrealized_pnl_imf_factor 1000 (our one imf_factor 0.001 serves both), uPnL weights 1.0 / 1.0, quote price 1.
V7_MARKET = perp("0.1", "0.05", imf="0.001", upnl_weight=1, initial_upnl_weight=1, initial_upnl_cap=100)
V7_BASE = D("-6.147540983")  # base_asset_amount -(12295081967 / 2) = -6147540983 (1e9)
V7_QUOTE = D("153688.524588")  # quote_asset_amount 153688524588 (1e6): the short's entry proceeds


def v7_position(mark: str) -> Any:
    doc = document(
        instruments={"V7": V7_MARKET},
        prices={"USDC": 1},
        marks={"V7": mark},
        accounts=[
            {"id": "a", "positions": [{"instrument": "V7", "size": V7_BASE, "entry_price": div(V7_QUOTE, -V7_BASE)}]}
        ],
    )
    (position,) = one_account(doc).cross.positions
    return position


@pytest.mark.parametrize(
    ("oracle", "pnl", "requirement"),
    [
        # $22050: PnL 153688524588 - 6147540983 x 22050 // 1e9 = 153688524588 - 135553278675 = 18135245913;
        # requirement 135553278675 x 1000 // 1e4 = 13555327867 (ratio 1000: 800 + isqrt(61475409831) x 1000
        # // 1e7 = 800 + 24 = 824 < 1000)
        ("22050", "18135.245913", "13555.327867"),
        # $21050: PnL 153688524588 - 129405737692 = 24282786896; requirement 12940573769
        ("21050", "24282.786896", "12940.573769"),
    ],
)
def test_v7_upnl_capped_at_100_for_initial_margin(oracle, pnl, requirement):
    position = v7_position(oracle)
    # ours is exact (base x P is not truncated): 18135.24591285..., 24282.78689585...; the program truncates the
    # negative base x P toward zero, i.e. rounds the short's PnL up to 1e-6
    assert position.unrealized_pnl.quantize(MICRO, rounding=ROUND_CEILING) == D(pnl)
    # weighted PnL (weight 9694 at $22050, 9516 at $21050) is 17580 / 23107 dollars, capped to $100
    assert position.initial_counted_pnl == D(100)
    # maintenance uPnL weight 1.0: no discount, no cap
    assert position.counted_pnl == position.unrealized_pnl
    # ours: 135553.27867515 x 0.1 = 13555.327867515 -> floored 13555.327867 as the program's two floors give
    assert position.initial_margin.quantize(MICRO, rounding=ROUND_FLOOR) == D(requirement)


def test_v7_requirement_difference():
    # V7: 13555327867 - 12940573769 = 614754098
    high, low = v7_position("22050"), v7_position("21050")
    floored = [p.initial_margin.quantize(MICRO, rounding=ROUND_FLOOR) for p in (high, low)]
    assert floored[0] - floored[1] == D("614.754098")


def upnl_weight(pnl: Decimal) -> Decimal:
    """The initial-side weight our engine gives a positive uPnL of ``pnl`` dollars (V7 market, no cap)."""
    market = {**V7_MARKET, "initial_upnl_cap": None}
    doc = document(
        instruments={"V7": market},
        prices={"USDC": 1},
        marks={"V7": 1 + pnl},
        accounts=[{"id": "a", "positions": [{"instrument": "V7", "size": 1, "entry_price": 1}]}],
    )
    (position,) = one_account(doc).cross.positions
    assert position.unrealized_pnl == pnl
    return div(position.initial_counted_pnl, pnl)


@pytest.mark.parametrize(
    ("pnl", "weight"),
    [
        # get_unrealized_asset_weight(22699050905, Initial) = 1.1e10 // (1e6 + isqrt(226990509050001) x 1000 // 1e5)
        # = 1.1e10 // 1150662 = 9559 (exact 1.1 / (1 + 0.001 x 150.6621) = 0.955971)
        ("22699.050905", "0.9559"),
        # PnL at $22050: 1.1 / (1 + 0.001 x 134.6671) = 0.969447 -> 9694
        ("18135.245913", "0.9694"),
        # PnL at $21050 x 1, 10, 100, 1000, 10000, 800000 -> 9516, 7368, 4299, 1855, 663, 78
        ("24282.786896", "0.9516"),
        ("242827.86896", "0.7368"),
        ("2428278.6896", "0.4299"),
        ("24282786.896", "0.1855"),
        ("242827868.96", "0.0663"),
        ("19426229516.8", "0.0078"),
        # upnl_2 = 100000000 ($100): isqrt(1e12 + 1) = 1e6, x 1000 // 1e5 = 10000, 1.1e10 // 1010000 = 10891 -> 10000
        ("100", "1"),
    ],
)
def test_v7_upnl_size_discount(pnl, weight):
    # The size of a PnL is its dollars (program: pnl x 1000 in 1e9 units), discounted like a spot holding.
    assert floor_bp(upnl_weight(D(pnl))) == D(weight)


def test_v7_sdks_do_not_discount_or_cap_like_the_program():
    # Peers (record section 10): the TS SDK (sdk/src/math/market.ts l.245) and driftpy (math/margin.py
    # calculate_unrealized_asset_weight) feed the raw 1e6 PnL to the IMF discount, i.e. sqrt(pnl / 1000):
    # 1.1 / (1 + 0.001 x sqrt(24.282787)) = 1.1 / 1.0049277 = 1.0946 -> weight 10000, where the program (and we)
    # give 9516. Neither SDK applies the $100 initial cap (program math/margin.rs l.223): they count
    # 24282.786896 x 1.0 for initial margin where the program counts $100.
    assert floor_bp(upnl_weight(D("24282.786896"))) == D("0.9516")
    assert v7_position("21050").initial_counted_pnl == D(100)


# --------------------------------------------------------------------------------------------------------
# Quote price, isolated pools, buffers, open orders


def v8_document(**extra: Any) -> dict[str, Any]:
    """V8's book: 10 USDC at $1.01, long 1 SOL-PERP at $100 with its PnL weighted 0 for initial margin."""
    return document(
        instruments={"SOL-PERP": perp("0.1", "0.05", upnl_weight=1, initial_upnl_weight=0)},
        prices={"USDC": "1.01"},
        marks={"SOL-PERP": 100},
        accounts=[
            {
                "id": "a",
                "balances": {"USDC": 10},
                "positions": [{"instrument": "SOL-PERP", "size": 1, "entry_price": "0.000001"}],
            }
        ],
        **extra,
    )


def test_v8_quote_price_off_peg_with_twap_equal_to_oracle():
    # PROGRAM math/margin/tests.rs l.2843 usdc_not_1_with_perp_position (V8): USDC oracle $1.01, 10 USDC;
    # SOL-PERP mri 1000, mrm 500, long 1 SOL at oracle $100 with quote_asset_amount 0 (PnL +$100, initial uPnL
    # weight 0 -> counts 0). Initial, twap = oracle: MR = 100 x 1.01 x 0.1 = 10100000, TC = 10 x 1.01 = 10100000.
    # Our entry must be > 0: a tiny entry keeps the PnL positive, and the weight 0 makes it count 0 anyway.
    cross = one_account(v8_document()).cross
    assert cross.initial_margin == D("10.1")
    assert cross.initial_equity == D("10.1")  # Drift TC: 10 USDC at $1.01 + 0 weighted PnL


@pytest.mark.xfail(
    strict=True,
    raises=InputError,
    reason="no strict (TWAP-bounded) prices: for order placement Drift values deposits and positive PnL at "
    "min(oracle, twap_5min) and borrows, negative PnL and perp notional at max(oracle, twap_5min) of the quote "
    "and spot markets (state/oracle.rs StrictOraclePrice)",
)
@pytest.mark.parametrize(("twap", "requirement", "collateral"), [("1.05", "10.5", "10.1"), ("0.95", "10.1", "9.5")])
def test_v8_strict_quote_price(twap, requirement, collateral):
    # V8: twap 1.05 -> MR 100 x 1.05 x 0.1 = 10500000, TC 10 x 1.01 = 10100000;
    #     twap 0.95 -> MR 100 x 1.01 x 0.1 = 10100000, TC 10 x 0.95 = 9500000
    cross = one_account(v8_document(twaps={"USDC": twap})).cross
    assert (cross.initial_margin, cross.initial_equity) == (D(requirement), D(collateral))


def v9_document() -> dict[str, Any]:
    # PROGRAM math/margin/tests.rs l.4669 isolated_position_margin_requirement (V9): 20000 USDC deposit; 100 SOL
    # borrowed at $100 (default_base_market: 8000 / 9000 / 12000 / 11000, no IMF); SOL-PERP (mri 1000) isolated
    # long 100 at $100 with quote -11000 (entry $110) and 100 USDC of isolated deposit.
    return document(
        assets={
            "SOL": {
                "weight": "0.9",
                "initial_weight": "0.8",
                "liability_weight": "1.1",
                "initial_liability_weight": "1.2",
            }
        },
        instruments={"SOL-PERP": perp("0.1", "0.05")},
        prices={"USDC": 1, "SOL": 100},
        marks={"SOL-PERP": 100},
        accounts=[
            {
                "id": "a",
                "balances": {"USDC": 20000, "SOL": -100},
                "positions": [{"instrument": "SOL-PERP", "size": 100, "entry_price": 110, "isolated_margin": 100}],
            }
        ],
    )


def test_v9_isolated_pool_apart_from_the_cross_pool():
    result = one_account(v9_document())
    cross = result.cross
    usdc, sol = cross.collateral
    # Drift cross TC 20000000000 (the USDC deposit) and MR 12000000000 (100 x 100 x 1.2 borrowed SOL); our
    # collateral value nets the liability in: 20000 - 12000 = 8000 = TC - MR
    assert usdc.initial_value == D(20000)
    assert -sol.initial_value == D(12000)
    assert cross.initial_margin == 0
    assert cross.free_collateral == D(8000)  # cross meets its requirement: true
    (position,) = result.positions
    pool = position.pool
    assert pool is not None
    # isolated MR 1000000000 (10000 x 0.1); TC -900000000 (100 deposit + PnL 100 x (100 - 110) = -1000)
    assert pool.initial_margin == D(1000)
    assert pool.initial_equity == D(-900)
    assert pool.free_collateral < 0  # isolated fails, so meets_margin_requirement is false


def test_v9_liquidation_buffer():
    # V9 with margin_buffer 1000 (10 %): cross MR + buffer = 12000 + 10000 x 0.1 = 13000, TC + buffer = 20000
    # (no negative contribution); isolated MR + buffer = 1000 + 10000 x 0.1 = 2000, TC + buffer = -900 + (-1000)
    # x 0.1 = -1000. (V10, a quote-only perp position of -100 with 1 % buffer -> TC + buffer = -1, has base 0,
    # which a document cannot hold: an unsettled loss is a settle-asset balance to us.)
    # The buffer is the liquidation engine's target (LiquidationTerms buffer_basis: notional), not a margin rule:
    # liquidation starts at TC < MR as before, and stops once TC + buffer >= MR + buffer (docs/liquidation.md).
    # The vector asks for the initial side; the program's grouping keeps the borrow in MR (1.2 x 10000 = 12000).
    portfolio, rules = load(v9_document())
    result = evaluate_account(portfolio.accounts[0], portfolio, rules)
    cross = target(result.cross, D("0.1"), BufferBasis.NOTIONAL, side=Side.INITIAL)
    assert (cross.requirement, cross.collateral) == (D(13000), D(20000))
    assert cross.base_requirement == D(12000)
    (position,) = result.positions
    assert position.pool is not None
    isolated = target(position.pool, D("0.1"), BufferBasis.NOTIONAL, side=Side.INITIAL)
    assert (isolated.requirement, isolated.collateral) == (D(2000), D(-1000))


@pytest.mark.xfail(
    strict=True,
    raises=InputError,
    reason="no open orders: Drift simulates every open spot/perp order filling on each side (at max(oracle, twap)), "
    "keeps the side with the lower free-collateral contribution, books the order's USDC leg, and charges $0.01 "
    "per open order (state/user.rs simulate_fills_both_sides, OPEN_ORDER_MARGIN_REQUIREMENT)",
)
@pytest.mark.parametrize(
    ("balances", "order", "collateral", "requirement"),
    [
        # (a) 10000 USDC + bid 500 SOL: TC 40000 (500 SOL x 100 x 0.8) + 10000; MR 50000 USDC leg + 0.01
        ({"USDC": 10000}, 500, "50000", "50000.01"),
        # (b) 10000 USDC + ask 500 SOL: TC 10000 + 50000 USDC leg; MR 500 x 100 x 1.2 + 0.01
        ({"USDC": 10000}, -500, "60000", "60000.01"),
        # (c) 500 SOL + ask 3000 SOL: TC 300000 USDC leg; MR 2500 x 100 x 1.2 + 0.01
        ({"SOL": 500}, -3000, "300000", "300000.01"),
    ],
)
def test_v11_open_spot_orders(balances, order, collateral, requirement):
    # PROGRAM math/margin/tests.rs l.424, l.515, l.606 (V11): SOL 8000 / 9000 / 12000 / 11000 at $100, initial.
    # In our grouping: initial collateral value + order legs - requirement = TC - MR.
    doc = document(
        assets={
            "SOL": {
                "weight": "0.9",
                "initial_weight": "0.8",
                "liability_weight": "1.1",
                "initial_liability_weight": "1.2",
            }
        },
        prices={"SOL": 100},
        accounts=[{"id": "a", "balances": balances, "orders": [{"asset": "SOL", "size": order, "price": 100}]}],
    )
    cross = one_account(doc).cross
    assert cross.free_collateral == D(collateral) - D(requirement)


# --------------------------------------------------------------------------------------------------------
# Published liquidation example and a hand-worked cross account


def sol_long_200(mark: str) -> AccountResult:
    # DOCS content/protocol/trading/liquidations/index.mdx: 500 USDC, long 200 SOL-PERP at $25. The page's text says
    # SOL-PERP's minimum maintenance margin is 3 % but its arithmetic uses 5 % (MR = 5000 x 0.05 = 250); the
    # example is consistent only with 5 % (record section 6), so 5 % is tested. (imr is not used by the example.)
    doc = document(
        instruments={"SOL-PERP": perp("0.1", "0.05")},
        prices={"USDC": 1, "SOL": 25},
        marks={"SOL-PERP": mark},
        accounts=[
            {
                "id": "a",
                "balances": {"USDC": 500},
                "positions": [{"instrument": "SOL-PERP", "size": 200, "entry_price": 25}],
            }
        ],
    )
    return one_account(doc)


def test_docs_liquidation_example():
    # At $25: MR = 5000 x 0.05 = 250 against 500 of collateral
    assert sol_long_200("25").cross.maintenance_margin == D(250)
    # At -5.27 % (P = 23.6825): PnL = 200 x -1.3175 = -263.5, TC = 236.5, MR = 4736.5 x 0.05 = 236.825 -> liquidatable
    cross = sol_long_200("23.6825").cross
    assert cross.unrealized_pnl == D("-263.5")
    assert cross.equity == D("236.5")
    assert cross.maintenance_margin == D("236.825")
    assert cross.liquidatable


def test_docs_liquidation_price_and_the_sdk_extrapolation():
    # Exact threshold: 500 + 200 (P - 25) = 0.05 x 200 P -> 190 P = 4500 -> P = 23.684210... (-5.263 %); the docs'
    # -5.27 % is the first whole basis point past it. SDK user.ts liquidationPrice (the peer): FC = 500 - 250 = 250,
    # delta = (1 - 0.05) x 200 = 190, liq = 25 - 250 / 190 = 4500 / 190 -- the same price.
    (position,) = sol_long_200("25").positions
    assert position.liquidation_price is not None
    assert abs(position.liquidation_price - div(4500, 190)) < CLOSE
    assert round(position.liquidation_price, 6) == D("23.684211")


def test_multi_position_cross_account_by_hand():
    # Default tables (the YAML): USDC 1.0; SOL 0.9 / 0.8 (imf 0.00125: 1.1 / (1 + 0.00125 sqrt(20)) = 1.094 does
    # not bind); every perp imr 0.05, mmr 0.03, imf 0, uPnL weights 1, initial cap $100.
    doc = document(
        prices={"USDC": 1, "SOL": 150},
        marks={"BTC-PERP": 62000, "ETH-PERP": 3100, "SOL-PERP": 150},
        accounts=[
            {
                "id": "a",
                "balances": {"USDC": 5000, "SOL": 20},
                "positions": [
                    {"instrument": "BTC-PERP", "size": 1, "entry_price": 60000},  # PnL +2000
                    {"instrument": "ETH-PERP", "size": -10, "entry_price": 3000},  # PnL -1000
                    {"instrument": "SOL-PERP", "size": -200, "entry_price": 140},  # PnL -2000
                ],
            }
        ],
    )
    result = one_account(doc)
    cross = result.cross
    # collateral: 5000 + 20 x 150 x 0.9 = 7700; initial 5000 + 20 x 150 x 0.8 = 7400
    assert (cross.collateral_value, cross.initial_collateral_value) == (D(7700), D(7400))
    # uPnL 2000 - 1000 - 2000 = -1000; equity 6700. Initial: the BTC profit counts $100 only:
    # 7400 + 100 - 1000 - 2000 = 4500
    assert cross.unrealized_pnl == D(-1000)
    assert cross.equity == D(6700)
    assert cross.initial_equity == D(4500)
    # notionals 62000 + 31000 + 30000 = 123000: MM 3690, IM 6150; free collateral 4500 - 6150 = -1650 (no new
    # risk), health 6700 - 3690 = 3010 (not liquidatable)
    assert (cross.maintenance_margin, cross.initial_margin) == (D(3690), D(6150))
    assert cross.free_collateral == D(-1650)
    assert not cross.liquidatable
    btc, eth, sol = (p.liquidation_price for p in result.positions)
    assert btc is not None and eth is not None and sol is not None
    # BTC-PERP (long, down): others fixed at 7700 + (-1000 - 930) + (-2000 - 900) = 2870;
    # 2870 + (P - 60000) - 0.03 P = 0.97 P - 57130 = 0 -> P = 57130 / 0.97 = 58896.907...
    assert abs(btc - div(57130, "0.97")) < CLOSE
    # ETH-PERP (short, up): 7700 + (2000 - 1860) + (-2900) = 4940; 4940 - 10 (P - 3000) - 0.3 P = 34940 - 10.3 P
    assert abs(eth - div(34940, "10.3")) < CLOSE
    # SOL-PERP (short, up; the SOL deposit moves too): 5000 + 18 P + (2000 - 1860) + (-1000 - 930)
    # - 200 (P - 140) - 6 P = 31210 - 188 P -> P = 31210 / 188 = 166.0106...
    # SDK liquidationPrice agrees: FC = 6700 - 3690 = 3010, delta = (-1 - 0.03) x 200 + 0.9 x 20 = -188,
    # liq = 150 - 3010 / -188 = 166.0106...
    assert abs(sol - div(31210, 188)) < CLOSE


def test_shipped_rulebook_liquidates_to_its_buffer():
    # Worked by hand with the program's formulas (record 5, 7.1) on the shipped tables: 10 SOL deposited (weight 0.9;
    # the IMF discount 1.1 / (1 + 0.00125 sqrt(10)) = 1.096 does not bind), short 100 SOL-PERP from $80.5 (mmr 3 %),
    # SOL and its perp at $86. TC = 774 - 550 = 224 < MR = 100 x 86 x 3 % = 258: liquidatable.
    doc = document(
        prices={"USDC": 1, "SOL": 86},
        marks={"SOL-PERP": 86},
        accounts=[
            {
                "id": "a",
                "balances": {"SOL": 10},
                "positions": [{"instrument": "SOL-PERP", "size": -100, "entry_price": "80.5"}],
            }
        ],
    )
    portfolio, rules = load(doc)
    state = ClearingState(portfolio, rules)
    assert state.liquidatable("a")
    notices = Liquidator(state, crossmargin.venues.rulebook("drift-v2").liquidation).liquidate("a")
    # Shortage = MR + 2 % x 8600 - (TC + 2 % x (-550)) = 258 + 172 - 213 = 217; m = 3 % + 2 % = 5 %;
    # IF fee = min(0.75 %, 95 % x (5 % - 0.75 % - 217 / 8600)) = min(0.75 %, 1.64 %) = 0.75 %;
    # base = 217 / (86 x (5 % - 0.75 %) - 86 x 0.75 %) = 217 / 3.01 = 72.093 -> 72.10 (step 0.01). (With a buffer
    # multiplying MM and no IF fee the engine closed 34 / (2.58 - 0.86) = 19.8 SOL here before.)
    (fill,) = [n for n in notices if n["event"] == "liquidation"]
    assert (fill["size"], fill["fill_price"]) == (D("72.10"), D(86))
    # fees 72.1 x 86 = 6200.6 x 0.75 % = 46.5045 to the liquidator and as much to the insurance fund
    assert fill["fee"] == D("93.009")
    assert state.ledger.balance(LIQUIDATOR, "USDC") == state.ledger.balance(INSURANCE_FUND, "USDC") == D("46.5045")
    # 27.9 SOL left short: TC = 774 - 72.1 x 5.5 - 93.009 - 27.9 x 5.5 = 130.991 >= MR 71.982. The formula leaves
    # out the buffer on the fees' own loss (2 % x 93.009): TC + buffer = 130.991 - 2 % x 643.009 = 118.13 against
    # MR + buffer = 71.982 + 2 % x 2399.4 = 119.97; the program ends the liquidation here all the same.
    (leg,) = state.legs["a"].values()
    assert leg.size == D("-27.9")
    assert not state.liquidatable("a")
