"""The notifier as a process of the running stack (`touchline demo` / `up` start it)."""

from __future__ import annotations

import sys

from touchline.services import Service, child_env, spawn
from touchline.settings import Settings


def start_notifier(settings: Settings) -> tuple[Service | None, str]:
    """Start `touchline notifier` when a routing file is configured.

    Returns:
        The service (None when not started) and one line saying what happened.
    """
    path = settings.notify.routing_path
    if path is None:
        return None, ("not started: no routing file (set TOUCHLINE_NOTIFY__ROUTING_PATH, "
                      "see docs/coaching.md)")
    log = settings.data_dir / "logs" / "notifier.log"
    dsn = settings.clickhouse.dsn or settings.store_url()
    proc = spawn("notifier", [sys.executable, "-m", "touchline", "notifier"], log,
                 child_env(settings, TOUCHLINE_CLICKHOUSE__DSN=dsn))
    service = Service("notifier", proc, log, restart=lambda: start_notifier(settings)[0])
    return service, (f"routing {path}, SMTP {settings.notify.smtp_host}:"
                     f"{settings.notify.smtp_port} (log {log})")
