"""What a stack deploy does to replica counts set by hand: `docker stack deploy` applies the Compose file's
`deploy.replicas` (1 when unset), so a service scaled to 3 with `darse stack scale` runs 1 again after
the next deploy. That is the Swarm's way and the deploy keeps it; these lines say it before it happens
(the dashboard's confirmation, `darse up` and `darse stack deploy`'s progress).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from darse.deploy.context import DeployContext
from darse.engine.compose import ComposeRunner
from darse.engine.swarm import ServiceState
from darse.masking import masker_for_compose
from darse.model.service import Service


@dataclass(frozen=True)
class ReplicaChange:
    """One replicated service whose desired replicas the deploy changes."""

    member: str  # the Compose service name inside the stack
    now: int
    from_file: int

    def line(self) -> str:
        return f"{self.member}: replicas: {self.now} now → {self.from_file} from the Compose file"

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "now": self.now, "from_file": self.from_file}


def file_replicas(resolved: dict[str, Any]) -> dict[str, int | None]:
    """Each service's replicas as the resolved Compose file sets them: None for a global service or a job."""
    counts: dict[str, int | None] = {}
    for name, service in (resolved.get("services") or {}).items():
        deploy = (service or {}).get("deploy") or {}
        mode = str(deploy.get("mode") or "replicated")
        if mode != "replicated":
            counts[name] = None
            continue
        try:
            counts[name] = int(deploy.get("replicas", 1))
        except (TypeError, ValueError):  # Compose validated it; a value it accepts but darse cannot read is skipped
            counts[name] = None
    return counts


def replica_changes(resolved: dict[str, Any], states: list[ServiceState]) -> list[ReplicaChange]:
    """The running services whose desired replicas differ from the file's, in the file's order."""
    running = {state.short: state for state in states}
    changes = []
    for name, wanted in file_replicas(resolved).items():
        state = running.get(name)
        if wanted is None or state is None or state.desired is None or state.desired == wanted:
            continue
        changes.append(ReplicaChange(name, state.desired, wanted))
    return changes


def planned_replica_changes(ctx: DeployContext, service: Service) -> list[ReplicaChange]:
    """Reads only: what a deploy of the working tree would do to the replicas the Swarm runs now."""
    from darse.deploy.swarm.stack import stack_services

    overrides = service.overrides_beside(service.deploy_file)
    mask = masker_for_compose(service.deploy_file, *overrides).text
    config = ComposeRunner(ctx.project(service), ctx.endpoint_of(service), mask).config(service.deploy_file, overrides)
    return replica_changes(config, stack_services(ctx.repository, service))
