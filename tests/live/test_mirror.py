"""The risk book mirrors the ledger through the loop: money moves on the ledger alone, and after every event
the book's figures equal the exact figures of the ledger's accounts, cross and isolated pools alike. Worked
by hand.

The book (base USD): USDT at 1; BTC-PERP and ETH-PERP linear, 1 contract = 1 coin, settled in USDT, mmr 0.004,
imr 0.008 (generic rules); marks BTC-PERP 20000, ETH-PERP 1000; the marks do not move in these tests.

- ``b``: 1000 USDT, no position.
- ``c``: 1000 USDT cross, long 1 BTC-PERP from 20000 isolated with 500 USDT margin.
- ``mm``: the counterparty, 1,000,000 USDT.
"""

from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.margin.account import evaluate_account
from crossmargin.model import Asset
from crossmargin.oracle.config import OracleConfig
from crossmargin.venues import rulebook
from tests.builders import D, book, linear, position

RELATIVE = 1e-9


def new_loop() -> EngineLoop:
    generic = rulebook("generic")
    portfolio = book(
        [Asset.simple("USDT")],
        [linear("BTC-PERP"), linear("ETH-PERP", underlying="ETH")],
        {"USDT": "1"},
        {"BTC-PERP": "20000", "ETH-PERP": "1000"},
        [
            ("b", {"USDT": "1000"}, []),
            ("c", {"USDT": "1000"}, [position("BTC-PERP", "1", "20000", isolated_margin="500")]),
            ("mm", {"USDT": "1000000"}, []),
        ],
    )
    return EngineLoop(LoopConfig(portfolio, generic.rules, generic.liquidation, OracleConfig()))


def trade(loop: EngineLoop, buyer: str, seller: str, instrument: str, size: str, price: int) -> None:
    seq = loop.seq + 1
    out = loop.handle(
        live.Trade(
            seq=seq, time=D(seq), id=f"t{seq}", buyer=buyer, seller=seller, instrument=instrument, size=D(size),
            price=D(price),
        )
    )  # fmt: skip
    assert not [e for e in out if isinstance(e, live.Rejected)], out


def cross(loop: EngineLoop, account: str) -> tuple[float, ...]:
    """The mirror's cross figures: equity, initial equity, maintenance margin, initial margin."""
    return tuple(float(x) for x in loop.book.figures[loop.book.cross_pool[account]])


def isolated(loop: EngineLoop, account: str, instrument: str) -> tuple[float, ...] | None:
    pool = loop.book.isolated_pool.get((account, instrument, True))
    return None if pool is None else tuple(float(x) for x in loop.book.figures[pool])


def assert_mirror_is_the_ledger(loop: EngineLoop) -> None:
    """Every pool of every account: the mirror's figures equal the exact figures of the ledger's account."""
    portfolio = loop.state.portfolio()
    for account in portfolio.accounts:
        result = evaluate_account(account, portfolio, loop.config.rules)
        pools = [(loop.book.cross_pool[account.id], result.cross)]
        for item in result.positions:
            if item.pool is not None:
                leg = (account.id, item.figures.position.instrument, item.figures.position.size > 0)
                pools.append((loop.book.isolated_pool[leg], item.pool))
        for row, truth in pools:
            expected = (truth.equity, truth.initial_equity, truth.maintenance_margin, truth.initial_margin)
            for mirror, exact in zip(loop.book.figures[row], expected, strict=True):
                assert abs(float(mirror) - float(exact)) <= RELATIVE * (1 + abs(float(exact))), (account.id, row)


