"""The job (`touchline.bench.job`) on Quix Streams: a framework peer of the benchmark.

A StreamingDataFrame splits each message into its events, validates each event and drops
duplicates (`job.event_row`, with an in-memory set of keys, as the hand-tuned pipeline does),
sends the invalid ones to the DLQ topic (`to_topic`) and the rows to a `BatchingSink` that
inserts each partition's rows of a checkpoint as one Arrow block. Quix Streams commits a
checkpoint's offsets after its sinks have written and its produced messages are acked: commit
after the insert, as every contender. A checkpoint closes every second or every ~20,000 events'
messages, whichever comes first (the hand-tuned pipeline's batch).

Runs in the peers' environment (`peers/environment.py`), as its own process, started by
`contender.measure`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from quixstreams import Application, message_context
from quixstreams.sinks import BatchingSink, SinkBatch

from touchline.bench.job import BATCH_EVENTS, DEAD, Judge, Report, Row, Store, start


class ClickHouseSink(BatchingSink):
    """Inserts a checkpoint's rows of one partition; tells the report what is handled."""

    def __init__(self, store: Store, report: Report, app: Application, judge: Judge) -> None:
        super().__init__()
        self.store, self.report, self.app, self.judge = store, report, app, judge
        self.done_at = self.cpu_s = 0.0

    def write(self, batch: SinkBatch) -> None:
        """One insert; once every measured event is handled, stop the application."""
        rows: list[Row] = [item.value for item in batch]
        self.store.insert(rows)
        self.report.add(len(rows), *self.judge.taken())
        if self.report.done and not self.done_at:
            self.done_at, self.cpu_s = time.monotonic(), time.process_time()
            self.app.stop()


def main(argv: list[str] | None = None) -> None:
    """Consume until `--events` events were handled; report on stdout."""
    args, store, report = start(__doc__.splitlines()[0], argv)
    app = Application(
        broker_address=args.bootstrap, consumer_group=args.group,
        auto_offset_reset="earliest", commit_interval=1.0,
        commit_every=max(1, BATCH_EVENTS // args.per_message), use_changelog_topics=False,
        state_dir=f"{args.data_dir}/quix-state", loglevel="WARNING")
    raw = app.topic(args.topic, value_deserializer="bytes")
    dlq = app.topic(args.dlq_topic, value_serializer="bytes")
    judge = Judge(set())

    def judged(data: bytes) -> tuple[str, Any] | None:
        ctx = message_context()
        return judge(data, ctx.partition, ctx.offset)

    sdf = app.dataframe(raw)
    sdf = sdf.apply(lambda value: [line for line in value.split(b"\n") if line], expand=True)
    sdf = sdf.apply(judged).filter(lambda v: v is not None)
    sdf.filter(lambda v: v[0] == DEAD).apply(lambda v: v[1]).to_topic(dlq)
    sink = ClickHouseSink(store, report, app, judge)
    sdf.filter(lambda v: v[0] != DEAD).apply(lambda v: v[1]).sink(sink)
    app.run()
    report.finish(store, sink.done_at, sink.cpu_s)
    store.close()


if __name__ == "__main__":
    sys.exit(main())
