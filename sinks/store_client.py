"""The client of the `touchline store` process (sinks/store_server.py): the `store://` DSN.

Each thread keeps one keep-alive HTTP connection to the store on 127.0.0.1; every request
carries the stack's secret (read from the file the DSN names, sinks/store_auth.py). Query
results travel as JSON and are revived into the Python types clickhouse-connect returns.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import orjson
import pyarrow as pa

from touchline.sinks.clickhouse import QueryResult
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.reader_pool import BACKGROUND_MAX_EXECUTION_S
from touchline.sinks.store_auth import AUTH_SCHEME, read_secret

#: content type of an Arrow IPC stream (the store's /insert body)
ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: the lane of the store's background reader (`lane=` in a store:// DSN)
BACKGROUND_LANE = "background"


def background_dsn(dsn: str) -> str:
    """The same store://, its queries on the store's background lane."""
    return f"{dsn}{'&' if '?' in dsn else '?'}{urlencode({'lane': BACKGROUND_LANE})}"


class StoreBackend:
    """HTTP client of the `touchline store` process (sinks/store_server.py)."""

    def __init__(self, dsn: str, timeout: float = 60.0) -> None:
        """`dsn`: store://127.0.0.1:PORT?key_file=<the stack's secret file>[&lane=background].

        With `lane=background` every query runs on the store's background reader, at a lower
        CPU priority than the live inserts and the panels (sinks/store_server.py).
        """
        url = urlparse(dsn)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 28124
        self._timeout = timeout
        self._local = threading.local()
        options = parse_qs(url.query)
        key_file = options.get("key_file", [""])[0]
        lane = options.get("lane", [""])[0]
        self._query_params = {"lane": lane} if lane else None
        if lane == BACKGROUND_LANE:  # wait as long as the store lets a background query run
            self._timeout = max(timeout, BACKGROUND_MAX_EXECUTION_S + 30.0)
        self._auth = AUTH_SCHEME + (read_secret(Path(key_file)) if key_file else "")

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _post(self, path: str, body: bytes, params: dict[str, str] | None = None,
              content_type: str = "application/json") -> bytes:
        target = path + ("?" + urlencode(params) if params else "")
        headers = {"Authorization": self._auth, "Content-Type": content_type}
        for attempt in (1, 2):  # one retry on a stale keep-alive connection
            conn = self._conn()
            try:
                conn.request("POST", target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise SinkUnavailable(
                        f"the touchline store at {self._host}:{self._port} is not answering "
                        f"({exc.__class__.__name__}); start it with `touchline up`"
                    ) from exc
                continue
            if resp.status == 200:
                return data
            try:
                message = orjson.loads(data).get("error", "") if data else resp.reason
            except orjson.JSONDecodeError:  # e.g. the HTTP server's own 413 page
                message = f"HTTP {resp.status} {resp.reason}: {data[:200].decode(errors='replace')}"
            if resp.status == 503:
                raise SinkUnavailable(message)
            if resp.status == 401:
                raise SinkUnavailable(f"{message}: the store refused this process's secret")
            raise SqlError(message)
        raise AssertionError("unreachable")

    def command(self, sql: str) -> None:  # noqa: D102
        self._post("/command", sql.encode(), content_type="application/sql")

    def query(  # noqa: D102
        self, sql: str, parameters: dict[str, Any] | None = None, readonly: bool = False
    ) -> QueryResult:
        body = orjson.dumps(
            {"sql": sql, "parameters": parameters or {}, "readonly": readonly},
            default=_json_default,  # datetimes too: ClickHouse wants them without an offset
            option=orjson.OPT_PASSTHROUGH_DATETIME,
        )
        doc = orjson.loads(self._post("/query", body, self._query_params))
        width = len(doc["rows"][0]) if doc["rows"] else len(doc["types"])
        types = doc["types"] + [""] * (width - len(doc["types"]))  # chdb may omit types
        rows = [tuple(_revive(v, t) for v, t in zip(r, types, strict=True)) for r in doc["rows"]]
        return QueryResult(doc["columns"], types, rows)

    def query_raw(  # noqa: D102
        self, sql: str, parameters: dict[str, Any] | None, fmt: str | None, database: str
    ) -> bytes:
        body = orjson.dumps({"sql": sql, "parameters": parameters or {}, "format": fmt,
                             "database": database})
        return self._post("/query_raw", body)

    def insert_arrow(self, table: str, data: pa.Table, token: str | None = None) -> None:  # noqa: D102
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        params = {"table": table}
        if token:
            params["token"] = token
        self._post("/insert", sink.getvalue().to_pybytes(), params, ARROW_STREAM)

    def insert_json(self, table: str, body: bytes, token: str | None = None) -> None:  # noqa: D102
        params = {"table": table, "format": "json"}
        if token:
            params["token"] = token
        self._post("/insert", body, params)

    def close(self) -> None:  # noqa: D102
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # as ClickHouse parses it: UTC, no offset
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def _type_args(ch_type: str) -> list[str]:
    """Top-level arguments of a type: `Tuple(UInt8, Array(Date))` -> [UInt8, Array(Date)]."""
    inner = ch_type[ch_type.index("(") + 1:ch_type.rindex(")")]
    args, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    return [*args, inner[start:].strip()]


def _revive(value: Any, ch_type: str) -> Any:
    """Turn JSON values back into the Python types clickhouse-connect would return.

    Recurses into Array, Tuple, Map, Nullable and LowCardinality, so a datetime inside an
    array of tuples comes back as a datetime (and the tuple as a tuple), as on the direct path.
    """
    if value is None:
        return None
    outer = ch_type.split("(", 1)[0]
    if outer in ("Nullable", "LowCardinality"):
        return _revive(value, _type_args(ch_type)[0])
    if outer == "Array" and isinstance(value, list):
        (item,) = _type_args(ch_type)
        return [_revive(v, item) for v in value]
    if outer == "Tuple" and isinstance(value, list):
        # a named element reads `name Type`; a bare type never has a space right after its name
        items = [re.sub(r"^\w+ (?=\S)", "", a) for a in _type_args(ch_type)]
        return tuple(_revive(v, t) for v, t in zip(value, items, strict=False))
    if outer == "Map" and isinstance(value, dict):
        _, item = _type_args(ch_type)
        return {k: _revive(v, item) for k, v in value.items()}
    if "DateTime" in ch_type and isinstance(value, str):
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    if ch_type.startswith("Date") and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def encode_result(result: QueryResult) -> bytes:
    """Serialise a QueryResult for the store's HTTP answer."""
    return orjson.dumps(
        {"columns": result.columns, "types": result.types, "rows": result.rows},
        default=_json_default,
        option=orjson.OPT_PASSTHROUGH_DATETIME,
    )
