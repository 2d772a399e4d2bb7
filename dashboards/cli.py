"""Command groups `touchline dashboards ...` and `touchline alerts ...`.

Mounted by touchline/cli/main.py. Every command that needs ClickHouse opens it through
`touchline.sinks.connect.open_sink` (the running store, or the engine itself).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import click


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Known failures (and this group's own) become one `Error: ...` line and exit code 1."""
    from touchline.dashboards.local.macros import MacroError
    from touchline.dashboards.push import PushError
    from touchline.errors import friendly

    return friendly(fn, passthrough=(PushError, MacroError))


def _open_sink() -> Any:
    """The sink, or one line saying what to run when there is no data yet (creates nothing)."""
    from touchline.settings import get_settings
    from touchline.sinks.connect import open_reader

    return open_reader(get_settings())


@click.group("dashboards")
def dashboards() -> None:
    """Grafana dashboards, alert rules and provisioning, generated from Python."""


@dashboards.command("build")
@click.option("--check", is_flag=True,
              help="Do not write; exit 1 if a committed file differs from a fresh build.")
@_friendly
def build_cmd(check: bool) -> None:
    """Write dashboards/generated/*.json and dashboards/provisioning/** (sorted, stable)."""
    from touchline.dashboards import build

    if check:
        stale = build.stale()
        if stale:
            raise click.ClickException(
                "out of date (run `touchline dashboards build`): " + ", ".join(stale))
        click.echo("generated files are up to date")
        return
    for path in build.write():
        click.echo(f"wrote {path.relative_to(build.ROOT.parent)}")


@dashboards.command("check")
@click.option("--tenant", default=None, help="Tenant for the variables (default: the first).")
@_friendly
def check_cmd(tenant: str | None) -> None:
    """Run every panel query against ClickHouse now and report rows or errors."""
    from touchline.dashboards.local.catalog import dashboards as all_dashboards
    from touchline.dashboards.local.sqlcheck import expanded
    from touchline.dashboards.local.view import default_variables

    sink = _open_sink()
    failed = 0
    try:
        for board in all_dashboards():
            variables = default_variables(sink, board, {"tenant": tenant} if tenant else {})
            for panel in board.panels:
                try:
                    rows = len(sink.query(expanded(panel, variables)).rows)
                    click.echo(f"ok     {board.uid} / {panel.title}: {rows} rows")
                except Exception as exc:  # report every panel, then fail
                    failed += 1
                    click.echo(f"ERROR  {board.uid} / {panel.title}: {exc}")
    finally:
        sink.close()
    if failed:
        raise click.ClickException(f"{failed} panel queries failed")


@dashboards.command("push")
@click.option("--url", envvar="TOUCHLINE_GRAFANA_URL", required=True,
              help="Grafana base URL (env TOUCHLINE_GRAFANA_URL).")
@click.option("--token", envvar="TOUCHLINE_GRAFANA_TOKEN", default="",
              help="Service account token (env TOUCHLINE_GRAFANA_TOKEN).")
@click.option("--clickhouse-host", default="clickhouse", show_default=True,
              help="ClickHouse host as Grafana reaches it.")
@click.option("--clickhouse-port", default=9000, show_default=True, type=int,
              help="ClickHouse native port as Grafana reaches it.")
@click.option("--dry-run", is_flag=True, help="Print the requests as JSON; send nothing.")
@click.option("--force", is_flag=True,
              help="Write every object even when Grafana's copy matches (e.g. after changing "
                   "the datasource password, which Grafana never shows back).")
@_friendly
def push_cmd(url: str, token: str, clickhouse_host: str, clickhouse_port: int,
             dry_run: bool, force: bool) -> None:
    """Push datasource, folder, dashboards, alert rules, contact points, policies to Grafana.

    Idempotent: an object Grafana already holds as pushed is left alone, so a second run
    changes nothing. The datasource credentials and contact point addresses come from the
    environment (TOUCHLINE_GRAFANA_CH_USER, TOUCHLINE_GRAFANA_CH_PASSWORD,
    TOUCHLINE_ALERTS_*_EMAIL); docs/operations.md.
    """
    from touchline.dashboards import push

    steps = push.plan(os.environ, clickhouse_host, clickhouse_port)
    if dry_run:
        click.echo(json.dumps([asdict(s) for s in steps], indent=2, sort_keys=True))
        return
    if not token:
        raise click.ClickException("set TOUCHLINE_GRAFANA_TOKEN (a Grafana service account "
                                   "token with Editor + alerting provisioning rights)")
    done = push.push(push.connect(url, token), steps, click.echo, force=force)
    click.echo(f"{url}: " + ", ".join(f"{n} {what}" for what, n in done.items()))


@click.group("alerts")
def alerts() -> None:
    """Alert rules on leading indicators."""


@alerts.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--fail-on-firing", is_flag=True, help="Exit 1 when any alert would fire.")
@_friendly
def alerts_check(as_json: bool, fail_on_firing: bool) -> None:
    """Evaluate every alert rule against ClickHouse now: what fires, for whom, and why."""
    from touchline.dashboards.local.alerts_check import check, format_results

    sink = _open_sink()
    try:
        results = check(sink)
    finally:
        sink.close()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2, default=str))
    else:
        click.echo(format_results(results))
    errors = [r for r in results if r.error]
    if errors:
        raise click.ClickException(f"{len(errors)} rule(s) could not be evaluated")
    if fail_on_firing and any(r.firing for r in results):
        raise SystemExit(1)
