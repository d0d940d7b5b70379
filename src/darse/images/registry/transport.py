"""HTTP plumbing for an untrusted registry: a deadline for each whole request, and bounded decoding.

httpx bounds each socket operation (`timeout`), not a request: a server that sends one byte every two
seconds never trips it and holds a command forever. Here every read, write and connect gets at most
the time left before the deadline of the request in progress (`deadline()`), so a slow server ends
in a timeout like a silent one.

httpx also decodes `Content-Encoding` one received chunk at a time with no bound on what a chunk
becomes: two gzip layers turn 2 KB on the wire into a gigabyte in memory before any size check runs.
`read_body()` reads the raw bytes and decodes them here, each zlib call allowed to produce only what
the limit has room for.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from darse.errors import DarseError

_DEADLINE: ContextVar[float | None] = ContextVar("darse_registry_deadline", default=None)
_MAX_CODINGS = 3  # `gzip, gzip` is legal HTTP; more layers than this is an attack, not a server


class DeadlineExceeded(httpcore.ReadTimeout):
    """The request's deadline passed (httpx reports it as a timeout, as for a silent server)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every network operation of this thread inside the block ends by `seconds` from now."""
    end = time.monotonic() + seconds
    current = _DEADLINE.get()
    token = _DEADLINE.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _time_left(timeout: float | None) -> float | None:
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        return _Stream(self._inner.connect_tcp(host, port, _time_left(timeout), local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # type: ignore[no-untyped-def]
        return _Stream(self._inner.connect_unix_socket(path, _time_left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport, whose connections honour the deadline of the request in progress."""

    def __init__(self, verify: ssl.SSLContext | bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=_Backend())


def read_body(response: httpx.Response, limit: int, where: str) -> bytes:
    """The body, decoded, refused as soon as the decoded bytes pass `limit` (what reaches memory)."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise DarseError(
            f"{where}: the registry announces {length} bytes, over the limit of {limit}",
            "the registry is broken or lying",
        )
    decoder = _Decoder(response.headers.get("content-encoding", ""), limit, where)
    parts: list[bytes] = []
    try:
        for raw in response.iter_raw():
            parts.append(decoder.feed(raw))
    except httpx.TimeoutException:
        raise DarseError(
            f"{where}: the registry did not send its answer in time", "check the registry or retry"
        ) from None
    except httpx.HTTPError as exc:
        raise DarseError(f"{where}: reading the answer failed ({type(exc).__name__})", "retry") from None
    parts.append(decoder.finish())
    return b"".join(parts)


def json_object(raw: bytes, where: str) -> dict[str, Any]:
    """A body that must be one JSON object (a manifest, a page of a listing, a token response)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise DarseError(f"{where}: the registry sent invalid JSON", "the registry is broken") from None
    if not isinstance(data, dict):
        raise DarseError(f"{where}: the registry sent JSON that is not an object", "the registry is broken")
    return data


def is_loopback(host: str) -> bool:
    """`127.0.0.1:5000`, `[::1]:5000`, `localhost`: traffic that never leaves the machine. A name is
    loopback only if every address it resolves to is: `*.localhost` is a convention that /etc/hosts or
    a resolver may not follow, and plain HTTP to a name that resolves elsewhere would leak a password."""
    name = _hostname(host)
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    if name != "localhost" and not name.endswith(".localhost"):
        return False
    try:
        answers = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {answer[4][0].split("%", 1)[0] for answer in answers}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS failure behind a connection error, if that is what it was."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def tls_error(host: str, exc: BaseException) -> DarseError:
    """A TLS failure said in one line, with how to trust a private CA."""
    cause = ssl_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or "certificate not trusted"
        return DarseError(
            f"TLS failure with {host}: {reason}",
            f"trust its CA (put it in /etc/docker/certs.d/{host}/ca.crt or set DARSE_REGISTRY_CA)",
        )
    return DarseError(f"TLS failure with {host}: {type(cause).__name__}", "does the port speak HTTPS?")


class _Decoder:
    """`Content-Encoding` undone layer by layer, every layer's output bounded by the limit."""

    def __init__(self, header: str, limit: int, where: str) -> None:
        codings = [c.strip().lower() for c in header[:200].split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > _MAX_CODINGS or any(c not in ("gzip", "x-gzip", "deflate") for c in codings):
            raise DarseError(
                f"{where}: the registry sent an encoding darse does not read ({header[:60]!r})",
                "a registry answers in plain JSON, or gzip",
            )
        # the last coding applied is undone first; 47 = zlib or gzip header, detected
        self._layers = [zlib.decompressobj(47) for _ in reversed(codings)]
        self._produced = [0] * len(self._layers)
        self._limit = limit
        self._where = where
        self._total = 0

    def feed(self, data: bytes) -> bytes:
        for index, layer in enumerate(self._layers):
            data = self._inflate(index, layer, data)
        return self._count(data)

    def finish(self) -> bytes:
        data = b""
        for index, layer in enumerate(self._layers):
            data = self._inflate(index, layer, data)
            tail = layer.flush()  # what zlib still holds: input is always consumed whole above
            self._produced[index] += len(tail)
            if self._produced[index] > self._limit:
                self._too_big()
            if self._produced[index] and not layer.eof:
                raise DarseError(f"{self._where}: the compressed answer is cut short", "retry")
            data += tail
        return self._count(data)

    def _inflate(self, index: int, layer: zlib._Decompress, data: bytes) -> bytes:
        out: list[bytes] = []
        try:
            while data:
                room = self._limit + 1 - self._produced[index]
                piece = layer.decompress(data, max(room, 1))
                self._produced[index] += len(piece)
                if self._produced[index] > self._limit:
                    self._too_big()
                out.append(piece)
                data = layer.unconsumed_tail
        except zlib.error:
            raise DarseError(f"{self._where}: the registry sent a corrupt compressed answer", "retry") from None
        return b"".join(out)

    def _count(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total > self._limit:
            self._too_big()
        return data

    def _too_big(self) -> None:
        raise DarseError(
            f"{self._where}: the registry's answer decodes to more than {self._limit} bytes",
            "the registry is broken or lying",
        )
