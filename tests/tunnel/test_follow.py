"""A tunnel follows its container when a redeploy re-creates it at another address (local engine; the
ssh:// case is in test_tunnel_ssh.py): the first connection after the move fails, darse asks the engine
where the container is now, and the tunnel carries traffic to the new address, in the foreground and in
a background process (whose `darse tunnel ls` entry shows the new address)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse.tunnel import registry

from helpers.cli import run_darse
from helpers.engine import ensure_busybox
from helpers.recreate import container_ip, recreate_elsewhere
from helpers.repo import write_tree
from helpers.tcp import REDIS_LIKE, REDIS_LIKE_COMPOSE, ping
from helpers.tunnels import ping_until_pong, tunnels_held

PATIENCE = 60.0  # s: generous; darse looks every 2 s


@pytest.fixture
def fleet(engine: docker.DockerClient, tmp_path: Path) -> Iterator[tuple[Path, str, list[str]]]:
    ensure_busybox(engine, REDIS_LIKE)
    folder = f"tunfollow{uuid.uuid4().hex[:8]}"
    root = write_tree(
        tmp_path / "fleet",
        {
            f"{folder}/compose.yaml": REDIS_LIKE_COMPOSE,
        },
    )
    compose = ["docker", "compose", "--project-name", folder, "-f", str(root / folder / "compose.yaml")]
    subprocess.run([*compose, "up", "-d"], check=True, capture_output=True, timeout=120)
    placeholders: list[str] = []
    try:
        yield root, folder, placeholders
    finally:
        if placeholders:
            subprocess.run(["docker", "rm", "-f", *placeholders], capture_output=True, timeout=60)
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, timeout=120)


def moved(root: Path, folder: str, placeholders: list[str]) -> str:
    """Re-create the container elsewhere; its new address (checked to differ from the old one)."""
    compose = ["docker", "compose", "--project-name", folder, "-f", str(root / folder / "compose.yaml")]
    old = container_ip(f"{folder}-db-1")
    new, placeholder = recreate_elsewhere(compose, folder, "db", REDIS_LIKE)
    placeholders.append(placeholder)
    assert new != old  # the move this test is about happened
    return new


def test_a_foreground_tunnel_follows_its_re_created_container(fleet, state: Path) -> None:
    root, folder, placeholders = fleet
    with tunnels_held(root, [folder]) as (plans, lines):
        plan = plans[0]
        assert ping(plan.local_host, plan.local_port) == b"+PONG\n"
        new = moved(root, folder, placeholders)
        assert ping_until_pong(plan.local_host, plan.local_port, PATIENCE) == b"+PONG\n", lines
        assert any(f"now at {new}" in line for line in lines), lines
        entry = json.loads(registry.entry_path(state, folder).read_text())  # as `darse tunnel ls` shows it
        assert entry["remote"] == f"{new}:6379"


def test_a_background_tunnel_follows_its_re_created_container(fleet, state: Path) -> None:
    root, folder, placeholders = fleet
    result = run_darse("tunnel", folder, "--background", "--json", cwd=root)
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["tunnels"]
    host, _sep, port = entry["local"].rpartition(":")
    try:
        assert ping(host, int(port)) == b"+PONG\n"
        new = moved(root, folder, placeholders)
        assert ping_until_pong(host, int(port), PATIENCE) == b"+PONG\n"
        listed = json.loads(run_darse("tunnel", "ls", "--json", cwd=root).stdout)["tunnels"]
        assert [t["remote"] for t in listed] == [f"{new}:6379"]
    finally:
        stopped = run_darse("tunnel", "stop", "--all", cwd=root)
    assert stopped.exit_code == 0, stopped.output
