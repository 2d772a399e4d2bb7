"""Fixtures for the plan tests: one real embedded ClickHouse per test run, a tenant per test.

Scenarios insert canonical rows (activities, opportunity_state, accounts, reps) with known
truth; every query of touchline.plan filters by tenant, so a fresh tenant isolates a test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from touchline.plan.loader import load_plans, parse_plans
from touchline.sinks.clickhouse import ClickHouseSink

TS = pa.timestamp("ms", tz="UTC")
ACTIVITY_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("tenant", pa.string()), ("type", pa.string()),
    ("occurred_at", TS), ("source", pa.string()), ("rep_id", pa.string()),
    ("team_id", pa.string()), ("account_id", pa.string()), ("prospect_id", pa.string()),
    ("opportunity_id", pa.string()), ("cadence_id", pa.string()), ("cadence_step", pa.uint8()),
    ("channel", pa.string()), ("is_touch", pa.uint8()), ("direction", pa.string()),
    ("outcome", pa.string()), ("duration_s", pa.uint32()), ("email_action", pa.string()),
    ("meeting_status", pa.string()), ("from_stage", pa.string()), ("to_stage", pa.string()),
    ("disposition", pa.string()), ("lead_status", pa.string()), ("schema_version", pa.uint8()),
    ("ingested_at", TS), ("kafka_partition", pa.uint16()), ("kafka_offset", pa.uint64()),
    ("motion", pa.string()), ("product_line", pa.string()),
])
OPP_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("opportunity_id", pa.string()), ("account_id", pa.string()),
    ("rep_id", pa.string()), ("team_id", pa.string()), ("current_stage", pa.string()),
    ("stage_entered_at", TS), ("first_seen_at", TS), ("stage_changes", pa.uint32()),
    ("is_closed", pa.uint8()), ("version", pa.uint64()),
])
ACCOUNT_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("account_id", pa.string()), ("name", pa.string()),
    ("tier", pa.string()), ("segment", pa.string()), ("team_id", pa.string()),
    ("owner_rep_id", pa.string()), ("updated_at", TS),
])
VISIT_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("opportunity_id", pa.string()), ("account_id", pa.string()),
    ("rep_id", pa.string()), ("team_id", pa.string()), ("stage", pa.string()),
    ("entered_at", TS), ("entered_event_id", pa.string()), ("exited_at", TS),
    ("next_stage", pa.string()), ("dwell_s", pa.float64()), ("version", pa.uint64()),
    ("vendor_stage", pa.string()),
])
REP_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("rep_id", pa.string()), ("name", pa.string()),
    ("team_id", pa.string()), ("role", pa.string()), ("updated_at", TS),
])
EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"
_counter = itertools.count(1)


@pytest.fixture(scope="package")  # chdb: one engine path per process at a time
def sink(tmp_path_factory: pytest.TempPathFactory) -> ClickHouseSink:
    data = tmp_path_factory.mktemp("plan-chdb")
    s = ClickHouseSink(f"chdb://{data}", database="touchline").start()
    s.ensure_schema()
    yield s
    s.close()


def plan_text(tenant: str, effective_from: dt.datetime, version: str = "v1",
              edits: dict[str, str] | None = None) -> str:
    """The shipped example plan for another tenant / version, with textual edits."""
    text = EXAMPLE_PLAN.read_text()
    text = text.replace("tenant: acme", f"tenant: {tenant}")
    text = text.replace('plan_version: "2026.11-v1"', f'plan_version: "{version}"')
    text = text.replace("effective_from: 2026-11-01T00:00:00Z",
                        f"effective_from: {effective_from.isoformat()}")
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text


class Scenario:
    """Rows with known truth for one tenant."""

    def __init__(self, sink: ClickHouseSink, tenant: str, now: dt.datetime) -> None:
        self.sink, self.tenant, self.now = sink, tenant, now

    def load_plan(self, effective_from: dt.datetime | None = None, version: str = "v1",
                  edits: dict[str, str] | None = None) -> None:
        effective_from = effective_from or self.now - dt.timedelta(days=60)
        plans = parse_plans(plan_text(self.tenant, effective_from, version, edits))
        load_plans(self.sink, plans)

    def activity(self, type: str, at: dt.datetime, rep: str, **fields: Any) -> dict[str, Any]:
        row: dict[str, Any] = {name: None for name in ACTIVITY_SCHEMA.names}
        row.update(event_id=f"e{next(_counter)}-{uuid.uuid4().hex[:8]}", tenant=self.tenant,
                   type=type, occurred_at=at, source="test", rep_id=rep, team_id="team-1",
                   account_id="", prospect_id="", opportunity_id="", cadence_id="",
                   cadence_step=0, channel="", is_touch=0, direction="", outcome="",
                   duration_s=0, email_action="", meeting_status="", from_stage="", to_stage="",
                   disposition="", lead_status="", schema_version=1, ingested_at=at,
                   kafka_partition=0, kafka_offset=0, motion="", product_line="")
        if type == "call":
            row.update(channel="call", direction="outbound", outcome="no_answer")
        elif type == "email":
            row.update(channel="email", email_action="sent")
        elif type == "meeting":
            row.update(channel="meeting", meeting_status="held")
        elif type == "lead":
            row.update(lead_status="created")
        row.update(fields)
        row["is_touch"] = int(
            (row["type"] == "call" and row["direction"] == "outbound")
            or (row["type"] == "email" and row["email_action"] == "sent")
            or (row["type"] == "meeting" and row["meeting_status"] == "held"))
        return row

    def insert_activities(self, rows: list[dict[str, Any]]) -> None:
        self.sink.insert("activities", pa.Table.from_pylist(rows, schema=ACTIVITY_SCHEMA))

    def add(self, type: str, at: dt.datetime, rep: str, **fields: Any) -> None:
        self.insert_activities([self.activity(type, at, rep, **fields)])

    def opportunity(self, opp: str, account: str, rep: str, stage: str,
                    entered_at: dt.datetime, closed: bool = False) -> None:
        row = {"tenant": self.tenant, "opportunity_id": opp, "account_id": account,
               "rep_id": rep, "team_id": "team-1", "current_stage": stage,
               "stage_entered_at": entered_at, "first_seen_at": entered_at,
               "stage_changes": 1, "is_closed": int(closed), "version": next(_counter)}
        self.sink.insert("opportunity_state", pa.Table.from_pylist([row], schema=OPP_SCHEMA))

    def stage_visit(self, opp: str, account: str, rep: str, stage: str, entered_at: dt.datetime,
                    exited_at: dt.datetime | None, next_stage: str,
                    vendor_stage: str = "") -> None:
        row = {"tenant": self.tenant, "opportunity_id": opp, "account_id": account,
               "rep_id": rep, "team_id": "team-1", "stage": stage, "entered_at": entered_at,
               "entered_event_id": f"{opp}-{vendor_stage or stage}", "exited_at": exited_at,
               "next_stage": next_stage, "vendor_stage": vendor_stage,
               "dwell_s": (exited_at - entered_at).total_seconds() if exited_at else None,
               "version": next(_counter)}
        self.sink.insert("stage_visits", pa.Table.from_pylist([row], schema=VISIT_SCHEMA))

    def account(self, account: str, tier: str, segment: str, owner: str = "") -> None:
        row = {"tenant": self.tenant, "account_id": account, "name": account, "tier": tier,
               "segment": segment, "team_id": "team-1", "owner_rep_id": owner,
               "updated_at": self.now - dt.timedelta(days=90)}
        self.sink.insert("accounts", pa.Table.from_pylist([row], schema=ACCOUNT_SCHEMA))

    def rep(self, rep: str, role: str) -> None:
        row = {"tenant": self.tenant, "rep_id": rep, "name": rep, "team_id": "team-1",
               "role": role, "updated_at": self.now - dt.timedelta(days=90)}
        self.sink.insert("reps", pa.Table.from_pylist([row], schema=REP_SCHEMA))


@pytest.fixture
def now() -> dt.datetime:
    """A recent, fixed evaluation time: Thursday noon UTC of the current week."""
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    monday = today - dt.timedelta(days=today.weekday())
    thursday = monday + dt.timedelta(days=3)
    return thursday if thursday <= dt.datetime.now(dt.UTC) else thursday - dt.timedelta(days=7)


@pytest.fixture
def scenario(sink: ClickHouseSink, now: dt.datetime) -> Scenario:
    return Scenario(sink, f"t-{uuid.uuid4().hex[:10]}", now)
