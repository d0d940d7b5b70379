"""What every answer of the dashboard carries and what every request may weigh: it drives the Docker
engine, so a page of it must not be framed (clickjacking from a sibling subdomain), nor cached, and an
anonymous request must not fill the disk."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# No framing at all, scripts and styles only from the dashboard itself (htmx is vendored), forms only to it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
MAX_BODY = 64 * 1024  # bytes of a request body: forms here carry a token, a name, a password, a revision


class SecurityHeaders:
    """Pure ASGI: adds HEADERS to every answer, and `Cache-Control: no-store` to all but static files."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {k for k, _ in HEADERS}]
                headers += HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LimitBody:
    """Pure ASGI: a request body over MAX_BODY bytes is answered 413 before it is read (declared length) or
    as soon as it passes the limit (chunked), so nobody spools gigabytes to the server's disk."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send)
            return
        seen = 0

        async def bounded_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except TooLarge:
            await _too_large(send)


class TooLarge(Exception):
    """A chunked body passed MAX_BODY."""


async def _too_large(send: Any) -> None:
    body = b"Request body too large.\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port, lower-case (`[::1]:8700` → `::1`); '' when malformed."""
    try:
        name = urlsplit("//" + host_header).hostname
    except ValueError:
        return ""
    return (name or "").lower()


class AllowedHosts:
    """Pure ASGI: answers 400 to a request whose Host is not one of `names`. A page on another site that
    rebinds its own name to this address (DNS rebinding) sends its own name as Host: it is refused before
    anything is read. No names: no check (the CLI always gives some)."""

    def __init__(self, app: Any, names: tuple[str, ...] = ()) -> None:
        self.app = app
        self.names = {host_name(name) or name.lower() for name in names}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or not self.names:
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        if host_name(host) in self.names:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b"Unknown host name: start darse serve with --host-name NAME to serve it under that name.\n"
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
