"""`touchline org validate|load|list`: the org as data with effective dates (docs/org.md).

touchline/cli/main.py mounts the group. A command finds its ClickHouse sink in `ctx.obj["sink"]`
when a caller (a test) put one there, otherwise it opens one from the settings (through the
running store when one owns the embedded engine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import click

from touchline.errors import friendly
from touchline.org.loader import OrgError, org_summary, read_org
from touchline.schemas.org import Org
from touchline.sinks.clickhouse import ClickHouseSink

IN_FORCE = """
SELECT rep_id, name, role, team_id, manager_rep_id, active_from
FROM {db}.rep_periods
WHERE tenant = {tenant:String} AND active_from <= {now:DateTime64(3, 'UTC')}
  AND active_to > {now:DateTime64(3, 'UTC')}
ORDER BY team_id, role, rep_id
"""
COUNTS = """
SELECT (SELECT count() FROM {db}.teams WHERE tenant = {tenant:String}) AS teams,
       (SELECT uniqExact(rep_id) FROM {db}.rep_periods WHERE tenant = {tenant:String}) AS reps,
       (SELECT count() FROM {db}.rep_periods WHERE tenant = {tenant:String}) AS periods,
       (SELECT count() FROM {db}.accounts FINAL WHERE tenant = {tenant:String}) AS accounts
"""


@contextmanager
def _sink(ctx: click.Context, reading: bool = False) -> Iterator[ClickHouseSink]:
    """The caller's sink, or one opened (and closed) for this command.

    A command that only reads creates nothing: with no data yet it says what to run.
    """
    given = ctx.obj.get("sink") if isinstance(ctx.obj, dict) else None
    if given is not None:
        yield given
        return
    from touchline.settings import get_settings
    from touchline.sinks.connect import open_reader, open_sink

    sink = (open_reader if reading else open_sink)(get_settings())
    try:
        yield sink
    finally:
        sink.close()


def _read(files: tuple[str, ...], tenant: str | None) -> Org:
    try:
        return read_org(list(files), tenant)
    except OrgError as exc:
        click.echo(exc.explain(), err=True)
        raise SystemExit(1) from None


def _tenant(ctx: click.Context, org: Org | None, tenant: str | None) -> str:
    """--tenant, else the file's tenant, else the caller's, else the settings' tenant."""
    if tenant:
        return tenant
    if org is not None and org.tenant:
        return org.tenant
    given = ctx.obj.get("tenant") if isinstance(ctx.obj, dict) else None
    if given:
        return given
    from touchline.settings import get_settings

    return get_settings().tenant


@click.group("org")
def org() -> None:
    """Load your org: teams, reps (with effective dates), accounts (docs/org.md)."""


@org.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def org_validate(files: tuple[str, ...]) -> None:
    """Check an org file (YAML, or CSV files); lists every problem with its field."""
    data = _read(files, None)
    click.echo(f"ok: {org_summary(data)}")


@org.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--tenant", help="Load for this tenant (default: the file's, else the settings').")
@click.pass_context
@friendly
def org_load(ctx: click.Context, files: tuple[str, ...], tenant: str | None) -> None:
    """Validate an org file and load it: each section in the file replaces the stored one.

    A file with any problem changes nothing.
    """
    from touchline.org.tables import load_org

    data = _read(files, None)
    tenant = _tenant(ctx, data, tenant)
    with _sink(ctx) as sink:
        sink.ensure_schema()
        result = load_org(sink, data, tenant)
    click.echo(f"loaded for tenant {tenant}: {org_summary(data)}")
    click.echo(result.render())


@org.command("list")
@click.option("--tenant", help="Tenant (default: the settings' tenant).")
@click.pass_context
@friendly
def org_list(ctx: click.Context, tenant: str | None) -> None:
    """Teams, reps and accounts loaded, and who is in force now (team, role, manager)."""
    tenant = _tenant(ctx, None, tenant)
    now = dt.datetime.now(dt.UTC)
    with _sink(ctx, reading=True) as sink:
        db = sink.database
        counts = sink.query(COUNTS.replace("{db}", db), {"tenant": tenant}).dicts()[0]
        rows = sink.query(IN_FORCE.replace("{db}", db), {"tenant": tenant, "now": now}).rows
    click.echo(f"tenant {tenant}: {counts['teams']} teams, {counts['reps']} reps "
               f"({counts['periods']} periods), {counts['accounts']} accounts")
    if not rows:
        click.echo("no rep is in force now (load an org: touchline org load org.yaml)")
        return
    click.echo(f"in force now ({now:%Y-%m-%d %H:%M}Z): {len(rows)} reps")
    header = ("team", "role", "rep", "name", "manager", "since")
    table = [header] + [(team, role, rep, name, manager or "-",
                         "always" if since.year == 1970 else f"{since:%Y-%m-%d}")
                        for rep, name, role, team, manager, since in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for r in table:
        click.echo("  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)
                                    ).rstrip())
