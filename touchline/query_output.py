"""Render query results for the terminal: an aligned table, JSON lines or CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from touchline.sinks.clickhouse import QueryResult


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def render(result: QueryResult, fmt: str = "table", max_width: int = 60) -> str:
    """The result as text in the chosen format."""
    if fmt == "json":
        return "\n".join(
            orjson.dumps({c: _cell(v) if not isinstance(v, int | float) else v
                          for c, v in zip(result.columns, row, strict=True)}).decode()
            for row in result.rows
        )
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(result.columns)
        writer.writerows([[_cell(v) for v in row] for row in result.rows])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(v)[:max_width] for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(lines)
