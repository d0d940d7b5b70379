"""A real SSH server for the tests: Debian's OpenSSH sshd on a loopback address, with its own config,
host key and test user, and the client side that reaches it.

The server listens on 127.0.0.2:2222 (another free port on 127.0.0.2 when a concurrent test session
already holds 2222) and lets in one user, `darse-tunnel`, by an ed25519 key only: no password, no
root. That user is in the `docker` group, so `ssh://darse-tunnel@127.0.0.2:2222` is a remote target
whose engine is this machine's.

OpenSSH reads ~/.ssh from the passwd entry, not $HOME, so the client side is a config file of its own
(`Host darse-test-fleet` and `Host 127.0.0.2`: identity, known host key, strict checking) and a folder
holding an executable `ssh` that execs `/usr/bin/ssh -F <that config> "$@"`. Tests put the folder first
on PATH (`server.use(monkeypatch)`): docker-py's ssh helper, the docker CLI and darse then all run it.

sshd's StrictModes checks every folder above the authorized keys up to `/`: none may be group or world
writable, which /tmp is. The server's folder therefore lives under /run (root's, 0755).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
SSH = Path("/usr/bin/ssh")
SSH_KEYGEN = Path("/usr/bin/ssh-keygen")
ADDRESS = "127.0.0.2"
PREFERRED_PORT = 2222
USER = "darse-tunnel"
ALIAS = "darse-test-fleet"
START_TIMEOUT = 15.0  # s for sshd to accept connections


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=True, **kwargs)


def _keygen(path: Path, comment: str) -> str:
    """A fresh unencrypted ed25519 key pair at `path` (private, 0600) and `path`.pub; the public line."""
    _run([str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path.with_suffix(".pub").read_text().strip()


def _ensure_user() -> pwd.struct_passwd:
    """The test user, created when missing: a shell, a home, the docker group, and a password field of
    `*` (no password can match it, yet the account is not "locked", which sshd would refuse even for keys)."""
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "-m", "-s", "/bin/sh", "-G", "docker", "-p", "*", "--", USER],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        try:
            entry = pwd.getpwnam(USER)
        except KeyError:  # not created, not even by a concurrent session
            pytest.fail(f"useradd {USER} failed: {proc.stderr.strip()}", pytrace=False)
    groups = _run(["id", "-nG", "--", USER]).stdout.split()
    if "docker" not in groups:
        _run(["usermod", "-aG", "docker", "--", USER])
    return entry


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ADDRESS, port))
        except OSError:
            return False
        return True


def _pick_port() -> int:
    if _port_free(PREFERRED_PORT):
        return PREFERRED_PORT
    with socket.socket() as probe:
        probe.bind((ADDRESS, 0))
        return probe.getsockname()[1]


def _descendants(root: int) -> list[int]:
    """Every process below `root` (children first found, then theirs), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) is in parentheses and may hold spaces: fields resume after the last ")"
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def _zombie(pid: int) -> bool:
    """Whether `pid` has ended and waits for its parent (sshd reaps its children itself), or is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].split()[0] in ("Z", "X")


@dataclass
class SshServer:
    """The running test server and the client files that reach it."""

    folder: Path
    port: int
    host_key_line: str  # the server's public host key, as known_hosts holds it
    process: subprocess.Popen
    host: str = ADDRESS
    user: str = USER
    alias: str = ALIAS

    @property
    def url(self) -> str:
        """The engine of this machine reached over SSH, as a target names it."""
        return f"ssh://{self.user}@{self.host}:{self.port}"

    @property
    def alias_url(self) -> str:
        return f"ssh://{self.alias}"

    @property
    def bin_dir(self) -> Path:
        """The folder whose `ssh` reaches the server with the right key and the right known host key."""
        return self.folder / "client-good" / "bin"

    @property
    def log(self) -> str:
        return (self.folder / "sshd.log").read_text(errors="replace")

    def client(self, *, known_host: str = "good", identity: str = "good") -> Path:
        """A folder holding an `ssh` wrapper whose config knows the server by `known_host` ("good", "wrong":
        another key recorded for the same address, "none": an empty known_hosts) and logs in with
        `identity` ("good", "wrong": a key the server does not authorise, "restricted": a key allowed in but
        whose forwards the server refuses, `permitopen` in authorized_keys)."""
        if known_host not in ("good", "wrong", "none") or identity not in ("good", "wrong", "restricted"):
            raise ValueError(f"unknown client variant {known_host!r}/{identity!r}")
        name = f"client-{known_host}" if (known_host, identity) != ("good", "good") else "client-good"
        if identity != "good":
            name += f"-id-{identity}"
        client = self.folder / name
        wrapper = client / "bin" / "ssh"
        if wrapper.exists():
            return wrapper.parent
        (client / "bin").mkdir(parents=True)
        wrong = (self.folder / "wrong_host_key.pub").read_text().strip()
        known = {"good": self.host_key_line, "wrong": wrong, "none": ""}
        pattern = f"[{self.host}]:{self.port}"
        lines = []
        if known[known_host]:
            key_type, key = known[known_host].split()[:2]
            lines.append(f"{pattern} {key_type} {key}\n")
        (client / "known_hosts").write_text("".join(lines))
        keys = {"good": "client_key", "wrong": "wrong_client_key", "restricted": "restricted_key"}
        key = self.folder / keys[identity]
        (client / "ssh_config").write_text(
            f"Host {self.alias} {self.host}\n"
            f"  HostName {self.host}\n"
            f"  Port {self.port}\n"
            f"  User {self.user}\n"
            f"  IdentityFile {key}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {client / 'known_hosts'}\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n"
            "  CheckHostIP no\n"
            "  ConnectTimeout 10\n"
        )
        wrapper.write_text(f'#!/bin/sh\nexec {SSH} -F {client / "ssh_config"} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper.parent

    def use(self, monkeypatch: pytest.MonkeyPatch, bin_dir: Path | None = None) -> Path:
        """Put a client's `ssh` first on PATH for one test (the good client by default)."""
        bin_dir = bin_dir or self.bin_dir
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        return bin_dir

    def drop_connections(self) -> int:
        """Kill every session process of this server (not the listener): each client sees its connection
        drop, as when a network fails. Returns how many processes were killed."""
        killed: set[int] = set()
        sessions = set(_descendants(self.process.pid))  # new connections made from now on are spared
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            sessions.update(child for pid in list(sessions) for child in _descendants(pid))
            alive = [pid for pid in sessions if not _zombie(pid)]
            if not alive:
                break
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.02)
        return len(killed)

    def stop(self) -> None:
        self.drop_connections()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def start_sshd() -> Iterator[SshServer]:
    """Start the test server; stop it and remove its folder on exit, also after a failure."""
    for tool in (SSHD, SSH, SSH_KEYGEN):
        if not tool.is_file():
            pytest.fail(f"{tool} is missing; `bash .ci/run` installs openssh-server", pytrace=False)
    _ensure_user()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # Debian's sshd privilege separation folder
    folder = Path(tempfile.mkdtemp(prefix="darse-test-sshd-", dir="/run"))
    process: subprocess.Popen | None = None
    try:
        folder.chmod(0o755)  # the test user reads its authorized keys below (StrictModes: not writable)
        host_key_line = _keygen(folder / "ssh_host_ed25519_key", "darse-test-sshd")
        _keygen(folder / "wrong_host_key", "not-the-server")
        client_line = _keygen(folder / "client_key", "darse-test-client")
        _keygen(folder / "wrong_client_key", "not-authorised")
        keys = folder / "authorized_keys"
        keys.mkdir(mode=0o755)
        restricted_line = _keygen(folder / "restricted_key", "darse-test-no-forwards")
        (keys / USER).write_text(f'{client_line}\npermitopen="127.0.0.1:1" {restricted_line}\n')
        (keys / USER).chmod(0o644)
        port = _pick_port()
        config = folder / "sshd_config"
        config.write_text(
            f"ListenAddress {ADDRESS}:{port}\n"
            f"HostKey {folder / 'ssh_host_ed25519_key'}\n"
            f"PidFile {folder / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {keys}/%u\n"
            "AuthenticationMethods publickey\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitEmptyPasswords no\n"
            "PermitRootLogin no\n"
            f"AllowUsers {USER}\n"
            "AllowTcpForwarding yes\n"
            "StrictModes yes\n"
            "UsePAM no\n"
            "X11Forwarding no\n"
            "PrintMotd no\n"
            "MaxStartups 100\n"
            "MaxSessions 100\n"
            "LogLevel VERBOSE\n"
        )
        _run([str(SSHD), "-t", "-f", str(config)])
        log = (folder / "sshd.log").open("wb")
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"sshd exited: {(folder / 'sshd.log').read_text(errors='replace')[-2000:]}", pytrace=False)
            try:
                socket.create_connection((ADDRESS, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"sshd does not answer on {ADDRESS}:{port}", pytrace=False)
                time.sleep(0.05)
        server = SshServer(folder=folder, port=port, host_key_line=host_key_line, process=process)
        server.client()
        yield server
    finally:
        if process is not None:
            SshServer(folder=folder, port=0, host_key_line="", process=process).stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    """The test SSH server for the whole session (see the module's docstring)."""
    with start_sshd() as server:
        yield server
