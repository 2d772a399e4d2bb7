"""Run one contender process (the hand-tuned pipeline or a framework peer) and read its rate.

Every contender gets the same messages the touchline scenario gets, produced by the same
producer, on a fresh topic and consumer group; the clock runs from the first produce to the
contender's report that every event is handled (`job.Report`). Its rows and touch counts are
checked: a contender that loses or doubles an event fails the run instead of scoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import orjson

from touchline.bench.machine import cpu_seconds
from touchline.bench.stack import BenchError, Scenario, produce, route
from touchline.settings import KafkaSettings
from touchline.stack.topics_admin import delete_topics, ensure_topics, pipeline_topics

_log = logging.getLogger(__name__)


class Process:
    """A contender process on a raw topic: started with the options `job.arguments` reads."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name, self.proc = name, proc

    @classmethod
    async def start(cls, name: str, command: list[str], kafka: KafkaSettings, data_dir: Path,
                    partitions: int, per_message: int, warm: int, events: int) -> Process:
        """`command` with the broker, topics, group, chdb directory and counts as options."""
        proc = await asyncio.create_subprocess_exec(
            *command, "--bootstrap", kafka.bootstrap, "--topic", kafka.raw_topic,
            "--dlq-topic", kafka.dlq_topic, "--group", f"{kafka.raw_topic}-{name}",
            "--data-dir", str(data_dir), "--partitions", str(partitions),
            "--per-message", str(per_message), "--warm", str(warm), "--events", str(events),
            stdout=asyncio.subprocess.PIPE)
        return cls(name, proc)

    async def line(self, timeout: float) -> dict[str, Any]:
        """The next report line (a framework may print other lines to stdout)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(),
                                         deadline - time.monotonic())
            if not raw:
                raise BenchError(f"{self.name} exited with {await self.proc.wait()}")
            at = raw.find(b'{"')  # after any terminal codes a framework's spinner wrote
            if at >= 0:
                return orjson.loads(raw[at:])
            _log.info("%s: %s", self.name, raw.decode(errors="replace").rstrip())

    async def finish(self, timeout: float = 60.0) -> None:
        """Wait for the process to leave (it does once it has reported every event)."""
        await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        """Kill the process if it is still running."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def measure(name: str, command: list[str], root: Path, bootstrap: str,
                  messages: list[bytes], warm: list[bytes], per_message: int,
                  partitions: int = 4, *, ready_timeout: float = 180.0) -> dict[str, Any]:
    """Start `command` (a contender process speaking `job.Report`) and measure it.

    The process gets the broker, topics, group and a chdb directory of its own as options.
    """
    sc = Scenario(root, bootstrap, partitions)
    k = sc.settings.kafka
    ensure_topics(sc.settings)
    data = root / f"{name}-{k.raw_topic}"
    data.mkdir(parents=True)
    n_warm = sum(m.count(b"\n") + 1 for m in warm)
    events = len(messages) * per_message
    proc = await Process.start(name, command, k, data, partitions, per_message, n_warm, events)
    try:
        await produce(k, warm)
        ready = await proc.line(ready_timeout)
        targets = [route(m, partitions) for m in messages]
        broker0 = cpu_seconds(sc.broker_pid) if sc.broker_pid else 0.0
        t0 = time.monotonic()
        send = asyncio.create_task(produce(k, messages, targets=targets))
        done = await proc.line(1800.0)
        produce_s = await send
        broker1 = cpu_seconds(sc.broker_pid) if sc.broker_pid else 0.0
        await proc.finish()
    finally:
        await proc.kill()
        with contextlib.suppress(Exception):
            delete_topics(sc.settings, list(pipeline_topics(sc.settings)))
    if done["rows_in_table"] != n_warm + events or done["events"] != events:
        raise BenchError(f"{name}: {done} for {events} events")
    seconds = done["done_monotonic"] - t0
    cpu = {name: done["cpu_s"] - ready["cpu_s"], "broker": broker1 - broker0}
    return {
        "events": events, "events_read": done["events_read"],
        "events_per_message": per_message, "seconds": round(seconds, 3),
        "produce_seconds": round(produce_s, 3),
        "events_per_s": round(events / seconds), "rows": done["rows"],
        "touches_by_rep_day": done["touches"],
        "cpu_seconds": {p: round(v, 3) for p, v in cpu.items()},
        "cpu_us_per_event": {p: round(v / events * 1e6, 1) for p, v in cpu.items()},
    }
