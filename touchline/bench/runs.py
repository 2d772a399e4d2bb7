"""Scenarios on the real pipeline: end-to-end throughput, freshness at half rate, soak."""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from touchline.bench.payloads import live_messages
from touchline.bench.stack import BenchError, Scenario, produce, route


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def _warm(sc: Scenario, warm: list[bytes], workers: int) -> int:
    """Send a few messages and wait until they are rows and every worker reports."""
    k = sc.settings.kafka
    await produce(k, warm)
    n = sum(m.count(b"\n") + 1 for m in warm)
    await asyncio.to_thread(sc.wait_count, n, 180.0, 0.2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every worker has partitions (group settled)
        got = sc.sink.query(
            "SELECT uniqExact(worker) FROM touchline.pipeline_metrics "
            "WHERE ts > now64(3) - INTERVAL 3 SECOND").scalar()
        if int(got or 0) >= workers:
            break
        await asyncio.sleep(0.5)
    return n


def cores_used(cpu0: dict[str, float], cpu1: dict[str, float], seconds: float,
               digits: int = 2) -> dict[str, float]:
    """Cores each process used between two `Scenario.cpu()` readings `seconds` apart."""
    return {k: round((cpu1[k] - cpu0.get(k, 0.0)) / seconds, digits) for k in cpu1}


async def idle_cores(sc: Scenario, seconds: float = 3.0) -> dict[str, float]:
    """Cores each process uses with nothing to do: heartbeats, metrics rows, count() polls.

    Polled every 0.25 s, about what `wait_count(adaptive=True)` does in the middle of a
    run; a slow run pays this for longer, so its cost per event is shown net of it too.
    """
    cpu0, t0 = sc.cpu(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.to_thread(sc.count)
        await asyncio.sleep(0.25)
    cpu1, elapsed = sc.cpu(), time.monotonic() - t0
    return cores_used(cpu0, cpu1, elapsed, digits=3)


class RssSampler:
    """Samples the workers' RSS every `every` seconds in a thread."""

    def __init__(self, sc: Scenario, every: float = 1.0) -> None:
        self.sc, self.every = sc, every
        self.samples: list[tuple[float, list[int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((round(time.monotonic() - self._t0, 1),
                                 [r for r, _ in self.sc.worker_rss()]))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def end_to_end(root: Path, bootstrap: str, messages: list[bytes], warm: list[bytes],
                     per_message: int, workers: int, partitions: int = 4) -> dict:
    """Events/s from the first produce to the last row visible (durable) in ClickHouse."""
    sc = Scenario(root, bootstrap, partitions).start(workers)
    try:
        base = await _warm(sc, warm, workers)
        events = len(messages) * per_message
        k = sc.settings.kafka
        idle = await idle_cores(sc)
        targets = [route(m, partitions) for m in messages]
        with RssSampler(sc) as rss:
            cpu0 = sc.cpu()
            t0 = time.monotonic()
            send = asyncio.create_task(produce(k, messages, targets=targets))
            done = await asyncio.to_thread(sc.wait_count, base + events, 1800.0, 0.05,
                                           True)
            produce_s = await send
        seconds = done - t0
        cpu1 = sc.cpu()
        used = {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1}
        cores = cores_used(cpu0, cpu1, seconds)
        span = sc.sink.query(
            "SELECT toUnixTimestamp64Milli(max(ingested_at)) - toUnixTimestamp64Milli("
            "min(ingested_at)), count() FROM touchline.activities WHERE kafka_offset >= 0"
        ).rows[0]
        peaks = [p for _, p in sc.worker_rss()]
        return {
            "workers": workers, "partitions": partitions, "events": events,
            "messages": len(messages), "events_per_message": per_message,
            "seconds": round(seconds, 3), "produce_seconds": round(produce_s, 3),
            "events_per_s": round(events / seconds),
            "events_per_s_per_worker": round(events / seconds / workers),
            "rows_total": int(span[1]),
            "cpu_cores_used": cores,
            "cpu_seconds": {k: round(v, 3) for k, v in used.items()},
            "cpu_us_per_event": {k: round(v / events * 1e6, 1) for k, v in used.items()},
            "idle_cpu_cores": idle,
            "cpu_us_per_event_net_of_idle": {
                k: round(max(0.0, v - idle.get(k, 0.0) * seconds) / events * 1e6, 1)
                for k, v in used.items()},
            "peak_rss_mb": [round(p / 1024, 1) for p in peaks],
            "rss_mb_max_sampled": [round(max(s[1][i] for s in rss.samples) / 1024, 1)
                                   for i in range(workers)] if rss.samples else [],
        }
    finally:
        sc.stop()


class CountPoller:
    """Polls count(activities) every `every` s: (time the poll's answer arrived, count)."""

    def __init__(self, sc: Scenario, every: float = 0.05) -> None:
        self.sc, self.every = sc, every
        self.times: list[float] = []
        self.counts: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            n = self.sc.count()
            self.times.append(time.time())
            self.counts.append(n)
            self._stop.wait(self.every)

    def __enter__(self) -> CountPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def visible_at(self, n: int) -> float | None:
        """When the count first reached n (None if never)."""
        i = bisect.bisect_left(self.counts, n)  # counts never go down
        return self.times[i] if i < len(self.times) else None


async def freshness(root: Path, bootstrap: str, messages: list[bytes], warm: list[bytes],
                    per_message: int, rate: float, partitions: int = 4) -> dict:
    """p50/p95/p99 of (row visible) - (event produced) at a steady `rate` events/s.

    Measured per message: a poller reads count(activities) every 50 ms; the message's
    events are visible when the count reaches the number of events produced up to and
    including it (events are unique, so the count is exact; the first-in-first-out reading
    makes this the time by which that many events were queryable).
    """
    sc = Scenario(root, bootstrap, partitions).start(1)
    try:
        base = await _warm(sc, warm, 1)
        k = sc.settings.kafka
        sent: list[float] = []
        with CountPoller(sc) as poller:
            cpu0, t0 = sc.cpu(), time.monotonic()
            await produce(k, messages,
                          rate_events=rate, per_message=per_message, on_sent=sent)
            await asyncio.to_thread(sc.wait_count, base + len(messages) * per_message, 300.0)
            cpu1, seconds = sc.cpu(), time.monotonic() - t0
            await asyncio.sleep(0.2)
        lags = []
        for i, at in enumerate(sent):
            seen = poller.visible_at(base + (i + 1) * per_message)
            if seen is None:
                raise BenchError("freshness: rows never became visible")
            lags.append(seen - at)
        return {
            "rate_events_per_s": round(rate), "messages": len(messages),
            "events": len(messages) * per_message, "poll_interval_s": poller.every,
            "p50_s": round(_pct(lags, 50), 3), "p95_s": round(_pct(lags, 95), 3),
            "p99_s": round(_pct(lags, 99), 3), "max_s": round(max(lags), 3),
            **lag_profile(sent, lags),
            # how much of the machine half the maximum rate takes (the poller's queries
            # are in the store's share)
            "cpu_cores_used": cores_used(cpu0, cpu1, seconds),
        }
    finally:
        sc.stop()


def lag_profile(sent: list[float], lags: list[float]) -> dict:
    """When in the run the lags were: the worst lag per second of sending.

    Also the seconds in which the slowest 1% of messages were sent: one stall decides the
    p99 of a short run.
    """
    start = sent[0]
    worst: dict[int, float] = {}
    for at, lag in zip(sent, lags, strict=True):
        second = int(at - start)
        worst[second] = max(worst.get(second, 0.0), lag)
    slowest = sorted(range(len(lags)), key=lags.__getitem__)[-max(1, len(lags) // 100):]
    return {"max_lag_by_second_s": [round(worst.get(s, 0.0), 2) for s in range(max(worst) + 1)],
            "slowest_1pct_sent_at_s": sorted({int(sent[i] - start) for i in slowest})}


def rss_trend(series: list[tuple[float, float]], since_s: float) -> float | None:
    """Least-squares slope of RSS (MB) over the samples at or after `since_s`, per 10 minutes."""
    points = [(t, v) for t, v in series if t >= since_s]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
    return round(slope * 600, 1)


def recycled(messages: list[bytes], seed_marker: bytes) -> Iterator[bytes]:
    """The messages again and again, each round with new event ids."""
    loop = 0
    while True:
        loop += 1
        mark = seed_marker[:-1] + f"r{loop}-".encode()
        for m in messages:
            yield m.replace(seed_marker, mark)


async def soak(root: Path, bootstrap: str, messages: list[bytes], warm: list[bytes],
               per_message: int, rate: float, seconds: float, seed_marker: bytes,
               partitions: int = 4, lateness_s: int | None = None) -> dict:
    """A steady rate for `seconds`: worker RSS at the start vs the end (must not grow).

    With `lateness_s`, the worker's allowed lateness is that short and the events are
    generated live with event times that follow the clock: the dedup window (which holds the
    ids of the last `lateness_s` of event time, by design) fills within the soak, so RSS
    after that point shows whether anything else grows. Without it, the pre-generated events
    are replayed with new ids (event times stay in the past hours, the window only grows).
    """
    sc = Scenario(root, bootstrap, partitions)
    if lateness_s:
        sc.settings.pipeline = sc.settings.pipeline.model_copy(
            update={"allowed_lateness_s": lateness_s})
    sc.start(1)
    try:
        base = await _warm(sc, warm, 1)
        k = sc.settings.kafka
        n_msgs = max(1, int(rate * seconds / per_message))
        source = (live_messages(rate, per_message, partitions) if lateness_s
                  else recycled(messages, seed_marker))
        stream = (next(source) for _ in range(n_msgs))
        with RssSampler(sc, every=5.0) as rss:
            await produce(k, stream,
                          rate_events=rate, per_message=per_message)
            await asyncio.to_thread(sc.wait_count, base + n_msgs * per_message, 600.0, 0.5)
        series = [(t, round(v[0] / 1024, 1)) for t, v in rss.samples if v]
        # "start": after the first 10% of the soak (caches and buffers filled once)
        warm_t = seconds * 0.1
        start = next((v for t, v in series if t >= warm_t), series[0][1] if series else 0)
        end = series[-1][1] if series else 0
        # once the window is full (lateness + a minute of buckets + warm-up), RSS must be flat
        full_t = (lateness_s + 120) if lateness_s else None
        full = next((v for t, v in series if full_t and t >= full_t), None)
        return {
            "rate_events_per_s": round(rate), "seconds": seconds,
            "events": n_msgs * per_message,
            "rss_start_mb": start, "rss_end_mb": end,
            "rss_growth_mb": round(end - start, 1),
            "allowed_lateness_s": lateness_s,
            "rss_window_full_mb": full,
            "rss_growth_after_window_full_mb": round(end - full, 1) if full else None,
            # a one-off step (a set table doubling) is not growth; a slope over the last half is
            "rss_trend_last_half_mb_per_10min": rss_trend(series, seconds / 2),
            "rss_max_mb": max((v for _, v in series), default=0),
            "peak_rss_mb": round(sc.worker_rss()[0][1] / 1024, 1),
            "series": series,
        }
    finally:
        sc.stop()
