"""The test SSH server itself (tests/helpers/sshd.py): keys only, the right host key, the engine
reachable over it, and connections that can be dropped on purpose."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers.sshd import SshServer


def ssh(bin_dir, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "ssh"), *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_the_alias_logs_in_as_the_test_user(sshd: SshServer):
    proc = ssh(sshd.bin_dir, "-o", "BatchMode=yes", sshd.alias, "id", "-un")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "darse-tunnel"


def test_the_address_and_port_log_in_too(sshd: SshServer):
    proc = ssh(sshd.bin_dir, "-o", "BatchMode=yes", "-p", str(sshd.port), f"{sshd.user}@{sshd.host}", "true")
    assert proc.returncode == 0, proc.stderr


def test_a_password_is_never_accepted(sshd: SshServer):
    proc = ssh(
        sshd.bin_dir,
        "-o", "BatchMode=yes",
        "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
        sshd.alias, "true",
    )  # fmt: skip
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr  # the only method the server offers


def test_root_is_refused_even_with_the_users_key(sshd: SshServer):
    proc = ssh(sshd.bin_dir, "-o", "BatchMode=yes", "-l", "root", sshd.alias, "true")
    assert proc.returncode == 255
    assert "Permission denied" in proc.stderr


def test_a_key_the_server_does_not_know_is_refused(sshd: SshServer):
    proc = ssh(sshd.client(identity="wrong"), "-o", "BatchMode=yes", sshd.alias, "true")
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr


def test_a_wrong_known_host_key_stops_the_client(sshd: SshServer):
    proc = ssh(sshd.client(known_host="wrong"), "-o", "BatchMode=yes", sshd.alias, "true")
    assert proc.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stderr


def test_an_unknown_host_key_stops_the_client(sshd: SshServer):
    proc = ssh(sshd.client(known_host="none"), "-o", "BatchMode=yes", sshd.alias, "true")
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr


def test_drop_connections_ends_a_running_session(sshd: SshServer):
    session = subprocess.Popen(
        [str(sshd.bin_dir / "ssh"), "-o", "BatchMode=yes", sshd.alias, "echo ready; exec sleep 120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert session.stdout.readline().strip() == "ready"
        assert sshd.drop_connections() >= 1
        assert session.wait(timeout=30) == 255  # the client saw the connection go
    finally:
        session.kill()
        session.wait()
    assert ssh(sshd.bin_dir, "-o", "BatchMode=yes", sshd.alias, "true").returncode == 0  # the listener lives on


def test_the_engine_answers_over_ssh(sshd: SshServer, engine, monkeypatch: pytest.MonkeyPatch):
    sshd.use(monkeypatch)
    local = engine.version()["Version"]
    for url in (sshd.alias_url, sshd.url):
        proc = subprocess.run(
            ["docker", "-H", url, "version", "--format", "{{json .Server}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Version"] == local
