"""The Engine API (docker-py, or the stdlib on the local socket): reachability, container state, networks, images."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from typing import Any

from darse.engine.compose import EngineTarget
from darse.engine.local import local_socket
from darse.errors import DarseError

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


def context_host(context: str) -> str:
    """The engine endpoint of a Docker context, asked of the docker CLI: contexts are its business, and
    docker-py's own reader misses contexts that recent CLIs write."""
    import subprocess

    try:
        proc = subprocess.run(
            ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", "--", context],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        raise DarseError(f"no docker context named {context!r}", "see `docker context ls`")
    return proc.stdout.strip()


class Engine:
    """An engine checked to answer; every error becomes a one-line DarseError.

    The local engine (no context, DOCKER_HOST unset or a unix socket) is spoken to with the standard
    library (`darse.engine.local`: docker-py's import would be a large share of a short command);
    any other endpoint, and every call outside the few hot ones (`client`), goes through docker-py."""

    def __init__(self, target: EngineTarget | None = None) -> None:
        self.target = target or EngineTarget()
        self._client: Any = None
        url = self.target.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        try:
            if self.target.context:
                url = context_host(self.target.context)
            self.url = url
            socket_path = None if self.target.context else local_socket(self.target.docker_host)
            if socket_path is not None:
                from darse.engine import local

                self.api: Any = local.LocalEngine(socket_path)
                self._errors: Any = local
            else:
                import docker.errors

                self._errors = docker.errors
                self.api = self.client.api
            self.api.ping()
        except DarseError:
            raise
        except Exception as exc:  # socket/requests/urllib3/docker errors: all mean "no engine answers"
            raise DarseError(
                f"cannot reach the Docker engine at {url} ({type(exc).__name__})",
                "start dockerd (`systemctl start docker`), or check DOCKER_HOST / `docker context ls`",
            ) from None

    @property
    def client(self) -> Any:
        """docker-py's client on the same engine, made on first use."""
        if self._client is None:
            import docker

            if self.target.context or self.target.docker_host:  # ssh:// through the system's ssh client
                self._client = docker.DockerClient(
                    base_url=self.url, timeout=60, use_ssh_client=self.url.startswith("ssh://")
                )
            else:  # DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH as the docker CLI reads them
                self._client = docker.from_env(timeout=60)
        return self._client

    def containers(self, label: str = SERVICE_LABEL, project: str | None = None) -> list[ContainerState]:
        """Every container carrying `label` (all projects, stopped ones included), in one API call."""
        labels = [f"{PROJECT_LABEL}={project}"] if project else [label]
        raw = self.api.containers(all=True, filters={"label": labels})
        return [_state(item) for item in raw]

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

    def image_facts(self, image_ids: list[str]) -> dict[str, list[str]]:
        """`image ID -> RepoDigests` (empty for an image never pushed or pulled)."""
        out: dict[str, list[str]] = {}
        for image_id in dict.fromkeys(image_ids):
            try:
                out[image_id] = list(self.api.inspect_image(image_id).get("RepoDigests") or [])
            except self._errors.APIError:
                out[image_id] = []
        return out

    def image_id(self, ref: str) -> str:
        """The local image ID a reference names, "" when the engine does not have it."""
        try:
            return self.api.inspect_image(ref).get("Id", "")
        except self._errors.APIError:
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
            except self._errors.NotFound:
                yield container_id, None, False
                continue
            health = ((data.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
            # the restart count is a top-level field of the inspect document, not one of State's
            state = {**(data.get("State") or {}), "RestartCount": data.get("RestartCount") or 0}
            yield container_id, state, bool(health) and health != ["NONE"]

    def last_logs(self, container_id: str, lines: int = 20) -> str:
        """Through docker-py, which separates the multiplexed stdout/stderr frames (failures only)."""
        import docker.errors

        try:
            raw = self.client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except docker.errors.APIError:
            return ""
        return raw.decode("utf-8", errors="replace")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.api.close()


def _timestamp(text: str) -> float:
    """Seconds since the epoch of an engine time (`2026-11-22T14:07:21.123456789Z`); 0 when unreadable."""
    try:
        return dt.datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0
