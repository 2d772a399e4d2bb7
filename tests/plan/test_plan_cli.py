"""`touchline plan validate|load`: clear messages, no tracebacks, idempotent loads."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from tests.plan.conftest import EXAMPLE_PLAN
from touchline.plan.cli import plan

EXAMPLE = EXAMPLE_PLAN.read_text()


def run(*args, obj=None):
    result = CliRunner().invoke(plan, list(args), obj=obj)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write(tmp_path, text):
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return str(path)


def test_validate_the_shipped_example():
    result = run("validate", str(EXAMPLE_PLAN))
    assert result.exit_code == 0, result.output
    assert "ok: acme 2026.11-v1 from 2026-11-01 00:00Z: 6 stages, 3 segments, 3 tiers, " \
           "2 roles, 2 cadences" in result.output


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("discovery: 5d,", "discovery: 5 days,",
     "segments.smb.stage_slas.discovery: '5 days' is not a duration"),
    ("discovery: 5d,", "closing: 5d,",
     "segments.smb.stage_slas.closing: unknown stage (stages are discovery, demo"),
    ("effective_from: 2026-11-01T00:00:00Z\n", "",
     "effective_from: required field is missing"),
    ("effective_from: 2026-11-01T00:00:00Z", "effective_from: 2026-11-01T00:00:00",
     "effective_from: Input should have timezone info"),
    ("      meetings_held: 10\n", "      cold_calls: 10\n",
     "roles.sdr.weekly_targets.cold_calls"),
    ("{channel: call,  wait: 1d}", "{channel: fax,  wait: 1d}",
     "cadences.outbound-8.steps[2].channel: Input should be 'call', 'email' or 'meeting'"),
    ("leads_touched_within_sla: 100", "leads_touched_within_sla: 140",
     "roles.sdr.weekly_targets: leads_touched_within_sla is a percentage"),
    ("  role: sdr", "  role: manager", "defaults.role: 'manager' is not one of sdr, ae"),
    ("closed_stages: [won, lost]", "closed_stages: [won, lost]\nbudget: 5",
     "budget: unknown field (check the spelling)"),
    ("stages: [discovery,", "stages: [discovery, {", "line 15, column 61: not valid YAML"),
])
def test_validate_names_the_field(tmp_path, old, new, expected):
    assert old in EXAMPLE
    result = run("validate", write(tmp_path, EXAMPLE.replace(old, new)))
    assert result.exit_code == 1
    assert expected in result.output, result.output


def test_validate_reports_every_problem_at_once(tmp_path):
    text = EXAMPLE.replace("discovery: 5d,", "discovery: soon,").replace(
        "{channel: call,  wait: 1d}", "{channel: fax,  wait: 1d}")
    result = run("validate", write(tmp_path, text))
    assert result.exit_code == 1
    # the call step with a 1d wait is in both cadences: three problems
    assert "3 problem(s)" in result.output
    assert "discovery: 'soon' is not a duration" in result.output
    assert "cadences.outbound-8.steps[2].channel" in result.output
    assert "cadences.inbound-fast.steps[4].channel" in result.output


def test_validate_missing_file_and_empty_file(tmp_path):
    result = run("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1 and "cannot read the file" in result.output
    result = run("validate", write(tmp_path, "# nothing here\n"))
    assert result.exit_code == 1 and "the file holds no plan" in result.output
    result = run("validate", write(tmp_path, "- just\n- a list\n"))
    assert result.exit_code == 1 and "a plan is a mapping of fields, got list" in result.output


@pytest.mark.integration
def test_load_is_idempotent(sink, tmp_path):
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    path = str(EXAMPLE_PLAN)

    def counts():
        sql = "SELECT count() FROM touchline.{} FINAL WHERE tenant = {{t:String}}"
        return {t: sink.query(sql.format(t), {"t": tenant}).scalar()
                for t in ("plan_stage_slas", "plan_activity_targets", "plan_cadence_steps",
                          "plan_tiers", "plan_versions")}

    first = run("load", path, "--tenant", tenant, obj={"sink": sink})
    assert first.exit_code == 0, first.output
    assert "loaded: acme 2026.11-v1" in first.output and f"as tenant {tenant}" in first.output
    expected = {"plan_stage_slas": 12, "plan_activity_targets": 6, "plan_cadence_steps": 13,
                "plan_tiers": 3, "plan_versions": 1}
    assert counts() == expected
    assert run("load", path, "--tenant", tenant, obj={"sink": sink}).exit_code == 0
    assert counts() == expected


@pytest.mark.integration
def test_load_refuses_an_invalid_file_without_writing(sink, tmp_path):
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    bad = write(tmp_path, EXAMPLE.replace("discovery: 5d,", "discovery: -5d,"))
    result = run("load", bad, "--tenant", tenant, obj={"sink": sink})
    assert result.exit_code == 1 and "segments.smb.stage_slas.discovery" in result.output
    assert sink.query("SELECT count() FROM touchline.plan_versions WHERE tenant = {t:String}",
                      {"t": tenant}).scalar() == 0


@pytest.mark.integration
def test_demo_loads_the_example_plan(sink, tmp_path):
    from touchline.plan.demo import load_example_plan
    from touchline.plan.loader import PlanError

    tenant = f"demo-{uuid.uuid4().hex[:8]}"
    assert load_example_plan(sink, tenant).startswith("acme 2026.11-v1")
    assert sink.query("SELECT plan_version FROM touchline.plan_versions FINAL "
                      "WHERE tenant = {t:String}", {"t": tenant}).rows == [("2026.11-v1",)]
    with pytest.raises(PlanError, match="the example plan is not there"):
        load_example_plan(sink, tenant, tmp_path / "missing.yaml")
