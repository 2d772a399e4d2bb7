"""Hand an agent each fetch of its topic as one list of messages, not one event at a time.

Faust delivers every Kafka message on its own: the fetch loop awaits the conductor once per
message (racing it against the flow-control event), the conductor decodes it into an Event and
queues it, the stream takes it off the queue, runs its processors and sensors and sets the
current event, and `take()` adds it to its buffer. That costs ~150 µs of CPU per message on the
benchmark's machine, which is nothing for a JSONL message of 200 events and everything for a
producer that sends one event per message (4k events/s for a whole worker).

`install` wraps `Consumer._wait_next_records` (faust-streaming 0.15.3; the per-message cost is
robinhood/faust#563, "Message consumption is slow", open): after each fetch, the records of
a topic registered with `register` are taken out of the fetch, turned into Faust messages,
tracked as in flight (so rebalances and shutdown wait for them, and streams/commit_guard.py
sees them) and put on that topic's `BulkQueue` in one piece. Everything else goes on through
Faust unchanged. Group membership, partition assignment, offsets and tables stay Faust's: the
agent still subscribes the topic through its stream, acknowledges each message with
`Consumer.ack` once its rows are durable (Faust commits past it from there, in its own commit
loop), and messages fetched before a rebalance are dropped unacknowledged (Faust seeks back to
the committed offsets).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

#: the faust-streaming version whose `Consumer._wait_next_records` this wraps
FAUST_VERSION = "0.15.3"

#: topic name -> its queue, for the topics whose agents consume in bulk
_queues: dict[str, BulkQueue] = {}


class BulkQueue:
    """Fetched messages of one topic, in fetch order, with a bound on the bytes waiting."""

    def __init__(self, app: Any, max_waiting_bytes: int) -> None:
        self.app, self.max_waiting_bytes = app, max_waiting_bytes
        self._items: deque[Any] = deque()
        self._bytes = 0
        self._arrived = asyncio.Event()
        self._drained = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, messages: list[Any]) -> None:
        """Queue a fetch's messages; waits while `max_waiting_bytes` are queued already.

        Each message's `time_in` (Faust's own field: when it came in, monotonic) is the
        moment it was queued: a batch's wait is counted from there.
        """
        while self._bytes >= self.max_waiting_bytes:
            self._drained.clear()
            await self._drained.wait()
        now = time.monotonic()
        for message in messages:
            message.time_in = now
        self._items.extend(messages)
        self._bytes += sum(len(m.value or b"") for m in messages)
        self._arrived.set()

    def _current(self, message: Any) -> bool:
        """False for a message of a partition this worker lost in a rebalance since its fetch.

        Such a message is dropped unacknowledged: its partition's new owner reads from the
        committed offset, which never passes an unacknowledged message (or, for a partition
        never committed in the group, from its first offset). A message fetched before a
        rebalance that left its partition here is kept: Faust's stream would skip (and
        acknowledge) it, and a partition never committed is not read again from an earlier
        offset, so a skipped message would be lost; reading one twice is harmless (dedup).
        """
        app = self.app
        if message.generation_id == app.consumer_generation_id:
            return True
        if message.tp in app.consumer.assignment():
            return True
        app.consumer._unacked_messages.discard(message)
        return False

    def _take(self, batch: Batch) -> None:
        items, current = self._items, self._current
        while items and not batch.full:
            message = items.popleft()
            self._bytes -= len(message.value or b"")
            if current(message):
                batch.add(message)
        if self._bytes < self.max_waiting_bytes:
            self._drained.set()
        if not items:
            self._arrived.clear()

    async def batches(self, max_messages: int, max_events: int,
                      within: float) -> AsyncIterator[list[Any]]:
        """Lists of messages: up to `max_messages` messages or `max_events` events.

        A batch is handed over as soon as it is full, or `within` seconds after its first
        message arrived, as Faust's `take()` does. Arrived means queued here, not taken by
        this batch: when every batch in flight is busy (a slow insert), the messages that
        waited meanwhile have used up that much of their window already, so the next batch
        does not add a whole window on top of the stall. An idle agent takes a message the
        moment it arrives, so at a steady rate batches close as often as before. Events are
        counted as lines (a JSONL message of N events has N - 1 newlines).
        """
        while True:
            batch = Batch(max_messages, max_events)
            while not batch.messages:
                await self._arrived.wait()
                self._take(batch)
            deadline = batch.messages[0].time_in + within  # stamped by `put`
            while not batch.full:
                self._take(batch)
                left = deadline - time.monotonic()
                if batch.full or left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except TimeoutError:
                    break
            yield batch.messages


class Batch:
    """Messages taken for one batch, and whether it has reached its limits."""

    def __init__(self, max_messages: int, max_events: int) -> None:
        self.max_messages, self.max_events = max_messages, max_events
        self.messages: list[Any] = []
        self.events = 0
        self.full = False

    def add(self, message: Any) -> None:
        """Take one message."""
        self.messages.append(message)
        self.events += (message.value or b"").count(b"\n") + 1
        self.full = len(self.messages) >= self.max_messages or self.events >= self.max_events


def register(app: Any, topic: str, max_waiting_bytes: int) -> BulkQueue:
    """The queue that will receive every fetched message of `topic` in this process."""
    queue = _queues.get(topic)
    if queue is None:
        queue = _queues[topic] = BulkQueue(app, max_waiting_bytes)
    return queue


def ack(app: Any, messages: list[Any]) -> None:
    """Acknowledge processed messages: Faust may commit past them now."""
    consumer_ack = app.consumer.ack
    for message in messages:
        consumer_ack(message)


async def _deliver(consumer: Any, records: dict[Any, list[Any]], active: Any) -> None:
    """Move the records of bulk topics out of a fetch and onto their queues.

    Waits while Faust's flow control is suspended (a rebalance, table recovery), as its
    conductor does before it hands a message to a stream: a message is never dropped for
    arriving then, only for belonging to an earlier generation (`BulkQueue._current`).
    """
    to_message = consumer._to_message
    read_offset = consumer._read_offset
    unacked = consumer._unacked_messages
    fetched: list[tuple[Any, list[Any]]] = []
    for tp in [tp for tp in records if tp.topic in _queues]:
        recs = records.pop(tp)
        if active is not None and tp not in active and tp not in consumer._buffered_partitions:
            continue  # a paused partition: Faust drops these records too
        last = read_offset.get(tp)
        # stamped with the generation of the fetch, before any wait below
        messages = [to_message(tp, r) for r in recs if last is None or r.offset >= last]
        if messages:
            read_offset[tp] = messages[-1].offset
            consumer.app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
            fetched.append((tp, messages))
    if fetched:
        await consumer.app.flow_control.acquire()
    for tp, messages in fetched:
        # tracked only now: a rebalance waits for tracked messages to be acknowledged, and
        # these could not be while this waits for it to end
        unacked.update(messages)
        await _queues[tp.topic].put(messages)


def install() -> None:
    """Patch Faust's fetch step once per process (refuses any other faust-streaming)."""
    from importlib.metadata import version

    from faust.transport.consumer import Consumer

    if getattr(Consumer, "_touchline_bulk_intake", False):
        return
    found = version("faust-streaming")
    if found != FAUST_VERSION:
        raise RuntimeError(f"streams/bulk_intake.py wraps faust-streaming {FAUST_VERSION}'s "
                           f"fetch step; {found} is installed: check the patch, then update it")
    original = Consumer._wait_next_records

    async def _wait_next_records(self: Any, timeout: float) -> Any:
        records, active = await original(self, timeout)
        if records and _queues and self.flow_active:
            records = dict(records)  # the fetcher's own mapping stays as it was
            await _deliver(self, records, active)
        return records, active

    Consumer._wait_next_records = _wait_next_records
    Consumer._touchline_bulk_intake = True
