"""A bulk batch closes at its message limit or its event limit, whichever comes first."""

from __future__ import annotations

from faust.types.tuples import Message

from touchline.streams.bulk_intake import Batch


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
