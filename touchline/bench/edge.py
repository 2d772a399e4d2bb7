"""The webhook edge: signed vendor requests per second into one `touchline serve` process.

The load comes from `wrk` (one thread, a Lua script of pre-signed requests) when it is on the
PATH, else from an aiohttp client process (`python -m touchline.bench.edge ...`); either keeps N
keep-alive connections on 127.0.0.1 busy, each sending the next request as soon as the
previous one was answered, for a fixed time. The requests are what the vendors send, signed
with each vendor's recipe: HubSpot v3 (HMAC-SHA256 over method, URL, body and a millisecond
timestamp) and Outreach (HMAC-SHA256 of the body), in turn. A 200 means the request's envelope
was acknowledged by the broker (acks=all) before the answer; the runner checks that the raw
topics hold at least as many messages as serve counted 200s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from touchline.webhooks.signatures import hubspot_v3_signature, outreach_signature

SECRETS = {
    "hubspot_client_secret": "bench-hubspot-secret",
    "outreach_secret": "bench-outreach-secret",
}
#: Twilio is left out: serve answers a repeated Twilio callback from its replay cache without
#: storing it, so a load that cycles through pre-signed requests would measure that cache
SOURCES = ("hubspot", "outreach")


def signed_requests(base: str, n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """`n` distinct (path, body, headers) requests, the three vendors in turn, signed now."""
    out = []
    stamp = str(int(time.time() * 1000))
    for i in range(n):
        source = SOURCES[i % len(SOURCES)]
        path = f"/webhooks/{source}"
        if source == "hubspot":
            body = orjson.dumps([{
                "eventId": 1000 + i, "subscriptionId": 7, "portalId": 62515,
                "appId": 1160452, "occurredAt": 1763910000000 + i,
                "subscriptionType": "object.creation", "attemptNumber": 0,
                "objectId": 5000 + i, "objectTypeId": "0-48", "changeSource": "CRM",
                "sourceId": "userId:1234"}])
            headers = {"Content-Type": "application/json",
                       "X-HubSpot-Request-Timestamp": stamp,
                       "X-HubSpot-Signature-v3": hubspot_v3_signature(
                           SECRETS["hubspot_client_secret"], "POST", base + path, body, stamp)}
        else:
            body = orjson.dumps({
                "data": {"type": "mailing", "id": 9000 + i,
                         "attributes": {"deliveredAt": "2026-11-23T15:00:00.000Z",
                                        "state": "delivered"},
                         "relationships": {"prospect": {"data": {"type": "prospect",
                                                                 "id": 77}}}},
                "meta": {"deliveredAt": "2026-11-23T15:00:01.000+00:00",
                         "eventName": "mailing.delivered", "jobId": f"bench-{i}"}})
            headers = {"Content-Type": "application/json",
                       "Outreach-Webhook-Signature": outreach_signature(
                           SECRETS["outreach_secret"], body)}
        out.append((path, body, headers))
    return out


async def load(url: str, connections: int, seconds: float, variants: int) -> dict[str, Any]:
    """Keep `connections` requests in flight for `seconds`; count answers by status."""
    import aiohttp

    reqs = signed_requests(url, variants)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    cpu0 = time.process_time()
    deadline = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def client(k: int) -> None:
            i = k
            while time.monotonic() < deadline:
                path, body, headers = reqs[i % len(reqs)]
                i += connections
                t = time.monotonic()
                async with session.post(url + path, data=body, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] += 1
                latencies.append(time.monotonic() - t)

        started = time.monotonic()
        await asyncio.gather(*(client(k) for k in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {"seconds": round(elapsed, 3), "statuses": {str(k): v for k, v in statuses.items()},
            "ok": statuses[200], "requests": sum(statuses.values()),
            "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)} if latencies else {},
            "cpu_s": round(time.process_time() - cpu0, 3)}


async def measure(root: Path, bootstrap: str, connections: int = 64,
                  seconds: float = 20.0, partitions: int = 4) -> dict[str, Any]:
    """Start `touchline serve` on a free port, load it, check every 200 is on the broker."""
    from aiokafka import AIOKafkaConsumer

    from touchline.bench.machine import cpu_seconds
    from touchline.bench.stack import BenchError, Scenario
    from touchline.stack.services import child_env, free_port, spawn, stop_process, wait_for_port

    sc = Scenario(root, bootstrap, partitions)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sc.settings.web = sc.settings.web.model_copy(update={"ingest_port": port})
    sc.settings.webhooks = sc.settings.webhooks.model_copy(update={
        **{k: SecretStr(v) for k, v in SECRETS.items()}, "public_base_url": base})
    log = sc.settings.data_dir / "logs" / "serve.log"
    proc = spawn("serve", [sys.executable, "-m", "touchline", "serve"], log,
                 child_env(sc.settings))
    wrk = shutil.which("wrk")
    try:
        wait_for_port(port, proc, "touchline serve", 60, log)
        warm = await _run_load(base, connections, 3.0)  # connections, topics, producer
        if warm["ok"] == 0:
            raise BenchError(f"touchline serve accepted nothing while warming up: {warm} "
                             f"(see {log})")
        cpu0 = {"serve": cpu_seconds(proc.pid), "broker": cpu_seconds(sc.broker_pid),
                "load generator": _children_cpu()}
        if wrk:
            result = await _run_wrk(wrk, base, connections, seconds,
                                    sc.settings.data_dir / "edge.lua")
        else:
            result = await _run_load(base, connections, seconds)
        cpu1 = {"serve": cpu_seconds(proc.pid), "broker": cpu_seconds(sc.broker_pid),
                "load generator": _children_cpu()}
        accepted = await _accepted(base)
        while accepted != (settled := await _accepted(base)):  # handlers still finishing
            accepted = settled
            await asyncio.sleep(0.5)
    finally:
        stop_process(proc)
    topics = [sc.settings.webhooks.raw_topic(s) for s in SOURCES]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        from aiokafka import TopicPartition

        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        stored = sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()
    if stored < accepted:  # a stored request without its 200 (a timeout) may be retried
        raise BenchError(f"edge: serve answered {accepted} requests 200 but only {stored} are "
                         "on the broker")
    ok = result["ok"]
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    with contextlib.suppress(Exception):
        from touchline.stack.topics_admin import delete_topics

        delete_topics(sc.settings, topics)
    return {
        "client": result.get("client", "aiohttp"), "connections": connections,
        "seconds": result["seconds"], "requests": result["requests"], "ok": ok,
        "statuses": result.get("statuses"), "non_2xx": result.get("non_2xx"),
        "socket_errors": result.get("socket_errors"),
        "accepted_by_serve": accepted, "stored_on_broker": stored,
        "requests_per_s": round(ok / result["seconds"]),
        "latency_ms": result["latency_ms"],
        "cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
        "cpu_cores_used": {k: round(v / result["seconds"], 2) for k, v in cpu.items()},
        "cpu_us_per_request": {k: round(v / max(ok, 1) * 1e6, 1) for k, v in cpu.items()},
    }


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the load generator runs)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


async def _accepted(base: str) -> int:
    """Requests `touchline serve` answered 200 (its /metrics counters, every source)."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(base + "/metrics") as resp:
        doc = await resp.json()
    return sum(c.get("accepted", 0) for c in doc["sources"].values())


