"""What the dashboard's Swarm page shows: each Swarm target's nodes, and the services of the repository's
stacks with their replicas, rolling update and tasks.

Read in three queries per manager whatever the size of the fleet (nodes, services, tasks: the engine's
`all_stacks`), never one per service. A target whose engine cannot be reached, or is not a Swarm
manager, is shown with the reason and a hint rather than failing the page. `follow_swarm` gives the
managers' event streams the page's live updates follow (services and nodes changing, tasks' containers
starting and stopping on the manager itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from darse.config import Target
from darse.deploy.context import DeployContext
from darse.deploy.swarm.converge import FAILED_UPDATES, MOVING_UPDATES
from darse.deploy.swarm.stack import LABEL_PREFIX, stack_name
from darse.engine.swarm import NodeState, ServiceState, SwarmEngine, SwarmEvents, TaskState
from darse.errors import DarseError
from darse.masking import masker_for_compose
from darse.model.service import Service

SHOWN_FAILURES = 3  # failed tasks kept on the page per service (the Swarm keeps a few per slot)
NOT_MANAGER_HINT = (
    "run `docker swarm init --advertise-addr ADDRESS` on that host, or point the target at a manager "
    "(a Docker context or DOCKER_HOST) in darse.toml"
)


@dataclass(frozen=True)
class TaskRow:
    """One task of a service as the page lists it: where it runs and how it is doing."""

    slot: int | None
    node: str  # the node's hostname ("" while not placed)
    state: str
    desired: str
    error: str

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "rejected") or bool(self.error and self.state != "running")


@dataclass(frozen=True)
class ServiceRow:
    """One Swarm service of a folder's stack: replicas, image, its rolling update, its tasks."""

    folder: str
    member: str  # the Compose service name (what `darse stack scale FOLDER/MEMBER=N` names)
    name: str  # the Swarm service's full name
    image: str
    desired: int | None  # None: a global service
    running: int
    update_state: str
    update_message: str
    update_started: str
    commit: str
    tasks: tuple[TaskRow, ...]

    @property
    def mode(self) -> str:
        return "global" if self.desired is None else "replicated"

    @property
    def replicas(self) -> str:
        return f"{self.running}/{'global' if self.desired is None else self.desired}"

    @property
    def converged(self) -> bool:
        return self.running >= 1 if self.desired is None else self.running == self.desired

    @property
    def updating(self) -> bool:
        return self.update_state in MOVING_UPDATES

    @property
    def update_failed(self) -> bool:
        return self.update_state in FAILED_UPDATES

    @property
    def moving(self) -> bool:
        """Something is still changing: a rolling update, or replicas not yet where they are wanted."""
        return self.updating or not self.converged

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "member": self.member,
            "name": self.name,
            "image": self.image,
            "mode": self.mode,
            "running": self.running,
            "desired": self.desired,
            "update": {"state": self.update_state, "message": self.update_message, "started": self.update_started},
            "commit": self.commit,
            "tasks": [
                {"slot": t.slot, "node": t.node, "state": t.state, "desired": t.desired, "error": t.error}
                for t in self.tasks
            ],
        }


@dataclass
class TargetView:
    """One Swarm target of darse.toml: its manager's nodes and the repository's stacks on it."""

    name: str
    manager: bool = False
    problem: str = ""  # why nothing more is shown (unreachable, not a manager)
    hint: str = ""
    nodes: list[NodeState] = field(default_factory=list)
    services: list[ServiceRow] = field(default_factory=list)
    not_deployed: list[str] = field(default_factory=list)  # folders targeting it with no stack yet

    @property
    def moving(self) -> bool:
        return any(s.moving for s in self.services)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "manager": self.manager,
            "problem": self.problem,
            "hint": self.hint,
            "nodes": [vars(n) for n in self.nodes],
            "services": [s.to_dict() for s in self.services],
            "not_deployed": self.not_deployed,
        }


