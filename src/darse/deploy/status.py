"""`darse status`: every service's deployed commit, drift, containers and last deployment, cheaply.

One Engine API call lists every Compose container on each engine (the engines asked in parallel); the
history answers in two queries; Git answers in one `status` plus one `diff` per distinct deployed
commit. Nothing is run per service. A target that does not answer makes its own services `unreachable`
(the reason given once, per target); every other row is exact all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from darse.config import Target
from darse.deploy.context import DeployContext
from darse.deploy.revisions import under
from darse.engine.compose import Endpoint
from darse.engine.docker import (
    COMMIT_LABEL,
    HASH_LABEL,
    PROJECT_LABEL,
    SERVICE_HASH_LABEL,
    SERVICE_LABEL,
    ContainerState,
)
from darse.engine.swarm import ServiceState
from darse.errors import DarseError
from darse.history import IN_PROGRESS, SUCCESS
from darse.model.service import project_name
from darse.state import is_locked

IN_SYNC, DRIFT, DEGRADED, NOT_DEPLOYED, UNKNOWN = "in-sync", "drift", "degraded", "not-deployed", "unknown"
DOWN = "down"  # the last action recorded is a successful `down` and no container runs: wanted, not a problem
DEPLOYING = "deploying"  # a darse holds the project's lock on this host now: no drift verdict mid-change
UNREACHABLE = "unreachable"  # the service's target did not answer: its containers are not known

T = TypeVar("T")


@dataclass
class ServiceStatus:
    service: str
    project: str
    deployed_revision: str
    head: str
    state: str  # in-sync, drift, degraded, not-deployed, down, deploying, unreachable, unknown (docs/deploy.md)
    changed_files: list[str] = field(default_factory=list)
    config_drift: bool = False
    running: int = 0
    healthy: int = 0
    total: int = 0
    last_action: str = ""
    last_outcome: str = ""
    last_time: str = ""
    warnings: list[str] = field(default_factory=list)
    target: str = ""
    error: str = ""  # unreachable: why its target did not answer (one line, with the hint)
    tasks: list[dict[str, Any]] | None = None  # a Swarm target's: every task with its member and node

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form of a row, documented in docs/deploy.md; Swarm rows also carry `tasks`."""
        row = self._common()
        if self.tasks is not None:
            row["tasks"] = self.tasks
        return row

    def _common(self) -> dict[str, Any]:
        """The fields of every row (`containers` is null when unreachable)."""
        return {
            "service": self.service,
            "project": self.project,
            "target": self.target,
            "deployed_revision": self.deployed_revision or None,
            "head": self.head,
            "state": self.state,
            "drift": {"files": self.changed_files, "config": self.config_drift},
            "containers": {"running": self.running, "healthy": self.healthy, "total": self.total}
            if self.state != UNREACHABLE
            else None,
            "last": {"action": self.last_action, "outcome": self.last_outcome, "time": self.last_time}
            if self.last_action
            else None,
            "warnings": self.warnings,
            "error": self.error or None,
        }


@dataclass
class UnreachableTarget:
    """A darse.toml target whose engine did not answer, said once for all the services it holds."""

    target: str
    message: str
    hint: str
    services: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "error": self.message, "hint": self.hint, "services": self.services}


@dataclass
class StatusReport:
    """`darse status`: the repository's HEAD, one row per service, the targets that did not answer."""

    rows: list[ServiceStatus]
    unreachable: list[UnreachableTarget] = field(default_factory=list)

    @property
    def head(self) -> str:
        return self.rows[0].head if self.rows else ""

    @property
    def complete(self) -> bool:
        """Every target answered (the CLI's exit code 0)."""
        return not self.unreachable

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "services": [row.to_dict() for row in self.rows],
            "unreachable": [target.to_dict() for target in self.unreachable],
        }


def status(ctx: DeployContext) -> list[ServiceStatus]:
    """The rows of `report(ctx)`."""
    return report(ctx).rows


