"""`darse status`: every service's deployed commit, drift, containers and last deployment, cheaply.

One Engine API call lists every Compose container on the engine; the history answers in two queries;
Git answers in one `status` plus one `diff` per distinct deployed commit. Nothing is run per service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from darse.deploy.context import DeployContext
from darse.deploy.revisions import under
from darse.engine.docker import COMMIT_LABEL, PROJECT_LABEL, SERVICE_HASH_LABEL, ContainerState

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

    def public(self) -> dict[str, Any]:
        """The `--json` form, documented in docs/deploy.md."""
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
        }


def status(ctx: DeployContext) -> list[ServiceStatus]:
    by_project: dict[str, list[ContainerState]] = {}
    for container in ctx.engine.containers(label=PROJECT_LABEL):
        by_project.setdefault(container.project, []).append(container)
    latest = ctx.history.latest_by_project()
    succeeded = ctx.history.last_success_by_project()
    revisions = ctx.revisions
    head = revisions.head
    working = revisions.working_changes()
    diffs: dict[str, list[str] | None] = {}
    rows = []
    for service in ctx.repository.services:
        project = ctx.project(service)
        containers = by_project.get(project, [])
        recorded = succeeded.get(project)
        labelled = next((c.labels for c in containers if c.labels.get(COMMIT_LABEL)), {})
        deployed = recorded.revision if recorded else labelled.get(COMMIT_LABEL, "")
        row = ServiceStatus(service.name, project, deployed, head, NOT_DEPLOYED)
        row.total = len(containers)
        row.running = sum(c.running for c in containers)
        row.healthy = sum(c.healthy for c in containers)
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
            row.config_drift = _config_drift(containers, recorded.images if recorded else None)
            if changed is None:
                row.state = UNKNOWN
            elif row.changed_files or row.config_drift:
                row.state = DRIFT
            elif not containers or row.healthy < row.total:
                row.state = DEGRADED
            else:
                row.state = IN_SYNC
        rows.append(row)
    return rows


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
