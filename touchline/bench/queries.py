"""Dashboard panel latency over N activity rows generated straight into ClickHouse.

Rows come from `INSERT ... SELECT FROM numbers_mt(N)` into `activities` (the touch_counts MV and
the panel rollups fill from the same insert, as in the pipeline): one tenant, 50 teams, 2,000
reps, 200k accounts, 1M prospects, 50k opportunities, event times spread evenly over the
shape's days and written oldest first (with up to a minute of disorder), as a live pipeline
writes them, the simulator's type mix. The shape (shapes.py) says how rows fall: `dense` packs
them into the last 30 days with any rep on any prospect (100M rows: ~1,700 activities per rep
per day), `org` gives each prospect, account and deal its owner and spreads rows at 100
activities per rep per day (100M rows: 500 days of history). The reps, their weekly targets
and 20 cadences of 8 steps are written too, so the plan panels ("activities vs plan",
"prospects due a touch") join real rows; so are a plan in force (stage SLAs, tiers), each
opportunity's latest stage and the book of accounts, so the rule panels judge real deals and
accounts. Each panel's SQL is expanded exactly as Grafana
would send it (dashboards/local/sqlcheck.py) for the dashboard's default range, then run `runs`
times on the embedded engine in this process (after one warm-up run); p50/p95 are wall times of
`sink.query` (engine + result transfer). touchline/bench/viewers.py loads the same rows through
the store with several dashboards at once.

Generation speed: the raw insert alone runs at ~1.6M rows/s (numbers_mt, 2 cores); the
materialized views it feeds (touch_counts, the 0010 panel rollups) take ~90% of the time, as
nearly every (prospect, hour) key of touch_counts is new. Writing rows oldest first lets each
insert block fold into a few thousand rep-hour / arrival-second rollup rows (random order left
the rollups as large as the raw rows until background merges caught up, which a live pipeline
never sees). max_insert_threads, larger blocks and parallel_view_processing gave nothing
measurable here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from touchline.bench.shapes import ACCOUNTS, DIMENSIONS_LEAD_DAYS, REPS, SHAPES, TEAMS, Shape
from touchline.dashboards.local.catalog import dashboards
from touchline.dashboards.local.macros import ALL
from touchline.dashboards.local.sqlcheck import expanded
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SqlError

#: variable values per dashboard uid (a team and a rep that exist in the generated data)
VARIABLES: dict[str, dict[str, Any]] = {
    "touchline-ops": {"tenant": "acme"},
    "touchline-coaching": {"tenant": "acme", "team": "team-7", "rep": ALL},
    "touchline-rep": {"tenant": "acme", "rep": "r-7"},
}

#: the generated columns, named so columns added later with a DEFAULT (0008: motion,
#: product_line) keep their default instead of breaking the insert
COLUMNS = ("event_id, tenant, type, occurred_at, source, rep_id, team_id, account_id, prospect_id,"
           " opportunity_id, cadence_id, cadence_step, channel, is_touch, direction, outcome,"
           " duration_s, email_action, meeting_status, from_stage, to_stage, disposition,"
           " lead_status, schema_version, ingested_at, kafka_partition, kafka_offset")

GENERATE = """
INSERT INTO touchline.activities ({columns})
SELECT
    concat('g-', toString(number)) AS event_id,
    'acme' AS tenant,
    multiIf(k < 50, 'call', k < 90, 'email', k < 95, 'meeting', k < 98, 'stage_change',
            'disposition') AS type,
    fromUnixTimestamp64Milli(toInt64({now_ms:Int64} - h % 60000
        - intDiv(({rows:UInt64} - 1 - number) * ({span_ms:UInt64} - 60000), {rows:UInt64})),
        'UTC')
        AS occurred_at,
    'simulator' AS source,
    concat('r-', toString(rep)) AS rep_id,
    concat('team-', toString(rep % {teams})) AS team_id,
    concat('acct-', toString(h % {accounts})) AS account_id,
    concat('p-', toString(h % 1000000)) AS prospect_id,
    if(k >= 95 AND k < 98, concat('opp-', toString({opportunity})), '')
        AS opportunity_id,
    concat('cad-', toString(h % 20)) AS cadence_id,
    toUInt8(1 + h % 8) AS cadence_step,
    multiIf(k < 50, 'call', k < 90, 'email', k < 95, 'meeting', '') AS channel,
    toUInt8(k < 95) AS is_touch,
    if(k < 50, 'outbound', '') AS direction,
    if(k < 50, ['connected', 'no_answer', 'voicemail', 'busy'][1 + h % 4], '') AS outcome,
    toUInt32(if(k < 50, h % 600, 0)) AS duration_s,
    if(k >= 50 AND k < 90, 'sent', '') AS email_action,
    if(k >= 90 AND k < 95, 'held', '') AS meeting_status,
    if(k >= 95 AND k < 98, 'discovery', '') AS from_stage,
    if(k >= 95 AND k < 98, 'proposal', '') AS to_stage,
    if(k >= 98, 'qualify', '') AS disposition,
    '' AS lead_status,
    toUInt8(1) AS schema_version,
    fromUnixTimestamp64Milli(toInt64({now_ms:Int64}), 'UTC') AS ingested_at,
    toUInt16(number % 4) AS kafka_partition,
    number AS kafka_offset
