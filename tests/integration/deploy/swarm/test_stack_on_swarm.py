"""`darse stack` on the real three-node Swarm (helpers/swarm_nodes.py), with images pushed to its registry.

One scenario in order, as an admin would live it: deploy, scale to 3, roll out a new version, roll out a
broken version (reported as a failure, the Swarm back on the previous version), change a secret and
redeploy (a new hashed secret, the old one removed), remove the stack (the volume stays).
"""

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

from helpers.engine import build_image, ensure_busybox
from helpers.golden import check
from helpers.repo import git_init, write_tree
from helpers.swarm_nodes import Cluster

TOKEN_V1 = "token-" + uuid.uuid4().hex
TOKEN_V2 = "token-" + uuid.uuid4().hex
DB_PASSWORD = "pw-" + uuid.uuid4().hex


def darse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "darse", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def images(swarm_cluster: Cluster) -> dict[str, str]:
    """Three versions of the app in the registry: two good ones and one whose process exits."""
    swarm, registry = swarm_cluster.manager, swarm_cluster.registry
    ensure_busybox(swarm)
    refs = {}
    for version, extra in {
        "1.0": "",
        "1.1": "RUN echo 1.1 > /version\n",
        "1.2": 'ENTRYPOINT ["sh", "-c", "exit 3"]\n',
    }.items():
        ref = f"{registry}/darse-swarm-app:{version}"
        build_image(swarm, ref, f"FROM darse-test/busybox:base\n{extra}")
        for line in swarm.images.push(f"{registry}/darse-swarm-app", tag=version, stream=True, decode=True):
            assert "error" not in line, line
        refs[version] = ref
    return refs


def compose(image: str, proxy: str) -> str:
    return f"""
    services:
      web:
        image: {image}
        init: true
        command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
        env_file:
          - ./secrets/app.secrets
        secrets:
          - token
        volumes:
          - web-data:/data
        healthcheck:
          test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/hostname"]
          interval: 1s
          timeout: 2s
          retries: 3
        deploy:
          replicas: 1
          restart_policy:
            condition: any
          update_config:
            monitor: 3s
          rollback_config:
            monitor: 2s
        networks:
          - {proxy}
    volumes:
      web-data:
    networks:
      {proxy}:
        external: true
    secrets:
      token:
        file: ./secrets/token.secrets
    """


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, images: dict[str, str], swarm_cluster: Cluster):
    root = tmp_path_factory.mktemp("swarm-repo")
    proxy = f"darse-proxy-{uuid.uuid4().hex[:8]}"
    write_tree(
        root,
        {
            "darse.toml": f"""
            proxy_network = "{proxy}"
            [targets.cluster]
            kind = "swarm"
            [services."swarmapp"]
            target = "cluster"
            """,
            ".gitignore": "*.secrets\n",
            "swarmapp/compose.yaml": compose(images["1.0"], proxy),
            "swarmapp/README.md": "# app\n",
            "swarmapp/secrets/app.secrets.example": "DB_PASSWORD=\n",
            "swarmapp/secrets/token.secrets.example": "\n",
        },
    )
    (root / "swarmapp/secrets/app.secrets").write_text(f"DB_PASSWORD={DB_PASSWORD}\n")
    (root / "swarmapp/secrets/token.secrets").write_text(TOKEN_V1)
    git_init(root)
    yield root, proxy
    subprocess.run(["docker", "stack", "rm", "swarmapp"], capture_output=True, check=False)
    _wait(lambda: not docker.from_env().api.services(filters={"label": "com.docker.stack.namespace=swarmapp"}))
    for client in swarm_cluster.engines().values():  # the volume exists on every node a task ran on
        with contextlib.suppress(docker.errors.APIError):
            client.volumes.get("swarmapp_web-data").remove()
    subprocess.run(["docker", "network", "rm", proxy], capture_output=True, check=False)


def _wait(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _set_image(root: Path, proxy: str, image: str) -> None:
    (root / "swarmapp/compose.yaml").write_text(_dedent(compose(image, proxy)))
    subprocess.run(["git", "-C", str(root), "commit", "-qam", f"swarmapp {image}"], check=True)


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).lstrip("\n")


def _nodes_hidden(stdout: str) -> str:
    """The JSON with every node's hostname as `<node>`: which node runs a task is the Swarm's choice."""

    def hide(value, key: str = ""):
        if isinstance(value, dict):
            return {k: hide(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v, key) for v in value]
        if key in ("node", "hostname", "nodes") and isinstance(value, str):
            return "<node>"
        return value

    return json.dumps(hide(json.loads(stdout)))


