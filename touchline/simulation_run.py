"""`touchline simulate`: run the simulator into Kafka (live) or a JSONL file."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from touchline.settings import Settings
from touchline.simulator import Anomalies, Simulator


def run_simulation(settings: Settings, *, seed: int, rate: float, history_days: float,
                   duplicates: float, out_of_order: float, late: float, malformed: float,
                   duration: float | None, count: int | None, jsonl: Path | None,
                   start: datetime | None, tenant: str) -> int:
    """Emit events; returns how many."""
    anomalies = Anomalies(duplicates=duplicates, out_of_order=out_of_order, late=late,
                          malformed=malformed,
                          late_by_s=settings.pipeline.allowed_lateness_s + 3 * 24 * 3600)
    sim = Simulator(seed=seed, tenant=tenant, anomalies=anomalies)
    live = jsonl is None and start is None
    payloads: Iterator[bytes] = sim.payloads(start or datetime.now(UTC), rate, history_days,
                                             live=live)
    if count is not None:
        payloads = itertools.islice(payloads, count)
    if jsonl is not None:
        if count is None and duration is None:
            raise ValueError("writing a file needs --count or --duration (events = rate x s)")
        if count is None:
            payloads = itertools.islice(payloads, int(rate * (duration or 0)))
        n = 0
        with jsonl.open("wb") as fh:
            for payload in payloads:
                fh.write(payload + b"\n")
                n += 1
        return n
    _write_dimensions(settings, sim)
    if duration is not None:
        deadline = time.monotonic() + duration
        payloads = itertools.takewhile(lambda _: time.monotonic() < deadline, payloads)
    from touchline.produce import send_batches

    batch = max(1, min(1000, int(rate / 5)))
    return send_batches(settings, payloads, batch=batch, rate=rate)


def _write_dimensions(settings: Settings, sim: Simulator) -> None:
    """Reps and accounts of the simulated org, so dashboards can name and tier them."""
    from touchline.connect import open_sink
    from touchline.sinks.dimensions import write_dimensions

    try:
        sink = open_sink(settings)
    except Exception:  # no ClickHouse reachable: events still flow, names are just ids
        return
    try:
        write_dimensions(sink, sim.dimension_rows())
    finally:
        sink.close()
