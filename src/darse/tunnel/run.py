"""Opening tunnels, checking they carry traffic, keeping them open, and the background ones.

A tunnel on the local engine is darse's own relay (`darse.tunnel.forward`); on an ssh:// target it is
a forward of the host's SSH control master (`darse.tunnel.ssh_carrier`). Either way darse connects
through the local port before it says "ready": a forward whose far end refuses closes that connection
at once. While it runs, `keep_alive` checks each tunnel every few seconds and opens it again after a
drop (the SSH master ended: started again, forwards re-added), waiting longer after each failure.

`--background` hands the plans to a detached darse process (`python -m darse.tunnel.background`)
that holds them: the command returns once that process says they are ready.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from darse.config import find_root, load_config
from darse.errors import DarseError
from darse.state import state_dir
from darse.tunnel import registry
from darse.tunnel.forward import Forwarder
from darse.tunnel.plan import LOCAL, TunnelPlan, ssh_hosts
from darse.tunnel.registry import TunnelEntry

# s a checking connection through the tunnel may stay silent and still count as open: the plan's
# answer_time (a refusal at the far end comes back within it), within these bounds
READY_PATIENCE = 0.25
MIN_PATIENCE = 0.05
CHECK_EVERY = 2.0  # s between two checks of a running tunnel
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # s before each new attempt after a drop; the last repeats
BACKGROUND_PATIENCE = 60.0  # s the command waits for a background process to say its tunnels are ready
MAX_LOG = 1024 * 1024  # bytes of background.log before it starts again
STOP_PATIENCE = 10.0  # s `stop` waits for a tunnel's process to end

Log = Callable[[str], None]


class Tunnel(Protocol):
    """One open tunnel, whatever carries it."""

    plan: TunnelPlan

    def open(self) -> None:
        """Listen on the plan's local address (DarseError when it cannot)."""
        ...

    def healthy(self) -> bool:
        """Whether what carries it still runs (the relay's thread, the SSH master)."""
        ...

    def refused(self) -> bool:
        """Whether a connection failed at the far end since the last call (the container moved, or stopped)."""
        ...

    def close(self) -> None: ...


class LocalTunnel:
    """The local engine: darse's relay from the local port to the container's address."""

    def __init__(self, plan: TunnelPlan, log: Log) -> None:
        self.plan = plan
        self.log = log
        self.forwarder: Forwarder | None = None
        self._failures_seen = 0

    def open(self) -> None:
        plan = self.plan
        try:
            self.forwarder = Forwarder(
                (plan.local_host, plan.local_port),
                lambda: (self.plan.address, self.plan.port),  # the plan now: see `follow`
                lambda line: self.log(f"{plan.name}: {line}"),
            ).start()
        except OSError as exc:
            raise _bind_error(plan, exc) from None

    def healthy(self) -> bool:
        return self.forwarder is not None and self.forwarder._thread.is_alive()

    def refused(self) -> bool:
        failures = self.forwarder.failures if self.forwarder is not None else 0
        found, self._failures_seen = failures > self._failures_seen, failures
        return found

    def close(self) -> None:
        if self.forwarder is not None:
            self.forwarder.close()
            self.forwarder = None


def _bind_error(plan: TunnelPlan, exc: OSError) -> DarseError:
    if exc.errno == 98:  # EADDRINUSE
        return DarseError(
            f"local port {plan.local_port} on {plan.local_host} is taken",
            "choose another with --local, or leave it out for a free one",
        )
    return DarseError(
        f"cannot listen on {plan.local_address} ({exc.strerror})", "give --local an address of this machine"
    )


