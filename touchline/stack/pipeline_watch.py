"""What `touchline up` shows: lag from the broker's own offsets, and a stall when nothing moves.

The workers report their lag to ClickHouse (`pipeline_metrics`), but a worker that cannot
write there reports nothing, and "nothing reported" must not read as "lag 0". So the lag
printed here is read from the broker: for every partition of the pipeline's topics, the end
offset minus what the consumer group committed (messages, not events: a raw message carries
up to a batch of events). When messages wait and the group's committed offsets have not moved
for `stall_after_s`, the pipeline is stalled, whatever ClickHouse says; when the broker cannot
be asked, the lag is unknown, never 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from touchline.settings import Settings

#: messages wait and no offset was committed for this long: stalled
STALL_AFTER_S = 10.0


@dataclass(frozen=True)
class LagReading:
    """Messages of the pipeline's topics not yet committed by the workers' group."""

    #: None when the broker could not be asked
    waiting: int | None
    #: seconds since the committed offsets last moved while messages waited (0: not stalled)
    stalled_s: float = 0.0

    @property
    def stalled(self) -> bool:  # noqa: D102
        return self.stalled_s > 0

    def describe(self) -> str:
        """`lag 12`, `lag unknown` or `STALLED 31s, 12 waiting`, for the progress line."""
        if self.waiting is None:
            return "lag unknown (broker not answering)"
        if self.stalled:
            return f"STALLED {self.stalled_s:.0f}s, {self.waiting:,} waiting"
        return f"lag {self.waiting:,}"


class LagWatch:
    """Reads the group's lag from the broker, and tells a stall from a busy pipeline."""

    def __init__(self, settings: Settings, stall_after_s: float = STALL_AFTER_S) -> None:
        """Watch the topics and consumer group of `settings` (no connection until `read`)."""
        k = settings.kafka
        self._bootstrap, self._group = k.bootstrap, settings.faust_app_id
        self._topics = (k.raw_topic, k.backfill_topic, k.activities_topic, k.dlq_topic)
        self._partitions = k.partitions
        self._stall_after_s = stall_after_s
        self._consumer = None
        self._last_committed: dict | None = None
        self._moved_at = time.monotonic()

    def _offsets(self) -> tuple[dict, dict]:
        from kafka import KafkaConsumer, TopicPartition

        if self._consumer is None:
            # read once a second by `up`, whose loop also restarts crashed services and sees a
            # stop: a broker that is away costs it 2 s, not kafka-python's 30 s bootstrap
            self._consumer = KafkaConsumer(
                bootstrap_servers=self._bootstrap, group_id=self._group,
                enable_auto_commit=False, request_timeout_ms=5000, bootstrap_timeout_ms=2000)
        tps = [TopicPartition(t, n) for t in self._topics for n in range(self._partitions)]
        end = self._consumer.end_offsets(tps)
        committed = {tp: self._consumer.committed(tp) or 0 for tp in tps}
        return end, committed

    def read(self, now: float | None = None) -> LagReading:
        """One reading; a stall needs `stall_after_s` of waiting messages and no commit."""
        now = time.monotonic() if now is None else now
        try:
            end, committed = self._offsets()
        except Exception:  # broker away or restarting: unknown, never 0
            self.close()
            return LagReading(None)
        waiting = sum(max(end[tp] - committed[tp], 0) for tp in end)
        if committed != self._last_committed or waiting == 0:
            self._last_committed, self._moved_at = committed, now
        still = now - self._moved_at
        return LagReading(waiting, still if still >= self._stall_after_s else 0.0)

    def close(self) -> None:
        """Drop the broker connection (the next read opens a new one)."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
