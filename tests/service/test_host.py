"""The service's book host on SQLite and on the real PostgreSQL, worked on the shipped example
(examples/portfolio.yaml: hedged holds 50000 USDT, diversified 30000 USDT; BTC-PERP is 0.001 BTC a contract,
marked 64000).

- A request is answered only after the transaction holding its events committed, with their seqs.
- Group commit: the requests waiting when the writer wakes are applied in arrival order and appended in one
  transaction; if that transaction fails, every one of them is answered :class:`Unavailable`, nothing of
  them is acknowledged or kept, and the loop is rebuilt equal to the log (digest of a fresh open).
- A snapshot is written with the batch that crosses each multiple of ``snapshot_every``; reopening starts
  from it and reads only the log after it, to the digest of the host that never restarted.
- An idempotency key is applied once, within a batch, across batches and across a restart.
- ``BookHost.open`` refuses another ``--book`` on a used database and none on a new one.
- Replay equality: the log's records fed to a fresh engine loop, and ``crossmargin replay --events``, give
  the host's digest.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.live import events as live
from crossmargin.live import snapshot as snapshots
from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import EngineLoop
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.service.host import BookHost, Maker, Outcome, Unavailable, _Pending, open_loop
from crossmargin.service.schema import events
from crossmargin.service.store import LogEntry, Store

D = Decimal
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portfolio.yaml"
T = TypeVar("T")


def document() -> tuple[str, str]:
    return EXAMPLE.name, EXAMPLE.read_text(encoding="utf-8")


def deposit(account: str, amount: str) -> Maker:
    def make(seq: int, time: Decimal) -> live.InboundEvent:
        return live.Deposit(seq=seq, time=time, id=f"e{seq}", account=account, asset="USDT", amount=D(amount))

    return make


def withdrawal(account: str, amount: str) -> Maker:
    def make(seq: int, time: Decimal) -> live.InboundEvent:
        return live.Withdrawal(seq=seq, time=time, id=f"e{seq}", account=account, asset="USDT", amount=D(amount))

    return make


def opening(account: str) -> Maker:
    return lambda seq, time: live.OpenAccount(seq=seq, time=time, id=f"e{seq}", account=account)


def trade(buyer: str, seller: str, size: str, price: str = "64000") -> Maker:
    def make(seq: int, time: Decimal) -> live.InboundEvent:
        return live.Trade(
            seq=seq, time=time, id=f"e{seq}", buyer=buyer, seller=seller, instrument="BTC-PERP", size=D(size),
            price=D(price),
        )  # fmt: skip

    return make


def price(t: int, symbol: str, value: str, *sources: str) -> Maker:
    quotes = tuple(live.Quote(source=s, symbol=symbol, price=D(value)) for s in sources)
    return lambda seq, _: live.Prices(seq=seq, time=D(t), id=f"e{seq}", quotes=quotes)


def queued(makers: Sequence[Maker], key: str | None = None) -> _Pending:
    """A request as the writer takes it from its queue (for :meth:`BookHost.process` called directly)."""
    return _Pending(makers=makers, key=key, fingerprint=None if key is None else f"digest of {key}")


def usdt(host: BookHost, account: str) -> Decimal:
    return host.loop.state.account(account).balances.get("USDT", D(0))


def serving(host: BookHost, scenario: Callable[[], Awaitable[T]]) -> T:
    """Run ``scenario`` with the host's writer running (as the API's lifespan runs it)."""

    async def main() -> T:
        writer = asyncio.create_task(host.run())
        await asyncio.sleep(0)
        try:
            return await scenario()
        finally:
            writer.cancel()

    return asyncio.run(main())


def submitted(
    host: BookHost, *requests: Sequence[Maker], key: str | None = None, fingerprint: str | None = None
) -> list[Outcome]:
    """Each request submitted and answered in turn (one batch each)."""

    async def scenario() -> list[Outcome]:
        return [await host.submit(makers, key, fingerprint) for makers in requests]

    return serving(host, scenario)


def fresh_digest_of(store: Store) -> str:
    return BookHost.open(store).digest()


def fresh_digest(url: str) -> str:
    store = Store(url)
    try:
        return BookHost.open(store).digest()
    finally:
        store.close()


@pytest.fixture
def store(database_url: str):
    opened = Store(database_url)
    yield opened
    opened.close()


def test_a_request_is_answered_with_its_seq_once_committed(store: Store):
    host = BookHost.open(store, document())
    [outcome] = submitted(host, [deposit("hedged", "10.5")])
    assert outcome.seqs == (1,) and not outcome.repeated and outcome.refusal is None
    # 50000 USDT in the document + 10.5
    assert usdt(host, "hedged") == D("50010.5")
    [(seq, record)] = list(store.records_after(0))
    assert seq == 1 and live.decode_inbound(record) == live.Deposit(
        seq=1, time=D(0), id="e1", account="hedged", asset="USDT", amount=D("10.5")
    )
    [figures] = [e for e in outcome.outbound if isinstance(e, live.Figures)]
    assert figures.account == "hedged"


def test_a_refused_request_of_one_event_is_answered_and_never_logged(store: Store):
    host = BookHost.open(store, document())
    before = host.loop.state.digest()
    # diversified holds 30000 USDT: a withdrawal of 10 million is beyond any free collateral
    [outcome] = submitted(host, [withdrawal("diversified", "10000000")])
    assert outcome.refusal is not None and outcome.refusal.field == "amount" and outcome.seqs == ()
    assert host.loop.state.digest() == before and host.loop.seq == 0 and usdt(host, "diversified") == D(30000)
    assert list(store.records_after(0)) == []
    [applied] = submitted(host, [deposit("diversified", "1")])
    assert applied.seqs == (1,)  # the refused request took no seq


def test_an_event_refused_within_a_request_of_several_is_logged_as_refused_and_changes_nothing(store: Store):
    host = BookHost.open(store, document())
    # the new account holds nothing: the withdrawal after its opening is refused by the engine, in the log
    [outcome] = submitted(host, [opening("n1"), withdrawal("n1", "1")])
    assert outcome.seqs == (1, 2) and outcome.refusal is not None and outcome.refusal.field == "amount"
    assert [live.decode_inbound(r).seq for _, r in store.records_after(0)] == [1, 2]
    assert host.loop.state.account("n1").balances == {} and "n1" in host.loop.state.legs
    assert host.digest() == fresh_digest_of(store)


def test_the_requests_waiting_are_appended_in_one_transaction_and_answered_after_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
):
    host = BookHost.open(store, document())
    appended: list[tuple[list[int], list[bool]]] = []
    real_append = store.append

    async def scenario() -> list[Outcome]:
        batch = [
            queued([deposit("hedged", "1")], None),
            queued([deposit("diversified", "2"), deposit("hedged", "3")], "k"),
            queued([opening("n1")], None),
            queued([deposit("n1", "4")], None),
        ]

        def spy(entries: Sequence[LogEntry], snapshot: tuple[int, bytes] | None = None) -> None:
            # what is appended, and whether any request of the batch was answered before the commit
            appended.append(([e.seq for e in entries], [p.answer.done() for p in batch]))
            real_append(entries, snapshot)

        monkeypatch.setattr(store, "append", spy)
        host.process(batch)
        return [p.answer.result() for p in batch]

    outcomes = asyncio.run(scenario())
    assert appended == [([1, 2, 3, 4, 5], [False, False, False, False])]
    assert [o.seqs for o in outcomes] == [(1,), (2, 3), (4,), (5,)]
    # applied in arrival order: 50000 + 1 + 3; 30000 + 2; the new account 4 (opened before its deposit)
    assert (usdt(host, "hedged"), usdt(host, "diversified"), usdt(host, "n1")) == (D(50004), D(30002), D(4))
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(events.c.seq, events.c.idempotency_key, events.c.request_events).order_by(events.c.seq)
        ).all()
    # the two-event request holds its key and its count on its first event
    assert [tuple(r) for r in rows] == [(1, None, 1), (2, "k", 2), (3, None, 0), (4, None, 1), (5, None, 1)]


def test_requests_submitted_together_share_one_commit(store: Store, monkeypatch: pytest.MonkeyPatch):
    host = BookHost.open(store, document())
    commits: list[list[int]] = []
    real_append = store.append

    def spy(entries: Sequence[LogEntry], snapshot: tuple[int, bytes] | None = None) -> None:
        commits.append([e.seq for e in entries])
        real_append(entries, snapshot)

    monkeypatch.setattr(store, "append", spy)

    async def scenario() -> list[Outcome]:
        # five requests queued before the writer wakes: it takes them all at once
        return await asyncio.gather(*(host.submit([deposit("hedged", str(n))]) for n in range(1, 6)))

    outcomes = serving(host, scenario)
    assert commits == [[1, 2, 3, 4, 5]]
    assert sorted(o.seqs for o in outcomes) == [(1,), (2,), (3,), (4,), (5,)]
    assert usdt(host, "hedged") == D(50015)  # 50000 + 1 + 2 + 3 + 4 + 5


def test_a_failed_commit_answers_every_request_of_its_batch_unavailable_and_keeps_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
):
    store = Store(database_url)
    host = BookHost.open(store, document())
    [first] = submitted(host, [deposit("hedged", "1")])
    committed = host.digest()
    real_append = store.append
    failures: list[int] = []

    def fail_once(entries: Sequence[LogEntry], snapshot: tuple[int, bytes] | None = None) -> None:
        if not failures:
            failures.append(len(entries))
            with store.engine.begin() as connection:  # a real transaction that fails half-way: rolled back
                connection.execute(sa.insert(events), [entries[0].row()])
                raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))
        real_append(entries, snapshot)

    monkeypatch.setattr(store, "append", fail_once)

    async def scenario() -> list[BaseException | Outcome]:
        batch = [
            queued([deposit("hedged", "2")], "k"),
            queued([opening("n1"), deposit("n1", "3")], None),
            queued([price(5, "BTC", "60000", "a", "b", "c")], None),
        ]
        host.process(batch)
        answers: list[BaseException | Outcome] = []
        for pending in batch:
            error = pending.answer.exception()
            answers.append(error if error is not None else pending.answer.result())
        return answers

    answers = asyncio.run(scenario())
    assert failures == [4]  # the batch's four events were offered in one transaction
    assert all(isinstance(a, Unavailable) for a in answers), answers
    # nothing of the batch is in the log or in the loop: the loop is the log's, as a fresh open builds it
    assert [seq for seq, _ in store.records_after(0)] == [1]
    assert host.loop.seq == 1 and host.digest() == committed == host.loop.digest() == fresh_digest(database_url)
    assert "n1" not in host.loop.state.legs and usdt(host, "hedged") == D(50001)
    # the writer goes on: the key of the failed request was not used, the next events are 2 and 3
    again = submitted(host, [deposit("hedged", "2")], [opening("n1"), deposit("n1", "3")], key=None)
    assert [o.seqs for o in again] == [(2,), (3, 4)] and first.seqs == (1,)
    [retried] = submitted(host, [deposit("hedged", "5")], key="k")
    assert retried.seqs == (5,) and not retried.repeated
    assert usdt(host, "hedged") == D(50008) and usdt(host, "n1") == D(3)  # 50000 + 1 + 2 + 5
    assert host.digest() == fresh_digest(database_url)
    store.close()


def test_a_loop_that_cannot_be_rebuilt_at_once_is_rebuilt_before_the_next_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
):
    host = BookHost.open(store, document())
    submitted(host, [deposit("hedged", "1")])
    real_append, real_latest = store.append, store.latest_snapshot
    down = {"append": 1, "read": 1}

    def append(entries: Sequence[LogEntry], snapshot: tuple[int, bytes] | None = None) -> None:
        if down["append"]:
            down["append"] -= 1
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection lost"))
        real_append(entries, snapshot)

    def latest() -> tuple[int, bytes] | None:
        if down["read"]:
            down["read"] -= 1
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection lost"))
        return real_latest()

    monkeypatch.setattr(store, "append", append)
    monkeypatch.setattr(store, "latest_snapshot", latest)
    [refused] = asyncio.run(_settled(host, [deposit("hedged", "2")]))
    assert isinstance(refused, Unavailable) and down == {"append": 0, "read": 0}
    # the loop still holds the discarded deposit (the log could not be read back): its digest at seq 2 is
    # not the log's, and the next batch must not build on it
    discarded = host.digest()
    [after] = submitted(host, [deposit("hedged", "3")])
    assert after.seqs == (2,) and usdt(host, "hedged") == D(50004)  # 50000 + 1 + 3, not + 2
    assert host.digest() != discarded and host.digest() == BookHost.open(store).digest()


async def _settled(host: BookHost, *requests: Sequence[Maker]) -> list[BaseException | Outcome]:
    """Process the requests as one batch (no writer task): each one's answer or error."""
    batch = [queued(makers) for makers in requests]
    host.process(batch)
    return [p.answer.exception() or p.answer.result() for p in batch]


