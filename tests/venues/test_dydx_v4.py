"""dYdX v4 (dYdX Chain): the chain's unit-test vectors and the docs' worked examples, through our engine.

Research record: docs/venues/dydx-v4.md. Unless said otherwise a repo path is in
github.com/dydxprotocol/v4-chain at commit 84d4664bae71e3a077adaac67fb77ad19cd28d30 ("@84d4664b").

Converting the chain's integers into documents (exact decimals, no rounding):

- a quote quantum is 10^-6 USDC: ``usdc(q) = q x 10^-6``;
- a position of ``b`` base quantums is ``b x 10^atomic_resolution`` coins (contract_size 1);
- an oracle price ``(p, e)`` is ``p x 10^e`` USDC per coin.

The chain's notional is ``BaseToQuoteQuantums = trunc(b x p x 10^(e + ar + 6))`` quote quantums; in
every vector below ``b x p x 10^(e + ar + 6)`` is a whole number, so the truncation does not matter there
(it does in ``test_margin_on_the_notional_truncated_to_a_quote_quantum``: ``margin_quantum`` truncates it).

A subaccount holds a USDC balance ``u`` that carries the cost of its perpetuals; dYdX has no entry price.
Our document holds positions with entry prices: the subaccount ``(u; b_i at p_i)`` is the document with
entries at the oracle prices and balance ``u + sum b_i p_i`` (its net collateral TNC), uPnL zero. The
hand examples at the end use real entry prices.
"""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from crossmargin.venues import rulebook
from tests.builders import div
from tests.venues.evaluation import evaluate, load

QUANTUM = Decimal("0.000001")  # one quote quantum, 10^-6 USDC
CLOSE = Decimal("1E-30")


def usdc(quote_quantums: int) -> Decimal:
    """Quote quantums as USDC."""
    return Decimal(quote_quantums).scaleb(-6)


def coins(base_quantums: int, atomic_resolution: int) -> Decimal:
    """Base quantums as coins."""
    return Decimal(base_quantums).scaleb(atomic_resolution)


def oracle(price: int, exponent: int) -> Decimal:
    """An oracle price (price, exponent) as USDC per coin."""
    return Decimal(price).scaleb(exponent)


def tier(
    initial_ppm: int, fraction_ppm: int, caps: tuple[int, int] | None = None, underlying: str = "X"
) -> dict[str, Any]:
    """A USDC-margined perpetual on one liquidity tier (ppm as on chain; caps in quote quantums)."""
    instrument: dict[str, Any] = {
        "kind": "perpetual",
        "underlying": underlying,
        "settle": "USDC",
        "contract_size": 1,
        "tiers": [{"max_notional": None, "imr": Decimal(initial_ppm).scaleb(-6)}],
        "maintenance_fraction": Decimal(fraction_ppm).scaleb(-6),
        "margin_quantum": QUANTUM,
        "rate_quantum": QUANTUM,
    }
    if caps is not None:
        instrument["open_interest_caps"] = [usdc(caps[0]), usdc(caps[1])]
    return instrument


