"""CLI groups of the Define / Inspect / Coach / Improve loop: `plan`, `signals`, `report`.

touchline/cli/main.py mounts them. A command finds its ClickHouse sink in `ctx.obj["sink"]` when a
caller (a test, the demo) put one there, otherwise it opens one from the settings.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from touchline.plan.loader import PlanError, load_plans, plan_summary, read_plans
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import NoDataYet, SinkUnavailable, SqlError


@contextmanager
def _sink(ctx: click.Context, read_only: bool = False) -> Iterator[ClickHouseSink]:
    """The caller's sink, or one opened (and closed) for this command.

    `read_only`: the command only reads, so an empty data directory is one line saying what
    to run (touchline.sinks.connect.open_reader), not a new empty database.
    """
    given = (ctx.obj or {}).get("sink") if isinstance(ctx.obj, dict) else None
    if given is not None:
        yield given
        return
    from touchline.settings import get_settings
    from touchline.sinks.connect import open_reader, open_sink

    try:
        sink = (open_reader if read_only else open_sink)(get_settings())
    except NoDataYet as exc:
        raise click.ClickException(str(exc)) from None
    except (SinkUnavailable, SqlError) as exc:
        raise click.ClickException(f"ClickHouse is not available: {exc}") from None
    try:
        yield sink
    finally:
        sink.close()


def _tenant(ctx: click.Context, tenant: str | None) -> str:
    if tenant:
        return tenant
    given = (ctx.obj or {}).get("tenant") if isinstance(ctx.obj, dict) else None
    if given:
        return given
    from touchline.settings import get_settings

    return get_settings().tenant


def _db_errors(func: Any) -> Any:
    """Turn engine errors into a one-line CLI error (no traceback)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SinkUnavailable, SqlError) as exc:
            raise click.ClickException(f"ClickHouse: {exc}") from None

    return wrapper


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"])

# --- plan --------------------------------------------------------------------------------------


@click.group("plan")
def plan() -> None:
    """Define: validate and load the sales plan (stages, SLAs, cadences, targets)."""


@plan.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def plan_validate(file: str) -> None:
    """Check a plan file; lists every problem with the field it concerns."""
    try:
        plans = read_plans(file)
    except PlanError as exc:
        click.echo(exc.explain(), err=True)
        raise SystemExit(1) from None
    for p in plans:
        click.echo(f"ok: {plan_summary(p)}")


@plan.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--tenant", help="Load for this tenant instead of the one in the file.")
@click.pass_context
@_db_errors
def plan_load(ctx: click.Context, file: str, tenant: str | None) -> None:
    """Validate a plan file and load it into ClickHouse (idempotent)."""
    try:
        plans = read_plans(file)
    except PlanError as exc:
        click.echo(exc.explain(), err=True)
        raise SystemExit(1) from None
    with _sink(ctx) as sink:
        sink.ensure_schema()
        counts = load_plans(sink, plans, tenant)
    for p in plans:
        click.echo(f"loaded: {plan_summary(p)}" + (f" (as tenant {tenant})" if tenant else ""))
    click.echo("rows: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


# --- signals -----------------------------------------------------------------------------------


@click.group("signals")
def signals() -> None:
    """Coach: the coaching signals (who, which activity to change, and the evidence)."""


@signals.command("list")
@click.option("--tenant", help="Tenant (default: the settings' tenant).")
@click.option("--all", "show_all", is_flag=True, help="Include resolved signals.")
@click.option("--kind", multiple=True, help="Only these kinds (repeatable).")
@click.option("--team", help="Only this team.")
@click.option("--rep", help="Only this rep.")
@click.option("--limit", type=click.IntRange(min=0), default=3, show_default=True,
              help="Messages shown per rep (0: all); the counts always cover every signal.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
@_db_errors
def signals_list(ctx: click.Context, tenant: str | None, show_all: bool, kind: tuple[str, ...],
                 team: str | None, rep: str | None, limit: int, as_json: bool) -> None:
    """List the firing signals by team and rep, with counts per kind (newest first)."""
    from touchline.plan.signal_list import format_grouped

    tenant = _tenant(ctx, tenant)
    where = ["tenant = {tenant:String}"]
    params: dict[str, Any] = {"tenant": tenant}
    if not show_all:
        where.append("status = 'firing'")
    if kind:
        where.append("kind IN {kinds:Array(String)}")
        params["kinds"] = list(kind)
    if team:
        where.append("team_id = {team:String}")
        params["team"] = team
    if rep:
        where.append("rep_id = {rep:String}")
        params["rep"] = rep
    with _sink(ctx, read_only=True) as sink:
        rows = sink.query(
            f"SELECT signal_id, kind, status, rep_id, team_id, activity, message, evidence, "
            f"fired_at, resolved_at FROM {sink.table('signals')} FINAL "
            f"WHERE {' AND '.join(where)} ORDER BY team_id, rep_id, fired_at DESC, signal_id",
            params,
        ).dicts()
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, default=str, sort_keys=True))
        return
    if not rows:
        click.echo(f"no {'' if show_all else 'firing '}signals for tenant {tenant}")
        return
    click.echo(format_grouped(rows, limit))


