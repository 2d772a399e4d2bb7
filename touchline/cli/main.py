"""`touchline`: the command line. Every failure prints one line saying what and how to fix."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from touchline.errors import friendly, settings_or_exit

if TYPE_CHECKING:
    from touchline.sinks.clickhouse import ClickHouseSink


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="touchline")
def main() -> None:
    """touchline: live sales-activity pipeline (Kafka -> Faust -> ClickHouse -> Grafana).

    Start here: `touchline demo` runs everything locally with simulated events;
    `touchline query "SELECT ..."` answers SQL on the same data.
    """


#: a share of the simulated events, 0 to 1
SHARE = click.FloatRange(0, 1)


def _sim_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--seed", type=int, default=None,
                     help="Deterministic org/events (default: a new seed per run, printed)."),
        click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=200.0,
                     show_default=True, help="Events per second."),
        click.option("--history-days", type=click.FloatRange(min=0), default=14.0,
                     show_default=True,
                     help="Days of history emitted first (fast), then live events."),
        click.option("--duplicates", type=SHARE, default=0.02, show_default=True,
                     help="Share re-sent."),
        click.option("--out-of-order", type=SHARE, default=0.05, show_default=True,
                     help="Share shifted back within the allowed lateness."),
        click.option("--late", type=SHARE, default=0.003, show_default=True,
                     help="Share older than the allowed lateness (a late CRM sync: deduplicated "
                          "against the stored rows, counted once)."),
        click.option("--malformed", type=SHARE, default=0.003, show_default=True,
                     help="Share broken."),
    ]):
        fn = opt(fn)
    return fn


def _sim_args(seed: int | None, rate: float, history_days: float, duplicates: float,
              out_of_order: float, late: float, malformed: float) -> list[str]:
    seed = _seed(seed)
    return ["--seed", str(seed), "--rate", str(rate), "--history-days", str(history_days),
            "--duplicates", str(duplicates), "--out-of-order", str(out_of_order),
            "--late", str(late), "--malformed", str(malformed)]


def _seed(seed: int | None) -> int:
    if seed is None:
        import time

        seed = int(time.time()) % 1_000_000
        click.echo(f"touchline: simulator seed {seed} (pass --seed {seed} to repeat this run)")
    return seed


@main.command()
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option("--no-simulator", is_flag=True, help="Only the stack: feed it your own events.")
@click.option("--no-panel", is_flag=True, help="Do not serve the local control panel.")
@click.option("--duration", type=float, default=None, help="Stop after N seconds.")
@_sim_options
@friendly
def demo(workers: int, no_simulator: bool, no_panel: bool, duration: float | None,
         **sim: Any) -> None:
    """Run the whole loop locally: broker, workers, ClickHouse, simulator, panel."""
    from touchline.stack.embedded import run

    settings = settings_or_exit()
    run(settings, workers, None if no_simulator else _sim_args(**sim), not no_panel, duration)


@main.command()
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option("--duration", type=float, default=None, help="Stop after N seconds.")
@friendly
def up(workers: int, duration: float | None) -> None:
    """Run the stack without the simulator (feed it with `touchline ingest` or producers)."""
    from touchline.stack.embedded import run

    run(settings_or_exit(), workers, None, True, duration)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run one Faust worker (extra arguments go to faust's own `worker` command)."""
    settings = settings_or_exit()
    from touchline.stack.allocator import fix_mmap_threshold

    fix_mmap_threshold(settings.pipeline.mmap_threshold_bytes)
    from touchline.streams.library_patch import PatchedVersionMismatch, check_all

    try:
        check_all()
    except PatchedVersionMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    from touchline.streams.app import app

    sys.argv = ["touchline", "worker", "--without-web", "-l", settings.log_level, *ctx.args]
    app.main()


@main.command()
@click.option("--allow-fault-injection", is_flag=True, hidden=True)
@friendly
def store(allow_fault_injection: bool) -> None:
    """Own the embedded ClickHouse directory and serve it to the other processes."""
    from touchline.sinks.store_server import run_store

    run_store(settings_or_exit(), allow_fault_injection)


