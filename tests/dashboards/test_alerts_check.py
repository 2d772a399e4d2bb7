"""`touchline alerts check` on the seeded data: the known-bad subjects fire, the healthy do not."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from touchline.dashboards.cli import alerts
from touchline.dashboards.local import alerts_check as chk
from touchline.sinks.clickhouse import QueryResult


@pytest.fixture(scope="module")
def results(seeded):
    return {r.uid: r for r in chk.check(seeded.sink, seeded.now)}


def _subjects(result: chk.RuleResult, label: str) -> set[str]:
    return {f.labels[label] for f in result.firing}


@pytest.mark.integration
def test_every_rule_evaluates(results) -> None:
    assert all(not r.error for r in results.values()), {u: r.error for u, r in results.items()}
    assert len(results) == 9


@pytest.mark.integration
def test_stuck_deal_fires_and_the_long_enterprise_deal_does_not(results) -> None:
    r = results["touchline-stuck-deal"]
    # the rule view judges all three open deals and returns the one past its SLA
    assert r.instances == 1
    assert _subjects(r, "opportunity") == {"opp-stuck"}
    (f,) = r.firing
    assert (f.labels["team"], f.labels["rep"]) == ("team-east", "r-east-2")
    assert "proposal for 20.0 d" in f.summary and "SLA for that stage is 7 d" in f.summary
    assert f.value == 20.0 and "days_in_stage" not in f.labels
    assert "meeting" in f.action and "r-east-2" in f.action


@pytest.mark.integration
def test_untouched_account_fires_and_the_busy_one_does_not(results) -> None:
    r = results["touchline-untouched-account"]
    assert _subjects(r, "account") == {"acc-quiet"}
    assert r.instances == 1  # the rule view judged the book of five accounts
    (f,) = r.firing
    assert (f.labels["team"], f.labels["rep"]) == ("team-west", "r-west-1")
    assert f.labels["last_touch_on"] == "never" and "has never been touched" in f.summary
    assert "call" in f.action


@pytest.mark.integration
def test_cadence_behind_fires_for_the_rep_who_skipped_steps(results) -> None:
    r = results["touchline-cadence-behind"]
    assert _subjects(r, "rep") == {"r-west-1"}
    (f,) = r.firing
    assert f.value == 3 and "3 prospects in cadence outbound-8" in f.summary
    # the changing figures are not labels (a label change would be another alert instance)
    assert set(f.labels) == {"tenant", "team", "rep", "cadence", "steps_behind", "manager"}


@pytest.mark.integration
def test_speed_to_lead_fires_only_for_the_untouched_lead(results) -> None:
    assert _subjects(results["touchline-speed-to-lead"], "prospect") == {"p-lead-late"}


@pytest.mark.integration
def test_ops_rules_are_quiet_on_a_healthy_pipeline(results) -> None:
    assert results["touchline-dlq-spike"].firing == []
    assert results["touchline-pipeline-freshness"].firing == []
    assert results["touchline-pipeline-freshness"].instances == 1


@pytest.mark.integration
def test_no_template_is_left_unrendered(results) -> None:
    for r in results.values():
        for f in r.firing:
            assert "{{" not in f.summary + f.action


def test_threshold_and_shape_rules() -> None:
    model = {"type": "threshold", "conditions": [{"evaluator": {"type": "gt", "params": [1]}}]}
    assert chk.threshold_passes(model, 1.5) and not chk.threshold_passes(model, 1.0)
    assert not chk.threshold_passes(model, None)
    rng = {"type": "threshold",
           "conditions": [{"evaluator": {"type": "outside_range", "params": [1, 2]}}]}
    assert chk.threshold_passes(rng, 3) and not chk.threshold_passes(rng, 1.5)
    with pytest.raises(chk.RuleError):
        chk.instances(QueryResult(["a", "b"], ["Float64", "UInt8"], [(1.0, 2)]))
    inst = chk.instances(QueryResult(["team", "v"], ["LowCardinality(String)", "Float64"],
                                     [("t", 2.0)]))
    assert inst == [chk.Instance({"team": "t"}, 2.0)]


def test_render_printf_and_if_eq_as_go_templates_do() -> None:
    labels, values = {"basis": "count", "rep": "r-1"}, {"A": 12.349}
    assert chk.render('{{ $labels.rep }}: {{ printf "%.1f" $values.A.Value }} d',
                      labels, values) == "r-1: 12.3 d"
    assert chk.render('{{ printf "%.0f" $values.A.Value }}', labels, {"A": 2.5}) == "2"
    mix = ('{{ if eq $labels.basis "count" }}{{ printf "%.0f" $values.A.Value }} short'
           '{{ else }}{{ printf "%.0f" $values.A.Value }} points{{ end }}.')
    assert chk.render(mix, labels, values) == "12 short."
    assert chk.render(mix, {"basis": "share"}, values) == "12 points."
    nested = ('{{ if eq $labels.basis "share" }}S{{ else }}C'
              '{{ if eq $labels.rep "r-2" }}2{{ else }}{{ $labels.rep }}{{ end }}{{ end }}')
    assert chk.render(nested, labels, values) == "Cr-1"
    chain = ('{{ if eq $labels.rep "r-0" }}0{{ else if eq $labels.rep "r-1" }}1'
             '{{ else if eq $labels.basis "count" }}c{{ else }}-{{ end }}')
    assert [chk.render(chain, {"rep": r, "basis": "count"}, values)
            for r in ("r-0", "r-1", "r-2")] == ["0", "1", "c"]
    assert chk.render(chain, {"rep": "r-2", "basis": "share"}, values) == "-"
    assert chk.render("a {{- $labels.rep -}} b", labels, values) == "ar-1b"
    assert chk.render('{{ printf "%.1f" $values.A.Value }}', labels, {"A": None}) == \
        "%!f(<nil>)"
    for bad in ("{{ humanize $values.A.Value }}", '{{ if eq $labels.rep "r-1" }}x',
                "{{ end }}", '{{ if eq $labels.rep "no" }}{{ $value }}{{ end }}'):
        with pytest.raises(chk.RuleError):
            chk.render(bad, labels, values)


def test_coaching_rules_label_nothing_that_moves_while_they_fire() -> None:
    """Labels are an alert instance's identity: the changing figure is the value."""
    from touchline.dashboards.alerts import ALERTS, COACHING_THRESHOLD, GROUP_COACHING

    moving = {"days_in_stage", "days_since_touch", "prospects_in_cadence", "waiting_hours",
              "done", "planned_so_far", "share_percent", "planned_share_percent",
              "next_channel", "sla_ratio", "untouched_ratio"}
    coaching = [a for a in ALERTS if a.group == GROUP_COACHING]
    assert len(coaching) == 7
    for spec in coaching:
        assert spec.threshold == COACHING_THRESHOLD
        text = spec.summary + spec.action
        assert not any(f"$labels.{name} " in text for name in moving), spec.uid
        assert "$values.A.Value" in spec.summary, spec.uid


