"""`darse node`: the nodes of a Swarm target, and their maintenance (drain, activate, promote, demote).

The documents' rules, kept by darse instead of remembered by the admin: never drain the last node that
could run tasks, never demote the last manager, and know the quorum: a Swarm's managers keep working
while a majority of them is reachable (3 managers survive the loss of 1, 5 of 2; 4 no better than 3),
so darse warns when an action would leave the reachable managers short of a majority, and advises an
odd number of managers. `drain` waits until the node's tasks run elsewhere and says what moved and what
the Swarm could not place (with its reason), as `docker node update --availability drain` does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from darse.config import Target
from darse.engine.swarm import NodeState, PlacedTask, SwarmEngine
from darse.errors import DarseError, did_you_mean
from darse.model.repository import Repository
from darse.progress import Event, Listener, ignore

DRAIN_TIMEOUT = 300.0  # s `drain` waits for the node's tasks to run elsewhere
POLL = 0.5  # s between two looks at the tasks while waiting
REACHABLE = ("leader", "reachable")


@dataclass(frozen=True)
class Move:
    """A task that ran on the drained node: where its replacement runs now ("" when it could not be placed)."""

    service: str
    slot: int | None
    to: str  # the hostname of the node that runs it now
    reason: str = ""  # why the Swarm could not place it

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "slot": self.slot, "to": self.to or None, "reason": self.reason or None}


@dataclass
class NodeAction:
    """What a maintenance command did to a node, and what the admin should know after it."""

    action: str  # drain, activate, promote, demote
    node: str  # hostname
    changed: bool  # False when the node already was so
    moved: list[Move] = field(default_factory=list)  # drain: the tasks and where they run now
    waiting: list[str] = field(default_factory=list)  # drain: tasks still on the node when the wait ended
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.waiting and all(m.to for m in self.moved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "node": self.node,
            "changed": self.changed,
            "ok": self.ok,
            "moved": [m.to_dict() for m in self.moved],
            "still_on_node": self.waiting,
            "warnings": self.warnings,
        }


@dataclass
class NodeList:
    """`darse node ls`: every node with its tasks, and the managers' quorum."""

    target: str
    nodes: list[NodeState]
    tasks: dict[str, int]  # node ID → tasks running there
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "nodes": [
                {
                    "id": n.id,
                    "hostname": n.hostname,
                    "role": n.role,
                    "availability": n.availability,
                    "state": n.state,
                    "manager_status": n.manager_status or None,
                    "address": n.address,
                    "engine": n.engine_version,
                    "tasks": self.tasks.get(n.id, 0),
                }
                for n in self.nodes
            ],
            "managers": quorum(self.nodes).to_dict(),
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Quorum:
    """The managers of a Swarm: how many, how many reachable, how many are needed to keep working."""

    managers: int
    reachable: int

    @property
    def needed(self) -> int:
        return self.managers // 2 + 1

    @property
    def kept(self) -> bool:
        return self.managers == 0 or self.reachable >= self.needed

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.managers, "reachable": self.reachable, "majority": self.needed, "kept": self.kept}


def quorum(nodes: list[NodeState], *, without: str = "", adding: NodeState | None = None) -> Quorum:
    """The managers' quorum now, or after `without` (a node ID) is demoted or `adding` promoted."""
    managers = [n for n in nodes if n.role == "manager" and n.id != without]
    reachable = sum(1 for n in managers if n.manager_status in REACHABLE)
    if adding is not None and adding.role != "manager":
        managers.append(adding)
        reachable += adding.state == "ready"
    return Quorum(len(managers), reachable)


def quorum_warnings(after: Quorum) -> list[str]:
    """What to tell about the managers an action leaves: a lost majority, an even number."""
    warnings = []
    if not after.kept:
        warnings.append(
            f"only {after.reachable} of {after.managers} managers would be reachable: a Swarm needs a majority "
            f"({after.needed}) to keep managing services; bring the unreachable managers back first"
        )
    if after.managers and after.managers % 2 == 0:
        tolerated = (after.managers - 1) // 2
        warnings.append(
            f"{after.managers} managers tolerate the loss of {tolerated}, as {after.managers - 1} would: "
            "an odd number of managers is advised (3 or 5)"
        )
    return warnings


