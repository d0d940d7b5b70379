"""`darse stack status` and `darse status` across the real three-node Swarm (helpers/swarm_nodes.py).

One stack of 4 replicas: its tasks spread over the nodes and each is shown with its node; a service whose
placement constraint no node satisfies is reported with the Swarm's reason; a worker's engine stopped is
named as down with the replicas lost there, then shown rescheduled once the Swarm has done it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.repo import git_init, write_tree
from helpers.swarm_nodes import Cluster, darse_program, wait_until

WAIT = 120.0  # seconds: a shared machine; the tests assert what happens, not how fast

COMPOSE = """
services:
  web:
    image: {image}
    init: true
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    deploy:
      replicas: 4
      restart_policy:
        condition: any
  nowhere:
    image: {image}
    init: true
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    deploy:
      replicas: 1
      placement:
        constraints:
          - node.labels.darse-test-nowhere == yes
"""


@dataclass
class Spread:
    root: Path
    name: str

    def darse(self, *args: str) -> subprocess.CompletedProcess[str]:
        return darse_program(self.root, *args)

    def stack_status(self) -> dict[str, dict]:
        """`darse stack status --json` rows by member name."""
        proc = self.darse("stack", "status", self.name, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return {row["name"]: row for row in json.loads(proc.stdout)["services"]}


@pytest.fixture(scope="module")
def spread(swarm_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spread]:
    """A stack deployed by darse: web (4 replicas) and nowhere (1 replica no node may run); the deploy
    fails honestly (nowhere never converges) with the Swarm's reason."""
    name = f"spread{uuid.uuid4().hex[:8]}"
    image = swarm_cluster.busybox(f"darse-spread-{name}:1.0")
    root = write_tree(
        tmp_path_factory.mktemp("spread") / "repo",
        {
            "darse.toml": f'[targets.cluster]\nkind = "swarm"\n[services."{name}"]\ntarget = "cluster"\n',
            f"{name}/compose.yaml": COMPOSE.format(image=image),
            f"{name}/README.md": f"# {name}\n",
        },
    )
    git_init(root)
    stack = Spread(root, name)
    try:
        deployed = stack.darse(
            "stack", "deploy", name, "--force", "--timeout", "15", "--json"
        )  # no node may run nowhere
        assert deployed.returncode == 1, deployed.stdout + deployed.stderr  # `nowhere` cannot converge
        outcomes = {o["name"]: o for o in json.loads(deployed.stdout)["deployments"][0]["services"]}
        assert outcomes["web"]["state"] == "converged", outcomes
        assert outcomes["nowhere"]["state"] == "timeout"
        assert any("no suitable node" in error for error in outcomes["nowhere"]["errors"]), outcomes
        yield stack
    finally:
        for worker in swarm_cluster.workers:  # a test that stopped one leaves the cluster whole again
            swarm_cluster.start_worker(worker.hostname)
        subprocess.run(["docker", "stack", "rm", name], capture_output=True, check=False)
        manager = swarm_cluster.manager
        wait_until(lambda: not manager.api.services(filters={"label": f"com.docker.stack.namespace={name}"}), 60)
        wait_until(lambda: not swarm_cluster.task_containers(f"{name}_web"), 60)


def test_replicas_spread_over_the_nodes_each_with_its_node(spread: Spread, swarm_cluster: Cluster) -> None:
    rows = spread.stack_status()
    web = rows["web"]
    assert (web["running"], web["desired"]) == (4, 4)
    running = [t for t in web["tasks"] if t["state"] == "running"]
    assert len(running) == 4 and {t["slot"] for t in running} == {1, 2, 3, 4}
    assert {t["node"] for t in running} <= set(swarm_cluster.hostnames)
    assert len(set(web["nodes"])) >= 2, web  # the Swarm spread them: not all on one node
    assert web["nodes"] == sorted({t["node"] for t in running})
    assert web["unplaced"] is None and web["lost"] == []
    # what darse says is where the containers really are
    actual = sorted(node for node, _container in swarm_cluster.task_containers(f"{spread.name}_web"))
    assert actual == sorted(t["node"] for t in running)

    human = spread.darse("stack", "status", spread.name)
    assert human.returncode == 0, human.stderr
    for node in web["nodes"]:
        assert node in human.stdout


def test_a_constraint_no_node_satisfies_is_reported_with_the_swarm_reason(spread: Spread) -> None:
    nowhere = spread.stack_status()["nowhere"]
    assert (nowhere["running"], nowhere["desired"]) == (0, 1)
    assert nowhere["unplaced"].startswith("no suitable node"), nowhere
    (task,) = nowhere["tasks"]
    assert (task["state"], task["node"]) == ("pending", None)

    human = spread.darse("stack", "status", spread.name)
    assert "nowhere: tasks cannot be placed: no suitable node" in human.stdout, human.stdout

    status = spread.darse("status", "--json")
    assert status.returncode == 0, status.stderr
    (row,) = [r for r in json.loads(status.stdout)["services"] if r["service"] == spread.name]
    assert row["state"] == "degraded" and row["containers"]["running"] == 4 and row["containers"]["total"] == 5
    assert any(w.startswith("nowhere: tasks cannot be placed: no suitable node") for w in row["warnings"]), row
    assert sorted(t["state"] for t in row["tasks"]) == ["pending"] + ["running"] * 4  # every member's tasks


def test_a_lost_worker_is_named_with_its_replicas_then_they_are_rescheduled(
    spread: Spread, swarm_cluster: Cluster
) -> None:
    web = spread.stack_status()["web"]
    counts: dict[str, int] = {}
    for task in web["tasks"]:
        counts[task["node"]] = counts.get(task["node"], 0) + 1
    victim = max((h for h in counts if h != swarm_cluster.manager_hostname), key=lambda h: counts[h], default=None)
    assert victim is not None, counts  # with 4 replicas on 3 nodes, a worker runs some
    lost = counts[victim]

    swarm_cluster.stop_worker(victim)  # returns once the manager sees the node down
    seen_down = spread.stack_status()["web"]
    assert seen_down["lost"] == [{"node": victim, "replicas": lost}], seen_down
    assert all(t["node_state"] == "down" for t in seen_down["tasks"] if t["node"] == victim)
    assert victim not in seen_down["nodes"]

    status = spread.darse("status")
    assert f"node {victim} is down: {lost} replica(s) of web lost there" in status.stdout, status.stdout

    # the Swarm puts them on the nodes that remain; darse shows it
    assert wait_until(lambda: spread.stack_status()["web"]["running"] == 4, WAIT), spread.stack_status()["web"]
    after = spread.stack_status()["web"]
    assert victim not in after["nodes"] and after["lost"] == [{"node": victim, "replicas": lost}]
    human = spread.darse("stack", "status", spread.name)
    assert f"node {victim} is down: {lost} replica(s) of web lost there, rescheduled on other nodes" in human.stdout

    swarm_cluster.start_worker(victim)
    assert wait_until(lambda: spread.stack_status()["web"]["lost"] == [], WAIT), spread.stack_status()["web"]
