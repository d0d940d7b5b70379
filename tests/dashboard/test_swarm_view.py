"""The Swarm page's view model from Engine API answers (JSON as a 20.10 manager gives it, trimmed), through
the engine layer's own parsers and a stand-in engine: nodes, replicas, rolling updates, tasks per node,
and what the page says when a target is not a manager or cannot be reached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from darse.config import Target
from darse.dashboard.swarm import swarm_view, target_view
from darse.deploy.context import DeployContext
from darse.deploy.swarm.scale import MAX_REPLICAS, check_replicas
from darse.engine.swarm import STACK_LABEL, _change, _node_state, _service_state
from darse.errors import DarseError
from darse.model.repository import open_repository

from helpers.repo import write_tree

MANAGER = {
    "ID": "wz3ljrwwi3b2s0f8pd655p9xl",
    "Spec": {"Labels": {}, "Role": "manager", "Availability": "active"},
    "Description": {"Hostname": "vm", "Engine": {"EngineVersion": "20.10.24+dfsg1"}},
    "Status": {"State": "ready", "Addr": "127.0.0.1"},
    "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:2377"},
}
WORKER = {
    "ID": "k0p2worker0000000000000000",
    "Spec": {"Labels": {}, "Role": "worker", "Availability": "drain"},
    "Description": {"Hostname": "node-2", "Engine": {"EngineVersion": "20.10.24+dfsg1"}},
    "Status": {"State": "down", "Addr": "10.77.0.2"},
}


def service(name: str, stack: str, replicas: int | None, update: dict[str, str] | None = None) -> dict[str, Any]:
    mode = {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}}
    raw: dict[str, Any] = {
        "ID": "id-" + name,
        "Version": {"Index": 42},
        "Spec": {
            "Name": name,
            "Labels": {STACK_LABEL: stack, "org.darse.commit": "0123456789abcdef0123"},
            "TaskTemplate": {"ContainerSpec": {"Image": "registry.example.org/wiki:2.5@sha256:" + "a" * 64}},
            "Mode": mode,
        },
    }
    if update:
        raw["UpdateStatus"] = update
    return raw


def task(service_id: str, slot: int, node: str, state: str, desired: str = "running", err: str = "") -> dict:
    status: dict[str, Any] = {"State": state}
    if err:
        status["Err"] = err
    return {
        "ServiceID": service_id,
        "Slot": slot,
        "NodeID": node,
        "Status": status,
        "DesiredState": desired,
        "CreatedAt": f"2026-11-28T10:00:0{slot}Z",
        "Spec": {"ContainerSpec": {"Image": "registry.example.org/wiki:2.5"}},
    }


class FakeSwarm:
    """What `target_view` asks of a SwarmEngine, answered from parsed Engine API JSON."""

    def __init__(self, services: list[dict], tasks: list[dict], manager: bool = True, error: str = "") -> None:
        self.raw_services, self.raw_tasks, self.manager, self.error = services, tasks, manager, error

    def close(self) -> None:
        pass

    def is_manager(self) -> bool:
        if self.error:
            raise DarseError(self.error, "start dockerd")
        return self.manager

    def nodes(self):
        return sorted((_node_state(n) for n in (WORKER, MANAGER)), key=lambda n: (n.role != "manager", n.hostname))

    def all_stacks(self):
        stacks: dict[str, list] = {}
        for raw in self.raw_services:
            stack = raw["Spec"]["Labels"][STACK_LABEL]
            mine = [t for t in self.raw_tasks if t["ServiceID"] == raw["ID"]]
            stacks.setdefault(stack, []).append(_service_state(raw, mine, stack))
        return stacks


def _folders(tmp_path: Path, *names: str):
    files = {f"{name}/compose.yaml": "services:\n  web:\n    image: busybox:1.36\n" for name in names}
    targets = "".join(f'[services."{name}"]\ntarget = "cluster"\n' for name in names)
    write_tree(tmp_path, {"darse.toml": f'[targets.cluster]\nkind = "swarm"\n{targets}', **files})
    return open_repository(tmp_path)


def test_nodes_services_replicas_and_an_update_in_progress(tmp_path: Path) -> None:
    repository = _folders(tmp_path, "wiki", "pad")
    updating = {"State": "updating", "StartedAt": "2026-11-28T10:00:00Z", "Message": "update in progress"}
    engine = FakeSwarm(
        [service("wiki_web", "wiki", 3, updating), service("wiki_agent", "wiki", None)],
        [
            task("id-wiki_web", 1, MANAGER["ID"], "running"),
            task("id-wiki_web", 2, WORKER["ID"], "running"),
            task("id-wiki_web", 3, MANAGER["ID"], "starting"),
            task("id-wiki_web", 3, WORKER["ID"], "failed", desired="shutdown", err="task: non-zero exit (3)"),
            task("id-wiki_agent", 0, MANAGER["ID"], "running"),
        ],
    )
    view = target_view(Target("cluster", "swarm"), repository.services, engine)

    assert view.manager and view.problem == ""
    manager, worker = view.nodes
    assert (manager.hostname, manager.role, manager.availability, manager.state, manager.manager_status) == (
        "vm",
        "manager",
        "active",
        "ready",
        "leader",
    )
    assert (worker.role, worker.availability, worker.state, worker.manager_status) == ("worker", "drain", "down", "")
    assert manager.engine_version == "20.10.24+dfsg1"

    agent, web = view.services  # by full name
    assert (web.folder, web.member, web.mode, web.replicas, web.image) == (
        "wiki",
        "web",
        "replicated",
        "2/3",
        "registry.example.org/wiki:2.5",
    )
    assert web.updating and web.moving and not web.converged and not web.update_failed
    assert (web.update_state, web.update_message) == ("updating", "update in progress")
    assert [(t.slot, t.node, t.state) for t in web.tasks] == [
        (1, "vm", "running"),
        (2, "node-2", "running"),
        (3, "vm", "starting"),
        (3, "node-2", "failed"),
    ]
    assert web.tasks[-1].failed and web.tasks[-1].error == "task: non-zero exit (3)"
    assert web.commit == "0123456789abcdef0123"
    assert (agent.mode, agent.replicas, agent.moving) == ("global", "1/global", False)
    assert view.not_deployed == ["pad"]
    assert view.moving
    document = view.to_dict()
    assert document["services"][1]["update"]["state"] == "updating"
    assert document["nodes"][1]["availability"] == "drain"


def test_a_converged_stack_and_a_failed_update_do_not_keep_the_page_polling(tmp_path: Path) -> None:
    repository = _folders(tmp_path, "wiki")
    rolled_back = {"State": "rollback_completed", "StartedAt": "2026-11-28T10:00:00Z", "Message": "rolled back"}
    engine = FakeSwarm(
        [service("wiki_web", "wiki", 1, rolled_back)], [task("id-wiki_web", 1, MANAGER["ID"], "running")]
    )
    view = target_view(Target("cluster", "swarm"), repository.services, engine)
    (web,) = view.services
    assert web.update_failed and web.converged and not web.moving
    assert not view.moving


def test_an_engine_that_is_not_a_manager_is_said_with_a_hint(tmp_path: Path) -> None:
    repository = _folders(tmp_path, "wiki")
    view = target_view(Target("cluster", "swarm"), repository.services, FakeSwarm([], [], manager=False))
    assert view.problem == "the engine of target cluster is not a Swarm manager"
    assert "docker swarm init" in view.hint
    assert view.nodes == [] and view.services == [] and not view.moving


def test_an_unreachable_engine_is_its_one_line_error(tmp_path: Path) -> None:
    repository = _folders(tmp_path, "wiki")
    engine = FakeSwarm([], [], error="cannot reach the Docker engine at tcp://10.0.0.9:2376 (ConnectionError)")
    view = target_view(Target("cluster", "swarm"), repository.services, engine)
    assert view.problem.startswith("cannot reach the Docker engine") and view.hint == "start dockerd"


def test_the_view_has_one_section_per_swarm_target_and_none_without(tmp_path: Path) -> None:
    repository = _folders(tmp_path / "with", "wiki")
    ctx = DeployContext(repository)
    view = swarm_view(ctx, engine_for=lambda target: FakeSwarm([service("wiki_web", "wiki", 1)], []))
    assert [t.name for t in view.targets] == ["cluster"]
    assert view.targets[0].services[0].replicas == "0/1" and view.moving

    write_tree(tmp_path / "without", {"wiki/compose.yaml": "services:\n  web:\n    image: busybox:1.36\n"})
    plain = DeployContext(open_repository(tmp_path / "without"))
    assert swarm_view(plain, engine_for=lambda target: pytest.fail("no Swarm target to ask")).targets == []


def test_the_managers_events_are_reduced_to_what_changed() -> None:
    update = {"Type": "service", "Action": "update", "Actor": {"ID": "x", "Attributes": {"name": "wiki_web"}}}
    node = {"Type": "node", "Action": "update", "Actor": {"ID": "y", "Attributes": {"name": "vm"}}}
    task_container = {
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": "c", "Attributes": {"com.docker.swarm.service.name": "wiki_web", "name": "wiki_web.1.x"}},
    }
    compose_container = {"Type": "container", "Action": "start", "Actor": {"ID": "d", "Attributes": {"name": "a"}}}
    assert [(c.kind, c.name, c.action) for c in map(_change, (update, node, task_container)) if c] == [
        ("service", "wiki_web", "update"),
        ("node", "vm", "update"),
        ("container", "wiki_web", "start"),
    ]
    assert _change(compose_container) is None
    assert _change({"Type": "service", "Actor": {"Attributes": ["not", "a", "dict"]}}) is None


@pytest.mark.parametrize("text, expected", [("0", 0), ("3", 3), (" 2 ", 2), (str(MAX_REPLICAS), MAX_REPLICAS)])
def test_replica_counts_in_range_are_read(text: str, expected: int) -> None:
    assert check_replicas(text) == expected


@pytest.mark.parametrize("text", ["-1", "many", "", None, "2.5", "1e3", "٣", str(MAX_REPLICAS + 1), "9" * 40])
def test_other_replica_counts_are_refused_with_a_hint(text: str | None) -> None:
    with pytest.raises(DarseError) as caught:
        check_replicas(text)
    assert caught.value.hint == f"give a whole number from 0 to {MAX_REPLICAS}"
    assert len(caught.value.message) < 80  # a huge input is not echoed whole


def test_a_task_error_or_update_message_quoting_a_secret_value_is_masked(tmp_path: Path) -> None:
    """The engine's words may quote a value of the stack's secrets file; `darse up` masks them, so does the page."""
    planted = "planted-swarm-secret-41d9"
    repository = _folders(tmp_path, "wiki")
    (tmp_path / "wiki" / "app.secrets").write_text(f"DB_PASSWORD={planted}\n")
    paused = {"State": "paused", "Message": f"update paused: task exited with {planted}"}
    engine = FakeSwarm(
        [service("wiki_web", "wiki", 1, paused)],
        [task("id-wiki_web", 1, MANAGER["ID"], "failed", desired="shutdown", err=f"starting: bad value {planted}")],
    )
    view = target_view(Target("cluster", "swarm"), repository.services, engine)
    (web,) = view.services
    assert web.update_message == "update paused: task exited with ****"
    assert [t.error for t in web.tasks] == ["starting: bad value ****"]
    assert planted not in repr(view.to_dict())