def swarm_target_named(repository: Repository, name: str | None) -> Target:
    """The Swarm target `name`, else the repository's only Swarm target."""
    targets = repository.config.targets
    swarms = [t for t in targets.values() if t.is_swarm]
    if name:
        target = targets.get(name)
        if target is None:
            hint = did_you_mean(name, list(targets)) or f"targets: {', '.join(targets) or 'none'}"
            raise DarseError(f"no target named {name!r} in darse.toml", hint)
        if not target.is_swarm:
            raise DarseError(f"target {name} is not a Swarm", 'a Swarm target has kind = "swarm" in darse.toml')
        return target
    if len(swarms) == 1:
        return swarms[0]
    if not swarms:
        raise DarseError("darse.toml names no Swarm target", 'add [targets.NAME] with kind = "swarm"')
    raise DarseError(
        f"darse.toml names several Swarm targets ({', '.join(t.name for t in swarms)})",
        f"choose one: --target {swarms[0].name}",
    )


def list_nodes(repository: Repository, target_name: str | None = None) -> NodeList:
    """`darse node ls`."""
    target = swarm_target_named(repository, target_name)
    swarm = _manager(target)
    try:
        nodes = swarm.nodes()
        tasks: dict[str, int] = {}
        for task in swarm.placed_tasks():
            if task.state == "running":
                tasks[task.node] = tasks.get(task.node, 0) + 1
    finally:
        swarm.close()
    now = quorum(nodes)
    warnings = quorum_warnings(now)
    down = [n.hostname for n in nodes if n.state != "ready"]
    if down:
        warnings.insert(0, f"not ready: {', '.join(down)}")
    return NodeList(target.name, nodes, tasks, warnings)


