"""`touchline query` output: which format to ask ClickHouse for, and the aligned table.

Every format but the table is ClickHouse's own output, passed through byte for byte, as
clickhouse-client prints it: a FORMAT clause in the SQL wins, else `--format` names one
(`json` and `csv` are short for JSONEachRow and CSVWithNames). The table is drawn here from
ClickHouse's TabSeparatedWithNamesAndTypes, so each value reads as ClickHouse writes it.
"""

from __future__ import annotations

import re

from touchline.terminal_table import align

#: short names of the CLI -> ClickHouse output formats
FORMAT_ALIASES = {"json": "JSONEachRow", "csv": "CSVWithNames"}
TABLE = "table"
#: what the table is drawn from: names, types, then rows, each value in ClickHouse's text form
TABLE_SOURCE_FORMAT = "TabSeparatedWithNamesAndTypes"

_LITERAL_OR_COMMENT = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`"""
    r"|--[^\n]*|#[^\n]*|/\*.*?\*/",
    re.DOTALL,
)
_TRAILING_FORMAT = re.compile(
    r"\bFORMAT\s+(\w+)(?:\s+SETTINGS\b[^;]*)?\s*;?\s*\Z", re.IGNORECASE)
#: TSV escapes undone for display; control characters (\n, \t, ...) stay escaped, so a row
#: stays one line
_TSV_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}
_TSV_ESCAPE = re.compile(r"\\(.)")


def sql_format(sql: str) -> str | None:
    """The output format the SQL names in its FORMAT clause, if it has one.

    String literals, quoted names and comments are blanked first, so `'... FORMAT CSV'` or a
    commented-out clause does not count.
    """
    masked = _LITERAL_OR_COMMENT.sub(lambda m: " " * len(m.group(0)), sql)
    match = _TRAILING_FORMAT.search(masked)
    return match.group(1) if match else None


def wire_format(sql: str, option: str) -> tuple[str | None, bool]:
    """(format to ask ClickHouse for, draw a table?) for this SQL and `--format` value.

    None means the SQL's own FORMAT clause decides; nothing may be appended to it.
    """
    if sql_format(sql):
        return None, False
    if option.lower() == TABLE:
        return TABLE_SOURCE_FORMAT, True
    return FORMAT_ALIASES.get(option.lower(), option), False


def _unescape(value: str) -> str:
    if value == "\\N":
        return "NULL"
    return _TSV_ESCAPE.sub(lambda m: _TSV_ESCAPES.get(m.group(1), m.group(0)), value)


def render_table(data: bytes, max_width: int = 60) -> str:
    """An aligned table of a TabSeparatedWithNamesAndTypes answer, with a row count."""
    lines = data.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        return "(0 rows)"
    columns = [_unescape(c) for c in lines[0].split("\t")]
    rows = [[_unescape(v)[:max_width] for v in line.split("\t")] for line in lines[2:]]
    out = align(rows, columns, rule=True)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
