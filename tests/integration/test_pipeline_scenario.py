"""Issue 2: the pipeline on the real broker and the real ClickHouse engine, hand-computed truth."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import scenario

pytestmark = pytest.mark.integration


def run_scenario(pipeline_factory, **kwargs):
    p = pipeline_factory(allowed_lateness_s=scenario.LATENESS_S, **kwargs)
    # one message per event: arrival order is part of the scenario
    for payload in scenario.events():
        p.produce([payload], batch=1)
    p.wait_until(lambda: p.accounted() >= len(scenario.events()), what="all events decided")
    p.wait_settled()
    return p


def check_scenario(p) -> None:
    base = scenario.base()
    rows = {r[0] for r in p.rows("SELECT event_id FROM {db}.activities")}
    assert rows == scenario.EXPECTED_ROWS
    assert p.scalar("SELECT count() FROM {db}.activities") == len(scenario.EXPECTED_ROWS)
    assert p.rows("SELECT event_id, reason FROM {db}.dlq_events") == []  # nothing is too old
    dups = p.scalar("SELECT sum(duplicates) FROM {db}.pipeline_metrics WHERE topic = {t:String}",
                    t=p.settings.kafka.activities_topic)
    assert dups == scenario.EXPECTED_DUPLICATES

    got = {}
    for etype, eid, channel, bucket, n in p.rows(
        "SELECT entity_type, entity_id, channel, bucket, sum(touches) FROM {db}.touch_counts "
        "WHERE tenant = 'scn' GROUP BY ALL"
    ):
        hours = round((bucket.replace(tzinfo=base.tzinfo) - base) / timedelta(hours=1))
        got[(etype, eid, channel, hours)] = n
    assert got == scenario.EXPECTED_TOUCHES

    rolling = {(r[0], r[1]): r[2:] for r in p.rows(
        "SELECT entity_id, channel, touches_1d, touches_7d, touches_30d "
        "FROM {db}.touch_counts_rolling WHERE entity_type = 'rep'")}
    assert rolling == {("r1", "call"): (4, 4, 4), ("r1", "email"): (1, 1, 1),
                       ("r1", "meeting"): (1, 1, 1)}

    visits = [
        (stage, round((entered.replace(tzinfo=base.tzinfo) - base).total_seconds() / 60),
         None if exited is None else
         round((exited.replace(tzinfo=base.tzinfo) - base).total_seconds() / 60), dwell)
        for stage, entered, exited, dwell in p.rows(
            "SELECT stage, entered_at, exited_at, dwell_s FROM {db}.stage_visits FINAL "
            "WHERE opportunity_id = 'O1' ORDER BY entered_at")
    ]
    assert visits == scenario.EXPECTED_VISITS
    state = p.rows("SELECT current_stage, stage_changes, is_closed "
                   "FROM {db}.opportunity_state FINAL WHERE opportunity_id = 'O1'")
    assert state == [("proposal", 3, 0)]


@pytest.mark.broker_semantics
def test_scenario_matches_hand_computed_truth(pipeline_factory):
    check_scenario(run_scenario(pipeline_factory))


def test_scenario_on_tansu_too(pipeline_factory, tansu_bootstrap):
    """Same truth on a second Kafka implementation: the code relies on Kafka semantics."""
    check_scenario(run_scenario(pipeline_factory, bootstrap=tansu_bootstrap,
                                static_membership=False))
