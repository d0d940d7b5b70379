"""The Swarm commands as operations: deploy, status, rollback and rm (which services: select.py; scale: scale.py).

`darse up` hands its Swarm-target services to `deploy_services`; `darse stack ...` calls the rest. Each
returns a plain result (`to_dict()` is its `--json` document) and reports progress as events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from darse.deploy.context import DeployContext
from darse.deploy.swarm.converge import Convergence
from darse.deploy.swarm.deploy import down_on_swarm, replica_reporter, up_on_swarm
from darse.deploy.swarm.select import split_member, swarm_services
from darse.deploy.swarm.stack import (
    StackResult,
    StackStatus,
    rollback_stack,
    stack_status,
    swarm_target,
)
from darse.model.repository import Repository
from darse.model.service import Service
from darse.progress import Event, Listener, ignore, reporter


@dataclass
class StackDeployment:
    """`darse stack deploy`: one StackResult per service folder, in the order deployed."""

    results: list[StackResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": 1, "deployments": [r.to_dict() for r in self.results]}


def deploy_services(
    ctx: DeployContext,
    services: list[Service],
    *,
    force: bool = False,
    allow_dirty: bool = False,
    timeout: float = 300,
    listener: Listener = ignore,
) -> list[StackResult]:
    """Deploy each Swarm-target service (preflight, stack, convergence, history), one after the other.

    Every service is checked to target a Swarm before the first one is deployed."""
    for service in services:
        swarm_target(ctx.repository, service)
    return [
        up_on_swarm(ctx, service, force=force, allow_dirty=allow_dirty, timeout=timeout, listener=listener)
        for service in services
    ]


def deploy(
    ctx: DeployContext,
    names: list[str] | None,
    *,
    force: bool = False,
    allow_dirty: bool = False,
    timeout: float = 300,
    listener: Listener = ignore,
) -> StackDeployment:
    """`darse stack deploy`: the folders named (default: every Swarm-target folder), waited for."""
    chosen = swarm_services(ctx.repository, names)
    return StackDeployment(
        deploy_services(ctx, chosen, force=force, allow_dirty=allow_dirty, timeout=timeout, listener=listener)
    )


def status(repository: Repository, names: list[str] | None) -> StackStatus:
    """`darse stack status` of the folders named (default: every Swarm-target folder)."""
    return stack_status(repository, swarm_services(repository, names))


def rollback(repository: Repository, text: str, timeout: float, listener: Listener = ignore) -> Convergence:
    """The Swarm's own rollback of a folder's stack (`wiki`) or of one member (`wiki/web`), waited for."""
    folder, member = split_member(repository, text)
    task = f"rolling back {text}"
    try:
        return rollback_stack(repository, folder, member, timeout, replica_reporter(reporter(listener, task)))
    finally:
        listener(Event(task, done=True))


def remove(ctx: DeployContext, name: str) -> str:
    """`darse stack rm`: the folder's stack removed (recorded in the history); returns the stack's name."""
    return down_on_swarm(ctx, ctx.service(name))