class Carriers:
    """What carries the tunnels of one darse process: darse's relays, and one SSH master per host
    (made on first use, so that `darse.ssh` is imported only for ssh:// targets)."""

    def __init__(self, state: Path | None = None, background: bool = False) -> None:
        self.state = state
        self.background = background
        self._ssh: Any = None

    def tunnel(self, plan: TunnelPlan, log: Log) -> Tunnel:
        if plan.mode == LOCAL:
            return LocalTunnel(plan, log)
        return self._links().tunnel(plan, log)

    def begin(self, url: str) -> None:
        """Start the login to the host `url` now, without waiting for it (see `ssh_control`)."""
        self._links().link(url).begin()

    def ssh_control(self, url: str) -> Path:
        """The control socket of the host's master, started now if need be: planning asks the remote
        engine through it, so that a tunnel costs one SSH login, not two."""
        link = self._links().link(url)
        link.ensure()
        found = link.control_socket()
        assert found is not None
        return found

    def hand_over(self) -> list[dict[str, object]]:
        """This process's logged-in SSH masters, given to a background darse process (`adopt`)."""
        if self._ssh is None:
            return []
        handed = []
        for url, link in self._ssh.links.items():
            found = link.hand_over()
            if found is not None:
                handed.append({"url": url, "socket": str(found[0]), "pid": found[1]})
        return handed

    def adopt(self, masters: list[dict[str, object]]) -> None:
        """Take over the masters another darse process handed over (its planning's logins)."""
        for item in masters:
            self._links().link(str(item["url"])).adopt(Path(str(item["socket"])), int(str(item["pid"])))

    def _links(self) -> Any:
        if self._ssh is None:
            from darse.tunnel.ssh_carrier import SshLinks

            if self.state is None:
                raise DarseError("an ssh:// tunnel needs the state folder", "open it with `darse tunnel`")
            self._ssh = SshLinks(self.state, self.background)
        return self._ssh

    def close(self) -> None:
        """End the SSH masters (after the tunnels themselves were closed)."""
        if self._ssh is not None:
            self._ssh.close()


def patience_for(plan: TunnelPlan) -> float:
    """How long the readiness check waits for a refusal: about the time the far end took to answer
    the planning (unknown: the most)."""
    if plan.answer_time <= 0:
        return READY_PATIENCE
    return min(READY_PATIENCE, max(MIN_PATIENCE, plan.answer_time))


def carries_traffic(host: str, port: int, patience: float = READY_PATIENCE) -> bool:
    """Connect through the tunnel: refused, or closed by the far end at once, means it carries nothing.
    A connection still open after `patience` (the server waits for its client to speak first, as
    PostgreSQL does), or one with bytes to read (Redis errors, MySQL greets), carries traffic."""
    try:
        with socket.create_connection((host, port), timeout=5) as probe:
            probe.settimeout(patience)
            try:
                return probe.recv(1, socket.MSG_PEEK) != b""
            except TimeoutError:
                return True
    except OSError:
        return False


def open_tunnels(plans: list[TunnelPlan], log: Log, carriers: Carriers) -> list[Tunnel]:
    """Open every tunnel and check each carries traffic; on any failure close those opened, then raise."""
    opened: list[Tunnel] = []
    try:
        for plan in plans:
            tunnel = carriers.tunnel(plan, log)
            tunnel.open()
            opened.append(tunnel)
            if not carries_traffic(plan.local_host, plan.local_port, patience_for(plan)):
                why = getattr(tunnel, "refusal", lambda: "")()
                raise DarseError(
                    f"{plan.name}: the tunnel opened but {plan.container} refuses connections on port {plan.port}"
                    + (f" ({why})" if why else ""),
                    f"check the port (--port) and that {plan.service} listens on all interfaces, not only localhost",
                )
    except BaseException:
        for tunnel in opened:
            tunnel.close()
        raise
    return opened


