"""Every coaching command run against the running stack's store, as a user runs it.

While `touchline up`/`demo` runs, the store process owns the engine and every CLI command goes
through its HTTP API (sinks/connect.py). Values travel as JSON there, so each command is run
here through a real store process, not only on the engine directly.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from click.testing import CliRunner

from tests.plan.conftest import EXAMPLE_PLAN, Scenario, plan_text
from touchline.cli.main import main

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
OUTBOUND_8 = ["email", "call", "email", "call", "call", "email", "call", "email"]


@pytest.fixture(scope="module")
def seeded(cli_store, tmp_path_factory):
    """A tenant with a plan, a rep behind on a cadence with replies and meetings, a late lead."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    s = Scenario(cli_store, f"t-{uuid.uuid4().hex[:8]}", now)
    plan = tmp_path_factory.mktemp("plan") / "plan.yaml"
    plan.write_text(plan_text(s.tenant, now - 60 * D))
    loaded = _run(["plan", "load", str(plan)])
    assert f"tenant {s.tenant}" in loaded or "loaded:" in loaded
    s.rep("sdr-1", "sdr")
    s.rep("sdr-2", "sdr")
    s.account("acc-a", "A", "smb", owner="sdr-1")
    rows = []
    start = now - 9 * D
    for i in range(4):  # sdr-1 did step 1 only: behind; prospect 0 replied after step 1
        p = f"p-{i}"
        rows.append(s.activity("email", start + H, "sdr-1", prospect_id=p, account_id="acc-a",
                               cadence_id="outbound-8", cadence_step=1))
        rows.append(s.activity("email", start + H, "sdr-2", prospect_id=f"q-{i}",
                               account_id="acc-a", cadence_id="outbound-8", cadence_step=1))
        rows.append(s.activity("call", start + D + H, "sdr-2", prospect_id=f"q-{i}",
                               account_id="acc-a", cadence_id="outbound-8", cadence_step=2))
    rows.append(s.activity("email", start + 2 * H, "sdr-1", prospect_id="p-0",
                           account_id="acc-a", email_action="replied"))
    rows.append(s.activity("meeting", start + 2 * D, "sdr-2", prospect_id="q-0",
                           account_id="acc-a"))
    rows.append(s.activity("lead", now - 3 * H, "sdr-1", prospect_id="p-late",
                           account_id="acc-a"))
    s.insert_activities(rows)
    return s


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def test_plan_validate_and_load_through_the_store(seeded) -> None:
    assert _run(["plan", "validate", str(EXAMPLE_PLAN)]).startswith("ok: ")
    got = seeded.sink.query(
        "SELECT count() FROM touchline.plan_versions WHERE tenant = {t:String}",
        {"t": seeded.tenant}).scalar()
    assert got == 1


def test_signals_evaluate_and_list_through_the_store(seeded) -> None:
    out = _run(["signals", "evaluate"])
    assert "fired" in out
    listed = _run(["signals", "list", "--tenant", seeded.tenant])
    lines = listed.splitlines()
    assert lines[0].startswith("team-1: ") and "lead_sla 1" in lines[0]
    assert any(line.startswith("  sdr-1: ") and "cadence_behind 1" in line for line in lines)
    more = [line for line in lines if line.startswith("    ... ")]
    assert more and more[0].endswith(" more (--rep sdr-1 --limit 0)")
    assert "new lead p-late (tier A) has waited 3" not in listed  # 3 newest per rep by default
    everything = _run(["signals", "list", "--tenant", seeded.tenant, "--limit", "0"])
    assert "new lead p-late (tier A) has waited 3" in everything and "more (" not in everything
    assert lines[-1].endswith("in 1 team")
    as_json = [json.loads(x) for x in _run(["signals", "list", "--tenant", seeded.tenant,
                                            "--json", "--kind", "lead_sla"]).splitlines()]
    assert [r["signal_id"] for r in as_json] == ["lead_sla:p-late"]


def test_report_cadences_through_the_store(seeded) -> None:
    out = _run(["report", "cadences", "--tenant", seeded.tenant])
    per_step = out.split("By step")[1].split("By touches")[0]
    step1 = next(line for line in per_step.splitlines() if line.startswith("outbound-8  1 "))
    # 8 prospects got step 1; one replied (p-0), one had a meeting (q-0)
    assert step1.split()[2] == "8" and " 1/8 " in step1
    assert "Per cadence:" in out


def test_report_variation_through_the_store(seeded) -> None:
    out = json.loads(_run(["report", "variation", "--tenant", seeded.tenant, "--format",
                           "json"]))
    groups = {g["group"]: g for g in out["groups"]}
    assert set(groups) == {"sdr-1", "sdr-2"}
    # meetings held per touch: sdr-2 held one meeting, sdr-1 none; n = their touches
    touches = dict(seeded.sink.query(
        "SELECT rep_id, countIf(is_touch = 1) FROM touchline.activities WHERE tenant = {t:String}"
        " AND occurred_at >= {since:DateTime64(3, 'UTC')} GROUP BY rep_id",
        {"t": seeded.tenant, "since": dt.datetime.fromisoformat(out["since"])}).rows)
    assert (groups["sdr-2"]["hits"], groups["sdr-2"]["n"]) == (1, touches["sdr-2"])
    assert (groups["sdr-1"]["hits"], groups["sdr-1"]["n"]) == (0, touches["sdr-1"])
    assert touches["sdr-2"] >= 8 and touches["sdr-1"] >= 4
