"""Placement checked against the nodes before a stack deploy (no engine: nodes made here; the real
multi-node Swarm refuses such stacks in tests/integration): each check's true positive and near miss."""

from __future__ import annotations

import pytest

from darse.deploy.swarm.placement_check import Constraint, placement_problems, refuse_unplaceable
from darse.engine.swarm import NodeState
from darse.errors import DarseError


def node(name: str, role: str = "worker", *, labels: dict | None = None, address: str = "10.77.0.2", **kw) -> NodeState:
    return NodeState(
        f"id-{name}", name, role, kw.get("availability", "active"), kw.get("state", "ready"),
        "leader" if role == "manager" else "", "20.10", address, "linux", "x86_64", labels or {}, {},
    )  # fmt: skip


NODES = [
    node("manager-01", "manager", labels={"zone": "West"}, address="10.77.0.1"),
    node("worker-01", labels={"zone": "west", "disk": "ssd"}, address="10.77.0.2"),
    node("worker-02", labels={"zone": "east"}, address="10.77.0.3"),
]


def stack(deploy: dict | None = None, volumes: list | None = None, declared: dict | None = None) -> dict:
    service: dict = {"image": "registry.example.org/app:1.0"}
    if deploy is not None:
        service["deploy"] = deploy
    if volumes is not None:
        service["volumes"] = volumes
    return {"services": {"app": service}, "volumes": declared or {}}


def constraints(*texts: str) -> dict:
    return {"placement": {"constraints": list(texts)}}


def test_a_constraint_no_node_satisfies_is_refused_with_each_nodes_value() -> None:
    problems = placement_problems(stack(constraints("node.labels.zone==north")), NODES)
    assert problems == [
        "app: no node satisfies node.labels.zone==north "
        "(manager-01: zone=West; worker-01: zone=west; worker-02: zone=east)"
    ]


@pytest.mark.parametrize(
    "texts",
    [
        ("node.labels.zone==east",),
        ("node.labels.zone==WEST", "node.role==worker"),  # values compared without regard to case
        ("node.labels.disk!=ssd", "node.role!=manager"),  # a missing label is the empty value
        ("node.hostname==worker-02",),
        ("node.ip==10.77.0.0/24",),
        ("node.platform.os==linux",),
        ("node.labels.zone=~east",),  # not swarmkit's syntax: left to the Swarm
        ("node.unknown==x",),  # a key darse cannot read: left to the Swarm
    ],
)
def test_constraints_some_node_satisfies_pass(texts: tuple[str, ...]) -> None:
    assert placement_problems(stack(constraints(*texts)), NODES) == []


def test_constraints_all_hold_at_once() -> None:
    [problem] = placement_problems(stack(constraints("node.labels.zone==east", "node.labels.disk==ssd")), NODES)
    assert problem.startswith("app: no node satisfies node.labels.zone==east and node.labels.disk==ssd")


def test_an_ip_constraint_outside_every_node_is_refused() -> None:
    assert Constraint.parse("node.ip==10.78.0.0/16").matches(NODES[0]) is False
    assert placement_problems(stack(constraints("node.ip==10.78.0.0/16")), NODES)


def test_more_replicas_than_max_per_node_allows_is_refused() -> None:
    deploy = {"replicas": 4, "placement": {"max_replicas_per_node": 1, "constraints": ["node.role==worker"]}}
    [problem] = placement_problems(stack(deploy), NODES)
    assert problem == (
        "app: 4 replicas, at most 1 per node on the 2 node(s) that can run it (worker-01, worker-02): "
        "2 would never be placed"
    )
    deploy["replicas"] = 2  # the near miss: exactly room for them
    assert placement_problems(stack(deploy), NODES) == []


def test_a_drained_or_down_node_is_no_room_for_replicas() -> None:
    nodes = [node("a"), node("b", availability="drain"), node("c", state="down")]
    deploy = {"replicas": 2, "placement": {"max_replicas_per_node": 1}}
    assert "1 would never be placed" in placement_problems(stack(deploy), nodes)[0]


def test_replicas_sharing_a_local_volume_across_nodes_are_refused() -> None:
    mount = [{"type": "volume", "source": "data", "target": "/var/lib/app"}]
    [problem] = placement_problems(stack({"replicas": 2}, mount, {"data": {"name": "app_data"}}), NODES)
    assert problem.startswith("app: 2 replicas with the local volume(s) data on 3 nodes")
    global_mode = placement_problems(stack({"mode": "global"}, mount, {"data": {}}), NODES)
    assert global_mode and "global with the local volume(s) data" in global_mode[0]


@pytest.mark.parametrize(
    ("deploy", "declared"),
    [
        ({"replicas": 1}, {"data": {}}),  # one replica: one copy of the data
        ({"replicas": 2, "placement": {"constraints": ["node.hostname==worker-01"]}}, {"data": {}}),  # one node
        ({"replicas": 2}, {"data": {"driver": "nfs-driver"}}),  # shared by the nodes
        ({"replicas": 2}, {"data": {"external": True}}),  # the admin's own volume
    ],
)
def test_a_local_volume_that_cannot_split_passes(deploy: dict, declared: dict) -> None:
    mount = [{"type": "volume", "source": "data", "target": "/var/lib/app"}]
    assert placement_problems(stack(deploy, mount, declared), NODES) == []


def test_a_bind_mount_is_not_a_volume_to_split() -> None:
    mount = [{"type": "bind", "source": "/srv/app", "target": "/app"}]
    assert placement_problems(stack({"replicas": 3}, mount), NODES) == []


def test_the_refusal_is_one_line_with_a_hint() -> None:
    with pytest.raises(DarseError) as caught:
        refuse_unplaceable(stack(constraints("node.labels.zone==north")), NODES)
    assert "\n" not in caught.value.one_line() and "docker node update --label-add" in caught.value.hint
    refuse_unplaceable(stack(constraints("node.labels.zone==east")), NODES)  # nothing raised
