"""The engine loop, worked by hand: time alone turns a silent feed stale, the policy's prices decide a
withdrawal, a refused event changes nothing, events out of order are refused, and liquidations name their
cause.

The book (base USD) is the oracle tests' book: USDT and USDC collateral (USDC pegged at 1, floor 0.99),
BTC-PERP linear, 1 contract = 1 BTC, mmr 0.004, imr 0.008; BTC 20000, BTC-PERP 20000. Guards: max age 60 s,
quorum 2, max deviation 2 %, circuit breaker at 25 % from the EMA (half-life 300 s).

- ``long``: 1000 USDT, long 0.5 BTC-PERP from 20000 (MM 40, IM 80 at 20000).
- ``usdc``: 100 USDC, long 0.5 BTC-PERP from 20000: at USDC 1, equity 100, MM 40, IM 80, free 20.
"""

import math
from decimal import Decimal

import pytest

from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook
from tests.oracle.conftest import DOCUMENT

D = Decimal


def new_loop(document: dict[str, object] = DOCUMENT) -> EngineLoop:
    generic = rulebook("generic")
    portfolio = portfolio_from_document(document)
    return EngineLoop(LoopConfig(portfolio, generic.rules, generic.liquidation, oracle_config(document)))


class Feed:
    """Inbound events numbered in order."""

    def __init__(self, loop: EngineLoop) -> None:
        self.loop = loop

    def send(self, kind: type[live.Inbound], t: int | str, **fields: object) -> list[live.OutboundEvent]:
        seq = self.loop.seq + 1
        return self.loop.handle(kind(seq=seq, time=D(t), id=f"e{seq}", **fields))  # type: ignore[arg-type]

    def prices(self, t: int | str, symbol: str, **by_source: int | str) -> list[live.OutboundEvent]:
        quotes = tuple(live.Quote(source=s, symbol=symbol, price=D(p)) for s, p in by_source.items())
        return self.send(live.Prices, t, quotes=quotes)


def kinds(out: list[live.OutboundEvent]) -> list[tuple[str, ...]]:
    """(type, subject[, state or status]) of each outbound event."""
    rows: list[tuple[str, ...]] = []
    for event in out:
        if isinstance(event, live.PriceStatus):
            rows.append(("price_status", event.symbol, event.status))
        elif isinstance(event, live.AccountStatus):
            rows.append(("account", event.account, event.state))
        else:
            rows.append((type(event).__struct_config__.tag, getattr(event, "account", "")))  # type: ignore[arg-type]
    return rows


def test_a_feed_that_stops_turns_stale_on_the_clock_alone_and_freezes_its_accounts():
    loop = new_loop()
    feed = Feed(loop)
    out = feed.prices(10, "BTC", a=20000, b=20000, c=20000)
    assert ("price_status", "BTC", "valid") in kinds(out)
    # the sources stamped 10 are 60 s old at t = 70: still fresh (age <= max_age_s), nothing changes
    assert feed.send(live.Clock, 70) == []
    # at t = 71 they are 61 s old: no fresh source, BTC and its perpetual are invalid, and both accounts (long
    # BTC-PERP) are valued at a price the default policy freezes on
    out = feed.send(live.Clock, 71)
    assert kinds(out) == [
        ("price_status", "BTC", "invalid"),
        ("price_status", "BTC-PERP", "invalid"),
        ("account", "long", "frozen"),
        ("account", "usdc", "frozen"),
    ]
    assert all(e.cause == "e3" and e.time == 71 for e in out)
    assert "no fresh source" in out[0].reason  # type: ignore[union-attr]
    # frozen: a withdrawal is refused whole, and says why
    (refused,) = feed.send(live.Withdrawal, 72, account="long", asset="USDT", amount=D(1))
    assert isinstance(refused, live.Rejected) and "frozen" in refused.message
    # the feed comes back: valid again, unfrozen
    out = feed.prices(80, "BTC", a=20000, b=20000)
    assert ("account", "long", "unfrozen") in kinds(out) and ("account", "usdc", "unfrozen") in kinds(out)


