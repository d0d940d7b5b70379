"""`darse tunnel` to an ssh:// target, for real: Debian's sshd on the loopback (the `sshd` fixture),
whose user's engine is this machine's, so the container is remote as far as darse knows. The tunnel
carries traffic, comes back after its SSH connection is killed, and runs in the background from an
alias; its control master ends with it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse.tunnel.locate import tunnel_plans
from darse.tunnel.run import hold_tunnels

from helpers.cli import run_darse
from helpers.engine import ensure_busybox
from helpers.recreate import recreate_elsewhere
from helpers.repo import write_tree
from helpers.tcp import REDIS_LIKE, REDIS_LIKE_COMPOSE, ping
from helpers.tunnels import ping_until_pong, tunnels_held

RECONNECT_PATIENCE = 90.0  # s: generous; how fast it really comes back is a benchmark figure


@pytest.fixture(scope="module")
def fleet(engine: docker.DockerClient, sshd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    ensure_busybox(engine, REDIS_LIKE)
    folder = f"tunssh{uuid.uuid4().hex[:10]}"
    root = write_tree(
        tmp_path_factory.mktemp("tunnel-ssh") / "fleet",
        {
            "darse.toml": f'[targets.fleet]\nhost = "{sshd.alias_url}"\n[services.{folder}]\ntarget = "fleet"\n'
            f'[tunnels.remote-cache]\nservice = "{folder}"\n',
            f"{folder}/compose.yaml": REDIS_LIKE_COMPOSE,
        },
    )
    compose = ["docker", "compose", "--project-name", folder, "-f", str(root / folder / "compose.yaml")]
    subprocess.run([*compose, "up", "-d"], check=True, capture_output=True, timeout=120)
    try:
        yield root, folder
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "1"], capture_output=True, timeout=120)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd) -> Path:
    sshd.use(monkeypatch)  # the test client's ssh first on PATH: its config, key and known host
    folder = Path("/tmp") / f"dt-{uuid.uuid4().hex[:8]}"  # short: a control socket's path is limited
    folder.mkdir()
    monkeypatch.setenv("DARSE_STATE_DIR", str(folder))
    yield folder
    subprocess.run(["rm", "-rf", "--", str(folder)], check=False)


def test_a_remote_container_through_ssh_and_back_after_a_drop(fleet: tuple[Path, str], state: Path, sshd) -> None:
    root, folder = fleet
    [plan] = tunnel_plans(root, [folder])
    assert (plan.mode, plan.host, plan.port, plan.kind) == ("ssh", sshd.alias_url, 6379, "redis")
    stop, ready, lines = threading.Event(), threading.Event(), []
    holder = threading.Thread(
        target=hold_tunnels,
        args=(state, [plan], stop),
        kwargs={"log": lines.append, "ready": lambda _plans: ready.set()},
        daemon=True,
    )
    holder.start()
    try:
        assert ready.wait(60), lines
        assert ping(plan.local_host, plan.local_port) == b"+PONG\n"
        assert sshd.drop_connections() > 0
        deadline = time.monotonic() + RECONNECT_PATIENCE
        answer = b""
        while time.monotonic() < deadline and not any("open again" in line for line in lines):
            time.sleep(0.2)
        while time.monotonic() < deadline and answer != b"+PONG\n":
            try:
                answer = ping(plan.local_host, plan.local_port)
            except OSError:
                time.sleep(0.2)
        assert answer == b"+PONG\n", lines
        assert any("the tunnel dropped" in line for line in lines), lines
    finally:
        stop.set()
        holder.join(30)
    assert not holder.is_alive()
    assert not list((state / "tunnels").glob("*.sock"))  # the master ended with the tunnel


def test_an_alias_to_the_remote_host_in_the_background(fleet: tuple[Path, str], state: Path, sshd) -> None:
    """The command plans through an SSH master it then hands to the background process: one login."""
    root, folder = fleet
    logins = sshd.log.count("Accepted publickey")
    result = run_darse("tunnel", "remote-cache", "--background", "--json", cwd=root)
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["tunnels"]
    host, _sep, port = entry["local"].rpartition(":")
    try:
        assert (entry["folder"], entry["target"]) == (folder, "fleet")
        assert ping(host, int(port)) == b"+PONG\n"
        assert sshd.log.count("Accepted publickey") - logins == 1
        assert len(_masters(state)) == 1
    finally:
        stopped = run_darse("tunnel", "stop", "--all", cwd=root)
    assert stopped.exit_code == 0, stopped.output
    assert not list((state / "tunnels").glob("*.sock"))


@pytest.mark.parametrize(
    ("known_host", "identity", "words"), [("wrong", "good", "host key"), ("good", "wrong", "refused")]
)
def test_ssh_refusals_are_one_line(
    fleet: tuple[Path, str], state: Path, sshd, monkeypatch: pytest.MonkeyPatch, known_host, identity, words
) -> None:
    root, folder = fleet
    sshd.use(monkeypatch, sshd.client(known_host=known_host, identity=identity))
    result = run_darse("tunnel", folder, cwd=root)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("darse: ") and words in line.lower(), line
    assert "PRIVATE KEY" not in result.output + result.stderr


def test_two_darse_processes_share_one_ssh_connection_to_a_host(fleet: tuple[Path, str], state: Path) -> None:
    root, folder = fleet
    first = run_darse("tunnel", "remote-cache", "--background", "--json", cwd=root)
    second = run_darse("tunnel", folder, "--background", "--json", cwd=root)
    try:
        assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
        entries = [json.loads(r.stdout)["tunnels"][0] for r in (first, second)]
        assert entries[0]["pid"] != entries[1]["pid"]
        for entry in entries:
            host, _sep, port = entry["local"].rpartition(":")
            assert ping(host, int(port)) == b"+PONG\n"
        masters = subprocess.run(
            ["pgrep", "-f", "--", f"-M -S {state}/"], capture_output=True, text=True
        ).stdout.split()
        assert len(masters) == 1
    finally:
        stopped = run_darse("tunnel", "stop", "--all", cwd=root)
    assert stopped.exit_code == 0, stopped.output


def test_a_tunnel_in_the_foreground_logs_in_once(fleet: tuple[Path, str], state: Path, sshd) -> None:
    """Planning asks the remote engine through the master that then carries the tunnel: one login."""
    root, folder = fleet
    logins = sshd.log.count("Accepted publickey")
    with tunnels_held(root, [folder]) as (plans, _lines):
        assert ping(plans[0].local_host, plans[0].local_port) == b"+PONG\n"
        assert sshd.log.count("Accepted publickey") - logins == 1
    assert not list((state / "tunnels").glob("*.sock"))  # the master ended with the tunnel


def _masters(state: Path) -> list[str]:
    """The pids of SSH control masters with their socket in `state`."""
    return subprocess.run(["pgrep", "-f", "--", f"-M -S {state}/"], capture_output=True, text=True).stdout.split()


def test_the_darse_program_logs_in_before_parsing_and_uses_that_login(
    fleet: tuple[Path, str], state: Path, sshd
) -> None:
    """`darse tunnel NAME` as a user runs it: the login started before the CLI is imported is the one
    the tunnel uses (one login in sshd's log), and it ends with darse."""
    root, folder = fleet
    logins = sshd.log.count("Accepted publickey")
    darse = subprocess.Popen(
        [sys.executable, "-m", "darse", "tunnel", folder, "--json"], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert darse.stdout is not None
        text, line = "", ""
        while line != "}\n":  # darse prints its JSON once the tunnel carried traffic
            line = darse.stdout.readline().decode()
            assert line, darse.stderr.read() if darse.stderr else ""
            text += line
        [plan] = json.loads(text)["tunnels"]
        host, _sep, port = plan["local"].rpartition(":")
        assert ping(host, int(port)) == b"+PONG\n"
        assert sshd.log.count("Accepted publickey") - logins == 1
        assert len(_masters(state)) == 1
    finally:
        darse.terminate()
        darse.communicate(timeout=30)
    assert darse.returncode == 0
    assert _masters(state) == []


def test_a_login_started_for_a_command_line_that_fails_ends_with_darse(fleet: tuple[Path, str], state: Path) -> None:
    root, folder = fleet
    darse = subprocess.run(
        [sys.executable, "-m", "darse", "tunnel", folder, "--port", "not-a-port"], cwd=root, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert darse.returncode == 2, darse.stderr
    assert "--port" in darse.stderr
    assert _masters(state) == []
    assert not list((state / "tunnels").glob("*.sock"))


def test_a_tunnel_over_ssh_follows_its_re_created_container(fleet: tuple[Path, str], state: Path) -> None:
    """A redeploy re-creates the container at another address: the master's forward is moved to it."""
    root, folder = fleet
    placeholder = ""
    try:
        with tunnels_held(root, [folder]) as (plans, lines):
            plan = plans[0]
            assert ping(plan.local_host, plan.local_port) == b"+PONG\n"
            compose = ["docker", "compose", "--project-name", folder, "-f", str(root / folder / "compose.yaml")]
            new, placeholder = recreate_elsewhere(compose, folder, "db", REDIS_LIKE)
            assert new != plan.address  # the move this test is about happened
            assert ping_until_pong(plan.local_host, plan.local_port, RECONNECT_PATIENCE) == b"+PONG\n", lines
            assert any(f"now at {new}" in line for line in lines), lines
    finally:
        if placeholder:
            subprocess.run(["docker", "rm", "-f", placeholder], capture_output=True, timeout=60)
