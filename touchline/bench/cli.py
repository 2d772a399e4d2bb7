"""`touchline bench`: measure the pipeline against its physical limits on this machine."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import click

from touchline.settings import KafkaSettings

SECTIONS = ("baselines", "e2e", "freshness", "queries", "soak")


def _count(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise click.BadParameter(f"{text!r} is not a count like 500000, 500k or 10M")
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()])


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    return [_count(v) for v in value.split(",") if v.strip()]


def _only(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return SECTIONS
    parts = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [p for p in parts if p not in SECTIONS]
    if bad:
        raise click.BadParameter(f"unknown section(s) {bad}; choose from {', '.join(SECTIONS)}")
    return parts


@click.command("bench")
@click.option("--only", callback=_only, default=None,
              help="comma-separated sections: baselines,e2e,freshness,queries,soak (default all)")
@click.option("--quick", is_flag=True,
              help="small sizes for a run of a few minutes (100k events, 1M query rows, 60 s soak)")
@click.option("--events", default=None, help="events per end-to-end run (default 600k; 100k quick)")
@click.option("--per-message", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="events per raw (JSONL) Kafka message")
@click.option("--query-rows", default=None, callback=lambda c, p, v: v,
              help="activity row counts for the query section (default 10M,100M; 1M quick)")
@click.option("--query-runs", default=20, show_default=True, type=click.IntRange(3, 1000),
              help="timed runs per panel query")
@click.option("--soak-seconds", default=None, type=click.FloatRange(5, 86400),
              help="soak duration (default 600; 60 quick)")
@click.option("--soak-rate", default=None, type=click.FloatRange(1, 1e7),
              help="soak events/s (default half the measured 1-worker max, at most 20k)")
@click.option("--soak-lateness", default=None, type=click.IntRange(60, 7 * 86400),
              help="allowed lateness (s) for the soak's worker, with live event times: RSS "
                   "after the dedup window is full must be flat (default: the setting's, "
                   "replayed events)")
@click.option("--freshness-seconds", default=30.0, show_default=True,
              type=click.FloatRange(5, 3600), help="how long the half-rate freshness run lasts")
@click.option("--max-rate", default=None, type=click.FloatRange(1, 1e7),
              help="1-worker max events/s to base freshness/soak rates on when e2e is not run")
@click.option("--batch-messages", default=None, type=click.IntRange(1, 100_000),
              help="pipeline.batch_messages for the bench's workers (default: the setting's)")
@click.option("--batch-seconds", default=None, type=click.FloatRange(0.01, 10),
              help="pipeline.batch_seconds for the bench's workers (default: the setting's)")
@click.option("--concurrency", default=None, type=click.IntRange(1, 8),
              help="pipeline.concurrency for the bench's workers (default: the setting's)")
@click.option("--compression", default=None,
              type=click.Choice(get_args(KafkaSettings.model_fields["compression"].annotation)),
              help="kafka.compression of every producer in the bench (default: the setting's)")
@click.option("--partitions", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--results-dir", default="bench/results", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def bench(only: tuple[str, ...], quick: bool, events: str | None, per_message: int,
          query_rows: str | None, query_runs: int, soak_seconds: float | None,
          soak_rate: float | None, soak_lateness: int | None, freshness_seconds: float,
          max_rate: float | None,
          batch_messages: int | None, batch_seconds: float | None,
          concurrency: int | None, compression: str | None, partitions: int,
          results_dir: Path) -> None:
    """Run the benchmark on a real broker and ClickHouse; print a table, write JSON."""
    from touchline.bench import report
    from touchline.bench.stack import BenchError
    from touchline.services import ServiceError

    opts = {
        "events": _count(events) if events else (100_000 if quick else 600_000),
        "per_message": per_message,
        "query_rows": _sizes(None, None, query_rows) if query_rows
        else ([1_000_000] if quick else [10_000_000, 100_000_000]),
        "query_runs": query_runs,
        "soak_seconds": soak_seconds or (60.0 if quick else 600.0),
        "soak_rate": soak_rate, "freshness_seconds": freshness_seconds,
        "soak_lateness": soak_lateness,
        "partitions": partitions, "sections": list(only), "batch_seconds": batch_seconds,
        "max_rate": max_rate, "batch_messages": batch_messages, "concurrency": concurrency,
        "compression": compression,
    }
    try:
        results = asyncio.run(_run(opts))
    except (BenchError, ServiceError, OSError) as exc:
        click.echo(f"bench failed: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("bench interrupted", err=True)
        sys.exit(130)
    path = report.write(results, results_dir)
    for line in report.lines(results):
        click.echo(line)
    click.echo(f"results: {path}")


def _log(text: str) -> None:
    click.echo(f"[{datetime.now(UTC):%H:%M:%S}] {text}", err=True)


async def _run(opts: dict[str, Any]) -> dict[str, Any]:
    from touchline.bench import baselines, machine, payloads, queries, runs
    from touchline.bench.stack import Scenario, broker

    Scenario.pipeline_overrides = {
        k: opts[k] for k in ("batch_seconds", "batch_messages", "concurrency") if opts[k]}
    Scenario.kafka_overrides = {"compression": opts["compression"]} if opts["compression"] else {}

    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(),
                               "machine": machine.describe(), "options": opts}
    sections, per = opts["sections"], opts["per_message"]
    needs_stream = any(s in sections for s in ("baselines", "e2e", "freshness", "soak"))
    if needs_stream:
        _log(f"generating {opts['events']:,} simulator events")
        t = time.monotonic()
        events = payloads.events(opts["events"], seed=11)
        parts = opts["partitions"]
        warm = payloads.messages(payloads.events(2 * per * parts, seed=12), per, parts)
        messages = payloads.messages(events, per, parts)
        results["generate_seconds"] = round(time.monotonic() - t, 1)
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as tmp:
        root = Path(tmp)
        if "queries" in sections:
            results["queries"] = {}
            for n in opts["query_rows"]:
                _log(f"queries: generating {n:,} activity rows straight into ClickHouse")
                results["queries"][f"{n:,}"] = await asyncio.to_thread(
                    queries.run, root / f"q{n}", n, opts["query_runs"], _log)
        if not needs_stream:
            return results
        service, bootstrap = broker(root)
        Scenario.broker_pid = service.proc.pid
        try:
            if "baselines" in sections:
                b: dict[str, Any] = {}
                sc = Scenario(root, bootstrap, opts["partitions"])
                from touchline.topics_admin import ensure_topics

                ensure_topics(sc.settings)
                _log("baseline: raw produce")
                b["raw_produce"] = await baselines.raw_produce(sc, messages, per)
                _log("baseline: raw consume + parse")
                b["raw_consume"] = await baselines.raw_consume(sc, len(messages))
                sc.stop()
                _log("baseline: pydantic validate_json")
                b["pydantic"] = baselines.pydantic_validate(events[:200_000])
                _log("baseline: chdb insert_arrow")
                b["chdb_insert"] = await asyncio.to_thread(baselines.chdb_insert,
                                                           events[:300_000])
                results["baselines"] = b
            if "e2e" in sections:
                results["e2e"] = []
                for workers in (1, 2):
                    _log(f"e2e: {workers} worker(s), {len(events):,} events")
                    results["e2e"].append(await runs.end_to_end(
                        root, bootstrap, messages, warm, per, workers, opts["partitions"]))
                    _log(f"  {results['e2e'][-1]['events_per_s']:,} events/s")
            max_rate = (results["e2e"][0]["events_per_s"] if results.get("e2e")
                        else opts["max_rate"] or 20_000.0)
            if "freshness" in sections:
                rate = max_rate / 2
                n = max(1, int(rate * opts["freshness_seconds"] / per))
                msgs = messages[:n]
                if n > len(messages):  # a fast pipeline: half its rate for the whole run
                    _log(f"generating {n * per:,} more simulator events for freshness")
                    msgs = payloads.messages(payloads.events(n * per, seed=13), per,
                                             opts["partitions"])[:n]
                _log(f"freshness: {rate:,.0f} events/s for {opts['freshness_seconds']:.0f}s")
                results["freshness"] = await runs.freshness(
                    root, bootstrap, msgs, warm, per, rate, opts["partitions"])
            if "soak" in sections:
                rate = opts["soak_rate"] or min(max_rate / 2, 20_000.0)
                _log(f"soak: {rate:,.0f} events/s for {opts['soak_seconds']:.0f}s")
                results["soak"] = await runs.soak(
                    root, bootstrap, messages, warm, per, rate, opts["soak_seconds"],
                    b'"event_id":"s11-', opts["partitions"], opts["soak_lateness"])
        finally:
            service.stop()
    return results
