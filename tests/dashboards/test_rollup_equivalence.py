"""Panels rewritten for speed (0010 rollups, day bounds) return exactly what the old SQL returned.

The old SQL is kept here as the reference. Both run on the real engine, in a database of their
own (`tl_rollups`, next to the package's seeded `touchline`: chdb allows one engine per process),
over generated activities: two tenants, teams, reps (one moves team), cadences, dispositions,
rows on the range's and hours' edges, rows more than 7 days late, rows in the future, and a
block inserted twice with the same deduplication token. The first half of the rows is written
before migration 0010 exists (so its backfill must cover them), the rest through the views.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest

from touchline.dashboards import coaching, ops, rep_view
from touchline.dashboards import queries as q
from touchline.dashboards.local.catalog import dashboard
from touchline.dashboards.local.macros import ALL, QueryContext, VariableValue, expand
from touchline.dashboards.local.sqlcheck import MAX_POINTS, range_seconds
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.migrations import migrate, migration_files, statements
from touchline.sinks.rows import activities_table

pytestmark = pytest.mark.integration

DB = "tl_rollups"
ROLLUPS = "0010_panel_rollups"
TENANTS = ("acme", "globex")
TEAMS = ("team-a", "team-b")
REPS = {f"r-{i}": TEAMS[i % 2] for i in range(1, 7)}
MOVER = "r-3"  # moves from team-b to team-a half-way: rows keep the team they were logged with
CADENCES = ("cad-1", "cad-2")
DISPOSITIONS = ("qualify", "disqualify", "archive", "nurture", "callback")
SOURCES = ("salesloft", "aircall", "outreach")

# --- the reference: the panels' SQL before the rollups (raw `activities` rows) -------------------

OLD_OPS_EVENTS_BY_SOURCE = f"""SELECT $__timeInterval(ingested_at) AS time, source,
       count() / $__interval_s AS events_per_s
FROM touchline.activities
WHERE {q.TENANT}
  AND occurred_at >= $__fromTime - INTERVAL 7 DAY
  AND $__timeFilter(ingested_at)
GROUP BY time, source
ORDER BY time"""

OLD_COACH_ACTIVITY_VS_PLAN = f"""SELECT r.rep_id AS rep, r.name AS rep_name, t.activity AS activity,
       ifNull(d.done, 0) AS done_this_week, t.weekly_target AS weekly_target,
       round(t.weekly_target * dateDiff('second', toStartOfWeek(now('UTC'), 1), now('UTC'))
             / (7 * 86400), 1) AS due_by_now
FROM {q.CURRENT_REPS} AS r
INNER JOIN {q.CURRENT_TARGETS} AS t ON t.tenant = r.tenant AND t.role = r.role
LEFT JOIN (
    SELECT rep_id, arrayJoin({q.PLAN_ACTIVITIES}) AS activity, count() AS done
    FROM touchline.activities
    WHERE {q.TENANT} AND occurred_at >= toStartOfWeek(now('UTC'), 1) AND {q.TEAM}
    GROUP BY rep_id, activity) AS d ON d.rep_id = r.rep_id AND d.activity = t.activity
WHERE r.{q.TENANT} AND r.{q.TEAM} AND $__conditionalAll(r.rep_id IN (${{rep:singlequote}}), $rep)
  AND t.activity IN ('call_attempts', 'connected_calls', 'emails_sent', 'meetings_held')
ORDER BY rep, activity"""

OLD_COACH_REP_SPREAD = f"""SELECT rep_id AS rep, countIf(is_touch = 1) AS touches,
       countIf(type = 'call' AND outcome = 'connected') AS connected_calls,
       countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held,
       uniqExactIf(prospect_id, is_touch = 1 AND prospect_id != '') AS prospects_touched,
       round(touches / greatest(1, median(touches) OVER ()), 2) AS touches_vs_team_median
FROM touchline.activities
WHERE {q.TENANT} AND $__timeFilter(occurred_at) AND {q.TEAM} AND {q.REPS_ANY}
GROUP BY rep
ORDER BY touches DESC"""

OLD_COACH_TOUCH_DISTRIBUTION = f"""SELECT touches_received, count() AS prospects
FROM (
    SELECT prospect_id,
           if(countIf(is_touch = 1) >= 8, '8+', toString(countIf(is_touch = 1)))
               AS touches_received
    FROM touchline.activities
    WHERE {q.TENANT} AND $__timeFilter(occurred_at) AND {q.TEAM} AND {q.REPS_ANY}
      AND prospect_id != ''
    GROUP BY prospect_id)
