"""A consumer on the real three-node Swarm: its certificate and key become Swarm secrets named by their
content, mounted at its `darse.certs.dir` with owner and mode; a renewal is a new secret and a rolling
update of the service; `darse stack deploy` keeps the certificate; the old secrets are removed."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from helpers.certs import TestCA, acme_v2, write_acme
from helpers.repo import git_init, write_tree
from helpers.swarm_nodes import Cluster

CA = TestCA("darse swarm")


def darse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "darse", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def image(swarm_cluster: Cluster) -> str:
    return swarm_cluster.busybox("darse-certs-consumer:1.0")


@pytest.fixture
def repo(tmp_path: Path, image: str, swarm: docker.DockerClient, swarm_cluster: Cluster):
    folder = f"mail{uuid.uuid4().hex[:8]}"
    write_tree(
        tmp_path,
        {
            "darse.toml": f"""
            [certs]
            acme = "acme.json"
            [targets.cluster]
            kind = "swarm"
            [services."{folder}"]
            target = "cluster"
            """,
            f"{folder}/compose.yaml": f"""
            services:
              mail:
                image: {image}
                init: true
                command: ["sh", "-c", "while true; do sleep 1; done"]
                volumes:
                  - certs:/etc/mail/tls
                labels:
                  darse.certs.domains: mail.example.org
                  darse.certs.dir: /etc/mail/tls
                  darse.certs.owner: "8:12"
                deploy:
                  update_config:
                    monitor: 1s
            volumes:
              certs:
            """,
        },
    )
    git_init(tmp_path)
    yield tmp_path, folder
    subprocess.run(["docker", "stack", "rm", folder], capture_output=True, check=False)
    _wait(lambda: not swarm.api.services(filters={"label": f"com.docker.stack.namespace={folder}"}))
    for secret in swarm.secrets.list(filters={"label": f"com.docker.stack.namespace={folder}"}):
        secret.remove()
    for client in swarm_cluster.engines().values():  # on whichever nodes its tasks ran
        with contextlib.suppress(docker.errors.APIError):
            client.volumes.get(f"{folder}_certs").remove()


def _wait(predicate, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _task_file(cluster: Cluster, stack: str, path: str) -> bytes | None:
    """The file as the running task's container sees it, on whichever node it runs."""
    found = cluster.task_containers(f"{stack}_mail")
    if len(found) != 1:
        return None
    try:
        code, output = found[0][1].exec_run(["cat", path])
    except docker.errors.APIError:  # the task being replaced stopped in between: look again
        return None
    return output if code == 0 else None


def _stat(cluster: Cluster, stack: str, path: str) -> str:
    ((_node, container),) = cluster.task_containers(f"{stack}_mail")
    return container.exec_run(["stat", "-L", "-c", "%u:%g %a", path]).output.decode().strip()


def test_certificates_as_swarm_secrets_through_deploy_sync_and_redeploy(
    repo, swarm: docker.DockerClient, swarm_cluster: Cluster
) -> None:
    root, stack = repo
    first = CA.issue("mail.example.org")
    write_acme(root / "acme.json", acme_v2({"le": [first]}))

    deployed = darse("stack", "deploy", stack, "--timeout", "120", cwd=root)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert _task_file(swarm_cluster, stack, "/etc/mail/tls/key.pem") == first.key_pem  # mounted by the deploy itself
    assert _stat(swarm_cluster, stack, "/etc/mail/tls/key.pem") == "8:12 600"
    assert _stat(swarm_cluster, stack, "/etc/mail/tls/cert.pem") == "8:12 644"
    sync = darse("certs", "sync", "--json", cwd=root)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert json.loads(sync.stdout)["consumers"][0]["outcome"] == "unchanged"

    renewed = CA.issue("mail.example.org")
    write_acme(root / "acme.json", acme_v2({"le": [renewed]}))
    sync = darse("certs", "sync", "--json", cwd=root)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    consumer = json.loads(sync.stdout)["consumers"][0]
    assert consumer["outcome"] == "installed" and consumer["replaced"] == first.fingerprint
    assert consumer["reloaded"] == [f"{stack}_mail (rolling update)"]
    assert _wait(lambda: _task_file(swarm_cluster, stack, "/etc/mail/tls/cert.pem") == renewed.leaf_pem)

    again = darse("stack", "deploy", stack, "--timeout", "120", cwd=root)  # a redeploy keeps the certificate
    assert again.returncode == 0, again.stdout + again.stderr
    assert _task_file(swarm_cluster, stack, "/etc/mail/tls/key.pem") == renewed.key_pem
    names = {s.name for s in swarm.secrets.list(filters={"label": f"com.docker.stack.namespace={stack}"})}
    assert len(names) == 3 and all(name.startswith(f"{stack}_certs_") for name in names)  # old ones removed

    status = darse("certs", "status", "--json", "--no-probe", cwd=root)
    assert status.returncode == 0, status.stdout + status.stderr
    row = json.loads(status.stdout)["consumers"][0]
    assert row["verdict"] == "ok" and row["on_disk"]["fingerprint"] == renewed.fingerprint
