"""CRM stage changes as Salesforce CDC and HubSpot send them, on the real broker and engine.

Invariant: stage changes that carry no `from_stage`, named in the CRM's default stages, for
deals quiet for 30 days (their histories evicted from memory) and across a worker restart,
give exactly the visits, dwell, closed / won outcome and owner that the hand-computed
timeline below says, with the user who made the change kept apart as `editor_id`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.test_stage_memory import history_records
from touchline.schemas.vendors import MapContext, hubspot, salesforce
from touchline.schemas.vendors.identities import IdentityResolver

pytestmark = pytest.mark.integration

IDENTITIES = Path(__file__).resolve().parents[2] / "examples" / "identities.yaml"
SF_OPP, SF_OWNER, SF_EDITOR = "006RM000002bJ5bYAE", "005RM000001vI54YAE", "005XX0000EDIT01"
HS_DEAL, HS_EDITOR = "8851234501", "99999"
DAY = timedelta(days=1)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def salesforce_change(key: str, at: datetime, stage: str, change: str = "UPDATE",
                      **fields: object) -> str:
    """One CDC event message as a relay posts it (fields carry only what changed)."""
    changed = ["StageName", *fields] if change == "UPDATE" else []
    return orjson.dumps({"data": {"payload": {
        "ChangeEventHeader": {
            "entityName": "Opportunity", "changeType": change, "recordIds": [SF_OPP],
            "transactionKey": key, "sequenceNumber": 1, "commitTimestamp": _ms(at),
            "commitUser": SF_EDITOR, "changedFields": changed},
        "StageName": stage, **fields}, "event": {"replayId": 1}}}).decode()


def hubspot_change(event_id: int, at: datetime, stage: str) -> str:
    return orjson.dumps([{
        "eventId": event_id, "subscriptionType": "object.propertyChange", "objectTypeId": "0-3",
        "objectId": int(HS_DEAL), "propertyName": "dealstage", "propertyValue": stage,
        "occurredAt": _ms(at), "sourceId": f"userId:{HS_EDITOR}"}]).decode()


def canonical(tenant: str, body: str, mapper) -> list[bytes]:
    ctx = MapContext(tenant=tenant, identities=IdentityResolver.load(IDENTITIES),
                     received_at=datetime.now(UTC))
    mapped = mapper(body, ctx)
    assert not mapped.rejects and mapped.events
    return [orjson.dumps(e) for e in mapped.events]


def test_crm_stage_changes_without_from_stage_after_a_quiet_month_and_a_restart(
        pipeline_factory):
    p = pipeline_factory()  # the default allowed lateness: 7 days
    tenant = p.settings.tenant
    t0 = datetime.now(UTC).replace(microsecond=0) - 60 * DAY

    def send(*payloads: list[bytes]) -> None:
        for group in payloads:
            p.produce(group, batch=1)

    send(canonical(tenant, salesforce_change("k1", t0, "Prospecting", change="CREATE",
                                             OwnerId=SF_OWNER), salesforce.map_request),
         canonical(tenant, salesforce_change("k2", t0 + 2 * DAY, "Value Proposition"),
                   salesforce.map_request),
         canonical(tenant, hubspot_change(1, t0, "appointmentscheduled"), hubspot.map_request),
         canonical(tenant, hubspot_change(2, t0 + 3 * DAY, "presentationscheduled"),
                   hubspot.map_request))
    p.wait_rows("stage_visits", 4)

    # a month of nothing on these deals; other activity on their accounts (so on their
    # partitions) moves the watermark on
    for account in ("acct-acme", "acct-test"):
        call = {"event_id": f"call-{account}", "tenant": tenant, "type": "call",
                "source": "test", "occurred_at": (t0 + 33 * DAY).isoformat(),
                "rep_id": "rep-ana", "team_id": "team-west", "account_id": account,
                "outcome": "busy"}
        p.produce([orjson.dumps(call)], batch=1)
    keys = {orjson.dumps(f"{tenant}|opp-acme-renewal"),
            orjson.dumps(f"{tenant}|opp-hubspot-8851234501")}
    p.wait_until(lambda: keys <= {k for k, v in history_records(p) if v is None}, 60,
                 "both histories evicted from memory")
    p.wait_settled()
    p.worker("worker-1").kill()
    p.add_worker("worker-1")

    send(canonical(tenant, salesforce_change("k3", t0 + 35 * DAY, "Closed Won", IsClosed=True,
                                             IsWon=True), salesforce.map_request),
         canonical(tenant, hubspot_change(3, t0 + 36 * DAY, "closedlost"), hubspot.map_request))
    p.wait_until(lambda: p.scalar(
        "SELECT count() FROM {db}.opportunity_state FINAL WHERE stage_changes = 3") == 2, 90,
        "both deals closed on their whole history")
    p.wait_settled()

    def days(at: datetime | None) -> float | None:
        return None if at is None else round((at.replace(tzinfo=UTC) - t0) / DAY, 3)

    visits = {}
    for opp, stage, entered, exited, nxt, dwell, closed, won, vendor in p.rows(
            "SELECT opportunity_id, stage, entered_at, exited_at, next_stage, dwell_s, "
            "is_closed, is_won, vendor_stage FROM {db}.stage_visits FINAL "
            "ORDER BY opportunity_id, entered_at"):
        visits.setdefault(opp, []).append(
            (stage, days(entered), days(exited), nxt, dwell and round(dwell / 86400, 3),
             closed, won, vendor))
    assert visits == {
        "opp-acme-renewal": [
            ("discovery", 0, 2, "demo", 2, 0, 0, "Prospecting"),
            ("demo", 2, 35, "won", 33, 0, 0, "Value Proposition"),
            ("won", 35, None, "", None, 1, 1, "Closed Won")],
        "opp-hubspot-8851234501": [
            ("discovery", 0, 3, "demo", 3, 0, 0, "appointmentscheduled"),
            ("demo", 3, 36, "lost", 33, 0, 0, "presentationscheduled"),
            ("lost", 36, None, "", None, 1, 0, "closedlost")],
    }
    state = {r[0]: r[1:] for r in p.rows(
        "SELECT opportunity_id, current_stage, stage_changes, first_seen_at, is_closed, is_won, "
        "rep_id, team_id, editor_id FROM {db}.opportunity_state FINAL")}
    assert {k: (v[0], v[1], days(v[2]), *v[3:]) for k, v in state.items()} == {
        "opp-acme-renewal": ("won", 3, 0, 1, 1, "rep-ana", "team-west",
                             f"unknown:salesforce:{SF_EDITOR}"),
        "opp-hubspot-8851234501": ("lost", 3, 0, 1, 0, "rep-ben", "team-west",
                                   f"unknown:hubspot_user:{HS_EDITOR}"),
    }
    # the rows themselves: credited to the owner, the editor in its own column
    assert set(p.rows("SELECT opportunity_id, rep_id, editor_id FROM {db}.activities "
                      "WHERE type = 'stage_change'")) == {
        ("opp-acme-renewal", "rep-ana", f"unknown:salesforce:{SF_EDITOR}"),
        ("opp-hubspot-8851234501", "rep-ben", f"unknown:hubspot_user:{HS_EDITOR}")}
    # every view reads the same outcome: won and lost by motion
    assert set(p.rows("SELECT opportunity_id, is_won, is_lost FROM {db}.opportunity_motion")) \
        == {("opp-acme-renewal", 1, 0), ("opp-hubspot-8851234501", 0, 1)}
    assert p.rows("SELECT * FROM {db}.dlq_events") == []
