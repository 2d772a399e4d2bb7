"""Real receivers on 127.0.0.1 for the notifier: an SMTP server (aiosmtpd) and an HTTP server
(aiohttp) that records Slack and webhook posts; and an embedded ClickHouse per package.
"""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default as default_policy

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import free_port


@dataclass
class Mailbox:
    """Messages the SMTP server accepted."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@dataclass
class Receiver:
    """An HTTP server recording POSTs; answers `fail_next` requests with HTTP 500 first."""

    port: int
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http_receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port())
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if receiver.fail_next > 0:
            receiver.fail_next -= 1
            return web.Response(status=500, text="try later")
        receiver.posts.append((request.path, dict(request.headers), body))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", receiver.port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(scope="package")  # chdb: one engine path per process at a time
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseSink]:
    data = tmp_path_factory.mktemp("coaching-chdb")
    s = ClickHouseSink(f"chdb://{data}", database="touchline").start()
    s.ensure_schema()
    yield s
    s.close()
