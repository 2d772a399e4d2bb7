"""Faust tables (state with changelog topics, recovered on restart and rebalance).

- stage_history_by_opportunity: "tenant|opportunity" -> stage changes seen, as
  [occurred_ms, event_id, from_stage, to_stage, account_id, rep_id, team_id] lists. Kept as a
  set by event_id, so replaying a change after a crash is harmless.
- watermark_by_partition: activities partition -> highest accepted event time (ms), updated
  once per message after its rows are durable in ClickHouse.
"""

from __future__ import annotations

from touchline.streams.app import app

stage_history_by_opportunity = app.Table(
    "stage_history_by_opportunity", default=list
)
watermark_by_partition = app.Table(
    "watermark_by_partition", default=int
)

CHANGELOG_TABLES = ("stage_history_by_opportunity", "watermark_by_partition")
