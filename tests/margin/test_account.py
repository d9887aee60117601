"""Whole-account evaluation worked by hand: multi-collateral cross pool, isolated positions."""

from crossmargin.margin.account import evaluate_account
from crossmargin.model import Asset, WeightSchedule
from tests.builders import BINANCE_LIKE, GENERIC, D, banded, book, div, inverse, linear, position

USDT = Asset.simple("USDT")
BTC = banded(
    "BTC", [("0", "0.95"), ("10", "0.9"), ("50", "0.8")], initial=[("0", "0.9"), ("10", "0.85"), ("50", "0.7")]
)
USDC = Asset("USDC", WeightSchedule.flat(D("0.98")), WeightSchedule.flat(D("0.95")), D("1.02"), D("1.05"))


def multi_collateral_book():
    return book(
        assets=[USDT, BTC, USDC],
        instruments=[
            linear("BTC-PERP", size="0.001", table=BINANCE_LIKE),
            linear("ETH-PERP", underlying="ETH", size="0.01"),
        ],
        prices={"USDT": "1", "BTC": "20000", "USDC": "0.999"},
        marks={"BTC-PERP": "20010", "ETH-PERP": "1501"},
        accounts=[
            (
                "alice",
                {"USDT": "5000", "BTC": "12", "USDC": "-1000"},
                [position("BTC-PERP", "3000", "19000"), position("ETH-PERP", "-200", "1400")],
            )
        ],
    )


def test_multi_collateral_cross_account_by_hand():
    portfolio = multi_collateral_book()
    result = evaluate_account(portfolio.accounts[0], portfolio, GENERIC)
    cross = result.cross
    # collateral (maintenance): USDT 5000; BTC (10 x 0.95 + 2 x 0.9) x 20000 = 11.3 x 20000 = 226000;
    # USDC owed: -1000 x 1.02 x 0.999 = -1018.98. Total 229981.02
    assert [c.value for c in cross.collateral] == [D(5000), D(226000), D("-1018.98")]
    assert cross.collateral_value == D("229981.02")
    # initial side: 5000 + (10 x 0.9 + 2 x 0.85) x 20000 - 1000 x 1.05 x 0.999 = 5000 + 214000 - 1048.95
    assert cross.initial_collateral_value == D("217951.05")
    btc, eth = cross.positions
    # BTC-PERP: 3000 x 0.001 = 3 BTC, notional 3 x 20010 = 60030 (second bracket):
    # MM = 60030 x 0.005 - 50 = 250.15, IM = 60030 x 0.01 = 600.3, uPnL = 3 x (20010 - 19000) = 3030
    assert (btc.notional, btc.maintenance_margin, btc.initial_margin, btc.unrealized_pnl) == (
        D(60030),
        D("250.15"),
        D("600.3"),
        D(3030),
    )
    # ETH-PERP: 200 x 0.01 = 2 ETH short, notional 3002, MM 12.008, IM 24.016, uPnL -2 x 101 = -202
    assert (eth.notional, eth.maintenance_margin, eth.initial_margin, eth.unrealized_pnl) == (
        D(3002),
        D("12.008"),
        D("24.016"),
        D(-202),
    )
    assert cross.unrealized_pnl == D(2828)
    assert cross.equity == D("232809.02")  # 229981.02 + 2828
    assert cross.maintenance_margin == D("262.158")
    assert cross.initial_margin == D("624.316")
    assert cross.free_collateral == D("220154.734")  # 217951.05 + 2828 - 624.316
    assert cross.margin_ratio == div("262.158", "232809.02")
    assert not cross.liquidatable


def isolated_book(mark: str):
    return book(
        assets=[USDT, Asset.simple("BTC")],
        instruments=[inverse("BTCUSD", size="100")],
        prices={"USDT": "1", "BTC": mark},
        marks={"BTCUSD": mark},
        accounts=[("bob", {"USDT": "100"}, [position("BTCUSD", "1000", "50000", isolated_margin="1")])],
    )


def test_isolated_position_is_margined_apart():
    portfolio = isolated_book("50000")
    result = evaluate_account(portfolio.accounts[0], portfolio, GENERIC)
    # the cross pool holds only the 100 USDT and no position
    assert result.cross.equity == D(100)
    assert result.cross.maintenance_margin == 0
    (only,) = result.positions
    assert only.isolated and only.pool is not None
    # isolated: 1 BTC x 50000 = 50000 USD; notional 100000 USD = 2 BTC; MM 2 x 0.005 x 50000 = 500, IM 1000
    assert only.pool.equity == D(50000)
    assert only.figures.maintenance_margin == D(500)
    assert only.figures.initial_margin == D(1000)


def test_isolated_loss_does_not_reach_the_cross_pool():
    portfolio = isolated_book("30000")
    result = evaluate_account(portfolio.accounts[0], portfolio, GENERIC)
    (only,) = result.positions
    assert only.pool is not None
    # equity in BTC: 1 + 100000 x (1/50000 - 1/30000) = 1 + 2 - 3.333.. = -0.333.. BTC = -10000 USD
    assert abs(only.pool.equity - D(-10000)) < D("1E-40")
    assert only.pool.liquidatable
    assert not result.cross.liquidatable
    assert result.cross.equity == D(100)
