"""The synthetic book generator: determinism, the shape of the book, valid tables, books that evaluate, books
that start solvent unless asked for distressed accounts."""

import math
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from crossmargin.margin.account import evaluate_account, isolated_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import Account, Portfolio, RuleChoices, TierSpec, TierTable
from crossmargin.sim.population import BookShape, drawn_book, synthetic_book
from crossmargin.sim.stress.configs import isolated_book
from crossmargin.venues import rulebook

RULES = rulebook("generic").rules
STRICT = rulebook("binance-pm").rules
"""A rulebook ``crossmargin stress --rulebook`` runs: liquidation at equity <= 1.05 x maintenance, the highest
threshold shipped."""


@pytest.fixture(scope="module")
def book() -> Portfolio:
    return synthetic_book(5000, seed=0)


def test_same_seed_gives_an_equal_book():
    assert synthetic_book(400, seed=7) == synthetic_book(400, seed=7)


def test_different_seeds_give_different_books():
    first, second = synthetic_book(400, seed=7), synthetic_book(400, seed=8)
    assert first.accounts != second.accounts
    assert first.market != second.market


def test_instruments_and_market_depend_on_the_seed_not_the_account_count():
    small, large = synthetic_book(10, seed=3), synthetic_book(500, seed=3)
    assert small.instruments == large.instruments
    assert small.market == large.market


def test_instrument_set():
    portfolio = synthetic_book(0, seed=1, instruments=10)
    names = list(portfolio.instruments)
    assert names[:3] == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]
    assert names[3:] == [f"ALT{n}-PERP" for n in range(1, 8)] + ["BTCUSD-PERP", "ETHUSD-PERP", "BTC-FUT"]
    btc_usd, eth_usd = portfolio.instruments["BTCUSD-PERP"], portfolio.instruments["ETHUSD-PERP"]
    assert (btc_usd.inverse, btc_usd.settle, btc_usd.contract_size) == (True, "BTC", Decimal(100))
    assert (eth_usd.inverse, eth_usd.settle, eth_usd.contract_size) == (True, "ETH", Decimal(10))
    future = portfolio.instruments["BTC-FUT"]
    assert future.expiry is not None and not future.inverse and future.settle == "USDT"
    prices = portfolio.market.prices
    assert 55_000 < prices["BTC"] < 65_000 and 2_700 < prices["ETH"] < 3_300 and 135 < prices["SOL"] < 165
    assert all(Decimal("0.01") * Decimal("0.99") <= prices[f"ALT{n}"] <= 505 for n in range(1, 8))
    assert set(portfolio.market.marks) == set(portfolio.instruments)
    assert set(portfolio.assets) <= set(prices)


def test_fewer_than_three_instruments_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        synthetic_book(1, instruments=2)


@pytest.mark.parametrize("seed", range(12))
def test_every_tier_table_is_binance_like_and_rebuilds(seed: int):
    portfolio = synthetic_book(0, seed=seed, instruments=30)
    for name, instrument in portfolio.instruments.items():
        tiers = instrument.tiers.tiers
        assert 4 <= len(tiers) <= 8, name
        assert Decimal("0.004") <= tiers[0].mmr <= Decimal("0.02"), name
        assert Decimal("0.25") <= tiers[-1].mmr <= Decimal("0.5"), name
        assert round(1 / tiers[0].imr) in {125, 75, 50, 20}, name
        assert 1 <= round(1 / tiers[-1].imr) <= 5, name
        assert tiers[-1].max_notional is None
        # the maintenance amounts are the model's derived ones: rebuilding from rates and edges agrees
        specs = [TierSpec(t.max_notional, t.mmr, imr=t.imr) for t in tiers]
        assert TierTable.build(specs) == instrument.tiers


