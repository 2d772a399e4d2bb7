"""The demo's inbox: a local SMTP server and a Slack-format / webhook receiver on 127.0.0.1.

`touchline demo` starts it when no routing file is configured, and routes every team to it,
so the coaching messages and digests a manager would get can be read in
<data_dir>/inbox/ (one .eml per email, one .json per Slack or webhook post). It accepts mail
for anyone and relays nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


@dataclass
class Inbox:
    """Where received messages are written."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ids = itertools.count(len(list(self.directory.iterdir())) + 1)

    def save(self, suffix: str, data: bytes) -> Path:
        """Write one message; returns its file."""
        path = self.directory / f"{next(self._ids):05d}{suffix}"
        path.write_bytes(data)
        return path


async def _smtp_exchange(inbox: Inbox, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    async def reply(line: str) -> None:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    await reply("220 touchline demo inbox")
    try:
        while line := await reader.readline():
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                await reply("250 touchline")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                await reply("250 OK")
            elif verb == "DATA":
                await reply("354 end with <CRLF>.<CRLF>")
                lines = []
                size = 0
                while (chunk := await reader.readline()) not in (b".\r\n", b".\n", b""):
                    size += len(chunk)
                    if size > MAX_MESSAGE_BYTES:
                        await reply("552 message too large")
                        return
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                inbox.save(".eml", b"".join(lines))
                await reply("250 OK: queued")
            elif verb == "QUIT":
                await reply("221 bye")
                return
            else:
                await reply("502 command not implemented")
    finally:
        writer.close()


def _receiver(inbox: Inbox) -> web.Application:
    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            doc = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="expected JSON")
        inbox.save(".json", json.dumps({"path": request.path, "body": doc}, indent=2).encode())
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
    app.router.add_post("/{tail:.*}", post)
    return app


async def serve_inbox(inbox: Inbox, smtp_port: int, http_port: int,
                      ready: threading.Event | None = None) -> None:
    """Serve SMTP and HTTP on 127.0.0.1 until cancelled."""
    smtp = await asyncio.start_server(lambda r, w: _smtp_exchange(inbox, r, w), "127.0.0.1",
                                      smtp_port)
    runner = web.AppRunner(_receiver(inbox), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    if ready is not None:
        ready.set()
    try:
        async with smtp:
            await smtp.serve_forever()
    finally:
        await runner.cleanup()


def start_inbox_thread(inbox: Inbox, smtp_port: int, http_port: int) -> None:
    """Serve the inbox from a daemon thread (it stops with the process)."""
    ready = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(
        serve_inbox(inbox, smtp_port, http_port, ready)), name="inbox", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError(f"the demo inbox did not start on 127.0.0.1:{smtp_port}/{http_port}")


def demo_routing(http_port: int) -> str:
    """Every team's signals and digests to the demo inbox, by email and Slack format."""
    return ("# written by `touchline demo`: every team to the local inbox\n"
            "routes:\n  - default: true\n    email: [managers@touchline.local]\n"
            f"    slack: http://127.0.0.1:{http_port}/slack/demo\n")
