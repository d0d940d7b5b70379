"""`darse tunnel` on the local engine, for real: a database-like container that publishes no port
(busybox's `nc` serving a Redis-looking reply, under an image named like Redis), reached through the
tunnel in the foreground (a real darse process, ended by SIGTERM) and in the background (through an
alias of darse.toml); the plan's choices that need the engine; no secret of the folder ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse.errors import DarseError
from darse.tunnel import registry
from darse.tunnel.locate import tunnel_plan

from helpers.cli import run_darse
from helpers.engine import build_image, ensure_busybox
from helpers.repo import write_tree
from helpers.tcp import REDIS_LIKE, SERVE, ping

SECRET = "redis-Secret-4242"
MULTI_EXPOSE = "darse-test/multiport:tunnel"
SRC = str(Path(__file__).parents[2] / "src")


@pytest.fixture(scope="module")
def images(engine: docker.DockerClient) -> None:
    ensure_busybox(engine, REDIS_LIKE)
    build_image(engine, MULTI_EXPOSE, f'FROM {REDIS_LIKE}\nEXPOSE 7000 7001\nCMD ["sleep", "3600"]\n')


@pytest.fixture(scope="module")
def fleet(images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A repository with one folder (a unique name: its Compose project is this module's alone), its
    `db` running, `idle` never started."""
    folder = f"tun{uuid.uuid4().hex[:10]}"
    root = write_tree(
        tmp_path_factory.mktemp("tunnel") / "fleet",
        {
            "darse.toml": f'[tunnels.cache]\nservice = "{folder}"\nto = "db"\n',
            f"{folder}/compose.yaml": f"""
                services:
                  db:
                    image: {REDIS_LIKE}
                    command: {json.dumps(SERVE)}
                    expose: ["6379"]
                    env_file: db.secrets
                  multi:
                    image: {MULTI_EXPOSE}
                  idle:
                    image: {REDIS_LIKE}
                    command: ["sleep", "3600"]
                """,
            f"{folder}/db.secrets": f"REDIS_PASSWORD={SECRET}\n",
        },
    )
    compose = ["docker", "compose", "--project-name", folder, "--project-directory", str(root / folder)]
    compose += ["-f", str(root / folder / "compose.yaml")]
    subprocess.run([*compose, "up", "-d", "db", "multi"], check=True, capture_output=True, timeout=120)
    try:
        yield root, folder
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "1"], capture_output=True, timeout=120)


def test_the_plan_finds_the_container_its_port_and_the_hint(fleet: tuple[Path, str]) -> None:
    root, folder = fleet
    plan = tunnel_plan(root, folder, to="db")
    assert (plan.mode, plan.service, plan.port, plan.kind) == ("local", "db", 6379, "redis")
    assert plan.network == f"{folder}_default" and plan.address.count(".") == 3
    assert plan.local_host == "127.0.0.1" and plan.hint == f"redis-cli -h 127.0.0.1 -p {plan.local_port}"
    assert SECRET not in json.dumps(plan.to_dict())


def test_the_image_expose_is_the_last_resort_and_several_are_listed(fleet: tuple[Path, str]) -> None:
    root, folder = fleet
    with pytest.raises(DarseError) as caught:
        tunnel_plan(root, folder, to="multi")
    assert "several ports (7000, 7001, from the image's EXPOSE)" in caught.value.message
    assert tunnel_plan(root, folder, to="multi", port=7001).port == 7001


def test_a_service_not_running_is_one_line(fleet: tuple[Path, str]) -> None:
    root, folder = fleet
    with pytest.raises(DarseError) as caught:
        tunnel_plan(root, folder, to="idle")
    assert caught.value.one_line() == (
        f"{folder}: Compose service idle is not running on unix:///var/run/docker.sock "
        f"(hint: start it with `darse up {folder}`)"
    )


def test_foreground_tunnel_carries_traffic_and_ends_on_sigterm(fleet: tuple[Path, str], state: Path) -> None:
    root, folder = fleet
    process = subprocess.Popen(
        [sys.executable, "-m", "darse", "--no-color", "tunnel", folder, "--to", "db"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()  # "✓ NAME: 127.0.0.1:PORT → FOLDER db"
        hint = process.stdout.readline().strip()
        assert ready.startswith(f"✓ {folder}: 127.0.0.1:"), ready + (process.stderr.read() if process.poll() else "")
        port = int(ready.split("127.0.0.1:")[1].split()[0])
        assert hint == f"redis-cli -h 127.0.0.1 -p {port}"
        assert ping("127.0.0.1", port) == b"+PONG\n"
        assert ping("127.0.0.1", port) == b"+PONG\n"  # a second connection: the relay still serves
        [entry] = registry.entries(state)
        assert (entry.name, entry.pid, entry.background) == (folder, process.pid, False)
        process.terminate()
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert registry.entries(state) == []
    assert SECRET not in out + err + ready


def test_an_alias_in_the_background_then_stopped(fleet: tuple[Path, str], state: Path) -> None:
    root, folder = fleet
    result = run_darse("tunnel", "cache", "--background", "--json", cwd=root)
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["tunnels"]
    assert (entry["name"], entry["folder"], entry["service"], entry["background"]) == ("cache", folder, "db", True)
    host, _sep, port = entry["local"].rpartition(":")
    try:
        assert ping(host, int(port)) == b"+PONG\n"
        listed = run_darse("tunnel", "ls", cwd=root)
        assert f"cache  {entry['local']} → {folder} db (local)  pid {entry['pid']} background" in listed.stdout
    finally:
        stopped = run_darse("tunnel", "stop", "cache", cwd=root)
    assert stopped.exit_code == 0, stopped.output
    assert not registry.process_alive(entry["pid"])
    assert SECRET not in result.output + listed.output + stopped.output
