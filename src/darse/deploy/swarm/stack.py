"""`darse stack`: a service folder deployed as a Swarm stack, waited for, and reported honestly.

One service folder is one stack (named like its Compose project). Deploying resolves the Compose file
with Compose itself, adapts it (stackfile.py), checks that every image can come from a registry,
creates missing overlay networks, runs `docker stack deploy`, waits for convergence, rolls back a
failed update the Swarm paused, and removes secrets no service uses any more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from darse.certs.swarm import add_certificates
from darse.config import Target
from darse.deploy.swarm.converge import Convergence, ServiceOutcome, snapshot, wait_for_convergence
from darse.deploy.swarm.placement import placement
from darse.deploy.swarm.placement_check import refuse_unplaceable
from darse.deploy.swarm.replicas import ReplicaChange
from darse.deploy.swarm.stackfile import StackDocument, make_stack_document
from darse.engine.swarm import NodeState, ServiceState, SwarmEngine
from darse.errors import DarseError
from darse.model.image import ImageRef, parse_image
from darse.model.repository import Repository
from darse.model.service import Service, project_name

LABEL_PREFIX = "org.darse."


def stack_name(service: Service) -> str:
    """A folder's stack is named like its Compose project (`apps/wiki` → `apps-wiki`)."""
    return project_name(service.name)


def swarm_target(repository: Repository, service: Service) -> Target:
    target = repository.config.target_for(service.name)
    if not target.is_swarm:
        raise DarseError(
            f"service {service.name} targets {target.name}, which is not a Swarm",
            f'deploy it with `darse up {service.name}`, or set its target in darse.toml [services."{service.name}"]',
        )
    return target


@dataclass
class StackResult:
    service: str
    stack: str
    target: str
    ok: bool
    convergence: Convergence
    rolled_back: list[str] = field(default_factory=list)
    secrets_removed: int = 0
    config_hash: str = ""
    images: dict[str, str] = field(default_factory=dict)
    replica_changes: list[ReplicaChange] = field(default_factory=list)  # counts set by hand the file reset

    def summary_lines(self) -> list[str]:
        """What `darse stack deploy` (and `up` of a Swarm target) prints of it, plain text."""
        lines = [f"{'✔' if self.ok else '✖'} {self.service} → stack {self.stack} on {self.target}"]
        lines += [f"   {change.line()}" for change in self.replica_changes]
        for outcome in self.convergence.services:
            lines.append(f"   {outcome.name}: {outcome.state}" + (f" ({outcome.detail})" if outcome.detail else ""))
            lines += [f"      task error: {error}" for error in outcome.errors]
        if self.rolled_back:
            lines.append(f"   the Swarm runs the previous version of: {', '.join(self.rolled_back)}")
        if self.secrets_removed:
            lines.append(f"   {self.secrets_removed} unused secret(s) removed")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "stack": self.stack,
            "target": self.target,
            "ok": self.ok,
            "config_hash": self.config_hash,
            "images": self.images,
            "rolled_back": self.rolled_back,
            "secrets_removed": self.secrets_removed,
            "replica_changes": [change.to_dict() for change in self.replica_changes],
            "services": [_outcome_dict(o) for o in self.convergence.services],
        }


@dataclass
class PreparedStack:
    """Everything checked and built, nothing changed on the Swarm yet."""

    service: Service
    stack: str
    target: Target
    engine: SwarmEngine
    made: StackDocument
    config_hash: str


def prepare_stack(
    repository: Repository,
    service: Service,
    resolved: dict[str, Any],
    labels: dict[str, str],
    check_placement: bool = False,
) -> PreparedStack:
    """Checks that read only: a Swarm manager answers, images can come from a registry; the document.
    The one write: the certificate secrets of darse.certs consumers (named by their content, removed
    with the stack or by the next deploy when unused).

    `resolved` is `docker compose config` output; `labels` must hold the config hash (org.darse.config-hash).
    `check_placement`: refuse tasks no node of the Swarm could run (darse.deploy.swarm.placement_check)."""
    target = swarm_target(repository, service)
    stack = stack_name(service)
    engine = SwarmEngine(target)
    engine.ensure_manager()
    made = make_stack_document(resolved, stack, {**labels, LABEL_PREFIX + "service": service.name})
    _check_images(engine, service, made.images)
    if check_placement:
        refuse_unplaceable(made.document, engine.nodes())
    # the certificates of darse.certs consumers, as secrets (created now: named by their content)
    certificates = add_certificates(repository, service, stack, engine, made.document)
    made.secret_names.update({name: name for name in certificates})
    return PreparedStack(service, stack, target, engine, made, labels.get(LABEL_PREFIX + "config-hash", ""))


