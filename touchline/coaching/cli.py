"""`touchline notifier` and `touchline digest`: coaching that reaches managers."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import click

from touchline.coaching.routing import Routing, RoutingError, load_routing
from touchline.settings import Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError


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


def _open_sink(settings: Settings) -> ClickHouseSink:
    from touchline.connect import open_sink

    try:
        return open_sink(settings)
    except (SinkUnavailable, SqlError) as exc:
        raise click.ClickException(f"ClickHouse is not available: {exc}; start the stack "
                                   "with `touchline up`") from None


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
    sink = _open_sink(settings)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    run = Notifier(sink, routing, settings.notify, owner)
    try:
        if once:
            click.echo(str(run.run_once()))
        else:
            click.echo(f"notifier {owner}: {len(routing.routes)} route(s), a pass every "
                       f"{settings.notify.poll_s:.0f} s, batches of {settings.notify.batch_s:.0f}"
                       " s")
            run.run_forever(heartbeat=settings.data_dir / "notifier.alive")
    except KeyboardInterrupt:
        pass
    except (SinkUnavailable, SqlError) as exc:
        raise click.ClickException(f"ClickHouse: {exc}") from None
    finally:
        sink.close()