@pytest.mark.integration
def test_policies_group_and_route_coaching_alerts_on_labels_they_carry(results) -> None:
    """Every label a manager policy groups or matches on is on every firing coaching alert."""
    from touchline.dashboards.alerts import ALERTS, GROUP_COACHING
    from touchline.dashboards.provisioning_files import policies_file

    used: set[str] = set()

    def walk(policy: dict) -> None:
        matchers = [m[0] for m in policy.get("object_matchers", [])]
        if "audience" not in matchers:  # the ops route groups ops alerts by reason
            used.update(matchers)
            used.update(policy.get("group_by", []))
        for child in policy.get("routes", []):
            walk(child)

    (root,) = policies_file()["policies"]
    walk(root)
    assert {"team", "rep"} <= used
    fired = 0
    for spec in ALERTS:
        if spec.group != GROUP_COACHING:
            continue
        for f in results[spec.uid].firing:
            fired += 1
            assert used - {"alertname"} <= set(f.labels) | set(spec.labels), spec.uid
    assert fired >= 5


@pytest.mark.integration
def test_pipeline_stall_fires_when_no_worker_reports(seeded) -> None:
    # evaluate the same rule two hours in the future: no report inside its one-hour range
    import datetime as dt

    rule = next(r for g in chk.rules_file()["groups"] for r in g["rules"]
                if r["uid"] == "touchline-pipeline-freshness")
    later = chk.evaluate(seeded.sink, rule, "touchline-ops", seeded.now + dt.timedelta(hours=2))
    assert not later.error and len(later.firing) == 1


