"""The real stack for a benchmark: noida-db broker, `touchline store`, Faust workers.

One broker for the whole run (temp dir, free port, stopped by signalling its native process);
each scenario gets its own topics, consumer group, ClickHouse directory and store process, like
the test harness, so scenarios never see each other's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from touchline.bench.machine import cpu_seconds, rss_kb, tree_cpu_seconds
from touchline.load.produce import account_partition
from touchline.settings import ClickHouseSettings, KafkaSettings, PipelineSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import (
    Service,
    Stack,
    free_port,
    start_broker,
    start_store,
    start_worker,
)
from touchline.stack.topics_admin import delete_topics, ensure_topics, pipeline_topics


class BenchError(RuntimeError):
    """A benchmark step failed; the message says which and where its log is."""


def broker(root: Path, name: str = "broker") -> tuple[Service, str]:
    """Start noida-db in `root/name` on a free port; returns (service, bootstrap)."""
    port = free_port()
    return start_broker(root / name, port), f"127.0.0.1:{port}"


@contextlib.contextmanager
def own_broker(root: Path, name: str, shared: Service | None,
               bootstrap: str) -> Iterator[str]:
    """A noida-db of its own for one run, when the bench started the shared one; its address.

    noida-db rewrites its whole store as it saves, so the topics of the runs before would
    cost it more CPU with every save, and a run's own topics would cost the runs after it.
    With a broker the bench did not start (`--bootstrap`), that broker.
    """
    if shared is None:
        yield bootstrap
        return
    service, address = broker(root, name)
    Scenario.broker_pid = service.proc.pid
    try:
        yield address
    finally:
        service.stop()
        Scenario.broker_pid = shared.proc.pid


class Scenario:
    """One isolated pipeline (topics, group, store, workers) on the shared broker."""

    #: pid of the shared broker, for CPU accounting
    broker_pid: int = 0
    #: PipelineSettings overrides for every scenario (e.g. batch_seconds), from the CLI
    pipeline_overrides: dict = {}
    #: KafkaSettings overrides (compression), from the CLI
    kafka_overrides: dict = {}
    #: plans loaded into every scenario's store before its workers start (`--plan`), so the
    #: leader's Coach pass judges the benchmark's tenant as it would a planned org
    plans: list = []

    def __init__(self, root: Path, bootstrap: str, partitions: int = 4) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = Settings(
            data_dir=root / f"scenario-{tag}",
            faust_app_id=f"bench-{tag}",
            log_level="warn",
            kafka=KafkaSettings(
                bootstrap=bootstrap, raw_topic=f"b{tag}.raw", activities_topic=f"b{tag}.act",
                dlq_topic=f"b{tag}.dlq", partitions=partitions, embedded=False,
                **self.kafka_overrides,
            ),
            clickhouse=ClickHouseSettings(store_port=free_port()),
            pipeline=PipelineSettings(**self.pipeline_overrides),
        )
        self.settings.webhooks = self.settings.webhooks.model_copy(
            update={"raw_topic_prefix": f"b{tag}.raw."})
        self.stack = Stack()
        self._sink: ClickHouseSink | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, workers: int) -> Scenario:
        """Create topics, start the store and `workers` workers."""
        ensure_topics(self.settings)
        self.stack.add(start_store(self.settings))
        if self.plans:
            from touchline.plan.loader import load_plans

            load_plans(self.sink, self.plans)
        for i in range(workers):
            self.stack.add(start_worker(self.settings, f"worker-{i + 1}"))
        return self

    def stop(self) -> None:
        """Stop workers, store; delete the topics."""
        if self._sink is not None:
            self._sink.close()
        self.stack.stop()
        with contextlib.suppress(Exception):
            delete_topics(self.settings, list(pipeline_topics(self.settings)))

    def workers(self) -> list[Service]:
        """The worker services."""
        return self.stack.workers()

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each of the scenario's processes and the broker.

        A service's own children count as the service (a worker's Coach process).
        """
        out = {s.name: tree_cpu_seconds(s.proc.pid) for s in self.stack.services}
        if self.broker_pid:
            out["broker"] = cpu_seconds(self.broker_pid)
        out["bench"] = cpu_seconds(os.getpid())
        return out

    def worker_rss(self) -> list[tuple[int, int]]:
        """(RSS, peak RSS) KiB of each worker."""
        return [rss_kb(w.proc.pid) for w in self.workers()]

    def check_alive(self) -> None:
        """Raise BenchError when a service died."""
        dead = [s for s in self.stack.services if not s.alive()]
        if dead:
            raise BenchError(f"{dead[0].name} died: see {dead[0].log}")

    @property
    def sink(self) -> ClickHouseSink:
        """A client of the scenario's store."""
        if self._sink is None:
            self._sink = ClickHouseSink(self.settings.store_url()).start()
        return self._sink

    def count(self) -> int:
        """Rows in `activities`."""
        return int(self.sink.query("SELECT count() FROM touchline.activities").scalar())

    def wait_count(self, n: int, timeout: float, poll: float = 0.05,
                   adaptive: bool = False) -> float:
        """Block until `activities` holds `n` rows; returns the monotonic time it did.

        With `adaptive`, polls are spaced by a third of the time the rows still missing
        should take at the rate seen so far (at most 1 s, at least `poll`): each poll is a
        query in the store, and 20 a second would cost it a fixed share of a core that a slow
        run would count as cost per event. The last polls come every `poll` seconds, so the
        end is seen as precisely as with a fixed interval.
        """
        start, deadline = time.monotonic(), time.monotonic() + timeout
        first = None
        while time.monotonic() < deadline:
            got = self.count()
            now = time.monotonic()
            if got >= n:
                return now
            self.check_alive()
            wait = poll
            if adaptive:
                first = got if first is None else first
                rate = (got - first) / max(now - start, 1e-3)
                wait = poll if rate <= 0 else min(1.0, max(poll, (n - got) / rate / 3))
            time.sleep(wait)
        raise BenchError(f"only {self.count()} of {n} rows after {timeout:.0f}s "
                         f"(worker log: {self.workers()[0].log})")


