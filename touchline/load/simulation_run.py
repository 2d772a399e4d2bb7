"""`touchline simulate`: run the simulator into Kafka (live) or a JSONL file; write its org."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import yaml

from touchline.load.simulator import Anomalies, Simulator
from touchline.settings import Settings


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
    # a file with no --count or --duration holds the history alone (a backfill demo)
    history_only = jsonl is not None and count is None and duration is None
    if history_only and history_days <= 0:
        raise ValueError("writing a file needs --count, --duration or --history-days")
    begin = start or datetime.now(UTC)
    payloads: Iterator[bytes] = sim.payloads(begin, rate, history_days, live=live,
                                             history_only=history_only)
    if count is not None:
        payloads = itertools.islice(payloads, count)
    if jsonl is not None:
        if count is None and not history_only:
            payloads = itertools.islice(payloads, int(rate * (duration or 0)))
        n = 0
        with jsonl.open("wb") as fh:
            for payload in payloads:
                fh.write(payload + b"\n")
                n += 1
        return n
    _load_org(settings, sim, begin, history_days)
    if duration is not None:
        deadline = time.monotonic() + duration
        payloads = itertools.takewhile(lambda _: time.monotonic() < deadline, payloads)
    from touchline.load.produce import send_batches

    batch = max(1, min(1000, int(rate / 5)))
    return send_batches(settings, payloads, batch=batch, rate=rate)


def write_org_file(path: Path, *, seed: int, tenant: str, start: datetime | None,
                   history_days: float) -> Path:
    """Write the org of the simulated tenant (the same seed, start and history as its events)."""
    sim = Simulator(seed=seed, tenant=tenant)
    doc = sim.org_document(start or datetime.now(UTC), history_days)
    header = (f"# touchline org file of the simulated tenant {tenant} (seed {seed}); load it "
              f"with `touchline org load {path.name}` (docs/org.md)\n")
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def _load_org(settings: Settings, sim: Simulator, start: datetime, history_days: float) -> None:
    """Load the simulated org as `touchline org load` would.

    Teams, rep periods (the mover's two included), reps and accounts: panels, pickers and
    signals see a real org.
    """
    from touchline.org.tables import load_org
    from touchline.schemas.org import Org
    from touchline.sinks.connect import open_sink

    org = Org.model_validate(sim.org_document(start, history_days))
    try:
        sink = open_sink(settings)
    except Exception:  # no ClickHouse reachable: events still flow, names are just ids
        return
    try:
        sink.ensure_schema()
        load_org(sink, org, sim.org.tenant)
    finally:
        sink.close()
