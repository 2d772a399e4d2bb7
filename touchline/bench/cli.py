"""`touchline bench`: measure the pipeline against its physical limits on this machine."""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import click

from touchline.bench.peers import PEERS
from touchline.bench.shapes import SHAPES
from touchline.settings import KafkaSettings

#: the seed of the simulator events the stream sections send, and the prefix of their ids
BATCH_SEED = 11
BATCH_IDS = f'"event_id":"s{BATCH_SEED}-'.encode()
SECTIONS = ("baselines", "handtuned", "peers", "e2e", "edge", "freshness", "queries", "viewers",
            "soak")


def parse_count(text: str) -> int:
    """A count as the options take it: 500000, 500k or 10M (a click error otherwise)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise click.BadParameter(f"{text!r} is not a count like 500000, 500k or 10M")
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()])


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    return [parse_count(v) for v in value.split(",") if v.strip()]


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
              help="comma-separated sections: baselines,handtuned,peers,e2e,edge,freshness,"
                   "queries,viewers,soak (default all)")
@click.option("--quick", is_flag=True,
              help="small sizes for a run of a few minutes (100k events, 1M query rows, 60 s soak)")
@click.option("--events", default=None, help="events per end-to-end run (default 600k; 100k quick)")
@click.option("--per-message", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="events per raw (JSONL) Kafka message")
@click.option("--framings", default="batch,single", show_default=True,
              help="framings for handtuned and e2e: batch (--per-message events per "
                   "message), single (one event per message)")
@click.option("--single-events", default=None,
              help="events of the one-event-per-message runs (default 200k; 50k quick)")
@click.option("--peers", "peer_names", default="quix,bytewax,faust", show_default=True,
              help="framework peers of the peers section: " + ", ".join(
                  f"{name} ({peer.label})" for name, peer in PEERS.items()))
@click.option("--peer-events", default=None,
              help="events each peer gets per framing, the first of the framing's messages "
                   "(default all of them, as touchline gets; one Faust agent per event takes "
                   "~4 minutes for 300k single events)")
@click.option("--workers", default="1", show_default=True,
              help="worker counts of the e2e runs of the batch framing, e.g. 1,2")
@click.option("--edge-connections", default=64, show_default=True,
              type=click.IntRange(1, 4096), help="concurrent connections of the edge load")
@click.option("--edge-seconds", default=20.0, show_default=True,
              type=click.FloatRange(2, 3600), help="how long the edge load runs")
@click.option("--query-rows", default=None, callback=lambda c, p, v: v,
              help="activity row counts for the query section (default 10M,100M; 1M quick)")
@click.option("--query-runs", default=20, show_default=True, type=click.IntRange(3, 1000),
              help="timed runs per panel query")
@click.option("--viewer-rows", default=None,
              help="activity rows for the viewers section (default 100M; 1M quick)")
@click.option("--viewers", default=8, show_default=True, type=click.IntRange(1, 64),
              help="clients loading a whole dashboard at once through the store")
@click.option("--shape", type=click.Choice(sorted(SHAPES)), default="dense", show_default=True,
              help="how the queries and viewers sections' generated rows fall: " + "; ".join(
                  f"{name} ({shape.summary})" for name, shape in SHAPES.items()))
@click.option("--viewer-rounds", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="timed rounds of the viewers section (after one warm-up round)")
@click.option("--soak-seconds", default=None, type=click.FloatRange(5, 86400),
              help="soak duration (default 600; 60 quick)")
@click.option("--soak-rate", default=None, type=click.FloatRange(1, 1e7),
              help="soak events/s (default half the measured 1-worker max, at most 20k)")
@click.option("--soak-lateness", default=None, type=click.IntRange(60, 7 * 86400),
              help="allowed lateness (s) for the soak's worker, with live event times: RSS "
                   "after the dedup window is full must be flat (default: the setting's, "
                   "replayed events)")
@click.option("--freshness-seconds", default=200.0, show_default=True,
              type=click.FloatRange(5, 3600),
              help="how long the half-rate freshness run lasts (a 30-45 s run can pass where "
                   "200 s fails: the broker's and the store's costs grow over minutes)")
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
@click.option("--plan", "plan_file", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="load this plan (e.g. examples/plan.yaml, tenant acme: the benchmark's) into "
                   "every pipeline before its workers start, so the Coach pass judges real "
                   "rules; default: no plan in force, the pass has nothing to judge")
@click.option("--partitions", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--bootstrap", default=None, metavar="HOST:PORT",
              help="measure on this running Kafka broker (the one you deploy) instead of "
                   "starting noida-db; its CPU is not counted")
@click.option("--results-dir", default="bench/results", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def bench(only: tuple[str, ...], quick: bool, events: str | None, per_message: int,
          framings: str, single_events: str | None, peer_names: str, peer_events: str | None,
          workers: str, edge_connections: int,
          edge_seconds: float, query_rows: str | None, query_runs: int,
          viewer_rows: str | None, viewers: int, shape: str, viewer_rounds: int,
          soak_seconds: float | None, soak_rate: float | None, soak_lateness: int | None,
          freshness_seconds: float, max_rate: float | None,
          batch_messages: int | None, batch_seconds: float | None,
          concurrency: int | None, compression: str | None, plan_file: Path | None,
          partitions: int, bootstrap: str | None, results_dir: Path) -> None:
    """Run the benchmark on a real broker and ClickHouse; print a table, write JSON."""
    from touchline.bench import report
    from touchline.bench.stack import BenchError
    from touchline.stack.services import ServiceError

    opts = {
        "events": parse_count(events) if events else (100_000 if quick else 600_000),
        "per_message": per_message,
        "framings": _framings(framings),
        "single_events": parse_count(single_events) if single_events
        else (50_000 if quick else 200_000),
        "peers": _peers(peer_names),
        "peer_events": parse_count(peer_events) if peer_events else None,
        "workers": [int(w) for w in workers.split(",") if w.strip()],
        "edge_connections": edge_connections,
        "edge_seconds": 5.0 if quick else edge_seconds,
        "query_rows": _sizes(None, None, query_rows) if query_rows
        else ([1_000_000] if quick else [10_000_000, 100_000_000]),
        "query_runs": query_runs,
        "viewer_rows": parse_count(viewer_rows) if viewer_rows
        else (1_000_000 if quick else 100_000_000),
        "viewers": viewers, "viewer_rounds": viewer_rounds, "shape": shape,
        "soak_seconds": soak_seconds or (60.0 if quick else 600.0),
        "soak_rate": soak_rate, "freshness_seconds": freshness_seconds,
        "soak_lateness": soak_lateness,
        "partitions": partitions, "sections": list(only), "batch_seconds": batch_seconds,
        "max_rate": max_rate, "batch_messages": batch_messages, "concurrency": concurrency,
        "compression": compression, "bootstrap": bootstrap,
        "plan": str(plan_file) if plan_file else None,
    }
    if plan_file:
        from touchline.bench.stack import Scenario
        from touchline.plan.loader import PlanError, read_plans

        try:
            Scenario.plans = read_plans(plan_file)
        except PlanError as exc:
            click.echo(f"bench failed: {exc}", err=True)
            sys.exit(1)
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


def _peers(value: str) -> list[str]:
    parts = [v.strip() for v in value.split(",") if v.strip()]
    bad = [p for p in parts if p not in PEERS]
    if bad or not parts:
        raise click.BadParameter(f"peers {bad or value!r}: choose from {', '.join(PEERS)}")
    return parts


def _framings(value: str) -> list[str]:
    parts = [v.strip() for v in value.split(",") if v.strip()]
    bad = [p for p in parts if p not in ("batch", "single")]
    if bad or not parts:
        raise click.BadParameter(f"framings {bad or value!r}: choose from batch, single")
    return parts


def _log(text: str) -> None:
    click.echo(f"[{datetime.now(UTC):%H:%M:%S}] {text}", err=True)


async def _run(opts: dict[str, Any]) -> dict[str, Any]:
    from touchline.bench import (
        baselines,
        edge,
        handtuned,
        machine,
        payloads,
        peers,
        queries,
        runs,
        viewers,
    )
    from touchline.bench.stack import Scenario, broker, own_broker

    Scenario.pipeline_overrides = {
        k: opts[k] for k in ("batch_seconds", "batch_messages", "concurrency") if opts[k]}
    Scenario.kafka_overrides = {"compression": opts["compression"]} if opts["compression"] else {}

    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(),
                               "machine": machine.describe(), "options": opts}
    sections, per = opts["sections"], opts["per_message"]
    needs_stream = any(s in sections for s in ("baselines", "handtuned", "peers", "e2e",
                                                  "freshness", "soak"))
    parts = opts["partitions"]
    if needs_stream:
        t = time.monotonic()
        batch_needed = "batch" in opts["framings"] or any(
            s in sections for s in ("baselines", "freshness", "soak"))
        n_batch = opts["events"] if batch_needed else 0
        _log(f"generating {n_batch:,} simulator events")
        events = payloads.events(n_batch, seed=BATCH_SEED)
        warm = payloads.messages(payloads.events(2 * per * parts, seed=12), per, parts)
        messages = payloads.messages(events, per, parts)
        framed = {"batch": (messages, warm, per)}
        if "single" in opts["framings"]:
            singles = payloads.events(opts["single_events"], seed=14)
            framed["single"] = (payloads.messages(singles, 1, parts),
                                payloads.messages(payloads.events(400, seed=15), 1, parts), 1)
        results["generate_seconds"] = round(time.monotonic() - t, 1)
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as tmp:
        root = Path(tmp)
        if "queries" in sections:
            results["queries"] = {}
            for n in opts["query_rows"]:
                _log(f"queries: generating {n:,} activity rows straight into ClickHouse")
                results["queries"][f"{n:,}"] = await asyncio.to_thread(
                    queries.run, root / f"q{n}", n, opts["query_runs"], _log, opts["shape"])
        if "viewers" in sections:
            n = opts["viewer_rows"]
            _log(f"viewers: {opts['viewers']} dashboards loading at once through the store, "
                 f"over {n:,} activity rows")
            results["viewers"] = await asyncio.to_thread(
                viewers.run, root / "viewers", n, opts["viewers"], opts["viewer_rounds"], _log,
                opts["shape"])
        if not (needs_stream or "edge" in sections):
            return results
        service, bootstrap = (None, opts["bootstrap"]) if opts["bootstrap"] else broker(root)
        results["broker"] = opts["bootstrap"] or "noida-db, started by the bench"
        Scenario.broker_pid = service.proc.pid if service else 0
        try:
            if "baselines" in sections:
                b: dict[str, Any] = {}
                sc = Scenario(root, bootstrap, opts["partitions"])
                from touchline.stack.topics_admin import ensure_topics

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
            for framing in opts["framings"] if needs_stream else ():
                msgs, warm_msgs, per_msg = framed[framing]
                n = len(msgs) * per_msg
                if "handtuned" in sections:
                    _log(f"hand-tuned pipeline, {framing}: {n:,} events")
                    results.setdefault("handtuned", []).append(dict(
                        await handtuned.measure(root, bootstrap, msgs, warm_msgs, per_msg,
                                                parts), framing=framing))
                    _log(f"  {results['handtuned'][-1]['events_per_s']:,} events/s")
                for name in opts["peers"] if "peers" in sections else ():
                    some = msgs[:max(1, (opts["peer_events"] or n) // per_msg)]
                    _log(f"{PEERS[name].label}, {framing}: {len(some) * per_msg:,} events")
                    # its topics (a Faust Table's changelog holds every key) would cost the
                    # broker's saves during the runs after it
                    with own_broker(root, f"broker-{name}-{framing}", service,
                                    bootstrap) as address:
                        results.setdefault("peers", []).append(dict(
                            await peers.measure(name, root, address, some, warm_msgs, per_msg,
                                                parts), framing=framing))
                    _log(f"  {results['peers'][-1]['events_per_s']:,} events/s")
                if "e2e" in sections:
                    for workers in opts["workers"] if framing == "batch" else [1]:
                        _log(f"e2e {framing}: {workers} worker(s), {n:,} events")
                        results.setdefault("e2e", []).append(dict(
                            await runs.end_to_end(root, bootstrap, msgs, warm_msgs, per_msg,
                                                  workers, parts), framing=framing))
                        _log(f"  {results['e2e'][-1]['events_per_s']:,} events/s")
            if "edge" in sections:
                _log(f"edge: {opts['edge_connections']} connections for "
                     f"{opts['edge_seconds']:.0f}s into one `touchline serve`")
                results["edge"] = await edge.measure(root, bootstrap, opts["edge_connections"],
                                                     opts["edge_seconds"], parts)
                _log(f"  {results['edge']['requests_per_s']:,} requests/s")
            if not needs_stream:
                return results
            batch_runs = [e for e in results.get("e2e", []) if e["framing"] == "batch"]
            max_rate = (batch_runs[0]["events_per_s"] if batch_runs
                        else opts["max_rate"] or 20_000.0)
            if "freshness" in sections:
                rate = max_rate / 2
                n = max(1, int(rate * opts["freshness_seconds"] / per))
                # a long run or a fast pipeline: the messages again, each round with new ids
                # (generating 3.8M more simulator events took over 7 minutes)
                msgs = list(itertools.islice(runs.recycled(messages, BATCH_IDS), n))
                _log(f"freshness: {rate:,.0f} events/s for {opts['freshness_seconds']:.0f}s")
                with own_broker(root, "broker-freshness", service, bootstrap) as address:
                    results["freshness"] = await runs.freshness(
                        root, address, msgs, warm, per, rate, opts["partitions"])
            if "soak" in sections:
                rate = opts["soak_rate"] or min(max_rate / 2, 20_000.0)
                _log(f"soak: {rate:,.0f} events/s for {opts['soak_seconds']:.0f}s")
                results["soak"] = await runs.soak(
                    root, bootstrap, messages, warm, per, rate, opts["soak_seconds"],
                    BATCH_IDS, opts["partitions"], opts["soak_lateness"])
        finally:
            if service:
                service.stop()
    return results
