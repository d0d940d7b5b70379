"""The Engine API on the local unix socket with the standard library alone (`http.client`).

Why not docker-py here: importing it costs ~0.15 s (requests, urllib3, and a `/version` round trip to
pick the API version), a large share of commands that otherwise take well under a second (`darse up`
of one service, `darse status`), and `darse inspect` wants its export request sent before anything
else so the engine prepares the image while Python is still importing. Only the few calls those
paths make are here, returning the Engine API's JSON as docker-py's low-level client does, so
`darse.engine.docker.Engine` uses either one the same way. Only the default endpoint is served
(DOCKER_HOST unset, or `unix://PATH`): TCP, TLS and SSH engines go through docker-py.

Paths carry no `/v1.xx` prefix: the engine then answers with its own current API version, and every
call here exists unchanged since API 1.25.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import quote, urlencode

from darse.engine.api import APIError, NotFound, event_objects, log_params

__all__ = ["DEFAULT_SOCKET", "APIError", "EventLines", "LocalEngine", "NotFound", "PendingStream", "local_socket"]

DEFAULT_SOCKET = "/var/run/docker.sock"
MAX_JSON = 64 * 1024 * 1024  # a JSON answer larger than this is not one the engine gives


def local_socket(docker_host: str | None = None) -> str | None:
    """The socket path when the engine is the local one (`docker_host`, else DOCKER_HOST, unset or
    `unix://`); None for any other endpoint, which docker-py handles."""
    host = docker_host if docker_host else os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://") :] or None
    return None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _error(status: int, body: bytes) -> APIError:
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    kind = NotFound if status == 404 else APIError
    return kind(status, message[:300] or http.client.responses.get(status, "error"))


class _StreamConnection(_UnixConnection):
    """HTTP/1.0 for long answers: the engine then sends the body as is and closes the connection at
    its end, instead of framing it in chunks that Python would have to take apart (measured: 0.3 s of
    CPU for a 500 MB export, against 0.15 s here). Whoever reads such a body must detect truncation
    from its content; a tar does (member sizes, end-of-archive blocks, the manifest it must hold)."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


def _object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise APIError(200, "the engine's answer is not a JSON object")
    return answer


