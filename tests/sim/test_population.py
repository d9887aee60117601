"""The synthetic book generator: determinism, the shape of the book, valid tables, books that evaluate."""

from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from crossmargin.margin.account import evaluate_account
from crossmargin.model import Account, Portfolio, TierSpec, TierTable
from crossmargin.sim.population import BookShape, synthetic_book
from crossmargin.venues import rulebook

RULES = rulebook("generic").rules


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


def _liquidatable(portfolio: Portfolio, account: Account) -> bool:
    """Whether the cross pool or an isolated pool of ``account`` is liquidatable.

    Evaluated in a one-account book: the liquidation-price solver revalidates its portfolio at each
    trial price, which costs the whole book each time.
    """
    result = evaluate_account(account, replace(portfolio, accounts=(account,)), RULES)
    return result.cross.liquidatable or any(p.pool is not None and p.pool.liquidatable for p in result.positions)


def test_some_accounts_are_liquidatable_and_most_are_not(book: Portfolio):
    sample = book.accounts[:: len(book.accounts) // 300][:300]
    liquidatable = sum(_liquidatable(book, account) for account in sample)
    assert 1 <= liquidatable <= 0.1 * len(sample)


def test_a_2000_account_book_evaluates():
    portfolio = synthetic_book(2000, seed=11)
    liquidatable = sum(_liquidatable(portfolio, account) for account in portfolio.accounts)
    assert 0 < liquidatable < 0.1 * len(portfolio.accounts)


def test_shape_knobs_move_the_book():
    calm = synthetic_book(2000, seed=5, shape=BookShape(isolated_share=0.0, liability_share=0.0))
    assert not any(p.isolated for account in calm.accounts for p in account.positions)
    assert all(amount >= 0 for account in calm.accounts for amount in account.balances.values())