def test_a_request_whose_events_cannot_be_built_fails_its_batch_and_the_writer_goes_on(store: Store):
    host = BookHost.open(store, document())

    def broken(seq: int, time: Decimal) -> live.InboundEvent:
        raise RuntimeError("a bug in a request handler")

    async def scenario() -> tuple[list[BaseException | None], Outcome]:
        waiting = [
            asyncio.ensure_future(host.submit(makers))
            for makers in ([deposit("hedged", "1")], [deposit("hedged", "2"), broken])
        ]
        settled = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 60)
        errors = [s if isinstance(s, BaseException) else None for s in settled]
        return errors, await asyncio.wait_for(host.submit([deposit("hedged", "4")]), 60)

    errors, after = serving(host, scenario)
    assert all(isinstance(e, Unavailable) for e in errors), errors
    # neither the good request of that batch nor the half-built one was kept; the next one is event 1
    assert after.seqs == (1,) and usdt(host, "hedged") == D(50004)
    assert [seq for seq, _ in store.records_after(0)] == [1]


def test_snapshots_every_n_events_and_a_reopened_host_starts_from_the_latest(
    database_url: str, monkeypatch: pytest.MonkeyPatch
):
    store = Store(database_url)
    host = BookHost.open(store, document(), snapshot_every=3)
    requests: list[list[Maker]] = [
        [opening("n1")], [deposit("n1", "100")], [price(1, "BTC", "64100", "a", "b")], [trade("n1", "hedged", "1")],
        [deposit("hedged", "7")], [price(2, "BTC", "63900", "a", "b")], [trade("hedged", "n1", "1", "63900")],
        [deposit("n1", "0.25")],
    ]  # fmt: skip
    submitted(host, *requests)
    # one batch per request: the batches ending at 3 and 6 crossed a multiple of 3; the latest is kept
    saved = store.latest_snapshot()
    assert saved is not None and saved[0] == 6
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(sa.table("snapshots"))).scalar() == 1
    reopened_store = Store(database_url)
    read_from: list[int] = []
    real_records_after = reopened_store.records_after

    def spy(seq: int) -> Iterator[tuple[int, str]]:
        read_from.append(seq)
        return real_records_after(seq)

    monkeypatch.setattr(reopened_store, "records_after", spy)
    reopened = BookHost.open(reopened_store)
    assert read_from == [6]  # the snapshot, then events 7 and 8 only
    assert reopened.loop.seq == 8 and reopened.digest() == host.digest()
    # a second method: the whole log through a fresh engine loop
    loop = EngineLoop(host.config)
    for _, record in store.records_after(0):
        loop.handle(live.decode_inbound(record))
    assert loop.digest() == host.digest()
    # both carry on alike
    nine = live.Prices(seq=9, time=D(3), id="e9", quotes=(live.Quote(source="a", symbol="BTC", price=D(64050)),))
    assert host.loop.handle(nine) == reopened.loop.handle(nine) and reopened.digest() == host.digest()
    reopened_store.close()
    store.close()