class LocalEngine:
    """One keep-alive connection to the engine's socket; the calls of `darse.engine.api.EngineAPI`."""

    def __init__(self, path: str = DEFAULT_SOCKET, timeout: float = 60) -> None:
        self.path = path
        self.timeout = timeout
        self._connection: _UnixConnection | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(self, method: str, url: str, body: bytes | None = None) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        attempts = 2 if method == "GET" else 1  # a kept-alive connection the engine closed: a GET again, anew
        for attempt in range(1, attempts + 1):
            if self._connection is None:
                self._connection = _UnixConnection(self.path, self.timeout)
            try:
                self._connection.request(method, url, body=body, headers=headers)
                return self._connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, url: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """One request; the decoded JSON answer (None when empty); APIError on an error status."""
        if params:
            url += "?" + urlencode(params)
        payload = json.dumps(body).encode() if body is not None else None
        response = self._send(method, url, payload)
        data = response.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            self.close()
            raise APIError(response.status, "answer too large")
        if response.status >= 400:
            raise _error(response.status, data)
        if not data or response.status == 204:
            return None
        if response.getheader("Content-Type", "").startswith("application/json"):
            try:
                return json.loads(data)
            except ValueError:
                raise APIError(response.status, "the engine's answer is not valid JSON") from None
        return data

    def start_get(self, url: str) -> PendingStream:
        """Send a GET on a connection of its own and return at once: the engine starts working (an
        export takes seconds before its first byte) while the caller does something else."""
        connection = _StreamConnection(self.path, self.timeout)
        try:
            connection.request("GET", url)
        except OSError:
            connection.close()
            raise
        return PendingStream(connection)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the calls, shaped like docker-py's APIClient ----------------------------------------------

    def ping(self) -> bool:
        return self.call("GET", "/_ping") in (b"OK", "OK", None)

    def containers(self, *, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"all": "1" if all else "0"}
        if filters:
            params["filters"] = json.dumps(filters)
        return self.call("GET", "/containers/json", params) or []

    def networks(self, *, names: list[str] | None = None) -> list[dict[str, Any]]:
        params = {"filters": json.dumps({"name": names})} if names else None
        return self.call("GET", "/networks", params) or []

    def create_network(self, name: str, *, driver: str = "bridge", check_duplicate: bool = True) -> dict[str, Any]:
        return self.call(
            "POST", "/networks/create", body={"Name": name, "Driver": driver, "CheckDuplicate": check_duplicate}
        )

    def inspect_image(self, image: str) -> dict[str, Any]:
        return _object(self.call("GET", f"/images/{quote(image, safe='/:@')}/json"))

    def inspect_container(self, container: str) -> dict[str, Any]:
        return _object(self.call("GET", f"/containers/{quote(container, safe='')}/json"))

    def inspect_volume(self, name: str) -> dict[str, Any]:
        return _object(self.call("GET", f"/volumes/{quote(name, safe='')}"))

    def logs(self, container: str, *, stdout: bool = True, stderr: bool = True, tail: int | str = "all") -> bytes:
        """The container's output; frames of a container without a TTY taken apart, as docker-py does."""
        tty = bool((self.inspect_container(container).get("Config") or {}).get("Tty"))
        params = {"stdout": int(stdout), "stderr": int(stderr), "tail": str(tail)}
        raw = self.call("GET", f"/containers/{quote(container, safe='')}/logs", params) or b""
        if isinstance(raw, str):
            raw = raw.encode()
        return raw if tty else _demultiplex(raw)

    def services(self, *, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/services", _filters(filters)) or []

    def tasks(self, *, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/tasks", _filters(filters)) or []

    def nodes(self, *, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/nodes", _filters(filters)) or []

    def info(self) -> dict[str, Any]:
        return self.call("GET", "/info") or {}

    def start_logs(self, container: str, *, tail: int | str = "all", since: float | None = None) -> LogChunks:
        """`GET /containers/{id}/logs?follow=1&timestamps=1` on a connection of its own."""
        return self._follow(f"/containers/{quote(container, safe='')}/logs?" + urlencode(log_params(tail, since)))

    def start_service_logs(self, service: str, *, tail: int | str = "all", follow: bool = True) -> LogChunks:
        """`GET /services/{id}/logs?follow=1&timestamps=1&details=1`: every task, on every node."""
        params = {**log_params(tail, follow=follow), "details": "1"}
        return self._follow(f"/services/{quote(service, safe='')}/logs?" + urlencode(params))

    def _follow(self, url: str) -> LogChunks:
        """A followed answer: its status within the client's timeout, then a socket that waits without one
        (a quiet container writes nothing for hours)."""
        pending = self.start_get(url)
        sock = pending._connection.sock
        pending.response()
        if sock is not None:
            sock.settimeout(None)
        return LogChunks(pending, sock)

    def start_export(self, image: str) -> PendingStream:
        """`GET /images/{name}/get`, what `docker save` asks for: the image as a tar stream."""
        return self.start_get(f"/images/{quote(image, safe='/:@')}/get")

    def start_events(self, *, filters: dict[str, Any] | None = None) -> EventLines:
        """`GET /events` on a connection of its own: the engine's events from now on, as they come. The
        stream stays open while nothing happens, so its socket waits without a timeout once answered."""
        url = "/events" + ("?" + urlencode({"filters": json.dumps(filters)}) if filters else "")
        pending = self.start_get(url)
        sock = pending._connection.sock  # kept: the connection lets go of it once an HTTP/1.0 answer starts
        pending.response()  # the status (APIError when refused), within the client's timeout
        if sock is not None:
            sock.settimeout(None)
        return EventLines(pending, sock)


def _demultiplex(raw: bytes) -> bytes:
    """The payloads of the engine's 8-byte-header frames (stream, 0, 0, 0, big-endian size), joined."""
    out = bytearray()
    position = 0
    while position + 8 <= len(raw):
        (size,) = struct.unpack(">I", raw[position + 4 : position + 8])
        out += raw[position + 8 : position + 8 + size]
        position += 8 + size
    return bytes(out)


class PendingStream:
    """A request already sent whose answer is read as it comes; `response()` waits for its status,
    `open()` gives the body as a raw file (an `darse.engine.api.ImageExport` for exports)."""

    def __init__(self, connection: _UnixConnection) -> None:
        self._connection = connection
        self._response: http.client.HTTPResponse | None = None

    def response(self) -> http.client.HTTPResponse:
        """The answer, once its status arrives; APIError (NotFound for 404) on an error status."""
        if self._response is None:
            try:
                response = self._connection.getresponse()
            except BaseException:
                self.close()
                raise
            if response.status >= 400:
                body = response.read(MAX_JSON)
                self.close()
                raise _error(response.status, body)
            self._response = response
        return self._response

    def open(self) -> io.RawIOBase:
        """The body as a raw file, once the status arrives (APIError, NotFound, OSError before)."""
        try:
            return _Body(self, self.response())
        except http.client.HTTPException as exc:
            raise OSError(f"the engine's answer is not HTTP ({type(exc).__name__})") from None

    def close(self) -> None:
        """Shut down first: the engine stops sending at once, and a read blocked elsewhere returns."""
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._response is not None:
            self._response.close()
        self._connection.close()


class _Body(io.RawIOBase):
    """An HTTP body as a raw file. A broken transfer either raises here (an OSError the readers
    report as an unreadable archive) or ends the body early, which a tar reader catches. (Reading
    ahead in a thread was measured: no faster, the parse and the engine's streaming share this
    machine's two cores either way.)"""

    def __init__(self, pending: PendingStream, response: http.client.HTTPResponse) -> None:
        self._pending = pending
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        try:
            return self._response.readinto(target)
        except http.client.HTTPException as exc:
            raise OSError(f"the engine's export stopped early ({type(exc).__name__})") from None

    def close(self) -> None:
        if not self.closed:
            self._pending.close()
        super().close()


class EventLines:
    """The engine's events of one `GET /events` request (an `darse.engine.api.EventStream`). `close()`
    from another thread shuts the socket down, so the reading thread's blocked read returns."""

    CHUNK = 64 * 1024

    def __init__(self, pending: PendingStream, sock: socket.socket | None) -> None:
        self._pending = pending
        self._sock = sock
        self._closed = False

    def _chunks(self):
        response = self._pending.response()
        while not self._closed:
            try:
                chunk = response.read1(self.CHUNK)
            except (OSError, ValueError, http.client.HTTPException):  # the engine went away, or closed under us
                return
            except AttributeError:  # closed under us while http.client let go of its file
                if self._closed:
                    return
                raise
            if not chunk:
                return
            yield chunk

    def __iter__(self):
        return event_objects(self._chunks())

    def close(self) -> None:
        """Shut the socket down first: the read blocked in another thread returns at once (closing the
        answer alone would wait for that read, which holds its buffer's lock, until the next event)."""
        self._closed = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        self._pending.close()


class LogChunks(EventLines):
    """The bytes of one followed log answer as they come (a `darse.engine.api.LogStream`); `close()`
    from another thread shuts the socket down, as for events."""

    def __iter__(self):
        return self._chunks()


def _filters(filters: dict[str, Any] | None) -> dict[str, str] | None:
    """The `filters` query as the engine takes it: each value a list (`{"label": "a=b"}` as docker-py
    accepts it becomes `{"label": ["a=b"]}`; the engine refuses a bare string)."""
    if not filters:
        return None
    listed = {key: _listed(value) for key, value in filters.items()}
    return {"filters": json.dumps(listed)}


def _listed(value: Any) -> Any:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str | int):
        return [str(value)]
    return value if isinstance(value, dict) else list(value)
