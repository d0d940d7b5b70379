"""The low-level Engine API calls darse makes, as one typed interface.

Two clients implement it: `darse.engine.local.LocalEngine` (the standard library on the local socket,
for short commands that cannot afford docker-py's import) and docker-py's `APIClient` (TCP, TLS, SSH),
through `darse.engine.docker_py.DockerPyAPI`, which adds only the export stream docker-py shapes
differently. Tests use an in-memory one (`tests/helpers/fake_engine.py`). `darse.engine.docker.Engine`
builds everything else on these calls, whichever client answers.

Parameters after the first are keyword-only: that is how darse calls them, and docker-py's methods
take many more positional parameters in another order.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

MAX_EVENT_LINE = 64 * 1024  # bytes of one event of the stream; a longer line is skipped, never buffered whole
# bytes of one log line kept; the rest of a longer line is dropped as it streams. Under the 16 KiB at which
# the engine's log drivers split a line into partial messages (each then stamped again when timestamps are on)
MAX_LOG_LINE = 8 * 1024


class APIError(Exception):
    """The engine answered with an error status (`explanation` is its message, cut short).

    Raised by the standard-library client and the fake engine, and by every export stream (the
    docker-py one translates its errors to these)."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(f"{status}: {explanation}")
        self.status_code = status
        self.explanation = explanation


class NotFound(APIError):
    pass


class ImageExport(Protocol):
    """An export (`GET /images/{name}/get`, what `docker save` asks for) already requested."""

    def open(self) -> io.RawIOBase:
        """The tar stream, once the engine answers: NotFound, APIError, or OSError when it does not."""
        ...

    def close(self) -> None:
        """Stop the transfer at once, even while the engine is still sending."""
        ...


class EventStream(Protocol):
    """The engine's event stream (`GET /events`) already requested: the events as the API's JSON
    objects, as they come, until `close()` (from any thread: a blocked read then returns)."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def start_events(self, *, filters: dict[str, Any] | None = None) -> EventStream:
        """Subscribe to the engine's events from now on (`filters` as the API takes them)."""
        ...

    def close(self) -> None: ...