@pytest.fixture
def cli_env(seeded, monkeypatch, free_port, heartbeat):
    from touchline.settings import get_settings

    heartbeat()  # the CLI judges "now": the workers have just reported

    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__DSN", f"chdb://{seeded.data_dir}")
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__STORE_PORT", str(free_port))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.integration
def test_cli_lists_what_fires_for_whom_and_why(cli_env) -> None:
    out = CliRunner().invoke(alerts, ["check"])
    assert out.exit_code == 0, out.output
    assert "FIRING  Deal past its stage SLA" in out.output
    assert "team=team-east rep=r-east-2" in out.output
    assert "team=team-west rep=r-west-1" in out.output
    assert "why: opp-stuck" in out.output
    assert "opp-ent" not in out.output and "Busy GmbH" not in out.output
    assert "ok      DLQ rate spike" in out.output


@pytest.mark.integration
def test_cli_json_and_fail_on_firing(cli_env) -> None:
    out = CliRunner().invoke(alerts, ["check", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert {r["uid"] for r in doc if r["firing"]} == {
        "touchline-stuck-deal", "touchline-untouched-account", "touchline-cadence-behind",
        "touchline-speed-to-lead", "touchline-activity-mix"}
    assert CliRunner().invoke(alerts, ["check", "--fail-on-firing"]).exit_code == 1


@pytest.mark.integration
def test_cli_without_clickhouse_is_one_clear_line(monkeypatch, tmp_path, free_port) -> None:
    from touchline.settings import get_settings

    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__DSN", f"http://127.0.0.1:{free_port}")
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__STORE_PORT", str(free_port))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(alerts, ["check"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 1
    assert out.output.startswith("Error: cannot reach ClickHouse")
    assert "Traceback" not in out.output


@pytest.mark.integration
def test_dashboards_check_runs_every_panel(cli_env) -> None:
    from touchline.dashboards.cli import dashboards
    from touchline.dashboards.local.catalog import dashboards as all_dashboards

    out = CliRunner().invoke(dashboards, ["check"])
    assert out.exit_code == 0, out.output
    total = sum(len(d.panels) for d in all_dashboards())
    assert out.output.count("\nok ") + out.output.startswith("ok ") == total
    assert "ERROR" not in out.output


@pytest.mark.integration
def test_a_dlq_spike_keeps_its_labels_while_rejects_pile_up(seeded) -> None:
    """The count is in the summary and value, not a label: more rejects, the same instance.

    The spike is a month ahead of the seeded data, evaluated then, so no other test sees it.
    """
    from tests.dashboards.conftest import TENANT, _table

    later = seeded.now + dt.timedelta(days=30)

    def reject(n: int, start: int) -> None:
        seeded.sink.insert("dlq_events", _table([
            {"dlq_key": f"too_large|big-{s}", "failed_at": later - dt.timedelta(seconds=s),
             "reason": "too_large",
             "error": "5 MiB", "source_topic": "activities.raw", "partition": 0,
             "offset": 90_000 + s, "line_no": 1, "origin": "test", "event_id": f"big-{s}",
             "tenant": TENANT, "payload": "{}", "payload_encoding": "utf-8",
             "payload_bytes": 2, "dlq_partition": 0, "dlq_offset": 90_000 + s}
            for s in range(start, start + n)]))

    def spike() -> chk.Firing:
        (rule,) = [r for r in chk.check(seeded.sink, later) if r.uid == "touchline-dlq-spike"]
        (f,) = rule.firing
        return f

    reject(12, 0)
    first = spike()
    reject(20, 12)
    second = spike()
    assert first.labels == second.labels and first.labels["reason"] == "too_large"
    assert not any(v.isdigit() for v in first.labels.values())
    assert "rejected as too_large" in second.summary and "{{" not in second.summary
