"""A real single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) for tests.

The broker comes from Maven Central: `mvn dependency:build-classpath` on tests/kafka/pom.xml
(pinned version) runs once, and the classpath it prints is cached in
~/.cache/touchline/kafka-<pom hash>.classpath (TOUCHLINE_KAFKA_CLASSPATH_CACHE overrides the
folder); the jars stay in Maven's own ~/.m2. A broker gets a data directory of its own with a
generated server.properties (listeners on 127.0.0.1, free ports), its log dirs formatted by
kafka.tools.StorageTool (`format --standalone`, as `kafka-storage.sh` does), and runs as
`java ... kafka.Kafka server.properties`: that JVM's PID is the process the tests signal
(SIGTERM: controlled shutdown; SIGKILL: none). Starting again on the same data directory reuses
its properties and ports, so a restart keeps the topics, offsets and the cluster id.

    python -m tests.kafka.launcher            # one broker on free ports until Ctrl-C
    python -m tests.kafka.launcher --classpath  # only resolve and print the classpath
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from touchline.stack.services import Service, ServiceError, free_port, port_open, spawn

POM = Path(__file__).with_name("pom.xml")
#: the log line KafkaRaftServer writes once the broker serves requests
STARTED = "Kafka Server started"
#: the JVM of a test broker: Kafka's own G1 options (kafka-run-class.sh), a smaller heap
JVM_OPTIONS = [
    "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]

#: broker settings beyond the listeners and log dir. Single node: every internal topic has one
#: replica. The rest mirrors docker-compose.yml's broker (no auto-created topics, 5 MB
#: messages), except two that only make a test broker quicker:
#: - group.initial.rebalance.delay.ms 0 (default 3 s): a new group's first join does not wait
#:   for more members;
#: - log.cleaner.backoff.ms 1 s (default 15 s): the log cleaner looks for dirty compacted logs
#:   every second, so a changelog with a small segment.ms is compacted within the test.
BROKER_CONFIG = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "auto.create.topics.enable": "false",
    "message.max.bytes": "5242880",
    "group.initial.rebalance.delay.ms": "0",
    "log.cleaner.backoff.ms": "1000",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
}

#: to stdout (the service's log file); log4j's own shutdown hook off, so that Kafka's shutdown
#: (its own hook, on SIGTERM) is logged to the end
LOG4J2 = """\
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = out
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = warn
"""


class KafkaUnavailable(ServiceError):
    """Java or Maven is missing, or Maven could not resolve the broker."""


def cache_dir() -> Path:
    """Where the resolved classpath is kept between runs."""
    configured = os.environ.get("TOUCHLINE_KAFKA_CLASSPATH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "touchline"


def kafka_version() -> str:
    """The pinned broker version (tests/kafka/pom.xml)."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    found = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    assert found is not None and found.text, f"no kafka.version in {POM}"
    return found.text.strip()


def classpath() -> str:
    """The broker's classpath: resolved by Maven once, then read from the cache."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / f"kafka-{digest}.classpath"
    if cached.is_file():
        text = cached.read_text().strip()
        if text and all(Path(jar).is_file() for jar in text.split(os.pathsep)):
            return text
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailable("Maven (mvn) is not installed: apt-get install maven "
                               "default-jdk-headless (the Kafka broker tests need both)")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), "dependency:build-classpath",
         f"-Dmdep.outputFile={partial}"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not partial.is_file():
        raise KafkaUnavailable(f"Maven could not resolve the Kafka broker ({POM}):\n"
                               f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    partial.replace(cached)
    return cached.read_text().strip()


def java() -> str:
    """The java executable (JAVA_HOME first)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaUnavailable("Java is not installed: apt-get install default-jdk-headless")
    return found


