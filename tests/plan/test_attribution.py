"""Replies and meetings credited to the step that caused them; why cadences ended."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from touchline.plan.attribution import by_credited_step, credited_step, exit_reasons
from touchline.plan.report import prospect_outcomes

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def test_credited_step_is_the_last_step_before_the_outcome():
    t0 = dt.datetime(2026, 11, 2)
    steps = {1: t0, 2: t0 + D, 3: t0 + 3 * D}
    assert credited_step(steps, t0 + 2 * D) == 2
    assert credited_step(steps, t0 + 3 * D) == 3  # the same moment counts for the step
    assert credited_step(steps, t0 - H) is None


def _cadence(s, prospect, start, steps, after=None):
    channels = ["email", "call", "email", "call"]
    rows = [s.activity(channels[st - 1], start + (st - 1) * D, "sdr-1", prospect_id=prospect,
                       cadence_id="outbound-8", cadence_step=st) for st in steps]
    if after:
        kind, offset, fields = after
        rows.append(s.activity(kind, start + offset, "sdr-1", prospect_id=prospect, **fields))
    return rows


def test_per_step_rates_and_exit_reasons(scenario, now):
    s = scenario
    s.load_plan()
    start = now - 20 * D
    rows = []
    rows += _cadence(s, "p-reply-2", start, [1, 2], ("email", D + H, {"email_action": "replied"}))
    rows += _cadence(s, "p-meet-3", start, [1, 2, 3],
                     ("meeting", 2 * D + H, {"meeting_status": "held"}))
    rows += _cadence(s, "p-bounce", start, [1], ("email", H, {"email_action": "bounced"}))
    rows += _cadence(s, "p-unsub", start, [1, 2],
                     ("email", D + H, {"email_action": "unsubscribed"}))
    rows += _cadence(s, "p-quiet", start, [1, 2, 3, 4])
    s.insert_activities(rows)
    data = prospect_outcomes(s.sink, s.tenant, now - 30 * D, now)
    credits = by_credited_step(data)
    assert credits[("outbound-8", 1)].prospects == 5
    assert (credits[("outbound-8", 2)].prospects, credits[("outbound-8", 2)].reply) == (4, 1)
    assert (credits[("outbound-8", 3)].meeting, credits[("outbound-8", 3)].reply) == (1, 0)
    assert credits[("outbound-8", 1)].reply == 0 and credits[("outbound-8", 2)].meeting == 0
    exits = exit_reasons(s.sink, s.tenant, now - 30 * D, now)
    assert dict(exits["outbound-8"]) == {"replied": 1, "meeting": 1, "bounced": 1,
                                         "unsubscribed": 1, "active": 1}

    from touchline.plan.cli import report

    out = CliRunner().invoke(report, ["cadences"], obj={"sink": s.sink, "tenant": s.tenant})
    assert out.exit_code == 0, out.output
    credited = out.output.split("credited to the step before them:")[1].split("\n\n")[0]
    step2 = next(x for x in credited.splitlines() if x.startswith("outbound-8  2 "))
    assert step2.split()[2] == "4" and "1/4" in step2
    assert ("outbound-8: active 1, bounced 1, meeting 1, replied 1, unsubscribed 1"
            in out.output)
