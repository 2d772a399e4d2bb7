"""docker-compose stays correct (no engine runs here) and the CLI's own checks.

The compose file is validated against the Compose Specification's published JSON schema
(.ci/compose-spec/, with its source), then held to what an operator relies on: data on named
volumes, a healthcheck on every long-running service, exact image tags, the demo-only pieces
behind profiles, no mail host that does not exist, the settings the sink relies on, and the
reader Grafana uses being the one `sink init --users` creates.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from tests.engine_25_8 import server_settings
from tests.harness import clean_env
from touchline.cli.main import main
from touchline.settings import Settings
from touchline.sinks.clickhouse import INSERT_SETTINGS
from touchline.sinks.security import SecuritySettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
#: one-shot or trial-only services: no healthcheck asked of them
NOT_LONG_RUNNING = {"init", "simulator"}


def _volumes(service: dict) -> dict[str, str]:
    """target -> source of a service's `source:target[:mode]` mounts.

    A source given as `${VAR:-default}` counts as its default.
    """
    mounts = {}
    for volume in service.get("volumes", []):
        match = re.fullmatch(r"(\$\{\w+:-[^}]*\}|[^:]+):([^:]+)(?::\w+)?", volume)
        assert match, volume
        source = re.sub(r"^\$\{\w+:-([^}]*)\}$", r"\1", match.group(1))
        mounts[match.group(2)] = source
    return mounts


def test_compose_validates_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / ".ci/compose-spec/compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert errors == []
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["init"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["grafana"]["restart_policy"] = "always"
    assert len(list(validator.iter_errors(broken))) == 2  # the schema does catch mistakes


def test_compose_production_shape() -> None:
    kafka = SERVICES["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"]          # KRaft, no ZooKeeper
    assert not any("zookeeper" in name for name in SERVICES)
    workers = [s for s in SERVICES if s.startswith("worker")]
    assert len(workers) >= 2
    ids = {SERVICES[w]["environment"]["TOUCHLINE_WORKER_ID"] for w in workers}
    assert len(ids) == len(workers)  # static membership needs one id per worker
    for name in [*workers, "init", "ingest", "simulator"]:
        env = SERVICES[name]["environment"]
        assert env["TOUCHLINE_KAFKA__BOOTSTRAP"] == "kafka:9092"
        assert env["TOUCHLINE_CLICKHOUSE__DSN"] == "http://clickhouse:8123"
        # every TOUCHLINE_ variable maps onto a field of the one Settings object
        for key in env:
            if key.startswith("TOUCHLINE_") and "__" in key:
                group, field = key.removeprefix("TOUCHLINE_").lower().split("__", 1)
                assert field in type(getattr(Settings(), group)).model_fields, key
    for service in SERVICES.values():
        for source in _volumes(service).values():
            if source.startswith("."):
                assert (ROOT / source).exists(), source


def test_data_lives_on_named_volumes() -> None:
    declared = set(COMPOSE["volumes"])
    kafka = SERVICES["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert _volumes(kafka)[log_dirs] == "kafka-data"  # not the image's /tmp default
    assert _volumes(SERVICES["clickhouse"])["/var/lib/clickhouse"] == "clickhouse-data"
    assert _volumes(SERVICES["grafana"])["/var/lib/grafana"] == "grafana-data"
    assert {"kafka-data", "clickhouse-data", "grafana-data"} <= declared
    # a volume formatted by KRaft needs the same cluster id after recreation
    cluster_id = re.fullmatch(r"\$\{TOUCHLINE_KAFKA_CLUSTER_ID:-([\w-]{22})\}",
                              kafka["environment"]["CLUSTER_ID"])
    assert cluster_id, kafka["environment"]["CLUSTER_ID"]


def test_kafka_has_a_listener_for_this_host_only() -> None:
    env = SERVICES["kafka"]["environment"]
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["PLAINTEXT"] == "kafka:9092"
    host, port = advertised["EXTERNAL"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert f"127.0.0.1:{port}:{port}" in SERVICES["kafka"]["ports"]
    assert f"EXTERNAL://:{port}" in env["KAFKA_LISTENERS"].split(",")
    assert "EXTERNAL:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    # ClickHouse answers this host only as well
    assert SERVICES["clickhouse"]["ports"] == ["127.0.0.1:8123:8123"]


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        if name in NOT_LONG_RUNNING:
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("retries", 0) >= 3 and check.get("timeout"), name
    assert SERVICES["init"]["restart"] == "no"


def test_images_are_pinned_to_exact_versions() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {name: s["image"] for name, s in SERVICES.items() if "image" in s}
    assert images.keys() >= {"kafka", "clickhouse", "grafana", "worker-1"}
    for name, image in images.items():
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+(\.\d+)?", image), (name, image)
    assert images["worker-1"] == f"touchline:{version}"
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base


def test_demo_and_optional_pieces_are_behind_profiles() -> None:
    profiled = {name: s["profiles"] for name, s in SERVICES.items() if "profiles" in s}
    assert profiled == {"simulator": ["demo"], "ingest": ["webhooks"]}
    # started without a vendor secret, the ingest exits with the variable to set: a bounded
    # number of tries, not a restart loop
    assert re.fullmatch(r"on-failure:\d", SERVICES["ingest"]["restart"])


def test_grafana_mail_is_off_unless_configured() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_SMTP_ENABLED"] == "${GF_SMTP_ENABLED:-false}"
    assert env["GF_SMTP_HOST"] == "${GF_SMTP_HOST:-}"
    assert not any("smtp:25" in str(v) for v in env.values())


def test_clickhouse_server_gets_the_settings_the_sink_relies_on() -> None:
    mounts = _volumes(SERVICES["clickhouse"])
    source = mounts["/etc/clickhouse-server/users.d/touchline-settings.xml"]
    settings = server_settings(ROOT / source)
    for name, value in INSERT_SETTINGS.items():
        assert settings[name] == str(value), name
    assert settings["async_insert"] == "0" and settings["insert_deduplicate"] == "1"


def test_reader_and_row_policies_are_created_at_start_under_one_name() -> None:
    init = SERVICES["init"]
    script = _volumes(init)[init["entrypoint"][-1]]
    lines = (ROOT / script).read_text().splitlines()
    assert "touchline sink init --users" in lines and "touchline topics" in lines
    reader = SecuritySettings().reader_user
    grafana = SERVICES["grafana"]
    assert grafana["environment"]["TOUCHLINE_GRAFANA_CH_USER"] == \
        f"${{TOUCHLINE_SECURITY__READER_USER:-{reader}}}"
    assert grafana["depends_on"]["init"]["condition"] == "service_completed_successfully"
    readme = (ROOT / "dashboards/README.md").read_text()
    assert "grafana_ro" not in readme and reader in readme


@pytest.mark.integration
def test_worker_healthcheck_fails_without_progress_reports(tmp_path: Path) -> None:
    """The workers' healthcheck query, run for real: unhealthy with no report, healthy after."""
    test = SERVICES["worker-1"]["healthcheck"]["test"][1]
    argv = shlex.split(test.replace("$${TOUCHLINE_WORKER_ID}", "worker-1"))
    assert argv[:2] == ["touchline", "query"]
    env = clean_env()
    env["TOUCHLINE_DATA_DIR"] = str(tmp_path)
    env["TOUCHLINE_CLICKHOUSE__STORE_PORT"] = "1"  # no store: the directory itself

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "touchline", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    assert run("sink", "init").returncode == 0
    unhealthy = run(*argv[1:])
    assert unhealthy.returncode == 1 and "no progress report in 60 s" in unhealthy.stderr
    report = ("from touchline.sinks.clickhouse import ClickHouseSink; import sys; "
              "s = ClickHouseSink('chdb://' + sys.argv[1]).start(); "
              "s.command(\"INSERT INTO touchline.pipeline_metrics (ts, worker) "
              "VALUES (now64(3), 'worker-1')\"); s.close()")
    subprocess.run([sys.executable, "-c", report, str(tmp_path / "clickhouse")], check=True,
                   env=env, timeout=120)
    healthy = run(*argv[1:])
    assert (healthy.returncode, healthy.stdout, healthy.stderr) == (0, "", "")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_env_example_lists_every_setting() -> None:
    from touchline.stack.services import settings_env

    values = dict(ln.split("=", 1) for ln in (ROOT / ".env.example").read_text().splitlines()
                  if "=" in ln and not ln.startswith("#"))
    listed = set(values)
    defaults = settings_env(Settings())
    assert set(defaults) <= listed, set(defaults) - listed
    # with its default (paths are made absolute by the settings)
    for name, default in defaults.items():
        if not name.endswith(("_DIR", "_PATH")):
            given = values[name]
            same = (float(given) == float(default) if _number(default) and _number(given)
                    else given == default)
            assert same, f"{name}: .env.example says {given!r}, the default is {default!r}"
    # and no setting that is gone: an unknown TOUCHLINE_<GROUP>__<NAME> is silently ignored
    fields = {f"TOUCHLINE_{group.upper()}__{name.upper()}"
              for group, info in Settings.model_fields.items()
              if hasattr(info.annotation, "model_fields")
              for name in info.annotation.model_fields}
    stale = {n for n in listed if n.startswith("TOUCHLINE_") and "__" in n} - fields
    assert not stale, stale
    # and every variable the compose file reads from it
    used = set(re.findall(r"\$\{(\w+)[:}]", (ROOT / "docker-compose.yml").read_text()))
    assert used <= listed, used - listed


def test_schema_check_command_passes_on_committed_file() -> None:
    result = CliRunner().invoke(main, ["schema", "--check"])
    assert result.exit_code == 0, result.output