def test_a_withdrawal_at_a_degraded_price_is_checked_at_the_conservative_price():
    # USDC's EMA starts at 1 at t = 0 (half-life 300 s). t = 300: two sources at 0.90: index 0.90, degraded
    # (below the floor 0.99); the EMA moves half way: 1 + 0.5 x (0.90 - 1) = 0.95. t = 600: two sources at
    # 0.98: index 0.98, still degraded; EMA 0.95 + 0.5 x (0.98 - 0.95) = 0.965.
    # ``usdc`` holds 100 USDC, so its USDC counts at the lower of index and EMA, 0.965: free collateral
    # 100 x 0.965 - 80 = 16.5, at most 16.5 / 0.965 = 17.0984 USDC may leave. At the raw index 0.98 it would
    # have been (98 - 80) / 0.98 = 18.367: a withdrawal of 17.2 passes at the raw price, not at the policy's.
    loop = new_loop()
    feed = Feed(loop)
    out = feed.prices(300, "USDC", a="0.90", b="0.90")
    assert ("price_status", "USDC", "degraded") in kinds(out)
    feed.prices(600, "USDC", a="0.98", b="0.98")
    assert loop.state.guard.held["USDC"] == pytest.approx(D("0.965"), abs=D("1e-30"))
    assert loop.state.market.price("USDC") == D("0.98")
    (refused,) = feed.send(live.Withdrawal, 600, account="usdc", asset="USDC", amount=D("17.2"))
    assert isinstance(refused, live.Rejected) and refused.field == "amount"
    out = feed.send(live.Withdrawal, 600, account="usdc", asset="USDC", amount=D("17.09"))
    (figures,) = out
    assert isinstance(figures, live.Figures) and figures.account == "usdc"
    # the figures are at the market (0.98): (100 - 17.09) x 0.98 = 81.2518 of equity, MM 40
    assert figures.equity == D("81.2518") and figures.maintenance_margin == D(40)


def test_a_refused_event_changes_nothing_and_an_event_out_of_order_is_not_applied():
    loop = new_loop()
    feed = Feed(loop)
    before, state_before = loop.digest(), loop.state.digest()
    (refused,) = feed.send(live.Deposit, 1, account="nobody", asset="USDT", amount=D(5))
    assert isinstance(refused, live.Rejected) and refused.field == "account"
    # the refusal is an event of the log (seq 1 was taken), the state is as it was
    assert loop.seq == 1 and loop.state.digest() == state_before
    assert loop.digest() != before  # seq moved
    with pytest.raises(InputError, match="expected event 2, got 5"):
        loop.handle(live.Clock(seq=5, time=D(2), id="late"))
    assert loop.seq == 1
    (bad,) = feed.prices(3, "DOGE", a=1)
    assert isinstance(bad, live.Rejected) and bad.field == "quotes[0].symbol"


def test_a_crash_liquidates_and_every_line_names_its_cause():
    # BTC to 18000 by two sources at t = 10 (a 10 % move, within the 25 % breaker): ``long`` has equity
    # 1000 + 0.5 x (18000 - 20000) = 0 < MM 0.5 x 18000 x 0.004 = 36: liquidatable, and liquidated;
    # ``usdc`` has 100 - 1000 = -900: bankrupt.
    loop = new_loop()
    out = Feed(loop).prices(10, "BTC", a=18000, b=18000)
    rows = kinds(out)
    assert ("account", "long", "liquidatable") in rows and ("account", "usdc", "liquidatable") in rows
    fills = [e for e in out if isinstance(e, live.LiquidationFill)]
    assert {f.account for f in fills} == {"long", "usdc"}
    assert sum(f.size for f in fills if f.account == "long") == D("-0.5")
    assert all(e.cause == "e1" for e in out)
    assert [e.seq for e in out] == list(range(1, len(out) + 1))


@pytest.mark.parametrize(("impact", "liquidated"), [(D(-100), False), (D(-150), True)])
def test_a_trade_s_impact_moves_the_mark_and_liquidates_whom_it_pushes_under(impact: Decimal, liquidated: bool):
    # ``usdc`` (100 USDC, long 0.5 from 20000) is liquidatable below 100 + 0.5 (m - 20000) = 0.5 m x 0.004, so
    # m < 9900 / 0.498 = 19879.52. ``long`` sells 0.1 to the market at 19990 with an impact of -100: the mark goes
    # to 19900, above it; with -150, to 19850, below it: ``usdc`` is liquidated in the trade's own event.
    loop = new_loop()
    feed = Feed(loop)
    feed.prices(0, "BTC", a=20000, b=20000)
    out = feed.send(
        live.Trade, 1, buyer="@market", seller="long", instrument="BTC-PERP", size=D("0.1"), price=D(19990),
        impact=impact,
    )  # fmt: skip
    moved = [(e.before, e.mark) for e in out if isinstance(e, live.MarkMoved)]
    assert moved[0] == (D(20000), D(20000) + impact)
    fills = {e.account for e in out if isinstance(e, live.LiquidationFill)}
    assert fills == ({"usdc"} if liquidated else set())


# ---------------------------------------------------------------------- OpenAccount


