"""Properties of the exact evaluator on random books (hypothesis).

- A liquidation price is where the pool's status changes: the pool keeps its current status at
  every price strictly between the mark and the liquidation price, and has the other status just
  past it. With no liquidation price, no price on a wide grid changes the status.
- Cross margin never needs more collateral than isolated margin for the same book.
"""

from decimal import Decimal
from functools import partial

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.account import cross_pool, evaluate_account, isolated_pool
from crossmargin.margin.pools import Pool, evaluate_pool
from crossmargin.margin.scaling import Move, scaled_market
from crossmargin.margin.whatif import compare_modes
from crossmargin.model import Asset, Portfolio, Position, RuleChoices, exact
from tests.builders import GENERIC, D, banded, book, div, inverse, linear, tiers

ASSETS = [
    Asset.simple("USDT"),
    banded("BTC", [("0", "0.95"), ("5", "0.9")], initial=[("0", "0.9"), ("5", "0.8")]),
    banded("ETH", [("0", "0.9")], initial=[("0", "0.85")]),
]
INSTRUMENTS = [
    linear(
        "BTC-PERP",
        size="0.01",
        table=tiers(("5000", "0.004", "0.008"), ("20000", "0.006", "0.012"), (None, "0.01", "0.02")),
    ),
    linear("BTC-FUT", size="0.01", table=tiers(("10000", "0.005", "0.01"), (None, "0.008", "0.016"))),
    inverse(
        "BTC-INV", size="100", table=tiers(("0.2", "0.005", "0.01"), ("1", "0.01", "0.02"), (None, "0.02", "0.04"))
    ),
    linear("ETH-PERP", underlying="ETH", size="0.1", table=tiers(("3000", "0.005", "0.01"), (None, "0.01", "0.02"))),
]
UNDERLYING = {i.name: i.underlying for i in INSTRUMENTS}


def amounts(low: int, high: int, places: int = 2):
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def random_books(draw) -> Portfolio:
    btc = draw(amounts(1_000_000, 6_000_000))  # 10000.00 .. 60000.00
    eth = draw(amounts(50_000, 400_000))
    basis = draw(amounts(-300, 300, places=4))  # future mark = perp mark x (1 + basis)
    marks = {
        "BTC-PERP": str(btc),
        "BTC-FUT": str((btc * (1 + basis)).quantize(D("0.01"))),
        "BTC-INV": str(btc),
        "ETH-PERP": str(eth),
    }
    prices = {"USDT": "1", "BTC": str(btc), "ETH": str(eth)}
    names = draw(st.lists(st.sampled_from(list(UNDERLYING)), min_size=1, max_size=4, unique=True))
    positions = []
    for name in names:
        size = draw(amounts(-300, 300, places=0).filter(lambda s: s != 0))
        entry = (Decimal(marks[name]) * (1 + draw(amounts(-2000, 2000, places=4)))).quantize(D("0.01"))
        isolated = draw(st.one_of(st.none(), amounts(0, 500_000)))
        if isolated is not None and name == "BTC-INV":
            isolated = isolated / 20000
        positions.append(Position(name, size, entry, isolated))
    balances = {
        "USDT": str(draw(amounts(-100_000, 5_000_000))),
        "BTC": str(draw(amounts(0, 1_000, places=2))),
        "ETH": str(draw(amounts(-500, 2_000, places=2))),
    }
    return book(ASSETS, INSTRUMENTS, prices, marks, [("acct", balances, positions)])


def liquidatable(pool: Pool, portfolio: Portfolio, move: Move, scale: Decimal, rules: RuleChoices = GENERIC) -> bool:
    market = scaled_market(portfolio, move, scale)
    return evaluate_pool(pool, portfolio.with_market(market), rules).liquidatable


def assert_liquidation_prices_are_status_changes(portfolio: Portfolio, rules: RuleChoices) -> None:
    """Every position's liquidation price of the first account is where its pool changes status (module doc)."""
    account = portfolio.accounts[0]
    result = evaluate_account(account, portfolio, rules)
    for item in result.positions:
        position = item.figures.position
        pool = isolated_pool(position, portfolio) if item.isolated else cross_pool(account)
        move = Move.of(portfolio, position.instrument, rules.liquidation_price_moves)
        status = partial(liquidatable, pool, portfolio, move, rules=rules)
        now = status(Decimal(1))
        if item.liquidation_price is None:
            assert all(status(Decimal(2) ** k) == now for k in range(-12, 13))
            continue
        star = div(item.liquidation_price, item.figures.mark)
        with exact():
            before = [1 + (star - 1) * Decimal(k) / 16 for k in range(16)] + [star - (star - 1) * D("1E-12")]
            after = star + (star - 1) * D("1E-12")
        assert all(status(s) == now for s in before)
        assert status(after) != now


@given(random_books())
def test_liquidation_price_is_where_status_changes(portfolio: Portfolio):
    assert_liquidation_prices_are_status_changes(portfolio, GENERIC)


@given(random_books())
def test_cross_never_needs_more_collateral_than_isolated(portfolio: Portfolio):
    comparison = compare_modes(portfolio.accounts[0], portfolio, GENERIC)
    # equal books can differ in the 50th digit: inverse PnL is a quotient, rounded once per position
    with exact():
        allowed = comparison.isolated.collateral_required * (1 + D("1E-40")) + D("1E-40")
    assert comparison.cross.collateral_required <= allowed
    # the requirements themselves are the same positions' margins in both modes
    assert comparison.cross.initial_margin == comparison.isolated.initial_margin
