"""`touchline stages unmapped|map` through a running store, as ops would run them.

Invariant: a stage name that is not a stage of the tenant's plan is kept and listed, with
its source, how many changes and deals carry it and whether the source said it closes the
deal; stages of the plan are never listed; without a plan the command says to load one.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from touchline.cli.main import main
from touchline.schemas.activity import parse_activity
from touchline.schemas.activity_row import activity_row
from touchline.sinks.rows import activities_json

pytestmark = pytest.mark.integration

PLAN = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"  # tenant acme


def _change(n: int, source: str, opp: str, **stage: object) -> dict:
    row = activity_row(parse_activity(orjson.dumps({
        "event_id": f"e{n}", "tenant": "acme", "type": "stage_change", "source": source,
        "occurred_at": f"2026-11-{10 + n:02d}T10:00:00Z", "rep_id": "r", "team_id": "T",
        "account_id": "A", "opportunity_id": opp, **stage})))
    row.update(ingested_at=row["occurred_at"], kafka_partition=0, kafka_offset=n)
    return row


def run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_unmapped_stages_are_listed_through_the_store(cli_store):
    cli_store.insert_json("activities", activities_json([
        _change(1, "salesforce", "o1", to_stage="discovery", vendor_stage="Prospecting"),
        _change(2, "salesforce", "o1", to_stage="Closed - Duplicate",
                vendor_stage="Closed - Duplicate", is_closed=True, is_won=False),
        _change(3, "hubspot", "o2", to_stage="1029384", vendor_stage="1029384"),
        _change(4, "hubspot", "o3", to_stage="1029384", vendor_stage="1029384"),
        _change(5, "hubspot", "o3", to_stage="won", vendor_stage="closedwon"),
    ]), "stages-cli")
    first = run(["stages", "unmapped"])
    assert "no plan is loaded for this tenant" in first and "touchline plan load" in first
    run(["plan", "load", str(PLAN)])
    listed = run(["stages", "unmapped"]).splitlines()
    rows = [line.split() for line in listed[2:] if not line.startswith("add them")]
    assert [(r[0], " ".join(r[1:-5]), r[-5], r[-4], r[-3]) for r in rows] == [
        ("hubspot", "1029384", "2", "2", "open"),
        ("salesforce", "Closed - Duplicate", "1", "1", "closed"),
    ]
    assert "stage map" in listed[-1]
    mapped = run(["stages", "map"])
    assert "salesforce  default   Closed Won" in mapped
