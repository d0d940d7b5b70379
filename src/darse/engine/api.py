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
from collections.abc import Iterator
from typing import Any, Protocol

MAX_EVENT_LINE = 64 * 1024  # bytes of one event of the stream; a longer line is skipped, never buffered whole


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


class EngineAPI(Protocol):
    """What darse asks of an engine through its HTTP API (answers are the API's JSON, as docker-py
    returns them). Errors: the client's own APIError and NotFound (see `Engine.errors`)."""

    def ping(self) -> bool: ...

    def containers(self, *, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def networks(self, *, names: list[str] | None = None) -> list[dict[str, Any]]: ...

    def create_network(self, name: str, *, driver: str = "bridge", check_duplicate: bool = True) -> Any: ...

    def inspect_image(self, image: str) -> dict[str, Any]: ...

    def inspect_container(self, container: str) -> dict[str, Any]: ...

    def logs(self, container: str, *, stdout: bool = True, stderr: bool = True, tail: int | str = "all") -> bytes:
        """Stdout and stderr of a container, its multiplexed frames taken apart."""
        ...

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