def test_positions_per_account_are_heavy_tailed(book: Portfolio):
    counts = [len(account.positions) for account in book.accounts]
    mean = sum(counts) / len(counts)
    assert 3.5 <= mean <= 4.6
    assert max(counts) >= 4 * mean
    assert min(counts) >= 1
    assert sorted(counts)[len(counts) // 2] <= 3


def test_one_way_positions_and_skewed_popularity(book: Portfolio):
    for account in book.accounts:
        instruments = [p.instrument for p in account.positions]
        assert len(set(instruments)) == len(instruments)
    popularity = Counter(p.instrument for account in book.accounts for p in account.positions)
    assert [name for name, _ in popularity.most_common(2)] == ["BTC-PERP", "ETH-PERP"]
    assert len(popularity) == len(book.instruments)


def test_collateral_mix(book: Portfolio):
    accounts = len(book.accounts)
    holders = Counter(asset for a in book.accounts for asset, amount in a.balances.items() if amount > 0)
    owing = sum(1 for a in book.accounts if a.balances.get("USDC", Decimal(0)) < 0)
    assert holders["USDT"] > 0.8 * accounts
    assert all(holders[coin] > 0.01 * accounts for coin in ("BTC", "ETH", "SOL", "USDC"))
    assert 0.01 * accounts < owing < 0.06 * accounts


def test_isolated_share_and_sides(book: Portfolio):
    positions = [p for account in book.accounts for p in account.positions]
    isolated = sum(1 for p in positions if p.isolated) / len(positions)
    longs = sum(1 for p in positions if p.size > 0) / len(positions)
    assert 0.08 < isolated < 0.12
    assert 0.45 < longs < 0.65


def test_entries_near_the_mark_and_every_decimal_short(book: Portfolio):
    marks = book.market.marks
    numbers: list[Decimal] = []
    for account in book.accounts:
        numbers.extend(account.balances.values())
        for p in account.positions:
            assert abs(p.entry_price / marks[p.instrument] - 1) <= Decimal("0.15")
            numbers.extend([p.size, p.entry_price])
            if p.isolated_margin is not None:
                numbers.append(p.isolated_margin)
    assert all(len(number.as_tuple().digits) <= 16 for number in numbers)


def _health(portfolio: Portfolio, account: Account, rules: RuleChoices = RULES) -> tuple[bool, bool]:
    """Whether every pool of ``account`` (cross and each isolated one) meets its initial margin (free
    collateral >= 0), and whether any is liquidatable, by the exact evaluator.

    Evaluated in a one-account book: the liquidation-price solver revalidates its portfolio at each
    trial price, which costs the whole book each time.
    """
    result = evaluate_account(account, replace(portfolio, accounts=(account,)), rules)
    pools = [result.cross, *(p.pool for p in result.positions if p.pool is not None)]
    return all(p.free_collateral >= 0 for p in pools), any(p.liquidatable for p in pools)


def _liquidatable(portfolio: Portfolio, account: Account) -> bool:
    return _health(portfolio, account)[1]


OLD_DEFAULT = BookShape(distressed_share=0.04)
"""The distressed share that was the default before books started solvent (issue 17)."""


def test_some_accounts_are_liquidatable_and_most_are_not():
    # with 4 % of accounts distressed, about half of them under water: 2 % expected, at most 10 % allowed
    portfolio = synthetic_book(5000, seed=0, shape=OLD_DEFAULT)
    sample = portfolio.accounts[:: len(portfolio.accounts) // 300][:300]
    liquidatable = sum(_liquidatable(portfolio, account) for account in sample)
    assert 1 <= liquidatable <= 0.1 * len(sample)


def test_a_2000_account_book_evaluates():
    portfolio = synthetic_book(2000, seed=11, shape=OLD_DEFAULT)
    liquidatable = sum(_liquidatable(portfolio, account) for account in portfolio.accounts)
    assert 0 < liquidatable < 0.1 * len(portfolio.accounts)


# ------------------------------------------------------------------------ solvent at t = 0 unless asked


@pytest.mark.parametrize(("seed", "accounts"), [(0, 600), (7, 400), (11, 200), (123, 50), (2**32 - 1, 10)])
def test_every_account_of_a_default_book_meets_its_initial_margin(seed: int, accounts: int):
    portfolio = synthetic_book(accounts, seed=seed)
    for rules in (RULES, STRICT):
        for account in portfolio.accounts:
            meets, liquidatable = _health(portfolio, account, rules)
            assert meets and not liquidatable, (rules.name, account)


def test_every_isolated_pool_meets_its_initial_margin_valued_at_entry():
    # OKX and Bybit value isolated initial margin at the entry price: a losing position's entry notional is larger
    # than its mark's and may sit in a higher bracket; the generator covers that too. Isolated pools alone (no
    # liquidation price), so a large book stays cheap.
    portfolio = synthetic_book(3000, seed=7)
    at_entry = rulebook("okx").rules
    assert at_entry.margin_valuation.isolated_initial == "entry"
    held = [p for account in portfolio.accounts for p in account.positions if p.isolated]
    assert len(held) > 1000
    for position in held:
        assert evaluate_pool(isolated_pool(position, portfolio), portfolio, at_entry).free_collateral >= 0, position


def test_the_isolated_twin_of_a_default_book_meets_its_initial_margin_too():
    # every pool's initial equity is at least IM / 0.9 counting no profit: the cross collateral covers every
    # position's need alone (IM less its counted uPnL), so each isolated pool of the twin starts with at least that
    portfolio = synthetic_book(300, seed=4)
    twin = isolated_book(portfolio, RULES)
    assert sum(len(a.positions) for a in twin.accounts) == sum(len(a.positions) for a in portfolio.accounts)
    for account in twin.accounts:
        assert all(p.isolated for p in account.positions)
        meets, liquidatable = _health(twin, account)
        assert meets and not liquidatable, account


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_the_distressed_share_is_respected(share: float):
    # each account is distressed with probability `share`, independently: the count is Binomial(n, share), with
    # standard deviation sqrt(n share (1 - share)) (n = 4000: 19.0 at 0.1, 31.6 at 0.5); a band of 5 of them
    # fails a correct generator for about one seed in 1.7 million (the normal tail beyond 5 sigma, two-sided)
    n = 4000
    _, distressed = drawn_book(n, seed=21, shape=BookShape(distressed_share=share))
    assert abs(len(distressed) - n * share) <= 5 * math.sqrt(n * share * (1 - share))
    assert drawn_book(n, seed=21)[1] == frozenset()  # the default: none
    assert len(drawn_book(50, seed=21, shape=BookShape(distressed_share=1.0))[1]) == 50


def test_only_the_distressed_start_in_trouble_and_most_of_them_do():
    portfolio, distressed = drawn_book(400, seed=5, shape=BookShape(distressed_share=0.3))
    assert distressed and len(distressed) < len(portfolio.accounts)
    trouble = {True: [0, 0], False: [0, 0]}  # distressed or not -> [failing IM, liquidatable]
    for account in portfolio.accounts:
        meets, liquidatable = _health(portfolio, account)
        trouble[account.id in distressed][0] += not meets
        trouble[account.id in distressed][1] += liquidatable
    assert trouble[False] == [0, 0]  # the others are as solvent as in a default book
    # a distressed cross pool's equity is U(0.8, 1.2) x its maintenance margin: below it half the time, and below
    # its initial margin (twice maintenance in a first bracket) nearly always; an isolated loss of 90 % to 110 % of
    # the margin beyond maintenance leaves the pool below maintenance half the time. Some accounts escape (a
    # cross pool without positions, a loss held back by the 15 % entry spread), so: about half liquidatable (40 %
    # and 43 % measured on 600 accounts, seeds 0 and 5) and most failing IM (71 %, 74 %). With about 120
    # distressed accounts a share's standard deviation is at most sqrt(0.25 / 120) = 0.046: the bounds below
    # sit more than 3 of them under what was measured.
    assert trouble[True][0] >= 0.5 * len(distressed)
    assert trouble[True][1] >= 0.25 * len(distressed)


def test_a_distressed_share_outside_0_to_1_is_refused():
    for share in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="distressed_share must be from 0 to 1"):
            synthetic_book(10, shape=BookShape(distressed_share=share))


def test_the_same_seed_gives_the_same_distressed_accounts():
    shape = BookShape(distressed_share=0.2)
    assert drawn_book(300, seed=9, shape=shape) == drawn_book(300, seed=9, shape=shape)
    assert drawn_book(300, seed=9, shape=shape)[1] != drawn_book(300, seed=10, shape=shape)[1]


def test_shape_knobs_move_the_book():
    calm = synthetic_book(2000, seed=5, shape=BookShape(isolated_share=0.0, liability_share=0.0))
    assert not any(p.isolated for account in calm.accounts for p in account.positions)
    assert all(amount >= 0 for account in calm.accounts for amount in account.balances.values())
