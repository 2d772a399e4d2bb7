"""Deterministic insert errors: split the block, keep the rows ClickHouse takes, set aside the rest.

Retrying cannot help when ClickHouse refuses a block for what it contains: a block whose rows
span more than `max_partitions_per_insert_block` months (TOO_MANY_PARTITIONS), a value that
does not parse as its column's type, a syntax error. Such a block is split in halves, each
inserted with a token derived from the block's (so a replay splits the same way and is
deduplicated), down to single rows; a single row still refused is returned as `Rejected`, for
the caller to dead-letter with ClickHouse's reason. Every other error (engine away, timeouts,
too many parts, memory) is transient and reaches the caller, which retries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from touchline.sinks.errors import SqlError

#: ClickHouse error codes (and names) that a retry of the same block cannot fix. Messages are
#: cut to their first 500 characters on the way, so the leading `Code: N.` is what is read
DETERMINISTIC_CODES = {
    6: "CANNOT_PARSE_TEXT", 7: "INCORRECT_NUMBER_OF_COLUMNS", 8: "THERE_IS_NO_COLUMN",
    16: "NO_SUCH_COLUMN_IN_TABLE", 25: "CANNOT_PARSE_ESCAPE_SEQUENCE",
    26: "CANNOT_PARSE_QUOTED_STRING", 27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    33: "CANNOT_READ_ALL_DATA", 36: "BAD_ARGUMENTS", 38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME", 43: "ILLEGAL_TYPE_OF_ARGUMENT", 44: "ILLEGAL_COLUMN",
    53: "TYPE_MISMATCH", 62: "SYNTAX_ERROR", 69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE", 72: "CANNOT_PARSE_NUMBER", 117: "INCORRECT_DATA",
    131: "TOO_LARGE_STRING_SIZE", 321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN", 376: "CANNOT_PARSE_UUID",
    407: "DECIMAL_OVERFLOW", 467: "CANNOT_PARSE_BOOL", 469: "VIOLATED_CONSTRAINT",
}
#: TOO_MANY_PARTS (252) is transient (merges behind), except for this message: one block
#: over more than `max_partitions_per_insert_block` partitions
TOO_MANY_PARTITIONS = "Too many partitions for single INSERT block"
_CODE = re.compile(r"Code: (\d+)\.")


def is_deterministic(error: str) -> bool:
    """True when ClickHouse's message names an error a retry of the same data cannot fix."""
    if TOO_MANY_PARTITIONS in error:
        return True
    codes = {int(c) for c in _CODE.findall(error)}
    return bool(codes & DETERMINISTIC_CODES.keys()) or any(
        f"({name})" in error for name in DETERMINISTIC_CODES.values())


@dataclass(frozen=True)
class Rejected:
    """One row ClickHouse refused on its own, with ClickHouse's reason."""

    table: str
    row: dict[str, Any]
    error: str


def insert_splitting(send: Callable[[int, int, str | None], None], rows: int,
                     row_at: Callable[[int], dict[str, Any]], table: str,
                     token: str | None) -> list[Rejected]:
    """`send(start, stop, token)` the rows [0, rows); split on deterministic errors.

    Returns the rows refused one by one (nothing when the whole block went in). A transient
    error propagates, whatever part it hit (the parts already in are deduplicated on retry).
    """
    rejected: list[Rejected] = []

    def part(start: int, stop: int, part_token: str | None) -> None:
        try:
            send(start, stop, part_token)
        except SqlError as exc:
            if not is_deterministic(str(exc)):
                raise
            if stop - start == 1:
                rejected.append(Rejected(table, row_at(start), str(exc)))
                return
            mid = (start + stop) // 2
            for lo, hi in ((start, mid), (mid, stop)):
                part(lo, hi, f"{token}|{lo}-{hi}" if token else None)

    part(0, rows, token)
    return rejected