def random_cluster_id() -> str:
    """A cluster id as `kafka-storage.sh random-uuid` prints it (url-safe base64, 22 chars)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own rule: it would read as an option
            return text


def read_properties(path: Path) -> dict[str, str]:
    """A .properties file's key=value lines (no continuation lines: we write them)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def server_properties(data_dir: Path, port: int, controller_port: int,
                      extra: dict[str, str] | None = None) -> dict[str, str]:
    """A combined broker+controller on 127.0.0.1 whose logs live under data_dir."""
    plain, ctl = f"127.0.0.1:{port}", f"127.0.0.1:{controller_port}"
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": ctl,
        "listeners": f"PLAINTEXT://{plain},CONTROLLER://{ctl}",
        "advertised.listeners": f"PLAINTEXT://{plain},CONTROLLER://{ctl}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str((data_dir / "logs").resolve()),
        **BROKER_CONFIG,
        **(extra or {}),
    }


def start_kafka(data_dir: Path, port: int | None = None, timeout: float = 90.0,
                extra: dict[str, str] | None = None) -> Service:
    """Start (or restart, on the same data_dir) a broker; returns once it serves requests.

    A restart must ask for the port it had (or none); its controller port and cluster id are
    read back from data_dir.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    props_file = data_dir / "server.properties"
    cp = classpath()
    if props_file.is_file():  # a restart: same listeners, same formatted log dirs
        props = read_properties(props_file)
        had = int(props["listeners"].split(",")[0].rsplit(":", 1)[1])
        if port not in (None, had):
            raise ServiceError(f"{data_dir} belongs to a broker on port {had}, not {port}")
        port = had
    else:
        port = port or free_port()
        props = server_properties(data_dir, port, free_port(), extra)
        props_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (data_dir / "log4j2.properties").write_text(LOG4J2)
        formatted = subprocess.run(
            [java(), "-Xmx256m", "-cp", cp,
             f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
             "kafka.tools.StorageTool", "format", "--standalone", "-t", random_cluster_id(),
             "-c", str(props_file)], capture_output=True, text=True, timeout=120)
        if formatted.returncode != 0:
            props_file.unlink()
            raise ServiceError(f"kafka-storage format failed:\n{formatted.stdout}"
                               f"{formatted.stderr}")
    controller_port = int(props["controller.quorum.bootstrap.servers"].rsplit(":", 1)[1])
    for taken in (port, controller_port):
        if port_open(taken):
            raise ServiceError(f"port {taken} is already in use: cannot start Kafka there")
    log = data_dir / "kafka.log"
    offset = log.stat().st_size if log.exists() else 0
    argv = [java(), *JVM_OPTIONS, f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
            "-cp", cp, "kafka.Kafka", str(props_file)]
    proc = spawn("broker", argv, log, dict(os.environ))
    service = Service("broker", proc, log, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with log.open("rb") as fh:
            fh.seek(offset)
            if STARTED.encode() in fh.read():
                return service
        time.sleep(0.1)
    service.stop(5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    raise ServiceError(f"Apache Kafka did not start on 127.0.0.1:{port} (see {log}):\n{tail}")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def main(argv: list[str] | None = None) -> int:
    """Resolve the classpath, or run one broker in the foreground (prints its timings)."""
    parser = argparse.ArgumentParser(prog="python -m tests.kafka.launcher")
    parser.add_argument("--classpath", action="store_true", help="resolve, print, exit")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.monotonic()
    cp = classpath()
    if args.classpath:
        print(cp)
        return 0
    resolved = time.monotonic()
    import tempfile

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="touchline-kafka-"))
    service = start_kafka(data_dir, args.port)
    up = time.monotonic()
    print(f"Apache Kafka {kafka_version()} on 127.0.0.1:{service.port} (pid {service.proc.pid},"
          f" data {data_dir}); classpath {resolved - started:.1f} s, format+start "
          f"{up - resolved:.1f} s; RSS {rss_mb(service.proc.pid)[0]:.0f} MB", flush=True)
    try:
        while service.alive():
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
