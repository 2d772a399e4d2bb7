"""`touchline dashboards push`: its payloads, and the push itself against a Grafana HTTP API.

No Grafana can run here (no Docker engine; not on PyPI, npm or Debian), so push runs against a
real HTTP server on 127.0.0.1 that checks the request shapes Grafana's API documents and keeps
what it is sent (tests/dashboards/grafana_api.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest
from click.testing import CliRunner

from touchline.dashboards import push
from touchline.dashboards.build import ROOT
from touchline.dashboards.cli import dashboards
from touchline.stack.services import free_port

from .grafana_api import GrafanaServer

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
    assert kinds.count("dashboard") == 3 and kinds.count("rule_group") == 3
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


# -- against a Grafana HTTP API on 127.0.0.1 (tests/dashboards/grafana_api.py) ------------------

TOKEN = "glsa_test_token"


@pytest.fixture()
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[GrafanaServer]:
    """A Grafana API server, and the environment `touchline dashboards push` reads."""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    server = GrafanaServer(TOKEN).start()
    monkeypatch.setenv("TOUCHLINE_GRAFANA_URL", server.url)
    monkeypatch.setenv("TOUCHLINE_GRAFANA_TOKEN", TOKEN)
    try:
        yield server
    finally:
        server.stop()


def run_push(*args: str) -> tuple[int, list[str]]:
    out = CliRunner().invoke(dashboards, ["push", *args])
    assert out.exception is None or isinstance(out.exception, SystemExit), out.output
    return out.exit_code, out.output.splitlines()


@pytest.mark.integration
def test_push_creates_everything_grafana_needs(grafana: GrafanaServer) -> None:
    code, lines = run_push()
    assert code == 0, lines
    assert lines[-1] == f"{grafana.url}: 13 created, 1 updated, 0 unchanged"
    state = grafana.state
    ds = state.datasources["touchline-clickhouse"]
    assert (ds["type"], ds["access"], ds["jsonData"]["username"]) == \
        ("grafana-clickhouse-datasource", "proxy", "grafana_ro")
    assert ds["secureJsonData"] == {"password": "s3cret"}
    assert state.folders["touchline"]["title"] == "touchline"
    for uid in ("touchline-ops", "touchline-coaching", "touchline-rep"):
        held = state.dashboards[uid]
        committed = json.loads((ROOT / "generated" / f"{uid}.json").read_text())
        assert {k: v for k, v in held["dashboard"].items() if k not in ("id", "version")} == \
            committed
        assert held["meta"]["folderUid"] == "touchline"
    planned = {s.key: s.payload for s in push.plan(ENV) if s.kind == "rule_group"}
    assert set(state.rule_groups) == {("touchline", g) for g in planned}
    for (_, group), held in state.rule_groups.items():
        assert [r["uid"] for r in held["rules"]] == [r["uid"] for r in planned[group]["rules"]]
        assert all(q["datasourceUid"] in ("touchline-clickhouse", "__expr__")
                   for r in held["rules"] for q in r["data"])
    addresses = {cp["name"]: cp["settings"]["addresses"]
                 for cp in state.contact_points.values()}
    assert addresses == {
        "touchline-ops": "ops@example.com", "touchline-managers": "managers@example.com",
        "touchline-team-east-manager": "east@example.com",
        "touchline-team-west-manager": "west@example.com",
        "touchline-team-enterprise-manager": "ent@example.com"}
    assert state.policies["receiver"] == "touchline-managers"
    assert [r["receiver"] for r in state.policies["routes"]] == [
        "touchline-ops", "touchline-team-east-manager", "touchline-team-west-manager",
        "touchline-team-enterprise-manager"]


@pytest.mark.integration
def test_second_push_changes_nothing(grafana: GrafanaServer) -> None:
    assert run_push()[0] == 0
    before, writes = grafana.state.snapshot(), list(grafana.state.writes)
    code, lines = run_push()
    assert code == 0, lines
    assert lines[-1] == f"{grafana.url}: 0 created, 0 updated, 14 unchanged"
    assert grafana.state.snapshot() == before  # no new versions either
    assert grafana.state.writes == writes


@pytest.mark.integration
def test_push_writes_only_what_changed(grafana: GrafanaServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_push()[0] == 0
    writes = len(grafana.state.writes)
    # an address changed in the environment, and a dashboard edited by hand in Grafana
    monkeypatch.setenv("TOUCHLINE_ALERTS_TEAM_WEST_EMAIL", "west-lead@example.com")
    grafana.state.dashboards["touchline-rep"]["dashboard"]["title"] = "edited in the UI"
    code, lines = run_push()
    assert code == 0, lines
    assert grafana.state.writes[writes:] == [
        "POST dashboard touchline-rep", "PUT contact_point touchline-team-west-manager-email"]
    assert lines[-1] == f"{grafana.url}: 0 created, 2 updated, 12 unchanged"
    assert grafana.state.contact_points["touchline-team-west-manager-email"]["settings"][
        "addresses"] == "west-lead@example.com"
    committed = json.loads((ROOT / "generated" / "touchline-rep.json").read_text())
    assert grafana.state.dashboards["touchline-rep"]["dashboard"]["title"] == committed["title"]
    # --force writes everything again (e.g. a new datasource password Grafana never shows)
    monkeypatch.setenv("TOUCHLINE_GRAFANA_CH_PASSWORD", "rotated")
    code, lines = run_push("--force")
    assert lines[-1] == f"{grafana.url}: 0 created, 14 updated, 0 unchanged"
    assert grafana.state.datasources["touchline-clickhouse"]["secureJsonData"] == {
        "password": "rotated"}


@pytest.mark.integration
def test_wrong_token_is_one_line_and_writes_nothing(grafana: GrafanaServer) -> None:
    code, lines = run_push("--token", "not-the-token")
    assert code == 1
    assert lines == [line for line in lines if line.startswith("Error: ")] and len(lines) == 1
    assert lines[0].startswith("Error: datasource touchline-clickhouse: Grafana refused the "
                               "token (HTTP 401)") and "TOUCHLINE_GRAFANA_TOKEN" in lines[0]
    assert grafana.state.writes == []


@pytest.mark.integration
def test_unreachable_grafana_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, lines = run_push("--url", f"http://127.0.0.1:{free_port()}", "--token", TOKEN)
    assert (code, len(lines)) == (1, 1), lines
    assert lines[0] == ("Error: datasource touchline-clickhouse: cannot reach Grafana "
                        "(connection refused): check --url / TOUCHLINE_GRAFANA_URL")


@pytest.mark.integration
def test_the_api_checks_references_so_order_matters(grafana: GrafanaServer) -> None:
    """Rules before their data source, or policies before their contact points, are refused
    as Grafana refuses them: the server is strict enough for push's order to be tested."""
    api = push.connect(grafana.url, TOKEN)
    steps = push.plan(ENV)
    group = next(s for s in steps if s.kind == "rule_group")
    with pytest.raises(push.PushError, match="data source 'touchline-clickhouse' not found"):
        push.push(api, [s for s in steps if s.kind == "folder"] + [group], echo=lambda _: None)
    policy = next(s for s in steps if s.kind == "policy_tree")
    with pytest.raises(push.PushError, match="receiver 'touchline-managers' does not exist"):
        push.push(api, [policy], echo=lambda _: None)
    assert grafana.state.writes == ["POST folder touchline"]


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