def test_an_opened_account_starts_empty_then_takes_a_deposit_and_a_trade():
    loop = new_loop()
    feed = Feed(loop)
    (opened,) = feed.send(live.OpenAccount, 0, account="new")
    assert isinstance(opened, live.Figures) and opened.account == "new" and opened.cause == "e1"
    assert (opened.equity, opened.initial_margin, opened.maintenance_margin) == (D(0),) * 3 and not opened.liquidatable
    assert loop.state.account_ids == ["long", "usdc", "new"] and "new" in loop.book.accounts
    (funded,) = feed.send(live.Deposit, 0, account="new", asset="USDT", amount=D(500))
    assert isinstance(funded, live.Figures) and funded.equity == D(500)
    out = feed.send(live.Trade, 0, buyer="new", seller="long", instrument="BTC-PERP", size=D("0.1"), price=D(20000))
    figures = {e.account: e for e in out if isinstance(e, live.Figures)}
    assert set(figures) == {"long", "new"}
    # new: long 0.1 BTC at the mark 20000: notional 2000, IM 2000 x 0.008 = 16, MM 2000 x 0.004 = 8, equity 500
    new = figures["new"]
    assert (new.equity, new.initial_margin, new.maintenance_margin) == (D(500), D(16), D(8))
    # long: 0.4 left, MM 0.4 x 20000 x 0.004 = 32
    assert figures["long"].maintenance_margin == D(32)
    # the mirror holds the new account's float figures as the exact ones: equity, initial equity (USDT at
    # weight 1: 500), MM, IM
    pool = loop.book.cross_pool["new"]
    assert [float(x) for x in loop.book.figures[pool]] == [500.0, 500.0, 8.0, 16.0]


@pytest.mark.parametrize("account", ["long", "@market", "", "x" * 129, "two\nlines", "nul\x00"])
def test_a_bad_opening_is_rejected_naming_account_and_changes_nothing(account: str):
    loop, twin = new_loop(), new_loop()
    state_before, ids_before, mirrored = loop.state.digest(), loop.state.account_ids, set(loop.book.accounts)
    with pytest.raises(InputError) as checked:  # the check the service runs before the log, alike
        loop.check(live.OpenAccount(seq=1, time=D(0), id="e1", account=account))
    assert checked.value.field == "account"
    (refused,) = Feed(loop).send(live.OpenAccount, 0, account=account)
    assert isinstance(refused, live.Rejected) and refused.field == "account"
    assert loop.state.digest() == state_before and loop.state.account_ids == ids_before
    assert set(loop.book.accounts) == mirrored
    # a second method: the loop is where one that was sent any other refused event is
    (other,) = Feed(twin).send(live.Deposit, 0, account="nobody", asset="USDT", amount=D(1))
    assert isinstance(other, live.Rejected) and loop.digest() == twin.digest()


def test_the_realized_volatility_index_follows_the_index_prices():
    # half-life 1e12 s (no decay): the plain realized variance over the time since the document's prices
    # (clock 0). BTC 20000 -> 20200 at t = 10, -> 19998 at t = 30 (two sources each: the index moves there).
    generic = rulebook("generic")
    config = LoopConfig(
        portfolio_from_document(DOCUMENT), generic.rules, generic.liquidation, oracle_config(DOCUMENT),
        volatility_half_lives_s=(1e12,),
    )  # fmt: skip
    loop = EngineLoop(config)
    feed = Feed(loop)
    feed.prices(10, "BTC", a=20200, b=20200)
    feed.send(live.Clock, 20)  # time alone moves no price: nothing observed until the next change
    feed.prices(30, "BTC", a=19998, b=19998)
    btc = loop.volatility.assets["BTC"]
    # ln(1.01)^2 + ln(19998 / 20200)^2 = 9.90066e-5 + 1.01007e-4 = 2.00013e-4 over 30 s: 6.6671e-6 a second
    expected = (math.log(1.01) ** 2 + math.log(19998 / 20200) ** 2) / 30
    assert btc.variance_rate() == pytest.approx(expected, rel=1e-9) and btc.returns == 2
    # annualized: sqrt(6.6671e-6 x 31,536,000) = 14.50; the other priced assets have not moved: no estimate
    assert loop.volatility.annualized() == {"BTC": pytest.approx(math.sqrt(expected * 31_536_000), rel=1e-9)}


# ------------------------------------------------------------------ a venue's margin multipliers


def _multiplied_loop() -> EngineLoop:
    from crossmargin.oracle.config import OracleConfig
    from crossmargin.sim.population import synthetic_book

    generic = rulebook("generic")
    portfolio = synthetic_book(60, seed=3)
    return EngineLoop(LoopConfig(portfolio, generic.rules, generic.liquidation, OracleConfig(), report_accounts=False))


