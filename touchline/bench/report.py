"""The results table (stdout) and the JSON file (bench/results/<timestamp>.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from touchline.terminal_table import align


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
    for e in results.get("e2e", []):
        per = e["events_per_s_per_worker"]
        speed = "MET" if per >= 50_000 else "not met"
        if raw:
            ratio = f"{per / raw:.2f} x raw per worker; >=0.5 x raw: " + (
                "MET" if per / raw >= 0.5 else "not met")
        else:
            ratio = ">=0.5 x raw: not measured (add the baselines section)"
        rows.append((f"e2e {e['workers']} worker(s), {e['partitions']} partitions",
                     f"{_f(e['events_per_s'])} ev/s total, {_f(per)}/worker",
                     f">=50k/worker: {speed}; {ratio}"))
        rows.append((f"  worker peak RSS ({e['workers']}w)", f"{e['peak_rss_mb']} MB", ""))
        if e.get("cpu_cores_used"):
            used = ", ".join(f"{k} {v}" for k, v in e["cpu_cores_used"].items())
            rows.append((f"  CPU cores used ({e['workers']}w)", used, ""))
    e2e = results.get("e2e", [])
    if len(e2e) >= 2:
        one, two = e2e[0]["events_per_s"], e2e[-1]["events_per_s"]
        rows.append(("scale-out 2 workers vs 1", f"{two / one:.2f} x", "ideal 2.00 (2 cores)"))
    if "freshness" in results:
        f = results["freshness"]
        met = "MET" if f["p99_s"] < 2 else "not met"
        rows.append((f"freshness @ {_f(f['rate_events_per_s'])} ev/s",
                     f"p50 {f['p50_s']}s p95 {f['p95_s']}s p99 {f['p99_s']}s",
                     f"target p99 < 2 s: {met}"))
    for size, q in results.get("queries", {}).items():
        rows.append((f"queries over {size} rows: generate", f"{q['generate_seconds']} s",
                     f"{_f(q['rows'])} rows"))
        for p in q["panels"]:
            met = "MET" if p["p95_ms"] < 100 else "not met"
            rows.append((f"  {p['panel'][:46]}", f"p50 {p['p50_ms']} ms p95 {p['p95_ms']} ms",
                         f"<100 ms: {met}"))
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


def write(results: dict[str, Any], folder: Path) -> Path:
    """Write the results as JSON named by the run's UTC timestamp."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
