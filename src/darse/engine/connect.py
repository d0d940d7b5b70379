"""The one way darse reaches an engine: `connect(endpoint)` gives an `Engine` that answered, or a
one-line DarseError.

The local engine (no context, DOCKER_HOST unset or a unix socket) is spoken to with the standard
library (`darse.engine.local`): docker-py's import (~0.3 s) would be a large share of a short command
such as `darse up` of one service, which must stay within 15 % of plain `docker compose`. An ssh://
engine is reached through the system's OpenSSH client (`darse.ssh`: ~/.ssh/config, the agent,
ProxyJump and known_hosts as the admin has them): one SSH connection forwards the remote engine's
socket to a private local one, spoken to like the local engine (docker-py's own SSH support needs
paramiko and ignores ssh_config's Port). Any other endpoint (TCP, TLS) goes through docker-py
(`darse.engine.docker_py`). Compose gets the endpoint itself (`DOCKER_HOST=ssh://...`: its own ssh).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from darse.engine.compose import Endpoint
from darse.engine.docker import Engine
from darse.engine.local import LocalEngine, local_socket
from darse.errors import DarseError

DEFAULT_URL = "unix:///var/run/docker.sock"
BUILD_TIMEOUT = 600  # s without a byte from the engine during a build or a push (a long silent RUN step)
CONNECT_TIMEOUT = 5.0  # s to open a TCP connection to an engine: an address that drops packets fails then
UNREACHABLE_HINT = "start dockerd (`systemctl start docker`), or check DOCKER_HOST / `docker context ls`"
REMOTE_UNREACHABLE_HINT = (
    "check that the engine answers from this machine (network, firewall, TLS certificates, ssh access): "
    "`docker -H {url} info`"
)


def unreachable_hint(url: str) -> str:
    """What to try: a local engine is started; a remote one is reached (starting the local daemon would not help)."""
    if url.startswith("unix://") or url.startswith("npipe://"):
        return UNREACHABLE_HINT
    return REMOTE_UNREACHABLE_HINT.format(url=url)


def context_host(context: str) -> str:
    """The engine endpoint of a Docker context, asked of the docker CLI: contexts are its business, and
    docker-py's own reader misses contexts that recent CLIs write."""
    try:
        proc = subprocess.run(
            ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", "--", context],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        raise DarseError(f"no docker context named {context!r}", "see `docker context ls`")
    return proc.stdout.strip()


def connect(endpoint: Endpoint | None = None, timeout: float = 60, ssh_control: Path | None = None) -> Engine:
    """An engine on `endpoint` (the environment's when None) checked to answer a ping.

    `timeout` bounds every read on the connection: builds and pushes, whose steps can be silent for
    minutes, ask for more than the default. `ssh_control`: the control socket of an SSH master darse
    already holds to an ssh:// endpoint's host (a tunnel's), used instead of a login of its own."""
    endpoint = endpoint or Endpoint()
    url = endpoint.docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_URL
    try:
        if endpoint.context:
            url = context_host(endpoint.context)
        socket_path = None if endpoint.context else local_socket(endpoint.docker_host)
        if socket_path is None and url.startswith("ssh://"):
            engine = _over_ssh(url, endpoint, timeout, ssh_control)
            engine.api.ping()
            return engine
        if socket_path is None:
            _tcp_answers(url, CONNECT_TIMEOUT)
        if socket_path is not None:
            engine = Engine(LocalEngine(socket_path, timeout=timeout), endpoint, url, timeout=timeout)
        else:
            from darse.engine import docker_py

            if endpoint.context or endpoint.docker_host:  # ssh:// through the system's ssh client
                api = docker_py.api_for(url, timeout, use_ssh_client=url.startswith("ssh://"))
            else:  # DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH as the docker CLI reads them
                api = docker_py.api_for(None, timeout)
            engine = Engine(api, endpoint, url, errors=docker_py.errors, timeout=timeout)
        engine.api.ping()
    except DarseError:
        raise
    except Exception as exc:  # socket/requests/urllib3/docker errors: all mean "no engine answers"
        raise DarseError(
            f"cannot reach the Docker engine at {url} ({type(exc).__name__})", unreachable_hint(url)
        ) from None
    return engine


def _over_ssh(url: str, endpoint: Endpoint, timeout: float, control: Path | None = None) -> Engine:
    """The engine behind `ssh://[user@]host[:port]`: an SSH master's forward puts the remote
    /var/run/docker.sock at a socket in a private temporary folder. The master is this engine's own,
    ended when it closes, unless `control` names one that answers (then only the forward is undone)."""
    from darse import ssh

    host = ssh.Host.parse(url)
    folder = Path(tempfile.mkdtemp(prefix="darse-ssh-"))  # mode 0700: the socket is the engine itself
    fwd = ssh.SocketForward(folder / "engine.sock")
    master: ssh.Master | None = None
    borrowed = False
    if control is not None:  # the holder checked it just before; if it went away since, a login of our own
        with contextlib.suppress(ssh.SshError):
            ssh.forward(control, host, fwd)
            borrowed = True
    try:
        if not borrowed:
            master = ssh.Master.start(host, folder, timeout=timeout)
            master.forward(fwd)
        engine = Engine(LocalEngine(str(fwd.local_path), timeout=timeout), endpoint, url, timeout=timeout)
    except BaseException:
        if master is not None:
            master.exit()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    done: list[bool] = []

    def end() -> None:  # once: at close, or when darse exits without closing (the ssh child would stay)
        if done:
            return
        done.append(True)
        if master is not None:
            master.exit()
        elif borrowed and control is not None:
            with contextlib.suppress(ssh.SshError):
                ssh.cancel(control, host, fwd)
        shutil.rmtree(folder, ignore_errors=True)

    engine.on_close(end)
    atexit.register(end)
    return engine


def _tcp_answers(url: str, timeout: float) -> None:
    """A TCP engine accepts a connection within `timeout` seconds, else OSError: the client's own
    timeout bounds every read (minutes, for builds), and a host that drops packets would hang that long.
    Other schemes (ssh://, whose host may be an alias of the ssh configuration) are left to their client."""
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "http", "https") or not parts.hostname:
        return
    tls = parts.scheme == "https" or bool(os.environ.get("DOCKER_TLS_VERIFY"))
    port = parts.port or (2376 if tls else 2375)
    with socket.create_connection((parts.hostname, port), timeout=timeout):
        pass
