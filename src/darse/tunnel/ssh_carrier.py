"""Tunnels to an ssh:// target: forwards of one SSH control master per host (`darse.ssh.Master`).

Every tunnel a darse process holds to a host goes through that host's one master (one SSH connection,
not one per tunnel: sshd's session limits stay out of the way). When the master ends (the connection
dropped, the server restarted), each tunnel sees it as unhealthy; the first to reopen starts a new
master, and each re-adds its own forward to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from darse import ssh
from darse.tunnel.plan import TunnelPlan


class SshLink:
    """One host's control master for this process, started on first use and again after it ended."""

    def __init__(self, url: str, state: Path, background: bool) -> None:
        self.host = ssh.Host.parse(url)
        self.state = state
        self.background = background
        self.master: ssh.Master | None = None
        self.generation = 0  # counts the masters started: a forward belongs to one of them

    def ensure(self) -> ssh.Master:
        if self.master is None or not self.master.alive():
            if self.master is not None:
                self.master.kill()  # reaps it and removes its socket
            self.master = ssh.Master.start(self.host, self.state, new_session=self.background)
            self.generation += 1
        return self.master

    def alive(self, generation: int) -> bool:
        return self.master is not None and self.generation == generation and self.master.alive()

    def close(self) -> None:
        if self.master is not None:
            self.master.exit()
            self.master = None


class SshTunnel:
    """One forward `local → container address:port` of its host's master."""

    def __init__(self, plan: TunnelPlan, link: SshLink, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.link = link
        self.log = log
        self.forward = ssh.Forward(plan.local_port, plan.address, plan.port, plan.local_host)
        self.generation = -1

    def open(self) -> None:
        master = self.link.ensure()
        master.forward(self.forward)
        self.generation = self.link.generation

    def healthy(self) -> bool:
        return self.link.alive(self.generation)

    def refusal(self) -> str:
        """Why connections through the forward fail, as the master logged it ("" when it did not)."""
        master = self.link.master
        error = master.forward_error(self.forward) if master is not None else None
        return error.one_line() if error is not None else ""

    def close(self) -> None:
        master = self.link.master
        if master is not None and self.healthy():
            with contextlib.suppress(ssh.SshError):
                master.cancel(self.forward)
        self.generation = -1


class SshLinks:
    """The masters of one darse process, by target URL; `close()` ends them all."""

    def __init__(self, state: Path, background: bool) -> None:
        self.state = state
        self.background = background
        self.links: dict[str, SshLink] = {}

    def tunnel(self, plan: TunnelPlan, log: Callable[[str], None]) -> SshTunnel:
        link = self.links.get(plan.host)
        if link is None:
            link = self.links[plan.host] = SshLink(plan.host, self.state, self.background)
        return SshTunnel(plan, link, log)

    def close(self) -> None:
        for link in self.links.values():
            link.close()