def drain(
    repository: Repository,
    node_ref: str,
    *,
    target_name: str | None = None,
    wait: bool = True,
    timeout: float = DRAIN_TIMEOUT,
    listener: Listener = ignore,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> NodeAction:
    """`darse node drain NODE`: no new task goes there and its tasks move to other nodes; waits for
    them (unless `wait` is False) and reports where each one runs now, or why it could not be placed."""
    swarm = _manager(swarm_target_named(repository, target_name))
    try:
        nodes = swarm.nodes()
        node = find_node(nodes, node_ref)
        if node.availability == "drain":
            return NodeAction("drain", node.hostname, changed=False)
        others = [n for n in nodes if n.id != node.id and n.availability == "active" and n.state == "ready"]
        if not others:
            raise DarseError(
                f"{node.hostname} is the last active node: its tasks would have nowhere to run",
                "add a node (`docker swarm join`) or `darse node activate` another one first",
            )
        before = [t for t in swarm.placed_tasks() if t.node == node.id]
        swarm.update_node(node.id, availability="drain")
        action = NodeAction("drain", node.hostname, changed=True)
        if wait:
            _wait_moved(swarm, nodes, node, before, action, timeout, listener, clock, sleep)
        return action
    finally:
        swarm.close()


def _wait_moved(
    swarm: SwarmEngine,
    nodes: list[NodeState],
    node: NodeState,
    before: list[PlacedTask],
    action: NodeAction,
    timeout: float,
    listener: Listener,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Until no task is left on `node` and every moved replica runs or the Swarm says why it cannot."""
    hostnames = {n.id: n.hostname for n in nodes}
    task = f"draining {node.hostname}"
    deadline = clock() + timeout
    while True:
        tasks = swarm.placed_tasks()
        left = [t for t in tasks if t.node == node.id]
        moves = [_move(old, tasks, node.id, hostnames) for old in before if old.slot is not None]
        settled = not left and all(m.to or m.reason for m in moves)
        placed = sum(1 for m in moves if m.to)
        listener(Event(task, f"{placed} of {len(moves)} tasks run elsewhere, {len(left)} left on the node"))
        if settled or clock() >= deadline:
            break
        sleep(POLL)
    listener(Event(task, done=True))
    action.moved = moves
    action.waiting = sorted(f"{t.service}.{t.slot}" if t.slot is not None else t.service for t in left)


def _move(old: PlacedTask, tasks: list[PlacedTask], drained: str, hostnames: dict[str, str]) -> Move:
    """Where the replica `old` ran from runs now (same service and slot), or why it is not placed."""
    same = [t for t in tasks if t.service == old.service and t.slot == old.slot and t.node != drained]
    running = [t for t in same if t.state == "running"]
    if running:
        return Move(old.service, old.slot, hostnames.get(running[0].node, running[0].node))
    reason = next((t.error for t in same if t.error), "")
    return Move(old.service, old.slot, "", reason)


def activate(repository: Repository, node_ref: str, *, target_name: str | None = None) -> NodeAction:
    """`darse node activate NODE`: tasks may go there again (the Swarm does not move running ones back)."""
    return _set(repository, node_ref, target_name, "activate", availability="active")


def promote(repository: Repository, node_ref: str, *, target_name: str | None = None) -> NodeAction:
    """`darse node promote NODE`: a worker becomes a manager (before taking another manager down)."""
    return _set(repository, node_ref, target_name, "promote", role="manager")


def demote(repository: Repository, node_ref: str, *, target_name: str | None = None) -> NodeAction:
    """`darse node demote NODE`: a manager becomes a worker; never the last manager."""
    return _set(repository, node_ref, target_name, "demote", role="worker")


def _set(repository: Repository, node_ref: str, target_name: str | None, action: str, **change: str) -> NodeAction:
    swarm = _manager(swarm_target_named(repository, target_name))
    try:
        nodes = swarm.nodes()
        node = find_node(nodes, node_ref)
        current = node.availability if "availability" in change else node.role
        if current == next(iter(change.values())):
            return NodeAction(action, node.hostname, changed=False)
        warnings: list[str] = []
        if action == "demote":
            if sum(1 for n in nodes if n.role == "manager") <= 1:
                raise DarseError(
                    f"{node.hostname} is the last manager: without one the Swarm cannot be managed",
                    f"promote another node first: darse node promote NODE, then demote {node.hostname}",
                )
            warnings = quorum_warnings(quorum(nodes, without=node.id))
        elif action == "promote":
            warnings = quorum_warnings(quorum(nodes, adding=node))
            if node.state != "ready":
                warnings.insert(0, f"{node.hostname} is {node.state}: as a manager it counts against the quorum")
        swarm.update_node(node.id, **change)
        return NodeAction(action, node.hostname, changed=True, warnings=warnings)
    finally:
        swarm.close()


def find_node(nodes: list[NodeState], ref: str) -> NodeState:
    """The node whose hostname is `ref`, else whose ID is or starts with it (as the docker CLI takes them)."""
    by_name = [n for n in nodes if n.hostname == ref]
    if len(by_name) == 1:
        return by_name[0]
    by_id = [n for n in nodes if n.id == ref or (len(ref) >= 4 and n.id.startswith(ref))]
    if len(by_id) == 1:
        return by_id[0]
    names = [n.hostname for n in nodes]
    if len(by_name) > 1 or len(by_id) > 1:
        raise DarseError(f"several nodes match {ref!r}", "give the node's full ID (see `darse node ls`)")
    hint = did_you_mean(ref, names) or f"nodes: {', '.join(names) or 'none'}"
    raise DarseError(f"no node named {ref!r} in the Swarm", hint)


def _manager(target: Target) -> SwarmEngine:
    swarm = SwarmEngine(target)
    try:
        swarm.ensure_manager()
    except BaseException:
        swarm.close()
        raise
    return swarm
