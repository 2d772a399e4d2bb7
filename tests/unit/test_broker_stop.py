"""The embedded stack stops noida-db only after its store file has gone quiet.

noida-db acknowledges writes before it saves them (docs/brokers.md), so stopping it while it
still rewrites its store drops the workers' last offset commits.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from touchline.stack.services import wait_broker_saved


def test_waits_until_the_store_file_is_quiet(tmp_path: Path):
    store = tmp_path / "kafka.json"
    store.write_text("{}")
    stop = threading.Event()

    def keep_saving() -> None:  # a broker saving every 0.1 s for 1.5 s
        end = time.monotonic() + 1.5
        while time.monotonic() < end and not stop.is_set():
            store.write_text("{}")
            time.sleep(0.1)

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        wait_broker_saved(store, quiet=0.5, limit=10)
        last_save = store.stat().st_mtime
        assert not saver.is_alive()  # it did not return while the broker was still saving
        assert time.time() - last_save >= 0.5
    finally:
        stop.set()
        saver.join()


def test_returns_when_there_is_no_store_file_and_gives_up_at_the_limit(tmp_path: Path):
    wait_broker_saved(tmp_path / "missing.json")  # nothing to wait for
    store = tmp_path / "kafka.json"
    store.write_text("{}")
    stop = threading.Event()

    def never_quiet() -> None:
        while not stop.is_set():
            store.write_text("{}")
            time.sleep(0.05)

    saver = threading.Thread(target=never_quiet)
    saver.start()
    try:
        started = time.monotonic()
        wait_broker_saved(store, quiet=0.5, limit=1.0)
        assert time.monotonic() - started < 5  # bounded: the stop goes ahead
    finally:
        stop.set()
        saver.join()