def test_a_margin_multiplier_scales_both_evaluators_alike():
    loop = _multiplied_loop()
    state = loop.state
    factors = {"BTC": D("1.7"), "ETH": D("2.35")}
    underlying = {name: spec.underlying for name, spec in state.instruments.items()}
    # expected by a second method: each position's own tier figures before, times its underlying's factor
    from crossmargin.model.numbers import exact

    expected = {}
    for account_id in state.account_ids:
        figures = state.pool_figures(account_id)
        with exact():
            expected[account_id] = (
                sum(
                    f.maintenance_margin * factors.get(underlying[f.position.instrument], 1) for f in figures.positions
                ),
                sum(f.initial_margin * factors.get(underlying[f.position.instrument], 1) for f in figures.positions),
            )
    loop.handle(live.MarginMultipliers(seq=1, time=D(1), id="venue", multipliers=factors))
    book = loop.book
    for account_id in state.account_ids:
        figures = state.pool_figures(account_id)
        assert (figures.maintenance_margin, figures.initial_margin) == expected[account_id]
        row = book.figures[book.cross_pool[account_id]]
        assert math.isclose(row[2], float(figures.maintenance_margin), rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(row[0], float(figures.equity), rel_tol=1e-9, abs_tol=1e-9)
    # back to 1: the tables as they were, in both
    loop.handle(live.MarginMultipliers(seq=2, time=D(2), id="calm", multipliers={"BTC": D(1), "ETH": D(1)}))
    assert state.market.margin_multipliers == {}
    for account_id in state.account_ids:
        row = book.figures[book.cross_pool[account_id]]
        assert math.isclose(row[2], float(state.pool_figures(account_id).maintenance_margin), rel_tol=1e-9)


def test_a_raised_multiplier_moves_the_liquidation_price_in_both_solvers():
    from crossmargin.engine.liquidation_prices import book_liquidation_prices
    from crossmargin.margin.account import evaluate_account

    loop = new_loop()
    loop.handle(live.MarginMultipliers(seq=1, time=D(1), id="venue", multipliers={"BTC": D(2)}))
    # long: 1000 + 0.5 (P - 20000) - 2 x 0.004 x 0.5 P = 0: P = 9000 / 0.496 = 18145.161...
    expected = D(9000) / D("0.496")
    account = loop.state.account("long")
    exact_price = evaluate_account(account, loop.state.portfolio_of([account]), loop.state.rules).positions[0]
    assert exact_price.liquidation_price is not None
    assert math.isclose(float(exact_price.liquidation_price), float(expected), rel_tol=1e-12)
    prices = book_liquidation_prices(loop.book)
    slot = loop.book.slot[(loop.book.cross_pool["long"], "BTC-PERP", True)]
    assert math.isclose(prices.price[slot], float(expected), rel_tol=1e-9)


def test_a_multiplier_for_no_instruments_underlying_is_refused_and_a_snapshot_keeps_one():
    from crossmargin.live.snapshot import restored, snapshot

    loop = new_loop()
    (refused,) = loop.handle(live.MarginMultipliers(seq=1, time=D(1), id="m", multipliers={"ETH": D(2)}))
    assert isinstance(refused, live.Rejected) and refused.field == "multipliers.ETH"
    loop.handle(live.MarginMultipliers(seq=2, time=D(1), id="n", multipliers={"BTC": D("1.25")}))
    again = restored(loop.config, snapshot(loop))
    assert again.state.market.margin_multipliers == {"BTC": D("1.25")}
    assert again.digest() == loop.digest()
    assert again.state.pool_figures("long").maintenance_margin == D(50)  # 1.25 x 0.004 x 0.5 x 20000


def test_an_open_interest_limit_moves_no_figure_runs_no_liquidation_pass_and_a_snapshot_keeps_it():
    from crossmargin.live.snapshot import restored, snapshot

    loop = new_loop()
    before = loop.state.pool_figures("long")

    def no_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("an open-interest limit changes no figure: nothing to screen")

    loop._liquidate = no_pass  # type: ignore[method-assign]
    limits = live.OpenInterestLimits(seq=1, time=D(1), id="l", limits={"BTC-PERP": D("0.75")})
    assert loop.handle(limits) == []
    (refused,) = loop.handle(
        live.OpenInterestLimits(seq=2, time=D(1), id="m", limits={"ETH-PERP": D(1)})
    )  # no such instrument
    assert isinstance(refused, live.Rejected) and refused.field == "limits.ETH-PERP"
    assert loop.state.open_interest_limits == {"BTC-PERP": D("0.75")}
    assert loop.state.pool_figures("long") == before
    again = restored(loop.config, snapshot(loop))
    assert again.state.open_interest_limits == {"BTC-PERP": D("0.75")} and again.digest() == loop.digest()
