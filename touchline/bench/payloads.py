"""Simulator events for the benchmark, generated before any clock starts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from touchline.load.produce import account_partition
from touchline.load.simulator import Anomalies, Simulator

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

    As `touchline.load.produce` sends them: the partitions' messages interleaved in event order,
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


def live_messages(rate: float, per_message: int, partitions: int = 4,
                  seed: int = 21, tenant: str = "acme") -> Iterator[bytes]:
    """An endless stream of messages (as `messages`) whose event times follow the wall clock.

    The simulator's clock is calibrated so that `rate` events span one simulated second: sent
    at `rate` events/s, event time keeps pace with real time, so the watermark moves and a
    short allowed lateness evicts old ids as it would in production.
    """
    probe = Simulator(seed=seed + 1, tenant=tenant, anomalies=CLEAN, teams=6)
    start = datetime.now(UTC)
    sample = list(itertools.islice(probe.payloads(start, 100.0), 5000))
    span_s = (datetime.fromisoformat(orjson.loads(sample[-1])["occurred_at"]) - start)
    per_sim_second = len(sample) / max(span_s.total_seconds(), 1e-3)  # at sim rate 100
    sim = Simulator(seed=seed, tenant=tenant, anomalies=CLEAN, teams=6)
    chunks: dict[int, list[bytes]] = {}
    for payload in sim.payloads(datetime.now(UTC), 100.0 * rate / per_sim_second):
        chunk = chunks.setdefault(account_partition(payload, partitions), [])
        chunk.append(payload.replace(b'"event_id":"', f'"event_id":"l{seed}-'.encode(), 1))
        if len(chunk) >= per_message:
            yield b"\n".join(chunk)
            chunk.clear()
