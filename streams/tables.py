"""Faust tables (state with changelog topics, recovered on restart and rebalance).

- stage_history_by_opportunity: "tenant|opportunity" -> stage changes seen, as
  lists (streams/dwell.py `Change`). Kept as a set by event_id, so replaying a change
  after a crash is harmless.

Watermarks are not a table: each tenant's watermark on a partition is its latest row there,
read back from ClickHouse with the dedup window (streams/recording.py `TenantWindows`).
"""

from __future__ import annotations

from touchline.streams.app import app

stage_history_by_opportunity = app.Table(
    "stage_history_by_opportunity", default=list
)

CHANGELOG_TABLES = ("stage_history_by_opportunity",)
