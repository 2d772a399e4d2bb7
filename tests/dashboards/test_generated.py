"""Generated files are up to date and valid against Grafana's own schemas (no npm needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from touchline.dashboards import build
from touchline.dashboards.provisioning_files import (
    contact_points_file,
    rule_group_file_form,
    rule_groups_json,
)

SCHEMAS = Path(build.ROOT) / "schema"
GENERATED = sorted((Path(build.ROOT) / "generated").glob("*.json"))


def _schema(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def test_regenerating_changes_nothing() -> None:
    assert build.stale() == [], "run `touchline dashboards build` and commit the result"


def test_stale_detects_a_hand_edit(tmp_path: Path) -> None:
    build.write(tmp_path)
    assert build.stale(tmp_path) == []
    target = tmp_path / "generated" / "touchline-ops.json"
    target.write_text(target.read_text().replace("Lag by partition", "Lag by partitoin"))
    assert build.stale(tmp_path) == ["generated/touchline-ops.json"]


def test_there_are_three_dashboards_with_fixed_uids() -> None:
    assert [p.stem for p in GENERATED] == sorted(build.DASHBOARDS)
    for path in GENERATED:
        doc = json.loads(path.read_text())
        assert doc["uid"] == path.stem
        assert "generated" in doc["tags"]


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.stem)
def test_dashboard_validates_against_grafana_schema(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert _errors(_schema("dashboard"), doc) == []
    for panel in doc["panels"]:
        options = _schema(f"panel-{panel['type']}-options")
        assert _errors(options, panel.get("options", {})) == [], panel["title"]


def test_schema_rejects_a_broken_dashboard() -> None:
    doc = json.loads(GENERATED[0].read_text())
    doc["panels"][0]["gridPos"]["w"] = "wide"
    doc["refresh_rate"] = "10s"
    errors = _errors(_schema("dashboard"), doc)
    assert any("gridPos" in e for e in errors)
    assert any("refresh_rate" in e for e in errors)


def test_rule_groups_validate_against_grafana_schema() -> None:
    validator = _schema("alert-rule-group")
    groups = rule_groups_json()
    assert [g["title"] for g in groups] == ["touchline-coaching", "touchline-ops",
                                            "touchline-pipeline"]
    for group in groups:
        assert _errors(validator, group) == []
    broken = json.loads(json.dumps(groups[0]))
    broken["rules"][0]["noDataState"] = "Maybe"
    assert _errors(validator, broken)


def test_contact_points_and_policy_validate() -> None:
    from touchline.dashboards import notifications
    from touchline.dashboards.provisioning_files import as_json

    for cp in notifications.contact_points():
        assert _errors(_schema("alert-contact-point"), as_json(cp)) == []
    assert _errors(_schema("alert-notification-policy"),
                   as_json(notifications.notification_policy())) == []


def test_provisioned_rules_file_is_the_api_groups_in_file_form() -> None:
    text = (Path(build.ROOT) / "provisioning/alerting/rules.yaml").read_text()
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == 1
    assert doc["groups"] == [rule_group_file_form(g) for g in rule_groups_json()]
    for group in doc["groups"]:
        assert group["folder"] == "touchline"
        # every minute; the pipeline stall rule every 10 s (Grafana's least interval)
        assert group["interval"] == ("10s" if group["name"] == "touchline-pipeline" else "1m")
        for rule in group["rules"]:
            required = {"uid", "title", "condition", "data", "for", "labels", "annotations"}
            assert required <= set(rule)
            # Grafana expands $VARS in labels: none may contain a dollar sign
            assert not any("$" in v for v in rule["labels"].values())


def test_every_team_has_a_route_and_a_contact_point() -> None:
    from touchline.dashboards import notifications

    names = {cp["name"] for cp in contact_points_file()["contactPoints"]}
    policy = yaml.safe_load(
        (Path(build.ROOT) / "provisioning/alerting/policies.yaml").read_text())["policies"][0]
    routed = {r["object_matchers"][0][2]: r["receiver"] for r in policy["routes"]}
    config = notifications.routing()
    for route in config.routes:
        target = route.team or route.manager
        if target:
            assert routed[target] == notifications.receiver_name(route) in names
    default = next(r for r in config.routes if r.default)
    assert policy["receiver"] == notifications.receiver_name(default) in names
    assert routed["ops"] == notifications.OPS_RECEIVER
    east = next(p for p in contact_points_file()["contactPoints"]
                if p["name"] == "touchline-team-east-manager")
    (email,) = east["receivers"]
    assert email["settings"]["addresses"] == "${TOUCHLINE_ALERTS_TEAM_EAST_EMAIL}"


def test_a_new_team_in_the_routing_file_gets_a_contact_point_and_a_route() -> None:
    from touchline.coaching.routing import parse_routing
    from touchline.dashboards import notifications
    from touchline.dashboards.provisioning_files import as_json

    config = parse_routing("routes:\n  - team: team-north\n    email: [n@example.com]\n"
                           "  - manager: mgr-7\n    slack: https://hooks.example.com/x\n"
                           "    kinds: [stuck_deal, idle_rep]\n")
    points = {as_json(cp)["name"]: as_json(cp) for cp in notifications.contact_points(config)}
    assert set(points) == {"touchline-ops", "touchline-managers", "touchline-team-north-manager",
                           "touchline-manager-mgr-7"}
    assert points["touchline-team-north-manager"]["settings"]["addresses"] == "n@example.com"
    assert points["touchline-manager-mgr-7"]["type"] == "slack"
    assert "touchline-managers" in points  # no default route: the fallback stays
    policy = as_json(notifications.notification_policy(config))
    matchers = [r["object_matchers"] for r in policy["routes"]]
    assert [["team", "=", "team-north"]] in matchers
    assert [["manager", "=", "mgr-7"], ["signal", "=~", "stuck_deal|idle_rep"]] in matchers


def test_datasource_provisioning_reads_credentials_from_env() -> None:
    doc = yaml.safe_load((Path(build.ROOT) /
                          "provisioning/datasources/touchline-clickhouse.yaml").read_text())
    ds = doc["datasources"][0]
    assert ds["type"] == "grafana-clickhouse-datasource"
    assert ds["jsonData"]["host"] == "clickhouse" and ds["jsonData"]["port"] == 9000
    assert ds["jsonData"]["username"] == "$TOUCHLINE_GRAFANA_CH_USER"
    assert ds["secureJsonData"]["password"] == "$TOUCHLINE_GRAFANA_CH_PASSWORD"
    assert ds["jsonData"]["defaultDatabase"] == "touchline"