def wrk_script(reqs: list[tuple[str, bytes, dict[str, str]]], host: str) -> str:
    """A wrk Lua script that sends the pre-signed requests in turn, one per call.

    The requests are formatted when the script loads, before wrk would add its Host header,
    so each carries its own.
    """
    def lua(text: str) -> str:
        return "[==[" + text + "]==]"

    items = []
    for path, body, headers in reqs:
        hs = ", ".join(f"[ {lua(k)} ] = {lua(v)}" for k, v in dict(headers, Host=host).items())
        items.append(f'wrk.format("POST", {lua(path)}, {{{hs}}}, {lua(body.decode())})')
    return ("local reqs = {\n" + ",\n".join(items) + "\n}\nlocal i = 0\n"
            "function request()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n")


async def _run_wrk(wrk: str, base: str, connections: int, seconds: float,
                   script: Path) -> dict[str, Any]:
    """Run wrk (one thread) with the Lua script: its request count, errors and latency."""
    script.write_text(wrk_script(signed_requests(base, 3000), base.split("://", 1)[1]))
    proc = await asyncio.create_subprocess_exec(
        wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "-s", str(script), base, stdout=asyncio.subprocess.PIPE)
    started = time.monotonic()
    out, _ = await proc.communicate()
    elapsed = time.monotonic() - started
    text = out.decode()
    from touchline.bench.stack import BenchError

    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    if proc.returncode or not m or int(m.group(1)) == 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {text[-500:]}")
    requests = int(m.group(1))
    took = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)

    def lat(q: str) -> float | None:
        found = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)", text, re.M)
        if not found:
            return None
        return round(float(found.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[found.group(2)], 2)

    non_ok = int(bad.group(1)) if bad else 0
    return {"seconds": round(took, 3), "wall_seconds": round(elapsed, 3),
            "requests": requests, "non_2xx": non_ok, "ok": requests - non_ok,
            "socket_errors": errors.group(1).strip() if errors else "",
            "latency_ms": {"p50": lat("50"), "p99": lat("99")}, "client": "wrk"}


async def _run_load(base: str, connections: int, seconds: float) -> dict[str, Any]:
    from touchline.bench.stack import BenchError

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "touchline.bench.edge", "--url", base,
        "--connections", str(connections), "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode:
        raise BenchError(f"edge load generator exited with {proc.returncode}")
    return orjson.loads(out.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Command line of the load generator process; prints one JSON line."""
    p = argparse.ArgumentParser(description="signed vendor webhook load on one URL")
    p.add_argument("--url", required=True)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--variants", type=int, default=3000)
    args = p.parse_args(argv)
    result = asyncio.run(load(args.url, args.connections, args.seconds, args.variants))
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    sys.exit(main())
