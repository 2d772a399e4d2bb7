"""Hand an agent each fetch of its topic as runs of records, not one event at a time.

Faust delivers every Kafka message on its own: the fetch loop awaits the conductor once per
message (racing it against the flow-control event), the conductor decodes it into an Event and
queues it, the stream takes it off the queue, runs its processors and sensors and sets the
current event, and `take()` adds it to its buffer. That costs ~150 µs of CPU per message on the
benchmark's machine, which is nothing for a JSONL message of 200 events and everything for a
producer that sends one event per message (4k events/s for a whole worker).

`install` wraps `Consumer._wait_next_records` (faust-streaming 0.15.3; the per-message cost is
robinhood/faust#563, "Message consumption is slow", open): after each fetch, the records of
a topic registered with `register` are taken out of the fetch and put on that topic's
`BulkQueue` as one `Run` per partition: aiokafka's records as fetched, and one Faust message,
the run's `tracker`, for the last of them. Faust tracks the tracker as in flight, so
rebalances and shutdown wait for the run, and streams/commit_guard.py sees the run's offsets
in work. A run is acknowledged as one (`ack`): its offsets go into Faust's books as
`Consumer.ack` puts each message's, and Faust commits past them from there, in its own commit
loop. With one event per message this spares a Faust message, a weak reference and an
acknowledgement per event (`bench/profiles/20261206T230100Z-worker-single-pyspy.txt`: 16 % of
the worker). Everything else goes on through Faust unchanged. Group membership, partition
assignment, offsets and tables stay Faust's: the agent still subscribes the topic through its
stream, and runs fetched before a rebalance are dropped unacknowledged (Faust seeks back to
the committed offsets).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from faust.types.tuples import TP, ConsumerMessage, ack_lock

#: the faust-streaming version whose `Consumer._wait_next_records` this wraps
FAUST_VERSION = "0.15.3"

#: topic name -> its queue, for the topics whose agents consume in bulk
_queues: dict[str, BulkQueue] = {}


class RunMessage(ConsumerMessage):
    """The Faust message of a run's last record; `first_offset` is the run's first offset."""

    __slots__ = ("first_offset",)


def tracker_for(tp: TP, record: Any, first_offset: int, generation_id: int) -> RunMessage:
    """A run's tracker: a Faust message of `record` (the run's last) of the fetch's generation.

    Built as Faust's `Consumer._to_message` builds its messages (faust-streaming
    `FAUST_VERSION`, checked by `install`), as the subclass that carries `first_offset`.
    """
    stamp = record.timestamp
    message = RunMessage(
        record.topic, record.partition, record.offset,
        None if stamp is None else stamp / 1000.0, record.timestamp_type, record.headers,
        record.key, record.value, record.checksum, record.serialized_key_size,
        record.serialized_value_size, tp, generation_id=generation_id)
    message.first_offset = first_offset
    return message


class Run:
    """Consecutive records of one partition from one fetch, taken and acknowledged as one.

    `records` are aiokafka's `ConsumerRecord`s (topic, partition, offset, key, value,
    headers); `tracker` is the Faust message of the last of them.
    """

    __slots__ = ("tp", "records", "tracker", "size", "time_in")

    def __init__(self, tp: TP, records: list[Any], tracker: RunMessage) -> None:
        self.tp, self.records, self.tracker = tp, records, tracker
        self.size = sum(len(r.value or b"") for r in records)
        self.time_in = 0.0

    def split(self, n: int, app: Any) -> tuple[Run, Run]:
        """The first `n` records as a run of their own (with a tracker, tracked), and the rest.

        The rest keeps this run's tracker; both keep this run's `time_in`.
        """
        records = self.records
        first = Run(self.tp, records[:n], tracker_for(
            self.tp, records[n - 1], records[0].offset, self.tracker.generation_id))
        app.consumer._unacked_messages.add(first.tracker)
        self.records = records[n:]
        self.tracker.first_offset = self.records[0].offset
        self.size -= first.size
        first.time_in = self.time_in
        return first, self


class BulkQueue:
    """Fetched runs of one topic, in fetch order, with a bound on the bytes waiting."""

    def __init__(self, app: Any, max_waiting_bytes: int) -> None:
        self.app, self.max_waiting_bytes = app, max_waiting_bytes
        self._items: deque[Run] = deque()
        self._bytes = 0
        self._arrived = asyncio.Event()
        self._drained = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, runs: list[Run]) -> None:
        """Queue a fetch's runs; waits while `max_waiting_bytes` are queued already.

        Each run's `time_in` is the moment it was queued: a batch's wait is counted from
        there.
        """
        while self._bytes >= self.max_waiting_bytes:
            self._drained.clear()
            await self._drained.wait()
        now = time.monotonic()
        for run in runs:
            run.time_in = now
            self._bytes += run.size
        self._items.extend(runs)
        self._arrived.set()

    def _current(self, run: Run) -> bool:
        """False for a run of a partition this worker lost in a rebalance since its fetch.

        Such a run is dropped unacknowledged: its partition's new owner reads from the
        committed offset, which never passes an unacknowledged record (or, for a partition
        never committed in the group, from its first offset). A run fetched before a
        rebalance that left its partition here is kept: Faust's stream would skip (and
        acknowledge) it, and a partition never committed is not read again from an earlier
        offset, so a skipped record would be lost; reading one twice is harmless (dedup).
        """
        app = self.app
        if run.tracker.generation_id == app.consumer_generation_id:
            return True
        if run.tp in app.consumer.assignment():
            return True
        app.consumer._unacked_messages.discard(run.tracker)
        return False

    def _take(self, batch: Batch) -> None:
        items, current = self._items, self._current
        while items and not batch.full:
            run = items.popleft()
            self._bytes -= run.size
            if not current(run):
                continue
            n, events = batch.fit(run)
            if n < len(run.records):
                run, rest = run.split(n, self.app)
                items.appendleft(rest)
                self._bytes += rest.size
            batch.add(run, events)
        if self._bytes < self.max_waiting_bytes:
            self._drained.set()
        if not items:
            self._arrived.clear()

    async def batches(self, max_messages: int, max_events: int,
                      within: float) -> AsyncIterator[list[Run]]:
        """Lists of runs: up to `max_messages` messages (records) or `max_events` events.

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
            while not batch.runs:
                await self._arrived.wait()
                self._take(batch)
            deadline = batch.runs[0].time_in + within  # stamped by `put`
            while not batch.full:
                self._take(batch)
                left = deadline - time.monotonic()
                if batch.full or left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except TimeoutError:
                    break
            yield batch.runs


