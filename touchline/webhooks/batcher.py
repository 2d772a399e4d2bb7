"""Produce batching of `touchline serve`: durable before 2xx, one broker batch per moment.

Each accepted request hands its envelope to `ProduceBatcher.store` and waits. Records of one
topic that arrive while nothing of that topic is being written go out together as one batch
per partition (aiokafka's `create_batch` / `send_batch`); records that arrive while a write is
under way wait for its acknowledgement and then go out together in the next one. A request is
answered only once the batch holding its record is acknowledged by the broker (the producer's
acks=all); a failed batch fails exactly the requests whose records it held.

Partitions: a record with a natural key (a Twilio call's CallSid) goes where aiokafka's
default partitioner puts that key, so one call's callbacks stay in order on one partition, as
with a plain `send`. Records keyed by their request id alone have no order to keep: all of one
write go to one partition, the next write to the next one, so a write is one batch, not one
per partition.

Timeouts: requests wait at most `timeout_s` (one timer for all of them, not one each); a
record whose request timed out before its write began is not written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any, Protocol

from aiokafka.partitioner import DefaultPartitioner


class BatchProducer(Protocol):
    """The part of aiokafka's AIOKafkaProducer the batcher uses."""

    def create_batch(self) -> Any:
        """An empty BatchBuilder."""

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        """Queue a batch; returns a future that is done when the broker acknowledged it."""

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partitions (waiting for metadata)."""


class _Record:
    __slots__ = ("future", "key", "ordered", "value")

    def __init__(self, key: bytes, value: bytes, ordered: bool, future: asyncio.Future) -> None:
        self.key, self.value, self.ordered, self.future = key, value, ordered, future


class ProduceBatcher:
    """Writes records in batches; `store` returns once the record's batch is acknowledged."""

    def __init__(self, producer: BatchProducer, timeout_s: float) -> None:
        """Write through `producer` (started by the caller); a record waits `timeout_s` at most."""
        self.producer = producer
        self.timeout_s = timeout_s
        self._queues: dict[str, list[_Record]] = {}
        self._writing: dict[str, asyncio.Task[None]] = {}
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._spread: dict[str, int] = {}
        self._partitioner = DefaultPartitioner()

    async def store(self, topic: str, value: bytes, key: bytes, *, ordered: bool) -> None:
        """Write one record; return once the broker acknowledged it.

        `ordered`: `key` is a natural key whose records must stay in order on one partition.
        Raises TimeoutError after `timeout_s`, or whatever failed the write.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        queue = self._queues.get(topic)
        if queue is None:
            queue = self._queues[topic] = []
        queue.append(_Record(key, value, ordered, future))
        self._waiting.append((loop.time() + self.timeout_s, future))
        if self._sweep_handle is None:
            self._sweep_handle = loop.call_later(self._tick(), self._sweep)
        if topic not in self._writing:
            self._writing[topic] = loop.create_task(self._write(topic))
        await future

    def _tick(self) -> float:
        return min(0.1, self.timeout_s / 20)

    def _sweep(self) -> None:
        """Fail the requests whose time is up (oldest first: they all wait as long)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        waiting = self._waiting
        while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
            _, future = waiting.popleft()
            if not future.done():
                future.set_exception(TimeoutError(
                    f"no broker acknowledgement within {self.timeout_s:g} s"))
        self._sweep_handle = loop.call_later(self._tick(), self._sweep) if waiting else None

    async def _write(self, topic: str) -> None:
        """Write what is queued for `topic`, batch after batch, until nothing is left."""
        try:
            while queue := self._queues.get(topic):
                self._queues[topic] = []
                records = [r for r in queue if not r.future.done()]  # timed out: not written
                if records:
                    await self._write_once(topic, records)
        finally:
            del self._writing[topic]

    async def _write_once(self, topic: str, records: list[_Record]) -> None:
        try:
            partitions = sorted(await self.producer.partitions_for(topic))
            batches = self._batches(topic, records, partitions)
        except Exception as exc:  # nothing of this write was queued for the broker
            _fail(records, exc)
            return
        sent = []
        for partition, batch, held in batches:
            try:
                sent.append((await self.producer.send_batch(batch, topic, partition=partition),
                             held))
            except Exception as exc:  # this batch was not queued; the others may have been
                _fail(held, exc)
        for delivery, held in sent:
            try:
                await delivery
            except Exception as exc:
                _fail(held, exc)
            else:
                for record in held:
                    if not record.future.done():
                        record.future.set_result(None)

    def _batches(self, topic: str, records: list[_Record],
                 partitions: list[int]) -> list[tuple[int, Any, list[_Record]]]:
        """(partition, closed BatchBuilder, its records) for every record, in arrival order."""
        spread = self._spread.get(topic, 0)
        self._spread[topic] = spread + 1
        by_partition: dict[int, list[_Record]] = {}
        for record in records:
            if record.ordered:
                partition = self._partitioner(record.key, partitions, partitions)
            else:
                partition = partitions[spread % len(partitions)]
            by_partition.setdefault(partition, []).append(record)
        out: list[tuple[int, Any, list[_Record]]] = []
        for partition, held in by_partition.items():
            batch, in_batch = self.producer.create_batch(), []
            for record in held:
                if batch.append(timestamp=None, key=record.key, value=record.value) is None:
                    out.append((partition, batch, in_batch))  # full: the rest in a new one
                    batch, in_batch = self.producer.create_batch(), []
                    batch.append(timestamp=None, key=record.key, value=record.value)
                in_batch.append(record)
            batch.close()
            out.append((partition, batch, in_batch))
        return out

    async def close(self) -> None:
        """Wait for the writes under way; stop the timeout timer."""
        for task in list(self._writing.values()):
            with contextlib.suppress(Exception):
                await task
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None


def _fail(records: list[_Record], exc: BaseException) -> None:
    for record in records:
        if not record.future.done():
            record.future.set_exception(exc)
