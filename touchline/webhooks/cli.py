"""`touchline serve`: run the webhook ingest HTTP server (mounted by touchline/cli/main.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import click


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Uvloop's event loop factory (less CPU per request); None: asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # a dependency, but serve works on asyncio's loop as well
        return None
    return uvloop.new_event_loop


@click.command("serve")
@click.option("--host", default=None, help="Bind address (default: settings.web.host).")
@click.option("--port", type=int, default=None, help="Port (default: settings.web.ingest_port).")
def serve(host: str | None, port: int | None) -> None:
    """Accept vendor webhooks and store each request on raw.<source> before answering 2xx."""
    from touchline.errors import settings_or_exit  # one line for bad TOUCHLINE_* values

    settings = settings_or_exit()
    web = settings.web.model_copy(
        update={k: v for k, v in (("host", host), ("ingest_port", port)) if v is not None}
    )
    settings = settings.model_copy(update={"web": web})
    configured = [
        s for s, secret in (
            ("twilio", settings.webhooks.twilio_auth_token),
            ("sendgrid", settings.webhooks.sendgrid_public_key),
            ("salesforce", settings.webhooks.salesforce_relay_token),
            ("hubspot", settings.webhooks.hubspot_client_secret),
            ("outreach", settings.webhooks.outreach_secret),
        ) if secret.get_secret_value()
    ]
    if not configured:
        raise click.ClickException(
            "no vendor secret is configured: set e.g. TOUCHLINE_WEBHOOKS__TWILIO_AUTH_TOKEN "
            "(see touchline/webhooks/README.md)"
        )
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(message)s")
    click.echo(
        f"touchline serve: http://{web.host}:{web.ingest_port}/webhooks/<source> "
        f"(enabled: {', '.join(configured)}); broker {settings.kafka.bootstrap}"
    )
    try:
        from touchline.webhooks.server import run_ingest_server

        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(run_ingest_server(settings))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {web.host}:{web.ingest_port}: {exc}") from exc
