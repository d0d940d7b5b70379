"""OpenSSH, the one module that runs the system's `ssh` client: darse's tunnels go through a control
master per host, and every other module asks this one instead of running `ssh` itself.

Why the system's client: `~/.ssh/config`, the agent, ProxyJump, passphrase prompts and known_hosts
then work exactly as the admin is used to. Nothing here adds BatchMode: a master started in the
foreground may ask for a passphrase or a host key confirmation on the terminal (ssh asks on /dev/tty,
never through darse).

- One master per host (`Master.start`): `ssh -M -S SOCK -N` with keep-alives (a dead connection ends
  the process within ~15 s, so a supervisor notices and starts another) and `ExitOnForwardFailure`.
  Its control socket is `<state>/tunnels/<hash of the host>.sock` (folder 0700): socket paths are
  limited to ~100 bytes, a host name is not. The master is a child process darse can wait on or kill;
  its standard error goes to `<hash>.log` beside the socket, read back (bounded) to explain failures.
- Forwards are added to and removed from a running master through its socket (`ssh -S SOCK -O forward
  -L ...`, `-O cancel`, `-O check`, `-O exit`): one SSH connection per host however many tunnels.
- Failures are `SshError`s (a `DarseError`: one line and a hint), classified from ssh's standard error:
  an unknown or changed host key, authentication refused, the host unreachable, the local port taken,
  a forward the server refused. Quoted text is bounded, stripped of control characters and masked
  (`scheme://user:password@` → `scheme://***@`); ssh never prints a key or a passphrase there.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from darse.errors import DarseError

SSH = "ssh"  # looked up on PATH, as the admin's own `ssh` would be
START_TIMEOUT = 120.0  # s for a master to be up: enough for a person to type a passphrase
COMMAND_TIMEOUT = 15.0  # s for one control command (-O forward/cancel/check/exit): local, answers at once
KEYSCAN_TIMEOUT = 5.0  # s to ask an unknown host for its key's fingerprint (for the error message only)
MAX_LOG = 16 * 1024  # bytes of a master's log read back to explain a failure (its end)
MAX_LINE = 300  # characters of one quoted line of ssh's output
SUN_PATH = 104  # bytes a Unix socket path may take (108 on Linux, 104 on BSDs) including the final NUL
MUX_SUFFIX = 17  # ssh binds `SOCK.<16 random characters>` first, then renames it to SOCK
KEEPALIVE = ("-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3")
INSTALL_HINT = "install the OpenSSH client (Debian: apt-get install openssh-client)"
CHECK_HINT = "try `ssh {host} true` in a terminal: it shows what ssh needs"

_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s]+@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\x1b\[[0-9;?]*[A-Za-z]")
_HOST = re.compile(r"[A-Za-z0-9_.:%\-]{1,253}")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.\-]{0,63}")
_FINGERPRINT = re.compile(r"\b(SHA256:[A-Za-z0-9+/]{43}|MD5(?::[0-9a-f]{2}){16})\b")
_OFFENDING = re.compile(r"Offending \S+ key in (\S+):(\d+)")
_PID = re.compile(r"\(pid=(\d+)\)")
# the master's words when the local end of a forward cannot be bound (a TCP port, or a Unix socket's path)
_BIND_FAILED = re.compile(
    r"(bind \[?[^\]\s]*\]?:\d+|cannot bind to path \S+): (Address already in use|Permission denied)"
)


class SshError(DarseError):
    """ssh could not do what was asked (the subclasses say why)."""


class SshMissing(SshError):
    """No `ssh` program on PATH."""


class HostKeyUnknown(SshError):
    """known_hosts has no key for the host, and ssh may not (or could not ask to) accept one."""


class HostKeyChanged(SshError):
    """The host offered a key other than the one known_hosts holds: possibly an attack, never ignored."""


class AuthenticationRefused(SshError):
    """The server accepted none of the keys (or methods) offered."""


class HostUnreachable(SshError):
    """No SSH server answered: refused, unresolvable, no route, timed out, or closed before login."""


class LocalPortTaken(SshError):
    """The local end of a forward could not be bound (in use, or privileged)."""


class ForwardRefused(SshError):
    """The server would not open the forward's far end (forwarding disabled or not permitted there), or
    nothing listens at that address."""


class SshFailed(SshError):
    """ssh failed for a reason not classified above (its words quoted)."""


@dataclass(frozen=True)
class Host:
    """Where ssh connects: a name from ssh_config or a host name, with an optional user and port.

    `parse` accepts `ssh://[user@]host[:port]` (a darse target), `[user@]host` and an alias. The name
    is checked (no leading `-`, no spaces or control characters) and always follows `--` on ssh's
    command line, so a hostile target cannot pass options to ssh."""

    name: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Host:
        text = text.strip()
        user: str | None = None
        port: int | None = None
        if text.startswith("ssh://"):
            try:
                parts = urlsplit(text)
                port = parts.port
            except ValueError:
                raise DarseError(f"not an ssh:// address: {_clean(text)!r}", "write ssh://[user@]host[:port]") from None
            if parts.password is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
                raise DarseError(
                    f"not an ssh:// address: {_clean(text)!r}",
                    "write ssh://[user@]host[:port]; keys and passwords belong in ~/.ssh, not in the address",
                )
            user = parts.username
            name = parts.hostname or ""  # an IPv6 address without its brackets, as ssh takes it
        else:
            if "@" in text:
                user, _, name = text.rpartition("@")
            else:
                name = text
        if not _HOST.fullmatch(name) or name.startswith("-"):
            raise DarseError(
                f"not a host name: {_clean(name)!r}", "write a host name, an address or an ssh_config alias"
            )
        if user is not None and not _USER.fullmatch(user):
            raise DarseError(f"not a user name: {_clean(user)!r}", "write ssh://user@host")
        return cls(name=name, user=user, port=port)

    def args(self) -> list[str]:
        """The destination on ssh's command line, options first, the name after `--`."""
        args: list[str] = []
        if self.user:
            args += ["-l", self.user]
        if self.port:
            args += ["-p", str(self.port)]
        return [*args, "--", self.name]

    def __str__(self) -> str:
        text = f"{self.user}@{self.name}" if self.user else self.name
        return f"{text}:{self.port}" if self.port else text


