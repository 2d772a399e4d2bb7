"""Run statements on the chdb of the interpreter that runs this file; report as JSON.

Reads {"statements": [...], "queries": [...]} from stdin, runs every statement in order on a
fresh data directory (an error is recorded with its statement's index, and the next one runs),
then each query, and prints {"version", "failed": [[index, error]], "results": [rows or
{"error": ...}]}. A query is its text, or {"sql": text, "params": {name: value}} with its
parameters' values as a server receives them (`param_<name>`), set before it runs, and
"count_only": true to report how many rows it returned. Only the standard library and chdb:
tests/engine_25_8.py runs it with chdb 4.4 (ClickHouse 26.9) and with chdb 3.7.2 (ClickHouse
25.8) on the same input.
"""

from __future__ import annotations

import json
import sys
import tempfile

from chdb import session


def _answer(s: session.Session, query: str | dict) -> list | int:
    """The rows of `query` (or, with "count_only", how many)."""
    count_only = False
    if isinstance(query, dict):
        for name, value in query.get("params", {}).items():
            text = str(value).replace("\\", "\\\\").replace("'", "\\'")
            s.query(f"SET param_{name} = '{text}'")
        count_only, query = query.get("count_only", False), query["sql"]
    rows = json.loads(str(s.query(query, "JSONCompact")) or '{"data": []}')["data"]
    return len(rows) if count_only else rows


def main() -> None:
    """Run the statements, then the queries; print the report."""
    job = json.load(sys.stdin)
    with tempfile.TemporaryDirectory(prefix="chdb-runner-") as tmp:
        s = session.Session(tmp)
        s.query("SET max_execution_time = 120")  # a read that hangs fails, the rest go on
        failed, results = [], []
        for i, statement in enumerate(job["statements"]):
            try:
                s.query(statement)
            except Exception as exc:  # the engine's refusal is the report
                failed.append([i, str(exc).splitlines()[0][:500]])
        for query in job["queries"]:
            try:
                results.append(_answer(s, query))
            except Exception as exc:
                results.append({"error": str(exc).splitlines()[0][:500]})
        version = json.loads(str(s.query("SELECT version()", "JSONCompact")))["data"][0][0]
        s.close()
    json.dump({"version": version, "failed": failed, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
