"""Test harness: a real pipeline (broker topics, store process, Faust workers) per test.

Every Pipeline gets its own topics, consumer group (Faust app id), ClickHouse directory and
store port, so tests never see each other's data; topics are deleted afterwards because the
embedded broker keeps everything in RAM.

The broker the suite runs on is noida-db unless `TOUCHLINE_TEST_BROKER=kafka`: then it is a
real Apache Kafka 4.x (tests/kafka/launcher.py, from Maven Central; Java and Maven needed).
`BROKER` says what the chosen broker does where the two differ (docs/brokers.md); the tests
marked `broker_semantics` are the ones `.ci/run` runs on both.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchline.load.produce import send_batches
from touchline.settings import (
    ClickHouseSettings,
    KafkaSettings,
    PipelineSettings,
    Settings,
)
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
from touchline.streams.tables import CHANGELOG_TABLES


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without TOUCHLINE_* settings, plus `extra`: a `touchline`
    subprocess then reads only what the test gives it, as a user's would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    return {**env, **extra}


def up_env(data_dir: Path) -> tuple[Settings, dict[str, str]]:
    """A `touchline up` on `data_dir` with every port one nobody uses (its broker's included):
    the settings it runs with, and the environment (`clean_env`) that gives them to it."""
    broker = free_port()
    settings = Settings(
        data_dir=data_dir,
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{broker}", embedded_port=broker),
        clickhouse=ClickHouseSettings(store_port=free_port()))
    env = clean_env(TOUCHLINE_DATA_DIR=str(data_dir),
                    TOUCHLINE_KAFKA__EMBEDDED_PORT=str(broker),
                    TOUCHLINE_KAFKA__BOOTSTRAP=settings.kafka.bootstrap,
                    TOUCHLINE_CLICKHOUSE__STORE_PORT=str(settings.clickhouse.store_port),
                    TOUCHLINE_WEB__PANEL_PORT=str(free_port()),
                    TOUCHLINE_WEB__INGEST_PORT=str(free_port()))
    return settings, env


@dataclass(frozen=True)
class Broker:
    """What the broker under test does where noida-db and Apache Kafka differ."""

    name: str
    #: evicts a group member that died without leaving (after the group member timeout)
    evicts_dead_members: bool
    #: keeps every produce it acknowledged (acks=all) across a restart
    keeps_acknowledged: bool
    #: the noida-db workarounds the workers run with on it: static group membership (it never
    #: evicts a dead member) and a pause after an empty fetch (it does not long-poll). On
    #: Kafka the tests run without them, to show that the pipeline does not need them there.
    static_membership: bool
    empty_fetch_backoff_ms: int


NOIDA = Broker("noida-db", evicts_dead_members=False, keeps_acknowledged=False,
               static_membership=True, empty_fetch_backoff_ms=25)
KAFKA = Broker("kafka", evicts_dead_members=True, keeps_acknowledged=True,
               static_membership=False, empty_fetch_backoff_ms=0)
BROKERS = {"noida": NOIDA, "kafka": KAFKA}
_chosen = os.environ.get("TOUCHLINE_TEST_BROKER", "noida").strip().lower() or "noida"
if _chosen not in BROKERS:
    raise ValueError(f"TOUCHLINE_TEST_BROKER={_chosen!r}: use one of {sorted(BROKERS)}")
#: the kind of broker this run starts (the test run's broker, restart tests, own brokers)
BROKER = BROKERS[_chosen]


def start_test_broker(data_dir: Path, port: int | None = None) -> Service:
    """Start this run's kind of broker on 127.0.0.1 (again, if data_dir was used before)."""
    if BROKER is KAFKA:
        from tests.kafka.launcher import start_kafka

        return start_kafka(data_dir, port)
    return start_broker(data_dir, port or free_port())


#: the await chains worth reading in a stuck worker's task dump
_TELLING = ("/streams/", "/faust/tables/recovery.py", "group_coordinator.py", "fetcher.py")


def waits_for(pid: int, chars: int = 9000) -> str:
    """Faust's consumer state and the telling await chains of a live test process.

    It dumps them on SIGWINCH (tests/diagnostics/sitecustomize.py, on every child's PYTHONPATH).
    """
    path = Path(os.environ.get("TASK_DUMP_DIR", ".")) / f"{pid}.txt"
    path.unlink(missing_ok=True)
    try:
        os.kill(pid, signal.SIGWINCH)
    except ProcessLookupError:
        return "(gone)"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.1)
    time.sleep(0.2)  # written in one go; let it finish
    if not path.exists():
        return "(no task dump: tests/diagnostics/ not on its PYTHONPATH?)"
    head, *blocks = ("\n" + path.read_text(errors="replace")).split("\ntask ")
    state = head.strip().splitlines()
    tasks = ["task " + block for block in blocks if any(mark in block for mark in _TELLING)]
    return "\n".join(state + tasks)[:chars]