@main.command()
@click.argument("sql")
@click.option("--format", "-f", "fmt", default="table", show_default=True, metavar="FORMAT",
              help="table, json (JSONEachRow), csv (CSVWithNames) or any ClickHouse output "
                   "format (Pretty, TSVWithNames, Parquet, ...). A FORMAT clause in the SQL wins.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Server-side parameter for {NAME:Type} placeholders.")
@friendly
def query(sql: str, fmt: str, params: tuple[str, ...]) -> None:
    """Run read-only SQL on the pipeline's ClickHouse data, as clickhouse-client would.

    Table names without a database resolve in `touchline`. Through the running stack's store,
    or the data directory itself when no stack runs, or TOUCHLINE_CLICKHOUSE__DSN's server.

    \b
    touchline query "SELECT type, count() FROM activities GROUP BY type"
    touchline query "SELECT * FROM activities LIMIT 5 FORMAT JSONEachRow"
    touchline query "SELECT * FROM activities WHERE rep_id = {rep:String}" --param rep=r-1 -f csv
    """  # noqa: D301 (\b: click keeps the examples' lines as they are)
    from touchline.cli.query_output import render_table, wire_format
    from touchline.sinks.connect import open_reader

    parameters = {}
    for item in params:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        name, value = item.split("=", 1)
        parameters[name] = value
    ask_for, as_table = wire_format(sql, fmt)
    sink = open_reader(settings_or_exit())
    try:
        data = sink.query_raw(sql, parameters or None, ask_for)
    finally:
        sink.close()
    if as_table:
        click.echo(render_table(data))
    else:
        out = click.get_binary_stream("stdout")
        out.write(data)
        out.flush()


@main.group()
def sink() -> None:
    """ClickHouse schema management."""


@sink.command("init")
@click.option("--users", is_flag=True,
              help="Also create/refresh the writer, read-only and per-tenant reader users, "
                   "roles and row policies (ClickHouse server DSNs only; see sinks/SECURITY.md).")
@click.option("--reapply-changed", is_flag=True,
              help="Apply again each applied migration whose statements changed since, and "
                   "every later one (views take the current text; existing tables are kept).")
@friendly
def sink_init(users: bool, reapply_changed: bool) -> None:
    """Apply pending migrations (idempotent: a second run changes nothing)."""
    from touchline.sinks.connect import open_sink
    from touchline.sinks.security import SecurityConfigError, apply_access, is_server_dsn

    settings = settings_or_exit()
    s = open_sink(settings)
    try:
        _refuse_fills_while_writing(s, reapply_changed)
        applied = s.ensure_schema(reapply_changed)
        click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
        if not users:
            return
        if not is_server_dsn(settings.clickhouse_dsn()):
            click.echo("users: skipped: users, roles and row policies apply to a ClickHouse "
                       "server only (TOUCHLINE_CLICKHOUSE__DSN=http://...); the embedded engine "
                       "has no access control")
            return
        try:
            created = apply_access(s, settings.security, settings.clickhouse.database)
        except SecurityConfigError as exc:
            raise click.ClickException(f"cannot set up users: {exc}") from exc
        click.echo(f"users: {', '.join(created)}")
    finally:
        s.close()


def _refuse_fills_while_writing(sink: ClickHouseSink, reapply_changed: bool = False) -> None:
    """A migration that fills a table from the stored rows runs only with the writers stopped."""
    from touchline.sinks.migrations import WRITING_WITHIN_S, pending_fills, writers_within

    fills = pending_fills(sink.backend, sink.database, reapply_changed)
    writers = writers_within(sink.backend, sink.database) if fills else []
    if writers:
        raise click.ClickException(
            f"migration {fills[0]} fills a new table from the rows already stored, and "
            f"{len(writers)} worker(s) ({', '.join(writers)}) wrote in the last "
            f"{WRITING_WITHIN_S} s: rows written during the fill would count twice or not at "
            "all. Stop the workers (compose: `docker compose stop worker-1 worker-2`), wait "
            f"{WRITING_WITHIN_S} s, then run `touchline sink init` again")


