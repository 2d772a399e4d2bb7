"""Invariant: a crashed store costs nothing, and a killed `touchline up` leaves nothing behind.

A real `touchline up` (its broker, store, worker, webhook edge and panel, on ports of its own):
- an outside producer writes with acks=all while the store is killed with SIGKILL three times
  at random points; `up` starts the store again each time and never stops the broker (it used
  to tear the whole stack down, and the broker dropped acknowledged writes). Afterwards every
  acknowledged event is one row: lost 0, doubled 0, and the pipeline caught up by itself;
- `kill -9` of the `up` process group: every process it started exits by itself (a worker used
  to keep retrying against the dead store for minutes).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.expectations import simulated
from tests.harness import up_env
from touchline.load.produce import send_batches
from touchline.settings import Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import port_open

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KILLS = 3


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _child(up: subprocess.Popen, marker: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _children(up.pid):
            if marker in _cmdline(pid) and _alive(pid):
                return pid
        assert up.poll() is None, "touchline up exited"
        time.sleep(0.2)
    raise AssertionError(f"no child of touchline up runs {marker!r}")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Settings, subprocess.Popen]]:
    """`touchline up` with one worker, in a process group of its own; killed at the end."""
    settings, env = up_env(tmp_path / "d")
    with (tmp_path / "up.log").open("wb") as log:
        # Ctrl-C stops it, as in a terminal, even where this test runs as a background job
        # (which inherits SIGINT ignored: `up` would then ignore the SIGINT below)
        up = subprocess.Popen([sys.executable, "-m", "touchline", "up", "--workers", "1"],
                              env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, preexec_fn=_default_sigint)
    started: list[int] = []
    try:
        _child(up, "touchline worker")
        started += _children(up.pid)
        yield settings, up
    finally:
        with_leftovers = [p for p in {*started, *_children(up.pid)} if _alive(p)]
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait(10)
        for pid in with_leftovers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # the store may be restarting
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_store_killed_three_times_under_load_loses_and_doubles_nothing(stack) -> None:
    settings, up = stack
    truth = simulated(30_000, seed=31, malformed=0.0)
    broker_pid = _child(up, "noida-db")
    rng = random.Random(7)
    import threading

    produced: dict[str, object] = {}

    def produce() -> None:
        try:
            produced["n"] = send_batches(settings, truth.payloads, batch=200, rate=1500)
        except Exception as exc:  # reported by the assertion below
            produced["error"] = exc

    producer = threading.Thread(target=produce)
    producer.start()
    for kill in range(KILLS):
        time.sleep(rng.uniform(2.0, 5.0))
        store = _child(up, "touchline store")
        os.kill(store, signal.SIGKILL)
        _wait(lambda s=store: not _alive(s), 10, "the killed store to go")
        _wait(lambda s=store: _child(up, "touchline store", 5) != s
              and port_open(settings.clickhouse.store_port), 90, f"store restart {kill + 1}")
    producer.join(300)
    assert "error" not in produced, produced.get("error")
    assert produced["n"] == len(truth.payloads)
    assert up.poll() is None, "touchline up stopped"
    assert _child(up, "noida-db") == broker_pid, "the broker was restarted"
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        expected = len(truth.unique_valid)
        _wait(lambda: sink.query("SELECT count() FROM touchline.activities").scalar()
              >= expected, 300, f"{expected} rows")
        time.sleep(3)  # anything doubled would land by now
        rows = sink.query("SELECT count(), uniqExact(event_id) FROM touchline.activities").rows
        ids = {r[0] for r in sink.query("SELECT event_id FROM touchline.activities").rows}
    finally:
        sink.close()
    lost = len(set(truth.unique_valid) - ids)
    doubled = rows[0][0] - rows[0][1]
    print(f"store killed {KILLS} times under load: {len(truth.payloads)} events, "
          f"lost {lost}, doubled {doubled}")
    assert (lost, doubled) == (0, 0)
    assert rows[0][0] == expected
    log = (settings.data_dir.parent / "up.log").read_text(errors="replace")
    assert log.count("restarted store") == KILLS, log[-2000:]


def test_kill_9_of_the_up_process_group_leaves_no_process_behind(stack) -> None:
    settings, up = stack
    truth = simulated(20_000, seed=32)
    sent = send_batches(settings, truth.payloads[:2000], batch=200)
    sink = ClickHouseSink(settings.store_url()).start()
    _wait(lambda: sink.query("SELECT count() FROM touchline.activities").scalar() > 0, 120,
          "the worker to write")
    sink.close()
    started = _children(up.pid)
    names = {pid: _cmdline(pid) for pid in started}
    assert any("touchline worker" in c for c in names.values()), names
    # the worker is busy writing when everything above it dies
    send_batches(settings, truth.payloads[2000:], batch=200)
    os.killpg(up.pid, signal.SIGKILL)
    up.wait(10)
    assert sent == 2000
    _wait(lambda: not [p for p in started if _alive(p)], 60,
          f"every child to exit: {[names[p] for p in started if _alive(p)]}")