def test_one_batch_crossing_a_multiple_snapshots_after_its_last_event(store: Store):
    host = BookHost.open(store, document(), snapshot_every=3)
    # one request of five events: the batch crosses 3 and is snapshotted once, after event 5
    submitted(host, [opening("a1"), deposit("a1", "1"), deposit("a1", "2"), opening("a2"), deposit("a2", "3")])
    saved = store.latest_snapshot()
    assert saved is not None and saved[0] == 5
    restored = snapshots.restored(host.config, snapshots.decode(saved[1]))
    assert restored.digest() == host.digest() and restored.state.account_ids[-2:] == ["a1", "a2"]


def test_an_idempotency_key_is_applied_once_within_a_batch_across_batches_and_across_a_restart(database_url: str):
    store = Store(database_url)
    host = BookHost.open(store, document())

    async def twice_at_once() -> list[Outcome]:
        return list(
            await asyncio.gather(
                host.submit([deposit("hedged", "7")], "k", "d7"), host.submit([deposit("hedged", "7")], "k", "d7")
            )
        )

    first, same_batch = serving(host, twice_at_once)
    [next_batch] = submitted(host, [deposit("hedged", "7")], key="k", fingerprint="d7")
    assert (first.seqs, first.repeated) == ((1,), False)
    for repeat in (same_batch, next_batch):
        assert repeat.repeated and repeat.seqs == first.seqs and repeat.outbound == first.outbound
    assert usdt(host, "hedged") == D(50007)  # 50000 + 7, once
    store.close()
    restarted_store = Store(database_url)
    restarted = BookHost.open(restarted_store)
    [after_restart] = submitted(restarted, [deposit("hedged", "7")], key="k", fingerprint="d7")
    assert after_restart.repeated and after_restart.seqs == (1,) and after_restart.outbound == first.outbound
    [reused] = submitted(restarted, [deposit("hedged", "8")], key="k", fingerprint="d8")
    assert reused.refusal is not None and reused.refusal.field == "Idempotency-Key" and reused.seqs == ()
    [other_key] = submitted(restarted, [deposit("hedged", "7")], key="k2", fingerprint="d7")
    assert other_key.seqs == (2,) and not other_key.repeated
    assert usdt(restarted, "hedged") == D(50014) and restarted_store.last_seq() == 2
    restarted_store.close()