FROM (SELECT number, cityHash64(number) AS h, {kind} AS k, {rep} AS rep
      FROM numbers_mt({start:UInt64}, {count:UInt64}))
"""


#: the plan version in force, its stage SLAs and tier limits: the coaching rule views
#: (sinks/ddl/0013_rules.sql) judge deals, accounts and cadences only under a plan version
#: (generated deals sit in 'proposal', 0-30 days, so some are past its 21-day SLA)
PLAN_RULES = [
    """INSERT INTO touchline.plan_versions
        (tenant, plan_version, effective_from, loaded_at, stages, closed_stages,
         default_segment, default_tier, default_role, cadence_behind_steps,
         cadence_behind_min_prospects, cadence_grace_s, activity_mix_min_ratio,
         activity_mix_min_elapsed_s, source, idle_rep_after_s, deal_inactive_after_s)
    VALUES ('acme', 'bench', {dimensions_from}, now64(3, 'UTC'),
            ['discovery', 'proposal', 'negotiation', 'won', 'lost'], ['won', 'lost'],
            'mid_market', 'standard', 'sdr', 2, 5, 86400, 0.5, 86400, 'bench', 172800,
            1209600)""",
    """INSERT INTO touchline.plan_stage_slas
        (tenant, plan_version, effective_from, segment, stage, sla_s)
    SELECT 'acme', 'bench', {dimensions_from}, 'mid_market', stage, days * 86400
    FROM (SELECT arrayJoin([('discovery', 14), ('proposal', 21), ('negotiation', 14)]) AS s,
                 s.1 AS stage, s.2 AS days)""",
    """INSERT INTO touchline.plan_tiers
        (tenant, plan_version, effective_from, tier, untouched_after_s, speed_to_lead_s)
    VALUES ('acme', 'bench', {dimensions_from}, 'standard', 1209600, 3600)""",
]

#: the plan and dimension rows the panels join (reps as generated: shapes.py)
PLAN = [
    """INSERT INTO touchline.reps (tenant, rep_id, name, team_id, role, updated_at)
    SELECT 'acme', concat('r-', toString(number)), concat('Rep ', toString(number)),
           concat('team-', toString(number % {teams})), if(number % 3 = 0, 'ae', 'sdr'),
           {dimensions_from}
    FROM numbers({reps})""",
    """INSERT INTO touchline.plan_activity_targets
        (tenant, plan_version, effective_from, role, activity, weekly_target)
    SELECT 'acme', 'bench', {dimensions_from}, role, activity, 50
    FROM (SELECT arrayJoin(['sdr', 'ae']) AS role) AS roles
    CROSS JOIN (SELECT arrayJoin(['call_attempts', 'connected_calls', 'emails_sent',
                                  'meetings_held']) AS activity) AS activities""",
    """INSERT INTO touchline.plan_cadence_steps
        (tenant, plan_version, effective_from, cadence_id, step, channel, wait_s)
    SELECT 'acme', 'bench', {dimensions_from},
           concat('cad-', toString(intDiv(number, 8))), toUInt8(1 + number % 8),
           if(number % 2 = 0, 'email', 'call'), if(number % 8 = 0, 0, 86400 * (1 + number % 3))
    FROM numbers(160)""",
    *PLAN_RULES,
]


#: rows the worker writes beside activities (streams/recording.py), derived from the generated
#: ones: each opportunity's latest stage, and the book of accounts (tier and segment left to
#: the plan's defaults)
DERIVED = [
    """INSERT INTO touchline.opportunity_state
        (tenant, opportunity_id, account_id, rep_id, team_id, current_stage, stage_entered_at,
         first_seen_at, stage_changes, is_closed, version)
    SELECT tenant, opportunity_id, argMax(account_id, occurred_at), argMax(rep_id, occurred_at),
           argMax(team_id, occurred_at), argMax(to_stage, occurred_at), max(occurred_at),
           min(occurred_at), count(), 0, 1
    FROM touchline.activities
    WHERE type = 'stage_change' AND opportunity_id != ''
    GROUP BY tenant, opportunity_id""",
    """INSERT INTO touchline.accounts
        (tenant, account_id, name, tier, segment, team_id, owner_rep_id, updated_at)
    SELECT 'acme', concat('acct-', toString(number)), concat('Account ', toString(number)),
           '', '', concat('team-', toString(number % {teams})),
           concat('r-', toString(number % {reps})), {dimensions_from}
    FROM numbers({accounts})""",
]


def percentile(values: list[float], q: float) -> float:
    """The `q`th percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def generate(command: Callable[[str], None], rows: int, chunk: int = 10_000_000,
             shape: str | Shape = "dense") -> float:
    """Insert `rows` generated activities of `shape` in chunks through `command`; seconds taken."""
    form = SHAPES[shape] if isinstance(shape, str) else shape
    days = form.days(rows)
    now_ms = int(time.time() * 1000)
    since = f"now64(3, 'UTC') - INTERVAL {days + DIMENSIONS_LEAD_DAYS} DAY"

    def org(statement: str) -> str:  # the org's sizes and when its dimensions start
        return (statement.replace("{dimensions_from}", since).replace("{reps}", str(REPS))
                .replace("{teams}", str(TEAMS)).replace("{accounts}", str(ACCOUNTS)))

    started = time.monotonic()
    for statement in PLAN:
        command(org(statement))
    for start in range(0, rows, chunk):
        command(org(GENERATE).replace("{columns}", COLUMNS)
                .replace("{rep}", form.rep).replace("{kind}", form.kind)
                .replace("{opportunity}", form.opportunity)
                .replace("{span_ms:UInt64}", str(days * 86_400_000))
                .replace("{now_ms:Int64}", str(now_ms)).replace("{rows:UInt64}", str(rows))
                .replace("{start:UInt64}", str(start))
                .replace("{count:UInt64}", str(min(chunk, rows - start))))
    for statement in DERIVED:
        command(org(statement))
    return time.monotonic() - started