@signals.command("evaluate")
@click.option("--dry-run", is_flag=True, help="Print what fires; write nothing.")
@click.pass_context
@_db_errors
def signals_evaluate(ctx: click.Context, dry_run: bool) -> None:
    """Evaluate every signal now and write the changes (the worker does this on a timer)."""
    from touchline.plan.signals import evaluate, planned_tenants, reconcile

    now = dt.datetime.now(dt.UTC)
    with _sink(ctx) as sink:
        tenants = planned_tenants(sink, now)
        if not tenants:
            raise click.ClickException("no plan is loaded: run `touchline plan load FILE` first")
        found = evaluate(sink, now)
        if dry_run:
            for s in found:
                click.echo(f"[{s.kind}] {s.message}")
            click.echo(f"{len(found)} firing (dry run, nothing written)")
            return
        result = reconcile(sink, found, now, tenants)
    click.echo(f"{len(found)} firing: {result}")


# --- report ------------------------------------------------------------------------------------


@click.group("report")
def report() -> None:
    """Improve: which touch pattern works, and where reps, teams and product lines vary."""


@report.command("cadences")
@click.option("--tenant", help="Tenant (default: the settings' tenant).")
@click.option("--since", type=_DATE, help="Cadences started from (UTC; default 90 days ago).")
@click.option("--until", type=_DATE, help="... until (UTC, exclusive; default now).")
@click.option("--cadence", "cadences", multiple=True,
              help="Only these cadences; give two to compare them.")
@click.option("--by", type=click.Choice(["step", "touches", "both"]), default="both",
              show_default=True, help="Rows per cadence step, per touch count, or both.")
@click.option("--vs-since", type=_DATE, help="Compare with a second period starting here.")
@click.option("--vs-until", type=_DATE, help="... ending here (default: --since).")
@click.pass_context
@_db_errors
def report_cadences(ctx: click.Context, tenant: str | None, since: dt.datetime | None,
                    until: dt.datetime | None, cadences: tuple[str, ...], by: str,
                    vs_since: dt.datetime | None, vs_until: dt.datetime | None) -> None:
    """Conversion to reply, meeting, opportunity and won per cadence, step and touch count.

    Each rate is hits/prospects with a 95% Wilson interval. `--cadence A --cadence B`
    compares two cadences; `--vs-since/--vs-until` compares the period with another one.
    """
    from touchline.plan import attribution as at
    from touchline.plan import report as rp

    tenant = _tenant(ctx, tenant)
    now = dt.datetime.now(dt.UTC)
    until_ = _utc(until) or now
    since_ = _utc(since) or until_ - dt.timedelta(days=90)
    if since_ >= until_:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    with _sink(ctx, read_only=True) as sink:
        data = rp.prospect_outcomes(sink, tenant, since_, until_, cadences=cadences)
        exits = at.exit_reasons(sink, tenant, since_, until_, cadences)
        other = None
        if vs_since is not None:
            vs_since_ = _utc(vs_since)
            vs_until_ = _utc(vs_until) or since_
            if vs_since_ >= vs_until_:
                raise click.BadParameter("--vs-since must be before --vs-until",
                                         param_hint="--vs-since")
            other = (vs_since_, vs_until_,
                     rp.prospect_outcomes(sink, tenant, vs_since_, vs_until_, cadences=cadences))
    period = f"{since_:%Y-%m-%d %H:%M} .. {until_:%Y-%m-%d %H:%M} UTC"
    click.echo(f"Cadence conversion, tenant {tenant}, cadences started {period}")
    click.echo("(rate = hits/prospects, [95% Wilson interval])\n")
    if by in ("step", "both"):
        click.echo(rp.format_table("By step (converted after getting the step):",
                                   ("cadence", "step"), rp.by_step(data)))
        click.echo()
        click.echo(at.format_credits(at.by_credited_step(data)))
        click.echo()
    if by in ("touches", "both"):
        click.echo(rp.format_table("By touches received:", ("cadence", "touches"),
                                   rp.by_touches(data)))
        click.echo()
    totals = rp.totals(data)
    click.echo(rp.format_table("Per cadence:", ("cadence",), totals))
    click.echo()
    click.echo(at.format_exits(exits))
    if len(cadences) == 2 and all(c in totals for c in cadences):
        a, b = cadences
        click.echo(f"\nCompare {a} vs {b}:")
        click.echo("\n".join(rp.compare(a, totals[a], b, totals[b])))
    if other is not None:
        vs_since_, vs_until_, vs_data = other
        vs_totals = rp.totals(vs_data)
        click.echo(f"\nCompare with cadences started {vs_since_:%Y-%m-%d %H:%M} .. "
                   f"{vs_until_:%Y-%m-%d %H:%M} UTC:")
        for cadence in sorted(set(totals) | set(vs_totals)):
            click.echo(f" {cadence}:")
            click.echo("\n".join(rp.compare("this", totals.get(cadence, rp.Row()),
                                            "other", vs_totals.get(cadence, rp.Row()))))


