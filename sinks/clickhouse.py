"""ClickHouseSink: the only door to ClickHouse. Callers hand it Arrow tables or SQL.

One DSN picks the engine:
- `chdb:///abs/dir`: the embedded ClickHouse engine in this process (one process per dir);
- `http://host:8123` / `https://...`: a ClickHouse server;
- `store://127.0.0.1:PORT`: the embedded engine, through the `touchline store` process that
  owns the directory (workers, the query CLI and the local panel use this while it runs).
The same DDL and queries run on all three.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import pyarrow as pa

from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.reader_pool import ReaderPool
from touchline.sinks.rejections import Rejected, insert_splitting, is_deterministic

#: settings for every insert: idempotent retries (same token = same block, dropped), and
#: synchronous: when the insert returns the rows are in the table, so the caller may commit
#: its offsets (chdb defaults to async_insert = 1, a ClickHouse server to 0: say it)
INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1, "async_insert": 0}
#: ClickHouse's max_execution_time for read-only queries (a reader cannot hold the engine)
DEFAULT_READ_TIMEOUT_S = 30.0
#: JSONEachRow inserts (a JSON array of row objects): keys that are not columns are ignored
JSON_INSERT_SETTINGS = {"input_format_skip_unknown_fields": 1}


@dataclass
class QueryResult:
    """Rows of a query, with column names and ClickHouse types."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row (None when empty)."""
        return self.rows[0][0] if self.rows else None


class Backend(Protocol):
    """What the sink needs from an engine."""

    def command(self, sql: str) -> None: ...  # noqa: D102

    def query(  # noqa: D102
        self, sql: str, parameters: dict[str, Any] | None, readonly: bool
    ) -> QueryResult: ...

    def query_raw(  # noqa: D102
        self, sql: str, parameters: dict[str, Any] | None, fmt: str | None, database: str
    ) -> bytes: ...

    def insert_arrow(self, table: str, data: pa.Table, token: str | None) -> None: ...  # noqa: D102

    def insert_json(self, table: str, body: bytes, token: str | None) -> None: ...  # noqa: D102

    def close(self) -> None: ...  # noqa: D102


