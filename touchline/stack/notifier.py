"""The notifier as a process of the running stack (`touchline demo` / `up` start it)."""

from __future__ import annotations

import sys

from touchline.settings import Settings
from touchline.stack.services import Service, child_env, free_port, spawn

#: the demo's batch window: a manager sees the first coaching message within a minute
DEMO_BATCH_S = 60.0


def start_notifier(settings: Settings, demo: bool = False) -> tuple[Service | None, str]:
    """Start `touchline notifier` when a routing file is configured.

    In the demo without one, a local inbox (touchline.coaching.inbox) is started in this
    process and every team is routed to it.

    Returns:
        The service (None when not started) and one line saying what happened.
    """
    notify = settings.notify
    about = ""
    if notify.routing_path is None:
        if not demo:
            return None, ("not started: no routing file (set TOUCHLINE_NOTIFY__ROUTING_PATH, "
                          "see docs/coaching.md)")
        from touchline.coaching.inbox import Inbox, demo_routing, start_inbox_thread

        inbox = Inbox(settings.data_dir / "inbox")
        http_port = free_port()
        start_inbox_thread(inbox, notify.smtp_port, http_port)
        path = settings.data_dir / "demo-routing.yaml"
        path.write_text(demo_routing(http_port))
        notify = notify.model_copy(update={
            "routing_path": path, "smtp_host": "127.0.0.1",
            "batch_s": min(notify.batch_s, DEMO_BATCH_S)})
        settings = settings.model_copy(update={"notify": notify})
        about = f"; messages land in {inbox.directory} (.eml mail, .json Slack posts)"
    log = settings.data_dir / "logs" / "notifier.log"
    dsn = settings.clickhouse.dsn or settings.store_url()
    proc = spawn("notifier", [sys.executable, "-m", "touchline", "notifier"], log,
                 child_env(settings, TOUCHLINE_CLICKHOUSE__DSN=dsn))
    service = Service("notifier", proc, log,
                      restart=lambda: start_notifier(settings)[0])
    return service, (f"routing {notify.routing_path}, SMTP {notify.smtp_host}:"
                     f"{notify.smtp_port} (log {log}){about}")
