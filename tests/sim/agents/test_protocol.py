"""The agents' view of the loop and the numbering of their events."""

from decimal import Decimal

from crossmargin.liquidation.liquidity import DepthLevels
from crossmargin.live import events as live
from crossmargin.sim.agents.protocol import AgentView, numbered
from tests.sim.agents.conftest import document, loop_of

D = Decimal


def test_the_view_shows_the_loops_state_book_volatility_and_depth():
    depth = DepthLevels(((D("0.001"), D(10)),))
    loop = loop_of(document(), {"BTC-PERP": depth})
    view = AgentView(D(5), loop)
    assert view.state is loop.state and view.book is loop.book
    assert view.liquidity == {"BTC-PERP": depth}
    assert view.volatility() == {}  # no index price has moved yet


def test_an_event_is_numbered_as_the_host_logs_it_and_nothing_else_changes():
    event = live.MarginMultipliers(seq=0, time=D(3), id="venue|3", multipliers={"BTC": D(2)})
    assert numbered(event, 17) == live.MarginMultipliers(seq=17, time=D(3), id="venue|3", multipliers={"BTC": D(2)})
