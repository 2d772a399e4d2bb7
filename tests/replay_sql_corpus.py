"""Replay the reads a test run recorded (tests/diagnostics/sql_corpus.py) on ClickHouse 25.8
and on 26.9.

    TOUCHLINE_TEST_SQL_CORPUS=/tmp/corpus python -m pytest -q
    python -m tests.replay_sql_corpus /tmp/corpus

Each distinct read (its text, the names of its parameters) runs once, with the parameters it
was first recorded with, on a store as the compose makes it (tests/engine_25_8.py `seed`) on
both engines. A read that fails on 25.8 and not on 26.9 is one the compose's server would
refuse: each is printed with the engine's reason, and the exit status is 1. Reads that fail on
both (a test's own database or table, a value only that test's store held) say nothing about
25.8 and are counted only. Writes are not replayed: the inserts' path is
tests/integration/test_clickhouse_25_8.py's.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.engine_25_8 import interpreter, run, seed, worker_rows

READS = ("SELECT", "WITH", "(", "SHOW", "DESCRIBE", "EXPLAIN")


def corpus(directory: Path) -> list[dict[str, Any]]:
    """The distinct reads recorded in `directory`, in the order first seen."""
    seen: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                read = json.loads(line)
            except json.JSONDecodeError:  # a process killed mid-line (the fault tests)
                continue
            if not read["sql"].lstrip().upper().startswith(READS):
                continue
            # a test's store of its own name holds the same schema as `touchline`
            read["sql"] = re.sub(r"\b(?:touchline|tl)_\w+\.", "touchline.", read["sql"])
            seen.setdefault((read["sql"], tuple(sorted(read["params"]))), read)
    return list(seen.values())


def main() -> int:
    """Replay; print what only 25.8 refused; 1 if anything."""
    directory = Path(sys.argv[1])
    reads = corpus(directory)
    if not reads:
        print(f"no reads recorded in {directory}: run the tests with "
              f"TOUCHLINE_TEST_SQL_CORPUS={directory}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="replay-") as files:
        job = {"statements": seed(worker_rows(), Path(files)),
               "queries": [{**read, "count_only": True} for read in reads]}
        old, new = run(interpreter(), job), run(sys.executable, job)
    only_old = [(read, o["error"]) for read, o, n in zip(reads, old["results"], new["results"],
                                                        strict=True)
                if isinstance(o, dict) and not isinstance(n, dict)]
    both = sum(isinstance(o, dict) and isinstance(n, dict)
               for o, n in zip(old["results"], new["results"], strict=True))
    print(f"{len(reads)} distinct reads replayed on {old['version']} and {new['version']}: "
          f"{len(only_old)} refused by {old['version']} only, {both} by both (a test's own "
          "tables or values)")
    for read, error in only_old:
        print(f"- {' '.join(read['sql'].split())[:400]}\n  params {read['params']}\n  {error}")
    return 1 if only_old or old["failed"] or new["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
