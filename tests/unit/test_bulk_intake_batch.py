"""A bulk batch closes at its message limit or its event limit, whichever comes first, or a
window after its first message was queued; runs are split to fit and acknowledged as one."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

from aiokafka.structs import ConsumerRecord
from faust.transport.consumer import Consumer
from faust.types.tuples import TP

from touchline.streams.bulk_intake import Batch, BulkQueue, Run, ack, records, tracker_for

TP0 = TP("raw", 0)


def record(offset: int, events: int) -> ConsumerRecord:
    value = b"\n".join(b'{"event_id":"e%d"}' % i for i in range(events))
    return ConsumerRecord("raw", 0, offset, 0, 0, None, value, None, len(value), 0, ())


class Books(SimpleNamespace):
    """The part of Faust's consumer a run's acknowledgement writes, with Faust's own `ack`."""

    ack = Consumer.ack


def app(committed: int | None = None) -> SimpleNamespace:
    books = Books(_committed_offset=defaultdict(lambda: None, {TP0: committed}),
                  _acked=defaultdict(list), _acked_index=defaultdict(set), _n_acked=0,
                  _unacked_messages=set(), _waiting_for_ack=None,
                  assignment=lambda: {TP0})
    books.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    result = SimpleNamespace(consumer=books, consumer_generation_id=1, topics=books.app.topics)
    return result


def run(the_app: SimpleNamespace, offsets: range, events: int = 1) -> Run:
    recs = [record(o, events) for o in offsets]
    tracker = tracker_for(TP0, recs[-1], recs[0].offset, the_app.consumer_generation_id)
    the_app.consumer._unacked_messages.add(tracker)
    return Run(TP0, recs, tracker)


def take(batch: Batch, r: Run) -> None:
    n, events = batch.fit(r)
    assert n == len(r.records)
    batch.add(r, events)


def test_one_event_messages_fill_a_batch_by_message_count():
    batch = Batch(max_messages=3, max_events=100)
    a = app()
    take(batch, run(a, range(0, 2)))
    assert not batch.full
    take(batch, run(a, range(2, 3)))
    assert batch.full
    assert batch.events == 3
    assert [r.offset for r in records(batch.runs)] == [0, 1, 2]


def test_jsonl_messages_fill_a_batch_by_event_count():
    batch = Batch(max_messages=1000, max_events=450)
    a = app()
    take(batch, run(a, range(0, 2), events=200))
    assert not batch.full
    take(batch, run(a, range(2, 3), events=200))
    assert batch.full
    assert batch.events == 600  # a message is never split: the limit closes the batch after it


async def test_a_run_bigger_than_the_batch_is_split_and_its_rest_waits_for_the_next():
    a = app()
    queue = BulkQueue(a, max_waiting_bytes=1 << 20)
    batches = queue.batches(max_messages=3, max_events=1000, within=0.05)
    whole = run(a, range(10, 18))
    a.consumer_generation_id = 2  # a rebalance after the fetch left the partition here
    await queue.put([whole])
    got = [await asyncio.wait_for(anext(batches), 5) for _ in range(3)]
    assert [[r.offset for r in records(b)] for b in got] == [[10, 11, 12], [13, 14, 15],
                                                             [16, 17]]
    # every piece is tracked by its own message, of the fetch's generation, spanning its offsets
    trackers = [b[0].tracker for b in got]
    assert [(t.first_offset, t.offset) for t in trackers] == [(10, 12), (13, 15), (16, 17)]
    assert trackers[2] is whole.tracker
    assert set(trackers) <= a.consumer._unacked_messages
    assert {t.generation_id for t in trackers} == {1}


def test_an_acknowledged_run_puts_each_of_its_offsets_in_fausts_books():
    a = app(committed=12)  # 10 and 11 were committed already: Faust's `ack` skips them too
    first, second = run(a, range(10, 15)), run(a, range(15, 16))
    ack(a, [first, second])
    books = a.consumer
    assert sorted(books._acked[TP0]) == [12, 13, 14, 15]
    assert books._acked_index[TP0] == {12, 13, 14, 15}
    assert books._n_acked == 4
    assert not books._unacked_messages
    assert first.tracker.acked and second.tracker.acked
    ack(a, [first])  # acknowledged once only
    assert books._n_acked == 4 and len(books._acked[TP0]) == 4


async def test_a_message_that_waited_in_the_queue_has_used_up_its_window():
    # both batches in flight were busy (a slow insert) while the message waited: the batch
    # that takes it closes at once instead of waiting a whole window for more
    a = app()
    queue = BulkQueue(a, max_waiting_bytes=1 << 20)
    batches = queue.batches(max_messages=100, max_events=1000, within=0.2)
    await queue.put([run(a, range(0, 1))])
    await asyncio.sleep(0.3)
    taking = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    await queue.put([run(a, range(1, 2))])
    assert [r.offset for r in records(await asyncio.wait_for(taking, 5))] == [0]
    assert [r.offset for r in records(await asyncio.wait_for(anext(batches), 5))] == [1]


async def test_a_batch_taken_the_moment_its_first_message_arrives_waits_its_window():
    a = app()
    queue = BulkQueue(a, max_waiting_bytes=1 << 20)
    batches = queue.batches(max_messages=100, max_events=1000, within=0.5)
    taking = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    await queue.put([run(a, range(0, 1))])
    await asyncio.sleep(0.05)
    await queue.put([run(a, range(1, 2))])
    assert [r.offset for r in records(await asyncio.wait_for(taking, 5))] == [0, 1]