def keep_alive(
    tunnels: list[Tunnel],
    stop: threading.Event,
    log: Log,
    wanted: Callable[[TunnelPlan], bool] = lambda _plan: True,
    relocate: Callable[[TunnelPlan], TunnelPlan] | None = None,
) -> None:
    """Until `stop` is set: check each tunnel, open it again after a drop (backing off), point it at its
    container's new address when connections were refused and `relocate` finds it moved, close those no
    longer `wanted` (their registry entry was removed by `darse tunnel stop`). Returns when none is left."""
    failures: dict[str, int] = {}
    retry_at: dict[str, float] = {}
    live = list(tunnels)
    while live and not stop.wait(CHECK_EVERY):
        for tunnel in list(live):
            name = tunnel.plan.name
            if not wanted(tunnel.plan):
                log(f"{name}: stopped")
                tunnel.close()
                live.remove(tunnel)
                continue
            if tunnel.healthy():
                if relocate is not None and tunnel.refused():
                    follow(tunnel, relocate, log)
                continue
            if time.monotonic() < retry_at.get(name, 0.0):
                continue
            log(f"{name}: the tunnel dropped; opening it again")
            tunnel.close()
            try:
                tunnel.open()
                failures.pop(name, None)
                log(f"{name}: open again on {tunnel.plan.local_address}")
            except DarseError as exc:
                count = failures[name] = failures.get(name, 0) + 1
                delay = BACKOFF[min(count, len(BACKOFF)) - 1]
                retry_at[name] = time.monotonic() + delay
                log(f"{name}: {exc.one_line()}; next attempt in {delay:.0f} s")


def follow(tunnel: Tunnel, relocate: Callable[[TunnelPlan], TunnelPlan], log: Log) -> None:
    """Connections were refused: when the engine shows the container re-created at another address (a
    redeploy), the tunnel is opened again to it; a container that is not running is one line."""
    plan = tunnel.plan
    try:
        moved = relocate(plan)
    except DarseError as exc:
        log(f"{plan.name}: {exc.one_line()}")
        return
    if moved.address == plan.address:
        return
    log(f"{plan.name}: {plan.service} is now at {moved.address} (re-created); the tunnel follows it")
    tunnel.close()
    tunnel.plan = moved
    try:
        tunnel.open()
    except DarseError as exc:  # unhealthy now: keep_alive opens it again, backing off
        log(f"{plan.name}: {exc.one_line()}")


def _entry(plan: TunnelPlan, background: bool) -> TunnelEntry:
    return TunnelEntry(
        name=plan.name,
        folder=plan.folder,
        service=plan.service,
        target=plan.target,
        local=plan.local_address,
        remote=f"{plan.address}:{plan.port}",
        pid=os.getpid(),
        started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        background=background,
        hint=plan.hint,
    )


def _claim(state: Path, plans: list[TunnelPlan]) -> None:
    """Refuse a name already open on this host (by a live darse process)."""
    for plan in plans:
        found = registry.entry(state, plan.name)
        if found is not None and found.pid != os.getpid():
            raise DarseError(
                f"tunnel {plan.name} is already open on {found.local} (darse process {found.pid})",
                f"use it, or end it with `darse tunnel stop {plan.name}`",
            )


def hold_tunnels(
    state: Path,
    plans: list[TunnelPlan],
    stop: threading.Event,
    *,
    log: Log,
    ready: Callable[[list[TunnelPlan]], None],
    background: bool = False,
    carriers: Carriers | None = None,
    start: Path | None = None,
) -> None:
    """Open `plans`, register them, call `ready`, keep them alive until `stop` (or until every one was
    stopped through the registry), then close them and remove their entries. `carriers`: the ones the
    plans were made through (their SSH masters are used again), else new ones. `start`: a folder of the
    repository the plans were made from, to find a re-created container again (none: not followed)."""
    carriers = carriers or Carriers(state, background)
    relocate = _relocator(state, start, carriers) if start is not None else None
    try:
        _claim(state, plans)
    except BaseException:
        carriers.close()
        raise
    pid = os.getpid()
    try:
        tunnels = open_tunnels(plans, log, carriers)
        try:
            for plan in plans:
                registry.write_entry(state, _entry(plan, background))
            ready(plans)

            def wanted(plan: TunnelPlan) -> bool:
                return registry.entry_path(state, plan.name).exists()

            keep_alive(tunnels, stop, log, wanted=wanted, relocate=relocate)
        finally:
            for tunnel in tunnels:
                tunnel.close()
            for plan in plans:
                registry.remove_entry(state, plan.name, pid)
    finally:
        carriers.close()


