"""A service is up only when its own process answers on its port, not whoever took the port.

A port picked free (`free_port`) can be bound by another process before the child does; the
child then fails to bind and exits, while the port answers. Real sockets and processes on
127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from touchline.stack.services import ServiceError, free_port, listens, wait_for_port

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_the_listening_process_is_found_and_no_other() -> None:
    with _listener() as sock:
        port = sock.getsockname()[1]
        assert listens(os.getpid(), port) is True
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert listens(sleeper.pid, port) is False
        finally:
            sleeper.kill()
            sleeper.wait()
    assert listens(os.getpid(), port) is False


def test_a_child_that_binds_its_port_is_up() -> None:
    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                              str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, child, "the http server", 20)
        assert listens(child.pid, port) is True
    finally:
        child.kill()
        child.wait()


def test_a_port_another_process_took_is_not_taken_for_the_child(tmp_path: Path) -> None:
    with _listener() as sock:
        port = sock.getsockname()[1]
        # the child fails to bind the taken port and exits, as a broker or store would
        log = tmp_path / "child.log"
        with log.open("w") as out:
            child = subprocess.Popen([sys.executable, "-m", "http.server", "--bind",
                                      "127.0.0.1", str(port)], stdout=out, stderr=out)
        try:
            with pytest.raises(ServiceError, match="another process answers on that port"):
                wait_for_port(port, child, "the http server", 20, log)
            assert child.wait(5) != 0
        finally:
            child.kill()
            child.wait()
