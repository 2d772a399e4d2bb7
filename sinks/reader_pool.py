"""Read-only engine sessions, apart from the writer's: a reader can neither write nor stall writes.

Each thread gets its own clickhouse-connect client per default database. On chdb that is a
handle of its own on the process's one engine (session state such as `USE` and `SET` is per
handle), made read-only for life when it opens: `SET max_execution_time`, then
`SET readonly = 1`, after which the session can change no setting at all (so a query cannot
turn either back). The writer's handle is never touched: the old per-call `SET readonly` on the
one shared handle could not be restored (restoring is itself refused in read-only mode) and
left every later insert failing. Readers do not take the writer's lock, so a slow read (a
refused `url()` or a scan cut at max_execution_time) does not hold inserts back.

On a ClickHouse server each reader client sends `readonly = 2` (a reader user's profile has it;
setting it to 1 would be refused for that user) and max_execution_time with every query; the
server's grants keep readers away from files and the network, and `ReadGuard` refuses table
functions and SETTINGS clauses on both.

A background reader (`mark_background`, the store's background lane: the Coach pass) asks the
engine to run its queries at a lower CPU priority: `os_thread_priority` (a nice value) on every
engine thread of the query, for that query only. The engine applies it only where it holds
CAP_SYS_NICE (root on a host, or a container given SYS_NICE) and puts each thread back to 0
when the query ends, so a thread never carries the lower priority into an insert or a panel;
without the capability the setting is accepted and changes nothing. A nice value set on the
calling Python thread would not do: the engine runs the query on threads of its own. On 2
cores a Coach pass over 600k activities (~4 s of engine work) otherwise took CPU from the live
inserts (docs/performance.md). A background query may also run longer than a reader's: a pass
over a year of history is slow by nature, and the lower priority keeps it out of the way.
"""

from __future__ import annotations

import threading
from typing import Any

from touchline.sinks.errors import SinkUnavailable
from touchline.sinks.read_guard import ReadGuard

#: what a reader session on a server sends with each query
SERVER_READ_SETTINGS = {"readonly": 2}
#: the nice value of a background query's engine threads (0 is the default, 19 the lowest)
BACKGROUND_NICE = 10
#: how long a background query may run (a Coach pass's rule query over a year of history, at a
#: low priority, may take minutes; a runaway one is still cut)
BACKGROUND_MAX_EXECUTION_S = 600
#: what a background reader's sessions set
BACKGROUND_READ_SETTINGS = {"os_thread_priority": BACKGROUND_NICE,
                            "max_execution_time": BACKGROUND_MAX_EXECUTION_S}


class ReaderPool:
    """Per-thread, per-database read-only clients of one engine."""

    def __init__(self, dsn: str, username: str, password: str, read_timeout_s: float) -> None:
        """`read_timeout_s`: ClickHouse's max_execution_time for every reader query."""
        self._dsn, self._username, self._password = dsn, username, password
        self._timeout = max(int(read_timeout_s), 1)
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()
        self.guard = ReadGuard(lambda sql, params: self.client("").query(
            sql, parameters=params or None).result_rows)

    @property
    def embedded(self) -> bool:  # noqa: D102
        return self._dsn.startswith("chdb://")

    def mark_background(self) -> None:
        """Make the calling thread a background reader (a thread pool's initializer)."""
        self._local.background = True

    def client(self, database: str) -> Any:
        """The calling thread's read-only client, `database` its default ('': the engine's)."""
        clients: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if database not in clients:
            clients[database] = self._open(database)
        return clients[database]

    def _open(self, database: str) -> Any:
        import clickhouse_connect

        extra: dict[str, Any] = {"database": database} if database else {}
        settings: dict[str, Any] = {"max_execution_time": self._timeout}
        if getattr(self._local, "background", False):
            settings.update(BACKGROUND_READ_SETTINGS)
        try:
            if self.embedded:
                client = clickhouse_connect.get_client(dsn=self._dsn, **extra)
                for name, value in settings.items():
                    client.command(f"SET {name} = {value}")
                client.command("SET readonly = 1")
            else:
                client = clickhouse_connect.get_client(
                    dsn=self._dsn, username=self._username, password=self._password,
                    settings={**SERVER_READ_SETTINGS, **settings}, **extra)
        except Exception as exc:  # connect errors come in many types
            raise SinkUnavailable(str(exc).strip().splitlines()[0][:500]) from exc
        with self._opened_lock:
            self._opened.append(client)
        return client

    def close(self) -> None:
        """Close every reader client of every thread."""
        with self._opened_lock:
            for client in self._opened:
                client.close()
            self._opened.clear()
        self._local = threading.local()
