"""`touchline up` / `touchline demo`: the whole loop on one machine, with live progress.

Broker (noida-db) -> workers (Faust) -> store (embedded ClickHouse), plus the simulator and the
local control panel for the demo. Ctrl-C stops the simulator first, lets the workers drain
what was produced (lag 0), then stops workers (they commit), store and broker: nothing is lost,
and the next `touchline up` continues from the same data directory.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import click

from touchline.settings import Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.pipeline_watch import LagReading, LagWatch
from touchline.stack.services import (
    Service,
    Stack,
    child_env,
    spawn,
    start_broker,
    start_store,
    start_worker,
)
from touchline.stack.topics_admin import ensure_topics

PROGRESS_SQL = """
SELECT
    (SELECT count() FROM {db}.activities) AS rows_written,
    (SELECT count() FROM {db}.dlq_events) AS rejected,
    (SELECT sum(events_in) FROM {db}.pipeline_metrics
     WHERE topic IN ({raw:String}, {backfill:String})) AS events_in,
    (SELECT sum(duplicates) FROM {db}.pipeline_metrics WHERE topic = {act:String}) AS duplicates
"""


@dataclass
class Progress:
    """One reading of the pipeline's counters (ClickHouse) and its lag (the broker)."""

    events_in: int = 0
    rows_written: int = 0
    rejected: int = 0
    duplicates: int = 0
    lag: LagReading = field(default_factory=lambda: LagReading(None))


def read_progress(sink: ClickHouseSink, settings: Settings, lag: LagReading) -> Progress:
    """Counters from ClickHouse (through the store), with the broker's lag reading."""
    sql = PROGRESS_SQL.replace("{db}", sink.database)
    row = sink.query(sql, {"raw": settings.kafka.raw_topic,
                           "backfill": settings.kafka.backfill_topic,
                           "act": settings.kafka.activities_topic}).dicts()[0]
    return Progress(**{k: int(v or 0) for k, v in row.items()}, lag=lag)


def progress_line(now: Progress, rate: float) -> str:
    """The live line: counters, then the broker's lag or the stall."""
    return (f"events in {now.events_in:>9,}  {rate:>8,.0f} ev/s  rows {now.rows_written:>9,}"
            f"  dup {now.duplicates:>7,}  rejected {now.rejected:>6,}  {now.lag.describe()}")


def start_stack(settings: Settings, workers: int, fault_injection: bool = False) -> Stack:
    """Broker (if embedded), topics, store and workers; returns the running stack."""
    stack = Stack()
    try:
        if settings.kafka.embedded:
            stack.add(start_broker(settings.data_dir / "broker", settings.kafka.embedded_port))
        ensure_topics(settings)
        if not settings.clickhouse.dsn:
            stack.add(start_store(settings, allow_fault_injection=fault_injection))
        for i in range(workers):
            stack.add(start_worker(settings, f"worker-{i + 1}"))
    except BaseException:
        stack.stop()
        raise
    return stack


def webhook_secrets(settings: Settings) -> dict[str, str]:
    """Webhook secrets for the demo's ingest server, generated when none is configured.

    They are saved (mode 600) in <data_dir>/webhook-secrets.env so vendors/curl can sign.
    """
    import secrets

    wh = settings.webhooks
    configured = {name: getattr(wh, name).get_secret_value() for name in
                  ("twilio_auth_token", "hubspot_client_secret", "outreach_secret",
                   "salesforce_relay_token")}
    if any(configured.values()) or wh.sendgrid_public_key.get_secret_value():
        return {}
    path = settings.data_dir / "webhook-secrets.env"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"TOUCHLINE_WEBHOOKS__{name.upper()}={secrets.token_urlsafe(24)}"
                 for name in configured]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def start_ingest(settings: Settings) -> Service:
    """`touchline serve` (vendor webhooks) as its own process."""
    log = settings.data_dir / "logs" / "ingest.log"
    proc = spawn("ingest", [sys.executable, "-m", "touchline", "serve"], log,
                 child_env(settings, **webhook_secrets(settings)))
    return Service("ingest", proc, log, settings.web.ingest_port,
                   restart=lambda: start_ingest(settings))


def load_plan(settings: Settings, sink: ClickHouseSink) -> str:
    """The shipped example plan, so plan-vs-actual and signals have something to judge by."""
    try:
        from touchline.plan.demo import load_example_plan
    except ImportError:
        return ""
    try:
        return load_example_plan(sink, settings.tenant)
    except Exception as exc:  # the demo still runs without a plan
        return f"not loaded ({exc})"


def start_simulator(settings: Settings, args: list[str]) -> Service:
    """The simulator as its own process (it gets its own core)."""
    log = settings.data_dir / "logs" / "simulator.log"
    proc = spawn("simulator", [sys.executable, "-m", "touchline", "simulate", *args], log,
                 child_env(settings))
    return Service("simulator", proc, log)