def _relocator(state: Path, start: Path, carriers: Carriers) -> Callable[[TunnelPlan], TunnelPlan]:
    """Find a plan's container again (through the carriers' SSH masters) and say so in the registry."""

    def relocate(plan: TunnelPlan) -> TunnelPlan:
        from darse.tunnel.locate import relocate as locate_again

        moved = locate_again(start, plan, carriers.ssh_control)
        found = registry.own_entry(state, plan.name)
        if moved.address != plan.address and found is not None and found.pid == os.getpid():
            registry.write_entry(state, dataclasses.replace(found, remote=f"{moved.address}:{moved.port}"))
        return moved

    return relocate


def state_of(start: Path) -> Path:
    root = find_root(start)
    return state_dir(load_config(root), root)


def run_tunnels(
    start: Path,
    names: list[str],
    stop: threading.Event,
    *,
    to: str | None = None,
    port: int | None = None,
    local: str | None = None,
    log: Log,
    ready: Callable[[list[TunnelPlan]], None],
) -> None:
    """`darse tunnel NAME...` in the foreground: open, say ready, hold until `stop` (Ctrl-C, SIGTERM).
    The SSH master a plan starts to ask a remote engine then carries its tunnels: one login per host."""
    root = find_root(start)
    config = load_config(root)
    state = state_dir(config, root)
    carriers = Carriers(state)
    try:
        for host in ssh_hosts(config, names):
            carriers.begin(host)  # the logins go on while the planning below is imported and made
        from darse.tunnel.locate import tunnel_plans  # not before: it takes as long to import as a login

        plans = tunnel_plans(start, names, to=to, port=port, local=local, ssh_control=carriers.ssh_control)
    except BaseException:
        carriers.close()
        raise
    hold_tunnels(state, plans, stop, log=log, ready=ready, carriers=carriers, start=start)


def start_background(
    start: Path, names: list[str], *, to: str | None = None, port: int | None = None, local: str | None = None
) -> list[TunnelEntry]:
    """`darse tunnel NAME... --background`: a detached darse process holds the tunnels; returns their
    entries once it said they carry traffic (its error, one line, otherwise)."""
    from darse.tunnel.locate import tunnel_plans

    state = state_of(start)
    carriers = Carriers(state, background=True)  # masters in a session of their own: they outlive this command
    try:
        plans = tunnel_plans(start, names, to=to, port=port, local=local, ssh_control=carriers.ssh_control)
        return launch_background(state, plans, start, carriers)
    finally:
        carriers.close()  # the masters not handed over


def launch_background(
    state: Path, plans: list[TunnelPlan], start: Path | None = None, carriers: Carriers | None = None
) -> list[TunnelEntry]:
    """Hand `plans` to a new detached darse process; its entries once it said they are ready. The SSH
    masters of `carriers` (the planning's) go to it too: one login per host, not two."""
    _claim(state, plans)
    masters = carriers.hand_over() if carriers is not None else []
    request = json.dumps(
        {
            "state": str(state),
            "start": str(start.resolve()) if start is not None else None,
            "plans": [p.to_dict() | _private(p) for p in plans],
            "masters": masters,
        }
    )
    log_path = registry.folder(state) / "background.log"
    with contextlib.suppress(FileNotFoundError):
        if log_path.stat().st_size > MAX_LOG:
            log_path.unlink()  # the log of drops and reconnections: the recent part is what helps
    with open(log_path, "ab") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "darse.tunnel.background"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            start_new_session=True,  # Ctrl-C in this terminal, or the terminal closing, does not reach it
            cwd="/",
            env={**os.environ, "PYTHONPATH": _import_path()},
        )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(request.encode())
    child.stdin.close()
    answer = _first_line(child, BACKGROUND_PATIENCE)
    child.stdout.close()
    try:
        outcome = json.loads(answer) if answer else {}
    except ValueError:
        outcome = {}
    if not outcome.get("ready"):
        if child.poll() is None:
            child.terminate()
        _end_masters(masters)  # in case the child ended before it took them over
        error = str(outcome.get("error") or f"the background darse process ended without opening (see {log_path})")
        raise DarseError(error[:500], str(outcome.get("hint") or "run the tunnel in the foreground to see why"))
    return [e for e in (registry.entry(state, p.name) for p in plans) if e is not None]