class Batch:
    """Runs taken for one batch, and whether it has reached its limits."""

    def __init__(self, max_messages: int, max_events: int) -> None:
        self.max_messages, self.max_events = max_messages, max_events
        self.runs: list[Run] = []
        self.messages = self.events = 0
        self.full = False

    def fit(self, run: Run) -> tuple[int, int]:
        """How many of `run`'s records this batch takes, and their events.

        Records up to the one that fills the batch; a record (a message) is never split: the
        event limit closes the batch after it.
        """
        left = self.max_messages - self.messages
        events = 0
        room = self.max_events - self.events
        for n, record in enumerate(run.records[:left], 1):
            events += (record.value or b"").count(b"\n") + 1
            if events >= room:
                return n, events
        return min(left, len(run.records)), events

    def add(self, run: Run, events: int) -> None:
        """Take one run (whole: `fit` said how much of it fits) of `events` events."""
        self.runs.append(run)
        self.messages += len(run.records)
        self.events += events
        self.full = self.messages >= self.max_messages or self.events >= self.max_events


def records(runs: Sequence[Run]) -> Iterator[Any]:
    """The records of `runs`, in order."""
    for run in runs:
        yield from run.records


def faust_message(app: Any) -> Callable[[Any], ConsumerMessage]:
    """Turns a record of a run into a Faust message (for the event that table writes read)."""
    to_message = app.consumer._to_message

    def convert(record: Any) -> ConsumerMessage:
        return to_message(TP(record.topic, record.partition), record)
    return convert


def register(app: Any, topic: str, max_waiting_bytes: int) -> BulkQueue:
    """The queue that will receive every fetched record of `topic` in this process."""
    queue = _queues.get(topic)
    if queue is None:
        queue = _queues[topic] = BulkQueue(app, max_waiting_bytes)
    return queue


def ack(app: Any, runs: Sequence[Run]) -> None:
    """Acknowledge processed runs: Faust may commit past them now.

    The offsets before each run's tracker go into Faust's books as `Consumer.ack` would put
    them there one by one (only those at or past the committed offset and not acknowledged
    yet); then the tracker is acknowledged by Faust itself, which wakes whatever waits for
    acknowledgements.
    """
    consumer = app.consumer
    acks_enabled = app.topics.acks_enabled_for
    for run in runs:
        tracker = run.tracker
        tp, first, last = run.tp, tracker.first_offset, tracker.offset
        if first < last and not tracker.acked and acks_enabled(tracker.topic):
            with ack_lock:
                committed = consumer._committed_offset[tp]
                offsets = range(first if committed is None else max(first, committed), last)
                index = consumer._acked_index[tp]
                if not index.isdisjoint(offsets):
                    offsets = [o for o in offsets if o not in index]  # type: ignore[assignment]
                index.update(offsets)
                consumer._acked[tp].extend(offsets)
                consumer._n_acked += len(offsets)
        consumer.ack(tracker)


async def _deliver(consumer: Any, records: dict[Any, list[Any]], active: Any) -> None:
    """Move the records of bulk topics out of a fetch and onto their queues, a run each.

    Waits while Faust's flow control is suspended (a rebalance, table recovery), as its
    conductor does before it hands a message to a stream: a run is never dropped for
    arriving then, only for belonging to an earlier generation (`BulkQueue._current`).
    """
    read_offset = consumer._read_offset
    unacked = consumer._unacked_messages
    app = consumer.app
    fetched: list[tuple[Any, Run]] = []
    for tp in [tp for tp in records if tp.topic in _queues]:
        recs = records.pop(tp)
        if active is not None and tp not in active and tp not in consumer._buffered_partitions:
            continue  # a paused partition: Faust drops these records too
        last = read_offset.get(tp)
        if last is not None and recs and recs[0].offset < last:
            recs = [r for r in recs if r.offset >= last]
        if recs:
            # stamped with the generation of the fetch, before any wait below
            run = Run(tp, recs, tracker_for(tp, recs[-1], recs[0].offset,
                                            app.consumer_generation_id))
            read_offset[tp] = recs[-1].offset
            app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
            fetched.append((tp, run))
    if fetched:
        await app.flow_control.acquire()
    for tp, run in fetched:
        # tracked only now: a rebalance waits for tracked messages to be acknowledged, and
        # these could not be while this waits for it to end
        unacked.add(run.tracker)
        await _queues[tp.topic].put([run])


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