@dataclass(frozen=True)
class Forward:
    """A local forward: connections to `local_address:local_port` here reach `remote_host:remote_port`
    as seen from the SSH server (a container's address on the remote engine's network, say)."""

    local_port: int
    remote_host: str
    remote_port: int
    local_address: str = "127.0.0.1"

    def spec(self) -> str:
        """ssh's `-L` argument (IPv6 addresses in brackets)."""
        return f"{self.local()}:{self.target()}"

    def local(self) -> str:
        return f"{_bracket(self.local_address)}:{self.local_port}"

    def target(self) -> str:
        return f"{_bracket(self.remote_host)}:{self.remote_port}"


@dataclass(frozen=True)
class SocketForward:
    """A Unix socket here forwarded to a Unix socket on the SSH server (the remote engine's
    /var/run/docker.sock, say). ssh creates the local socket (and refuses when the path exists)."""

    local_path: Path
    remote_path: str = "/var/run/docker.sock"

    def spec(self) -> str:
        return f"{self.local()}:{self.target()}"

    def local(self) -> str:
        return str(self.local_path)

    def target(self) -> str:
        return self.remote_path


AnyForward = Forward | SocketForward


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _clean(text: str) -> str:
    """One quoted line: no control characters or terminal escapes, credentials masked, bounded."""
    text = _CONTROL.sub("", _CREDENTIALS.sub(r"\1***@", text)).strip()
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def control_path(state: Path, host: Host) -> Path:
    """The control socket of darse's master for `host`: `<state>/tunnels/<hash>.sock` (folder created 0700)."""
    folder = state / "tunnels"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise DarseError(
            f"cannot create {folder}: {exc.strerror}", "set DARSE_STATE_DIR to a writable folder"
        ) from None
    digest = hashlib.sha256(str(host).encode()).hexdigest()[:16]
    path = folder / f"{digest}.sock"
    if len(os.fsencode(path)) + MUX_SUFFIX >= SUN_PATH:
        raise DarseError(
            f"the state folder's path is too long for an SSH control socket ({len(str(path))} characters)",
            "set DARSE_STATE_DIR to a shorter path (about 60 characters at most)",
        )
    return path