@dataclass
class SwarmView:
    """The page: every Swarm target of the repository (none when darse.toml declares none)."""

    targets: list[TargetView]

    @property
    def moving(self) -> bool:
        """Whether the page must keep looking while no event comes (tasks on other nodes announce nothing)."""
        return any(t.moving for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": 1, "targets": [t.to_dict() for t in self.targets]}


EngineFactory = Callable[[Target], SwarmEngine]


def swarm_targets(ctx: DeployContext) -> list[Target]:
    """The Swarm targets darse.toml declares, in its order."""
    return [t for t in ctx.repository.config.targets.values() if t.is_swarm]


def swarm_view(ctx: DeployContext, engine_for: EngineFactory | None = None) -> SwarmView:
    """Every Swarm target's nodes and the stacks of the folders that target it, as the managers say now."""
    views = []
    for target in swarm_targets(ctx):
        folders = [s for s in ctx.repository.services if ctx.target_of(s).name == target.name]
        engine = (engine_for or SwarmEngine)(target)
        try:
            views.append(target_view(target, folders, engine))
        finally:
            engine.close()
    return SwarmView(views)


def target_view(target: Target, folders: list[Service], engine: SwarmEngine) -> TargetView:
    """One target: its nodes, then each folder's stack services in folder order (or the folder as not deployed)."""
    view = TargetView(target.name)
    try:
        if not engine.is_manager():
            view.problem = f"the engine of target {target.name} is not a Swarm manager"
            view.hint = NOT_MANAGER_HINT
            return view
        view.manager = True
        view.nodes = engine.nodes()
        stacks = engine.all_stacks()
    except DarseError as exc:  # unreachable: one line and its hint, as the CLI prints it
        view.problem, view.hint = exc.message, exc.hint or ""
        return view
    hostnames = {n.id: n.hostname or n.id[:12] for n in view.nodes}
    for folder in folders:
        states = stacks.get(stack_name(folder), [])
        if not states:
            view.not_deployed.append(folder.name)
        # a task's error and an update's message come from the engine, which may quote a value of the
        # stack's secrets (as `darse up` masks them in its output, the page does)
        mask = masker_for_compose(*folder.compose_paths).text if states else str
        view.services += [service_row(folder.name, s, hostnames, mask) for s in sorted(states, key=lambda s: s.name)]
    return view


def service_row(
    folder: str, state: ServiceState, hostnames: dict[str, str], mask: Callable[[str], str] = str
) -> ServiceRow:
    return ServiceRow(
        folder=folder,
        member=state.short,
        name=state.name,
        image=state.image,
        desired=state.desired,
        running=state.running,
        update_state=state.update_state,
        update_message=mask(state.update_message),
        update_started=state.update_started,
        commit=state.labels.get(LABEL_PREFIX + "commit", ""),
        tasks=_tasks(state.tasks, hostnames, mask),
    )


def _tasks(
    tasks: tuple[TaskState, ...], hostnames: dict[str, str], mask: Callable[[str], str] = str
) -> tuple[TaskRow, ...]:
    """The tasks meant to run (by slot), then the newest few failures: what someone watching needs."""

    def row(task: TaskState) -> TaskRow:
        node = hostnames.get(task.node, task.node[:12])
        return TaskRow(task.slot, node, task.state, task.desired, mask(task.error))

    current = sorted((t for t in tasks if t.desired == "running"), key=lambda t: (t.slot or 0, t.node))
    failures = [t for t in reversed(tasks) if t.desired != "running" and row(t).failed][:SHOWN_FAILURES]
    return tuple(row(t) for t in [*current, *failures])


def follow_swarm(ctx: DeployContext, engine_for: EngineFactory | None = None) -> list[SwarmEvents]:
    """The event streams of the Swarm targets' managers that answer (each to be closed by the caller)."""
    streams: list[SwarmEvents] = []
    for target in swarm_targets(ctx):
        try:
            streams.append((engine_for or SwarmEngine)(target).events())
        except DarseError:  # unreachable now: the page already says so; a reload tries again
            continue
    return streams
