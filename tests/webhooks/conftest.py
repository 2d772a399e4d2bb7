"""Fixtures of the webhook tests: a real Kafka-wire broker, the real aiohttp server on it.

`broker` wraps the test run's broker (tests/conftest.py `kafka_bootstrap`: noida-db,
Apache Kafka with TOUCHLINE_TEST_BROKER=kafka, or TOUCHLINE_TEST_KAFKA). `own_broker_factory`
starts a broker of a test's own (one it may stop), of the same kind (tests/harness.py
`start_test_broker`), on a free port with a temp data dir, stopped by SIGTERM to its PID
(SIGKILL after 5 s). Topics are created with kafka-python's admin.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from pydantic import SecretStr

from tests.harness import start_test_broker
from touchline.settings import SOURCES, KafkaSettings, Settings, WebhookSettings, WebSettings
from touchline.webhooks.server import make_app

FIXTURES = Path(__file__).parent / "fixtures"
PARTITIONS = 2
MAX_BODY = 64 * 1024
SECRETS = {
    "twilio_auth_token": "twilio-test-auth-token",
    "hubspot_client_secret": "hubspot-test-client-secret",
    "outreach_secret": "outreach-test-secret",
    "salesforce_relay_token": "salesforce-relay-test-token",
}
PUBLIC_BASE_URL = "https://ingest.touchline.example"
#: this test run's vendor raw topics: never the default `raw.<source>`, which every pipeline
#: worker of the suite consumes (the map_<source> agents run in all of them)
RAW_PREFIX = f"rawtest{uuid.uuid4().hex[:8]}."


def fixture_body(name: str) -> str:
    """A fixture's body: everything after its `#` header lines and the blank line."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    return "\n".join(lines[start:]).strip()


class Kafka:
    """Helpers over one broker: create topics, read end offsets and new messages."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def stop(self) -> None:
        """Nothing to stop for a broker this object did not start."""

    def create_topics(self, names: list[str], partitions: int = PARTITIONS) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            for name in names:
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            admin.close()

    def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
        finally:
            consumer.close()

    def read_from(self, topic: str, offsets: dict[int, int]) -> list[tuple[bytes | None, bytes]]:
        """Every message of `topic` after `offsets` (partition -> offset), in partition order."""
        ends = self.end_offsets(topic)
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        out: list[tuple[bytes | None, bytes]] = []
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, offsets.get(tp.partition, 0))
            deadline = time.monotonic() + 10
            wanted = sum(ends[p] - offsets.get(p, 0) for p in ends)
            while len(out) < wanted and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    out.extend((r.key, r.value) for r in records)
        finally:
            consumer.close()
        return out


class Broker(Kafka):
    """One broker process of our own (noida-db, or Apache Kafka on the Kafka run)."""

    def __init__(self, data_dir: Path) -> None:
        self.service = start_test_broker(data_dir)
        super().__init__(f"127.0.0.1:{self.service.port}")

    def stop(self) -> None:
        self.service.stop(grace=5)


@pytest.fixture(scope="session")
def broker(kafka_bootstrap: str) -> Iterator[Kafka]:
    """The test run's broker, with this run's vendor raw topics (deleted at the end)."""
    kafka = Kafka(kafka_bootstrap)
    topics = [WebhookSettings(raw_topic_prefix=RAW_PREFIX).raw_topic(s) for s in SOURCES]
    kafka.create_topics(topics)
    yield kafka
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics(topics)
    finally:
        admin.close()


@pytest.fixture
def topic_of() -> Callable[[str], str]:
    """source -> this test run's vendor raw topic."""
    return WebhookSettings(raw_topic_prefix=RAW_PREFIX).raw_topic


@pytest.fixture
def sendgrid_keys() -> tuple[object, str]:
    """A fresh ECDSA P-256 key pair: (private key, base64 DER public key as SendGrid shows it)."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def make_settings(bootstrap: str, sendgrid_public_key: str = "", **webhooks: object) -> Settings:
    """Settings for one test server (no environment involved)."""
    secrets = {k: SecretStr(v) for k, v in SECRETS.items()}
    wh = WebhookSettings(
        **secrets,  # type: ignore[arg-type]
        sendgrid_public_key=SecretStr(sendgrid_public_key),
        public_base_url=PUBLIC_BASE_URL,
        raw_topic_prefix=RAW_PREFIX,
        broker_timeout_s=3.0,
        **webhooks,  # type: ignore[arg-type]
    )
    return Settings(
        kafka=KafkaSettings(bootstrap=bootstrap, partitions=PARTITIONS),
        web=WebSettings(max_body_bytes=MAX_BODY),
        webhooks=wh,
    )


@pytest.fixture
async def ingest(
    broker: Kafka, sendgrid_keys: tuple[object, str]
) -> AsyncIterator[TestClient]:
    """The real ingest app on a real port, producing to the test run's broker."""
    settings = make_settings(broker.bootstrap, sendgrid_keys[1])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    client = TestClient(TestServer(make_app(settings, producer)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await producer.stop()


@pytest.fixture
def body_of() -> Callable[[str], str]:
    """fixture_body as a fixture (test modules do not import conftest)."""
    return fixture_body


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    """make_settings as a fixture."""
    return make_settings


@pytest.fixture
def own_broker_factory(tmp_path: Path) -> Iterator[Callable[[], Broker]]:
    """Start extra brokers (e.g. one a test may stop); all are stopped at the end."""
    started: list[Broker] = []

    def start() -> Broker:
        data_dir = tmp_path / f"noida-{len(started)}"
        data_dir.mkdir()
        b = Broker(data_dir)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()