def route(message: bytes, partitions: int) -> int:
    """The partition a benchmark message goes to: that of its first event's account."""
    return account_partition(message.split(b"\n", 1)[0], partitions)


async def produce(kafka: KafkaSettings, messages: Iterable[bytes],
                  rate_events: float | None = None, per_message: int = 1,
                  on_sent: list[float] | None = None,
                  targets: list[int] | None = None) -> float:
    """Aiokafka batch produce (acks=all) to the raw topic, each message to its account partition.

    The partition is that of the message's first event (see `payloads.messages`); returns
    seconds taken.

    With `rate_events`, messages are paced to that many events per second, and the send time
    of every message is appended to `on_sent` (for freshness). `targets` are the messages'
    partitions worked out in advance (`route`), so that the load generator's own work does
    not count against a pipeline that gets one event per message.
    """
    topic, partitions = kafka.raw_topic, kafka.partitions
    prod = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=5,
                            compression_type=kafka.compression_type,
                            max_request_size=8 * 1024 * 1024, max_batch_size=1024 * 1024)
    await prod.start()
    try:
        started = time.monotonic()
        if not rate_events:
            await _produce_in_batches(prod, topic, messages, partitions, targets)
            return time.monotonic() - started
        pending = []
        for i, msg in enumerate(messages):  # paced: one message at a time, each timed
            ahead = started + (i * per_message) / rate_events - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
            if on_sent is not None:
                on_sent.append(time.time())
            partition = targets[i] if targets is not None else route(msg, partitions)
            pending.append(await prod.send(topic, msg, partition=partition))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.monotonic() - started
    finally:
        await prod.stop()


async def _produce_in_batches(prod: AIOKafkaProducer, topic: str, messages: Iterable[bytes],
                              partitions: int, targets: list[int] | None) -> None:
    """Every message as its own record, filled into one record batch per partition at a time.

    What a producer with a linger does, without a future and a trip through the producer's
    accumulator for every record: aiokafka's `send` cost the load generator ~17-24 µs of CPU a
    message, which it took from the two cores the pipeline under test runs on.
    """
    open_batches: dict[int, BatchBuilder] = {}
    pending = []
    for i, msg in enumerate(messages):
        partition = targets[i] if targets is not None else route(msg, partitions)
        batch = open_batches.get(partition)
        if batch is None:
            batch = open_batches[partition] = prod.create_batch()
        if batch.append(timestamp=None, key=None, value=msg) is None:  # full
            pending.append(await prod.send_batch(batch, topic, partition=partition))
            batch = open_batches[partition] = prod.create_batch()
            if batch.append(timestamp=None, key=None, value=msg) is None:
                raise BenchError(f"a {len(msg)}-byte message does not fit a record batch")
    for partition, batch in open_batches.items():
        pending.append(await prod.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*pending)
