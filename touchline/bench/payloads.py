"""Simulator events for the benchmark, generated before any clock starts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from touchline.produce import account_partition
from touchline.simulator import Anomalies, Simulator

#: no duplicates, late or malformed events: every event must become exactly one row
CLEAN = Anomalies(duplicates=0.0, out_of_order=0.0, late=0.0, malformed=0.0)


def events(n: int, seed: int, tenant: str = "acme") -> list[bytes]:
    """`n` distinct, valid event payloads with event times in the last few hours."""
    sim = Simulator(seed=seed, tenant=tenant, anomalies=CLEAN, teams=6)
    # the simulated clock moves 1/rate s per step (a few events each): keep it in the past
    rate = max(n / 3600, 50.0)
    start = datetime.now(UTC) - timedelta(hours=2)
    out = list(itertools.islice(sim.payloads(start, rate), n))
    return [p.replace(b'"event_id":"', f'"event_id":"s{seed}-'.encode(), 1) for p in out]


def messages(payloads: list[bytes], per_message: int, partitions: int = 4) -> list[bytes]:
    """JSONL batch messages of exactly `per_message` events of one account partition each.

    As `touchline.produce` sends them: the partitions' messages interleaved in event order,
    so the worker records every event where it validates it. Each partition's last partial
    message is left out (fewer than `per_message` x `partitions` events), so every message
    holds `per_message` events and the scenarios' counts stay exact.
    """
    chunks: dict[int, list[bytes]] = {}
    out: list[bytes] = []
    for payload in payloads:
        chunk = chunks.setdefault(account_partition(payload, partitions), [])
        chunk.append(payload)
        if len(chunk) >= per_message:
            out.append(b"\n".join(chunk))
            chunk.clear()
    return out
