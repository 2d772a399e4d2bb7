"""The embedded stack's shared secret, and the checks every local HTTP server makes.

The store answers only callers that present the stack's secret: a random token kept in
`<data_dir>/store.secret` (mode 0600, created once by `touchline up` / `demo` / `store`). The
stack's own processes find the file through the store DSN (`store://127.0.0.1:PORT?key_file=`),
a user's `touchline query` reads the same file: whoever can read the data directory may
query, nobody else (a web page in a browser cannot read the file and is never given it).

Both the store and the local panel also refuse what only a browser on a foreign page sends
(sinks/SECURITY.md, "Threat model"):
- a `Host` header that is not this machine's loopback name and port (DNS rebinding);
- a cross-site request: an `Origin` of another site, or `Sec-Fetch-Site: cross-site`/
  `same-site`;
- for the store, a body whose content type a page may send without a CORS preflight
  (`text/plain`, form encodings): no HTML form can post a command.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from aiohttp import web

SECRET_FILE = "store.secret"
#: the header the store's clients send: `Authorization: Bearer <secret>`
AUTH_SCHEME = "Bearer "
#: content types a browser may send cross-origin without a preflight (the Fetch standard)
SIMPLE_CONTENT_TYPES = frozenset({
    "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def secret_path(data_dir: Path) -> Path:
    """Where the stack's secret lives."""
    return data_dir / SECRET_FILE


def ensure_secret(data_dir: Path) -> Path:
    """Create the secret file (mode 0600) unless it exists; returns its path."""
    path = secret_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
        return path
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path


def read_secret(path: Path) -> str:
    """The secret in `path` (empty when the file is missing or unreadable)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def allowed_hosts(port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """`Host` values a local server on `port` accepts: loopback names with that port."""
    names = (*LOOPBACK_NAMES, *extra)
    return frozenset(f"{name}:{port}".lower() for name in names)


def _local_port(request: web.Request) -> int:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else -1


def refusal(request: web.Request, extra_names: Iterable[str] = ()) -> str:
    """Why a browser-borne or rebinding request is refused ('' when it is fine).

    The accepted `Host` values are the loopback names with the port the request came in on.
    """
    hosts = allowed_hosts(_local_port(request), extra_names)
    host = request.headers.get("Host", "").lower()
    if host not in hosts:
        return f"Host {host!r} is not this server"
    fetch_site = request.headers.get("Sec-Fetch-Site", "none").lower()
    if fetch_site not in ("none", "same-origin"):
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower().removeprefix("http://") not in hosts:
        return f"cross-origin request refused (Origin: {origin})"
    return ""


def local_only(extra_names: Iterable[str] = ()) -> Callable[[web.Request, Handler], Awaitable]:
    """Middleware (aiohttp): 403 for a foreign Host or a cross-site request."""
    names = tuple(extra_names)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        reason = refusal(request, names)
        if reason:
            return web.json_response({"error": reason}, status=403)
        return await handler(request)

    return middleware


def secret_required(secret: str) -> Callable[[web.Request, Handler], Awaitable]:
    """Middleware (aiohttp): 401 without the stack's secret; 415 for a simple content type."""
    expected = (AUTH_SCHEME + secret).encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not secret or not hmac.compare_digest(given, expected):
            return web.json_response(
                {"error": "the store needs the stack's secret (<data_dir>/store.secret)"},
                status=401)
        mime = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if request.method == "POST" and mime in SIMPLE_CONTENT_TYPES:
            return web.json_response(
                {"error": f"content type {mime!r} is not accepted"}, status=415)
        return await handler(request)

    return middleware
