"""Node maintenance, placement and logs on the real three-node Swarm (helpers/swarm_nodes.py).

A stack of 4 replicas spread over the nodes (each task says which node it runs on, from the Swarm's
`{{.Node.Hostname}}` template): `darse logs` shows every task's line, whatever its node; `darse node
drain` moves a worker's tasks and says where each one went, `activate` opens it again; the last manager
is never demoted, and a promotion to two managers advises an odd number; a stack no node can run is
refused before anything is deployed (`--force` deploys it anyway).
"""

from __future__ import annotations

import json
import re
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
    environment:
      NODE: "{{{{.Node.Hostname}}}}"
    command: ["sh", "-c", "echo \\"task on $$NODE\\"; trap 'exit 0' TERM; while true; do sleep 1; done"]
    deploy:
      replicas: 4
      restart_policy:
        condition: any
      update_config:  # two replicas at a time, watched 1 s each: a rolling update in seconds, not half a minute
        parallelism: 2
        monitor: 1s
"""

NOWHERE = """
services:
  app:
    image: {image}
    init: true
    command: ["sleep", "600"]
    deploy:
      placement:
        constraints:
          - node.labels.darse-test-disk == nvme
      restart_policy:
        condition: any
"""


@dataclass
class Fleet:
    root: Path
    name: str

    def darse(self, *args: str) -> subprocess.CompletedProcess[str]:
        return darse_program(self.root, *args)

    def web_nodes(self) -> list[str]:
        proc = self.darse("stack", "status", self.name, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        [web] = [row for row in json.loads(proc.stdout)["services"] if row["name"] == "web"]
        return sorted(t["node"] for t in web["tasks"] if t["state"] == "running")


@pytest.fixture(scope="module")
def fleet(swarm_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    name = f"nodes{uuid.uuid4().hex[:8]}"
    image = swarm_cluster.busybox(f"darse-nodes-{name}:1.0")
    root = write_tree(
        tmp_path_factory.mktemp("nodes") / "repo",
        {
            "darse.toml": f'[targets.cluster]\nkind = "swarm"\n[services."{name}"]\ntarget = "cluster"\n'
            f'[services."{name}-nowhere"]\ntarget = "cluster"\n',
            f"{name}/compose.yaml": COMPOSE.format(image=image),
            f"{name}/README.md": f"# {name}\n",
            f"{name}-nowhere/compose.yaml": NOWHERE.format(image=image),
            f"{name}-nowhere/README.md": "# nowhere\n",
        },
    )
    git_init(root)
    fleet = Fleet(root, name)
    try:
        deployed = fleet.darse("stack", "deploy", name, "--timeout", "120")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        yield fleet
    finally:
        for worker in swarm_cluster.workers:
            subprocess.run(["docker", "node", "update", "--availability", "active", worker.hostname], check=False,
                           capture_output=True)  # fmt: skip
        for stack in (name, f"{name}-nowhere"):
            subprocess.run(["docker", "stack", "rm", stack], capture_output=True, check=False)
        manager = swarm_cluster.manager
        wait_until(lambda: not manager.api.services(filters={"label": f"com.docker.stack.namespace={name}"}), 60)


def test_logs_gather_every_task_whatever_its_node(fleet: Fleet, swarm_cluster: Cluster) -> None:
    nodes = fleet.web_nodes()
    assert len(set(nodes)) >= 2  # the Swarm spread them
    logs = fleet.darse("logs", fleet.name)
    assert logs.returncode == 0, logs.stderr
    started = sorted(line.rsplit("task on ", 1)[1] for line in logs.stdout.splitlines() if "task on " in line)
    assert started == nodes  # one line per running task, from each node, the ones on workers included
    for line in logs.stdout.splitlines():
        if "task on " in line:
            prefix, text = line.split(" | ", 1)
            assert prefix.startswith("web.") and prefix.endswith("@" + text.rsplit(" ", 1)[1])  # web.N@node


def test_drain_moves_a_workers_tasks_and_says_where_then_activate(fleet: Fleet, swarm_cluster: Cluster) -> None:
    nodes = fleet.web_nodes()
    victim = max((n for n in set(nodes) if n != swarm_cluster.manager_hostname), key=nodes.count)
    moved_count = nodes.count(victim)
    drained = fleet.darse("node", "drain", victim, "--json")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    report = json.loads(drained.stdout)
    assert (report["node"], report["changed"], report["ok"]) == (victim, True, True)
    moves = [m for m in report["moved"] if m["service"] == f"{fleet.name}_web"]
    assert len(moves) == moved_count
    assert all(m["to"] in swarm_cluster.hostnames and m["to"] != victim for m in moves), moves
    after = fleet.web_nodes()
    assert victim not in after and len(after) == 4
    for move in moves:  # where darse says each one went, a task of web runs
        assert move["to"] in after
    listed = json.loads(fleet.darse("node", "ls", "--json").stdout)
    [row] = [n for n in listed["nodes"] if n["hostname"] == victim]
    assert (row["availability"], row["tasks"]) == ("drain", 0)

    again = fleet.darse("node", "drain", victim, "--json")
    assert json.loads(again.stdout)["changed"] is False
    active = fleet.darse("node", "activate", victim)
    assert active.returncode == 0 and f"{victim} is now active" in active.stdout, active.stdout + active.stderr
    listed = json.loads(fleet.darse("node", "ls", "--json").stdout)
    assert [n["availability"] for n in listed["nodes"] if n["hostname"] == victim] == ["active"]


def test_the_last_manager_is_not_demoted_and_two_managers_get_advice(fleet: Fleet, swarm_cluster: Cluster) -> None:
    refused = fleet.darse("node", "demote", swarm_cluster.manager_hostname)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "is the last manager" in line and line.startswith("darse: ")
    worker = swarm_cluster.workers[1].hostname
    promoted = fleet.darse("node", "promote", worker, "--json")
    try:
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        report = json.loads(promoted.stdout)
        assert report["changed"] and any("odd number of managers" in w for w in report["warnings"])
        listed = json.loads(fleet.darse("node", "ls", "--json").stdout)
        assert listed["managers"]["total"] == 2
        assert wait_until(
            lambda: json.loads(fleet.darse("node", "ls", "--json").stdout)["managers"]["reachable"] == 2, WAIT
        )
    finally:
        demoted = fleet.darse("node", "demote", worker, "--json")
    assert demoted.returncode == 0, demoted.stdout + demoted.stderr
    assert json.loads(fleet.darse("node", "ls", "--json").stdout)["managers"]["total"] == 1


def test_a_stack_no_node_can_run_is_refused_before_anything_is_deployed(fleet: Fleet, swarm_cluster: Cluster) -> None:
    stack = f"{fleet.name}-nowhere"
    refused = fleet.darse("up", stack)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert "app: no node satisfies node.labels.darse-test-disk==nvme" in line
    for hostname in swarm_cluster.hostnames:
        assert f"{hostname}: darse-test-disk=-" in line
    assert not swarm_cluster.manager.api.services(filters={"label": f"com.docker.stack.namespace={stack}"})
    forced = fleet.darse("stack", "deploy", stack, "--force", "--timeout", "5", "--json")
    assert forced.returncode == 1  # deployed, and honestly not converged: its task waits for such a node
    assert swarm_cluster.manager.api.services(filters={"label": f"com.docker.stack.namespace={stack}"})


def test_a_rolling_update_goes_across_the_nodes(fleet: Fleet, swarm_cluster: Cluster) -> None:
    """A new image version rolls over every replica, whatever its node; status shows them all on it."""
    newer = swarm_cluster.busybox(f"darse-nodes-{fleet.name}:2.0")
    compose = fleet.root / fleet.name / "compose.yaml"
    compose.write_text(compose.read_text().replace(f"darse-nodes-{fleet.name}:1.0", f"darse-nodes-{fleet.name}:2.0"))
    git = ["git", "-C", str(fleet.root), "-c", "user.name=t", "-c", "user.email=t@darse.invalid"]
    subprocess.run([*git, "commit", "-qam", "web 2.0"], check=True)
    deployed = fleet.darse("stack", "deploy", fleet.name, "--timeout", "180", "--json")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    [web] = [s for s in json.loads(deployed.stdout)["deployments"][0]["services"] if s["name"] == "web"]
    assert web["state"] == "converged", web
    status = json.loads(fleet.darse("stack", "status", fleet.name, "--json").stdout)
    [row] = [r for r in status["services"] if r["name"] == "web"]
    running = [t for t in row["tasks"] if t["state"] == "running"]
    assert row["image"].startswith(newer) and len(running) == 4, row
    assert len({t["node"] for t in running}) >= 2
    containers = swarm_cluster.task_containers(f"{fleet.name}_web")  # on every node, what really runs
    assert len(containers) == 4
    assert all(c.attrs["Config"]["Image"].startswith(newer) for _node, c in containers)
    assert len({node for node, _c in containers}) >= 2


def test_a_deploy_while_a_worker_is_down_converges_on_the_other_nodes(fleet: Fleet, swarm_cluster: Cluster) -> None:
    lost = swarm_cluster.workers[0].hostname
    swarm_cluster.stop_worker(lost)  # returns once the manager sees it down
    try:
        newer = swarm_cluster.busybox(f"darse-nodes-{fleet.name}:3.0")
        compose = fleet.root / fleet.name / "compose.yaml"
        text = re.sub(rf"darse-nodes-{fleet.name}:\d\.0", f"darse-nodes-{fleet.name}:3.0", compose.read_text())
        compose.write_text(text)
        git = ["git", "-C", str(fleet.root), "-c", "user.name=t", "-c", "user.email=t@darse.invalid"]
        subprocess.run([*git, "commit", "-qam", "web 3.0"], check=True)
        deployed = fleet.darse("stack", "deploy", fleet.name, "--timeout", "180", "--json")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        status = json.loads(fleet.darse("stack", "status", fleet.name, "--json").stdout)
        [row] = [r for r in status["services"] if r["name"] == "web"]
        assert row["image"].startswith(newer) and (row["running"], row["desired"]) == (4, 4), row
        running = [t for t in row["tasks"] if t["state"] == "running" and t["node_state"] != "down"]
        assert len(running) == 4 and lost not in {t["node"] for t in running}, row
        on_nodes = swarm_cluster.task_containers(f"{fleet.name}_web")  # the engines that answer: not the lost one
        assert sorted(c.attrs["Config"]["Image"].startswith(newer) for _n, c in on_nodes) == [True] * 4
    finally:
        swarm_cluster.start_worker(lost)
