"""A bulk batch closes at its message limit or its event limit, whichever comes first, or a
window after its first message was queued."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.types.tuples import Message

from touchline.streams.bulk_intake import Batch, BulkQueue


def message(offset: int, events: int) -> Message:
    value = b"\n".join(b'{"event_id":"e%d"}' % i for i in range(events))
    return Message("raw", 0, offset, 0.0, 0, [], None, value, None)


def test_one_event_messages_fill_a_batch_by_message_count():
    batch = Batch(max_messages=3, max_events=100)
    for offset in range(3):
        assert not batch.full
        batch.add(message(offset, 1))
    assert batch.full
    assert batch.events == 3
    assert [m.offset for m in batch.messages] == [0, 1, 2]


def test_jsonl_messages_fill_a_batch_by_event_count():
    batch = Batch(max_messages=1000, max_events=450)
    batch.add(message(0, 200))
    batch.add(message(1, 200))
    assert not batch.full
    batch.add(message(2, 200))
    assert batch.full
    assert batch.events == 600  # a message is never split: the limit closes the batch after it


async def test_a_message_that_waited_in_the_queue_has_used_up_its_window():
    # both batches in flight were busy (a slow insert) while the message waited: the batch
    # that takes it closes at once instead of waiting a whole window for more
    queue = BulkQueue(SimpleNamespace(consumer_generation_id=None), max_waiting_bytes=1 << 20)
    batches = queue.batches(max_messages=100, max_events=1000, within=0.2)
    await queue.put([message(0, 1)])
    await asyncio.sleep(0.3)
    taking = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    await queue.put([message(1, 1)])
    assert [m.offset for m in await asyncio.wait_for(taking, 5)] == [0]
    assert [m.offset for m in await asyncio.wait_for(anext(batches), 5)] == [1]


async def test_a_batch_taken_the_moment_its_first_message_arrives_waits_its_window():
    queue = BulkQueue(SimpleNamespace(consumer_generation_id=None), max_waiting_bytes=1 << 20)
    batches = queue.batches(max_messages=100, max_events=1000, within=0.5)
    taking = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    await queue.put([message(0, 1)])
    await asyncio.sleep(0.05)
    await queue.put([message(1, 1)])
    assert [m.offset for m in await asyncio.wait_for(taking, 5)] == [0, 1]
