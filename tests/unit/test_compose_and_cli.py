"""docker-compose stays correct (no engine runs here) and the CLI's own checks."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from touchline.cli import main
from touchline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_production_shape():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"]          # KRaft, no ZooKeeper
    assert not any("zookeeper" in name for name in services)
    workers = [s for s in services if s.startswith("worker")]
    assert len(workers) >= 2
    ids = {services[w]["environment"]["TOUCHLINE_WORKER_ID"] for w in workers}
    assert len(ids) == len(workers)  # static membership needs one id per worker
    for name in [*workers, "init", "ingest", "simulator"]:
        env = services[name]["environment"]
        assert env["TOUCHLINE_KAFKA__BOOTSTRAP"] == "kafka:9092"
        assert env["TOUCHLINE_CLICKHOUSE__DSN"] == "http://clickhouse:8123"
        # every TOUCHLINE_ variable maps onto a field of the one Settings object
        for key in env:
            if key.startswith("TOUCHLINE_") and "__" in key:
                group, field = key.removeprefix("TOUCHLINE_").lower().split("__", 1)
                assert field in type(getattr(Settings(), group)).model_fields, key
    grafana = services["grafana"]
    mounts = " ".join(grafana["volumes"])
    assert "dashboards/provisioning" in mounts and "dashboards/generated" in mounts
    for volume in grafana["volumes"]:
        assert (ROOT / volume.split(":")[0]).exists(), volume


def test_env_example_lists_every_setting():
    from touchline.services import settings_env

    listed = {ln.split("=", 1)[0] for ln in (ROOT / ".env.example").read_text().splitlines()
              if "=" in ln and not ln.startswith("#")}
    assert set(settings_env(Settings())) <= listed


def test_schema_check_command_passes_on_committed_file():
    result = CliRunner().invoke(main, ["schema", "--check"])
    assert result.exit_code == 0, result.output
