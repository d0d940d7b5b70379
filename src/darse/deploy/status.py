"""`darse status`: every service's deployed commit, drift, containers and last deployment, cheaply.

One Engine API call lists every Compose container on the engine; the history answers in two queries;
Git answers in one `status` plus one `diff` per distinct deployed commit. Nothing is run per service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from darse.model.service import project_name

IN_SYNC, DRIFT, DEGRADED, NOT_DEPLOYED, UNKNOWN = "in-sync", "drift", "degraded", "not-deployed", "unknown"


@dataclass
class ServiceStatus:
    service: str
    project: str
    deployed_revision: str
    head: str
    state: str  # in-sync, drift, degraded, not-deployed, unknown (docs/deploy.md)
    changed_files: list[str] = field(default_factory=list)
    config_drift: bool = False
    running: int = 0
    healthy: int = 0
    total: int = 0
    last_action: str = ""
    last_outcome: str = ""
    last_time: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form of a row, documented in docs/deploy.md."""
        return {
            "service": self.service,
            "project": self.project,
            "deployed_revision": self.deployed_revision or None,
            "head": self.head,
            "state": self.state,
            "drift": {"files": self.changed_files, "config": self.config_drift},
            "containers": {"running": self.running, "healthy": self.healthy, "total": self.total},
            "last": {"action": self.last_action, "outcome": self.last_outcome, "time": self.last_time}
            if self.last_action
            else None,
            "warnings": self.warnings,
        }


@dataclass
class StatusReport:
    """`darse status`: the repository's HEAD and one row per service."""

    rows: list[ServiceStatus]

    @property
    def head(self) -> str:
        return self.rows[0].head if self.rows else ""

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "services": [row.to_dict() for row in self.rows]}


def status(ctx: DeployContext) -> list[ServiceStatus]:
    by_project: dict[tuple[Endpoint, str], list[ContainerState]] = {}
    compose_services = [s for s in ctx.repository.services if not ctx.target_of(s).is_swarm]
    stacks = _swarm_stacks(ctx)
    for endpoint in dict.fromkeys(ctx.endpoint_of(s) for s in compose_services):
        for container in ctx.engine_at(endpoint).containers(label=PROJECT_LABEL):  # one query per engine
            by_project.setdefault((endpoint, container.project), []).append(container)
    latest = ctx.history.latest_by_project()
    succeeded = ctx.history.last_success_by_project()
    revisions = ctx.revisions
    head = revisions.head
    working = revisions.working_changes()
    diffs: dict[str, list[str] | None] = {}
    rows = []
    for service in ctx.repository.services:
        project = project_name(service.name)  # not ctx.project: status reports a collision, never refuses
        recorded = succeeded.get(project)
        target = ctx.target_of(service)
        if target.is_swarm:
            tasks = _swarm_counts(stacks.get(target.name, {}).get(project, []), recorded)
        else:
            tasks = _compose_counts(by_project.get((ctx.endpoint_of(service), project), []), recorded)
        deployed = recorded.revision if recorded else tasks.labelled_commit
        row = ServiceStatus(service.name, project, deployed, head, NOT_DEPLOYED)
        row.total, row.running, row.healthy = tasks.total, tasks.running, tasks.healthy
        row.warnings = _ownership_warnings(service.name, project, ctx.folders_by_project.get(project, []), tasks)
        last = latest.get(project)
        if last is not None:
            row.last_action, row.last_outcome = last.action, last.outcome
            row.last_time = last.ended_at or last.started_at
        if deployed:
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
    return rows


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


def _swarm_stacks(ctx: DeployContext) -> dict[str, dict[str, list[ServiceState]]]:
    """target name -> stack -> services, one pair of queries per Swarm target that some service uses."""
    from darse.engine.swarm import SwarmEngine

    targets = {t.name: t for t in (ctx.target_of(s) for s in ctx.repository.services) if t.is_swarm}
    return {name: SwarmEngine(target).all_stacks() for name, target in targets.items()}


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
