"""Resilience by hand: a displacement halves every half-life, and through the engine loop one liquidation's
displacement of the mark fades back to the index on the clock alone."""

from decimal import Decimal

import pytest

from crossmargin.liquidation.liquidity import LinearImpact
from crossmargin.liquidation.resilience import NEGLIGIBLE, decayed
from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop, LoopConfig
from crossmargin.model import Asset, InputError
from crossmargin.oracle.config import OracleConfig
from crossmargin.venues import rulebook
from tests.builders import D, book, linear, position

H = Decimal(60)


@pytest.mark.parametrize(
    ("elapsed", "left"),
    [
        ("0", "-0.03"),  # nothing has faded yet
        ("60", "-0.015"),  # one half-life: half
        ("120", "-0.0075"),  # two: a quarter
        ("180", "-0.00375"),  # three: an eighth
    ],
)
def test_a_displacement_halves_every_half_life(elapsed, left):
    assert abs(decayed(D("-0.03"), D(elapsed), H) - D(left)) < D("1E-40")


def test_a_negligible_displacement_is_gone_and_a_bad_half_life_is_refused():
    # 0.03 x 2^-25 = 8.9e-10 < 1e-9 after 25 half-lives; 2^-24 x 0.03 = 1.8e-9 is still there
    assert decayed(D("0.03"), 25 * H, H) == 0 and decayed(D("0.03"), 24 * H, H) > NEGLIGIBLE
    with pytest.raises(InputError) as err:
        decayed(D("0.01"), H, D(0))
    assert err.value.field == "resilience_half_life_s"


def one_liquidation_loop() -> EngineLoop:
    """USDT at 1, BTC at 20000, BTC-PERP linear (mmr 0.004) marked 20000; ``a``: 100 USDT, long 1 BTC-PERP from
    20000 (equity 100 >= MM 80). Liquidations fill against linear depth of 1000 BTC, half of the move to the
    last fill staying in the mark."""
    generic = rulebook("generic")
    portfolio = book(
        [Asset.simple("USDT")],
        [linear("BTC-PERP")],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000"},
        [("a", {"USDT": "100"}, [position("BTC-PERP", "1", "20000")])],
    )
    depth = {"BTC-PERP": LinearImpact(D(1000), D("0.5"))}
    return EngineLoop(LoopConfig(portfolio, generic.rules, generic.liquidation, OracleConfig(), depth))


def send(loop: EngineLoop, event: type[live.Inbound], t: int, **fields: object) -> list[live.OutboundEvent]:
    seq = loop.seq + 1
    return loop.handle(event(seq=seq, time=D(t), id=f"e{seq}", **fields))  # type: ignore[arg-type]


def btc_at(price: int) -> tuple[live.Quote, ...]:
    return tuple(live.Quote(source=s, symbol="BTC", price=D(price)) for s in ("s1", "s2", "s3"))


def test_one_liquidation_displaces_the_mark_and_the_displacement_fades_on_the_clock():
    loop = one_liquidation_loop()
    # BTC to 19950: equity 100 - 50 = 50 < MM 1 x 19950 x 0.004 = 79.8, liquidated
    out = send(loop, live.Prices, 0, quotes=btc_at(19950))
    fills = [e for e in out if isinstance(e, live.LiquidationFill)]
    assert fills and all(f.account == "a" for f in fills)
    sold = sum(-f.size for f in fills)
    # a sell of n units against linear depth 1000 leaves its last fill at 19950 x (1 - n / 1000) (average
    # 19950 x (1 - n / 2000): at most 10 below, a loss the 50 of equity covers, so the market takes it); half
    # of that move stays: the mark is displaced by d0 = -0.5 x n / 1000
    (moved,) = [e for e in out if isinstance(e, live.MarkMoved)]
    d0 = -D("0.5") * sold / 1000
    assert abs(moved.mark - D(19950) * (1 + d0)) < D("1E-30")
    # the index never moved: it is the sources' 19950
    assert loop.state.market.prices["BTC"] == D(19950)
    # one half-life later, on a clock event alone, half the displacement is left; two: a quarter
    for t, share in ((60, D("0.5")), (120, D("0.25"))):
        send(loop, live.Clock, t)
        mark = loop.state.market.marks["BTC-PERP"]
        assert abs(mark - D(19950) * (1 + d0 * share)) < D("1E-30"), t
        assert float(loop.book.marks[0]) == pytest.approx(float(mark), rel=1e-15)
    # after 25 half-lives (0.5 x n / 1000 x 2^-25 < 1e-9 for n <= 1) the mark is the index again, exactly
    send(loop, live.Clock, 25 * 60)
    assert loop.state.market.marks["BTC-PERP"] == D(19950) and loop.displaced == {}
