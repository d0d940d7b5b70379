"""A throwaway Compose project on the engine: created, partly started, brought up, and always removed.

`darse restore --verify` (darse.backup.verify) restores a backup into such a project to prove that it
restores. Its configuration is a resolved Compose document (darse.backup.throwaway made it safe) that
never touches the disk: every `docker compose` call reads it on standard input, as `ComposeRunner.up`
does, so the secret values it holds are in no file. Every call is bounded in time and in the output
kept; `down` runs in a session of its own, so that the Ctrl-C which interrupted a verify does not
interrupt the removal too.

Everything the project creates carries `VERIFY_LABEL` (its value: the project's name), and its name
starts with `PREFIX`: `sweep` removes what a verify killed outright (SIGKILL, a power cut) left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.engine.compose import Endpoint, compose_command
from darse.engine.docker import PROJECT_LABEL, Engine
from darse.errors import DarseError

PREFIX = "darse-verify-"  # every throwaway project's name starts with it
VERIFY_LABEL = "org.darse.verify"  # on every container, volume and network of a throwaway project
OUTPUT_TAIL = 16 * 1024  # bytes of a compose call's output kept (its last words say why it failed)
CALL_TIMEOUT = 300.0  # seconds for `create`, `start` (pulling nothing: images are local)
DOWN_TIMEOUT = 120.0  # seconds for `down`; the sweep follows whatever it left
STOP_TIMEOUT = 2  # seconds a throwaway container gets to stop: nothing of it is kept
GRACE = 10.0  # seconds compose gets to exit after SIGTERM before it is killed


@dataclass(frozen=True)
class ComposeCall:
    """How one compose call ended: its exit status and the end of its output (masked by the caller's mask)."""

    returncode: int
    output: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def last_line(self, limit: int = 300) -> str:
        """Compose's last non-empty line, which says why it failed ("" when it said nothing)."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        return lines[-1][:limit] if lines else ""


@dataclass
class ThrowawayProject:
    """One throwaway project: `config` is the whole resolved Compose document (it holds secret values:
    kept in memory, never printed), `directory` the service folder relative paths were resolved from."""

    project: str
    config: dict[str, Any]
    directory: Path
    endpoint: Endpoint = field(default_factory=Endpoint)
    mask: Callable[[str], str] = field(default=lambda text: text)

    def __post_init__(self) -> None:
        if not self.project.startswith(PREFIX):
            raise DarseError(f"a throwaway project's name starts with {PREFIX}: not {self.project!r}", "a bug")

    def _base(self) -> list[str]:
        docker = shutil.which("docker")
        if docker is None:
            raise DarseError("the docker CLI is not installed", "install docker and its compose plugin")
        return [
            *compose_command(docker, self.endpoint),
            "--project-name",
            self.project,
            "--file",
            "-",
            "--project-directory",
            str(self.directory),
        ]

    def create(self, timeout: float = CALL_TIMEOUT) -> ComposeCall:
        """Containers, volumes and networks created, nothing started, nothing pulled or built."""
        return self._call(["create", "--pull", "never", "--no-build"], timeout)

    def start(self, services: Sequence[str], timeout: float = CALL_TIMEOUT) -> ComposeCall:
        """Start the created containers of `services` (the databases, before their dumps are loaded)."""
        return self._call(["start", "--", *services], timeout)

    def up(self, timeout: float) -> ComposeCall:
        """Start the rest and wait until every container is running and healthy, at most `timeout` s."""
        wait = str(max(1, int(timeout)))
        args = ["up", "--detach", "--pull", "never", "--no-build", "--no-recreate", "--wait", "--wait-timeout", wait]
        return self._call(args, timeout + 60)

    def down(self, timeout: float = DOWN_TIMEOUT) -> ComposeCall:
        """Remove every container, volume and network of the project, running or not (`down -v`)."""
        args = ["down", "--volumes", "--remove-orphans", "--timeout", str(STOP_TIMEOUT)]
        return self._call(args, timeout, detached=True)

    def _call(self, args: list[str], timeout: float, detached: bool = False) -> ComposeCall:
        return run_bounded(
            [*self._base(), *args],
            json.dumps(self.config).encode(),
            timeout,
            env=self.endpoint.env(),
            mask=self.mask,
            detached=detached,
        )


def run_bounded(
    argv: list[str],
    stdin: bytes,
    timeout: float,
    *,
    env: dict[str, str] | None = None,
    mask: Callable[[str], str] = lambda text: text,
    detached: bool = False,
) -> ComposeCall:
    """Run `argv` with `stdin`, keeping the last OUTPUT_TAIL bytes of its output (stdout and stderr
    together); after `timeout` seconds it is stopped (SIGTERM, then SIGKILL to its process group).
    `detached`: in a session of its own, out of reach of the terminal's Ctrl-C."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=detached,
        )
    except OSError as exc:
        raise DarseError(
            f"cannot run {argv[0]}: {exc.strerror or exc}", "install docker and its compose plugin"
        ) from None
    tail = bytearray()

    def feed() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.write(stdin)
        with contextlib.suppress(OSError):
            proc.stdin.close()

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(64 * 1024):
            tail.extend(chunk)
            del tail[:-OUTPUT_TAIL]

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=read, daemon=True)]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc)
    except BaseException:  # Ctrl-C: compose is stopped too, then the caller cleans up
        _stop(proc)
        raise
    finally:
        for thread in threads:
            thread.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    output = mask(tail.decode("utf-8", "replace"))
    if timed_out:
        output += f"\ndocker compose did not finish within {timeout:g} s"
    return ComposeCall(proc.returncode if proc.returncode is not None else -1, output, timed_out)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        proc.terminate()
    try:
        proc.wait(GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL) if _own_group(proc) else proc.kill()
        proc.wait()


