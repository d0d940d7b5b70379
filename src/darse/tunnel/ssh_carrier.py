"""Tunnels to an ssh:// target: forwards of one SSH control master per host (`darse.ssh.Master`).

Every tunnel darse holds to a host goes through that host's one master (one SSH connection, not one per
tunnel: sshd's session limits stay out of the way); a second darse process borrows the first one's.
When the master ends (the connection dropped, the server restarted), each tunnel sees it as unhealthy;
the first to reopen starts a new master, and each re-adds its own forward to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from darse import ssh
from darse.tunnel import early

if TYPE_CHECKING:
    from darse.tunnel.plan import TunnelPlan


class SshLink:
    """One host's control master for this process's tunnels: darse's own (started on first use, and
    again after it ended), or, when another darse process already holds one for the host, that one
    borrowed (its forwards are added through its socket: still one SSH connection per host). When the
    lender ends, the tunnels see it and the next `ensure` starts a master of this process's own."""

    def __init__(self, url: str, state: Path, background: bool) -> None:
        self.url = url
        self.host = ssh.Host.parse(url)
        self.state = state
        self.background = background
        self.master: ssh.Master | None = None
        self.borrowed: tuple[Path, int] | None = None  # another darse's master: its socket and pid
        self.adopted = False  # the borrowed master was handed to this process: ended by its `close`
        self.generation = 0  # counts the masters used: a forward belongs to one of them

    def begin(self) -> None:
        """Start this process's master now without waiting for its login (`ensure` waits): the login
        overlaps the planning. Any failure here is met again, and reported, by `ensure`."""
        if self.master is None and self.borrowed is None:
            self.master = None if self.background else early.take(self.state, self.url)
            with contextlib.suppress(ssh.SshError):
                self.master = self.master or ssh.Master.launch(self.host, self.state, new_session=self.background)
            if self.master is not None:
                self.generation += 1

    def ensure(self) -> None:
        if self.master is not None and not self.master.ready:
            try:
                self.master.wait_ready()  # the login `begin` started
                return
            except ssh.SshError:
                self.master.kill()
                self.master = None
                if ssh.check(ssh.control_path(self.state, self.host), self.host) is None:
                    raise  # else another darse process's master answers now: borrowed below
        if self._up():
            return
        if self.master is not None:
            self.master.kill()  # reaps it and removes its socket
            self.master = None
        self.borrowed, self.adopted = None, False
        try:
            self.master = ssh.Master.start(self.host, self.state, new_session=self.background)
        except ssh.SshFailed:
            sock = ssh.control_path(self.state, self.host)
            pid = ssh.check(sock, self.host)
            if pid is None:
                raise
            self.borrowed = (sock, pid)
        self.generation += 1

    def _up(self) -> bool:
        if self.master is not None:
            return self.master.alive()
        if self.borrowed is not None:
            sock, pid = self.borrowed
            return ssh.check(sock, self.host) == pid
        return False

    def control_socket(self) -> Path | None:
        """The socket of the master this link uses now (its own or the borrowed one)."""
        if self.master is not None:
            return self.master.socket
        return self.borrowed[0] if self.borrowed is not None else None

    def alive(self, generation: int) -> bool:
        return self.generation == generation and self._up()

    def forward(self, fwd: ssh.Forward) -> None:
        if self.master is not None:
            self.master.forward(fwd)
        elif self.borrowed is not None:
            ssh.forward(self.borrowed[0], self.host, fwd)

    def cancel(self, fwd: ssh.Forward) -> None:
        with contextlib.suppress(ssh.SshError):
            if self.master is not None:
                self.master.cancel(fwd)
            elif self.borrowed is not None:
                ssh.cancel(self.borrowed[0], self.host, fwd)

    def refusal(self, fwd: ssh.Forward) -> str:
        """Why connections through `fwd` fail, as darse's own master logged it ("" when unknown)."""
        error = self.master.forward_error(fwd) if self.master is not None else None
        return error.one_line() if error is not None else ""

    def log_path(self) -> Path | None:
        """The log of the master this link uses (a borrowed master's is beside its socket)."""
        sock = self.control_socket()
        return sock.with_suffix(".log") if sock is not None else None

    def hand_over(self) -> tuple[Path, int] | None:
        """Give this link's own running master to another darse process (`adopt`): its socket and pid.
        This process no longer ends it (a background tunnel's command hands its planning login over)."""
        if self.master is None or not self.master.alive() or not self.master.ready:
            return None
        handed = (self.master.socket, self.master.pid)
        self.master = None
        return handed

    def adopt(self, sock: Path, pid: int) -> None:
        """Take over a master another darse process started and handed over (`hand_over`)."""
        if self.master is None and self.borrowed is None:
            self.borrowed, self.adopted = (sock, pid), True
            self.generation += 1

    def close(self) -> None:
        if self.master is not None:
            self.master.exit()
            self.master = None
        if self.borrowed is not None and self.adopted and self._up():
            with contextlib.suppress(ssh.SshError):
                ssh.exit_master(self.borrowed[0], self.host)
        self.borrowed, self.adopted = None, False


class SshTunnel:
    """One forward `local → container address:port` of its host's master."""

    def __init__(self, plan: TunnelPlan, link: SshLink, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.link = link
        self.log = log
        self.forward = ssh.Forward(plan.local_port, plan.address, plan.port, plan.local_host)
        self.generation = -1
        self._log_seen = 0  # bytes of the master's log already looked at for refusals

    def open(self) -> None:
        self.link.ensure()
        self.forward = ssh.Forward(self.plan.local_port, self.plan.address, self.plan.port, self.plan.local_host)
        self.link.forward(self.forward)
        self.generation = self.link.generation
        self.refused()  # what the log holds now is not this forward's

    def refused(self) -> bool:
        """Whether connections through the master were refused at the far end since the last call (ssh
        logs refusals per connection, without naming the forward: any of the host's tunnels may be it)."""
        log = self.link.log_path()
        if log is None:
            return False
        self._log_seen, found = ssh.refusals_after(log, self._log_seen)
        return found

    def healthy(self) -> bool:
        return self.link.alive(self.generation)

    def refusal(self) -> str:
        return self.link.refusal(self.forward)

    def close(self) -> None:
        if self.healthy():
            self.link.cancel(self.forward)
        self.generation = -1


class SshLinks:
    """The masters of one darse process, by target URL; `close()` ends them all."""

    def __init__(self, state: Path, background: bool) -> None:
        self.state = state
        self.background = background
        self.links: dict[str, SshLink] = {}

    def link(self, url: str) -> SshLink:
        if url not in self.links:
            self.links[url] = SshLink(url, self.state, self.background)
        return self.links[url]

    def tunnel(self, plan: TunnelPlan, log: Callable[[str], None]) -> SshTunnel:
        return SshTunnel(plan, self.link(plan.host), log)

    def close(self) -> None:
        for link in self.links.values():
            link.close()
