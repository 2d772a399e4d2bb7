"""The results table (stdout) and the JSON file (bench/results/<timestamp>.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from touchline.terminal_table import align

#: speed targets, per worker process on the benchmark's machine
SINGLE_TARGET = 20_000  # events/s, one event per Kafka message
BATCH_RATIO_TARGET = 0.8  # x the hand-tuned pipeline, JSONL batches
EDGE_TARGET = 5_000  # signed vendor requests/s per `touchline serve`
FRESHNESS_TARGET_S = 1.0  # p99 at half the measured maximum
PANEL_TARGET_MS = 100  # every panel's p95 with 8 dashboards loading at once
FRAMING_NAMES = {"batch": "JSONL batches", "single": "one event per message"}


def _bound(run: dict[str, Any]) -> str:
    """' (producer-bound)' when the load generator needed nearly the whole run to send."""
    produce, total = run.get("produce_seconds"), run.get("seconds")
    return " (producer-bound)" if produce and total and produce >= 0.9 * total else ""


def _cpu(run: dict[str, Any], key: str = "cpu_us_per_event") -> str:
    per = run.get(key) or {}
    return ", ".join(f"{k} {v}" for k, v in per.items() if k != "bench")


def _contenders(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Per framing: the hand-tuned pipeline, the framework peers, touchline's workers, targets.

    touchline's rate is a ratio to the hand-tuned pipeline and to the fastest peer.
    """
    rows: list[tuple[str, str, str]] = []
    hand = {h["framing"]: h for h in results.get("handtuned", [])}
    for framing in ("batch", "single"):
        runs = [e for e in results.get("e2e", []) if e.get("framing", "batch") == framing]
        peers = [p for p in results.get("peers", []) if p["framing"] == framing]
        h = hand.get(framing)
        if not runs and not h and not peers:
            continue
        per = (h or (runs or peers)[0])["events_per_message"]
        name = f"{FRAMING_NAMES[framing]} ({per} per message)"
        if h:
            rows.append((f"{name}: hand-tuned aiokafka+pydantic+chdb",
                         f"{_f(h['events_per_s'])} ev/s{_bound(h)}",
                         f"CPU us/event: {_cpu(h)}"))
        for p in peers:
            ratio = f", {p['events_per_s'] / h['events_per_s']:.2f} x hand-tuned" if h else ""
            rows.append((f"{name}: {p['label']}", f"{_f(p['events_per_s'])} ev/s{ratio}",
                         f"CPU us/event: {_cpu(p)}; {_f(p['events'])} events"))
        best = max(peers, key=lambda p: p["events_per_s"], default=None)
        for e in runs:
            rate = e["events_per_s_per_worker"]
            ratio = f"{rate / h['events_per_s']:.2f} x hand-tuned" if h else "no baseline run"
            if best:
                ratio += f", {rate / best['events_per_s']:.2f} x {best['label']}"
            if framing == "single":
                target = (f">= {SINGLE_TARGET:,}/worker: "
                          + ("MET" if rate >= SINGLE_TARGET else "not met"))
                if best:
                    target += ("; >= 2 x the best peer: "
                               + ("MET" if rate >= 2 * best["events_per_s"] else "not met"))
            elif h:
                target = (f">= {BATCH_RATIO_TARGET} x hand-tuned: "
                          + ("MET" if rate / h["events_per_s"] >= BATCH_RATIO_TARGET
                             else "not met"))
            else:
                target = f">= {BATCH_RATIO_TARGET} x hand-tuned: not measured"
            rows.append((f"{name}: touchline, {e['workers']} worker(s)",
                         f"{_f(e['events_per_s'])} ev/s ({_f(rate)}/worker){_bound(e)}, "
                         f"{ratio}", target))
            if e.get("cpu_us_per_event"):
                rows.append(("  CPU us/event by process", _cpu(e),
                             "cores: " + ", ".join(f"{k} {v}" for k, v in
                                                   e["cpu_cores_used"].items())))
            if e.get("cpu_us_per_event_net_of_idle"):
                rows.append(("  CPU us/event net of idle", _cpu(e, "cpu_us_per_event_net_of_idle"),
                             "idle cores: " + ", ".join(f"{k} {v}" for k, v in
                                                        e["idle_cpu_cores"].items())))
    return rows