def _ssh(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """One short ssh command (a control command or `-G`), standard input closed, output captured."""
    try:
        return subprocess.run(
            [SSH, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise SshMissing("no ssh program on PATH", INSTALL_HINT) from None
    except subprocess.TimeoutExpired:
        raise SshFailed(f"ssh did not answer within {timeout:.0f} s ({' '.join(args[:2])})", "retry") from None


def _tail(path: Path) -> str:
    """The end of a log file, at most MAX_LOG bytes; '' when missing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - MAX_LOG))
            return handle.read(MAX_LOG).decode("utf-8", "replace")
    except OSError:
        return ""


def refusals_after(log: Path, offset: int) -> tuple[int, bool]:
    """Whether ssh logged a refused forward ("open failed": nothing listens at the far end, or no route
    to it) after byte `offset` of its log (at most its last MAX_LOG bytes read); and the log's size now.
    A log shorter than `offset` is a new master's: read from its start."""
    try:
        with open(log, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = offset if offset <= size else 0
            handle.seek(max(start, size - MAX_LOG))
            return size, b"open failed" in handle.read(MAX_LOG)
    except OSError:
        return offset, False


def classify(stderr: str, host: Host, forward: AnyForward | None = None) -> SshError:
    """The error ssh's standard error describes (what a user would need to act on), one line and a hint."""
    text = stderr[-MAX_LOG:]
    lines = [_clean(line) for line in text.splitlines() if _clean(line)]
    last = lines[-1] if lines else "no message"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "has changed and you have requested strict" in text:
        found = _FINGERPRINT.search(text)
        offending = _OFFENDING.search(text)
        where = f" (the old one: {_clean(offending[1])} line {offending[2]})" if offending else ""
        offered = f" it now offers {found[1]}" if found else ""
        return HostKeyChanged(
            f"the host key of {host} has CHANGED:{offered}{where}",
            "this may be an attack: ask the host's admin for its key fingerprint (`ssh-keygen -lf` on the server's "
            f"/etc/ssh/ssh_host_*_key.pub); only if it matches, remove the old line: ssh-keygen -R '{host.name}'",
        )
    if "Host key verification failed" in text or "host key is known for" in text:
        found = _FINGERPRINT.search(text)
        fingerprint = found[1] if found else _offered_fingerprint(host)
        offered = f" (it offers {fingerprint})" if fingerprint else ""
        return HostKeyUnknown(
            f"the host key of {host} is not in known_hosts{offered}",
            "compare the fingerprint with the one the host's admin gives (`ssh-keygen -lf` on the server), then "
            f"connect once with `ssh {host.name}` and accept it; `ssh-keygen -F {host.name}` shows a known line",
        )
    if "Permission denied" in text or "Too many authentication failures" in text:
        methods = re.search(r"Permission denied \(([a-z0-9,\-]+)\)", text)
        offered = f" (the server accepts: {methods[1]})" if methods else ""
        return AuthenticationRefused(
            f"{host} refused the login{offered}",
            "check the user name, the key (ssh-add -l, IdentityFile in ~/.ssh/config) and the server's "
            "authorized_keys; `ssh -v " + host.name + " true` shows what is offered",
        )
    if forward is not None and _BIND_FAILED.search(text):
        reason = "a program uses it" if "Address already in use" in text else "a privileged port"
        return LocalPortTaken(
            f"cannot listen on {forward.local()} ({reason})",
            "choose another local port (or none: darse picks a free one)",
        )
    if "administratively prohibited" in text:
        target = forward.target() if forward else "the target"
        return ForwardRefused(
            f"{host} refused to forward to {target} (administratively prohibited)",
            "the server's sshd_config must allow it (AllowTcpForwarding, AllowStreamLocalForwarding, PermitOpen)",
        )
    if "open failed: connect failed" in text:
        target = forward.target() if forward else "the forward's target"
        reason = _clean(text.split("connect failed:")[-1].splitlines()[0])
        return ForwardRefused(
            f"nothing answers at {target} as seen from {host} ({reason})",
            "check that the container runs and listens on that port",
        )
    unreachable = (
        "Connection refused",
        "Could not resolve hostname",
        "No route to host",
        "Network is unreachable",
        "timed out",
        "Connection closed by",
        "closed by remote host",
        "Broken pipe",
        "Connection reset by",
        "kex_exchange_identification",
    )
    if any(marker in text for marker in unreachable):
        return HostUnreachable(f"cannot reach {host}: {last}", CHECK_HINT.format(host=host.name))
    return SshFailed(f"ssh to {host} failed: {last}", CHECK_HINT.format(host=host.name))


def _offered_fingerprint(host: Host) -> str:
    """The SHA256 fingerprint of the key an unknown host offers, asked with ssh-keyscan at the address ssh
    would use (`ssh -G`); '' when that fails (a ProxyJump host, say). For the message only: never trusted."""
    try:
        config = _ssh(["-G", *host.args()], COMMAND_TIMEOUT)
        settings = dict(line.split(" ", 1) for line in config.stdout.splitlines() if " " in line)
        name, port = settings.get("hostname", host.name), settings.get("port", "22")
        if settings.get("proxyjump", "none") != "none" or settings.get("proxycommand", "none") != "none":
            return ""
        if not _HOST.fullmatch(name) or name.startswith("-") or not port.isdigit():
            return ""
        scan = subprocess.run(
            ["ssh-keyscan", "-T", str(int(KEYSCAN_TIMEOUT)), "-p", port, "-t", "ed25519,ecdsa,rsa", "--", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=KEYSCAN_TIMEOUT + 2,
            check=False,
        )
    except (OSError, SshError, subprocess.TimeoutExpired):
        return ""
    for line in scan.stdout[:MAX_LOG].splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#"):
            with contextlib.suppress(ValueError):
                digest = hashlib.sha256(base64.b64decode(fields[2], validate=True)).digest()
                return f"{fields[1]} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"
    return ""


def _socket_answers(path: Path) -> bool:
    """Whether a master listens on the control socket (a cheap local connect, no ssh started)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(os.fsencode(path))
        except OSError:
            return False
    return True


def check(sock: Path, host: Host) -> int | None:
    """The pid of the master running on `sock` (`ssh -O check`), or None when none answers."""
    if not _socket_answers(sock):
        return None
    proc = _ssh(["-S", str(sock), "-O", "check", *host.args()], COMMAND_TIMEOUT)
    found = _PID.search(proc.stderr + proc.stdout)
    return int(found[1]) if proc.returncode == 0 and found else None


def forward(sock: Path, host: Host, fwd: AnyForward, log: Path | None = None) -> None:
    """Add a local forward to the master on `sock`; the master's `log` explains a refusal."""
    proc = _ssh(["-S", str(sock), "-O", "forward", "-L", fwd.spec(), *host.args()], COMMAND_TIMEOUT)
    if proc.returncode != 0 or "request failed" in proc.stderr:
        raise _control_failure(proc.stderr, sock, host, fwd, log)


def cancel(sock: Path, host: Host, fwd: AnyForward) -> None:
    """Remove a forward from the master on `sock` (its listening port closes; open connections stay)."""
    proc = _ssh(["-S", str(sock), "-O", "cancel", "-L", fwd.spec(), *host.args()], COMMAND_TIMEOUT)
    if proc.returncode != 0 or "request failed" in proc.stderr:  # OpenSSH 9.2 exits 0 on a failed cancel
        if "port not forwarded" in proc.stderr:
            raise SshFailed(f"no forward {fwd.spec()} on the connection to {host}", "see the tunnels that run")
        raise _control_failure(proc.stderr, sock, host, fwd, None)


def exit_master(sock: Path, host: Host) -> bool:
    """Ask the master on `sock` to end (its forwards close); False when none was running."""
    if not _socket_answers(sock):
        _remove_stale(sock)
        return False
    proc = _ssh(["-S", str(sock), "-O", "exit", *host.args()], COMMAND_TIMEOUT)
    return proc.returncode == 0


def _control_failure(stderr: str, sock: Path, host: Host, fwd: AnyForward | None, log: Path | None) -> SshError:
    if "Control socket connect" in stderr or "No such file or directory" in stderr:
        return SshFailed(f"no SSH connection to {host} is open for darse's tunnels", "start the tunnel again")
    master_log = _tail(log) if log is not None else ""
    # the master logs why (bind failed, ...); the client only says "forwarding request failed"
    error = classify(master_log + "\n" + stderr, host, fwd)
    if isinstance(error, SshFailed) and fwd is not None and "forwarding request failed" in stderr:
        return LocalPortTaken(
            f"ssh could not open the forward {fwd.spec()} (its local end may be taken)",
            "choose another local port (or none: darse picks a free one)",
        )
    return error


class Master:
    """darse's control master for one host: a child `ssh -M` process, its socket and its log."""

    def __init__(self, host: Host, sock: Path, process: subprocess.Popen[bytes]) -> None:
        self.host = host
        self.socket = sock
        self.log = sock.with_suffix(".log")
        self.process = process
        self.launched = time.monotonic()
        self.ready = False  # the login done: the control socket answered once

    @classmethod
    def start(
        cls,
        host: Host,
        state: Path,
        *,
        timeout: float = START_TIMEOUT,
        options: Sequence[str] = (),
        new_session: bool = False,
    ) -> Master:
        """Connect to `host` and return once the control socket answers (login done), or raise the
        classified error. `options` are extra `-o` settings; `new_session` detaches the master from the
        terminal (a background tunnel: then ssh cannot prompt, so keys must be in the agent)."""
        master = cls.launch(host, state, options=options, new_session=new_session)
        master.wait_ready(timeout)
        return master

    @classmethod
    def launch(cls, host: Host, state: Path, *, options: Sequence[str] = (), new_session: bool = False) -> Master:
        """Start the master and return at once, its login going on meanwhile (`wait_ready` waits for it):
        the caller's own work overlaps the login. Raises only when it cannot even start."""
        sock = control_path(state, host)
        if _socket_answers(sock):
            raise SshFailed(
                f"darse already has an SSH connection to {host} ({sock.name})", "reuse it, or end it with -O exit"
            )
        _remove_stale(sock)
        log_path = sock.with_suffix(".log")
        args = [
            SSH, "-M", "-S", str(sock), "-N",
            "-o", "ControlPersist=no", *KEEPALIVE, "-o", "ExitOnForwardFailure=yes",
            *[arg for option in options for arg in ("-o", option)],
            *host.args(),
        ]  # fmt: skip
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fd, start_new_session=new_session
            )
        except FileNotFoundError:
            raise SshMissing("no ssh program on PATH", INSTALL_HINT) from None
        finally:
            os.close(fd)
        return cls(host, sock, process)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Return once the control socket answers (the login is done), counting `timeout` from the
        launch; raise the classified error when ssh ended, or after the timeout (the master killed)."""
        deadline = self.launched + timeout
        delay = 0.005
        while not self.ready:
            if _socket_answers(self.socket):
                self.ready = True
                return
            if self.process.poll() is not None:
                raise classify(_tail(self.log), self.host)
            if time.monotonic() > deadline:
                self.kill()
                raise HostUnreachable(
                    f"no SSH connection to {self.host} within {timeout:.0f} s", CHECK_HINT.format(host=self.host.name)
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """The master's exit status once it ends (None if still running after `timeout` s)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def failure(self) -> SshError:
        """Why the master ended (or what it last complained of), from its log."""
        return classify(_tail(self.log), self.host)

    def forward(self, fwd: AnyForward) -> None:
        forward(self.socket, self.host, fwd, self.log)

    def cancel(self, fwd: AnyForward) -> None:
        cancel(self.socket, self.host, fwd)

    def check(self) -> bool:
        """Whether the master answers on its socket (`ssh -O check`)."""
        return check(self.socket, self.host) == self.pid

    def forward_error(self, fwd: AnyForward) -> SshError | None:
        """The refusal the master logged for connections through `fwd` (the server would not open its far end,
        or nothing listens there), or None. ssh reports this per connection, in its log only."""
        refusals = [line for line in _tail(self.log).splitlines() if "open failed" in line]
        return classify(refusals[-1], self.host, fwd) if refusals else None

    def exit(self, timeout: float = 10.0) -> int | None:
        """End the master (`-O exit`, then a kill if it lingers) and remove its socket; its exit status."""
        if self.alive():
            with contextlib.suppress(SshError):
                exit_master(self.socket, self.host)
            if self.wait(timeout) is None:
                self.kill()
        _remove_stale(self.socket)
        return self.process.returncode

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        _remove_stale(self.socket)


def _remove_stale(sock: Path) -> None:
    """Remove a control socket nobody answers on (a master that died leaves it); a live one (another
    master started since for the same host) stays."""
    if not _socket_answers(sock):
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