def start_panel(settings: Settings, sink: ClickHouseSink) -> str | None:
    """Serve the local control panel in a background thread; returns its URL."""
    try:
        from touchline.dashboards.local.view import run_local_view
    except ImportError:
        return None
    import asyncio

    def serve() -> None:
        asyncio.run(run_local_view(sink, settings.web.host, settings.web.panel_port))

    threading.Thread(target=serve, name="panel", daemon=True).start()
    return f"http://{settings.web.host}:{settings.web.panel_port}/"


def run(settings: Settings, workers: int, simulator_args: list[str] | None,
        panel: bool, duration: float | None = None) -> Progress:
    """Run until Ctrl-C (or `duration` seconds), printing progress; then drain and stop."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    started = time.monotonic()
    stack = start_stack(settings, workers)
    sink = ClickHouseSink(settings.clickhouse.dsn or settings.store_url(),
                          settings.clickhouse.database).start()
    simulator = None
    last = Progress()
    try:
        click.echo(f"touchline: broker {settings.kafka.bootstrap}, {workers} worker(s), "
                   f"ClickHouse {settings.clickhouse.dsn or settings.clickhouse_dsn()}")
        if simulator_args is not None:
            click.echo(f"touchline: plan {load_plan(settings, sink)}")
        stack.add(start_ingest(settings))
        click.echo(f"touchline: webhooks at http://{settings.web.host}:{settings.web.ingest_port}"
                   f"/webhooks/<vendor> (secrets: {settings.data_dir / 'webhook-secrets.env'} "
                   "unless configured)")
        if not settings.webhooks.public_base_url:
            click.echo("touchline: Twilio/HubSpot signatures are checked against that address "
                       "(TOUCHLINE_WEBHOOKS__PUBLIC_BASE_URL unset), never a request's Host")
        from touchline.stack.notifier import start_notifier

        notifier, about = start_notifier(settings, demo=simulator_args is not None)
        if notifier is not None:
            stack.add(notifier)
        click.echo(f"touchline: coaching notifier {about}")
        if panel and (url := start_panel(settings, sink)):
            click.echo(f"touchline: control panel at {url}")
        if simulator_args is not None:
            simulator = start_simulator(settings, simulator_args)
            click.echo("touchline: simulator started (logs in "
                       f"{settings.data_dir / 'logs'}); Ctrl-C stops everything")
        click.echo("touchline: `touchline query \"SELECT ...\"` answers SQL while this runs")
        last = _watch(settings, sink, stack, stopping, started, duration)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("\ntouchline: stopping: simulator, then draining the workers ...")
        if simulator is not None:
            simulator.stop(10)
        last = _drain(settings, sink, stack) or last
        sink.close()
        stack.stop()
        click.echo(f"touchline: stopped. events in {last.events_in}, rows {last.rows_written}, "
                   f"duplicates {last.duplicates}, rejected {last.rejected}, "
                   f"{last.lag.describe()}")
    return last


def _watch(settings: Settings, sink: ClickHouseSink, stack: Stack, stopping: threading.Event,
           started: float, duration: float | None) -> Progress:
    prev, prev_t = Progress(), time.monotonic()
    tty = sys.stdout.isatty()
    last_print = 0.0
    lag_watch = LagWatch(settings)
    try:
        while not stopping.is_set():
            if duration is not None and time.monotonic() - started > duration:
                break
            time.sleep(1.0)
            restarted, fatal = stack.restart_crashed()
            if fatal:
                raise click.ClickException(
                    f"{', '.join(fatal)} stopped unexpectedly; see {settings.data_dir / 'logs'}")
            if restarted:
                click.echo(f"\ntouchline: restarted {', '.join(restarted)} (logs in "
                           f"{settings.data_dir / 'logs'})", err=True)
            lag = lag_watch.read()
            try:
                now = read_progress(sink, settings, lag)
            except Exception as exc:  # the store may be starting, or be away
                click.echo(f"touchline: ClickHouse not answering ({exc}); {lag.describe()}",
                           err=True)
                continue
            t = time.monotonic()
            rate = (now.events_in - prev.events_in) / max(t - prev_t, 1e-6)
            line = progress_line(now, rate)
            if tty:
                click.echo("\r" + line, nl=False)
            elif t - last_print >= 5 or lag.stalled:
                click.echo(line)
                last_print = t
            prev, prev_t = now, t
    finally:
        lag_watch.close()
    return prev


def _drain(settings: Settings, sink: ClickHouseSink, stack: Stack,
           timeout: float = 60.0) -> Progress | None:
    """Wait until the workers have committed everything produced (broker lag 0, twice)."""
    deadline, zero_seen, progress = time.monotonic() + timeout, 0, None
    lag_watch = LagWatch(settings)
    try:
        while time.monotonic() < deadline and any(w.alive() for w in stack.workers()):
            time.sleep(1.0)
            lag = lag_watch.read()
            try:
                progress = read_progress(sink, settings, lag)
            except Exception:
                progress = Progress(lag=lag) if progress is None else progress
                continue
            zero_seen = zero_seen + 1 if lag.waiting == 0 else 0
            if zero_seen >= 2:
                break
    finally:
        lag_watch.close()
    return progress