def _f(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if v < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def lines(results: dict[str, Any]) -> list[str]:
    """Human-readable table of every measured number, with ratios and targets."""
    out: list[str] = []
    m = results["machine"]
    out.append(f"machine: {m['cores']} cores, {m['ram_gb']} GB RAM, {m['cpu_model']}, "
               f"Python {m['python']}")
    rows: list[tuple[str, str, str]] = []
    b = results.get("baselines", {})
    raw = b.get("raw_consume", {}).get("events_per_s")
    if "raw_produce" in b:
        p = b["raw_produce"]
        rows.append(("baseline: aiokafka batch produce", f"{_f(p['events_per_s'])} ev/s",
                     f"{_f(p['messages_per_s'])} msg/s"))
    if "raw_consume" in b:
        c = b["raw_consume"]
        rows.append(("baseline: aiokafka consume + orjson parse", f"{_f(c['events_per_s'])} ev/s",
                     f"{_f(c['messages_per_s'])} msg/s (= 1.00)"))
    if "pydantic" in b:
        v = b["pydantic"]["events_per_s"]
        rows.append(("baseline: pydantic validate_json / event", f"{_f(v)} ev/s",
                     f"{v / raw:.2f} x raw" if raw else ""))
    if "chdb_insert" in b:
        v = b["chdb_insert"]["rows_per_s"]
        rows.append(("baseline: chdb insert_arrow", f"{_f(v)} rows/s",
                     f"{v / raw:.2f} x raw" if raw else ""))
    rows += _contenders(results)
    e2e = [e for e in results.get("e2e", []) if e.get("framing", "batch") == "batch"]
    for e in e2e:
        rows.append((f"  worker peak RSS ({e['workers']}w, batch)", f"{e['peak_rss_mb']} MB",
                     ""))
    if len(e2e) >= 2:
        one, two = e2e[0]["events_per_s"], e2e[-1]["events_per_s"]
        rows.append((f"scale-out {e2e[-1]['workers']} workers vs 1", f"{two / one:.2f} x",
                     "ideal 2.00 (2 cores)"))
    if "edge" in results:
        g = results["edge"]
        cpu = ", ".join(f"{k} {v}" for k, v in g["cpu_us_per_request"].items())
        met = "MET" if g["requests_per_s"] >= EDGE_TARGET else "not met"
        rows.append((f"edge: signed requests into 1 serve ({g['connections']} connections)",
                     f"{_f(g['requests_per_s'])} req/s, each on the broker before its 200",
                     f">= {EDGE_TARGET:,}/s: {met}; p50 {g['latency_ms'].get('p50')} ms, "
                     f"p99 {g['latency_ms'].get('p99')} ms"))
        rows.append(("  CPU us per request", cpu,
                     f"{g.get('accepted_by_serve', g['ok']):,} answered 200, "
                     f"{g['stored_on_broker']:,} on the broker ({g.get('client', 'aiohttp')})"))
    if "freshness" in results:
        f = results["freshness"]
        met = "MET" if f["p99_s"] < FRESHNESS_TARGET_S else "not met"
        rows.append((f"freshness @ {_f(f['rate_events_per_s'])} ev/s",
                     f"p50 {f['p50_s']}s p95 {f['p95_s']}s p99 {f['p99_s']}s",
                     f"target p99 < {FRESHNESS_TARGET_S:g} s: {met}"))
        if f.get("slowest_1pct_sent_at_s"):
            rows.append(("  slowest 1% sent in second", ", ".join(
                str(s) for s in f["slowest_1pct_sent_at_s"]),
                f"of {len(f['max_lag_by_second_s'])}; broker: {results.get('broker', '?')}; "
                f"plan: {results.get('options', {}).get('plan') or 'none in force'}"))
        if f.get("cpu_cores_used"):
            rows.append(("  cores used", ", ".join(
                f"{k} {v}" for k, v in f["cpu_cores_used"].items()),
                f"of {results.get('machine', {}).get('cores', '?')}"))
    for size, q in results.get("queries", {}).items():
        rows.append((f"queries over {size} rows: generate", f"{q['generate_seconds']} s",
                     f"{_f(q['rows'])} rows"))
        for p in q["panels"]:
            met = "MET" if p["p95_ms"] < 100 else "not met"
            rows.append((f"  {p['panel'][:46]}", f"p50 {p['p50_ms']} ms p95 {p['p95_ms']} ms",
                         f"<100 ms: {met}"))
    rows += _viewers(results.get("viewers"))
    if "soak" in results:
        s = results["soak"]
        rows.append((f"soak {s['seconds']:.0f}s @ {_f(s['rate_events_per_s'])} ev/s",
                     f"RSS {s['rss_start_mb']} -> {s['rss_end_mb']} MB",
                     f"growth {s['rss_growth_mb']} MB, max {s['rss_max_mb']} MB"))
        if s.get("rss_window_full_mb"):
            rows.append((f"  lateness {s['allowed_lateness_s']}s: after the window filled",
                         f"RSS {s['rss_window_full_mb']} -> {s['rss_end_mb']} MB",
                         f"growth {s['rss_growth_after_window_full_mb']} MB (must be ~0)"))
        if s.get("rss_trend_last_half_mb_per_10min") is not None:
            rows.append(("  trend over the last half (least squares)",
                         f"{s['rss_trend_last_half_mb_per_10min']} MB per 10 min",
                         "(must be ~0)"))
    out += align(rows)
    return out


def _viewers(v: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """Dashboards loading at once through the store: load times, store CPU, slowest panels."""
    if not v:
        return []
    load = v["dashboard_load"]
    slow = [p for p in v["panels"] if p["p95_ms"] >= PANEL_TARGET_MS]
    rows = [(f"{v['viewers']} dashboards at once over {_f(v['rows'])} rows, {v['rounds']} rounds",
             f"load p50 {load['p50_ms']} ms p95 {load['p95_ms']} ms max {load['max_ms']} ms",
             f"every panel p95 < {PANEL_TARGET_MS} ms: "
             + ("MET" if not slow and not v["errors"] else f"not met ({len(slow)} panels)")),
            ("  store CPU", f"{v['store_cpu_cores']} cores, {v['store_cpu_ms_per_dashboard']} ms "
             f"per dashboard, {v['store_cpu_ms_per_panel']} ms per panel",
             f"load avg {v['load_avg_before'][0]} -> {v['load_avg_after'][0]}, store RSS "
             f"{v['store_rss_mb']} MB")]
    if v.get("floor_store_cpu_ms_per_request") is not None:
        rows.append(("  store CPU per request that reads nothing",
                     f"{v['floor_store_cpu_ms_per_request']} ms; x {v['requests_per_round']} "
                     f"requests per round / {v['cores']} cores = "
                     f"{v['floor_round_ms']} ms",
                     "the least a round can take through the store"))
    if v.get("alone_store_cpu_ms_per_dashboard"):
        rows.append(("  store CPU per dashboard, panels run alone",
                     ", ".join(f"{k.removeprefix('touchline-')} {ms:g} ms" for k, ms in
                               v["alone_store_cpu_ms_per_dashboard"].items()), ""))
    for p in sorted(v["panels"], key=lambda p: (p["dashboard"], -p["p95_ms"])):
        rows.append((f"  {p['dashboard'].removeprefix('touchline-')}: {p['panel'][:40]}",
                     f"p50 {p['p50_ms']} p95 {p['p95_ms']} max {p['max_ms']} ms",
                     "ERROR " + p["error"][:60] if p.get("error")
                     else f"alone: {p.get('alone_store_cpu_ms', '-')} ms store CPU"
                     + (", slowest" if p in v["slowest"][:3] else "")))
    return rows


def write(results: dict[str, Any], folder: Path) -> Path:
    """Write the results as JSON named by the run's UTC timestamp."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