def test_a_repeated_multi_event_request_answers_every_event_it_appended(store: Store):
    host = BookHost.open(store, document())
    request = [price(1, "BTC", "64000", "a", "b"), price(2, "ETH", "3200", "a", "b")]

    async def scenario() -> list[Outcome]:
        first = await host.submit(request, "p", "digest-1")
        repeat = await host.submit(request, "p", "digest-1")
        # the key again with another request (its digest differs): refused, nothing applied
        reused = await host.submit([price(9, "BTC", "1", "a")], "p", "digest-2")
        return [first, repeat, reused]

    first, repeat, reused = serving(host, scenario)
    assert first.seqs == repeat.seqs == (1, 2) and repeat.repeated and repeat.outbound == first.outbound
    assert reused.refusal is not None and reused.refusal.field == "Idempotency-Key" and reused.seqs == ()
    assert host.loop.seq == 2 and store.last_seq() == 2


def test_open_refuses_another_book_on_a_used_database_and_none_on_a_new_one(store: Store, tmp_path: Path):
    with pytest.raises(InputError) as caught:
        BookHost.open(store, None)
    assert caught.value.field == "--book" and store.book() is None
    BookHost.open(store, document())
    name, text = document()
    for other in [(name, text + "\n# changed\n"), ("other.yaml", text)]:
        with pytest.raises(InputError) as caught:
            BookHost.open(store, other)
        assert caught.value.field == "--book" and name in caught.value.message
    assert store.book() == document()
    assert BookHost.open(store, document()).loop.seq == 0  # the same book again resumes it
    assert BookHost.open(store).loop.seq == 0


