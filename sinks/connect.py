"""Open the right ClickHouse sink for a command: the running store, or the engine itself.

In embedded mode the `touchline store` process owns the chdb directory while the stack runs;
every other process (query CLI, panel, alerts check, workers) must go through it. When no
store runs, a command may open the directory itself.
"""

from __future__ import annotations

import socket
from pathlib import Path

from touchline.settings import Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import NoDataYet


def store_is_running(settings: Settings, timeout: float = 0.3) -> bool:
    """True when something answers on the embedded store's port."""
    try:
        with socket.create_connection(("127.0.0.1", settings.clickhouse.store_port), timeout):
            return True
    except OSError:
        return False


def sink_dsn(settings: Settings) -> str:
    """The DSN a client process should use right now."""
    dsn = settings.clickhouse_dsn()
    if dsn.startswith("chdb://") and store_is_running(settings):
        return settings.store_url()
    return dsn


def open_sink(settings: Settings) -> ClickHouseSink:
    """A started sink for this process (through the store when one owns the data)."""
    return ClickHouseSink(
        sink_dsn(settings),
        database=settings.clickhouse.database,
        username=settings.clickhouse.username,
        password=settings.clickhouse.password.get_secret_value(),
        read_timeout_s=settings.clickhouse.read_timeout_s,
    ).start()


def open_reader(settings: Settings) -> ClickHouseSink:
    """A started sink for a command that only reads; creates nothing.

    Raises NoDataYet (its message says what to run) when there is no data directory or no
    database yet, instead of opening, and so creating, an empty embedded directory.
    """
    dsn = sink_dsn(settings)
    database = settings.clickhouse.database
    directory = Path(dsn.removeprefix("chdb://"))
    if dsn.startswith("chdb://") and not directory.is_dir():
        raise NoDataYet(f"no data yet in {directory}: run `touchline demo` to try it with "
                        "simulated events, or `touchline up` and send your own")
    sink = open_sink(settings)
    if not sink.query("SELECT count() FROM system.databases WHERE name = {db:String}",
                      {"db": database}).scalar():
        sink.close()
        raise NoDataYet(f"no data yet: ClickHouse has no `{database}` database: run "
                        "`touchline sink init` (or `touchline demo` / `touchline up`)")
    return sink
