"""Vendor fixtures (documented examples) -> canonical events, validated by parse_activity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from touchline.schemas.activity import parse_activity
from touchline.schemas.dead_letter import DeadLetter
from touchline.schemas.vendors import (
    MapContext,
    MappingError,
    hubspot,
    outreach,
    salesforce,
    sendgrid,
    twilio,
)
from touchline.schemas.vendors.envelope import Envelope
from touchline.schemas.vendors.identities import IdentityMapError, IdentityResolver
from touchline.streams.vendor_mapping import map_message

IDENTITIES = Path(__file__).resolve().parents[2] / "examples" / "identities.yaml"
RECEIVED = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def resolver() -> IdentityResolver:
    return IdentityResolver.load(IDENTITIES)


@pytest.fixture
def ctx(resolver) -> MapContext:
    return MapContext(tenant="acme", identities=resolver, received_at=RECEIVED)


def parsed(events):
    return [parse_activity(orjson.dumps(e)) for e in events]


def test_twilio_one_call_is_one_event_whatever_the_callbacks(body_of, ctx):
    callbacks = body_of("twilio_call_status_callbacks.form").split("\n")
    assert len(callbacks) == 4
    results = [twilio.map_request(c, ctx) for c in callbacks]
    events = [e for r in results for e in r.events]
    skipped = sum((r.skipped for r in results), start=type(results[0].skipped)())
    assert dict(skipped) == {"status:initiated": 1, "status:ringing": 1, "status:in-progress": 1}
    [call] = parsed(events)
    assert call.event_id == "twilio:CA9f8b0d3a5e2c4b1a9e7d6c5b4a3f2e1d"
    assert (call.type, call.direction, call.outcome, call.duration_s) == (
        "call", "outbound", "connected", 242)
    assert (call.rep_id, call.team_id, call.prospect_id, call.account_id) == (
        "rep-ana", "team-west", "pr-wile", "acct-acme")
    assert call.occurred_at == datetime(2026, 11, 23, 15, 4, 11, tzinfo=UTC)
    # a retried final callback maps to the same dedup key
    assert twilio.map_request(callbacks[-1], ctx).events[0]["event_id"] == call.event_id


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [("busy", "", "busy"), ("no-answer", "", "no_answer"), ("failed", "", "failed"),
     ("canceled", "", "no_answer"), ("completed", "machine_end_beep", "voicemail")],
)
def test_twilio_final_statuses(ctx, status, answered_by, outcome):
    body = f"CallSid=CAx&CallStatus={status}&AnsweredBy={answered_by}&From=%2B1&To=%2B2"
    [event] = parsed(twilio.map_request(body, ctx).events)
    assert event.outcome == outcome


def test_twilio_inbound_call_maps_rep_from_to(ctx):
    body = ("CallSid=CAin&CallStatus=completed&Direction=inbound"
            "&From=%2B15558675310&To=%2B15017122661")
    [event] = parsed(twilio.map_request(body, ctx).events)
    assert (event.direction, event.rep_id, event.prospect_id) == ("inbound", "rep-ana", "pr-wile")


def test_twilio_unmappable(ctx):
    with pytest.raises(MappingError, match="CallSid"):
        twilio.map_request("CallStatus=completed", ctx)
    with pytest.raises(MappingError, match="CallStatus"):
        twilio.map_request("CallSid=CA1&CallStatus=exploded", ctx)


def test_sendgrid_documented_events(body_of, ctx):
    out = sendgrid.map_request(body_of("sendgrid_event_webhook.json"), ctx)
    events = parsed(out.events)
    assert [(e.event_id, e.action) for e in events] == [
        ("sendgrid:sg_event_id_processed", "sent"),
        ("sendgrid:sg_event_id_delivered", "delivered"),
        ("sendgrid:sg_event_id_open", "opened"),
        ("sendgrid:sg_event_id_click", "clicked"),
        ("sendgrid:sg_event_id_bounce", "bounced"),
        ("sendgrid:sg_event_id_dropped", "bounced"),
    ]
    assert {(e.rep_id, e.prospect_id, e.account_id) for e in events} == {
        ("rep-ana", "pr-example", "acct-test")}
    assert events[0].occurred_at == datetime.fromtimestamp(1513299569, UTC)
    assert sum(out.skipped.values()) == 5 and out.rejects == []


def test_sendgrid_bad_items_are_rejected_alone(ctx):
    body = orjson.dumps([
        {"email": "x@unknown.example", "timestamp": 1700000000, "event": "delivered",
         "sg_event_id": "a1"},
        {"email": "x@unknown.example", "timestamp": 1700000000, "event": "delivered"},
        {"event": "teleported", "sg_event_id": "b"},
        "not an object",
    ]).decode()
    out = sendgrid.map_request(body, ctx)
    [event] = parsed(out.events)
    assert event.prospect_id == "unknown:email:x@unknown.example"
    assert event.account_id == "unknown:domain:unknown.example"
    assert event.rep_id == "unknown:owner:x@unknown.example"
    assert [err for _, err in out.rejects] == [
        "sg_event_id missing (it is the dedup key)",
        "unknown SendGrid event 'teleported'",
        "event is not a JSON object",
    ]
    with pytest.raises(MappingError):
        sendgrid.map_request('{"not": "an array"}', ctx)


def test_hubspot_documented_and_stage_events(body_of, ctx):
    out = hubspot.map_request(body_of("hubspot_webhooks.json"), ctx)
    events = parsed(out.events)
    assert [(e.event_id, e.type) for e in events] == [
        ("hubspot:3816279611", "stage_change"),
        ("hubspot:3816279702", "call"),
        ("hubspot:3816279703", "email"),
        ("hubspot:3816279704", "meeting"),
    ]
    stage = events[0]
    assert (stage.opportunity_id, stage.to_stage, stage.vendor_stage, stage.account_id,
            stage.rep_id) == (
        "opp-hubspot-8851234501", "negotiation", "contractsent", "acct-test", "rep-ben")
    assert events[1].account_id == "unknown:hubspot_call:70012345601"  # kept, flagged
    assert dict(out.skipped) == {"contact.propertyChange:lifecyclestage": 1,
                                 "contact.creation:": 1}


def test_salesforce_cdc_events(body_of, ctx, resolver):
    out = salesforce.map_request(body_of("salesforce_cdc_events.json"), ctx)
    events = parsed(out.events)
    stages = [e for e in events if e.type == "stage_change"]
    assert [e.event_id for e in stages] == [
        "salesforce:0002343d-9d90-e395-ed20-cf416ba652ad:1:006RM000002bJ5bYAE",
        "salesforce:0002343d-9d90-e395-ed20-cf416ba652ad:1:006RM000002bJ5cYAE",
    ]
    assert stages[0].opportunity_id == "opp-acme-renewal"
    assert stages[0].account_id == "acct-acme"
    assert {(s.to_stage, s.vendor_stage) for s in stages} == {
        ("negotiation", "Negotiation/Review")}
    assert stages[1].account_id.startswith("unknown:")
    [call] = [e for e in events if e.type == "call"]
    assert (call.duration_s, call.outcome, call.prospect_id, call.rep_id) == (
        180, "connected", "pr-wile", "rep-ana")
    [meeting] = [e for e in events if e.type == "meeting"]
    assert meeting.status == "scheduled"
    assert dict(out.skipped) == {"Account:CREATE": 1}
    [(kind, detail)] = out.notices
    assert kind == "gap_update" and "006RM000002bJ5dYAE" in detail
    assert "unknown:salesforce_opportunity:006RM000002bJ5cYAE" in resolver.unknown


def test_salesforce_overflow_is_recorded(ctx):
    body = orjson.dumps({"ChangeEventHeader": {
        "entityName": "Opportunity", "changeType": "GAP_OVERFLOW", "recordIds": [],
        "transactionKey": "t", "commitTimestamp": 1700000000000}}).decode()
    out = salesforce.map_request(body, ctx)
    assert out.events == [] and out.notices[0][0] == "gap_overflow"


def test_outreach_events(body_of, ctx):
    docs = body_of("outreach_webhooks.jsonl").split("\n")
    outs = [outreach.map_request(d, ctx) for d in docs]
    events = parsed([e for o in outs for e in o.events])
    assert [(e.type, getattr(e, "action", None) or getattr(e, "outcome", None)
             or getattr(e, "disposition", None)) for e in events] == [
        ("email", "sent"), ("email", "opened"), ("email", "replied"), ("email", "bounced"),
        ("call", "connected"), ("disposition", "archive"),
    ]
    assert events[0].event_id == "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d02"
    assert (events[0].rep_id, events[0].prospect_id, events[0].cadence_id) == (
        "rep-cy", "pr-example", "outreach:sequence:54")
    assert events[3].prospect_id == "unknown:outreach_prospect:2"
    assert dict(outs[0].skipped) == {"event:sequence.updated": 1}


def _envelope(source: str, body: str) -> bytes:
    return Envelope.of(
        body.encode(), source=source, received_at=RECEIVED, url="https://x/webhooks/" + source,
        method="POST", content_type="application/json", headers={}, request_id="r1",
    ).model_dump_json().encode()


def test_map_message_batches_and_dead_letters(body_of, resolver):
    raw = _envelope("salesforce", body_of("salesforce_cdc_events.json"))
    out = map_message(raw, resolver, "acme", source_topic="raw.salesforce", partition=1, offset=7)
    assert len(out.events) == 4
    assert all(parse_activity(orjson.dumps(event)) for event in out.events)
    [gap] = out.dead_letters
    assert (gap.reason, gap.source_topic, gap.offset, gap.origin) == (
        "unmappable", "raw.salesforce", 7, "salesforce:r1")
    assert gap.error.startswith("gap_update:")
    assert gap.original_bytes() == body_of("salesforce_cdc_events.json").encode()
    assert "unknown:salesforce_opportunity:006RM000002bJ5cYAE" in out.unknown_identities


def test_map_message_unmappable_payload_goes_to_dlq_with_vendor_bytes(resolver):
    out = map_message(_envelope("outreach", '{"data": 1}'), resolver, "acme",
                      source_topic="raw.outreach")
    [dead] = out.dead_letters
    assert isinstance(dead, DeadLetter) and dead.reason == "unmappable"
    assert dead.original_bytes() == b'{"data": 1}' and out.events == []
    out = map_message(b"not an envelope", resolver, "acme", source_topic="raw.outreach")
    assert out.dead_letters[0].original_bytes() == b"not an envelope"


def test_identity_map_errors_name_file_and_field(tmp_path):
    bad = tmp_path / "ids.yaml"
    bad.write_text("reps:\n  - rep_id: r1\n")
    with pytest.raises(IdentityMapError, match=r"ids.yaml: reps.0.team_id"):
        IdentityResolver.load(bad)
    with pytest.raises(IdentityMapError, match="cannot read"):
        IdentityResolver.load(tmp_path / "missing.yaml")


def test_identity_normalisation(resolver):
    assert resolver.rep("phone", "+1 (501) 712-2661").rep_id == "rep-ana"
    assert resolver.prospect("email", "Example <EXAMPLE@test.com>")[0].prospect_id == "pr-example"
    assert resolver.rep("salesforce", "005RM000001vI54").rep_id == "rep-ana"  # 15-char form
    assert resolver.rep("phone", "+19999").rep_id == "unknown:phone:+19999"


@pytest.mark.parametrize(("opportunity_type", "motion"), [
    ("New Business", "acquisition"), ("Existing Business", "upsell"), ("Upgrade", "upsell"),
    ("Add-On", "upsell"), ("Renewal", "retention"), ("Existing Customer - Upgrade", "upsell"),
    ("Partner Referral", None), (None, None),
])
def test_salesforce_opportunity_type_gives_the_motion(ctx, opportunity_type, motion):
    payload = {"ChangeEventHeader": {
        "entityName": "Opportunity", "changeType": "CREATE", "recordIds": ["006RM000002bJ5bYAE"],
        "transactionKey": "t-type", "sequenceNumber": 1, "commitTimestamp": 1700000000000,
        "commitUser": "005RM000001vI54YAE", "changedFields": []},
        "StageName": "Prospecting", "AccountId": "001RM000003LUTfYAO"}
    if opportunity_type is not None:
        payload["Type"] = opportunity_type
    out = salesforce.map_request(orjson.dumps(payload).decode(), ctx)
    [event] = parsed(out.events)
    assert (event.type, event.motion, event.product_line) == ("stage_change", motion, None)


def _sf_stage_update(stage: str, commit_user: str, **fields: object) -> str:
    payload = {"ChangeEventHeader": {
        "entityName": "Opportunity", "changeType": "UPDATE", "recordIds": ["006RM000002bJ5bYAE"],
        "transactionKey": f"t-{stage}", "sequenceNumber": 1, "commitTimestamp": 1700000000000,
        "commitUser": commit_user, "changedFields": ["StageName", *fields]},
        "StageName": stage, **fields}
    return orjson.dumps(payload).decode()


def test_salesforce_closed_won_is_closed_and_won_and_credited_to_the_owner(ctx):
    # edited by someone outside the map; the opportunity's owner in the map is rep-ana
    out = salesforce.map_request(
        _sf_stage_update("Closed Won", "005XX0000099999", IsClosed=True, IsWon=True), ctx)
    [event] = parsed(out.events)
    assert (event.to_stage, event.vendor_stage, event.is_closed, event.is_won) == (
        "won", "Closed Won", True, True)
    assert (event.rep_id, event.editor_id) == ("rep-ana", "unknown:salesforce:005XX0000099999")
    assert event.from_stage is None


def test_salesforce_flags_decide_a_closed_stage_the_map_does_not_know(ctx):
    out = salesforce.map_request(
        _sf_stage_update("Closed - Duplicate", "005RM000001vI54YAE", IsClosed=True,
                         IsWon=False), ctx)
    [event] = parsed(out.events)
    # kept as sent (listed as unmapped), closed and not won as Salesforce says
    assert (event.to_stage, event.vendor_stage, event.is_closed, event.is_won) == (
        "Closed - Duplicate", "Closed - Duplicate", True, False)


def test_an_owner_change_credits_the_new_owner(ctx):
    out = salesforce.map_request(
        _sf_stage_update("Qualification", "005XX0000099999", OwnerId="005RM000001vI54YAE"), ctx)
    [event] = parsed(out.events)
    assert (event.rep_id, event.to_stage) == ("rep-ana", "discovery")


def test_a_stage_map_file_extends_the_defaults(tmp_path, ctx):
    from dataclasses import replace

    from touchline.schemas.vendors.stage_map import StageMap, StageMapError

    path = tmp_path / "stages.yaml"
    path.write_text('hubspot:\n  default:\n    "1029384": demo\n'
                    'salesforce:\n  default:\n    "closed -  duplicate": lost\n')
    stages = StageMap.load(path)
    assert stages.lookup("hubspot", "1029384") == "demo"
    assert stages.lookup("hubspot", "closedwon") == "won"  # the defaults stay
    assert stages.lookup("salesforce", "Closed - Duplicate") == "lost"  # case, spaces folded
    assert stages.lookup("hubspot", "unknownstage") is None
    out = salesforce.map_request(
        _sf_stage_update("Closed - Duplicate", "005RM000001vI54YAE"), replace(ctx, stages=stages))
    [event] = parsed(out.events)
    assert (event.to_stage, event.is_closed) == ("lost", None)  # lost: closed, not won
    path.write_text("hubspot:\n  default: [a, b]\n")
    with pytest.raises(StageMapError, match=r"stages.yaml: hubspot.default: "):
        StageMap.load(path)
