"""The only code that talks to a Swarm: the docker CLI for what only it does, docker-py for reading.

`docker stack deploy` turns a Compose document into services, networks and secrets on the client side;
re-implementing that would be re-implementing Compose, so darse calls the CLI (document on standard
input, never on disk: it holds env-file values). Reads (services, tasks, secrets) go through the Engine
API with docker-py: one query per kind of object for a whole stack, not one process per service. The
connection is made by `darse.engine.connect` like any other (same endpoints, same one-line error).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from darse.engine.api import EngineAPI, Subscription
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.errors import DarseError

if TYPE_CHECKING:  # annotations only: the engine layer does not import the model
    from darse.config import Target

if TYPE_CHECKING:  # docker-py is imported when a Swarm is first asked (`darse status` of Compose targets never does)
    import docker

STACK_LABEL = "com.docker.stack.namespace"
REMOVE_SETTLE = 60.0  # seconds `remove` waits for the Swarm to take the stack's networks away
CLI_TIMEOUT = 600


@dataclass(frozen=True)
class TaskState:
    """One task of a service, as much as a report needs."""

    slot: int | None
    state: str
    desired: str
    error: str
    image: str
    created: str
    node: str = ""  # the ID of the node it was given to ("" while the Swarm has not placed it)
    node_name: str = ""  # that node's hostname ("" when unplaced, or the node was removed)
    node_state: str = ""  # that node's state now: ready, down, unknown, disconnected
    message: str = ""  # the Swarm's word on the task's state ("pending task scheduling", "started", ...)

    @property
    def lost(self) -> bool:
        """Last seen running on a node that is down now: the replica is gone, whatever the Swarm does next."""
        return self.node_state == "down" and self.state == "running"


@dataclass(frozen=True)
class NodeState:
    """One node of the Swarm, as `docker node ls` shows it."""

    id: str
    hostname: str
    role: str  # manager, worker
    availability: str  # active, pause, drain
    state: str  # ready, down, unknown, disconnected
    manager_status: str  # leader, reachable, unreachable; "" for a worker
    engine_version: str
    address: str
    os: str = ""  # node.platform.os of placement constraints
    arch: str = ""  # node.platform.arch
    labels: dict[str, str] = field(default_factory=dict)  # node.labels.NAME (the node's own, set by an admin)
    engine_labels: dict[str, str] = field(default_factory=dict)  # engine.labels.NAME (its daemon's)


@dataclass(frozen=True)
class PlacedTask:
    """A task the Swarm wants running, with its service's name and where it is (node maintenance)."""

    id: str
    service: str
    slot: int | None  # None for a global service's task (one per node)
    node: str  # the node's ID ("" while not placed)
    state: str  # running, pending, preparing, ...
    error: str  # why it is not running (e.g. "no suitable node ...")


@dataclass(frozen=True)
class SwarmChange:
    """One change the manager announced: a service or a node updated, or a task's container on this node."""

    kind: str  # service, node, container
    name: str  # the service's or node's name (for a container: its Swarm service's name)
    action: str  # create, update, remove, start, die, ...


SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"


