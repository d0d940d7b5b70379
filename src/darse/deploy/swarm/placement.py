"""Where a Swarm service's replicas run across the nodes, and why some do not.

A manager knows every task of every node: this reads them (as `docker service ps` would, but for a
whole stack at once) into what an admin asks when a cluster misbehaves: which node runs each replica,
which replicas were lost with a node that went down (and whether the Swarm has put them elsewhere yet),
and why tasks wait without a node, in the Swarm's own words ("no suitable node (scheduling constraints
not satisfied on 3 nodes)"), rather than a bare "0/1 running" that looks like a slow start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from darse.engine.swarm import ServiceState, TaskState

CURRENT_DESIRED = {"running", "ready"}  # what the Swarm wants of a task it keeps


@dataclass(frozen=True)
class Placement:
    """One service's tasks across the nodes."""

    tasks: list[TaskState]  # current tasks, then those lost with a node that is down
    nodes: list[str]  # hostnames of the nodes running a replica now
    unplaced: str  # the Swarm's reason current tasks wait without running ("" when none do)
    lost: dict[str, int]  # a node that is down -> replicas last seen running there
    rescheduled: bool  # the lost replicas run elsewhere again (as many running as desired)

    def lines(self, member: str) -> list[str]:
        """Plain sentences for the human views (`darse stack status`, `darse status` warnings)."""
        lines = []
        for node, count in self.lost.items():
            where = "rescheduled on other nodes" if self.rescheduled else "not running elsewhere yet"
            lines.append(f"node {node} is down: {count} replica(s) of {member} lost there, {where}")
        if self.unplaced:
            lines.append(f"{member}: tasks cannot be placed: {self.unplaced}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": [task_dict(t) for t in self.tasks],
            "nodes": self.nodes,
            "unplaced": self.unplaced or None,
            "lost": [{"node": node, "replicas": count} for node, count in self.lost.items()],
        }


def placement(state: ServiceState) -> Placement:
    """The placement of one service, from the tasks the manager reported with their nodes."""
    current = [t for t in state.tasks if t.desired in CURRENT_DESIRED and not t.lost]
    lost_tasks = [t for t in state.tasks if t.lost]
    lost: dict[str, int] = {}
    for task in lost_tasks:
        name = task.node_name or task.node
        lost[name] = lost.get(name, 0) + 1
    running = [t for t in current if t.state == "running"]
    waiting = [t for t in reversed(current) if t.state != "running" and t.error]  # newest first
    return Placement(
        tasks=sorted(current, key=lambda t: (t.slot or 0, t.created)) + lost_tasks,
        nodes=sorted({t.node_name or t.node for t in running}),
        unplaced=waiting[0].error if waiting else "",
        lost=lost,
        rescheduled=state.desired is not None and state.running >= state.desired,
    )


def task_dict(task: TaskState) -> dict[str, Any]:
    """A task as the `--json` outputs show it (docs/swarm.md)."""
    return {
        "slot": task.slot,
        "node": task.node_name or None,
        "node_state": task.node_state or None,
        "state": task.state,
        "desired": task.desired,
        "error": task.error or None,
    }
