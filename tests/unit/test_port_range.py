"""`free_port` within a process's own range: what the parallel test processes rely on.

Real sockets on 127.0.0.1; the range is one of ports this test binds itself.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from touchline.settings import ClickHouseSettings, KafkaSettings, WebSettings
from touchline.stack import services
from touchline.stack.services import ServiceError, free_port


@pytest.fixture
def three_ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    """A range of 3 ports free right now (found by trying), set as this process's range."""
    for first in range(32_000, 32_700, 7):
        socks = []
        try:
            for port in range(first, first + 3):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        monkeypatch.setattr(services, "port_range", (first, first + 2))
        yield first, first + 2
        return
    pytest.fail("no 3 consecutive free ports in 32000-32700")


def test_ports_come_from_the_range_in_turn(three_ports: tuple[int, int]) -> None:
    first, last = three_ports
    picked = [free_port() for _ in range(3)]
    assert sorted(picked) == [first, first + 1, last]  # each once before any again


def test_a_port_in_use_is_never_given(three_ports: tuple[int, int]) -> None:
    first, last = three_ports
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", first + 1))
        busy.listen()
        picked = {free_port() for _ in range(6)}
    assert picked == {first, last}


def test_a_full_range_is_an_error_naming_it(three_ports: tuple[int, int]) -> None:
    first, last = three_ports
    socks = [socket.socket() for _ in range(3)]
    try:
        for port, sock in zip(range(first, last + 1), socks, strict=True):
            sock.bind(("127.0.0.1", port))
        with pytest.raises(ServiceError, match=f"no free port in {first}-{last}"):
            free_port()
    finally:
        for sock in socks:
            sock.close()


def test_parallel_test_processes_get_disjoint_ranges_below_the_ephemeral_ones() -> None:
    from tests import conftest

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:  # one process: the kernel picks
        assert services.port_range is None
        return
    first, last = services.port_range or (0, 0)
    n = int(worker.removeprefix("gw"))
    assert first == conftest.FIRST_PORT + n * conftest.PORTS_PER_WORKER
    assert last - first + 1 == conftest.PORTS_PER_WORKER
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        assert last < int(f.read().split()[0])
    web = WebSettings()
    assert last < min(ClickHouseSettings().store_port, web.panel_port, web.ingest_port,
                      KafkaSettings().embedded_port)