class ConnectBackend:
    """clickhouse-connect over chdb (embedded) or HTTP (server)."""

    def __init__(self, dsn: str, username: str = "default", password: str = "",
                 read_timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> None:
        import clickhouse_connect  # imported here: only this backend needs it

        self._lock = threading.Lock()
        try:
            if dsn.startswith("chdb://"):
                self._client = clickhouse_connect.get_client(dsn=dsn)
            else:
                self._client = clickhouse_connect.get_client(
                    dsn=dsn, username=username, password=password
                )
        except Exception as exc:  # connect errors come in many types
            raise SinkUnavailable(_first_line(exc)) from exc
        self._readers = ReaderPool(dsn, username, password, read_timeout_s)

    def command(self, sql: str) -> None:  # noqa: D102
        with self._lock, _sql_errors():
            self._client.command(sql)

    def query(  # noqa: D102
        self, sql: str, parameters: dict[str, Any] | None = None, readonly: bool = False
    ) -> QueryResult:
        if readonly:  # a session of its own, never the writer's (sinks/reader_pool.py)
            with _sql_errors():
                self._readers.guard.check(sql, parameters)
                res = self._readers.client("").query(sql, parameters=parameters or None)
        else:
            with self._lock, _sql_errors():
                res = self._client.query(sql, parameters=parameters or None)
        types = [t.name for t in res.column_types]
        return QueryResult(list(res.column_names), types, list(res.result_rows))

    def mark_background_reader(self) -> None:
        """Make the calling thread a background reader (sinks/reader_pool.py)."""
        self._readers.mark_background()

    def query_raw(  # noqa: D102
        self, sql: str, parameters: dict[str, Any] | None, fmt: str | None, database: str
    ) -> bytes:
        with _sql_errors():
            self._readers.guard.check(sql, parameters)
            return self._readers.client(database).raw_query(
                sql, parameters=parameters or None, fmt=fmt)

    def insert_arrow(self, table: str, data: pa.Table, token: str | None = None) -> None:  # noqa: D102
        settings = dict(INSERT_SETTINGS)
        if token:
            settings["insert_deduplication_token"] = token
        with self._lock, _sql_errors():
            self._client.insert_arrow(table, data, settings=settings)

    def insert_json(self, table: str, body: bytes, token: str | None = None) -> None:  # noqa: D102
        settings = dict(INSERT_SETTINGS, **JSON_INSERT_SETTINGS)
        if token:
            settings["insert_deduplication_token"] = token
        with self._lock, _sql_errors():
            self._client.raw_insert(table, None, insert_block=body, fmt="JSONEachRow",
                                    settings=settings)

    def close(self) -> None:  # noqa: D102
        with self._lock:
            self._readers.close()
            self._client.close()


class ClickHouseSink:
    """Domain verbs over one ClickHouse engine: schema, inserts, queries."""

    def __init__(self, dsn: str, database: str = "touchline", username: str = "default",
                 password: str = "", read_timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> None:
        self.dsn, self.database = dsn, database
        self._username, self._password = username, password
        self._read_timeout_s = read_timeout_s
        self._backend: Backend | None = None
        #: rows refused one by one by a split insert, until `take_rejected()`
        self.rejected: list[Rejected] = []

    def copy(self, dsn: str | None = None) -> ClickHouseSink:
        """A new sink, not started, on `dsn` (default: this one's), same database and user.

        Unlike a started sink it can be handed to another process (it holds no connection).
        """
        return ClickHouseSink(dsn or self.dsn, self.database, self._username, self._password,
                              self._read_timeout_s)

    @property
    def backend(self) -> Backend:
        """The connected engine (connects on first use)."""
        if self._backend is None:
            self.start()
        assert self._backend is not None
        return self._backend

    def start(self) -> ClickHouseSink:
        """Connect (the embedded engine opens and locks its directory here)."""
        if self._backend is None:
            if self.dsn.startswith("store://"):
                from touchline.sinks.store_client import StoreBackend

                self._backend = StoreBackend(self.dsn)
            elif self.dsn.startswith(("chdb://", "http://", "https://", "clickhouse://")):
                self._backend = ConnectBackend(self.dsn, self._username, self._password,
                                               self._read_timeout_s)
            else:
                raise SinkUnavailable(
                    f"unsupported ClickHouse DSN {self.dsn!r}: use chdb:///abs/dir, "
                    "http://host:8123 or store://127.0.0.1:PORT"
                )
        return self

    def ensure_schema(self, reapply_changed: bool = False) -> list[str]:
        """Apply pending migrations (idempotent); returns the versions applied now.

        An applied migration changed since raises MigrationChanged, unless `reapply_changed`
        (sinks/migrations.py `migrate`).
        """
        from touchline.sinks.migrations import migrate

        return migrate(self.backend, self.database, reapply_changed)

    def table(self, name: str) -> str:
        """Qualified table name."""
        return f"{self.database}.{name}"

    def insert(self, table: str, data: pa.Table, token: str | None = None) -> None:
        """Insert one Arrow block; a retry with the same token is dropped by ClickHouse.

        A block ClickHouse refuses for its content is split (sinks/rejections.py): what goes
        in goes in, rows refused one by one wait in `take_rejected()`.
        """
        if data.num_rows:
            self.rejected += insert_splitting(
                lambda lo, hi, tok: self.backend.insert_arrow(
                    self.table(table), data.slice(lo, hi - lo), tok),
                data.num_rows, lambda i: data.slice(i, 1).to_pylist()[0], table, token)

    def insert_json(self, table: str, body: bytes, token: str | None = None) -> None:
        """Insert rows given as one JSON array of objects (ClickHouse parses it: JSONEachRow).

        Cheaper for the caller than building Arrow from Python dicts: the engine's own parser
        does the work. Times as `rows.ms_text` writes them (`rows.json_block`).
        """
        if not body or body == b"[]":
            return
        try:
            self.backend.insert_json(self.table(table), body, token)
        except SqlError as exc:
            if not is_deterministic(str(exc)):
                raise
            items = orjson.loads(body)
            self.rejected += insert_splitting(
                lambda lo, hi, tok: self.backend.insert_json(
                    self.table(table), orjson.dumps(items[lo:hi]), tok),
                len(items), lambda i: items[i], table, token)

    def take_rejected(self) -> list[Rejected]:
        """Rows refused by ClickHouse for their content since the last call (to dead-letter)."""
        taken, self.rejected = self.rejected, []
        return taken

    def query(self, sql: str, parameters: dict[str, Any] | None = None,
              readonly: bool = True) -> QueryResult:
        """Run a SELECT (read-only by default) with server-side parameters."""
        return self.backend.query(sql, parameters, readonly)

    def query_raw(self, sql: str, parameters: dict[str, Any] | None = None,
                  fmt: str | None = None) -> bytes:
        """Run read-only SQL as typed by a user; the engine's bytes in `fmt` (or the SQL's FORMAT).

        This sink's database is the default one, so unqualified table names resolve in it.
        """
        return self.backend.query_raw(sql, parameters, fmt, self.database)

    def command(self, sql: str) -> None:
        """Run DDL or another statement that returns nothing."""
        self.backend.command(sql)

    def close(self) -> None:
        """Release the engine (the embedded one unlocks its directory)."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None


class _sql_errors:
    """Map driver exceptions to SqlError with the engine's own first line."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, SqlError | SinkUnavailable):
            return False
        text = _first_line(exc)
        if isinstance(exc, OSError) or "Connection" in type(exc).__name__:
            raise SinkUnavailable(text) from exc
        raise SqlError(text) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