@main.command("topics")
@friendly
def topics() -> None:
    """Create the pipeline's topics on the configured broker (idempotent)."""
    from touchline.stack.topics_admin import ensure_topics

    created = ensure_topics(settings_or_exit())
    click.echo(f"created: {', '.join(created)}" if created else "all topics exist")


@main.command("schema")
@click.option("--check", is_flag=True, help="Fail if the committed file is out of date.")
def schema_cmd(check: bool) -> None:
    """Write schemas/activity.schema.json (the canonical event's JSON Schema)."""
    from touchline.schemas.export import SCHEMA_FILE, render, write

    if check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text() != render():
            raise click.ClickException(f"{SCHEMA_FILE} is out of date: run `touchline schema`")
        click.echo("schema file is up to date")
        return
    click.echo(f"wrote {write()}")


@main.command()
@_sim_options
@click.option("--duration", type=float, default=None, help="Seconds of live events (default: "
              "forever, or --count).")
@click.option("--count", type=int, default=None, help="Stop after this many events.")
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write events to this JSONL file instead of producing to Kafka.")
@click.option("--start", type=click.DateTime(), default=None,
              help="Simulated 'now' (UTC) for reproducible files; default: the clock.")
@click.option("--tenant", default=None, help="Tenant id (default: settings.tenant).")
@click.option("--org-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the simulated org (teams, reps, accounts) as an org file for "
                   "`touchline org load`; on its own, only the file is written.")
@friendly
def simulate(duration: float | None, count: int | None, jsonl: Path | None,
             start: datetime | None, tenant: str | None, org_file: Path | None,
             **sim: Any) -> None:
    """Produce a realistic sales org's events (or write them as JSONL).

    With --jsonl and neither --count nor --duration, the file holds the --history-days of
    history only (a backfill demo: --history-days 365).
    """
    from touchline.load.simulation_run import run_simulation, write_org_file

    if jsonl is not None and count is None and duration is None and sim["history_days"] <= 0:
        raise click.UsageError("--jsonl needs --count, --duration or --history-days (a file of "
                               "history alone: --history-days 365)")
    settings = settings_or_exit()
    sim["seed"] = _seed(sim["seed"])
    start_utc = start.replace(tzinfo=UTC) if start else None
    tenant = tenant or settings.tenant
    if org_file is not None:
        write_org_file(org_file, seed=sim["seed"], tenant=tenant, start=start_utc,
                       history_days=sim["history_days"])
        click.echo(f"wrote the org of tenant {tenant} to {org_file} "
                   f"(load it: touchline org load {org_file})")
        if jsonl is None and count is None and duration is None:
            return
    n = run_simulation(settings, duration=duration, count=count, jsonl=jsonl, start=start_utc,
                       tenant=tenant, **sim)
    click.echo(f"simulated {n} events" + (f" into {jsonl}" if jsonl else ""))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Return when every line is accounted for.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds --wait may take.")
@click.option("--batch", default=1000, show_default=True, help="Lines per Kafka message.")
@friendly
def ingest(file: Path, wait: bool, timeout: float, batch: int) -> None:
    """Send a JSONL file of canonical events into the pipeline (replay, backfill)."""
    from touchline.load.ingest_file import ingest_file

    report = ingest_file(settings_or_exit(), file, wait=wait, timeout=timeout, batch=batch)
    click.echo(report.render())
    if wait and not report.complete:
        sys.exit(2)


def _mount_optional() -> None:
    """Command groups that live with their feature (dashboards, webhooks, plans)."""
    import importlib

    for module, names in (
        ("touchline.dashboards.cli", ("dashboards", "alerts")),
        ("touchline.webhooks.cli", ("serve",)),
        ("touchline.plan.cli", ("plan", "report", "signals")),
        ("touchline.coaching.cli", ("notifier", "digest")),
        ("touchline.org.cli", ("org",)),
        ("touchline.cli.stages", ("stages",)),
        ("touchline.bench.cli", ("bench",)),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
            continue
        for name in names:
            command = getattr(mod, name, None)
            if isinstance(command, click.Command):
                main.add_command(command, name)


_mount_optional()

if __name__ == "__main__":
    main()
