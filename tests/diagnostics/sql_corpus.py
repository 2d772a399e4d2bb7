"""Record every read touchline's sink sends, in every Python process of a test run.

With TOUCHLINE_TEST_SQL_CORPUS set to a directory, the test processes (tests/conftest.py) and
every process they start (this folder's sitecustomize.py) import this module: each process's
`touchline.sinks.clickhouse` then appends the reads of `ConnectBackend.query` and `.query_raw`
that touchline's code sent (not a test's own queries) and the engine answered (not those the
read guard or the engine refused, as the security tests' `url()` and `file()`) to
`<directory>/<pid>.jsonl`, bound as clickhouse-connect binds them for a server: {"sql": text,
"params": {name: value}}. tests/replay_sql_corpus.py replays them on ClickHouse 25.8.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from typing import Any

_DIRECTORY = os.environ.get("TOUCHLINE_TEST_SQL_CORPUS")
_MODULE = "touchline.sinks.clickhouse"
#: the sink's own files and this one: the read's sender is the first frame outside them
_SINK_FILES = (os.path.join("sinks", "clickhouse.py"), "sql_corpus.py")


def _sent_by_touchline() -> bool:
    """Whether the read comes from touchline's code, not from a test's own query."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.endswith(_SINK_FILES):
        frame = frame.f_back
    return frame is not None and f"{os.sep}tests{os.sep}" not in frame.f_code.co_filename


def _record(sql: str, parameters: Any) -> None:
    from clickhouse_connect.driver.binding import bind_query

    if not _sent_by_touchline():
        return

    try:
        text, bound = bind_query(sql, parameters)
        line = {"sql": text if isinstance(text, str) else text.decode(),
                "params": {k.removeprefix("param_"): v for k, v in bound.items()}}
    except Exception:  # a query the client would refuse too: not a read to replay
        return
    with open(os.path.join(_DIRECTORY or ".", f"{os.getpid()}.jsonl"), "a") as out:
        out.write(json.dumps(line, default=str) + "\n")


def _patch(module: Any) -> None:
    backend = module.ConnectBackend
    query, query_raw = backend.query, backend.query_raw

    def recorded_query(self: Any, sql: str, parameters: Any = None, readonly: bool = False) -> Any:
        result = query(self, sql, parameters, readonly)
        _record(sql, parameters)
        return result

    def recorded_query_raw(self: Any, sql: str, parameters: Any, fmt: Any, database: str) -> Any:
        result = query_raw(self, sql, parameters, fmt, database)
        _record(sql, parameters)
        return result

    backend.query, backend.query_raw = recorded_query, recorded_query_raw


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the sink's module as usual, and patches it once it has run."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != _MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _DIRECTORY:
    if _MODULE in sys.modules:  # imported before this module (the test process's conftest)
        _patch(sys.modules[_MODULE])
    else:
        sys.meta_path.insert(0, _Finder())