def _own_group(proc: subprocess.Popen[bytes]) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except OSError:
        return False


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Ctrl-C held back while the block runs (the removal of a throwaway project must not be cut short
    by a second Ctrl-C), then raised as KeyboardInterrupt at its end. Only in the main thread, where
    Python handles signals; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


# --- what is left behind ----------------------------------------------------------------------------


@dataclass
class Leftovers:
    """What carries the verify label of some project on the engine (names, for a report or a test)."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.containers or self.volumes or self.networks)

    def to_dict(self) -> dict[str, list[str]]:
        return {"containers": self.containers, "volumes": self.volumes, "networks": self.networks}


def leftovers(engine: Engine, prefix: str = PREFIX) -> Leftovers:
    """The containers, volumes and networks of throwaway projects whose name starts with `prefix`
    (a prefix of `PREFIX` or longer) still on the engine."""
    if not prefix.startswith(PREFIX):
        raise DarseError(f"only throwaway projects ({PREFIX}...) are swept: not {prefix!r}", "a bug")
    api = engine.docker_api
    found = Leftovers()
    try:
        for item in api.containers(all=True, filters={"label": [VERIFY_LABEL]}):
            labels = item.get("Labels") or {}
            if _ours(labels, prefix):
                found.containers.append(str(item.get("Id", "")))
        for item in (api.volumes(filters={"label": [VERIFY_LABEL]}) or {}).get("Volumes") or []:
            if _ours(item.get("Labels") or {}, prefix):
                found.volumes.append(str(item.get("Name", "")))
        for item in api.networks(filters={"label": [VERIFY_LABEL]}):
            if _ours(item.get("Labels") or {}, prefix):
                found.networks.append(str(item.get("Name", "")))
    except Exception as exc:
        raise DarseError(f"cannot list what verifies left on the engine: {type(exc).__name__}", _HINT) from None
    return found


def _ours(labels: dict[str, str], prefix: str) -> bool:
    """Both marks agree (the verify label and the Compose project name, when the engine set one), and
    the name is one of `prefix`'s: a folder's prefix (`darse-verify-wiki-`) is followed by the random
    part only, so that folder `wiki-db`'s projects are not `wiki`'s; a whole name is that one project."""
    project = labels.get(VERIFY_LABEL, "")
    if labels.get(PROJECT_LABEL, project) != project or not project.startswith(prefix):
        return False
    rest = project[len(prefix) :]
    return prefix == PREFIX or not rest or _RANDOM.fullmatch(rest) is not None


def sweep(engine: Engine, prefix: str = PREFIX) -> Leftovers:
    """Remove the leftovers of throwaway projects named `prefix`...: containers (forced, with their
    anonymous volumes), then volumes and networks. Returns what could not be removed."""
    api = engine.docker_api
    found = leftovers(engine, prefix)
    for container in found.containers:
        with contextlib.suppress(Exception):
            api.remove_container(container, v=True, force=True)
    for volume in found.volumes:
        with contextlib.suppress(Exception):
            api.remove_volume(volume, force=True)
    for network in found.networks:
        with contextlib.suppress(Exception):
            api.remove_network(network)
    return leftovers(engine, prefix)


_RANDOM = re.compile(r"[0-9a-f]{6}")
_HINT = "is the engine reachable? docker ps -a --filter label=" + VERIFY_LABEL + " lists them"