def _end_masters(masters: list[dict[str, object]]) -> None:
    from darse import ssh

    for item in masters:
        with contextlib.suppress(ssh.SshError, DarseError):
            ssh.exit_master(Path(str(item["socket"])), ssh.Host.parse(str(item["url"])))


def _private(plan: TunnelPlan) -> dict[str, object]:
    """What `to_dict` shows differently and the background process needs as it was planned."""
    return {"local_host": plan.local_host, "local_port": plan.local_port, "answer_time": plan.answer_time}


def _import_path() -> str:
    """The child imports the same darse as this process (a checkout run with PYTHONPATH, or installed)."""
    here = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH", "")
    return f"{here}{os.pathsep}{rest}" if rest else here


def _first_line(child: subprocess.Popen[bytes], patience: float) -> bytes:
    assert child.stdout is not None
    deadline = time.monotonic() + patience
    data = b""
    while b"\n" not in data and len(data) < 64 * 1024:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _w, _x = select.select([child.stdout], [], [], left)
        if not readable:
            break
        chunk = os.read(child.stdout.fileno(), 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def plan_from_dict(data: dict[str, object]) -> TunnelPlan:
    """A plan sent to the background process (`to_dict` plus `_private`)."""
    return TunnelPlan(
        name=str(data["name"]),
        folder=str(data["folder"]),
        service=str(data["service"]),
        target=str(data["target"]),
        mode=str(data["mode"]),
        host=str(data.get("host") or ""),
        container=str(data["container"]),
        network=str(data["network"]),
        address=str(data["address"]),
        port=int(str(data["port"])),
        local_host=str(data["local_host"]),
        local_port=int(str(data["local_port"])),
        kind=str(data.get("kind") or ""),
        answer_time=float(str(data.get("answer_time") or 0.0)),
    )


def list_tunnels(start: Path) -> list[TunnelEntry]:
    """`darse tunnel ls`: the tunnels open on this host (entries of ended processes are dropped)."""
    return registry.entries(state_of(start))


def stop_tunnels(start: Path, names: list[str], *, every: bool = False) -> list[TunnelEntry]:
    """`darse tunnel stop NAME...|--all`: end them and wait for their processes to let go of them.
    A process left with none ends; one still holding others closes these within a few seconds."""
    if not names and not every:
        raise DarseError("no tunnel to stop named", "give its name (see `darse tunnel ls`), or --all")
    state = state_of(start)
    if every:
        chosen = registry.entries(state)
    else:
        chosen = []
        for name in dict.fromkeys(names):
            found = registry.entry(state, name)
            if found is None:
                known = ", ".join(e.name for e in registry.entries(state)) or "none"
                raise DarseError(f"no open tunnel named {name!r}", f"open tunnels: {known}")
            chosen.append(found)
    for found in chosen:
        registry.remove_entry(state, found.name, found.pid)
    ending = {e.pid for e in chosen} - {e.pid for e in registry.entries(state)}
    for pid in ending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)  # the process closes its tunnels and exits
    deadline = time.monotonic() + STOP_PATIENCE
    for found in chosen:
        ended = _gone(found.pid) if found.pid in ending else _closed(found)
        while time.monotonic() < deadline and not ended():
            time.sleep(0.05)
    return chosen


def _gone(pid: int) -> Callable[[], bool]:
    return lambda: not registry.process_alive(pid)


def _closed(found: TunnelEntry) -> Callable[[], bool]:
    """Whether the tunnel no longer accepts on its local address (or its process ended)."""
    host, _sep, port = found.local.rpartition(":")

    def closed() -> bool:
        if not registry.process_alive(found.pid):
            return True
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
                return False
        except (OSError, ValueError):
            return True

    return closed
