"""darse.ssh against the real test server (tests/helpers/sshd.py): a control master, forwards carrying
data, and each failure ssh can report, classified into its one-line error."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from darse import ssh
from darse.errors import DarseError

from helpers.sshd import SshServer


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP echo server on the host's loopback (what a tunnel reaches as seen from the SSH server)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


@pytest.fixture
def state() -> Iterator[Path]:
    """A state folder with a short path: a control socket's path must fit in ~100 bytes, pytest's tmp_path
    is longer than a real state folder (/var/lib/darse, ~/.local/state/darse)."""
    folder = Path(tempfile.mkdtemp(prefix="darse-ssh-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def master_of(sshd: SshServer, state: Path, monkeypatch: pytest.MonkeyPatch):
    """`master_of(bin_dir=None, host=alias)` starts a master through that client's ssh; all end after the test."""
    started: list[ssh.Master] = []

    def start(bin_dir: Path | None = None, host: str | None = None) -> ssh.Master:
        sshd.use(monkeypatch, bin_dir)
        master = ssh.Master.start(ssh.Host.parse(host or sshd.alias), state, timeout=60)
        started.append(master)
        return master

    yield start
    for master in started:
        master.exit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def round_trip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def closed_at_once(port: int) -> bool:
    """Whether a connection to the local end is closed without an answer (the far end could not be opened)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        try:
            conn.sendall(b"anyone there?")
            return conn.recv(65536) == b""
        except OSError:  # reset, or closed before the bytes went out
            return True


def fingerprint(known_hosts_line: str) -> str:
    blob = base64.b64decode(known_hosts_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


# --- hosts and sockets --------------------------------------------------------------------------------


def test_hosts_parse_from_targets_and_aliases():
    assert ssh.Host.parse("ssh://darse-tunnel@127.0.0.2:2222") == ssh.Host("127.0.0.2", "darse-tunnel", 2222)
    assert ssh.Host.parse("admin@db.example.org") == ssh.Host("db.example.org", "admin")
    assert ssh.Host.parse("fleet").args() == ["--", "fleet"]
    assert ssh.Host.parse("ssh://u@h:22").args() == ["-l", "u", "-p", "22", "--", "h"]


@pytest.mark.parametrize("text", ["-oProxyCommand=touch /tmp/x", "host name", "ssh://u@h:99999", "h\x1b[2J", "u;x@h"])
def test_hostile_hosts_are_refused_in_one_line(text: str):
    with pytest.raises(DarseError) as caught:
        ssh.Host.parse(text)
    assert "\n" not in caught.value.one_line() and "\x1b" not in caught.value.one_line()


def test_a_password_in_an_address_is_refused_and_never_shown():
    with pytest.raises(DarseError) as caught:
        ssh.Host.parse("ssh://admin:hunter2-secret@host")
    assert "hunter2-secret" not in caught.value.one_line()
    assert "***@" in caught.value.one_line()


def test_control_sockets_are_short_hashed_and_private(state: Path, tmp_path: Path):
    one = ssh.control_path(state, ssh.Host.parse("ssh://a@" + "x" * 200))
    assert one.parent == state / "tunnels" and one.suffix == ".sock"
    assert len(str(one)) < 100
    assert stat.S_IMODE(os.stat(one.parent).st_mode) == 0o700
    assert ssh.control_path(state, ssh.Host.parse("ssh://a@" + "x" * 200)) == one
    assert ssh.control_path(state, ssh.Host.parse("ssh://b@" + "x" * 200)) != one
    with pytest.raises(DarseError) as caught:
        ssh.control_path(tmp_path / ("d" * 90), ssh.Host.parse("h"))
    assert "too long" in caught.value.one_line() and "DARSE_STATE_DIR" in caught.value.one_line()


def test_quoted_output_is_cleaned_and_masked():
    error = ssh.classify("ssh: Could not resolve hostname \x1b[31mevil\x1b[0m https://u:tok3n@x/ y\n", ssh.Host("evil"))
    assert isinstance(error, ssh.HostUnreachable)
    assert "\x1b" not in error.one_line() and "tok3n" not in error.one_line()


# --- the master and its forwards ----------------------------------------------------------------------


def test_a_forward_carries_data_then_is_cancelled(master_of, echo: int, sshd: SshServer):
    master = master_of()
    assert master.alive() and master.check()
    assert master.socket.exists()
    local = free_port()
    fwd = ssh.Forward(local, "127.0.0.1", echo)
    master.forward(fwd)
    payload = os.urandom(300_000)
    assert round_trip(local, payload) == payload
    master.cancel(fwd)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", local), timeout=5).close()
    with pytest.raises(ssh.SshFailed, match="no forward"):
        master.cancel(fwd)
    assert master.exit() is not None
    assert not master.alive() and not master.socket.exists()
    assert ssh.check(master.socket, master.host) is None


def test_several_forwards_share_one_connection(master_of, echo: int):
    master = master_of(host=None)
    ports = [free_port(), free_port()]
    for port in ports:
        master.forward(ssh.Forward(port, "127.0.0.1", echo))
    assert [round_trip(port, b"hello %d" % port) for port in ports] == [b"hello %d" % port for port in ports]
    assert ssh.check(master.socket, master.host) == master.pid


def test_the_target_url_works_like_the_alias(master_of, sshd: SshServer, echo: int):
    master = master_of(host=sshd.url)
    port = free_port()
    master.forward(ssh.Forward(port, "127.0.0.1", echo))
    assert round_trip(port, b"through the url") == b"through the url"


def test_a_second_master_for_the_same_host_is_refused(master_of, state: Path):
    master = master_of()
    with pytest.raises(ssh.SshFailed, match="already has an SSH connection"):
        ssh.Master.start(master.host, state)
    assert master.check()


def test_a_dropped_connection_ends_the_master(master_of, sshd: SshServer):
    master = master_of()
    assert sshd.drop_connections() >= 1
    status = master.wait(timeout=60)  # a supervisor waiting on it notices and reconnects
    assert status is not None, f"the master outlived its connection; sshd's log:\n{sshd.log[-3000:]}"
    assert isinstance(master.failure(), ssh.HostUnreachable)
    again = master_of()  # the stale socket is no obstacle
    assert again.check()


# --- each failure, from the real server ---------------------------------------------------------------


def test_an_unknown_host_key_names_the_offered_fingerprint(master_of, sshd: SshServer):
    with pytest.raises(ssh.HostKeyUnknown) as caught:
        master_of(sshd.client(known_host="none"))
    line = caught.value.one_line()
    assert fingerprint(sshd.host_key_line) in line
    assert "ssh-keygen -F" in line and "\n" not in line


def test_a_changed_host_key_is_an_alarm_with_the_new_fingerprint(master_of, sshd: SshServer):
    with pytest.raises(ssh.HostKeyChanged) as caught:
        master_of(sshd.client(known_host="wrong"))
    line = caught.value.one_line()
    assert "CHANGED" in line and fingerprint(sshd.host_key_line) in line
    assert "known_hosts line 1" in line


def test_a_refused_key_is_an_authentication_error_without_key_material(master_of, sshd: SshServer):
    with pytest.raises(ssh.AuthenticationRefused) as caught:
        master_of(sshd.client(identity="wrong"))
    line = caught.value.one_line()
    assert "publickey" in line
    private = (sshd.folder / "wrong_client_key").read_text()
    body = "".join(private.splitlines()[1:-1])
    assert body[:40] not in line and "PRIVATE KEY" not in line


def test_a_closed_port_is_host_unreachable(master_of, sshd: SshServer):
    closed = socket.socket()
    closed.bind((sshd.host, 0))  # held, never listening: connections are refused
    try:
        with pytest.raises(ssh.HostUnreachable, match="Connection refused"):
            master_of(host=f"ssh://{sshd.user}@{sshd.host}:{closed.getsockname()[1]}")
    finally:
        closed.close()


def test_a_taken_local_port_is_named(master_of, echo: int):
    master = master_of()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ssh.LocalPortTaken, match=f"127.0.0.1:{port}"):
            master.forward(ssh.Forward(port, "127.0.0.1", echo))
    assert master.check()  # the connection survives a refused forward


def test_a_forward_the_server_refuses_is_reported(master_of, sshd: SshServer, echo: int):
    master = master_of(sshd.client(identity="restricted"))
    local = free_port()
    fwd = ssh.Forward(local, "127.0.0.1", echo)
    master.forward(fwd)  # -L binds locally: the server is only asked when a connection comes
    assert closed_at_once(local)
    error = master.forward_error(fwd)
    assert isinstance(error, ssh.ForwardRefused)
    assert "administratively prohibited" in error.one_line()


def test_a_forward_to_nothing_is_reported(master_of, echo: int):
    master = master_of()
    local = free_port()
    fwd = ssh.Forward(local, "127.0.0.1", free_port())
    master.forward(fwd)
    assert closed_at_once(local)
    error = master.forward_error(fwd)
    assert isinstance(error, ssh.ForwardRefused)
    assert "nothing answers" in error.one_line()


def test_the_remote_engine_through_a_socket_forward(master_of, sshd: SshServer, state: Path, engine):
    master = master_of(host=sshd.url)
    fwd = ssh.SocketForward(state / "engine.sock")
    master.forward(fwd)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(30)
        conn.connect(str(fwd.local_path))
        conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"OK"), answer[:200]
    master.cancel(fwd)
    taken = state / "taken.sock"
    taken.write_text("")
    with pytest.raises(ssh.LocalPortTaken, match=r"taken\.sock"):
        master.forward(ssh.SocketForward(taken))  # the path exists: ssh will not bind it
    assert master.check()