def test_fills_open_add_reduce_flip_close_through_the_loop():
    loop = new_loop()
    trade(loop, "b", "mm", "ETH-PERP", "2", 1000)
    # long 2 at 1000, mark 1000: equity 1000, MM 2 x 1000 x 0.004 = 8, IM 16
    assert cross(loop, "b") == (1000.0, 1000.0, 8.0, 16.0)
    trade(loop, "b", "mm", "ETH-PERP", "2", 1100)
    # long 4, entry (2 x 1000 + 2 x 1100) / 4 = 1050; uPnL 4 x (1000 - 1050) = -200: equity 800; MM 16, IM 32
    assert cross(loop, "b") == (800.0, 800.0, 16.0, 32.0)
    trade(loop, "mm", "b", "ETH-PERP", "6", 1000)
    # closes 4, realizing 4 x (1000 - 1050) = -200 into the balance (800), and opens short 2 at 1000
    assert loop.state.account("b").balances["USDT"] == D(800)
    assert cross(loop, "b") == (800.0, 800.0, 8.0, 16.0)
    trade(loop, "b", "mm", "ETH-PERP", "2", 900)
    # closes the short at 900: +2 x (1000 - 900) = +200, balance 1000, nothing held
    assert loop.state.account("b").positions == () and loop.state.account("b").balances["USDT"] == D(1000)
    assert cross(loop, "b") == (1000.0, 1000.0, 0.0, 0.0)
    # the counterparty took the other side of each: -2 at 1000, -4 at 1050, +6 closes 4 (+200) to long 2 at
    # 1000, sold at 900 (-200): back to its 1,000,000
    assert loop.state.account("mm").balances["USDT"] == D(1000000) and loop.state.account("mm").positions == ()
    assert_mirror_is_the_ledger(loop)


def test_an_isolated_loss_stays_in_its_pool_until_the_position_closes():
    loop = new_loop()
    # the isolated pool: margin 500, uPnL 0 at 20000, MM 1 x 20000 x 0.004 = 80, IM 160
    assert isolated(loop, "c", "BTC-PERP") == (500.0, 500.0, 80.0, 160.0)
    trade(loop, "mm", "c", "BTC-PERP", "0.5", 19800)
    # sells half at 19800: realized 0.5 x (19800 - 20000) = -100 stays in the pool (margin 400); the cross
    # balance is untouched; half left: MM 0.5 x 20000 x 0.004 = 40, IM 80
    assert isolated(loop, "c", "BTC-PERP") == (400.0, 400.0, 40.0, 80.0)
    assert cross(loop, "c") == (1000.0, 1000.0, 0.0, 0.0)
    assert_mirror_is_the_ledger(loop)
    trade(loop, "mm", "c", "BTC-PERP", "0.5", 19000)
    # sells the rest at 19000: realized 0.5 x (19000 - 20000) = -500 takes the pool to 400 - 500 = -100; closed
    # outside a liquidation, the pool's deficit is settled from the cross balance: 1000 - 100 = 900
    assert isolated(loop, "c", "BTC-PERP") is None
    assert loop.state.account("c").balances["USDT"] == D(900) and loop.state.account("c").positions == ()
    assert cross(loop, "c") == (900.0, 900.0, 0.0, 0.0)
    assert_mirror_is_the_ledger(loop)


def test_an_isolated_loss_beyond_its_margin_never_reaches_the_cross_balance():
    loop = new_loop()
    seq = loop.seq + 1
    sold = live.Trade(
        seq=seq, time=D(seq), id="t", buyer="mm", seller="c", instrument="BTC-PERP", size=D("0.5"), price=D(18000)
    )
    out = loop.handle(sold)
    # sells half at 18000: realized 0.5 x (18000 - 20000) = -1000 takes the pool to 500 - 1000 = -500 with 0.5
    # still held (at mark 20000: equity -500 < MM 40). The deficit stays in the pool: c's cross figures keep
    # 1000, and the account is liquidatable for its isolated pool alone
    figures = [e for e in out if isinstance(e, live.Figures) and e.account == "c"]
    assert figures[0].equity == D(1000) and figures[0].liquidatable
    # the pool is closed where its net value is zero: -500 + 0.5 x (p - 20000) = 0 at p = 21000
    (fill,) = [e for e in out if isinstance(e, live.LiquidationFill)]
    assert (fill.account, fill.size, fill.bankruptcy_price) == ("c", D("-0.5"), D(21000))
    assert loop.state.account("c").balances["USDT"] == D(1000) and isolated(loop, "c", "BTC-PERP") is None
    assert cross(loop, "c") == (1000.0, 1000.0, 0.0, 0.0)
    assert_mirror_is_the_ledger(loop)
