"""A real embedded ClickHouse (chdb) with realistic recent demo data for the dashboard tests.

The seed holds known truth for the alert rules:
- fires: opp-stuck (smb deal 20 d in proposal, SLA 7 d), acc-quiet (tier A, no touch in 90 d),
  rep r-west-1 (3 prospects 4 steps behind on outbound-8), lead p-lead-late (tier A, 3 h, SLA 1 h);
- must not fire: opp-ent (enterprise deal 40 d in proposal, SLA 120 d), opp-fresh (smb, 2 d),
  acc-busy (touched yesterday), rep r-east-1 (on cadence), lead p-lead-ok (touched in 10 min),
  the DLQ (4 rejects in 5 min) and the pipeline (workers reported seconds ago).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack import services

TENANT = "acme"
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Seeded:
    """Handles the tests need: the sink, its data dir, and the moment the seed was made."""

    sink: ClickHouseSink
    data_dir: Path
    now: dt.datetime


def _at(now: dt.datetime, ago: dt.timedelta) -> dt.datetime:
    return now - ago


_ids = itertools.count(1)


def _activity(now: dt.datetime, ago: dt.timedelta, type_: str, rep: str, team: str,
              account: str, **kw: Any) -> dict[str, Any]:
    occurred = now - ago
    row = {
        "event_id": f"ev-{next(_ids):06d}", "tenant": TENANT, "type": type_,
        "occurred_at": occurred, "source": kw.pop("source", "salesloft"), "rep_id": rep,
        "team_id": team, "account_id": account, "ingested_at": occurred + dt.timedelta(seconds=2),
        "schema_version": 1, "kafka_partition": next(_ids) % 4, "kafka_offset": next(_ids),
    }
    channel = {"call": "call", "email": "email", "meeting": "meeting"}.get(type_, "")
    is_touch = (
        (type_ == "call" and kw.get("direction", "outbound") == "outbound")
        or (type_ == "email" and kw.get("email_action") == "sent")
        or (type_ == "meeting" and kw.get("meeting_status") == "held")
    )
    row.update({"channel": channel, "is_touch": int(is_touch)})
    if type_ == "call":
        kw.setdefault("direction", "outbound")
    row.update(kw)
    return row


def _activities(now: dt.datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # r-east-1 (sdr): steady calls and emails through the week on acc-busy, a cadence on track
    for i in range(40):
        ago = dt.timedelta(hours=1 + i * 3)
        rows.append(_activity(now, ago, "call", "r-east-1", "team-east", "acc-busy",
                              prospect_id=f"p-busy-{i % 6}",
                              outcome="connected" if i % 3 == 0 else "no_answer",
                              source="aircall" if i % 2 else "salesloft"))
        rows.append(_activity(now, ago + dt.timedelta(minutes=20), "email", "r-east-1",
                              "team-east", "acc-busy", prospect_id=f"p-busy-{i % 9}",
                              email_action="sent", source="outreach"))
    for i in range(4):
        rows.append(_activity(now, dt.timedelta(hours=5 + i * 20), "meeting", "r-east-2",
                              "team-east", "acc-stuck" if i % 2 else "acc-ent",
                              meeting_status="held", source="hubspot"))
    # cadence on track: started 2 days ago, steps 1 and 2 done (step 3 due after 3 d + grace)
    for p in ("p-on-1", "p-on-2", "p-on-3"):
        rows.append(_activity(now, 2 * DAY, "email", "r-east-1", "team-east", "acc-busy",
                              prospect_id=p, cadence_id="outbound-8", cadence_step=1,
                              email_action="sent"))
        rows.append(_activity(now, DAY - HOUR, "call", "r-east-1", "team-east", "acc-busy",
                              prospect_id=p, cadence_id="outbound-8", cadence_step=2,
                              outcome="no_answer"))
    # cadence behind: r-west-1 started 10 days ago, only step 1 done
    for p in ("p-behind-1", "p-behind-2", "p-behind-3"):
        rows.append(_activity(now, 10 * DAY, "email", "r-west-1", "team-west", "acc-west",
                              prospect_id=p, cadence_id="outbound-8", cadence_step=1,
                              email_action="sent"))
    # recent touches on the deal accounts (they are not "untouched")
    for acc in ("acc-stuck", "acc-ent", "acc-west"):
        rows.append(_activity(now, 2 * HOUR, "call", "r-east-2" if acc != "acc-west"
                              else "r-west-1", "team-east" if acc != "acc-west" else "team-west",
                              acc, outcome="connected"))
    # speed to lead: one lead waiting 3 h untouched (tier A: 1 h), one touched within 10 min
    rows.append(_activity(now, 3 * HOUR, "lead", "r-east-1", "team-east", "acc-busy",
                          prospect_id="p-lead-late", lead_status="created", source="webform"))
    rows.append(_activity(now, 2 * HOUR, "lead", "r-east-1", "team-east", "acc-busy",
                          prospect_id="p-lead-ok", lead_status="created", source="webform"))
    rows.append(_activity(now, 2 * HOUR - dt.timedelta(minutes=10), "call", "r-east-1",
                          "team-east", "acc-busy", prospect_id="p-lead-ok", outcome="connected"))
    # stage changes (the raw events behind opportunity_state)
    rows.append(_activity(now, 20 * DAY, "stage_change", "r-east-2", "team-east", "acc-stuck",
                          opportunity_id="opp-stuck", from_stage="demo", to_stage="proposal"))
    rows.append(_activity(now, 2 * DAY, "stage_change", "r-east-1", "team-east", "acc-busy",
                          opportunity_id="opp-fresh", from_stage="", to_stage="discovery"))
    # a HubSpot stage of a custom pipeline the stage map does not know: kept as sent
    rows.append(_activity(now, 3 * DAY, "stage_change", "r-west-1", "team-west", "acc-west",
                          opportunity_id="opp-custom", to_stage="1029384",
                          vendor_stage="1029384", source="hubspot"))
    return rows


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    # from_pylist takes its columns from the first row: give every row every key
    keys = list(dict.fromkeys(k for row in rows for k in row))
    sample = {k: next(r[k] for r in rows if k in r) for k in keys}
    empty = {k: "" if isinstance(v, str) else 0 for k, v in sample.items()}
    return pa.Table.from_pylist([{k: row.get(k, empty[k]) for k in keys} for row in rows])


def seed(sink: ClickHouseSink, now: dt.datetime) -> None:
    """Insert the demo data (touch_counts fills itself from activities)."""
    start = now - 30 * DAY
    sink.insert("reps", _table([
        {"tenant": TENANT, "rep_id": r, "name": n, "team_id": t, "role": role,
         "updated_at": start}
        for r, n, t, role in [("r-east-1", "Ana East", "team-east", "sdr"),
                              ("r-east-2", "Ben East", "team-east", "ae"),
                              ("r-west-1", "Cy West", "team-west", "sdr")]]))
    sink.insert("accounts", _table([
        {"tenant": TENANT, "account_id": a, "name": n, "tier": tier, "segment": seg,
         "team_id": t, "owner_rep_id": r, "updated_at": start}
        for a, n, tier, seg, t, r in [
            ("acc-stuck", "Stuck Co", "B", "smb", "team-east", "r-east-2"),
            ("acc-ent", "Enterprise Inc", "B", "enterprise", "team-east", "r-east-2"),
            ("acc-busy", "Busy GmbH", "A", "smb", "team-east", "r-east-1"),
            ("acc-quiet", "Quiet Ltd", "A", "mid_market", "team-west", "r-west-1"),
            ("acc-west", "West BV", "C", "mid_market", "team-west", "r-west-1")]]))
    plan = {"tenant": TENANT, "plan_version": "2026.11-v1", "effective_from": start}
    sink.insert("plan_versions", _table([{
        **plan, "loaded_at": start, "stages": ["discovery", "demo", "proposal", "negotiation",
                                               "won", "lost"],
        "closed_stages": ["won", "lost"], "default_segment": "mid_market", "default_tier": "B",
        "default_role": "sdr", "cadence_behind_steps": 2, "cadence_behind_min_prospects": 3,
        "cadence_grace_s": 86400, "activity_mix_min_ratio": 0.5,
        "activity_mix_min_elapsed_s": 86400, "idle_rep_after_s": 3 * 86400,
        "deal_inactive_after_s": 14 * 86400, "source": "tests/dashboards/conftest.py"}]))
    sink.insert("plan_stage_slas", _table([
        {**plan, "segment": seg, "stage": st, "sla_s": days * 86400}
        for seg, slas in {"smb": {"discovery": 5, "demo": 5, "proposal": 7, "negotiation": 10},
                          "mid_market": {"discovery": 14, "demo": 14, "proposal": 21,
                                         "negotiation": 30},
                          "enterprise": {"discovery": 90, "demo": 60, "proposal": 120,
                                         "negotiation": 180}}.items()
        for st, days in slas.items()]))
    sink.insert("plan_tiers", _table([
        {**plan, "tier": t, "untouched_after_s": u * 86400, "speed_to_lead_s": s * 3600}
        for t, u, s in [("A", 7, 1), ("B", 14, 4), ("C", 30, 24)]]))
    sink.insert("plan_activity_targets", _table([
        {**plan, "role": role, "activity": act, "weekly_target": n}
        for role, targets in {"sdr": {"call_attempts": 200, "connected_calls": 40,
                                      "emails_sent": 150, "meetings_held": 10},
                              "ae": {"call_attempts": 60, "connected_calls": 25,
                                     "emails_sent": 80, "meetings_held": 12}}.items()
        for act, n in targets.items()]))
    waits = [0, 1, 2, 2, 3, 3, 4, 5]
    channels = ["email", "call", "email", "call", "call", "email", "call", "email"]
    sink.insert("plan_cadence_steps", _table([
        {**plan, "cadence_id": "outbound-8", "step": i + 1, "channel": c, "wait_s": w * 86400}
        for i, (c, w) in enumerate(zip(channels, waits, strict=True))]))
    sink.insert("activities", _table(_activities(now)))
    deals = [  # opportunity, account, rep, stage, entered
        ("opp-stuck", "acc-stuck", "r-east-2", "proposal", now - 20 * DAY),
        ("opp-ent", "acc-ent", "r-east-2", "proposal", now - 40 * DAY),
        ("opp-fresh", "acc-busy", "r-east-1", "discovery", now - 2 * DAY),
    ]
    sink.insert("opportunity_state", _table([
        {"tenant": TENANT, "opportunity_id": o, "account_id": a, "rep_id": r,
         "team_id": "team-east", "current_stage": s, "stage_entered_at": t,
         "first_seen_at": t - 5 * DAY, "stage_changes": 2, "is_closed": 0, "version": 1}
        for o, a, r, s, t in deals]))
    sink.insert("stage_visits", _table([
        {"tenant": TENANT, "opportunity_id": o, "account_id": a, "rep_id": r,
         "team_id": "team-east", "stage": s, "entered_at": t, "entered_event_id": f"sv-{o}",
         "next_stage": "", "version": 1}
        for o, a, r, s, t in deals]))
    sink.insert("dlq_events", _table([
        {"failed_at": now - dt.timedelta(minutes=m), "reason": "invalid", "error": "bad field",
         "source_topic": "activities.raw", "partition": 0, "offset": 100 + m, "line_no": 1,
         "origin": "test", "event_id": f"bad-{m}", "tenant": TENANT, "payload": "{}",
         "payload_encoding": "utf-8", "payload_bytes": 2, "dlq_partition": 0, "dlq_offset": m}
        for m in (1, 2, 3, 4)]))
    metrics = []
    for k in range(180):  # every 10 s for the last 30 min, two partitions
        ts = now - dt.timedelta(seconds=10 * k)
        for part in (0, 1):
            metrics.append({
                "ts": ts, "worker": "worker-1", "topic": "activities.raw", "partition": part,
                "messages": 20, "events_in": 50, "accepted": 49, "duplicates": 0,
                "rejected": 1, "committed": 10_000 - k, "highwater": 10_010 - k,
                "lag": 10 + part, "max_event_time": ts - dt.timedelta(seconds=3)})
    sink.insert("pipeline_metrics", _table(metrics))
    sink.insert("signals", _table([{  # what the signal evaluator writes: firing, resolved
        "tenant": TENANT, "signal_id": sid, "kind": kind, "status": status,
        "team_id": "team-east", "rep_id": "r-east-2", "subject_type": "opportunity",
        "subject_id": subject, "activity": "advance_deal", "message": f"{subject} past SLA",
        "evidence": "{}", "fired_at": now - HOUR, "version": 1}
        for sid, kind, status, subject in [
            ("sig-1", "stuck_deal", "firing", "opp-stuck"),
            ("sig-2", "stuck_deal", "resolved", "opp-fresh")]]))


def _heartbeat(sink: ClickHouseSink) -> None:
    now = dt.datetime.now(dt.UTC)
    position = 10_000 + int(now.timestamp())  # moving on, a few messages behind
    sink.insert("pipeline_metrics", _table([{
        "ts": now, "worker": "worker-1", "topic": "activities.raw", "partition": part,
        "messages": 0, "events_in": 0, "accepted": 0, "duplicates": 0, "rejected": 0,
        "committed": position, "highwater": position + 10 + part, "lag": 10 + part,
        "max_event_time": now}
        for part in (0, 1)]))


@pytest.fixture(scope="package")  # chdb: one engine path per process at a time
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A chdb engine on a fresh temp dir with the schema applied and the demo data seeded."""
    data_dir = tmp_path_factory.mktemp("dashboards-chdb")
    sink = ClickHouseSink(f"chdb://{data_dir}").start()
    sink.ensure_schema()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    seed(sink, now)
    yield Seeded(sink, data_dir, now)
    sink.close()


@pytest.fixture
def heartbeat(seeded: Seeded) -> Callable[[], None]:
    """Write one progress report per partition, now (what running workers do every second)."""
    return lambda: _heartbeat(seeded.sink)


@pytest.fixture
def free_port() -> int:
    """A TCP port nothing listens on right now (the suite's one helper: stack/services.py)."""
    return services.free_port()