def report(ctx: DeployContext) -> StatusReport:
    """Every service's row; a target that does not answer is listed in `unreachable`, its services'
    rows say so, and the other rows are exact. Git or the history failing is still a DarseError."""
    services = ctx.repository.services
    projects = {project_name(s.name) for s in services}
    locked = {p for p in projects if is_locked(ctx.state, p)}  # before reading the engines and after
    by_project: dict[tuple[Endpoint, str], list[ContainerState]] = {}
    endpoints = list(dict.fromkeys(ctx.endpoint_of(s) for s in services if not ctx.target_of(s).is_swarm))
    swarms = {t.name: t for t in (ctx.target_of(s) for s in services) if t.is_swarm}
    jobs: list[Callable[[], Any]] = [_containers_at(ctx, e) for e in endpoints]
    jobs += [_stacks_of(t) for t in swarms.values()]
    answers = _in_parallel(jobs)
    failed: dict[Endpoint | str, DarseError] = {}
    for endpoint, answer in zip(endpoints, answers, strict=False):
        if isinstance(answer, DarseError):
            failed[endpoint] = answer
            continue
        for container in answer:
            by_project.setdefault((endpoint, container.project), []).append(container)
    stacks: dict[str, dict[str, list[ServiceState]]] = {}
    for name, answer in zip(swarms, answers[len(endpoints) :], strict=True):
        if isinstance(answer, DarseError):
            failed[name] = answer
        else:
            stacks[name] = answer
    latest = ctx.history.latest_by_project()
    succeeded = ctx.history.last_success_by_project()
    revisions = ctx.revisions
    head = revisions.head
    working = revisions.working_changes()
    locked |= {p for p in projects if is_locked(ctx.state, p)}
    diffs: dict[str, list[str] | None] = {}
    rows = []
    unreachable: dict[str, UnreachableTarget] = {}
    for service in services:
        project = project_name(service.name)  # not ctx.project: status reports a collision, never refuses
        recorded = succeeded.get(project)
        target = ctx.target_of(service)
        last = latest.get(project)
        problem = failed.get(target.name if target.is_swarm else ctx.endpoint_of(service))
        if problem is not None:
            row = ServiceStatus(service.name, project, recorded.revision if recorded else "", head, UNREACHABLE)
            row.target, row.error = (
                target.name,
                f"{problem.message} ({problem.hint})" if problem.hint else problem.message,
            )
            _last(row, last)
            unreachable.setdefault(
                target.name, UnreachableTarget(target.name, problem.message, problem.hint, [])
            ).services.append(service.name)
            rows.append(row)
            continue
        members: list[ServiceState] = []
        if target.is_swarm:
            members = stacks.get(target.name, {}).get(project, [])
            tasks = _swarm_counts(members, recorded)
        else:
            tasks = _compose_counts(by_project.get((ctx.endpoint_of(service), project), []), recorded)
        deployed = recorded.revision if recorded else tasks.labelled_commit
        row = ServiceStatus(service.name, project, deployed, head, NOT_DEPLOYED, target=target.name)
        row.total, row.running, row.healthy = tasks.total, tasks.running, tasks.healthy
        row.warnings = _ownership_warnings(service.name, project, ctx.folders_by_project.get(project, []), tasks)
        if target.is_swarm:
            row.tasks, lines = _swarm_tasks(members)
            row.warnings += lines
        _last(row, last)
        if project in locked:
            row.state = DEPLOYING
        elif last is not None and last.outcome == IN_PROGRESS and _still_in_progress(ctx, project):
            row.warnings.append(
                f"the {last.action} started {last.started_at} never finished (darse was stopped): check the containers"
            )
        if row.state == DEPLOYING:
            pass  # containers are being replaced: a drift verdict now would be a false "changed by hand"
        elif _is_down(last) and not tasks.running:
            row.state = DOWN
        elif deployed:
            folder = revisions.service_path(service.name)
            if deployed not in diffs:
                diffs[deployed] = revisions.changed_between(deployed, head)
            changed = diffs[deployed]
            files = set(working)
            if changed is not None:
                files.update(changed)
            row.changed_files = sorted(p for p in files if under(p, folder))
            row.config_drift = tasks.config_drift
            if changed is None:
                row.state = UNKNOWN
            elif row.changed_files or row.config_drift:
                row.state = DRIFT
            elif not row.total or row.healthy < row.total:
                row.state = DEGRADED
            else:
                row.state = IN_SYNC
        rows.append(row)
    return StatusReport(rows, list(unreachable.values()))


def _last(row: ServiceStatus, last: Any) -> None:
    """The latest record of the project, whatever its outcome."""
    if last is not None:
        row.last_action, row.last_outcome = last.action, last.outcome
        row.last_time = last.ended_at or last.started_at


def _still_in_progress(ctx: DeployContext, project: str) -> bool:
    """Read again: the deployment may have ended between the history query and the lock's probe."""
    newest = ctx.history.list(project, 1)
    return bool(newest) and newest[0].outcome == IN_PROGRESS