@report.command("variation")
@click.option("--tenant", help="Tenant (default: the settings' tenant).")
@click.option("--by", type=click.Choice(["rep", "team", "product_line", "segment"]),
              default="rep", show_default=True, help="One row per rep, team, product line or "
              "account segment.")
@click.option("--motion", type=click.Choice(["acquisition", "retention", "upsell",
                                             "unspecified"]),
              help="Only this sales motion (default: a section per motion).")
@click.option("--product-line", default="", help="Only this product line (default: all).")
@click.option("--team", default="", help="Only this team.")
@click.option("--activity", type=click.Choice(["meetings_held", "connected_calls", "replies",
                                               "won"]),
              default="meetings_held", show_default=True,
              help="meetings held per touch, connected calls per call attempt, email replies "
              "per email sent, or won per closed deal.")
@click.option("--weeks", type=click.IntRange(1, 156), default=4, show_default=True,
              help="The last N ISO weeks, this one included.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.pass_context
@_db_errors
def report_variation(ctx: click.Context, tenant: str | None, by: str, motion: str | None,
                     product_line: str, team: str, activity: str, weeks: int, fmt: str) -> None:
    """Spread of an activity rate between reps, teams, product lines or segments, per motion.

    Each rate is hits per 100 with a 95% Wilson interval, next to the same rate for the group's
    peers (a rep's teammates of the same role; otherwise all other groups). `below`/`above`
    marks a group whose interval does not overlap its peers'.
    """
    from touchline.plan import variation as va

    tenant = _tenant(ctx, tenant)
    since = va.first_week(weeks, dt.datetime.now(dt.UTC))
    with _sink(ctx, read_only=True) as sink:
        rows = va.counts(sink, tenant, since, motion or "", product_line, team)
        roles = va.rep_roles(sink, tenant) if by == "rep" else {}
    groups = va.spread(rows, by, activity, roles)
    if fmt == "json":
        click.echo(json.dumps({
            "tenant": tenant, "since": since.isoformat(), "weeks": weeks, "by": by,
            "activity": activity, "rate": va.ACTIVITIES[activity].label,
            "motion": motion, "product_line": product_line or None, "team": team or None,
            "groups": [g.as_dict() for g in groups]}, sort_keys=True, indent=2))
        return
    scope = ", ".join(f"{k} {v}" for k, v in (("product line", product_line), ("team", team))
                      if v)
    click.echo(f"Variation by {by.replace('_', ' ')}: {va.ACTIVITIES[activity].label}, "
               f"tenant {tenant}, weeks from {since:%Y-%m-%d} ({weeks})"
               + (f", {scope}" if scope else ""))
    click.echo("(per 100 [95% Wilson interval]; below/above: the interval does not overlap "
               "the peers')")
    click.echo(va.format_table(groups, by, activity))
