"""`darse tunnel`'s plan: which container, at which address and port, on which host, and where locally.

The plan is what `darse.tunnel.run` opens; `darse.tunnel.locate` makes it (it reads the repository and
asks the target's engine). This module stays light on purpose: `darse tunnel` reads darse.toml with it
and starts the SSH login to an ssh:// target before the heavier planning is even imported, so that the
login and the planning overlap (docs/tunnel.md, benchmarks/tunnel_bench.py).
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from darse.config import RepoConfig, Target, TunnelAlias, parse_local_bind
from darse.errors import DarseError

LOCAL = "local"  # darse relays the port itself (the local engine)
SSH = "ssh"  # through the system's OpenSSH client (an ssh:// target)
DEFAULT_BIND = "127.0.0.1"

# How to connect to each kind of database: placeholders only, never a value from the environment.
_HINTS = {
    "postgres": "psql -h {host} -p {port} -U <user> <database>",
    "mariadb": "mariadb -h {host} -P {port} -u <user> -p <database>",
    "mysql": "mysql -h {host} -P {port} -u <user> -p <database>",
    "redis": "redis-cli -h {host} -p {port}",
    "mongodb": 'mongosh "mongodb://{host}:{port}/<database>" -u <user>',
}


@dataclass(frozen=True)
class TunnelPlan:
    """One tunnel to open: the container's `address:port` on the target reached from `local_host:local_port`."""

    name: str  # the alias, else the service folder
    folder: str
    service: str  # the Compose service
    target: str  # darse.toml's target name
    mode: str  # LOCAL or SSH
    host: str  # the ssh:// URL of the target ("" on the local engine)
    container: str  # the container's name
    network: str
    address: str  # the container's IP on `network`
    port: int
    local_host: str
    local_port: int
    kind: str = ""  # the database kind of the image ("" when not recognised)
    # s the target's engine took to answer the planning, through the path the tunnel takes (the same SSH
    # connection): a refusal at the far end comes back within about that, so the readiness check waits so long
    answer_time: float = 0.0

    @property
    def local_address(self) -> str:
        host = f"[{self.local_host}]" if ":" in self.local_host else self.local_host
        return f"{host}:{self.local_port}"

    @property
    def hint(self) -> str:
        """A ready-to-use client command for known databases, with `<user>` and `<database>` placeholders."""
        template = _HINTS.get(self.kind, "")
        return template.format(host=self.local_host, port=self.local_port) if template else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": self.folder,
            "service": self.service,
            "target": self.target,
            "mode": self.mode,
            "host": self.host or None,
            "container": self.container,
            "network": self.network,
            "address": self.address,
            "port": self.port,
            "local": self.local_address,
            "kind": self.kind or None,
            "hint": self.hint or None,
        }


def choose_local(text: str, taken: set[tuple[str, int]]) -> tuple[str, int]:
    """The local address to listen on: `[ADDR:]PORT` checked free now, else a free port of 127.0.0.1."""
    if not text:
        return DEFAULT_BIND, free_port(DEFAULT_BIND)
    host, port = parse_local_bind(text)
    if (host, port) in taken:
        raise DarseError(f"local port {port} is given to two tunnels", "give each tunnel its own --local port")
    check_bindable(host, port)
    return host, port


def free_port(host: str = DEFAULT_BIND) -> int:
    """A port the system has free on `host` now (asked by binding port 0)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def check_bindable(host: str, port: int) -> None:
    """One-line error when `host:port` cannot be listened on: taken, or an address this host lacks."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            probe.listen(1)
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE
            raise DarseError(
                f"local port {port} on {host} is taken", "choose another with --local, or leave it out for a free one"
            ) from None
        raise DarseError(
            f"cannot listen on {host}:{port} ({exc.strerror})", "give --local an address of this machine"
        ) from None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def target_mode(target: Target, folder: str) -> str:
    """LOCAL for the local engine (no context, no host, or a unix socket), SSH for ssh:// hosts."""
    if target.is_swarm:
        raise DarseError(
            f"{folder} runs on the Swarm target {target.name}: a Swarm service's overlay addresses are not "
            "reachable from a host",
            "darse tunnel reaches services of Compose targets; publish the port, or run a Compose helper on a node",
        )
    if target.context:
        raise DarseError(
            f"{folder} runs on target {target.name} (Docker context {target.context}): darse tunnel does not "
            "reach Docker contexts yet",
            'give the target host = "ssh://user@host" in darse.toml',
        )
    host = target.host
    if not host or host.startswith("unix://"):
        return LOCAL
    if host.startswith("ssh://"):
        return SSH
    raise DarseError(
        f"{folder} runs on target {target.name} ({host.split('://')[0]}://): darse tunnel reaches only the local "
        "engine and ssh:// hosts",
        'give the target host = "ssh://user@host" in darse.toml',
    )


def alias_or_folder(config: RepoConfig, name: str) -> TunnelAlias:
    """darse.toml's `[tunnels.NAME]`, else a tunnel to the folder `name` with nothing chosen."""
    return config.tunnels.get(name) or TunnelAlias(name, name)


def ssh_hosts(config: RepoConfig, names: list[str]) -> list[str]:
    """The ssh:// hosts the tunnels `names` go to, from darse.toml alone (no folder read, no engine
    asked): their logins can start at once. A name that is wrong here is reported by the planning."""
    hosts: list[str] = []
    for name in names:
        folder = alias_or_folder(config, name).service
        with contextlib.suppress(DarseError, KeyError):
            target = config.target_for(folder)
            if target_mode(target, folder) == SSH and target.host not in hosts:
                hosts.append(target.host)
    return hosts
