"""The job (`touchline.bench.job`) as Faust's documentation writes an app: a framework peer.

One agent takes the raw topic's messages one at a time; the keys of the events it has kept are
a Faust Table (`seen`, kept in memory, its changelog on the broker), not a set. Each message's
events are validated as it comes (`job.event_row`), its invalid ones sent to the DLQ topic, its
rows kept; the kept rows go in as one Arrow block once they are ~20,000 events' worth or a
second old (the hand-tuned pipeline's batch), and only then are their messages acknowledged
(the stream's acks are manual): Faust commits acknowledged offsets, so it commits after the
insert. Plain faust-streaming, without touchline's bulk intake, batching or patches: what
Faust's per-event model costs.

Runs in touchline's environment, as its own process, started by `contender.measure`; it leaves
with `os._exit` once every measured event is handled (a worker does not end on its own).
"""

from __future__ import annotations

import asyncio
import sys

import faust

from touchline.bench.job import BATCH_EVENTS, DEAD, Judge, Report, Row, Store, start


def main(argv: list[str] | None = None) -> None:
    """Consume until `--events` events were handled; report on stdout."""
    args, store, report = start(__doc__.splitlines()[0], argv)
    app = faust.App(args.group, broker=f"kafka://{args.bootstrap}", store="memory://",
                    datadir=f"{args.data_dir}/faust", topic_partitions=args.partitions,
                    broker_commit_every=1000, broker_commit_interval=1.0,
                    web_enabled=False)
    raw = app.topic(args.topic, value_type=bytes, value_serializer="raw")
    dlq = app.topic(args.dlq_topic, value_type=bytes, value_serializer="raw")
    seen = app.Table("seen", default=bool, partitions=args.partitions)

    pending = _Pending(store, report, Judge(_TableKeys(seen)))

    @app.agent(raw)
    async def job(messages: faust.StreamT[bytes]) -> None:
        async for event in messages.noack().events():
            partition, offset = event.message.partition, event.message.offset
            for line in event.value.split(b"\n"):
                verdict = pending.judge(line, partition, offset) if line else None
                if verdict is None:
                    continue
                kind, value = verdict
                if kind == DEAD:
                    await dlq.send(value=value)
                else:
                    pending.rows.append(value)
            pending.events.append(event)
            if len(pending.events) * args.per_message >= BATCH_EVENTS:
                await pending.flush()

    @app.timer(1.0)
    async def flush_every_second() -> None:
        await pending.flush()

    worker = faust.Worker(app, loglevel="ERROR", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


class _Pending:
    """The rows and messages taken since the last insert."""

    def __init__(self, store: Store, report: Report, judge: Judge) -> None:
        self.store, self.report, self.judge = store, report, judge
        self.rows: list[Row] = []
        self.events: list[faust.types.EventT] = []
        self.lock = asyncio.Lock()

    async def flush(self) -> None:
        """Insert the rows, then acknowledge their messages; leave once all are handled."""
        async with self.lock:
            rows, events, (dead, read) = self.rows, self.events, self.judge.taken()
            self.rows, self.events = [], []
            await asyncio.to_thread(self.store.insert, rows)
            for event in events:
                event.ack()
            self.report.add(len(rows), dead, read)
            if self.report.done:
                self.report.leave(self.store)


class _TableKeys:
    """A Faust Table seen as the set of kept keys `job.event_row` takes."""

    def __init__(self, table: faust.Table) -> None:
        self.table = table

    def __contains__(self, key: str) -> bool:
        return key in self.table

    def add(self, key: str) -> None:
        self.table[key] = True


if __name__ == "__main__":
    sys.exit(main())
