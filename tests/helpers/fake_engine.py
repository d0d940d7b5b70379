"""An engine in memory, implementing `darse.engine.api.EngineAPI`: containers (labels, state, health,
restart count, start time), networks and images, for fast unit tests of the logic built on the engine
(deploy's checks, status rows, rollback). Compose is never faked: tests drive the parts around it.

    api = FakeEngineAPI()
    api.add_container("wiki-web-1", project="wiki", service="web", labels={...}, health="healthy")
    ctx = DeployContext(repository, connect_engine=api.connect)
"""

from __future__ import annotations

import io
import itertools
import queue
from dataclasses import dataclass, field
from typing import Any

from darse.engine.api import APIError, NotFound
from darse.engine.compose import Endpoint
from darse.engine.docker import COMPOSE_SERVICE_LABEL, PROJECT_LABEL, Engine

_ids = itertools.count(1)


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    image: str = "busybox:1.36"
    image_id: str = "sha256:" + "b" * 64
    state: str = "running"  # created, running, exited, restarting
    health: str = ""  # "", healthy, unhealthy, starting
    restart_count: int = 0
    started_at: str = "2026-11-22T14:07:21.123456789Z"
    healthcheck: bool | None = None  # None: has one exactly when `health` is set
    logs: bytes = b""
    id: str = field(default_factory=lambda: f"{next(_ids):064x}")

    def listed(self) -> dict[str, Any]:
        """As `GET /containers/json` gives it (health only in the Status text)."""
        status = "Up 3 seconds" if self.state == "running" else "Exited (1) 2 seconds ago"
        if self.health:
            status += f" ({'health: starting' if self.health == 'starting' else self.health})"
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Labels": dict(self.labels),
            "State": self.state,
            "Status": status,
            "ImageID": self.image_id,
            "Image": self.image,
        }

    def inspected(self) -> dict[str, Any]:
        """As `GET /containers/{id}/json` gives it: the restart count is a top-level field."""
        has_check = bool(self.health) if self.healthcheck is None else self.healthcheck
        state: dict[str, Any] = {"Status": self.state, "Running": self.state == "running", "StartedAt": self.started_at}
        if self.health:
            state["Health"] = {"Status": self.health}
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "RestartCount": self.restart_count,
            "State": state,
            "Config": {
                "Labels": dict(self.labels),
                "Tty": False,
                "Healthcheck": {"Test": ["CMD", "true"]} if has_check else None,
            },
        }