def document(
    balance: Decimal | int | str,
    positions: list[tuple[str, Decimal | int | str, Decimal | int | str, Decimal | int | str]],
    instruments: dict[str, Any] | None = None,
    open_interest: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """A dydx-v4 document with one account: USDC ``balance`` and (instrument, size, entry, mark) positions."""
    return {
        "version": 1,
        "base": "USD",
        "rulebook": "dydx-v4",
        "instruments": instruments or {},
        "prices": {"USDC": 1},
        "marks": {name: Decimal(mark) for name, _, _, mark in positions},
        "open_interest": open_interest or {},
        "accounts": [
            {
                "id": "a",
                "balances": {"USDC": Decimal(balance)},
                "positions": [
                    {"instrument": name, "size": Decimal(size), "entry_price": Decimal(entry)}
                    for name, size, entry, _ in positions
                ],
            }
        ],
    }


def subaccount(
    usdc_quantums: int, positions: list[tuple[str, Decimal, Decimal]], instruments: dict[str, Any]
) -> dict[str, Any]:
    """The subaccount (USDC balance in quote quantums; (instrument, coins, oracle price)) as a document.

    Entries at the oracle price, balance u + sum(size x price) (see the module doc).
    """
    balance = usdc(usdc_quantums) + sum((size * price for _, size, price in positions), Decimal(0))
    return document(balance, [(name, size, price, price) for name, size, price in positions], instruments)


def margins(doc: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(initial, maintenance) of the account's cross pool, in USDC."""
    cross = evaluate(doc)["a"].cross
    return cross.initial_margin, cross.maintenance_margin


def one_position(quantity: Decimal, price: Decimal, instrument: dict[str, Any], oi: Decimal | None = None):
    """A document holding ``quantity`` coins of X-PERP at ``price`` (open interest ``oi`` USDC)."""
    interest = None if oi is None else {"X-PERP": oi}
    return document(0, [("X-PERP", quantity, price, price)], {"X-PERP": instrument}, interest)


# --- the bundled rulebook -------------------------------------------------------------------------------


def test_bundled_rulebook_loads():
    # docs/venues/dydx-v4.md sections 5 (strict TNC < TMMR), 7 (fillable price, partial, ADL), 9.1/9.3
    # (max_liquidation_fee_ppm 15000 = 1.5%, 100% to the insurance fund).
    book = rulebook("dydx-v4")
    assert book.name == "dydx-v4"
    assert book.rules.liquidate_at_equality is False
    assert book.rules.liquidation_threshold == 1
    assert book.liquidation.fee_rate == Decimal("0.015")
    assert book.liquidation.insurance_fund_share == 1
    assert book.liquidation.partial is True
    assert book.liquidation.fill_price == "fillable"
    assert book.liquidation.shortfall == "adl"
    assert set(book.assets) == {"USDC"}  # x/assets/lib/lib.go: only USDC is collateral
    assert set(book.instruments) == {"BTC-PERP", "ETH-PERP", "SOL-PERP"}  # no coin-margined perpetuals
    assert all(source.where and source.taken for source in book.sources)


def test_bundled_tiers_resolve_to_the_sample_pregenesis_fractions():
    # sample_pregenesis.json @4d0c660c9: tier 0 Large-Cap 20000 ppm x 600000 ppm -> IMF 2%, MMF 1.2%;
    # tier 1 Small-Cap 100000 x 500000 -> 10%, 5%, OI caps 20 000 000 000 000 / 50 000 000 000 000
    # quote quantums = $20M / $50M.
    portfolio, _ = load(document(1000, []))
    for name in ("BTC-PERP", "ETH-PERP"):
        (bracket,) = portfolio.instruments[name].tiers.tiers
        assert (bracket.imr, bracket.mmr) == (Decimal("0.02"), Decimal("0.012"))
        assert portfolio.instruments[name].open_interest_caps is None
    (sol,) = portfolio.instruments["SOL-PERP"].tiers.tiers
    assert (sol.imr, sol.mmr) == (Decimal("0.1"), Decimal("0.05"))
    assert portfolio.instruments["SOL-PERP"].open_interest_caps == (Decimal(20_000_000), Decimal(50_000_000))
    assert portfolio.instruments["SOL-PERP"].margin_quantum == QUANTUM


def test_a_document_naming_only_canonical_instruments_evaluates():
    # Hand: 5000 USDC, long 0.1 BTC at 60000 (entry 60000), short 1 ETH at 3000 (entry 3000), long 10 SOL
    # at 150 (entry 150). Notionals 6000, 3000, 1500. IM = 6000 x 0.02 + 3000 x 0.02 + 1500 x 0.1
    # = 120 + 60 + 150 = 330. MM = 120 x 0.6 + 60 x 0.6 + 150 x 0.5 = 72 + 36 + 75 = 183.
    doc = document(
        5000,
        [("BTC-PERP", "0.1", 60000, 60000), ("ETH-PERP", -1, 3000, 3000), ("SOL-PERP", 10, 150, 150)],
    )
    cross = evaluate(doc)["a"].cross
    assert cross.equity == Decimal(5000)
    assert cross.initial_margin == Decimal(330)
    assert cross.maintenance_margin == Decimal(183)
    assert cross.free_collateral == Decimal(4670)
    assert cross.liquidatable is False


# --- OI-scaled initial margin: protocol/x/perpetuals/types/liquidity_tier_test.go @84d4664b ---------------


@pytest.mark.parametrize(
    ("initial_ppm", "caps", "oi_quantums", "quote_quantums", "expected_imr"),
    [
        # "initial margin 20%": ceil(500 000 x 0.2) = 100 000
        (200_000, None, 0, 500_000, 100_000),
        # "initial margin 10%, quote quantums = 1, should round up to 1": ceil(0.1) = 1
        (100_000, None, 0, 1, 1),
        # "initial margin 56.7243%, quote quantums = 123_456": ceil(70029.5518...) = 70 030
        (567_243, None, 0, 123_456, 70_030),
        # "lower_cap = upper_cap = 0": no OIMF (caps left out), 0.2 x 500 000 = 100 000
        (200_000, None, 1_500_000_000_000, 500_000, 100_000),
        # "scaling_factor = 0.5": OIMF = 0.2 + 0.5 x 0.8 = 0.6; 0.6 x 500 000 = 300 000
        (200_000, (1_000_000_000_000, 2_000_000_000_000), 1_500_000_000_000, 500_000, 300_000),
        # "open_interest >> upper_cap": OIMF 100% -> 500 000
        (200_000, (25_000_000_000_000, 50_000_000_000_000), 80_000_000_000_000, 500_000, 500_000),
        # "open_interest = lower_cap": OIMF = base 20% -> 100 000
        (200_000, (25_000_000_000_000, 50_000_000_000_000), 25_000_000_000_000, 500_000, 100_000),
        # "realistic numbers": chain imf = 200000 + floor(800000 x 3 123 456 789 123 / 35 000 000 000 000)
        # = 271 393 ppm; ceil(500 000 x 0.271393) = ceil(135 696.5) = 135 697. Exact rate (no ppm floor)
        # 0.27139329803...: ceil(135 696.649...) = 135 697 as well, so the floor does not matter here.
        (200_000, (25_000_000_000_000, 60_000_000_000_000), 28_123_456_789_123, 500_000, 135_697),
    ],
)
def test_initial_margin_quote_quantums(initial_ppm, caps, oi_quantums, quote_quantums, expected_imr):
    # TestGetInitialMarginQuoteQuantums (docs/venues/dydx-v4.md V2): the notional is given in quote
    # quantums; we hold 1 coin at a price equal to it. Maintenance fraction: 0.5 (not used).
    instrument = tier(initial_ppm, 500_000, caps)
    doc = one_position(Decimal(1), usdc(quote_quantums), instrument, usdc(oi_quantums))
    initial, _ = margins(doc)
    assert initial == usdc(expected_imr)


@pytest.mark.parametrize(
    ("caps", "oi_quantums", "expected_ppm"),
    [
        ((1_000_000, 2_000_000), 0, 200_000),  # "Zero open interest"
        ((1_000_000, 2_000_000), 1_500_000, 600_000),  # "within bounds": 0.2 + 0.5 x 0.8
        ((1_000_000, 2_000_000), 1_000_000, 200_000),  # "at lower bound"
        ((1_000_000, 2_000_000), 2_000_000, 1_000_000),  # "at upper bound"
        ((1_000_000, 2_000_000), 2_500_000, 1_000_000),  # "above upper bound"
        (None, 1_500_000, 200_000),  # "No upper bound, no increase" (caps 0/0: left out)
    ],
)
def test_adjusted_initial_margin_ppm(caps, oi_quantums, expected_ppm):
    # TestGetAdjustedInitialMarginPpm (V1), imf 200 000 ppm. The IMF read as the IMR of a 1 USDC notional:
    # ceil(1 000 000 x ppm / 10^6) = ppm quote quantums exactly.
    doc = one_position(Decimal(1), Decimal(1), tier(200_000, 500_000, caps), usdc(oi_quantums))
    initial, _ = margins(doc)
    assert initial == usdc(expected_ppm)


def test_adjusted_initial_margin_ppm_rounds_down():
    # TestGetAdjustedInitialMarginPpm "Open interest within bounds, rounded" (V1): caps 1 000 000 / 2 000 000,
    # OIN 1 234 567: 200000 + floor(800000 x 234567 / 1000000) = 200000 + floor(187653.6) = 387 653 ppm.
    # On a 1 USDC notional the chain's IMR is 387 653 quote quantums; we scale exactly (0.3876536) and
    # round the requirement up: 0.387654.
    doc = one_position(Decimal(1), Decimal(1), tier(200_000, 500_000, (1_000_000, 2_000_000)), usdc(1_234_567))
    initial, _ = margins(doc)
    assert initial == usdc(387_653)


# --- margin requirements: protocol/x/perpetuals/lib/lib_test.go @84d4664b -------------------------------


def test_oimf_scaled_to_100_percent():
    # TestGetMarginRequirementsInQuoteQuantums_2 "OIMF: IM 20%, scaled to 100%" (V3): price 367 500 exp -1,
    # ar -6, 12 000 base quantums -> 0.012 coin at 36 750: N = 441 000 000 qq = 441 USDC. OI 1 000 000 000
    # base quantums = 1000 coins -> OIN 36 750 000 USDC >= U = 20 000 000 USDC: IMF 100% -> IMR 441 000 000.
    # MMR from the base IMF: ceil(ceil(441 x 0.2) x 0.5) = 44 100 000. (An older copy @08dfc6cb writes the
    # price 36 750 exp 0: the same value.)
    price = oracle(367_500, -1)
    oi = coins(1_000_000_000, -6) * price
    instrument = tier(200_000, 500_000, (10_000_000_000_000, 20_000_000_000_000))
    assert margins(one_position(coins(12_000, -6), price, instrument, oi)) == (usdc(441_000_000), usdc(44_100_000))


def test_oimf_scaled_to_60_percent():
    # Same test, "OIMF: IM 20%, scaled to 60%" (V3): OI 408 163 265 base quantums x 36 750 =
    # OIN 14 999 999.98875 USDC; imf_adj = 200000 + floor(800000 x 4 999 999 988 750 / 10^13) = 599 999 ppm;
    # IMR = ceil(441 000 000 x 599 999 / 10^6) = 264 599 559 qq; MMR 44 100 000.
    # Unfloored: 441 x 0.5999999991 = 264.5999996031 -> 264.600000 (441 quote quantums more).
    price = oracle(367_500, -1)
    oi = coins(408_163_265, -6) * price
    instrument = tier(200_000, 500_000, (10_000_000_000_000, 20_000_000_000_000))
    assert margins(one_position(coins(12_000, -6), price, instrument, oi)) == (usdc(264_599_559), usdc(44_100_000))


@pytest.mark.parametrize(
    ("initial_ppm", "expected_imr", "expected_mmr"),
    [
        # "InitialMargin 25%, MaintenanceMargin 15%" (V4): N = 123 456 x 74 523 = 9 200 311 488 qq;
        # IMR = 0.25 x N = 2 300 077 872; MMR = ceil(2 300 077 872 x 0.6) = ceil(1 380 046 723.2) = 1 380 046 724.
        (250_000, 2_300_077_872, 1_380_046_724),
        # "InitialMargin 5%, MaintenanceMargin 3%": IMR = ceil(460 015 574.4) = 460 015 575;
        # MMR = ceil(460 015 575 x 0.6) = 276 009 345.
        (50_000, 460_015_575, 276_009_345),
    ],
)
def test_margin_requirements_round_up(initial_ppm, expected_imr, expected_mmr):
    # price 1 234 560 exp -1 = 123 456 USDC per coin, ar -6: 74 523 base quantums = 0.074523 coin;
    # maintenance_fraction_ppm 600 000.
    doc = one_position(coins(74_523, -6), oracle(1_234_560, -1), tier(initial_ppm, 600_000))
    assert margins(doc) == (usdc(expected_imr), usdc(expected_mmr))


@pytest.mark.parametrize("base_quantums", [1, -1])
@pytest.mark.parametrize(
    ("caps", "expected_imr"),
    [
        (None, 2_469_135_782_460_000),  # 20% of N
        ((1_000_000_000_000, 2_000_000_000_000), 12_345_678_912_300_000),  # OIN far above U: 100% of N
    ],
)
def test_margin_requirements_large_numbers(base_quantums, caps, expected_imr):
    # TestGetMarginRequirementsInQuoteQuantums (V5): ar 4 (one base quantum = 10 000 coins), price
    # 123 456 789 123 exp -5 = 1 234 567.89123 USDC: N = 12 345 678 912 300 000 qq for +-1 base quantum;
    # imf 200 000, mf 500 000: IMR 2 469 135 782 460 000, MMR 1 234 567 891 230 000 (sign does not matter).
    # OI 1 000 000 000 000 base quantums: OIN = 1.23456789123e28 qq, above U = 2 000 000 000 000.
    price = oracle(123_456_789_123, -5)
    oi = coins(1_000_000_000_000, 4) * price
    doc = one_position(coins(base_quantums, 4), price, tier(200_000, 500_000, caps), oi)
    assert margins(doc) == (usdc(expected_imr), usdc(1_234_567_891_230_000))


@pytest.mark.parametrize(
    ("price", "atomic_resolution", "base_quantums", "expected_imr", "expected_mmr"),
    [
        # "InitialMargin 100 BIPs, MaintenanceMargin 50 BIPs, atomic resolution 4" (V6): price 5 555 per coin,
        # 7 000 base quantums = 0.7 coin: N = 3 888 500 000 qq; IMR 38 885 000; MMR 19 442 500.
        (oracle(55_550, -1), -4, 7_000, 38_885_000, 19_442_500),
        # "... negative exponent, atomic resolution 6": 420 000 per coin, -5 000 base quantums = -0.005 coin:
        # N = 2 100 000 000 qq; IMR 21 000 000; MMR 10 500 000.
        (oracle(42_000_000, -2), -6, -5_000, 21_000_000, 10_500_000),
    ],
)
def test_margin_requirements_small_cases(price, atomic_resolution, base_quantums, expected_imr, expected_mmr):
    # TestGetMarginRequirementsInQuoteQuantums_2, imf 10 000 ppm (1%), mf 500 000. Price integers as the
    # research record gives them at @84d4664b; an older stored copy of lib_test.go (@08dfc6cb) writes the
    # first as 5 555 exp 0 (the same 5 555 USDC per coin) with the same expected margins.
    doc = one_position(coins(base_quantums, atomic_resolution), price, tier(10_000, 500_000))
    assert margins(doc) == (usdc(expected_imr), usdc(expected_mmr))


def test_maintenance_is_rounded_up_twice():
    # protocol/x/perpetuals/lib/lib.go GetMarginRequirementsInQuoteQuantums (research record 4.4), by hand:
    # N = 21 qq, imf 50 000, mf 600 000: IM = ceil(21 x 0.05) = ceil(1.05) = 2 qq;
    # MMR = ceil(2 x 0.6) = ceil(1.2) = 2 qq, not ceil(21 x 0.03) = ceil(0.63) = 1.
    doc = one_position(Decimal(1), usdc(21), tier(50_000, 600_000))
    assert margins(doc) == (usdc(2), usdc(2))


def test_margin_on_the_notional_truncated_to_a_quote_quantum():
    # lib.go BaseToQuoteQuantums truncates toward zero; the margin functions use floor(|q| p 10^x). By hand:
    # Safety tier (imf 1 000 000, mf 200 000), ar -9, price 3 333 333 333 exp -6, q = -3 base quantums:
    # x = -6 - 9 + 6 = -9, N = trunc(3 x 3 333 333 333 / 10^9) = trunc(9.999999999) = 9 qq;
    # IMR = ceil(9 x 1) = 9 qq; MMR = ceil(9 x 0.2) = ceil(1.8) = 2 qq.
    # Untruncated, IMR = ceil(9.999999999) = 10 qq (MMR is 2 either way).
    doc = one_position(coins(-3, -9), oracle(3_333_333_333, -6), tier(1_000_000, 200_000))
    assert margins(doc) == (usdc(9), usdc(2))


# --- liquidation condition: protocol/lib/margin/risk_test.go @84d4664b TestRisk_IsLiquidatable (V17) -------


@pytest.mark.parametrize(
    ("nc", "mmr", "liquidatable"),
    [(0, 100, True), (-100, 100, True), (75, 100, True), (100, 100, False), (125, 100, False)],
)
def test_is_liquidatable_with_a_position(nc, mmr, liquidatable):
    # NC and MMR in quote quantums. MMR 100 qq from one coin at 0.0001 USDC on a tier with imf 1 000 000 and
    # mf 1 000 000: ceil(ceil(100 x 1) x 1) = 100. Balance so that TNC = nc (entry at the oracle price).
    assert mmr == 100
    doc = subaccount(nc - 100, [("X-PERP", Decimal(1), usdc(100))], {"X-PERP": tier(1_000_000, 1_000_000)})
    cross = evaluate(doc)["a"].cross
    assert (cross.equity, cross.maintenance_margin) == (usdc(nc), usdc(mmr))
    assert cross.liquidatable is liquidatable


@pytest.mark.parametrize(("nc", "liquidatable"), [(100, False), (0, False)])
def test_is_liquidatable_without_maintenance(nc, liquidatable):
    # (100, 0) -> false; (0, 0) -> false: a subaccount with TMMR = 0 (here no positions).
    cross = evaluate(document(usdc(nc), []))["a"].cross
    assert cross.liquidatable is liquidatable


def test_negative_collateral_without_maintenance_is_not_liquidatable():
    # (-100, 0) -> false: NC = -100 qq, no positions, TMMR 0.
    cross = evaluate(document(usdc(-100), []))["a"].cross
    assert cross.liquidatable is False


# --- fixtures behind the liquidation vectors (liquidations_test.go @84d4664b, V8) -------------------------

FIXTURES = {
    # BtcUsd_20PercentInitial_10PercentMaintenance (ar -8) and EthUsd_... (ar -9) on liquidity tier 3 of
    # testutil/constants: initial 200 000 ppm, maintenance fraction 500 000 ppm.
    "BTC-PERP": tier(200_000, 500_000, underlying="BTC"),
    "ETH-PERP": tier(200_000, 500_000, underlying="ETH"),
}
BTC = oracle(5_000_000_000, -5)  # market 0: $50 000
ETH = oracle(3_000_000_000, -6)  # market 1: $3 000


@pytest.mark.parametrize(
    ("usdc_quantums", "btc", "eth", "tnc", "tmmr", "liquidatable"),
    [
        (-4_501_000_000, 10_000_000, 0, 499_000_000, 500_000_000, True),  # V8a: 0.1 BTC long
        (5_499_000_000, -10_000_000, 0, 499_000_000, 500_000_000, True),  # V8b: 0.1 BTC short
        (-5_000_000_000, 10_000_000, 0, 0, 500_000_000, True),  # V8c
        (-5_100_000_000, 10_000_000, 0, -100_000_000, 500_000_000, True),  # V8d
        (-490_000_000, 400_000, 100_000_000, 10_000_000, 50_000_000, True),  # V8e: 0.004 BTC + 0.1 ETH long
        (110_000_000, 400_000, -100_000_000, 10_000_000, 50_000_000, True),  # V8f: ETH short
        (-13_000_000, 100_000_000, 0, 49_987_000_000, 5_000_000_000, False),  # V8g: 1 BTC long
        (13_000_000, -100_000_000, 0, -49_987_000_000, 5_000_000_000, True),  # V8h: 1 BTC short
    ],
)
def test_liquidation_vector_subaccounts(usdc_quantums, btc, eth, tnc, tmmr, liquidatable):
    # The TNC and TMMR the bankruptcy-price vectors start from (research record section 8, by hand from the
    # fixtures): 0.1 BTC -> N 5 000 000 000, MMR ceil(ceil(5e9 x 0.2) x 0.5) = 500 000 000; 0.1 ETH ->
    # N 300 000 000, MMR 30 000 000; 0.004 BTC -> N 200 000 000, MMR 20 000 000; 1 BTC -> MMR 5 000 000 000.
    # E.g. V8e: TNC = -490e6 + 200e6 + 300e6 = 10e6; TMMR = 20e6 + 30e6 = 50e6.
    held = [("BTC-PERP", coins(btc, -8), BTC), ("ETH-PERP", coins(eth, -9), ETH)]
    doc = subaccount(usdc_quantums, [p for p in held if p[1] != 0], FIXTURES)
    cross = evaluate(doc)["a"].cross
    assert (cross.equity, cross.maintenance_margin) == (usdc(tnc), usdc(tmmr))
    assert cross.liquidatable is liquidatable


# --- the docs' worked examples ----------------------------------------------------------------------------

ETH_5 = {"ETH-PERP": tier(100_000, 500_000, underlying="ETH")}  # MMF 5% (imf 10% x fraction 0.5)


def two_dp(value: Decimal | None) -> Decimal:
    assert value is not None
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize("isolated", [False, True])
def test_docs_isolated_liquidation_price(isolated):
    # docs.dydx.xyz Liquidations, "Isolated Liquidation Price" (v4-documentation
    # docs/pages/concepts/trading/liquidations.mdx @df2cc995218196355dacc139d6695536947c0e7e):
    # e = 1000, s = -3 ETH at 3000, MMF 0.05: p' = (1000 + 9000) / (0.15 + 3) = 10000 / 3.15 ≈ 3174.60.
    # The docs give only the MMF; any imf x fraction = 0.05 gives this price (we take 10% x 0.5).
    # dYdX margins an isolated market in its own subaccount: the same account alone, or an isolated position.
    doc = document(1000, [("ETH-PERP", -3, 3000, 3000)], ETH_5)
    if isolated:
        doc["accounts"][0]["balances"] = {"USDC": Decimal(0)}
        doc["accounts"][0]["positions"][0]["isolated_margin"] = Decimal(1000)
    (position,) = evaluate(doc)["a"].positions
    assert position.liquidation_price is not None
    assert abs(position.liquidation_price - div(10000, "3.15")) < CLOSE
    assert two_dp(position.liquidation_price) == Decimal("3174.60")


def test_docs_isolated_equity_at_the_liquidation_price():
    # Same example: "the trader's remaining equity would be ... $476.2 based on (3 * 3174.6 * 0.05 ≈ 476.2)".
    # At 3174.6: equity = 1000 - 3 x (3174.6 - 3000) = 476.2; MM = 3 x 3174.6 x 0.05 = 476.19.
    cross = evaluate(document(1000, [("ETH-PERP", -3, 3000, "3174.6")], ETH_5))["a"].cross
    assert cross.equity == Decimal("476.2")
    assert cross.maintenance_margin.quantize(Decimal("0.1")) == Decimal("476.2")
    assert cross.maintenance_margin == Decimal("476.19")


STRK_ETH = {
    **ETH_5,
    # MMF 10% for STRK (the example's figure); 20% x 0.5 (Long-Tail tier) chosen to give it.
    "STRK-PERP": tier(200_000, 500_000, underlying="STRK"),
}


def strk_eth_cross() -> dict[str, Any]:
    # e = 1000; short 1.5 ETH at 3000 (MMF 5%, from the isolated example); long 1000 STRK at 1.75 (MMF 10%).
    return document(1000, [("ETH-PERP", "-1.5", 3000, 3000), ("STRK-PERP", 1000, "1.75", "1.75")], STRK_ETH)


def test_docs_cross_liquidation_price():
    # liquidations.mdx @df2cc995, "Cross Liquidation Price": MMR_o = 1000 x 1.75 x 0.10 = 175;
    # p' = (1000 - (-1.5 x 3000) - 175) / (1.5 x 0.05 + 1.5) = 5325 / 1.575 ≈ 3380.95.
    eth, _ = evaluate(strk_eth_cross())["a"].positions
    assert eth.liquidation_price is not None
    assert abs(eth.liquidation_price - div(5325, "1.575")) < CLOSE
    assert two_dp(eth.liquidation_price) == Decimal("3380.95")


def abacus_liquidation_price(other_risk: Decimal, size: Decimal, oracle_price: Decimal, equity: Decimal, mmf: Decimal):
    """v4-abacus SubaccountCalculatorV2.calculatePositionLiquidationPrice @033b44e9 (research record 10)."""
    denominator = size - size * mmf if size > 0 else size + size * mmf
    return (other_risk + size * oracle_price - equity) / denominator


def test_abacus_liquidation_price_agrees_only_with_maintenance_as_other_risk():
    # dydxprotocol/v4-abacus src/commonMain/kotlin/exchange.dydx.abacus/calculator/V2/SubaccountCalculatorV2.kt
    # @033b44e9ffe528d69ad13ea7c9a67d66c34aa3a4 solves the docs' equation, (otherRisk + s p - e) / (s + s MMF)
    # for a short, but sums otherRisk with the *initial* fraction. On the docs' cross example:
    # - with the maintenance requirement (175) it is the docs' 5325 / 1.575 = 3380.95, and ours;
    # - as abacus computes it, STRK at its IMF 20%: 1000 x 1.75 x 0.2 = 350, (350 - 4500 - 1000) / -1.575
    #   = 5150 / 1.575 = 3269.84, a price at which the chain does not liquidate: there equity =
    #   1000 - 1.5 x 269.84 = 595.24 > MM = 175 + 1.5 x 3269.84 x 0.05 = 420.24.
    eth, _ = evaluate(strk_eth_cross())["a"].positions
    assert eth.liquidation_price is not None
    s, p, e, mmf = Decimal("-1.5"), Decimal(3000), Decimal(1000), Decimal("0.05")
    agreeing = abacus_liquidation_price(Decimal(175), s, p, e, mmf)
    assert two_dp(agreeing) == two_dp(eth.liquidation_price) == Decimal("3380.95")
    as_abacus = abacus_liquidation_price(Decimal(350), s, p, e, mmf)
    assert two_dp(as_abacus) == Decimal("3269.84")
    book = strk_eth_cross()
    book["marks"]["ETH-PERP"] = as_abacus
    at_abacus_price = evaluate(book)["a"].cross
    assert two_dp(at_abacus_price.equity) == Decimal("595.24")
    assert two_dp(at_abacus_price.maintenance_margin) == Decimal("420.24")
    assert at_abacus_price.liquidatable is False


def test_contract_loss_example_is_liquidatable():
    # dYdX contract-loss page (dydx-documentation-six.vercel.app/concepts/trading/contract-loss-mechanism,
    # V20): deposit 100, long 500 ABC at $1, MMF 3%; at $0.801 equity = 100 + 500 x (0.801 - 1) = 0.5 and
    # MMR = 500 x 0.801 x 0.03 = 12.015: liquidatable. (Its fill near $0.77 is the fillable price: the
    # liquidation engine's, not tested here.) MMF 3% as imf 5% x fraction 0.6 (genesis tier 0).
    abc = {"ABC-PERP": tier(50_000, 600_000, underlying="ABC")}
    cross = evaluate(document(100, [("ABC-PERP", 500, 1, "0.801")], abc))["a"].cross
    assert cross.equity == Decimal("0.5")
    assert cross.maintenance_margin == Decimal("12.015")
    assert cross.liquidatable is True


def test_mainnet_genesis_liquidation_candidate():
    # Research record V22 (ours, by hand from mainnet genesis tier 0: imf 50 000, mf 600 000): BTC ar -10 at
    # price 6 000 000 000 exp -5 = $60 000; +5 000 000 000 base quantums = 0.5 BTC; USDC -29 200 000 000.
    # N = 30 000 000 000 qq; IMR = 1 500 000 000; MMR = ceil(1.5e9 x 0.6) = 900 000 000;
    # TNC = -29 200 000 000 + 30 000 000 000 = 800 000 000 < 900 000 000: liquidatable.
    genesis = {"BTC-PERP": tier(50_000, 600_000, underlying="BTC")}
    doc = subaccount(-29_200_000_000, [("BTC-PERP", coins(5_000_000_000, -10), oracle(6_000_000_000, -5))], genesis)
    cross = evaluate(doc)["a"].cross
    assert (cross.equity, cross.initial_margin, cross.maintenance_margin) == (
        usdc(800_000_000),
        usdc(1_500_000_000),
        usdc(900_000_000),
    )
    assert cross.liquidatable is True


# --- a cross account worked by hand on the bundled tables --------------------------------------------------


def multi_position_book() -> dict[str, Any]:
    # 20 000 USDC; long 0.5 BTC (entry 58 000, oracle 60 000); short 10 ETH (entry 3 100, oracle 3 000);
    # long 100 SOL (entry 160, oracle 150); SOL-USD long open interest $35M (between its caps $20M / $50M).
    return document(
        20000,
        [("BTC-PERP", "0.5", 58000, 60000), ("ETH-PERP", -10, 3100, 3000), ("SOL-PERP", 100, 160, 150)],
        open_interest={"SOL-PERP": Decimal(35_000_000)},
    )


def test_multi_position_cross_account_by_hand():
    # docs/venues/dydx-v4.md sections 3-4 on the bundled tables (BTC, ETH: 2% x 0.6; SOL: 10% x 0.5, caps).
    # uPnL: BTC 0.5 x 2000 = +1000; ETH -10 x (3000 - 3100) = +1000; SOL 100 x (150 - 160) = -1000.
    # Equity (TNC) = 20000 + 1000 = 21000 (profits count in full).
    # Notionals: 30 000, 30 000, 15 000.
    # SOL IMF scaled by OI: 0.1 + (1 - 0.1) x (35M - 20M) / (50M - 20M) = 0.1 + 0.9 x 0.5 = 0.55.
    # IM = 30000 x 0.02 + 30000 x 0.02 + 15000 x 0.55 = 600 + 600 + 8250 = 9450.
    # MM from the base IMF (OI does not scale it): 600 x 0.6 + 600 x 0.6 + 1500 x 0.5 = 360 + 360 + 750 = 1470.
    # Free collateral = 21000 - 9450 = 11550; not liquidatable (21000 >= 1470).
    result = evaluate(multi_position_book())["a"]
    cross = result.cross
    assert cross.unrealized_pnl == Decimal(1000)
    assert cross.equity == Decimal(21000)
    assert [p.initial_margin for p in cross.positions] == [Decimal(600), Decimal(600), Decimal(8250)]
    assert [p.maintenance_margin for p in cross.positions] == [Decimal(360), Decimal(360), Decimal(750)]
    assert cross.initial_margin == Decimal(9450)
    assert cross.maintenance_margin == Decimal(1470)
    assert cross.free_collateral == Decimal(11550)
    assert cross.liquidatable is False


def test_multi_position_liquidation_prices_by_hand():
    # The docs' cross formula p' = (e - s p - MMR_o) / (|s| MMF - s), every other oracle price held:
    # BTC: MMR_o = 360 + 750 = 1110; p' = (21000 - 30000 - 1110) / (0.5 x 0.012 - 0.5) = -10110 / -0.494
    #      = 20465.5870...; the other positions' PnL (+1000 - 1000) is in e.
    # ETH: MMR_o = 360 + 750 = 1110; p' = (21000 + 30000 - 1110) / (10 x 0.012 + 10) = 49890 / 10.12
    #      = 4929.8418...
    # SOL: MMR_o = 720; p' = (21000 - 15000 - 720) / (100 x 0.05 - 100) = 5280 / -95 < 0: none.
    btc, eth, sol = evaluate(multi_position_book())["a"].positions
    assert btc.liquidation_price is not None and abs(btc.liquidation_price - div(10110, "0.494")) < CLOSE
    assert eth.liquidation_price is not None and abs(eth.liquidation_price - div(49890, "10.12")) < CLOSE
    assert sol.liquidation_price is None


def test_indexer_free_collateral_differs_above_the_oi_cap():
    # Peer: dYdX indexer (comlink) calculateEquityAndFreeCollateral @59cd776be, research record 10:
    # freeCollateral = equity - sum(|notional| x IMF) with the base IMF, no OI scaling, no rounding.
    # On the book above it gives 21000 - (600 + 600 + 15000 x 0.1) = 21000 - 2700 = 18300; the chain (and
    # we) scale SOL's IMF to 0.55: 21000 - 9450 = 11550. Without open interest the two agree: 18300.
    indexer = Decimal(21000) - (Decimal(600) + Decimal(600) + Decimal(15000) * Decimal("0.1"))
    assert indexer == Decimal(18300)
    assert evaluate(multi_position_book())["a"].cross.free_collateral == Decimal(11550)
    without_oi = multi_position_book()
    without_oi["open_interest"] = {}
    assert evaluate(without_oi)["a"].cross.free_collateral == indexer