class SwarmEvents(Subscription):
    """The Swarm's changes of one `GET /events` subscription until `close()` (callable from any thread).

    A manager announces services and nodes; the tasks' containers are announced only by the node that
    runs them, so tasks on other nodes show up through their service's update events (or a re-read)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # a connection of the subscription's own, closed with it
        super().__init__(engine.api.start_events(filters={"type": ["service", "node", "container"]}), engine.errors)

    def __iter__(self):
        for raw in self._guarded(self._stream):
            change = _change(raw)
            if change is not None:
                yield change

    def close(self) -> None:
        with contextlib.suppress(Exception):
            super().close()
        with contextlib.suppress(Exception):
            self._engine.close()


def _change(raw: dict[str, Any]) -> SwarmChange | None:
    kind = str(raw.get("Type") or "")
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    if not isinstance(attributes, dict):
        return None
    action = str(raw.get("Action") or "").partition(":")[0].strip()
    if kind in ("service", "node"):
        return SwarmChange(kind, str(attributes.get("name", "")), action)
    if kind == "container" and attributes.get(SWARM_SERVICE_LABEL):
        return SwarmChange(kind, str(attributes[SWARM_SERVICE_LABEL]), action)
    return None


@dataclass(frozen=True)
class ServiceState:
    """A Swarm service of a stack: replicas, image, and the state of its last update."""

    name: str  # full name, STACK_SERVICE
    short: str  # the Compose service name
    image: str
    desired: int | None  # None for a global service
    running: int
    update_state: str  # "", updating, completed, paused, rollback_started, rollback_completed, ...
    update_message: str
    update_started: str
    version: int
    labels: dict[str, str]
    tasks: tuple[TaskState, ...]
    template: str = ""  # a hash of the task template: it changes exactly when a rollout must happen

    @property
    def failing_tasks(self) -> list[TaskState]:
        return [t for t in self.tasks if t.state in ("failed", "rejected") or (t.error and t.state != "running")]


class SwarmEngine:
    """A Swarm manager reached through a target (local engine, Docker context or DOCKER_HOST)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.address = Endpoint.of(target)
        self._engine: Engine | None = None

    # --- reading, through the Engine API -----------------------------------------------------------------

    @property
    def client(self) -> docker.DockerClient:
        """Connected (and pinged) on first use, as for Compose targets: one-line error when unreachable."""
        if self._engine is None:
            self._engine = connect(self.address)
        return self._engine.client

    @property
    def reader(self) -> EngineAPI:
        """The Engine API for the reads of a status: darse's standard-library client on a local socket, so
        that `darse stack status` never imports docker-py (a third of a second)."""
        if self._engine is None:
            self._engine = connect(self.address)
        return self._engine.api

    def close(self) -> None:
        """Close the connection (a long-running process such as the dashboard opens one per page read)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.close()

    def ensure_manager(self) -> None:
        with _reading("the engine's state"):
            info = self.reader.info()
        swarm = info.get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise DarseError(
                f"the engine of target {self.target.name} is not a Swarm manager",
                "run `docker swarm init` there, or point the target at a manager's context",
            )

    def is_manager(self) -> bool:
        """Whether the engine is an active Swarm manager (the one that can list nodes and services)."""
        swarm = self.reader.info().get("Swarm") or {}
        return swarm.get("LocalNodeState") == "active" and bool(swarm.get("ControlAvailable"))

    def nodes(self) -> list[NodeState]:
        """Every node of the Swarm, managers first, then by hostname: one query."""
        nodes = [_node_state(raw) for raw in self.reader.nodes()]
        return sorted(nodes, key=lambda n: (n.role != "manager", n.hostname, n.id))

    def placed_tasks(self) -> list[PlacedTask]:
        """Every task the Swarm wants running, whatever its stack, with its node: two queries."""
        api = self.reader
        with _reading("the Swarm's tasks"):
            names = {raw["ID"]: str((raw.get("Spec") or {}).get("Name", "")) for raw in api.services()}
            raw_tasks = api.tasks(filters={"desired-state": "running"})
        return [_placed_task(raw, names) for raw in raw_tasks]

    def update_node(self, node_id: str, *, availability: str | None = None, role: str | None = None) -> None:
        """Set a node's availability (active, pause, drain) or role (manager, worker), its other settings kept."""
        api = self.client.api
        with _reading(f"node {node_id}"):
            raw = api.inspect_node(node_id)
        spec = dict(raw.get("Spec") or {})
        if availability is not None:
            spec["Availability"] = availability
        if role is not None:
            spec["Role"] = role
        try:
            api.update_node(node_id, int((raw.get("Version") or {}).get("Index", 0)), spec)
        except Exception as exc:  # the manager's refusal (e.g. its quorum would be lost), as one line
            raise DarseError(f"the Swarm refused to update node {node_id}: {_first_line(exc)}", _NODE_HINT) from None

    def events(self) -> SwarmEvents:
        """Subscribe to the Swarm's changes from now on, on a connection of its own (closed with it)."""
        return SwarmEvents(connect(self.address))

    def services(self, stack: str) -> list[ServiceState]:
        """Every service of a stack with its tasks and their nodes: one query each for services, tasks, nodes."""
        api = self.reader
        raw_services = api.services(filters={"label": f"{STACK_LABEL}={stack}"})
        raw_tasks = api.tasks(filters={"label": f"{STACK_LABEL}={stack}"}) if raw_services else []
        nodes = self._node_index() if raw_tasks else {}
        by_service: dict[str, list[dict[str, Any]]] = {}
        for task in raw_tasks:
            by_service.setdefault(task.get("ServiceID", ""), []).append(task)
        return sorted(
            (_service_state(s, by_service.get(s["ID"], []), stack, nodes) for s in raw_services), key=lambda s: s.name
        )

    def all_stacks(self) -> dict[str, list[ServiceState]]:
        """Every stack's services with their tasks, in three queries for the whole Swarm (for `darse status`).
        An engine that is no Swarm manager (it left the Swarm) is a one-line error, as an unreachable one."""
        api = self.reader
        with _reading("its stacks"):
            raw_services = api.services(filters={"label": STACK_LABEL})
            raw_tasks = api.tasks(filters={"label": STACK_LABEL}) if raw_services else []
            nodes = self._node_index() if raw_tasks else {}
        by_service: dict[str, list[dict[str, Any]]] = {}
        for task in raw_tasks:
            by_service.setdefault(task.get("ServiceID", ""), []).append(task)
        stacks: dict[str, list[ServiceState]] = {}
        for raw in raw_services:
            stack = (raw.get("Spec", {}).get("Labels") or {}).get(STACK_LABEL, "")
            stacks.setdefault(stack, []).append(_service_state(raw, by_service.get(raw["ID"], []), stack, nodes))
        return stacks

    def _node_index(self) -> dict[str, NodeState]:
        """Node ID -> the node, to name each task's node (a manager answers; a plain engine has none)."""
        return {node.id: node for node in self.nodes()}

    def stacks(self) -> set[str]:
        """Names of the stacks present on the Swarm."""
        return {
            (s.get("Spec", {}).get("Labels") or {}).get(STACK_LABEL, "")
            for s in self.client.api.services(filters={"label": STACK_LABEL})
        } - {""}

    def secrets(self, stack: str) -> list[tuple[str, str]]:
        """(id, name) of the secrets a stack created."""
        with _reading(f"the secrets of stack {stack}"):
            found = self.client.api.secrets(filters={"label": f"{STACK_LABEL}={stack}"})
        return [(s["ID"], s["Spec"]["Name"]) for s in found]

    def secrets_in_use(self) -> set[str]:
        """IDs of every secret some service of the Swarm still refers to (any stack)."""
        used: set[str] = set()
        with _reading("its services"):
            services = self.client.api.services()
        for service in services:
            spec = service.get("Spec", {}).get("TaskTemplate", {}).get("ContainerSpec", {})
            used.update(ref.get("SecretID", "") for ref in spec.get("Secrets") or [])
        return used

    def remove_secret(self, secret_id: str) -> bool:
        import docker.errors

        try:
            self.client.api.remove_secret(secret_id)
        except docker.errors.APIError:
            return False  # still in use by a task being shut down: a later deploy removes it
        return True

    def secret_labels(self, names: list[str]) -> dict[str, dict[str, str]]:
        """The labels of the secrets called exactly one of `names` (a secret's data is never readable)."""
        if not names:
            return {}
        with _reading("secret labels"):
            found = self.client.api.secrets(filters={"name": names})
        return {s["Spec"]["Name"]: dict(s["Spec"].get("Labels") or {}) for s in found if s["Spec"]["Name"] in names}

    def ensure_secret(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        """The ID of the secret `name`, created with `data` when it does not exist yet. Names are made
        from a hash of the data by the caller, so an existing one holds the same bytes."""
        import docker.errors

        with _reading(f"secret {name}"):
            existing = self.client.api.secrets(filters={"name": name})
        for found in existing:
            if found["Spec"]["Name"] == name:
                return found["ID"]
        try:
            return self.client.api.create_secret(name, data, labels=labels)["ID"]
        except docker.errors.APIError as exc:
            raise DarseError(
                f"the Swarm refused to create secret {name}: {_first_line(exc)}", "is the engine a Swarm manager?"
            ) from None

    def service_secret_refs(self, service: str) -> list[dict[str, Any]] | None:
        """The secret references of a Swarm service (`STACK_SERVICE`), None when there is no such service."""
        import docker.errors

        with _reading(f"service {service}"):
            try:
                spec = self.client.api.inspect_service(service)["Spec"]
            except docker.errors.NotFound:
                return None
        return list(spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Secrets") or [])

    def replace_secret_refs(
        self, service: str, drop: Callable[[dict[str, Any]], bool], refs: list[dict[str, Any]]
    ) -> None:
        """Update a service so that its secret references are those it had, less those `drop` says,
        plus `refs`: the Swarm rolls its tasks over (its update_config), which is the consumer's reload."""
        import docker.errors

        try:
            current = self.client.api.inspect_service(service)
            template = current["Spec"]["TaskTemplate"]
            container = template.setdefault("ContainerSpec", {})
            container["Secrets"] = [r for r in container.get("Secrets") or [] if not drop(r)] + refs
            # the rest of the spec as it is (docker-py reads it again), registry credentials sent along
            self.client.api.update_service(
                current["ID"], current["Version"]["Index"], task_template=template, fetch_current_spec=True
            )
        except docker.errors.APIError as exc:
            raise DarseError(f"cannot update service {service}: {_first_line(exc)}", "see docker service ps") from None

    def network_scope(self, name: str) -> str | None:
        """`swarm` or `local` for an existing network, None when it does not exist."""
        import docker.errors

        try:
            return self.client.api.inspect_network(name).get("Scope")
        except docker.errors.NotFound:
            return None

    def create_overlay_network(self, name: str) -> None:
        self.client.api.create_network(name, driver="overlay", attachable=True)

    def local_image(self, reference: str) -> dict[str, Any] | None:
        """The engine's record of an image (RepoDigests says whether it came from a registry), or None."""
        import docker.errors

        try:
            return self.client.api.inspect_image(reference)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError:
            return None

    # --- acting, through the docker CLI ------------------------------------------------------------------

    def deploy(self, stack: str, document: dict[str, Any], mask: Callable[[str], str] | None = None) -> None:
        """`docker stack deploy --prune --with-registry-auth`, the document on standard input. The
        document holds env_file values: an error quoting it passes through `mask` (darse.masking)."""
        self._cli(
            ["stack", "deploy", "--prune", "--with-registry-auth", "--resolve-image", "always", "-c", "-", stack],
            stdin=json.dumps(document),
            what=f"stack deploy {stack}",
            mask=mask,
        )

    def scale(self, service: str, replicas: int) -> None:
        self._cli(["service", "scale", "--detach", f"{service}={replicas}"], what=f"scale {service}")

    def rollback(self, service: str) -> None:
        self._cli(["service", "rollback", "--detach", service], what=f"rollback {service}")

    def remove(self, stack: str, settle: float = REMOVE_SETTLE) -> None:
        """`docker stack rm`: services, networks, secrets and configs of the stack; volumes stay. The CLI
        returns before the Swarm has removed the networks (after the tasks stop): waited for here, at
        most `settle` seconds, so that a `docker compose up` of the same folder right after does not find
        the stack's `NAME_default` network half-removed ("network ... not found")."""
        self._cli(["stack", "rm", stack], what=f"stack rm {stack}")
        deadline = time.monotonic() + settle
        label = {"label": f"{STACK_LABEL}={stack}"}
        while time.monotonic() < deadline:
            if not self.client.api.networks(filters=label) and not self.client.api.tasks(filters=label):
                return
            time.sleep(0.3)

    def _cli(
        self, args: list[str], what: str, stdin: str | None = None, mask: Callable[[str], str] | None = None
    ) -> str:
        env = self.address.env()
        try:
            proc = subprocess.run(
                ["docker", *self.address.global_args(), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=env,
                timeout=CLI_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise DarseError("the docker CLI is not installed", "install Docker's CLI (docker.io)") from None
        except subprocess.TimeoutExpired:
            raise DarseError(f"{what} did not finish in {CLI_TIMEOUT} s", "check the Swarm manager") from None
        if proc.returncode != 0:
            message = _last_line(proc.stderr) or _last_line(proc.stdout) or f"exit status {proc.returncode}"
            raise DarseError(
                f"{what} failed: {mask(message) if mask else message}", "see `docker stack ps` on the manager"
            )
        return proc.stdout


def _service_state(
    raw: dict[str, Any], tasks: list[dict[str, Any]], stack: str, nodes: dict[str, NodeState] | None = None
) -> ServiceState:
    spec = raw.get("Spec", {})
    name = spec.get("Name", "")
    mode = spec.get("Mode", {})
    desired = mode["Replicated"].get("Replicas", 0) if "Replicated" in mode else None
    update = raw.get("UpdateStatus") or {}
    nodes = nodes or {}
    states = tuple(_task_state(t, nodes.get(t.get("NodeID", "") or "")) for t in sorted(tasks, key=_created))
    image = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
    return ServiceState(
        name=name,
        short=name[len(stack) + 1 :] if name.startswith(stack + "_") else name,
        image=image.split("@", 1)[0],
        desired=desired,
        # a task last seen running on a node that is down runs nowhere: not counted, whatever it says
        running=sum(1 for t in states if t.state == "running" and t.desired == "running" and not t.lost),
        update_state=update.get("State", ""),
        update_message=update.get("Message", ""),
        update_started=update.get("StartedAt", ""),
        version=raw.get("Version", {}).get("Index", 0),
        labels=dict(spec.get("Labels") or {}),
        tasks=states,
        template=hashlib.sha256(json.dumps(spec.get("TaskTemplate", {}), sort_keys=True).encode()).hexdigest(),
    )


_NODE_HINT = "see `docker node ls` on a manager"


def _placed_task(raw: dict[str, Any], service_names: dict[str, str]) -> PlacedTask:
    status = raw.get("Status") or {}
    slot = raw.get("Slot")
    return PlacedTask(
        id=str(raw.get("ID", "")),
        service=service_names.get(str(raw.get("ServiceID", "")), str(raw.get("ServiceID", ""))),
        slot=int(slot) if isinstance(slot, int) else None,
        node=str(raw.get("NodeID", "") or ""),
        state=str(status.get("State", "")),
        error=_last_line(str(status.get("Err", "") or ""))
        or (_last_line(str(status.get("Message", ""))) if status.get("State") == "pending" else ""),
    )


def _created(task: dict[str, Any]) -> str:
    return str(task.get("CreatedAt", ""))


def _task_state(raw: dict[str, Any], node: NodeState | None) -> TaskState:
    status = raw.get("Status") or {}
    return TaskState(
        slot=raw.get("Slot"),
        state=status.get("State", ""),
        desired=raw.get("DesiredState", ""),
        error=status.get("Err", "") or "",
        image=raw.get("Spec", {}).get("ContainerSpec", {}).get("Image", ""),
        created=raw.get("CreatedAt", ""),
        node=raw.get("NodeID", "") or "",
        node_name=node.hostname if node else "",
        node_state=node.state if node else "",
        message=str(status.get("Message", "") or ""),
    )


def _node_state(raw: dict[str, Any]) -> NodeState:
    spec = raw.get("Spec") or {}
    description = raw.get("Description") or {}
    status = raw.get("Status") or {}
    manager = raw.get("ManagerStatus") or {}
    reachability = str(manager.get("Reachability", ""))
    manager_status = ("leader" if manager.get("Leader") else reachability) if manager else ""
    return NodeState(
        id=str(raw.get("ID", "")),
        hostname=str(description.get("Hostname", "")),
        role=str(spec.get("Role", "")),
        availability=str(spec.get("Availability", "")),
        state=str(status.get("State", "")),
        manager_status=manager_status,
        engine_version=str((description.get("Engine") or {}).get("EngineVersion", "")),
        address=str(status.get("Addr", "")),
        os=str((description.get("Platform") or {}).get("OS", "")),
        arch=str((description.get("Platform") or {}).get("Architecture", "")),
        labels=_labels(spec.get("Labels")),
        engine_labels=_labels((description.get("Engine") or {}).get("Labels")),
    )


def _labels(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """The engine's error while reading (or its connection lost) as one line, never a traceback."""
    try:
        yield
    except DarseError:
        raise
    except Exception as exc:
        raise DarseError(f"cannot read {what} from the Swarm: {_first_line(exc)}", "is the engine reachable?") from None


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