class LogStream(Protocol):
    """A followed log (`GET /containers/{id}/logs?follow=1`, `GET /services/{id}/logs?follow=1`) already
    requested: the answer's bytes as they come (frames not taken apart), until the engine ends it or
    `close()` (from any thread: a blocked read then returns)."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class EngineAPI(Protocol):
    """What darse asks of an engine through its HTTP API (answers are the API's JSON, as docker-py
    returns them). Errors: the client's own APIError and NotFound (see `Engine.errors`)."""

    def ping(self) -> bool: ...

    def containers(self, *, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def networks(self, *, names: list[str] | None = None) -> list[dict[str, Any]]: ...

    def create_network(self, name: str, *, driver: str = "bridge", check_duplicate: bool = True) -> Any: ...

    def inspect_image(self, image: str) -> dict[str, Any]: ...

    def inspect_container(self, container: str) -> dict[str, Any]: ...

    def inspect_volume(self, name: str) -> dict[str, Any]: ...

    def logs(self, container: str, *, stdout: bool = True, stderr: bool = True, tail: int | str = "all") -> bytes:
        """Stdout and stderr of a container, its multiplexed frames taken apart."""
        ...

    def start_logs(self, container: str, *, tail: int | str = "all", since: float | None = None) -> LogStream:
        """Follow a container's stdout and stderr, each line stamped (`timestamps=1`), from its last
        `tail` lines (or those after `since`, seconds since the epoch) on."""
        ...

    def start_service_logs(self, service: str, *, tail: int | str = "all", follow: bool = True) -> LogStream:
        """Every task of a Swarm service on every node, lines stamped and with their details
        (`com.docker.swarm.task.id=...`); followed (new lines as they come) unless `follow` is False."""
        ...

    def services(self, *, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def tasks(self, *, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def nodes(self, *, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def info(self) -> dict[str, Any]: ...

    def start_export(self, image: str) -> ImageExport:
        """Send the export request now and return at once: the engine prepares it meanwhile."""
        ...

    def start_events(self, *, filters: dict[str, Any] | None = None) -> EventStream:
        """Subscribe to the engine's events from now on (`filters` as the API takes them)."""
        ...

    def close(self) -> None: ...


def event_objects(chunks: Iterator[bytes], limit: int = MAX_EVENT_LINE) -> Iterator[dict[str, Any]]:
    """The JSON objects of an event stream (one per line) from its bytes as they arrive, in any pieces.
    A line longer than `limit` is dropped as it streams (memory stays bounded); a line that is not a
    JSON object is skipped: one odd event never ends the subscription."""
    buffer = bytearray()
    skipping = False  # inside an over-long line: drop bytes up to its end
    for chunk in chunks:
        while chunk:
            end = chunk.find(b"\n")
            piece, chunk = (chunk, b"") if end < 0 else (chunk[:end], chunk[end + 1 :])
            if not skipping:
                buffer += piece
                if len(buffer) > limit:
                    buffer.clear()
                    skipping = True
            if end < 0:
                break
            line, skipping = bytes(buffer), False
            buffer.clear()
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                yield item


def log_params(tail: int | str, since: float | None = None, follow: bool = True) -> dict[str, str]:
    """The query of a stamped log of both streams, followed unless `follow` is False (containers and
    services take the same)."""
    params = {"follow": "1" if follow else "0", "stdout": "1", "stderr": "1", "timestamps": "1", "tail": str(tail)}
    if since is not None:
        params["since"] = f"{since:.9f}"
    return params


def log_lines(chunks: Iterable[bytes], multiplexed: bool, limit: int = MAX_LOG_LINE) -> Iterator[tuple[bytes, bool]]:
    """The lines of a log answer from its bytes as they arrive, in any pieces: `(line, cut)`, without
    the line end; `cut` when the line was longer than `limit` bytes (the rest is dropped as it streams,
    so memory stays bounded). `multiplexed` for a container without a TTY: the payloads of the engine's
    frames (8-byte header: stream, 0, 0, 0, big-endian size) are taken apart first, whatever the pieces,
    and each stream's lines are put together apart: the engine sends a long line in several frames, and a
    line of the other stream may come between them."""
    splitters: dict[int, _LineSplitter] = {}
    frames = _payloads(chunks) if multiplexed else ((0, chunk) for chunk in chunks)
    for stream, data in frames:
        yield from splitters.setdefault(stream, _LineSplitter(limit)).split(data)
    for splitter in splitters.values():
        yield from splitter.rest()


class _LineSplitter:
    """One stream's lines, from pieces: at most `limit` bytes of a line are kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = bytearray()
        self.cut = False

    def split(self, data: bytes) -> Iterator[tuple[bytes, bool]]:
        while data:
            end = data.find(b"\n")
            piece, data = (data, b"") if end < 0 else (data[:end], data[end + 1 :])
            if not self.cut:
                room = self.limit - len(self.buffer)
                self.buffer.extend(piece[:room])
                self.cut = len(piece) > room
            if end < 0:
                return
            line = bytes(self.buffer).removesuffix(b"\r")
            was_cut, self.cut = self.cut, False
            self.buffer.clear()
            yield line, was_cut

    def rest(self) -> Iterator[tuple[bytes, bool]]:
        """The line the stream ended inside, if any."""
        if self.buffer or self.cut:
            yield bytes(self.buffer), self.cut


def _payloads(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """The payloads of a multiplexed stream with their stream (1 stdout, 2 stderr), in pieces as they
    arrive (a frame need not come whole)."""
    pending = bytearray()
    stream = 0
    left = 0  # bytes of the current frame's payload still to come
    for chunk in chunks:
        pending += chunk
        while pending:
            if left:
                piece = bytes(pending[:left])
                del pending[: len(piece)]
                left -= len(piece)
                yield stream, piece
                continue
            if len(pending) < 8:
                break
            stream = pending[0]
            (left,) = struct.unpack(">I", pending[4:8])
            del pending[:8]


class Subscription:
    """A stream of the engine's (events, a followed log) that `close()` ends from any thread: the thread
    iterating it then sees the end instead of the error the closed connection raises. An error while it
    is open propagates. Subclasses turn `self._guarded(...)` items into what they stand for."""

    def __init__(self, stream: Any, errors: Any) -> None:
        self._stream = stream
        self._errors = errors  # the client's exceptions (`LocalEngine` or docker-py): its APIError
        self._closed = False

    def _guarded(self, items: Iterable[Any]) -> Iterator[Any]:
        try:
            yield from items
        except (OSError, self._errors.APIError):
            if not self._closed:
                raise

    def close(self) -> None:
        self._closed = True
        self._stream.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
