"""`darse node`'s rules without an engine (the real multi-node Swarm tests are in tests/integration):
the quorum arithmetic, finding a node, the refusals (last active node, last manager), the warnings, and
what `drain` reports while a fake Swarm moves tasks step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.deploy.swarm import nodes
from darse.deploy.swarm.nodes import Quorum, drain, find_node, quorum, quorum_warnings
from darse.engine.swarm import NodeState, PlacedTask
from darse.errors import DarseError
from darse.model.repository import open_repository

from helpers.repo import write_tree


def node(name: str, role: str = "worker", *, state: str = "ready", availability: str = "active", status: str = ""):
    manager_status = status or ("reachable" if role == "manager" else "")
    return NodeState(f"id-{name}-0123456789", name, role, availability, state, manager_status, "20.10", "10.77.0.1")


class FakeSwarm:
    """The calls of `darse.engine.swarm.SwarmEngine` that node maintenance makes; tasks change per look."""

    def __init__(self, nodes_: list[NodeState], looks: list[list[PlacedTask]]) -> None:
        self._nodes = nodes_
        self.looks = looks
        self.updates: list[tuple[str, dict]] = []
        self.closed = False

    def nodes(self) -> list[NodeState]:
        return self._nodes

    def placed_tasks(self) -> list[PlacedTask]:
        return self.looks.pop(0) if len(self.looks) > 1 else self.looks[0]

    def update_node(self, node_id: str, **change: str) -> None:
        self.updates.append((node_id, change))

    def close(self) -> None:
        self.closed = True


def task(service: str, slot: int | None, on: NodeState | None, state: str = "running", error: str = "") -> PlacedTask:
    return PlacedTask(
        f"t-{service}-{slot}-{on.hostname if on else 'none'}", service, slot, on.id if on else "", state, error
    )


@pytest.fixture
def repository(tmp_path: Path):
    root = write_tree(tmp_path / "fleet", {"darse.toml": '[targets.cluster]\nkind = "swarm"\n'})
    return open_repository(root)


def use(monkeypatch: pytest.MonkeyPatch, swarm: FakeSwarm) -> FakeSwarm:
    monkeypatch.setattr(nodes, "_manager", lambda _target: swarm)
    return swarm


MANAGER, W1, W2 = node("manager-01", "manager", status="leader"), node("worker-01"), node("worker-02")


def test_the_quorum_is_a_majority_of_the_managers() -> None:
    three = [MANAGER, node("m2", "manager"), node("m3", "manager", status="unreachable", state="down"), W1]
    assert quorum(three) == Quorum(3, 2)
    assert quorum(three).kept and quorum(three).needed == 2
    after = quorum(three, without="id-m2-0123456789")  # demoting a reachable one leaves 1 of 2
    assert after == Quorum(2, 1) and not after.kept
    warnings = quorum_warnings(after)
    assert "only 1 of 2 managers would be reachable" in warnings[0]
    assert "an odd number of managers is advised" in warnings[1]
    assert quorum([MANAGER, W1], adding=W1) == Quorum(2, 2)
    assert quorum_warnings(Quorum(3, 3)) == []
    assert quorum([MANAGER], adding=node("w", state="down")) == Quorum(2, 1)


def test_a_node_is_found_by_hostname_or_id_prefix() -> None:
    found = [MANAGER, W1, W2]
    assert find_node(found, "worker-01") is W1
    assert find_node(found, "id-worker-02") is W2
    with pytest.raises(DarseError) as caught:
        find_node(found, "worker-03")
    assert "no node named 'worker-03'" in caught.value.message
    with pytest.raises(DarseError) as caught:
        find_node(found, "id-worker")  # both workers' IDs start so
    assert "several nodes match" in caught.value.message


def test_the_last_active_node_is_never_drained(monkeypatch, repository) -> None:
    swarm = use(monkeypatch, FakeSwarm([MANAGER, node("worker-01", availability="drain")], [[]]))
    with pytest.raises(DarseError) as caught:
        drain(repository, "manager-01")
    assert "manager-01 is the last active node" in caught.value.message
    assert swarm.updates == [] and swarm.closed


def test_a_down_node_does_not_count_as_somewhere_to_go(monkeypatch, repository) -> None:
    use(monkeypatch, FakeSwarm([MANAGER, node("worker-01", state="down")], [[]]))
    with pytest.raises(DarseError, match="last active node"):
        drain(repository, "manager-01")


def test_drain_waits_and_says_where_each_task_went_and_what_could_not_be_placed(monkeypatch, repository) -> None:
    looks = [
        [task("app_web", 1, W1), task("app_web", 2, W2), task("app_db", 1, W1), task("app_agent", None, W1)],
        [task("app_web", 1, W1, "shutdown"), task("app_web", 2, W2), task("app_db", 1, None, "pending")],
        [
            task("app_web", 1, MANAGER),
            task("app_web", 2, W2),
            task("app_db", 1, None, "pending", "no suitable node (scheduling constraints not satisfied on 3 nodes)"),
        ],
    ]
    swarm = use(monkeypatch, FakeSwarm([MANAGER, W1, W2], looks))
    events = []
    action = drain(repository, "worker-01", listener=events.append, sleep=lambda _s: None)
    assert swarm.updates == [(W1.id, {"availability": "drain"})]
    assert [(m.service, m.slot, m.to, m.reason) for m in action.moved] == [
        ("app_web", 1, "manager-01", ""),
        ("app_db", 1, "", "no suitable node (scheduling constraints not satisfied on 3 nodes)"),
    ]  # the global service's task is not moved: one per node
    assert action.waiting == [] and not action.ok
    assert events[-1].done and "1 of 2 tasks run elsewhere" in events[-2].detail


def test_drain_reports_what_is_still_on_the_node_when_the_wait_ends(monkeypatch, repository) -> None:
    use(monkeypatch, FakeSwarm([MANAGER, W1], [[task("app_web", 1, W1)]]))
    now = iter(range(1000))
    action = drain(repository, "worker-01", timeout=3, clock=lambda: float(next(now)), sleep=lambda _s: None)
    assert action.waiting == ["app_web.1"] and not action.ok
    assert action.to_dict()["still_on_node"] == ["app_web.1"]


def test_a_node_already_drained_is_left_as_it_is(monkeypatch, repository) -> None:
    swarm = use(monkeypatch, FakeSwarm([MANAGER, node("worker-01", availability="drain")], [[]]))
    action = drain(repository, "worker-01")
    assert (action.changed, swarm.updates) == (False, [])


def test_the_last_manager_is_never_demoted(monkeypatch, repository) -> None:
    swarm = use(monkeypatch, FakeSwarm([MANAGER, W1], [[]]))
    with pytest.raises(DarseError) as caught:
        nodes.demote(repository, "manager-01")
    assert "manager-01 is the last manager" in caught.value.message
    assert swarm.updates == []


def test_promoting_to_an_even_number_of_managers_is_done_with_advice(monkeypatch, repository) -> None:
    swarm = use(monkeypatch, FakeSwarm([MANAGER, W1, W2], [[]]))
    action = nodes.promote(repository, "worker-01")
    assert swarm.updates == [(W1.id, {"role": "manager"})]
    assert action.changed and any("odd number" in w for w in action.warnings)


def test_demoting_that_loses_the_majority_warns(monkeypatch, repository) -> None:
    m2, m3 = node("m2", "manager"), node("m3", "manager", state="down", status="unreachable")
    use(monkeypatch, FakeSwarm([MANAGER, m2, m3], [[]]))
    action = nodes.demote(repository, "m2")
    assert any("only 1 of 2 managers would be reachable" in w for w in action.warnings)


def test_the_target_must_be_a_swarm_and_is_chosen_when_there_is_one(tmp_path: Path) -> None:
    two = open_repository(
        write_tree(tmp_path / "two", {"darse.toml": '[targets.a]\nkind = "swarm"\n[targets.b]\nkind = "swarm"\n'})
    )
    with pytest.raises(DarseError, match="several Swarm targets"):
        nodes.swarm_target_named(two, None)
    assert nodes.swarm_target_named(two, "b").name == "b"
    with pytest.raises(DarseError, match="is not a Swarm"):
        nodes.swarm_target_named(two, "local")
    none = open_repository(write_tree(tmp_path / "none", {"darse.toml": ""}))
    with pytest.raises(DarseError, match="no Swarm target"):
        nodes.swarm_target_named(none, None)
