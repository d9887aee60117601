"""The live book as a stress run's input (:mod:`crossmargin.sim.stress.live_book`), cut from an engine loop
over a generated book of 12 accounts (``synthetic_book(12, 3)`` under the generic rulebook with the stress
defaults, as the service generates one): what the cut holds, that it stays as it was while the loop moves on,
and that packing gives it back equal."""

from decimal import Decimal

import pytest

from crossmargin.liquidation.liquidity import SquareRootImpact
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from crossmargin.model.numbers import exact
from crossmargin.service.books import book_config, generated
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.stress.live_book import live_book, pack, unpack

D = Decimal


@pytest.fixture
def loop() -> EngineLoop:
    return EngineLoop(book_config(*generated(12, 3)))


def test_the_cut_holds_the_accounts_market_rules_and_fund_of_the_loop(loop: EngineLoop):
    drawn = synthetic_book(12, 3)  # the second method: the generator called directly
    cut = live_book(loop)
    assert cut.seq == 0 and cut.accounts == drawn.accounts
    assert cut.portfolio() == drawn
    assert (cut.rules, cut.terms, cut.oracle) == (loop.config.rules, loop.config.terms, loop.config.oracle)
    # the fund: 1 % of every held balance at full price, to a whole unit (the generated book's default)
    held = sum(
        (
            amount * drawn.market.price(asset)
            for a in drawn.accounts
            for asset, amount in a.balances.items()
            if amount > 0
        ),
        D(0),
    )
    assert cut.insurance_fund == (held * D("0.01")).quantize(D(1)) > 0
    assert cut.described == "the live book after event 0: 12 accounts, generic rulebook"
    book = cut.stress_book()
    assert (book.portfolio, book.insurance_fund, book.liquidity) == (drawn, cut.insurance_fund, loop.config.liquidity)


def test_the_cut_stays_as_it_was_while_the_loop_moves_on(loop: EngineLoop):
    cut = live_book(loop)
    first = cut.accounts[0]
    usdt = first.balances.get("USDT", D(0))
    btc = cut.book.market.prices["BTC"]
    loop.handle(live.Deposit(seq=1, time=D(0), id="e1", account=first.id, asset="USDT", amount=D(1000)))
    quotes = tuple(live.Quote(source=s, symbol="BTC", price=btc / 2) for s in ("s1", "s2", "s3"))
    loop.handle(live.Prices(seq=2, time=D(1), id="e2", quotes=quotes))
    assert loop.state.account(first.id).balances["USDT"] == usdt + 1000  # the loop moved...
    assert loop.state.market.prices["BTC"] != btc
    assert cut.accounts[0].balances.get("USDT", D(0)) == usdt  # ...the cut did not
    assert cut.book.market.prices["BTC"] == btc and cut.seq == 0
    assert cut.portfolio() == synthetic_book(12, 3)
    moved = live_book(loop)
    assert moved.seq == 2 and moved.accounts[0].balances["USDT"] == usdt + 1000


def test_the_cut_takes_the_loops_depth_multiplier(loop: EngineLoop):
    loop.handle(live.ParameterChange(seq=1, time=D(0), id="e1", depth=D("0.5")))
    cut = live_book(loop)
    assert cut.liquidity.keys() == loop.config.liquidity.keys() and cut.liquidity
    for name, model in cut.liquidity.items():
        configured = loop.config.liquidity[name]
        assert isinstance(model, SquareRootImpact) and isinstance(configured, SquareRootImpact)
        with exact():  # half the depth in units (every digit of it), the same law
            assert model.depth_units == configured.depth_units / 2
        assert (model.coefficient, model.permanent_impact) == (configured.coefficient, configured.permanent_impact)


def test_packing_gives_the_cut_back_equal(loop: EngineLoop):
    cut = live_book(loop)
    packed = pack(cut, chunk=5)
    assert len(packed.chunks) == 3  # 12 accounts, 5 a chunk: 5 + 5 + 2
    assert packed.head.accounts == ()
    assert unpack(packed) == cut
    assert unpack(pack(cut)) == cut
