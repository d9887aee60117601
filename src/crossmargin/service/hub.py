"""Who follows which topic of the stream, and handing them messages.

Topics: ``account:<id>`` (the account's figures whenever they change: ``exact`` when its money or positions
changed, the risk book's ``mirror`` figures when prices moved them; its standing; its liquidation lines),
``liquidations`` (each account turning liquidatable, every liquidation fill, ADL, collateral-sale,
insurance, socialized and bad-debt line, and the marks the fills moved), ``prices`` (each symbol's oracle
status after every quote) and ``book`` (the book's aggregates, at most every 100 ms). A message is JSON
bytes; one published to several topics a subscriber follows (the same bytes, published topic after topic)
reaches it once. A subscriber that falls :data:`QUEUE_LIMIT` messages behind is dropped (its socket closed
with code 1013, "try again later"), so a slow reader never holds the engine back.
"""

import asyncio
from collections import defaultdict

QUEUE_LIMIT = 10_000
"""Messages one subscriber may have waiting before it is dropped."""


class Subscriber:
    """One socket's queue of messages and its topics; ``dropped`` once it fell too far behind."""

    def __init__(self, topics: frozenset[str]) -> None:
        self.topics = topics
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = asyncio.Event()
        self.last: bytes | None = None
        """The message handed to it last (the same object again is not handed twice)."""


class Hub:
    """The subscribers of each topic (see module doc)."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, topics: frozenset[str]) -> Subscriber:
        subscriber = Subscriber(topics)
        for topic in topics:
            self.subscribers[topic].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for topic in subscriber.topics:
            followers = self.subscribers.get(topic)
            if followers is not None:
                followers.discard(subscriber)
                if not followers:
                    del self.subscribers[topic]

    def followed(self, topic: str) -> bool:
        return topic in self.subscribers

    def followed_accounts(self) -> list[str]:
        """Accounts whose topic somebody follows."""
        return [t.removeprefix("account:") for t in self.subscribers if t.startswith("account:")]

    def publish(self, topic: str, message: bytes) -> None:
        """Hand ``message`` to every follower of ``topic``, but not again to one that was just handed this very
        message (the same bytes object) for another of its topics: a liquidation line published on
        ``liquidations`` and then on ``account:<id>`` reaches a socket following both once."""
        for subscriber in list(self.subscribers.get(topic, ())):
            if subscriber.last is message:
                continue
            subscriber.last = message
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                subscriber.dropped.set()
                self.unsubscribe(subscriber)