GROUP BY touches_received
ORDER BY touches_received"""

#: panel constant -> (its old SQL, dashboard uid)
REWRITTEN = {
    "OPS_EVENTS_BY_SOURCE": (OLD_OPS_EVENTS_BY_SOURCE, ops.UID),
    "COACH_ACTIVITY_VS_PLAN": (OLD_COACH_ACTIVITY_VS_PLAN, coaching.UID),
    "COACH_REP_SPREAD": (OLD_COACH_REP_SPREAD, coaching.UID),
    "COACH_TOUCH_DISTRIBUTION": (OLD_COACH_TOUCH_DISTRIBUTION, coaching.UID),
}

# --- generated data ------------------------------------------------------------------------------


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


@dataclass(frozen=True)
class Clock:
    """The moment the data was made and the panel ranges it is checked over."""

    now: dt.datetime

    def ranges(self, uid: str) -> list[tuple[dt.datetime, dt.datetime]]:
        """The dashboard's default range ending now, on a whole second and mid-hour."""
        seconds = {ops.UID: 6 * 3600, coaching.UID: 7 * 86400, rep_view.UID: 7 * 86400}[uid]
        ends = [self.now, self.now.replace(minute=0, second=0) - dt.timedelta(hours=2),
                self.now - dt.timedelta(minutes=37, seconds=13)]
        return [(end - dt.timedelta(seconds=seconds), end) for end in ends]


def _activity(rnd: random.Random, n: int, tenant: str, at: dt.datetime,
              ingested: dt.datetime | None = None) -> dict[str, Any]:
    rep = rnd.choice(sorted(REPS))
    team = REPS[rep]
    if rep == MOVER and rnd.random() < 0.5:
        team = "team-a"
    prospect = rnd.randrange(40)
    kind = rnd.choices(["call", "email", "meeting", "disposition", "stage_change"],
                       [45, 35, 8, 8, 4])[0]
    row: dict[str, Any] = {
        "event_id": f"e-{n}", "tenant": tenant, "type": kind, "occurred_at": _ms(at),
        "source": rnd.choice(SOURCES), "rep_id": rep, "team_id": team,
        "account_id": f"acct-{prospect % 7}", "prospect_id": "" if rnd.random() < 0.05
        else f"p-{prospect}", "opportunity_id": "", "cadence_id": "", "cadence_step": 0,
        "channel": "", "is_touch": 0, "direction": "", "outcome": "", "duration_s": 0,
        "email_action": "", "meeting_status": "", "from_stage": "", "to_stage": "",
        "disposition": "", "lead_status": "", "schema_version": 1,
        "ingested_at": _ms(ingested or at + dt.timedelta(seconds=rnd.uniform(0.1, 40))),
        "kafka_partition": n % 4, "kafka_offset": n, "motion": "", "product_line": ""}
    if kind == "call":
        row.update(channel="call", direction=rnd.choice(["outbound", "outbound", "inbound"]),
                   outcome=rnd.choice(["connected", "no_answer", "voicemail"]))
        row["is_touch"] = int(row["direction"] == "outbound")
    elif kind == "email":
        row.update(channel="email", email_action=rnd.choice(["sent", "sent", "opened"]))
        row["is_touch"] = int(row["email_action"] == "sent")
    elif kind == "meeting":
        row.update(channel="meeting", meeting_status=rnd.choice(["held", "scheduled"]))
        row["is_touch"] = int(row["meeting_status"] == "held")
    elif kind == "disposition":
        row["disposition"] = rnd.choice(DISPOSITIONS)
    else:
        row.update(opportunity_id=f"opp-{prospect}", from_stage="demo", to_stage="proposal")
    if row["is_touch"] and row["prospect_id"] and rnd.random() < 0.8:
        row.update(cadence_id=f"cad-{1 + prospect % 2}", cadence_step=rnd.randint(1, 6))
    return row


