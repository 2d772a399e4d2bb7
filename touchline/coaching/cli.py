"""`touchline notifier` and `touchline digest`: coaching that reaches managers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from touchline.coaching.digest import Digest
from touchline.coaching.routing import Routing, RoutingError, load_routing
from touchline.settings import Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import NoDataYet, SinkUnavailable, SqlError


def _routing(settings: Settings, given: Path | None) -> Routing:
    path = given or settings.notify.routing_path
    if path is None:
        raise click.ClickException("no routing file: pass --routing FILE or set "
                                   "TOUCHLINE_NOTIFY__ROUTING_PATH (examples/routing.yaml, "
                                   "docs/coaching.md)")
    try:
        return load_routing(Path(path))
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _sink(settings: Settings) -> Iterator[ClickHouseSink]:
    """The caller's sink (a test, the demo: `ctx.obj["sink"]`), else one through the store."""
    ctx = click.get_current_context(silent=True)
    given = ctx.obj.get("sink") if ctx is not None and isinstance(ctx.obj, dict) else None
    if given is not None:
        yield given
        return
    from touchline.sinks.connect import open_reader

    try:
        sink = open_reader(settings)  # creates nothing: with no data yet it says what to run
    except NoDataYet as exc:
        raise click.ClickException(str(exc)) from None
    except (SinkUnavailable, SqlError) as exc:
        raise click.ClickException(f"ClickHouse is not available: {exc}; start the stack "
                                   "with `touchline up`") from None
    try:
        yield sink
    finally:
        sink.close()


@click.command("notifier")
@click.option("--routing", "routing_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Routing file (default: TOUCHLINE_NOTIFY__ROUTING_PATH).")
@click.option("--once", is_flag=True, help="One pass, then exit.")
def notifier(routing_path: Path | None, once: bool) -> None:
    """Send coaching signals to managers as they fire and resolve (email, Slack, webhook)."""
    from touchline.coaching.notifier import Notifier
    from touchline.settings import get_settings

    settings = get_settings()
    routing = _routing(settings, routing_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    owner = f"{socket.gethostname()}:{os.getpid()}"
    with _sink(settings) as sink:
        run = Notifier(sink, routing, settings.notify, owner)
        try:
            if once:
                click.echo(str(run.run_once()))
            else:
                click.echo(f"notifier {owner}: {len(routing.routes)} route(s), a pass every "
                           f"{settings.notify.poll_s:.0f} s, batches of "
                           f"{settings.notify.batch_s:.0f} s")
                run.run_forever(heartbeat=settings.data_dir / "notifier.alive")
        except KeyboardInterrupt:
            pass
        except (SinkUnavailable, SqlError) as exc:
            raise click.ClickException(f"ClickHouse: {exc}") from None


@click.command("digest")
@click.option("--team", required=True, help="The team (its manager's digest).")
@click.option("--rep", default="", help="Only this rep of the team (the rep's own digest).")
@click.option("--week", help="ISO week, e.g. 2026-W49 (default: last week).")
@click.option("--tenant", help="Tenant (default: the settings' tenant).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the HTML (with its charts) to this file.")
@click.option("--send", is_flag=True, help="Send it to the team's route now (once per week).")
@click.option("--routing", "routing_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Routing file for --send (default: TOUCHLINE_NOTIFY__ROUTING_PATH).")
def digest(team: str, rep: str, week: str | None, tenant: str | None, html_file: Path | None,
           send: bool, routing_path: Path | None) -> None:
    """The weekly digest of a team or rep: activity vs plan and trend, touches, what to do."""
    from touchline.coaching.digest import WeekError, build_digest, last_full_week, parse_week
    from touchline.coaching.digest_html import render_html, render_text
    from touchline.settings import get_settings

    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    try:
        monday = parse_week(week) if week else last_full_week(now)
    except WeekError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    routing = _routing(settings, routing_path) if send else None
    with _sink(settings) as sink:
        try:
            d = build_digest(sink, tenant or settings.tenant, team, monday, now, rep)
            if html_file:
                html_file.write_text(render_html(d))
                click.echo(f"wrote {html_file} ({d.title})")
            if routing is not None:
                _send(sink, routing, settings, d, now)
            if not html_file and not send:
                click.echo(render_text(d))
        except (SinkUnavailable, SqlError) as exc:
            raise click.ClickException(f"ClickHouse: {exc}") from None


def _send(sink: ClickHouseSink, routing: Routing, settings: Settings, d: Digest,
          now: dt.datetime) -> None:
    from touchline.coaching.digest_send import send_digest
    from touchline.coaching.ledger import Ledger
    from touchline.coaching.notifier import team_managers
    from touchline.coaching.transports import DeliveryError

    route = routing.route_for(d.team, team_managers(sink))
    if route is None:
        raise click.ClickException(f"no route for team {d.team} in the routing file: add "
                                   "`- team: ...` or `- default: true`")
    ledger = Ledger(sink, f"{socket.gethostname()}:{os.getpid()}", settings.notify.lease_s,
                    settings.notify.max_attempts)
    try:
        sent = send_digest(sink, route, settings.notify, ledger, d, now)
    except (DeliveryError, RoutingError) as exc:
        raise click.ClickException(f"not sent: {exc}") from None
    click.echo(f"sent to {route.name} by {', '.join(sent)}" if sent
               else f"already sent to {route.name} for {d.week}")
