"""What a read-only query may do, decided by parsing it with ClickHouse's own parser.

Read-only access runs on an engine session of its own (sinks/clickhouse.py `ReaderSession`)
with `readonly = 1`, so it cannot write, run DDL or change a setting. Some table functions
still reach outside the data: `file()` reads the host's files, `url()`/`remote()`/`s3()`/`mysql()`
... open network connections, `executable()` runs programs. Before a reader's statement runs,
`EXPLAIN AST` shows every table expression; one that calls a table function outside
`SAFE_TABLE_FUNCTIONS` is refused, as are a `SETTINGS` clause and `INTO OUTFILE` (which writes
a file as the engine's process), and `formatQuery` proves the text is one statement (chdb
would otherwise run `SELECT 1; DROP ...` as two).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from touchline.sinks.errors import SqlError

#: table functions that only compute (no file, network, process or other table reached)
SAFE_TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generateseries",
    "generate_series", "primes", "view"})
ONE_STATEMENT_SQL = "SELECT formatQuery({q:String})"
TABLE_FUNCTIONS_SQL = "SELECT name FROM system.table_functions"
_NODE = re.compile(r"^( *)(\S+)(?: (\S+))?")
#: a run of digits standing alone (not part of a name): a number, or a part of a date in a string
_NUMBER = re.compile(r"\b\d+\b")


def verdict_key(sql: str) -> str:
    """`sql` with every number as 0: statements that differ only in numbers share one verdict.

    Grafana sends a panel's SQL with its time range as numbers (`toDateTime(1733356800)`), new
    at every refresh. Changing a number changes no table function, `SETTINGS` clause, `INTO
    OUTFILE` or `;`, so the verdict of one such text holds for all of them. A digit inside a
    name (`file1`) is not a run of its own and stays.
    """
    return _NUMBER.sub("0", sql)


def forbidden_in_ast(ast_lines: Iterable[str], table_functions: frozenset[str]) -> str:
    """Why the statement whose `EXPLAIN AST` lines these are may not run read-only ('' if ok).

    A table function appears as a `Function <name>` node directly below a `TableExpression`
    (FROM, JOIN, subqueries) or an `InsertQuery` (`INSERT INTO FUNCTION`). A qualified name
    (`db.view(...)`) is a parameterized view, which is data, not a table function.
    """
    parents: list[tuple[int, str]] = []
    for line in ast_lines:
        m = _NODE.match(line)
        if not m:
            continue
        depth, node, name = len(m.group(1)), m.group(2), m.group(3) or ""
        while parents and parents[-1][0] >= depth:
            parents.pop()
        parent = parents[-1][1] if parents else ""
        if node == "Set" and parent != "Explain":  # EXPLAIN's own options are no settings
            return "a read-only query cannot change settings (SETTINGS clause)"
        if node == "Literal" and parent == "SelectWithUnionQuery":  # INTO OUTFILE 'path'
            return "a read-only query cannot write a file (INTO OUTFILE)"
        if node == "Function" and parent in ("TableExpression", "InsertQuery"):
            lowered = name.lower()
            if "." not in lowered and lowered in table_functions - SAFE_TABLE_FUNCTIONS:
                return (f"table function {name}() is not allowed in a read-only query "
                        "(it reaches files, the network or other servers)")
        parents.append((depth, node))
    return ""


class ReadGuard:
    """Checks statements before they run read-only; verdicts are cached by `verdict_key`."""

    def __init__(self, run: Callable[[str, dict | None], list[tuple]],
                 cache_size: int = 2048) -> None:
        """`run(sql, parameters)` runs a statement on a read-only session and returns rows."""
        self._run = run
        self._table_functions: frozenset[str] | None = None
        self._verdicts: dict[str, str] = {}
        self._cache_size = cache_size

    def check(self, sql: str, parameters: dict | None = None) -> None:
        """Raise SqlError unless `sql` is one statement that stays inside the data.

        `parameters` fill its placeholders for the parser; a value cannot add a table
        function (an `Identifier` parameter is quoted as a name), so the verdict holds for
        every value and is kept by SQL text, its numbers aside (`verdict_key`).
        """
        key = verdict_key(sql)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdict(sql, parameters)
            if len(self._verdicts) >= self._cache_size:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        if verdict:
            raise SqlError(verdict)

    def _verdict(self, sql: str, parameters: dict | None) -> str:
        if self._table_functions is None:
            rows = self._run(TABLE_FUNCTIONS_SQL, None)
            self._table_functions = frozenset(str(r[0]).lower() for r in rows)
        try:
            self._run(ONE_STATEMENT_SQL, {"q": sql})
        except SqlError as exc:
            if "Multi-statements" in str(exc):
                return "a read-only query is one statement (no `;` between statements)"
            raise
        lines = [str(r[0]) for r in self._run("EXPLAIN AST " + sql, parameters)]
        return forbidden_in_ast(lines, self._table_functions)