def _edge_times(clock: Clock) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """(occurred, ingested) on the edges the rollups must get right."""
    out: list[tuple[dt.datetime, dt.datetime | None]] = []
    for uid in (ops.UID, coaching.UID):
        for start, end in clock.ranges(uid):
            lo, hi = start.replace(microsecond=0), end.replace(microsecond=0)
            for t in (lo, hi, lo + dt.timedelta(milliseconds=500),
                      hi + dt.timedelta(milliseconds=500), lo - dt.timedelta(milliseconds=1),
                      lo.replace(minute=0, second=0), hi.replace(minute=0, second=0),
                      lo.replace(minute=0, second=0) + dt.timedelta(hours=1)):
                out.append((t, None))
                # arrival edges, each with an event time just inside/outside the 7-day lateness
                for late in (dt.timedelta(days=7), dt.timedelta(days=7, milliseconds=1),
                             dt.timedelta(days=9), dt.timedelta(seconds=5)):
                    out.append((t - late, t))
                    out.append((lo - late, t))
                    out.append((lo - late + dt.timedelta(milliseconds=999), t))
    return out


def _batches(clock: Clock, seed: int = 7) -> list[list[dict[str, Any]]]:
    rnd = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(2400):
        at = clock.now - dt.timedelta(seconds=rnd.uniform(-3600, 33 * 86400))
        rows.append(_activity(rnd, i, rnd.choice(TENANTS), at))
    for j, (at, ingested) in enumerate(_edge_times(clock)):
        rows.append(_activity(rnd, 10_000 + j, rnd.choice(TENANTS), at, ingested))
    rnd.shuffle(rows)
    return [rows[k:k + 300] for k in range(0, len(rows), 300)]


def _dimensions(sink: ClickHouseSink, clock: Clock) -> None:
    start = clock.now - dt.timedelta(days=60)
    plan = {"plan_version": "v1", "effective_from": start}
    inserts = {
        "reps": [{"tenant": t, "rep_id": r, "name": r.upper(), "team_id": team,
                  "role": "sdr" if int(r[2:]) % 3 else "ae", "updated_at": start}
                 for t in TENANTS for r, team in REPS.items()],
        "plan_activity_targets": [
            {**plan, "tenant": t, "role": role, "activity": a, "weekly_target": 10 + k}
            for t in TENANTS for role in ("sdr", "ae")
            for k, a in enumerate(["call_attempts", "connected_calls", "emails_sent",
                                   "meetings_held"])],
        "plan_cadence_steps": [
            {**plan, "tenant": t, "cadence_id": c, "step": s,
             "channel": "email" if s % 2 else "call", "wait_s": (s - 1) * 86400 * (1 + k)}
            for t in TENANTS for k, c in enumerate(CADENCES) for s in range(1, 8)],
    }
    for table, rows in inserts.items():
        sink.backend.insert_arrow(f"{DB}.{table}", pa.Table.from_pylist(rows))


@dataclass(frozen=True)
class Data:
    """The sink with `tl_rollups` filled, and the clock the data was made at."""

    sink: ClickHouseSink
    clock: Clock


def _insert(sink: ClickHouseSink, rows: list[dict[str, Any]], token: str) -> None:
    sink.backend.insert_arrow(f"{DB}.activities", activities_table(rows), token)


@pytest.fixture(scope="module")
def data(seeded) -> Iterator[Data]:
    """Half the rows before 0010 (backfilled), half after (views), one block retried."""
    sink: ClickHouseSink = seeded.sink
    backend = sink.backend
    backend.command(f"DROP DATABASE IF EXISTS {DB}")
    migrate(backend, DB)
    rollups = dict(migration_files())[ROLLUPS]
    # undo 0010 so the first half is written the way a database older than 0010 holds it
    for view in ("activity_by_rep_hour_mv", "prospect_dispositions_mv",
                 "arrivals_by_source_second_mv"):
        backend.command(f"DROP VIEW IF EXISTS {DB}.{view}")  # 0051 dropped the second
    for table in ("activity_by_rep_hour", "prospect_dispositions", "arrivals_by_source_second"):
        backend.command(f"DROP TABLE {DB}.{table}")  # since 0051 the second is a plain view
    backend.command(f"ALTER TABLE {DB}.activities DROP PROJECTION by_rep")
    clock = Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    _dimensions(sink, clock)
    batches = _batches(clock)
    half = len(batches) // 2
    for k, rows in enumerate(batches[:half]):
        _insert(sink, rows, f"t:0:{k}")
    _insert(sink, batches[0], "t:0:0")  # a retry before the migration: dropped
    for _ in range(2):  # the migration applied, then re-run (e.g. after a crash): no double count
        for statement in statements(rollups, DB):
            backend.command(statement)
    for k, rows in enumerate(batches[half:], start=half):
        _insert(sink, rows, f"t:0:{k}")
    _insert(sink, batches[half], f"t:0:{half}")  # a retry through the views: dropped everywhere
    yield Data(sink, clock)
    backend.command(f"DROP DATABASE IF EXISTS {DB}")


