"""A services repository with one service that writes logs on demand, on the real engine (Compose, or
the three-node test Swarm, its image then in the cluster's registry and its tasks on any node), for the
tests and the benchmark of the dashboard's logs.

The container prints a greeting holding a planted secret (read from its env_file) and then sleeps; a
test writes a line to its log at any moment with `docker exec ... sh -c 'echo ... > /proc/1/fd/1'`
(process 1's standard output is the log). Names are unique per use; `close()` removes everything.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import docker

from helpers.engine import ensure_busybox
from helpers.repo import git_init, write_tree
from helpers.swarm_nodes import Cluster

IMAGE = "darse-test/logs-app:1.0"
SECRET = "Lg7-planted-secret-token-value"
SCRIPT = r"trap 'exit 0' TERM; echo \"app starts with token $$API_TOKEN\"; while true; do sleep 1; done"
COMMAND = f'["sh", "-c", "{SCRIPT}"]'

COMPOSE = """\
services:
  app:
    image: {image}
    command: {command}
    env_file:
      - ./app.secrets
"""


class LogsService:
    """One service folder (`name`, also its Compose project or stack) in a repository at `root`."""

    def __init__(self, root: Path, engine: docker.DockerClient, cluster: Cluster | None = None) -> None:
        ensure_busybox(engine, IMAGE)
        self.engine = engine
        self.cluster = cluster
        self.swarm = swarm = cluster is not None
        image = cluster.busybox("darse-test-logs-app:1.0") if cluster is not None else IMAGE
        self.name = f"logs{uuid.uuid4().hex[:8]}"
        self.root = root
        toml = f'[targets.one]\nkind = "swarm"\n[services."{self.name}"]\ntarget = "one"\n' if swarm else ""
        write_tree(
            root,
            {
                "darse.toml": toml,
                ".gitignore": "*.secrets\n",
                f"{self.name}/compose.yaml": COMPOSE.format(image=image, command=COMMAND),
                f"{self.name}/README.md": f"# {self.name}\n",
                f"{self.name}/app.secrets.example": "API_TOKEN=\n",
            },
        )
        (self.folder / "app.secrets").write_text(f"API_TOKEN={SECRET}\n")
        git_init(root)

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def up(self, *extra: str) -> None:
        """`docker compose up -d` (`--force-recreate`: a redeploy), or `docker stack deploy` on a Swarm."""
        if self.swarm:
            command = ["docker", "stack", "deploy", "--compose-file", "compose.yaml", "--", self.name]
        else:
            command = ["docker", "compose", "--project-name", self.name, "up", "-d", *extra]
        subprocess.run(command, cwd=self.folder, check=True, capture_output=True, timeout=120)

    def containers(self) -> list:
        """The running containers of the service (on a Swarm: on every node)."""
        if self.cluster is not None:
            return [c for _node, c in self.cluster.task_containers(f"{self.name}_app") if c.status == "running"]
        label = f"com.docker.compose.project={self.name}"
        return self.engine.containers.list(filters={"label": label, "status": "running"})

    def running(self, timeout: float = 60) -> str:
        """The ID of a running container of the service, once there is one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.containers()
            if found:
                return found[0].id
            time.sleep(0.2)
        raise AssertionError(f"no container of {self.name} runs")

    def write(self, text: str, container: str | None = None) -> None:
        """A line in the service's log, now (`text` must not hold single quotes)."""
        target = container or self.running()
        script = f"echo '{text}' > /proc/1/fd/1"
        if self.cluster is not None:  # the task's container may run on a worker: exec through its engine
            (found,) = [c for c in self.containers() if c.id == target]
            code, output = found.exec_run(["sh", "-c", script])
            assert code == 0, output
            return
        subprocess.run(["docker", "exec", target, "sh", "-c", script], check=True, capture_output=True, timeout=60)

    def close(self) -> None:
        if self.swarm:
            subprocess.run(["docker", "stack", "rm", self.name], capture_output=True, check=False, timeout=120)
        else:
            subprocess.run(
                ["docker", "compose", "--project-name", self.name, "down", "--timeout", "2", "--remove-orphans"],
                cwd=self.folder,
                capture_output=True,
                check=False,
                timeout=120,
            )
