"""A bare "origin" repository with two clones, for the tests of `darse pull`: `host` is the checkout
darse runs in, `dev` is where an admin commits and pushes the commits the host then pulls."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers.repo import write_tree

GIT = ["git", "-c", "user.name=Ada Admin", "-c", "user.email=ada@darse.invalid", "-c", "init.defaultBranch=main"]
COMPOSE = "services:\n  web:\n    image: busybox:1.36\n"


def git(folder: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout


@dataclass
class Clones:
    origin: Path
    host: Path
    dev: Path

    def push(self, files: dict[str, str], message: str, remove: tuple[str, ...] = ()) -> str:
        """Commit `files` (and the removal of `remove`) in dev and push them; the new commit's hash."""
        write_tree(self.dev, files)
        for path in remove:
            git(self.dev, "rm", "-q", "--", path)
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-qm", message)
        git(self.dev, "push", "-q", "origin", "main")
        return git(self.dev, "rev-parse", "HEAD").strip()

    def head(self) -> str:
        return git(self.host, "rev-parse", "HEAD").strip()


def make_clones(tmp: Path, files: dict[str, str] | None = None) -> Clones:
    """origin (bare) with one commit of `files` (two services and darse.toml by default), cloned twice."""
    origin = tmp / "origin.git"
    subprocess.run([*GIT, "init", "-q", "--bare", str(origin)], check=True)
    files = files or {"darse.toml": "", "wiki/compose.yaml": COMPOSE, "blog/compose.yaml": COMPOSE}
    seed = write_tree(tmp / "seed", files)
    subprocess.run([*GIT, "init", "-q", str(seed)], check=True)
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "initial")
    git(seed, "push", "-q", str(origin), "main")
    for name in ("host", "dev"):
        subprocess.run([*GIT, "clone", "-q", str(origin), str(tmp / name)], check=True)
    return Clones(origin, tmp / "host", tmp / "dev")