def _contexts(clock: Clock, uid: str) -> Iterator[QueryContext]:
    interval_s = max(range_seconds(dashboard(uid).time_from) // MAX_POINTS, 1)
    variants: list[dict[str, VariableValue]]
    if uid == ops.UID:
        variants = [{"tenant": t} for t in (*TENANTS, "nobody")]
    elif uid == coaching.UID:
        variants = [{"tenant": t, "team": team, "rep": rep} for t in TENANTS for team in TEAMS
                    for rep in (ALL, [MOVER], ["r-1", "r-2", MOVER])]
    else:
        variants = [{"tenant": t, "rep": r} for t in TENANTS for r in sorted(REPS)]
    for start, end in clock.ranges(uid):
        for variables in variants:
            yield QueryContext(start, end, interval_s, variables)


def _rows(sink: ClickHouseSink, sql: str, ctx: QueryContext) -> list[tuple[Any, ...]]:
    return sorted(sink.query(expand(sql, ctx).replace("touchline.", f"{DB}.")).rows, key=repr)


def _panel_rows(data: Data, new_sql: str, old_sql: str,
                uid: str) -> Iterator[tuple[list[Any], list[Any], Mapping[str, Any]]]:
    for ctx in _contexts(data.clock, uid):
        yield _rows(data.sink, new_sql, ctx), _rows(data.sink, old_sql, ctx), ctx.variables


@pytest.mark.parametrize("name", sorted(REWRITTEN))
def test_rewritten_panel_returns_what_the_raw_sql_returned(data: Data, name: str) -> None:
    old_sql, uid = REWRITTEN[name]
    new_sql = getattr(q, name)
    assert new_sql != old_sql
    shown = 0
    for new, old, variables in _panel_rows(data, new_sql, old_sql, uid):
        assert new == old, (name, variables)
        shown += len(old)
    assert shown > 0, "the generated data must give every rewritten panel rows to compare"


def test_the_data_covers_the_edges(data: Data) -> None:
    sql = (f"SELECT countIf(occurred_at < ingested_at - INTERVAL 7 DAY), "
           f"countIf(toUnixTimestamp64Milli(ingested_at) % 1000 != 0), "
           f"countIf(disposition IN ('qualify', 'disqualify', 'archive')), uniqExact(tenant), "
           f"uniqExact(rep_id, team_id) FROM {DB}.activities")
    late, off_second, ending, tenants, rep_teams = data.sink.query(sql).rows[0]
    assert late > 50 and off_second > 1000 and ending > 50
    assert tenants == 2 and rep_teams == len(REPS) + 1


def test_retried_blocks_are_counted_once_in_every_rollup(data: Data) -> None:
    raw = data.sink.query(f"SELECT count(), countIf(is_touch = 1) FROM {DB}.activities").rows[0]
    assert raw[0] == sum(len(b) for b in _batches(data.clock))
    rollup = data.sink.query(f"SELECT sum(events), sum(touches) FROM {DB}.activity_by_rep_hour")
    assert rollup.rows[0] == raw
    arrivals = data.sink.query(f"SELECT sum(events) FROM {DB}.arrivals_by_source_second")
    assert arrivals.scalar() == raw[0]


def test_a_broken_rewrite_fails_the_comparison(data: Data) -> None:
    # the comparison must be able to fail: count prospects by a hash that collides, and it does
    hashed = "uniqExactIf(cityHash64(prospect_id),"
    broken = q.COACH_REP_SPREAD.replace(hashed, "uniqExactIf(cityHash64(prospect_id) % 3,")
    assert hashed in q.COACH_REP_SPREAD and broken != q.COACH_REP_SPREAD
    pairs = _panel_rows(data, broken, OLD_COACH_REP_SPREAD, coaching.UID)
    assert any(new != old for new, old, _ in pairs)


def test_rep_panel_reads_the_rep_projection(data: Data) -> None:
    ctx = next(_contexts(data.clock, rep_view.UID))
    sql = expand(q.REP_PROSPECTS_DUE, ctx).replace("touchline.", f"{DB}.")
    plan = "\n".join(r[0] for r in data.sink.query(f"EXPLAIN projections = 1 {sql}").rows)
    assert "by_rep" in plan
