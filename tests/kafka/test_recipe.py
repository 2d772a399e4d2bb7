"""The Kafka recipe without Java: the tests' broker is the version docker-compose runs."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.kafka.launcher import kafka_version, random_cluster_id, server_properties

ROOT = Path(__file__).resolve().parents[2]


def test_tests_run_the_kafka_version_of_docker_compose():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
    assert kafka_version().startswith("4.")


def test_server_properties_are_a_combined_kraft_node_on_loopback(tmp_path: Path):
    props = server_properties(tmp_path, 1111, 2222)
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:2222"
    assert props["auto.create.topics.enable"] == "false"  # as docker-compose's broker
    cluster_id = random_cluster_id()
    assert len(cluster_id) == 22 and not cluster_id.startswith("-")
