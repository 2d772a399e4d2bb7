"""Write the reps and accounts dimension tables (ReplacingMergeTree: latest row wins).

`touchline org load` (touchline/org/tables.py) and the simulator fill them; every view that
names, tiers or segments a rep or an account reads them.
"""

from __future__ import annotations

import time
from typing import Any

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import arrow_table

REP_COLUMNS = {"tenant": "str", "rep_id": "str", "name": "str", "team_id": "str",
               "role": "str", "updated_at": "ts"}
ACCOUNT_COLUMNS = {"tenant": "str", "account_id": "str", "name": "str", "tier": "str",
                   "segment": "str", "industry": "str", "team_id": "str",
                   "owner_rep_id": "str", "updated_at": "ts"}
#: columns a row may leave out (an empty string is written)
OPTIONAL = {"industry"}


def write_dimensions(sink: ClickHouseSink, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Upsert `reps` and `accounts` rows."""
    now = int(time.time() * 1000)
    for table, columns in (("reps", REP_COLUMNS), ("accounts", ACCOUNT_COLUMNS)):
        defaults = dict.fromkeys(OPTIONAL & columns.keys(), "")
        data = [{**defaults, **r, "updated_at": now} for r in rows.get(table, [])]
        if data:
            sink.insert(table, arrow_table(data, columns))
