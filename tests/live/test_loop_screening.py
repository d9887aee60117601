"""After an event, the loop screens only the accounts the event changed and the pools its prices moved
(besides the accounts still due after the last event): the service's trades and ticks would otherwise pay a
scan of the whole book each. The second method: the same loop made to screen the whole book after every
event gives the same outbound events and digest."""

import numpy as np
from hypothesis import HealthCheck, given, settings

from crossmargin.live import events as live
from crossmargin.live.loop import EngineLoop
from tests.live.conftest import config, inbound, run_all


class WholeBookScreening(EngineLoop):
    """The loop with every event's first screening round over the whole book."""

    def _liquidate(self, among: list[str] | None = None, pools: np.ndarray | None = None, whole: bool = False) -> None:
        super()._liquidate(whole=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=inbound(30))
def test_screening_only_the_changed_accounts_loses_no_liquidation(events: list[live.InboundEvent]):
    narrow, whole = EngineLoop(config()), WholeBookScreening(config())
    assert run_all(narrow, events) == run_all(whole, events)
    assert narrow.digest() == whole.digest()


def test_due_among_accounts_is_the_whole_books_due_restricted_to_them():
    loop = EngineLoop(config())
    everyone = loop.state.account_ids
    for some in (everyone[:1], everyone[1:], [], everyone):
        assert loop.due(some) == [a for a in loop.due() if a in some]
