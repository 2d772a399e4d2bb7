"""Motion and product line through the real pipeline: broker -> workers -> ClickHouse -> view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from click.testing import CliRunner

from touchline.plan.cli import report

pytestmark = pytest.mark.integration
TENANT = "motion"


def _event(n: int, kind: str, rep: str, at: datetime, **fields: object) -> bytes:
    doc = {"event_id": f"mv-{n}", "tenant": TENANT, "type": kind, "occurred_at": at.isoformat(),
           "source": "test", "rep_id": rep, "team_id": "team-1", "account_id": "acc-1"}
    doc.update(fields)
    return orjson.dumps(doc)


def _events(base: datetime) -> list[bytes]:
    acq = {"motion": "acquisition", "product_line": "platform"}
    out = []
    for rep, meetings in (("rep-a", 2), ("rep-b", 5)):
        for i in range(10):
            at = base + timedelta(seconds=len(out))
            if i < meetings:
                out.append(_event(len(out), "meeting", rep, at, status="held", **acq))
            else:
                out.append(_event(len(out), "call", rep, at, outcome="no_answer", **acq))
    for _ in range(3):  # no motion, no product line
        out.append(_event(len(out), "email", "rep-a", base + timedelta(seconds=len(out)),
                          action="sent"))
    out.append(_event(len(out), "stage_change", "rep-a", base, opportunity_id="opp-1",
                      to_stage="discovery", motion="upsell", product_line="analytics"))
    out.append(_event(len(out), "stage_change", "rep-a", base + timedelta(minutes=5),
                      opportunity_id="opp-1", from_stage="discovery", to_stage="won"))
    return out


def test_motion_and_product_line_flow_into_the_view_and_report(pipeline_factory):
    p = pipeline_factory()
    events = _events(datetime.now(UTC) - timedelta(minutes=20))
    p.produce(events)
    p.wait_rows("activities", len(events))
    p.wait_settled()
    got = {(m, pl, rep): (t, mh, o, w) for m, pl, rep, t, mh, o, w in p.rows(
        "SELECT motion, product_line, rep_id, sum(touches), sum(meetings_held), "
        "sum(opportunities_opened), sum(opportunities_won) FROM {db}.motion_week_variation "
        "WHERE tenant = {t:String} GROUP BY ALL", t=TENANT)}
    assert got == {
        ("acquisition", "platform", "rep-a"): (10, 2, 0, 0),
        ("acquisition", "platform", "rep-b"): (10, 5, 0, 0),
        ("unspecified", "unspecified", "rep-a"): (3, 0, 0, 0),
        ("upsell", "analytics", "rep-a"): (0, 0, 1, 1),
    }
    result = CliRunner().invoke(report, ["variation", "--weeks", "2", "--motion", "acquisition",
                                         "--format", "json", "--tenant", TENANT],
                                obj={"sink": p.sink})
    assert result.exit_code == 0, result.output
    groups = {g["group"]: (g["hits"], g["n"], g["peers_hits"], g["peers_n"])
              for g in json.loads(result.output)["groups"]}
    assert groups == {"rep-a": (2, 10, 5, 10), "rep-b": (5, 10, 2, 10)}
