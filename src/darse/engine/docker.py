"""The Engine API, high level: container state, networks, images, on either client of `darse.engine.api`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from darse.engine import api as api_errors
from darse.engine.api import EngineAPI, Subscription
from darse.engine.compose import Endpoint

PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
LABEL_PREFIX = "org.darse."
SERVICE_LABEL = "org.darse.service"
COMMIT_LABEL = "org.darse.commit"
DIRTY_LABEL = "org.darse.dirty"
HASH_LABEL = "org.darse.config-hash"
SERVICE_HASH_LABEL = "org.darse.service-hash"
TIME_LABEL = "org.darse.deployed-at"


@dataclass(frozen=True)
class ContainerState:
    """One container as the list endpoint reports it (no per-container inspect)."""

    id: str
    name: str
    project: str
    compose_service: str
    state: str  # created, running, exited, restarting, ...
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    image_id: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def healthy(self) -> bool:
        """Running, and healthy when it has a healthcheck."""
        return self.running and self.health in ("", "healthy")


def stop_timeout(api: Any, container_id: str, default: int) -> int:
    """Seconds the engine gives the container to stop before it kills it: the container's own grace
    period when it has one (Compose's `stop_grace_period`, `docker run --stop-timeout`), else `default`.
    Passing `default` over it would kill a slow database too early, or wait for nothing on a process
    that ignores SIGTERM."""
    try:
        own = (api.inspect_container(container_id).get("Config") or {}).get("StopTimeout")
    except Exception:
        return default  # the stop itself reports what is wrong
    return own if isinstance(own, int) and not isinstance(own, bool) and own >= 0 else default


def _health(status: str) -> str:
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in status:
            return "starting" if word == "health: starting" else word
    return ""


def _state(raw: dict[str, Any]) -> ContainerState:
    labels = raw.get("Labels") or {}
    names = raw.get("Names") or [""]
    return ContainerState(
        id=raw.get("Id", ""),
        name=names[0].lstrip("/"),
        project=labels.get(PROJECT_LABEL, ""),
        compose_service=labels.get(COMPOSE_SERVICE_LABEL, ""),
        state=raw.get("State", ""),
        health=_health(raw.get("Status", "")),
        image_id=raw.get("ImageID", ""),
        image=raw.get("Image", ""),
        labels=dict(labels),
    )


# What changes a row of the fleet; exec_* (every healthcheck run makes some) and the rest stay out.
CONTAINER_ACTIONS = (
    "create", "start", "restart", "stop", "die", "kill", "oom", "pause", "unpause", "destroy", "rename", "update",
    "health_status",
)  # fmt: skip


@dataclass(frozen=True)
class ContainerEvent:
    """One change of a container the engine announced (`GET /events`), reduced to what a watcher needs."""

    project: str  # its Compose project ("" for a container outside any)
    service: str  # darse's service label ("" when it has none)
    container: str  # the container's name
    action: str  # start, die, stop, health_status, destroy, ...
    health: str = ""  # for health_status: healthy, unhealthy, starting
    time: float = 0.0  # seconds since the epoch, as the engine stamped it


def _event(raw: dict[str, Any]) -> ContainerEvent | None:
    if raw.get("Type", "container") != "container":
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    if not isinstance(attributes, dict):
        return None
    action, _sep, detail = str(raw.get("Action") or raw.get("status") or "").partition(":")
    stamp = raw.get("timeNano")
    when = stamp / 1e9 if isinstance(stamp, int) else float(raw.get("time") or 0)
    return ContainerEvent(
        project=str(attributes.get(PROJECT_LABEL, "")),
        service=str(attributes.get(SERVICE_LABEL, "")),
        container=str(attributes.get("name", "")),
        action=action.strip(),
        health=detail.strip() if action.strip() == "health_status" else "",
        time=when,
    )


class ContainerEvents(Subscription):
    """The container events of one subscription, typed, until `close()` (from any thread)."""

    def __iter__(self) -> Iterator[ContainerEvent]:
        for raw in self._guarded(self._stream):
            event = _event(raw)
            if event is not None:
                yield event


class Engine:
    """An engine that answered (made by `darse.engine.connect.connect`): container state, networks,
    images, on any `EngineAPI` client. Errors of the client are caught through `errors`, whose
    `APIError` and `NotFound` are those the client raises (`darse.engine.api`'s, or docker-py's)."""

    def __init__(
        self,
        api: EngineAPI,
        endpoint: Endpoint | None = None,
        url: str = "",
        errors: Any = None,
        timeout: float = 60,
    ) -> None:
        self.api = api
        self.endpoint = endpoint or Endpoint()
        self.url = url
        self.errors: Any = errors if errors is not None else api_errors
        self.timeout = timeout
        self._docker_py: Any = None
        self._on_close: list[Callable[[], object]] = []

    @property
    def docker_api(self) -> Any:
        """docker-py's low-level client on the same engine (build, push, tag, Swarm), made on first use:
        the client itself when the engine is not on the local socket."""
        if self._docker_py is None:
            from darse.engine import docker_py

            if isinstance(self.api, docker_py.DockerPyAPI):
                self._docker_py = self.api
            elif self.url.startswith("ssh://") and hasattr(self.api, "path"):  # the socket forwarded over SSH
                self._docker_py = docker_py.api_for(f"unix://{self.api.path}", self.timeout)
            elif self.endpoint.context or self.endpoint.docker_host:
                self._docker_py = docker_py.api_for(self.url, self.timeout, self.url.startswith("ssh://"))
            else:
                self._docker_py = docker_py.api_for(None, self.timeout)
        return self._docker_py

    @property
    def client(self) -> Any:
        """docker-py's high-level client (`docker.DockerClient`) on `docker_api`."""
        from darse.engine import docker_py

        return docker_py.high_level(self.docker_api)

    def containers(self, label: str = SERVICE_LABEL, project: str | None = None) -> list[ContainerState]:
        """Every container carrying `label` (all projects, stopped ones included), in one API call."""
        labels = [f"{PROJECT_LABEL}={project}"] if project else [label]
        raw = self.api.containers(all=True, filters={"label": labels})
        return [_state(item) for item in raw]

    def events(self, label: str = SERVICE_LABEL, project: str | None = None) -> ContainerEvents:
        """Subscribe to the changes of the containers carrying `label` (or of one Compose `project`) from
        now on: one long request; the caller's thread reads it and another may `close()` it."""
        labels = [f"{PROJECT_LABEL}={project}"] if project else [label]
        filters = {"type": ["container"], "label": labels, "event": list(CONTAINER_ACTIONS)}
        return ContainerEvents(self.api.start_events(filters=filters), self.errors)

    def ensure_networks(self, names: list[str]) -> list[str]:
        """Create the external networks that do not exist yet (bridge); returns the names created."""
        if not names:
            return []
        existing = {n["Name"] for n in self.api.networks(names=names)}
        created = []
        for name in names:
            if name not in existing:
                self.api.create_network(name, driver="bridge", check_duplicate=True)
                created.append(name)
        return created

    def remove_never_started(self, containers: list[ContainerState]) -> list[str]:
        """Remove the containers in state `created` (made, never started: nothing ran in them, nothing is
        lost); their names. Others are left alone."""
        removed = []
        for container in containers:
            if container.state == "created":
                try:
                    self.docker_api.remove_container(container.id)
                except Exception:  # gone already, or the engine refused: the retry reports what remains
                    continue
                removed.append(container.name)
        return removed

    def network_subnets(self, name: str) -> list[str] | None:
        """The subnets of the network called exactly `name` (None when there is no such network)."""
        for network in self.api.networks(names=[name]):
            if network.get("Name") == name:  # the engine's name filter matches substrings
                configs = (network.get("IPAM") or {}).get("Config") or []
                return [config["Subnet"] for config in configs if config.get("Subnet")]
        return None

    def image_facts(self, image_ids: list[str]) -> dict[str, list[str]]:
        """`image ID -> RepoDigests` (empty for an image never pushed or pulled)."""
        out: dict[str, list[str]] = {}
        for image_id in dict.fromkeys(image_ids):
            try:
                out[image_id] = list(self.api.inspect_image(image_id).get("RepoDigests") or [])
            except self.errors.APIError:
                out[image_id] = []
        return out

    def image_id(self, ref: str) -> str:
        """The local image ID a reference names, "" when the engine does not have it."""
        try:
            return self.api.inspect_image(ref).get("Id", "")
        except self.errors.APIError:
            return ""

    def restarted(self, container_ids: list[str], settle: float = 1.0) -> list[str]:
        """The containers among `container_ids` that are not running or have restarted since created.

        A container without a healthcheck that started less than `settle` seconds ago is looked at again
        once it has run that long: a process that exits at once is caught deterministically, not only
        when the inspect happens to fall between two restarts. One inspect per container (the list
        endpoint gives no restart count); only the containers a deployment created are asked about."""
        bad: list[str] = []
        again: list[str] = []
        wait = 0.0
        now = time.time()
        for container_id, state, has_health in self._inspect(container_ids):
            if state is None or state.get("Status") != "running" or int(state.get("RestartCount") or 0) > 0:
                bad.append(container_id)
                continue
            age = now - _timestamp(state.get("StartedAt", ""))
            if not has_health and age < settle:
                again.append(container_id)
                wait = max(wait, min(settle, settle - age))
        if again:
            time.sleep(max(0.0, wait))
            for container_id, state, _ in self._inspect(again):
                if state is None or state.get("Status") != "running" or int(state.get("RestartCount") or 0) > 0:
                    bad.append(container_id)
        return bad

    def _inspect(self, container_ids: list[str]):
        for container_id in container_ids:
            try:
                data = self.api.inspect_container(container_id)
            except self.errors.NotFound:
                yield container_id, None, False
                continue
            health = ((data.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
            # the restart count is a top-level field of the inspect document, not one of State's
            state = {**(data.get("State") or {}), "RestartCount": data.get("RestartCount") or 0}
            yield container_id, state, bool(health) and health != ["NONE"]

    def last_logs(self, container_id: str, lines: int = 20) -> str:
        """The last lines a container wrote, stdout and stderr (shown when a deployment fails)."""
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except self.errors.APIError:
            return ""
        return raw.decode("utf-8", errors="replace")

    def on_close(self, cleanup: Callable[[], object]) -> None:
        """Run `cleanup` when this engine closes (the SSH connection an ssh:// engine goes through)."""
        self._on_close.append(cleanup)

    def close(self) -> None:
        if self._docker_py is not None and self._docker_py is not self.api:
            self._docker_py.close()
        self.api.close()
        while self._on_close:
            self._on_close.pop()()


def _timestamp(text: str) -> float:
    """Seconds since the epoch of an engine time (`2026-11-22T14:07:21.123456789Z`); 0 when unreadable."""
    try:
        return dt.datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0
