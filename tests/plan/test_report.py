"""`touchline report cadences`: conversion per cadence, step and touch count, with known truth."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from touchline.plan import report as rp
from touchline.plan.cli import report
from touchline.plan.stats import clearly_different, wilson

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def test_wilson_interval_known_values():
    p = wilson(12, 30)
    assert (round(p.low, 4), round(p.high, 4)) == (0.2459, 0.5768)
    assert wilson(0, 0).high == 1.0 and wilson(0, 10).low == 0.0
    assert clearly_different(wilson(40, 50), wilson(5, 50))
    assert not clearly_different(wilson(4, 10), wilson(3, 10))
    with pytest.raises(ValueError, match="hits <= n"):
        wilson(3, 2)


def _seed(s, start):
    rows = []
    channels = {"outbound-8": ["email", "call", "email"], "inbound-fast": ["call", "email", "call"]}
    for cadence, prefix, replies in (("outbound-8", "ob", 4), ("inbound-fast", "in", 1)):
        for i in range(10):
            p, acc = f"{prefix}-{i}", f"acc-{prefix}-{i}"
            for step, day in ((1, 0), (2, 1), (3, 3)):
                rows.append(s.activity(channels[cadence][step - 1], start + day * D, "rep-1",
                                       prospect_id=p, account_id=acc, cadence_id=cadence,
                                       cadence_step=step))
            if i < replies:  # replies after step 2, before step 3
                rows.append(s.activity("email", start + D + H, "rep-1", prospect_id=p,
                                       account_id=acc, email_action="replied"))
            if cadence == "outbound-8" and i < 2:
                # a meeting tagged with the cadence is an outcome, not a 4th touch
                rows.append(s.activity("meeting", start + 2 * D, "rep-1", prospect_id=p,
                                       account_id=acc, cadence_id=cadence, cadence_step=2))
            if cadence == "outbound-8" and i == 0:
                rows.append(s.activity("stage_change", start + 2.5 * D, "ae-1", prospect_id=p,
                                       account_id=acc, opportunity_id="opp-ob-0",
                                       to_stage="discovery"))
                rows.append(s.activity("stage_change", start + 4 * D, "ae-1", account_id=acc,
                                       opportunity_id="opp-ob-0", from_stage="negotiation",
                                       to_stage="won"))
    # an opportunity on an account that predates the cadence does not count
    rows.append(s.activity("stage_change", start - 30 * D, "ae-1", account_id="acc-ob-5",
                           opportunity_id="opp-old", to_stage="discovery"))
    rows.append(s.activity("stage_change", start + 3.5 * D, "ae-1", account_id="acc-ob-5",
                           opportunity_id="opp-old", from_stage="negotiation", to_stage="won"))
    s.insert_activities(rows)


@pytest.mark.integration
def test_conversion_by_step_and_touches(scenario, now):
    s = scenario
    start = now - 10 * D
    _seed(s, start)
    data = rp.prospect_outcomes(s.sink, s.tenant, now - 30 * D, now)
    assert len(data) == 20

    steps = rp.by_step(data)
    ob = {k[1]: v for k, v in steps.items() if k[0] == "outbound-8"}
    assert [ob[i].prospects for i in (1, 2, 3)] == [10, 10, 10]
    assert [ob[i].hits["reply"] for i in (1, 2, 3)] == [4, 4, 0]
    assert [ob[i].hits["meeting"] for i in (1, 2, 3)] == [2, 2, 0]
    assert [ob[i].hits["opportunity"] for i in (1, 2, 3)] == [1, 1, 0]
    assert [ob[i].hits["won"] for i in (1, 2, 3)] == [1, 1, 1]

    touches = rp.by_touches(data)
    assert set(touches) == {("inbound-fast", 3), ("outbound-8", 3)}
    assert touches[("outbound-8", 3)].hits == {"reply": 4, "meeting": 2, "opportunity": 1,
                                               "won": 1}
    assert touches[("inbound-fast", 3)].hits == {"reply": 1, "meeting": 0, "opportunity": 0,
                                                 "won": 0}
    # a period that starts after the cadences began holds nobody
    assert rp.prospect_outcomes(s.sink, s.tenant, start + H, now) == []


@pytest.mark.integration
def test_report_cli_compares_cadences_and_periods(scenario, now):
    s = scenario
    _seed(s, now - 10 * D)
    obj = {"sink": s.sink, "tenant": s.tenant}
    result = CliRunner().invoke(report, ["cadences", "--cadence", "outbound-8",
                                         "--cadence", "inbound-fast"], obj=obj)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "By step (converted after getting the step):" in out
    assert "outbound-8    2     10         4/10 40.0% [16.8%, 68.7%]" in out
    assert "Compare outbound-8 vs inbound-fast:" in out
    assert "reply        outbound-8: 4/10 40.0%" in out and "inbound-fast: 1/10 10.0%" in out

    since = (now - 5 * D).strftime("%Y-%m-%d")
    vs_since = (now - 20 * D).strftime("%Y-%m-%d")
    result = CliRunner().invoke(report, ["cadences", "--by", "touches", "--since", since,
                                         "--vs-since", vs_since], obj=obj)
    assert result.exit_code == 0, result.output
    assert "(no prospects in a cadence in this period)" in result.output
    assert "Compare with cadences started" in result.output
    assert "other: 4/10 40.0%" in result.output

    bad = CliRunner().invoke(report, ["cadences", "--since", "2026-13-45"], obj=obj)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "'2026-13-45' does not match the formats" in bad.output