def test_the_log_replays_to_the_hosts_digest_in_a_fresh_loop_and_through_replay_events(store: Store, tmp_path: Path):
    host = BookHost.open(store, document())
    submitted(
        host,
        [opening("n1"), deposit("n1", "1000")],
        [price(1, "BTC", "64000", "binance", "coinbase", "kraken")],
        [trade("n1", "hedged", "10"), trade("diversified", "n1", "3", "64010")],
        [withdrawal("diversified", "99999999")],  # refused before the log: not logged
        [opening("n1")],  # refused (the id exists): not logged
        [opening("n2"), withdrawal("n2", "5")],  # the withdrawal refused by the engine: logged
        # BTC down 1.6 %: near-liquidation (liquidated below 63969.85, the document says) is liquidated
        [price(2, "BTC", "63000", "binance", "coinbase", "kraken")],
        [deposit("hedged", "0.000001")],
    )
    with store.engine.connect() as connection:
        caused = [json.loads(r) for r in connection.execute(sa.select(events.c.outbound)).scalars()]
    kinds = {o["event"]["type"] for row in caused for o in row}
    assert {"rejected", "liquidation", "figures", "price_status"} <= kinds
    # method 1: a fresh engine loop under the document's configuration, fed the log's records
    config = loop_config_of(parse_document(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE.name))
    loop = EngineLoop(config)
    for _, record in store.records_after(0):
        loop.handle(live.decode_inbound(record))
    # logged: 2 + 1 + 2 (the refused withdrawal and opening are not) + 2 + 1 + 1 = 9 events
    assert loop.seq == host.loop.seq == 9 and loop.digest() == host.digest()
    # method 2: crossmargin replay --events over the records as `crossmargin log` prints them
    log = tmp_path / "log.jsonl"
    log.write_text("".join(record + "\n" for _, record in store.records_after(0)), encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", str(EXAMPLE), "--events", str(log), "--json"])
    assert result.exit_code == 0, result.stderr
    end: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    assert (end["event"], end["events"], end["digest"]) == ("end", 9, host.digest())
    # and a reopened host (no snapshot: the whole log) agrees
    assert open_loop(store, config).digest() == host.digest()
