"""The read guard checks a statement's shape once: Grafana's new numbers every refresh reuse it.

On a real engine session (chdb), counting the statements the guard itself runs: the same panel
SQL with another time range needs no new check, a refused statement stays refused whatever its
numbers, and a digit inside a name is part of the name, not a number.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SqlError
from touchline.sinks.read_guard import ReadGuard, verdict_key

pytestmark = pytest.mark.integration

PANEL = ("SELECT toStartOfInterval(occurred_at, INTERVAL 60 second) AS time, count() "
         "FROM touchline.activities WHERE occurred_at >= toDateTime({start}) "
         "AND occurred_at <= toDateTime({end}) AND rep_id = 'r-{rep}' GROUP BY time")


def _counting_guard(engine: ClickHouseSink) -> tuple[ReadGuard, list[str]]:
    ran: list[str] = []

    def run(sql: str, parameters: dict | None) -> list[tuple]:
        ran.append(sql)
        return engine.query(sql, parameters).rows

    return ReadGuard(run), ran


def test_a_panel_with_a_new_time_range_is_not_checked_again(engine) -> None:
    guard, ran = _counting_guard(engine)
    guard.check(PANEL.format(start=1733356800, end=1733443200, rep=7))
    first = len(ran)
    assert first >= 2  # formatQuery and EXPLAIN AST (and the table functions, once)
    for shift in range(1, 30):
        guard.check(PANEL.format(start=1733356800 + shift, end=1733443200 + shift, rep=7))
    guard.check(PANEL.format(start=1, end=2, rep=123))
    assert len(ran) == first


def test_a_refused_statement_stays_refused_with_other_numbers(engine, tmp_path: Path) -> None:
    guard, ran = _counting_guard(engine)
    for port in (8123, 9000, 18123):
        with pytest.raises(SqlError, match="table function"):
            guard.check(f"SELECT * FROM url('http://127.0.0.1:{port}/x', 'RawBLOB') LIMIT 5")
    for seconds in (0, 30):  # refused by the guard, or by the read-only session parsing it
        with pytest.raises(SqlError, match="settings|readonly"):
            guard.check(f"SELECT 1 SETTINGS max_execution_time = {seconds}")
    # an allowed statement's verdict never covers a refused one: they differ beyond numbers
    guard.check("SELECT * FROM numbers(5)")
    with pytest.raises(SqlError, match="table function"):
        guard.check(f"SELECT * FROM file('{tmp_path / 'x5.csv'}', 'RawBLOB')")


def test_digits_inside_names_and_hex_are_kept() -> None:
    assert verdict_key("SELECT a1, t.2, 0x1F, 1e5 FROM db2.t3 WHERE x = 42 LIMIT 10") == \
        "SELECT a1, t.0, 0x1F, 1e5 FROM db2.t3 WHERE x = 0 LIMIT 0"
    assert verdict_key("'2026-12-05 01:02:03'") == "'0-0-0 0:0:0'"
