"""Where a Swarm service's replicas run, read from the manager's tasks (no engine needed)."""

from __future__ import annotations

from darse.deploy.swarm.placement import placement
from darse.engine.swarm import ServiceState, TaskState


def _task(slot: int, node: str, state: str = "running", desired: str = "running", **kw) -> TaskState:
    return TaskState(slot, state, desired, kw.get("error", ""), "img", f"2026-01-01T00:00:0{slot}Z", f"id-{node}",
                     node, kw.get("node_state", "ready"))  # fmt: skip


def _service(tasks: list[TaskState], desired: int, running: int) -> ServiceState:
    return ServiceState("s_web", "web", "img", desired, running, "", "", "", 1, {}, tuple(tasks))


def test_replicas_on_their_nodes() -> None:
    where = placement(_service([_task(1, "vm"), _task(2, "worker-01"), _task(3, "vm")], 3, 3))
    assert where.nodes == ["vm", "worker-01"] and not where.lost and not where.unplaced
    assert [t["node"] for t in where.to_dict()["tasks"]] == ["vm", "worker-01", "vm"]
    assert where.lines("web") == []


def test_a_constraint_nobody_meets_is_said_in_the_swarm_words() -> None:
    reason = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    where = placement(_service([_task(1, "", state="pending", error=reason)], 1, 0))
    assert where.unplaced == reason and where.nodes == []
    assert where.lines("web") == [f"web: tasks cannot be placed: {reason}"]


def test_replicas_lost_with_a_node_then_rescheduled() -> None:
    down = {"node_state": "down"}
    lost = [_task(1, "worker-01", **down), _task(2, "worker-01", desired="shutdown", **down)]
    before = placement(_service([*lost, _task(3, "vm")], 3, 1))
    assert before.lost == {"worker-01": 2} and not before.rescheduled and before.nodes == ["vm"]
    assert before.lines("web") == ["node worker-01 is down: 2 replica(s) of web lost there, not running elsewhere yet"]
    after = placement(_service([*lost, _task(3, "vm"), _task(1, "worker-02"), _task(2, "vm")], 3, 3))
    assert after.rescheduled and after.nodes == ["vm", "worker-02"]
    assert after.lines("web") == ["node worker-01 is down: 2 replica(s) of web lost there, rescheduled on other nodes"]
    assert after.to_dict()["lost"] == [{"node": "worker-01", "replicas": 2}]