def run_stack(
    prepared: PreparedStack,
    timeout: float,
    on_progress: Callable[[list[ServiceState]], None] | None = None,
    mask: Callable[[str], str] | None = None,
) -> StackResult:
    """Create missing overlay networks, `docker stack deploy`, wait, roll back what the Swarm paused,
    and remove secrets no service uses any more."""
    engine, stack = prepared.engine, prepared.stack
    _ensure_networks(engine, prepared.made.document)
    before = snapshot(engine.services(stack))
    engine.deploy(stack, prepared.made.document, mask)
    convergence = wait_for_convergence(engine, stack, before, timeout, on_progress)
    rolled_back = []
    paused = [o for o in convergence.services if o.state == "paused"]
    before_rollback = snapshot(engine.services(stack)) if paused else {}
    for outcome in paused:
        engine.rollback(f"{stack}_{outcome.name}")
        rolled_back.append(outcome.name)
    if paused:
        again = wait_for_convergence(engine, stack, before_rollback, timeout, on_progress)
        _keep_failures(convergence, again)
    rolled_back += [o.name for o in convergence.services if o.state == "rolled back"]
    removed = _remove_unused_secrets(engine, stack, set(prepared.made.secret_names.values()))
    return StackResult(
        prepared.service.name,
        stack,
        prepared.target.name,
        convergence.ok,
        convergence,
        rolled_back,
        removed,
        prepared.config_hash,
        prepared.made.images,
    )


def _check_images(engine: SwarmEngine, service: Service, images: dict[str, str]) -> None:
    """Every image pinned, and none that only exists in the local engine (a Swarm pulls from registries)."""
    for name, reference in images.items():
        ref = parse_image(reference)
        if not ref.pinned:
            raise DarseError(
                f"service {name} of {service.name} runs {reference}, which is not pinned to a version",
                "name a tag other than latest (the CHANGELOG version for home-made images)",
            )
        local = engine.local_image(reference)
        if local is not None and not _came_from_registry(ref, local.get("RepoDigests") or []):
            raise DarseError(
                f"image {reference} of {service.name} exists only in the local engine; a Swarm pulls from a registry",
                f"push it first: darse push {service.name}",
            )


def _came_from_registry(ref: ImageRef, repo_digests: list[str]) -> bool:
    """Whether the engine holds a digest of this repository: it was pushed there or pulled from there.
    A digest under another name does not count (one image ID may be pushed under many names)."""
    wanted = (ref.registry or "docker.io", ref.repository)
    for entry in repo_digests:
        other = parse_image(entry)
        if (other.registry or "docker.io", other.repository) == wanted:
            return True
    return False


def _ensure_networks(engine: SwarmEngine, document: dict[str, Any]) -> None:
    """External networks must exist as overlay networks; create missing ones (attachable) like `up` does."""
    for key, network in (document.get("networks") or {}).items():
        if not isinstance(network, dict) or not network.get("external"):
            continue
        name = network.get("name") or key
        scope = engine.network_scope(name)
        if scope is None:
            engine.create_overlay_network(name)
        elif scope != "swarm":
            raise DarseError(
                f"network {name} exists with scope {scope}; Swarm services need an overlay network",
                f"recreate it: docker network rm {name} && docker network create -d overlay --attachable {name}",
            )


def _keep_failures(first: Convergence, after_rollback: Convergence) -> None:
    """A paused update that darse rolled back is still a failure; note the state it ended in."""
    by_name = {o.name: o for o in after_rollback.services}
    for outcome in first.services:
        if outcome.state == "paused":
            later = by_name.get(outcome.name)
            outcome.state = "rolled back" if later is not None and later.ok else "paused"
            if later is not None and not later.ok:
                outcome.errors = later.errors or outcome.errors


def _remove_unused_secrets(engine: SwarmEngine, stack: str, current: set[str]) -> int:
    in_use = engine.secrets_in_use()
    removed = 0
    for secret_id, name in engine.secrets(stack):
        if name not in current and secret_id not in in_use and engine.remove_secret(secret_id):
            removed += 1
    return removed


def _outcome_dict(outcome: ServiceOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "ok": outcome.ok,
        "state": outcome.state,
        "detail": outcome.detail,
        "errors": outcome.errors,
    }