class FakeEngineAPI:
    """Answers the calls of `EngineAPI` from its lists; records the calls that change something."""

    def __init__(self) -> None:
        self.containers_by_id: dict[str, FakeContainer] = {}
        self.network_names: dict[str, str] = {}  # name -> driver
        self.images: dict[str, dict[str, Any]] = {}  # reference or ID -> inspect document
        self.created_networks: list[str] = []
        self.closed = False
        self.reachable = True
        self.event_streams: list[FakeEvents] = []  # every subscription made (`start_events`), closed ones too

    # -- set-up -----------------------------------------------------------------------------------

    def add_container(
        self, name: str, *, project: str = "", service: str = "", labels: dict[str, str] | None = None, **state: Any
    ) -> FakeContainer:
        all_labels = dict(labels or {})
        if project:
            all_labels[PROJECT_LABEL] = project
        if service:
            all_labels[COMPOSE_SERVICE_LABEL] = service
        container = FakeContainer(name, all_labels, **state)
        self.containers_by_id[container.id] = container
        return container

    def add_image(self, reference: str, image_id: str, digests: list[str] | None = None, size: int = 1000) -> None:
        document = {"Id": image_id, "RepoTags": [reference], "RepoDigests": list(digests or []), "Size": size}
        self.images[reference] = document
        self.images[image_id] = document

    def connect(self, endpoint: Endpoint) -> Engine:
        """An `engine_factory` for `DeployContext`: this engine behind every endpoint."""
        if not self.reachable:
            from darse.errors import DarseError

            raise DarseError("cannot reach the Docker engine at fake:// (ConnectionRefusedError)", "start dockerd")
        return Engine(self, endpoint, "fake://")

    # -- EngineAPI --------------------------------------------------------------------------------

    def ping(self) -> bool:
        return self.reachable

    def containers(self, *, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        wanted = (filters or {}).get("label") or []
        return [
            c.listed()
            for c in self.containers_by_id.values()
            if (all or c.state == "running") and all_labels_match(c.labels, wanted)
        ]

    def networks(self, *, names: list[str] | None = None) -> list[dict[str, Any]]:
        return [
            {"Name": name, "Driver": driver}
            for name, driver in self.network_names.items()
            if not names or any(wanted in name for wanted in names)  # the engine's name filter matches parts
        ]

    def create_network(self, name: str, *, driver: str = "bridge", check_duplicate: bool = True) -> dict[str, Any]:
        if check_duplicate and name in self.network_names:
            raise APIError(409, f"network with name {name} already exists")
        self.network_names[name] = driver
        self.created_networks.append(name)
        return {"Id": f"{next(_ids):064x}"}

    def inspect_image(self, image: str) -> dict[str, Any]:
        try:
            return self.images[image]
        except KeyError:
            raise NotFound(404, f"No such image: {image}") from None

    def inspect_container(self, container: str) -> dict[str, Any]:
        found = self.containers_by_id.get(container) or next(
            (c for c in self.containers_by_id.values() if c.name == container), None
        )
        if found is None:
            raise NotFound(404, f"No such container: {container}")
        return found.inspected()

    def logs(self, container: str, *, stdout: bool = True, stderr: bool = True, tail: int | str = "all") -> bytes:
        found = self.containers_by_id.get(container)
        if found is None:
            raise NotFound(404, f"No such container: {container}")
        lines = found.logs.splitlines(keepends=True)
        return b"".join(lines if tail == "all" else lines[-int(tail) :])

    def start_export(self, image: str) -> _Export:
        return _Export(self, image)

    def start_events(self, *, filters: dict[str, Any] | None = None) -> FakeEvents:
        if not self.reachable:
            raise APIError(500, "the engine is not reachable")
        stream = FakeEvents(filters)
        self.event_streams.append(stream)
        return stream

    def emit(self, container: FakeContainer, action: str, **state: Any) -> None:
        """Change `container` (`state`: its fields) and announce it to every open subscription that wants
        it, as the engine does (`action` like "start", "die", "health_status: healthy")."""
        for key, value in state.items():
            setattr(container, key, value)
        event = {
            "Type": "container",
            "Action": action,
            "Actor": {"ID": container.id, "Attributes": {**container.labels, "name": container.name}},
            "timeNano": 1_795_000_000_000_000_000,
        }
        for stream in self.event_streams:
            if not stream.closed and stream.wanted(event):
                stream.queue.put(event)

    def close(self) -> None:
        self.closed = True


def all_labels_match(labels: dict[str, str], filters: list[str]) -> bool:
    """The engine's label filter: every `key` present, every `key=value` equal."""
    for wanted in filters:
        key, sep, value = wanted.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


class _Export:
    """An export of an image the fake knows: an empty body (tests of exports use a socket server)."""

    def __init__(self, api: FakeEngineAPI, image: str) -> None:
        self._api, self._image = api, image

    def open(self) -> io.RawIOBase:
        self._api.inspect_image(self._image)
        return io.BytesIO(b"")  # type: ignore[return-value]

    def close(self) -> None:
        pass


class FakeEvents:
    """One subscription to the fake's events: `FakeEngineAPI.emit` feeds it; iteration blocks until an
    event or `close()` (from any thread), like the real stream."""

    def __init__(self, filters: dict[str, Any] | None) -> None:
        self.filters = filters or {}
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.closed = False

    def wanted(self, event: dict[str, Any]) -> bool:
        types = self.filters.get("type") or []
        actions = self.filters.get("event") or []
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        action = str(event.get("Action", "")).partition(":")[0]
        return (
            (not types or event.get("Type") in types)
            and (not actions or action in actions)
            and all_labels_match(attributes, self.filters.get("label") or [])
        )

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None or self.closed:
                return
            yield item

    def close(self) -> None:
        self.closed = True
        self.queue.put(None)
