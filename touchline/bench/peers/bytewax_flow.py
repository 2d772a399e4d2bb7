"""The job (`touchline.bench.job`) on Bytewax: a framework peer of the benchmark.

A dataflow reads the raw topic (`KafkaSource`), splits each message into its events,
validates each event and drops duplicates (`job.event_row`, with an in-memory set of keys, as
the hand-tuned pipeline does), sends the invalid ones to the DLQ topic (`KafkaSink`, which
flushes each batch) and hands the rows to a sink that inserts each batch it is given as one
Arrow block. Bytewax does not commit offsets to the broker: its recovery store snapshots the
source's offsets at the end of each epoch (1 s), after the epoch's batches are written, which
is its commit after the insert. The source reads ~20,000 events' messages at a time (the
hand-tuned pipeline's batch).

Runs in the peers' environment (`peers/environment.py`), as its own process, started by
`contender.measure`; it leaves with `os._exit` once every measured event is handled (a
dataflow with a tailing source never ends on its own).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax._bytewax import cli_main
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.recovery import RecoveryConfig, init_db_dir

from touchline.bench.job import BATCH_EVENTS, DEAD, Judge, Report, Row, Store, start


class StorePartition(StatelessSinkPartition[Row]):
    """Inserts each batch it is given; tells the report what is handled."""

    def __init__(self, store: Store, report: Report, judge: Judge) -> None:
        self.store, self.report, self.judge = store, report, judge

    def write_batch(self, items: list[Row]) -> None:
        """One insert; once every measured event is handled, report and leave."""
        self.store.insert(items)
        self.report.add(len(items), *self.judge.taken())
        if self.report.done:
            self.report.leave(self.store)


class StoreSink(DynamicSink[Row]):
    """One `StorePartition` (the benchmark runs one worker)."""

    def __init__(self, partition: StorePartition) -> None:
        self.partition = partition

    def build(self, step_id: str, worker_index: int, worker_count: int) -> StorePartition:
        """The worker's partition of the sink."""
        return self.partition


def main(argv: list[str] | None = None) -> None:
    """Consume until `--events` events were handled; report on stdout."""
    args, store, report = start(__doc__.splitlines()[0], argv)
    judge = Judge(set())
    flow = Dataflow("touchline-job")
    messages = op.input("raw", flow, KafkaSource(
        [args.bootstrap], [args.topic], batch_size=max(1, BATCH_EVENTS // args.per_message)))
    events = op.flat_map("split", messages, lambda m: [
        (line, m.partition, m.offset) for line in m.value.split(b"\n") if line])
    judged = op.filter_map("judge", events, lambda event: judge(*event))
    branch = op.branch("dead", judged, lambda v: v[0] == DEAD)
    op.output("dlq", op.map("dead-letter", branch.trues,
                            lambda v: KafkaSinkMessage(None, v[1])),
              KafkaSink([args.bootstrap], args.dlq_topic))
    op.output("store", op.map("row", branch.falses, lambda v: v[1]),
              StoreSink(StorePartition(store, report, judge)))
    recovery = Path(args.data_dir) / "bytewax-recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    cli_main(flow, epoch_interval=timedelta(seconds=1),
             recovery_config=RecoveryConfig(recovery))


if __name__ == "__main__":
    sys.exit(main())