class Pipeline:
    """One isolated pipeline on a shared broker."""

    def __init__(self, data_dir: Path, bootstrap: str, partitions: int = 4,
                 static_membership: bool = True, empty_fetch_backoff_ms: int = 25,
                 changelog_configs: dict[str, str] | None = None,
                 **pipeline: Any) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = Settings(
            data_dir=data_dir,
            faust_app_id=f"tl-{tag}",
            log_level="warn",
            kafka=KafkaSettings(
                bootstrap=bootstrap, raw_topic=f"t{tag}.raw", activities_topic=f"t{tag}.act",
                backfill_topic=f"t{tag}.backfill",
                dlq_topic=f"t{tag}.dlq", partitions=partitions, embedded=False,
                static_membership=static_membership,
                empty_fetch_backoff_ms=empty_fetch_backoff_ms,
            ),
            clickhouse=ClickHouseSettings(store_port=free_port()),
            pipeline=PipelineSettings(**pipeline),
        )
        if "TOUCHLINE_WEBHOOKS__RAW_TOPIC_PREFIX" not in os.environ:  # own vendor topics too
            self.settings.webhooks = self.settings.webhooks.model_copy(
                update={"raw_topic_prefix": f"t{tag}.raw."})
        #: topic configs added to the tables' changelogs (e.g. a short segment.ms)
        self.changelog_configs = changelog_configs or {}
        self.stack = Stack()
        self.store: Service | None = None
        self._sink: ClickHouseSink | None = None

    def changelog(self, table: str) -> str:
        """The changelog topic of a Faust table of this pipeline."""
        return f"{self.settings.faust_app_id}-{table}-changelog"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, workers: int = 1) -> Pipeline:
        ensure_topics(self.settings, {
            self.changelog(table): {"cleanup.policy": "compact", **self.changelog_configs}
            for table in CHANGELOG_TABLES} if self.changelog_configs else None)
        self.store = self.stack.add(start_store(self.settings, allow_fault_injection=True))
        for i in range(workers):
            self.add_worker(f"worker-{i + 1}")
        return self

    def restart_store(self) -> None:
        """Stop the store (SIGTERM: the engine closes cleanly) and start it on the same dir."""
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        assert self.store is not None
        self.store.stop()
        self.stack.services.remove(self.store)
        self.store = self.stack.add(start_store(self.settings, allow_fault_injection=True))

    def add_worker(self, worker_id: str) -> Service:
        return self.stack.add(start_worker(self.settings, worker_id))

    def worker(self, worker_id: str = "worker-1") -> Service:
        return next(s for s in self.stack.services if s.name == worker_id and s.alive())

    def stop(self) -> None:
        if self._sink is not None:
            self._sink.close()
        self.stack.stop()
        delete_topics(self.settings, list(pipeline_topics(self.settings)))

    @property
    def sink(self) -> ClickHouseSink:
        if self._sink is None:
            self._sink = ClickHouseSink(self.settings.store_url()).start()
        return self._sink

    # -- data ---------------------------------------------------------------------------
    def produce(self, payloads: Iterable[bytes], batch: int = 200, origin: str = "") -> int:
        return send_batches(self.settings, payloads, batch=batch, origin=origin)

    def scalar(self, sql: str, **params: Any) -> Any:
        return self.sink.query(sql.replace("{db}", "touchline"), params or None).scalar()

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        return self.sink.query(sql.replace("{db}", "touchline"), params or None).rows

    def raw_messages(self) -> list[tuple[int, int, bytes]]:
        """(partition, offset, value) of every message the broker holds in the raw topic."""
        return raw_topic_messages(self.settings.kafka)

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> end offset (messages ever written) of one of the pipeline's topics."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap)
        try:
            tps = [TopicPartition(topic, n) for n in range(self.settings.kafka.partitions)]
            return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}
        finally:
            consumer.close()

    @contextmanager
    def _group(self) -> Iterator[Any]:
        """A kafka-python consumer in the pipeline's group that joins nothing: it reads the
        group's committed offsets and the topics' end offsets."""
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap,
                                 group_id=self.settings.faust_app_id, enable_auto_commit=False)
        try:
            yield consumer
        finally:
            consumer.close()

    def committed_offsets(self, topics: Iterable[str] = ()) -> dict[str, int | None]:
        """The group's committed offsets ("topic[n]": offset) of `topics` (default: the raw
        and activities topics)."""
        from kafka import TopicPartition

        k = self.settings.kafka
        with self._group() as consumer:
            return {f"{topic}[{n}]": consumer.committed(TopicPartition(topic, n))
                    for topic in (tuple(topics) or (k.raw_topic, k.activities_topic))
                    for n in range(k.partitions)}

    def uncommitted(self) -> dict[str, tuple[int, int]]:
        """"topic[n]": (committed, end offset) of the raw, activities and DLQ partitions whose
        messages the group has not all committed (no commit counts as offset 0)."""
        from kafka import TopicPartition

        k = self.settings.kafka
        tps = [TopicPartition(topic, n) for topic in (k.raw_topic, k.activities_topic,
                                                      k.dlq_topic)
               for n in range(k.partitions)]
        with self._group() as consumer:
            ends = consumer.end_offsets(tps)
            behind = {tp: (consumer.committed(tp) or 0, ends[tp]) for tp in tps}
        return {f"{tp.topic}[{tp.partition}]": at for tp, at in behind.items() if at[0] < at[1]}

    def explain_missing(self, expected_ids: Iterable[str]) -> str:
        """Where the expected event ids that have no row are: in the raw topic or not."""
        import orjson

        have = {r[0] for r in self.rows("SELECT event_id FROM {db}.activities")}
        missing = set(expected_ids) - have
        if not missing:
            return "no expected event is missing"
        where: dict[tuple[int, int], int] = {}
        found: set[str] = set()
        for partition, offset, value in self.raw_messages():
            for line in value.split(b"\n"):
                try:
                    event_id = orjson.loads(line).get("event_id")
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                if event_id in missing:
                    found.add(event_id)
                    where[(partition, offset)] = where.get((partition, offset), 0) + 1
        return (f"{len(missing)} expected events have no row; {len(missing - found)} of them"
                f" are not in the raw topic; (partition, offset): count of the others = "
                f"{dict(sorted(where.items())[:40])}; raw end offsets = "
                f"{self.end_offsets(self.settings.kafka.raw_topic)}; "
                f"committed = {self.committed_offsets()}")

    def explain_missing_dead_letters(self, invalid: int) -> str:
        """Where the dead letters are: envelopes in the DLQ topic, their keys, rows, commits.

        Tells a dead letter never sent (fewer envelopes than `invalid` rejected events) from
        one sent and not recorded (an envelope whose key has no row in `dlq_events`).
        """
        from touchline.streams.agents.record_dead_letters import dead_letter_row

        k = self.settings.kafka
        envelopes = topic_records(k, k.dlq_topic)
        keys: dict[str, tuple[int, int]] = {}
        for m in envelopes:
            keys.setdefault(dead_letter_row(m.value, m.partition, m.offset)["dlq_key"],
                            (m.partition, m.offset))
        rows = {r[0] for r in self.rows("SELECT dlq_key FROM {db}.dlq_events FINAL")}
        unrecorded = {key: at for key, at in keys.items() if key not in rows}
        committed = self.committed_offsets((k.dlq_topic,))
        return (f"{invalid} events rejected; the DLQ topic holds {len(envelopes)} envelopes "
                f"with {len(keys)} distinct keys; dlq_events has {len(rows)}; envelopes with no "
                f"row (key: (partition, offset)) = {dict(list(unrecorded.items())[:10])}; DLQ "
                f"end offsets = {self.end_offsets(k.dlq_topic)}; committed = {committed}")

    def accounted(self) -> int:
        """Events the activities stage has decided on: rows, duplicates, late rejects."""
        return int(self.scalar(
            "SELECT (SELECT count() FROM {db}.activities) + (SELECT count() FROM {db}.dlq_events)"
            " + (SELECT sum(duplicates) FROM {db}.pipeline_metrics WHERE topic = {t:String})",
            t=self.settings.kafka.activities_topic) or 0)

    def wait_until(self, check: Callable[[], bool], timeout: float = 90.0,
                   what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except Exception as exc:  # the store may be busy starting
                last_exc = exc
            dead = [s.name for s in self.stack.services if not s.alive() and not s.stopped]
            if dead:
                logs = "\n".join(s.log.read_text(errors="replace")[-3000:]
                                 for s in self.stack.services if s.name in dead)
                raise AssertionError(f"{dead} died while waiting for {what}:\n{logs}")
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what} (last error: {last_exc})\n"
                             f"{self.worker_reports()}")

    def worker_reports(self, chars: int = 2500) -> str:
        """The end of every worker's log, dead or alive, and what each live one waits for:
        what a timed-out wait reports."""
        return "\n".join(f"--- {s.name} ({'alive' if s.alive() else 'gone'}), log tail:\n"
                         f"{s.log.read_text(errors='replace')[-chars:]}"
                         + (f"\n--- {s.name} waits for:\n{waits_for(s.proc.pid)}"
                            if s.alive() else "")
                         for s in self.stack.services
                         if s.name.startswith("worker") and s.log.exists())

    def wait_assigned(self, workers: int = 1, timeout: float = 120.0) -> None:
        """Until `workers` workers report every raw partition between them (their last second).

        The group has formed and its members are consuming: what is produced from now on is
        split between them. Tests that kill a worker mid-stream wait for this before they
        produce, so that the stream is not over before the worker has started (a worker's
        start, and on Kafka the group's join, take longer on a busy machine).
        """
        kafka = self.settings.kafka

        def assigned() -> bool:
            rows = self.rows(
                "SELECT partition, argMax(worker, ts) FROM {db}.pipeline_metrics "
                "WHERE topic = {t:String} AND ts > now64(3) - INTERVAL 3 SECOND "
                "GROUP BY partition", t=kafka.raw_topic)
            return (len(rows) == kafka.partitions
                    and len({worker for _, worker in rows}) == workers)

        self.wait_until(assigned, timeout, f"{workers} worker(s) to share the raw partitions")

    def wait_rows(self, table: str, n: int, timeout: float = 90.0) -> None:
        self.wait_until(lambda: self.scalar(f"SELECT count() FROM {{db}}.{table}") >= n,
                        timeout, f"{n} rows in {table}")

    def wait_settled(self, timeout: float = 120.0, quiet_s: float = 3.0) -> None:
        """Until the row and DLQ counts stop moving, every report says lag 0 and the group
        has committed every message of the raw, activities and DLQ topics.

        Every partition of the raw and DLQ topics must be reported by a live worker, so a dead
        worker's partitions must have been reassigned. A report's lag counts from the last
        message processed, so it is 0 while an earlier message waits for the commit guard to
        read it again (streams/commit_guard.py, `commit_stall_s`); the committed offsets count
        it, because the guard never commits past a message no agent processed.
        """
        state: dict[str, Any] = {"last": None, "since": time.monotonic()}
        kafka = self.settings.kafka
        must_cover = 2 * kafka.partitions

        def settled() -> bool:
            now = self.rows(
                "SELECT (SELECT count() FROM {db}.activities), (SELECT count() FROM "
                "{db}.dlq_events), sum(lag), countIf(topic IN ({raw:String}, {dlq:String})) "
                "FROM (SELECT topic, partition, argMax(lag, ts) AS lag FROM "
                "{db}.pipeline_metrics WHERE ts > now64(3) - INTERVAL 5 SECOND "
                "GROUP BY topic, partition)", raw=kafka.raw_topic, dlq=kafka.dlq_topic)[0]
            if now != state["last"]:
                state["last"], state["since"] = now, time.monotonic()
                return False
            if not (now[2] == 0 and now[3] == must_cover
                    and time.monotonic() - state["since"] >= quiet_s):
                return False
            state["uncommitted"] = self.uncommitted()
            return not state["uncommitted"]

        try:
            self.wait_until(settled, timeout, "the pipeline to settle")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last counts and lag {state['last']}; not committed "
                                 f"(committed, end) = {state.get('uncommitted')}") from None


def raw_topic_messages(kafka: KafkaSettings) -> list[tuple[int, int, bytes]]:
    """(partition, offset, value) of every message the broker holds in `kafka.raw_topic`."""
    return [(m.partition, m.offset, m.value) for m in topic_records(kafka, kafka.raw_topic)]


def topic_records(kafka: KafkaSettings, topic: str) -> list[Any]:
    """Every record (kafka-python ConsumerRecord) the broker holds in `topic`."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=5000)
    try:
        tps = [TopicPartition(topic, n) for n in range(kafka.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            batch = consumer.poll(timeout_ms=2000)
            if not batch:
                break
            out += [m for ms in batch.values() for m in ms]
        return out
    finally:
        consumer.close()
