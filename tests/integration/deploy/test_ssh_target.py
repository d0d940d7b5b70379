"""A Compose target reached over SSH: `ssh://darse-tunnel@127.0.0.2:2222` (and its ssh_config alias) in
darse.toml, served by the test sshd (tests/helpers/sshd.py) whose user may use this machine's engine.

darse's own engine client (an SSH connection forwarding the remote engine's socket, darse.ssh) and the
Compose CLI both go through the `ssh` first on PATH, the test server's client wrapper: the address and
its ssh_config alias (whose Port must be honoured) both work, and a refused key is one line."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.sshd import SshServer

TIMEOUT = "60"


def _target(stack: Stack, host: str) -> None:
    config = stack.root / "darse.toml"
    config.write_text(
        config.read_text() + f'\n[targets.remote]\nhost = "{host}"\n[services."{stack.name}"]\ntarget = "remote"\n'
    )
    stack.commit("deploy over ssh")


@pytest.mark.parametrize("form", ["url", "alias"])
def test_up_status_down_over_ssh(stack: Stack, sshd: SshServer, monkeypatch: pytest.MonkeyPatch, form: str):
    sshd.use(monkeypatch)
    _target(stack, sshd.url if form == "url" else sshd.alias_url)
    up = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert up.returncode == 0, up.stdout + up.stderr
    assert set(stack.containers()) == {"web", "db"}  # on this engine, reached through sshd
    status = stack.darse("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {row["service"]: row for row in json.loads(status.stdout)["services"]}
    assert rows[stack.name]["state"] == "in-sync", rows[stack.name]
    down = stack.darse("down", stack.name)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not stack.containers()
    assert _ssh_leftovers() == []  # each darse ended its SSH connection and removed its socket


def _ssh_leftovers() -> list[str]:
    """darse's SSH connections to the engine still there: their folders, their `ssh -M` processes."""
    folders = [str(p) for p in Path(tempfile.gettempdir()).glob("darse-ssh-*")]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return folders + [line for line in ps.splitlines() if "darse-ssh-" in line and line.startswith("ssh")]


def test_a_refused_key_is_one_line_that_says_so(stack: Stack, sshd: SshServer, monkeypatch: pytest.MonkeyPatch):
    sshd.use(monkeypatch, sshd.client(identity="wrong"))
    _target(stack, sshd.url)
    up = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert up.returncode == 2, up.stdout + up.stderr
    lines = up.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in up.stderr, up.stderr
    assert "Permission denied" in lines[0] or "refused the login" in lines[0], lines[0]
    assert not stack.containers()
