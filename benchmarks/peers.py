"""Optional peer benchmark: freqtrade's Binance liquidation-price function on the same book.

    pip install freqtrade   # not a crossmargin dependency; in a separate environment is fine
    python benchmarks/peers.py [--accounts 2000]

freqtrade prices one position at a time with Binance's published cross formula (the other positions held
at their open price in backtesting, the bracket looked up by stake amount). This times it on every linear
USDT position of a synthetic book, next to crossmargin's exact liquidation price of the same positions
(which walks the brackets and confirms each answer by exact re-evaluation), in one run, and reports how
often the two agree on accounts where they answer the same question (one cross linear position on USDT
collateral). In the same run it times crossmargin's array path (every position of the book at once,
``crossmargin.engine.liquidation_prices``), per position. Without freqtrade it says so and times
crossmargin's two paths alone.
"""

import argparse
import statistics
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossmargin.engine.book import RiskBook
from crossmargin.engine.liquidation_prices import book_liquidation_prices
from crossmargin.margin.account import evaluate_account
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook


@dataclass(frozen=True)
class Trade:
    """The fields of a freqtrade trade its liquidation-price function reads."""

    pair: str
    amount: float
    open_rate: float
    stake_amount: float


def peer_exchange(portfolio: Portfolio) -> Any:
    """A freqtrade Binance exchange object in backtest mode, with crossmargin's brackets as its tiers."""
    from freqtrade.enums import MarginMode, RunMode, TradingMode
    from freqtrade.exchange.binance import Binance

    exchange = Binance.__new__(Binance)
    exchange._exchange_ws = None  # read by its destructor
    exchange._config = {"runmode": RunMode.BACKTEST}
    exchange.margin_mode = MarginMode.CROSS
    exchange.trading_mode = TradingMode.FUTURES
    tiers: dict[str, list[dict[str, float]]] = {}
    for name, instrument in portfolio.instruments.items():
        if instrument.inverse:
            continue
        floor = 0.0
        rows = []
        for tier in instrument.tiers.tiers:
            rows.append(
                {"minNotional": floor, "maintenanceMarginRate": float(tier.mmr), "maintAmt": float(tier.maint_amount)}
            )
            floor = float(tier.max_notional) if tier.max_notional is not None else floor
        tiers[name] = rows
    exchange._leverage_tiers = tiers
    return exchange


def array_us_per_position(portfolio: Portfolio, rules: RuleChoices) -> float:
    """The array path's time for every position of the book (its kernel loaded or compiled first), per position,
    in microseconds."""
    book = RiskBook(portfolio, rules)
    book_liquidation_prices(book)
    start = time.perf_counter()
    book_liquidation_prices(book)
    return (time.perf_counter() - start) * 1e6 / book.position_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        import freqtrade  # noqa: F401

        peer_installed = True
    except ImportError:
        print("freqtrade is not installed: the peer is skipped (pip install freqtrade to run it)")
        peer_installed = False
    portfolio = synthetic_book(args.accounts, args.seed)
    rules = rulebook("generic").rules
    exchange = peer_exchange(portfolio) if peer_installed else None
    peer_us, ours_us, agree, compared = [], [], 0, 0
    for account in portfolio.accounts:
        linear = [
            p for p in account.positions
            if not portfolio.instruments[p.instrument].inverse and p.isolated_margin is None
        ]  # fmt: skip
        if not linear:
            continue
        peer: list[float | None] = []
        if exchange is not None:
            trades = [
                Trade(p.instrument, float(abs(p.size)), float(p.entry_price), float(abs(p.size) * p.entry_price))
                for p in linear
            ]
            wallet = float(sum(account.balances.values(), Decimal(0)))
            start = time.perf_counter()
            peer = [
                exchange.dry_run_liquidation_price(
                    pair=t.pair, open_rate=t.open_rate, is_short=p.size < 0, amount=t.amount,
                    stake_amount=t.stake_amount, leverage=1.0, wallet_balance=wallet, open_trades=trades,
                )
                for t, p in zip(trades, linear, strict=True)
            ]  # fmt: skip
            peer_us.append((time.perf_counter() - start) * 1e6 / len(trades))
        start = time.perf_counter()
        result = evaluate_account(account, portfolio, rules)
        ours_us.append((time.perf_counter() - start) * 1e6 / len(account.positions))
        if peer and len(account.positions) == 1 == len(linear) and set(account.balances) == {"USDT"}:
            # like for like: one cross linear position on USDT alone (no other positions to hold at
            # their open price, no collateral haircut); they differ when the bracket at the liquidation
            # price is not the bracket of the stake, which freqtrade looks up instead
            mine, theirs = result.positions[0].liquidation_price, peer[0]
            if mine is not None and theirs is not None and theirs > 0:
                compared += 1
                agree += abs(float(mine) - theirs) <= 1e-6 * abs(float(mine))
    ours_median = statistics.median(ours_us)
    array_us = array_us_per_position(portfolio, rules)
    if peer_us:
        peer_median = statistics.median(peer_us)
        share = 100 * agree / max(1, compared)
        print(f"single-position USDT accounts compared: {compared}, agreeing within 1e-6: {agree} ({share:.1f} %)")
        print(f"freqtrade dry_run_liquidation_price: {peer_median:.1f} us per position (median)")
    print(f"crossmargin exact liquidation price: {ours_median:.1f} us per position (median)")
    print(f"crossmargin array path, whole book: {array_us:.2f} us per position")
    if peer_us:
        print(f"ratio crossmargin exact / freqtrade: {ours_median / peer_median:.1f}x")
        print(f"ratio crossmargin array / freqtrade: {array_us / peer_median:.3f}x")
    print(f"ratio crossmargin exact / array: {ours_median / array_us:,.0f}x")


if __name__ == "__main__":
    main()