def time_panels(sink: ClickHouseSink, runs: int) -> list[dict[str, Any]]:
    """p50/p95 latency of every dashboard panel's expanded SQL."""
    out = []
    for board in dashboards():
        variables = VARIABLES.get(board.uid, {"tenant": "acme"})
        for panel in board.panels:
            sql = expanded(panel, variables)
            entry: dict[str, Any] = {"dashboard": board.uid, "panel": panel.title}
            try:
                sink.query(sql)  # warm-up (marks, caches), not counted
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    result = sink.query(sql)
                    times.append((time.perf_counter() - t) * 1000)
                entry.update(rows_returned=len(result.rows),
                             p50_ms=round(percentile(times, 50), 1),
                             p95_ms=round(percentile(times, 95), 1),
                             mean_ms=round(statistics.fmean(times), 1))
            except SqlError as exc:
                entry.update(error=str(exc)[:300], p50_ms=float("nan"), p95_ms=float("nan"))
            out.append(entry)
    return out


def run(directory: Path, rows: int, runs: int, log: Callable[[str], None],
        shape: str = "dense") -> dict[str, Any]:
    """Generate `rows` activities of `shape` in a fresh engine directory and time every panel."""
    directory.mkdir(parents=True, exist_ok=True)
    sink = ClickHouseSink(f"chdb://{directory.resolve()}").start()
    try:
        sink.ensure_schema()
        seconds = generate(sink.command, rows, shape=shape)
        log(f"  generated {rows:,} rows ({shape}) in {seconds:.1f}s; optimising nothing, "
            "timing panels")
        counted = int(sink.query("SELECT count() FROM touchline.activities").scalar())
        parts = int(sink.query("SELECT count() FROM system.parts WHERE active AND "
                               "database = 'touchline' AND table = 'activities'").scalar())
        panels = time_panels(sink, runs)
    finally:
        sink.close()
    return {"rows": counted, "shape": shape, "history_days": SHAPES[shape].days(rows),
            "generate_seconds": round(seconds, 1),
            "generate_rows_per_s": round(rows / seconds), "active_parts": parts,
            "runs_per_panel": runs, "panels": panels}
