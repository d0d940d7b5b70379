"""The only code in darse that runs `docker compose`: argument lists, never a shell string.

Every call goes through `ComposeRunner`, which is parameterised by an `Endpoint` (a docker context or a
DOCKER_HOST: where an engine answers) so that every deploy target (a remote host, a Swarm manager)
reuses it unchanged.

Project names are the model's (`darse.model.service.project_name`): callers pass them in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from darse.errors import DarseError

if TYPE_CHECKING:  # annotations only: the engine layer does not import the model
    from darse.config import Target



@dataclass(frozen=True)
class Endpoint:
    """Where an engine answers: None/None is the local engine from the environment (DOCKER_HOST or
    the current docker context). A darse.toml *target* names one (`Endpoint.of`)."""

    context: str | None = None
    docker_host: str | None = None

    @classmethod
    def of(cls, target: Target) -> Endpoint:
        """darse.toml's target as an engine address (a context, a DOCKER_HOST, or the environment's)."""
        return cls(context=target.context or None, docker_host=target.host or None)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        return env

    def global_args(self) -> list[str]:
        return [f"--context={self.context}"] if self.context else []  # one word: never read as an option


PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def compose_command(docker: str, endpoint: Endpoint) -> list[str]:
    """How to run Compose: its plugin binary directly when the docker CLI would only relay to it.

    `docker compose X` starts the docker CLI, which runs the plugin once to read its metadata and once
    more for X: about 0.1 s of every call. The plugin is a complete Compose on its own (it reads
    DOCKER_HOST and the current context like the CLI), so darse runs it directly; a named context
    goes through the CLI, whose business contexts are."""
    if not endpoint.context:
        plugin = find_compose_plugin()
        if plugin is not None:
            return [plugin]
    return [docker, *endpoint.global_args(), "compose"]


def find_compose_plugin() -> str | None:
    """The Compose v2 plugin where the docker CLI looks for it (DOCKER_CONFIG's first), or None."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    for folder in (config / "cli-plugins", *map(Path, PLUGIN_DIRS)):
        candidate = folder / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@dataclass(frozen=True)
class ComposeResult:
    returncode: int
    output: str  # stdout and stderr of compose, interleaved (progress lines, errors); stdout alone with `errors`
    errors: str = ""  # stderr, when it was kept apart (`ComposeRunner.run(..., separate=True)`)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class ComposeRunner:
    """`docker compose` for one project, with its files or with a resolved configuration fed on stdin.

    `project` None leaves the name to Compose (the folder's name), as `docker compose` typed in
    `directory` would; `directory` is then the project directory of every call."""

    def __init__(
        self,
        project: str | None,
        endpoint: Endpoint | None = None,
        mask: Callable[[str], str] | None = None,
        directory: Path | None = None,
    ) -> None:
        self.project = project
        self.endpoint = endpoint or Endpoint()
        self.directory = directory
        # Compose quotes what it read in its errors, values of env files included: every text it
        # returns passes through `mask` (darse.masking) before anyone can show or store it
        self.mask = mask or (lambda text: text)
        docker = shutil.which("docker")
        if docker is None:
            raise DarseError("the docker CLI is not installed", "install docker and its compose plugin")
        self.docker = docker

    def _base(self) -> list[str]:
        base = compose_command(self.docker, self.endpoint)
        if self.project is not None:
            base = [*base, "--project-name", self.project]
        if self.directory is not None:
            base = [*base, "--project-directory", str(self.directory)]
        return base

    def _run(
        self,
        args: list[str],
        stdin: str | None = None,
        timeout: float | None = None,
        capture: bool = True,
        separate: bool = False,
    ) -> ComposeResult:
        try:
            proc = subprocess.run(
                args,
                input=stdin,
                stdout=subprocess.PIPE if capture else None,
                stderr=(subprocess.PIPE if separate else subprocess.STDOUT) if capture else None,
                text=True,
                env=self.endpoint.env(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ComposeResult(124, f"docker compose did not finish within {timeout:.0f} s", timed_out=True)
        return ComposeResult(proc.returncode, self.mask(proc.stdout or ""), self.mask(proc.stderr or ""))

    def run(self, args: list[str], timeout: float, separate: bool = False) -> ComposeResult:
        """Any other compose subcommand (`ps`, `restart`, `exec`), captured; `separate` keeps stderr
        apart from stdout (for a command whose output is data)."""
        return self._run([*self._base(), *args], timeout=timeout, separate=separate)

    def config(self, compose_file: Path, overrides: Sequence[Path] = ()) -> dict[str, Any]:
        """The resolved configuration (`docker compose config`, Compose's own interpolation and merging).

        Holds env_file values merged into `environment`: callers keep it in memory, hash or mask it,
        never print or store it as is.
        """
        return self.start_config(compose_file, overrides).result()

    def start_config(self, compose_file: Path, overrides: Sequence[Path] = ()) -> PendingConfig:
        """Start `docker compose config` in the background: a deploy runs its preflight meanwhile.
        `overrides` are merged onto the file in order, as `docker compose up` in the folder does."""
        files = [arg for path in (compose_file, *overrides) for arg in ("--file", str(path))]
        args = [*self._base(), *files, "--project-directory", str(compose_file.parent)]
        proc = subprocess.Popen(
            [*args, "config", "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.endpoint.env(),
        )
        return PendingConfig(proc, compose_file, self.mask)

    def up(self, config: dict[str, Any], project_dir: Path, timeout: float) -> ComposeResult:
        """`up -d --remove-orphans --wait` of a resolved configuration given on stdin (`--file -`), so that
        what darse hashed and labelled is exactly what runs, and no file holding secrets is written."""
        args = [
            *self._base(),
            "--file",
            "-",
            "--project-directory",
            str(project_dir),
            "up",
            "--detach",
            "--remove-orphans",
            "--wait",
            "--wait-timeout",
            str(max(1, int(timeout))),
        ]
        return self._run(args, stdin=json.dumps(config), timeout=timeout + 120)

    def create(self, config: dict[str, Any], project_dir: Path, timeout: float = 300) -> ComposeResult:
        """`create --remove-orphans` of a resolved configuration on stdin: the project's containers made
        (or remade) as `up` would make them, none started, so that data can be put into their volumes
        before anything runs on it (`rollback --with-data`)."""
        args = [*self._base(), "--file", "-", "--project-directory", str(project_dir), "create", "--remove-orphans"]
        return self._run(args, stdin=json.dumps(config), timeout=timeout)

    def down(self, volumes: bool = False, timeout: float = 120) -> ComposeResult:
        args = [*self._base(), "down", "--remove-orphans"]
        if volumes:
            args.append("--volumes")
        return self._run(args, timeout=timeout)

    def logs(self, follow: bool, tail: int | None) -> int:
        """Stream the project's logs to the terminal (not captured); returns compose's exit code."""
        args = [*self._base(), "logs"]
        if follow:
            args.append("--follow")
        if tail is not None:
            args += ["--tail", str(tail)]
        return self._run(args, capture=False).returncode


class PendingConfig:
    """A running `docker compose config`; `result()` waits and parses (or raises a one-line DarseError)."""

    def __init__(self, proc: subprocess.Popen[str], compose_file: Path, mask: Callable[[str], str]) -> None:
        self.proc = proc
        self.compose_file = compose_file
        self.mask = mask
        self._data: dict[str, Any] | None = None

    def result(self) -> dict[str, Any]:
        if self._data is not None:
            return self._data
        try:
            out, err = self.proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise DarseError(f"docker compose config hung on {self.compose_file}", "check the compose plugin") from None
        if self.proc.returncode != 0:
            # Compose's errors may quote a line of an env file it could not parse: masked
            first = next((line for line in (err or out).splitlines() if line.strip()), "unknown error")
            raise DarseError(
                f"docker compose cannot read {self.compose_file}: {self.mask(first.strip())}",
                "run `docker compose config` there",
            )
        try:
            data = json.loads(out)
        except ValueError:
            raise DarseError(f"docker compose config gave no JSON for {self.compose_file}", "update compose") from None
        if not isinstance(data, dict):
            raise DarseError(f"docker compose config gave no mapping for {self.compose_file}", "update compose")
        self._data = data
        return data

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
