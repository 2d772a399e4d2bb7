"""What `touchline dashboards push` would send. No Grafana can run here (no Docker engine, not
on PyPI/npm/Debian), so the requests are checked as payloads, not against a live server."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner

from touchline.dashboards import push
from touchline.dashboards.build import ROOT
from touchline.dashboards.cli import dashboards

ENV = {
    "TOUCHLINE_GRAFANA_CH_USER": "grafana_ro",
    "TOUCHLINE_GRAFANA_CH_PASSWORD": "s3cret",
    "TOUCHLINE_ALERTS_OPS_EMAIL": "ops@example.com",
    "TOUCHLINE_ALERTS_MANAGERS_EMAIL": "managers@example.com",
    "TOUCHLINE_ALERTS_TEAM_EAST_EMAIL": "east@example.com",
    "TOUCHLINE_ALERTS_TEAM_WEST_EMAIL": "west@example.com",
    "TOUCHLINE_ALERTS_TEAM_ENTERPRISE_EMAIL": "ent@example.com",
}


def _schema(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((ROOT / "schema" / f"{name}.schema.json")
                                                 .read_text()))


def test_plan_order_and_kinds() -> None:
    steps = push.plan(ENV)
    kinds = [s.kind for s in steps]
    assert kinds[:2] == ["datasource", "folder"]
    assert kinds.count("dashboard") == 3 and kinds.count("rule_group") == 2
    assert kinds.count("contact_point") == 5 and kinds[-1] == "policy_tree"
    # dependencies first: rules need the datasource and folder, policies need contact points
    assert kinds.index("rule_group") > kinds.index("folder")
    assert kinds.index("policy_tree") > max(i for i, k in enumerate(kinds)
                                            if k == "contact_point")


def test_datasource_payload_has_resolved_credentials() -> None:
    ds = push.plan(ENV, clickhouse_host="ch.internal", clickhouse_port=9440)[0].payload
    assert ds["type"] == "grafana-clickhouse-datasource" and ds["uid"] == "touchline-clickhouse"
    assert ds["jsonData"]["username"] == "grafana_ro"
    assert ds["secureJsonData"]["password"] == "s3cret"
    assert (ds["jsonData"]["host"], ds["jsonData"]["port"]) == ("ch.internal", 9440)


def test_dashboard_payloads_are_the_committed_files() -> None:
    for step in (s for s in push.plan(ENV) if s.kind == "dashboard"):
        committed = json.loads((ROOT / "generated" / f"{step.key}.json").read_text())
        assert step.payload["dashboard"] == committed
        assert step.payload["folderUid"] == "touchline" and step.payload["overwrite"] is True


def test_alerting_payloads_validate_against_the_api_schemas() -> None:
    steps = push.plan(ENV)
    for step in steps:
        if step.kind == "rule_group":
            assert list(_schema("alert-rule-group").iter_errors(step.payload)) == []
            assert step.payload["folderUid"] == "touchline"
            assert all(r["orgID"] == 1 for r in step.payload["rules"])
        elif step.kind == "contact_point":
            assert list(_schema("alert-contact-point").iter_errors(step.payload)) == []
            assert "$" not in step.payload["settings"]["addresses"]
        elif step.kind == "policy_tree":
            assert list(_schema("alert-notification-policy").iter_errors(step.payload)) == []


def test_missing_env_is_a_clear_error() -> None:
    env = dict(ENV)
    del env["TOUCHLINE_ALERTS_TEAM_WEST_EMAIL"]
    with pytest.raises(push.PushError, match="TOUCHLINE_ALERTS_TEAM_WEST_EMAIL"):
        push.plan(env)


class _Recorder:
    """Stands in for grafana_client.GrafanaApi to record which calls push makes, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        outer = self

        class _Part:
            def __init__(self, name: str) -> None:
                self.name = name

            def __getattr__(self, method: str):
                def call(*args, **kwargs):
                    outer.calls.append((f"{self.name}.{method}", args))
                    if method.startswith("get_"):
                        if method == "get_contactpoints":
                            return []
                        raise RuntimeError("404 not found")
                    return {}
                return call

        for part in ("datasource", "folder", "dashboard", "alertingprovisioning"):
            setattr(self, part, _Part(part))


def test_push_maps_steps_to_grafana_client_calls() -> None:
    api = _Recorder()
    push.push(api, push.plan(ENV), echo=lambda _: None)
    names = [c[0] for c in api.calls]
    assert names[:2] == ["datasource.get_datasource_by_uid", "datasource.create_datasource"]
    assert "folder.create_folder" in names
    assert names.count("dashboard.update_dashboard") == 3
    groups = [c[1] for c in api.calls if c[0] == "alertingprovisioning.update_rule_group"]
    assert [(g[0], g[1]) for g in groups] == [("touchline", "touchline-coaching"),
                                              ("touchline", "touchline-ops")]
    assert names.count("alertingprovisioning.create_contactpoint") == 5
    assert names[-1] == "alertingprovisioning.set_notification_policy_tree"


def test_cli_dry_run_prints_the_requests(monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    out = CliRunner().invoke(dashboards, ["push", "--url", "http://grafana:3000", "--dry-run"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert [d["kind"] for d in doc][0] == "datasource"


def test_cli_push_needs_a_token(monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TOUCHLINE_GRAFANA_TOKEN", raising=False)
    out = CliRunner().invoke(dashboards, ["push", "--url", "http://grafana:3000"])
    assert out.exit_code == 1 and "TOUCHLINE_GRAFANA_TOKEN" in out.output


def test_cli_build_check_is_clean() -> None:
    out = CliRunner().invoke(dashboards, ["build", "--check"])
    assert out.exit_code == 0, out.output