def _status(root: Path) -> dict:
    proc = darse("stack", "status", "swarmapp", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["services"]
    return row


def test_stack_lifecycle(swarm_cluster: Cluster, repo, images: dict[str, str]) -> None:
    swarm = swarm_cluster.manager
    root, proxy = repo
    outputs: list[str] = []

    first = darse("stack", "deploy", "swarmapp", "--timeout", "120", "--json", cwd=root)
    outputs += [first.stdout, first.stderr]
    assert first.returncode == 0, first.stdout + first.stderr
    (deployment,) = json.loads(first.stdout)["deployments"]
    names = {str(root): "<ROOT>", proxy: "<proxy>", swarm_cluster.registry: "<registry>"}
    check("stack-deploy", first.stdout, names)
    check("stack-status", _nodes_hidden(darse("stack", "status", "swarmapp", "--json", cwd=root).stdout), names)
    assert deployment["ok"] and deployment["services"][0]["state"] == "converged"
    assert swarm.networks.get(proxy).attrs["Scope"] == "swarm"  # the missing proxy network was created
    service = swarm.services.get("swarmapp_web")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert service.attrs["Spec"]["Labels"]["org.darse.commit"] == commit.strip()
    first_secret = {s.name for s in swarm.secrets.list(filters={"label": "com.docker.stack.namespace=swarmapp"})}
    assert len(first_secret) == 1 and next(iter(first_secret)).startswith("swarmapp_token_")

    # scale to 3
    scaled = darse("stack", "scale", "swarmapp=3", cwd=root)
    assert scaled.returncode == 0, scaled.stderr
    assert _wait(lambda: _status(root)["running"] == 3, 90), _status(root)

    # a new version rolls out
    _set_image(root, proxy, images["1.1"])
    second = darse("stack", "deploy", "swarmapp", "--timeout", "180", cwd=root)
    outputs += [second.stdout, second.stderr]
    assert second.returncode == 0, second.stdout + second.stderr
    assert _status(root)["image"] == images["1.1"]
    assert "web: replicas: 3 now → 1 from the Compose file" in second.stdout  # the scale it undid is said

    # a broken version: reported as a failure, and the Swarm runs 1.1 again
    _set_image(root, proxy, images["1.2"])
    broken = darse("stack", "deploy", "swarmapp", "--timeout", "180", "--json", cwd=root)
    outputs += [broken.stdout, broken.stderr]
    assert broken.returncode == 1, broken.stdout + broken.stderr
    (failed,) = json.loads(broken.stdout)["deployments"]
    check("stack-deploy-failed", broken.stdout, names)
    (web,) = failed["services"]
    assert not failed["ok"] and web["state"] == "rolled back"
    assert any("exit" in error for error in web["errors"]), web
    assert failed["rolled_back"] == ["web"]
    assert _status(root)["image"] == images["1.1"]

    # a changed secret rolls out as a new secret; the old one goes once unused
    _set_image(root, proxy, images["1.1"])
    (root / "swarmapp/secrets/token.secrets").write_text(TOKEN_V2)
    third = darse("stack", "deploy", "swarmapp", "--timeout", "180", cwd=root)
    outputs += [third.stdout, third.stderr]
    assert third.returncode == 0, third.stdout + third.stderr
    secrets_now = {s.name for s in swarm.secrets.list(filters={"label": "com.docker.stack.namespace=swarmapp"})}
    assert len(secrets_now) == 1 and secrets_now != first_secret

    # every deployment is in the history, the failed one as failed; no secret in it
    history = darse("history", "swarmapp", "--json", cwd=root)
    assert history.returncode == 0, history.stderr
    records = json.loads(history.stdout)
    check("stack-history", json.dumps(records[:4]), names)  # the state folder keeps earlier runs' records
    assert [(r["action"], r["outcome"]) for r in records[:5]] == [
        ("up", "success"),
        ("up", "failed"),
        ("up", "success"),
        ("scale", "success"),  # the scale to 3, of the first deployment's revision
        ("up", "success"),
    ]
    assert records[3]["message"] == "web: 1 → 3" and records[3]["revision"] == records[4]["revision"]
    assert "web rolled back" in records[1]["message"]
    outputs.append(history.stdout)

    # no secret value ever reached the output
    for text in outputs:
        assert TOKEN_V1 not in text and TOKEN_V2 not in text and DB_PASSWORD not in text

    # rm keeps the volume
    removed = darse("stack", "rm", "swarmapp", cwd=root)
    assert removed.returncode == 0, removed.stderr
    assert _wait(lambda: not swarm.api.services(filters={"label": "com.docker.stack.namespace=swarmapp"}))
    assert _volume_nodes(swarm_cluster, "swarmapp_web-data")  # kept where its tasks ran


def _volume_nodes(cluster: Cluster, name: str) -> list[str]:
    """The nodes that hold a local volume of that name."""
    found = []
    for hostname, client in cluster.engines().items():
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(name)
            found.append(hostname)
    return found


def test_stack_errors_are_one_line(swarm: docker.DockerClient, repo, tmp_path: Path) -> None:
    root, _proxy = repo
    unknown = darse("stack", "deploy", "nope", cwd=root)
    assert unknown.returncode == 2 and "no service named 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    write_tree(tmp_path, {"local/compose.yaml": "services:\n  a:\n    image: busybox:1.36\n"})
    not_swarm = darse("stack", "deploy", "local", cwd=tmp_path)
    assert not_swarm.returncode == 2 and "not a Swarm" in not_swarm.stderr

    bad_scale = darse("stack", "scale", "swarmapp=many", cwd=root)
    assert bad_scale.returncode == 2 and "SERVICE=N" in bad_scale.stderr


def test_local_only_image_names_darse_push(swarm: docker.DockerClient, tmp_path: Path) -> None:
    ensure_busybox(swarm, "darse-local-only/app:2.0")
    write_tree(
        tmp_path,
        {
            "darse.toml": '[targets.cluster]\nkind = "swarm"\n[services."solo"]\ntarget = "cluster"\n',
            "solo/compose.yaml": """
            services:
              app:
                image: darse-local-only/app:2.0
                init: true
                deploy:
                  restart_policy:
                    condition: any
            """,
            "solo/README.md": "# solo\n",
        },
    )
    git_init(tmp_path)
    proc = darse("stack", "deploy", "solo", cwd=tmp_path)
    if proc.returncode == 0:
        subprocess.run(["docker", "stack", "rm", "solo"], capture_output=True, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "only in the local engine" in proc.stderr and "darse push solo" in proc.stderr
    assert not swarm.api.services(filters={"label": "com.docker.stack.namespace=solo"})


def test_one_folder_runs_on_compose_and_on_swarm_without_edit(swarm_cluster: Cluster, repo, images) -> None:
    """Only darse.toml changes: `darse up` deploys the folder as a stack, then with Compose."""
    swarm = swarm_cluster.manager
    root, _proxy = repo
    config = root / "darse.toml"
    original = config.read_text()
    try:
        on_swarm = darse("up", "swarmapp", "--timeout", "120", "--json", cwd=root)
        assert on_swarm.returncode == 0, on_swarm.stdout + on_swarm.stderr
        (result,) = json.loads(on_swarm.stdout)
        # the image is 1.0 or 1.1, as the lifecycle test ran or not before
        names = {str(root): "<ROOT>", _proxy: "<proxy>", images["1.0"]: "<image>", images["1.1"]: "<image>"}
        names[swarm_cluster.registry] = "<registry>"
        check("up-on-swarm", on_swarm.stdout, names)
        assert result["target"] == "swarm" and result["ok"]
        assert swarm.api.services(filters={"label": "com.docker.stack.namespace=swarmapp"})
        status = darse("status", "--json", cwd=root)
        assert status.returncode == 0, status.stderr
        (row,) = [r for r in json.loads(status.stdout)["services"] if r["service"] == "swarmapp"]
        assert row["containers"]["running"] >= 1 and row["state"] == "in-sync", row

        check("status-swarm", _nodes_hidden(status.stdout), names)
        down = darse("down", "swarmapp", "--json", cwd=root)
        check("down-on-swarm", down.stdout, names)
        assert down.returncode == 0, down.stderr
        assert _wait(lambda: not swarm.api.services(filters={"label": "com.docker.stack.namespace=swarmapp"}))
        assert _wait(lambda: not swarm_cluster.task_containers("swarmapp_web"))  # on every node

        config.write_text(original.replace('target = "cluster"', 'target = "local"'))
        subprocess.run(["git", "-C", str(root), "commit", "-qam", "run swarmapp with Compose"], check=True)
        on_compose = darse("up", "swarmapp", "--timeout", "60", "--json", cwd=root)
        assert on_compose.returncode == 0, on_compose.stdout + on_compose.stderr
        containers = swarm.containers.list(filters={"label": "com.docker.compose.project=swarmapp"})
        assert [c.labels["com.docker.compose.service"] for c in containers] == ["web"]
    finally:
        subprocess.run(["docker", "compose", "-p", "swarmapp", "down"], capture_output=True, check=False)
        config.write_text(original)
