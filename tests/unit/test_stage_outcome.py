"""Closed and won are decided once (schemas/stages.py) and land on the activity row."""

from __future__ import annotations

import orjson
import pytest

from touchline.schemas.activity import parse_activity
from touchline.schemas.activity_row import activity_row


def _row(**fields: object) -> dict:
    doc = {"event_id": "e", "tenant": "t", "type": "stage_change", "source": "crm",
           "occurred_at": "2026-11-02T10:00:00Z", "rep_id": "r", "team_id": "T",
           "account_id": "A", "opportunity_id": "O", **fields}
    return activity_row(parse_activity(orjson.dumps(doc)))


@pytest.mark.parametrize(("fields", "closed", "won"), [
    ({"to_stage": "won"}, 1, 1),
    ({"to_stage": "lost"}, 1, 0),
    ({"to_stage": "demo"}, 0, 0),
    # the source's own flags win over the name
    ({"to_stage": "Closed - Duplicate", "is_closed": True, "is_won": False}, 1, 0),
    ({"to_stage": "won", "is_closed": False, "is_won": False}, 0, 0),
    ({"to_stage": "Signed", "is_won": True}, 1, 1),  # won is always closed
])
def test_stage_outcome_on_the_row(fields, closed, won):
    row = _row(**fields)
    assert (row["is_closed"], row["is_won"]) == (closed, won)


def test_vendor_stage_and_editor_are_kept_and_other_types_are_never_closed():
    row = _row(to_stage="won", vendor_stage="Closed Won", editor_id="u-7")
    assert (row["vendor_stage"], row["editor_id"]) == ("Closed Won", "u-7")
    call = activity_row(parse_activity(orjson.dumps({
        "event_id": "c", "tenant": "t", "type": "call", "source": "s", "outcome": "busy",
        "occurred_at": "2026-11-02T10:00:00Z", "rep_id": "r", "team_id": "T",
        "account_id": "A"})))
    assert (call["is_closed"], call["is_won"], call["vendor_stage"]) == (0, 0, "")


def test_an_event_from_the_future_is_rejected_in_human_units():
    from touchline.settings import PipelineSettings
    from touchline.streams.validation import Validated, validate_message

    now_ms = 1_790_000_000_000  # 2026-09-21T14:13:20Z
    doc = {"event_id": "f", "tenant": "t", "type": "call", "source": "s", "outcome": "busy",
           "occurred_at": "2026-09-21T17:13:20Z", "rep_id": "r", "team_id": "T",
           "account_id": "A"}
    out = Validated()
    validate_message(orjson.dumps(doc), out, topic="raw", partition=0, offset=0, origin="",
                     partitions=4, rules=PipelineSettings(), now_ms=now_ms)
    [dead] = out.dead_letters
    assert dead.reason == "future"
    assert "is 3h ahead of the clock (at most 15m, pipeline.max_future_skew_s)" in dead.error