@dataclass
class StackStatus:
    """`darse stack status`: one row per Swarm service of the folders asked about (or per folder not deployed),
    and the nodes of each Swarm asked."""

    rows: list[dict[str, Any]]
    nodes: dict[str, list[NodeState]] = field(default_factory=dict)  # target -> its Swarm's nodes

    @property
    def down(self) -> list[tuple[str, NodeState]]:
        """(target, node) of every node a Swarm sees down."""
        return [(target, n) for target, nodes in self.nodes.items() for n in nodes if n.state == "down"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "services": self.rows,
            "nodes": [
                {
                    "target": target,
                    "hostname": n.hostname,
                    "role": n.role,
                    "availability": n.availability,
                    "state": n.state,
                }
                for target, nodes in self.nodes.items()
                for n in nodes
            ],
        }


def stack_status(repository: Repository, services: list[Service]) -> StackStatus:
    """Every Swarm service of the given folders, with its replicas, image, update state and failing tasks,
    and each task with its node (placement.py); the nodes of each Swarm, read once."""
    rows: list[dict[str, Any]] = []
    engines: dict[str, SwarmEngine] = {}
    nodes: dict[str, list[NodeState]] = {}
    targets = {service.name: swarm_target(repository, service) for service in services}
    folders_per_target = Counter(target.name for target in targets.values())
    whole: dict[str, dict[str, list[ServiceState]]] = {}  # several folders on one Swarm: read it all at once
    for service in services:
        target = targets[service.name]
        engine = engines.setdefault(target.name, SwarmEngine(target))
        if target.name not in nodes:
            nodes[target.name] = engine.nodes()
        stack = stack_name(service)
        if folders_per_target[target.name] > 1:
            if target.name not in whole:
                whole[target.name] = engine.all_stacks()
            states = sorted(whole[target.name].get(stack, []), key=lambda s: s.name)
        else:
            states = engine.services(stack)
        if not states:
            rows.append({"service": service.name, "stack": stack, "target": target.name, "deployed": False})
        for state in states:
            where = placement(state)
            rows.append(
                {
                    "service": service.name,
                    "stack": stack,
                    "target": target.name,
                    "deployed": True,
                    "name": state.short,
                    "image": state.image,
                    "running": state.running,
                    "desired": state.desired,
                    "update": state.update_state or "",
                    "update_message": state.update_message,
                    "commit": state.labels.get(LABEL_PREFIX + "commit", ""),
                    "failing": [t.error or t.state for t in state.failing_tasks][-3:],
                    **where.to_dict(),
                    "problems": where.lines(state.short),
                }
            )
    for engine in engines.values():
        engine.close()
    return StackStatus(rows, nodes)


def rollback_stack(
    repository: Repository, service: Service, member: str | None, timeout: float, on_progress=None
) -> Convergence:
    """The Swarm's own rollback (previous spec) of one or every service of a folder's stack, waited for."""
    engine = SwarmEngine(swarm_target(repository, service))
    stack = stack_name(service)
    states = engine.services(stack)
    chosen = [stack_member(service, states, member)] if member else states
    if not chosen:
        raise DarseError(f"{service.name} is not deployed as a stack", f"deploy it: darse stack deploy {service.name}")
    before = snapshot(states)
    for state in chosen:
        engine.rollback(state.name)
    return wait_for_convergence(engine, stack, before, timeout, on_progress)


def stack_services(repository: Repository, service: Service) -> list[ServiceState]:
    """The Swarm services of the folder's stack now (none: not deployed); reads only."""
    engine = SwarmEngine(swarm_target(repository, service))
    try:
        return engine.services(stack_name(service))
    finally:
        engine.close()


def not_deployed(service: Service) -> DarseError:
    return DarseError(
        f"nothing to bring down: {service.name} is not deployed as a stack",
        f"`darse stack status {service.name}` shows what runs",
    )


def remove_stack(repository: Repository, service: Service) -> str:
    """`docker stack rm`; named volumes are kept (the Swarm never removes them with a stack)."""
    engine = SwarmEngine(swarm_target(repository, service))
    stack = stack_name(service)
    try:
        if not engine.services(stack):
            raise not_deployed(service)
        engine.remove(stack)
    finally:
        engine.close()
    return stack


def stack_member(service: Service, states: list[ServiceState], member: str | None) -> ServiceState:
    """The service of a folder's stack that `member` names (its Compose name or full name), or the only one."""
    if not states:
        raise DarseError(f"{service.name} is not deployed as a stack", f"deploy it: darse stack deploy {service.name}")
    if member is None:
        if len(states) == 1:
            return states[0]
        names = ", ".join(s.short for s in states)
        raise DarseError(
            f"the stack of {service.name} has several services ({names})", f"name one: {service.name}/NAME"
        )
    for state in states:
        if member in (state.short, state.name):
            return state
    names = ", ".join(s.short for s in states)
    raise DarseError(f"no service {member!r} in the stack of {service.name}", f"services: {names}")