def _is_down(last: Any) -> bool:
    """The latest record is a `down` (or `down --volumes`) that succeeded."""
    return last is not None and last.action.startswith("down") and last.outcome == SUCCESS


def _containers_at(ctx: DeployContext, endpoint: Endpoint) -> Callable[[], list[ContainerState]]:
    return lambda: ctx.engine_at(endpoint).containers(label=PROJECT_LABEL)  # one query per engine


def _stacks_of(target: Target) -> Callable[[], dict[str, list[ServiceState]]]:
    """A Swarm target's stacks in one pair of queries, its connection closed after."""

    def ask() -> dict[str, list[ServiceState]]:
        from darse.engine.swarm import SwarmEngine

        swarm = SwarmEngine(target)
        try:
            return swarm.all_stacks()
        finally:
            swarm.close()

    return ask


def _in_parallel(jobs: list[Callable[[], T]]) -> list[T | DarseError]:
    """Each job's answer, or the DarseError it raised (an engine that does not answer); one thread per
    job when there are several, so the slowest target bounds the wait, not their sum."""

    def run(job: Callable[[], T]) -> T | DarseError:
        try:
            return job()
        except DarseError as exc:
            return exc

    if len(jobs) < 2:
        return [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        return list(pool.map(run, jobs))


@dataclass
class Counts:
    """What runs for one service, from containers (Compose) or tasks (Swarm)."""

    total: int
    running: int
    healthy: int
    labelled_commit: str
    config_drift: bool
    folders: set[str] = field(default_factory=set)  # service folders named by the containers' labels


def _ownership_warnings(folder: str, project: str, sharing: list[str], counts: Counts) -> list[str]:
    """Two folders on one Compose project, or containers of the project deployed from another folder.
    Containers without the folder label (deployed before it existed) belong to the project, as ever."""
    warnings = []
    others = [name for name in sharing if name != folder]
    if others:
        warnings.append(f"{', '.join(others)} also maps to the Compose project {project}: rename one folder")
    strangers = sorted(name for name in counts.folders if name and name != folder)
    if strangers:
        warnings.append(f"containers of project {project} were deployed from {', '.join(strangers)}")
    return warnings


def _compose_counts(containers: list[ContainerState], recorded: Any) -> Counts:
    labelled = next((c.labels for c in containers if c.labels.get(COMMIT_LABEL)), {})
    return Counts(
        total=len(containers),
        running=sum(c.running for c in containers),
        healthy=sum(c.healthy for c in containers),
        labelled_commit=labelled.get(COMMIT_LABEL, ""),
        config_drift=_config_drift(containers, recorded.images if recorded else None),
        folders={c.labels.get(SERVICE_LABEL, "") for c in containers},
    )


def _swarm_counts(services: list[ServiceState], recorded: Any) -> Counts:
    """A Swarm task counts as running once its healthcheck passed, so running tasks are healthy ones;
    the stack drifts when its services carry another configuration hash than the recorded deployment."""
    running = sum(s.running for s in services)
    labelled = next((s.labels for s in services if s.labels.get(COMMIT_LABEL)), {})
    drift = recorded is not None and any(s.labels.get(HASH_LABEL) != recorded.config_hash for s in services)
    return Counts(
        total=sum(s.desired if s.desired is not None else s.running for s in services),
        running=running,
        healthy=running,
        labelled_commit=labelled.get(COMMIT_LABEL, ""),
        config_drift=drift,
    )


def _swarm_tasks(members: list[ServiceState]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every task of a stack's services with its member and node, and what placement.py says is wrong
    (replicas lost with a node that is down, tasks the Swarm cannot place, with its reason)."""
    from darse.deploy.swarm.placement import placement, task_dict

    tasks: list[dict[str, Any]] = []
    lines: list[str] = []
    for member in members:
        where = placement(member)
        tasks += [{"member": member.short, **task_dict(t)} for t in where.tasks]
        lines += where.lines(member.short)
    return tasks, lines


def _config_drift(containers: list[ContainerState], images: dict[str, Any] | None) -> bool:
    """A container whose own configuration hash is not the one recorded for its Compose service by the
    last successful deployment (changed by hand, or left over by a failed one); or a service missing."""
    if images is None or not containers:
        return False
    recorded = {name: entry.get("config", "") for name, entry in images.items() if isinstance(entry, dict)}
    seen = {c.compose_service for c in containers}
    if set(recorded) - seen:
        return True
    return any(c.labels.get(SERVICE_HASH_LABEL) != recorded.get(c.compose_service) for c in containers)
