"""Git questions deploys ask: HEAD, dirtiness, what changed since a commit, a folder as of a commit.

Paths handed in and out are relative to the Git top level (`prefix()` turns a repository root into one).
The working tree is only ever read: a past revision is materialised with `git archive` elsewhere.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from functools import cached_property
from pathlib import Path

from darse.errors import DarseError


class Revisions:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _git(self, *args: str, binary: bool = False, check: bool = True) -> str | bytes | None:
        try:
            proc = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, check=False, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DarseError(f"git failed in {self.root}: {exc}", "is git installed?") from None
        if proc.returncode != 0:
            if not check:
                return None
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DarseError(
                f"git {args[0]} failed: {message[0] if message else 'exit ' + str(proc.returncode)}",
                "check the revision and that the repository is a Git work tree",
            )
        return proc.stdout if binary else proc.stdout.decode("utf-8", "replace")

    @cached_property
    def prefix(self) -> str:
        """The root's path inside the Git work tree (`""` at the top, else `sub/dir/`)."""
        out = self._git("rev-parse", "--show-prefix", check=False)
        if out is None:
            raise DarseError(f"{self.root} is not in a Git work tree", "darse deploys committed services: git init")
        return str(out).strip()

    def service_path(self, service_name: str) -> str:
        return f"{self.prefix}{service_name}".strip("/")

    @cached_property
    def head(self) -> str:
        out = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if not out:
            raise DarseError(f"the repository {self.root} has no commit yet", "commit the service first")
        return str(out).strip()

    def resolve(self, rev: str) -> str:
        if rev.startswith("-"):
            raise DarseError(f"{rev!r} is not a revision", "give a commit, tag or branch")
        out = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if not out:
            raise DarseError(f"unknown revision {rev!r}", "see `git log` or `darse history SERVICE`")
        return str(out).strip()

    def has_path(self, commit: str, path: str) -> bool:
        return self._git("cat-file", "-e", f"{commit}:{path}", check=False) is not None

    def working_changes(self, path: str = "") -> list[str]:
        """Tracked files modified and untracked files not ignored (secret files are ignored), under `path`."""
        args = ["status", "--porcelain", "-z", "--untracked-files=all", "--", f":/{path}" if path else ":/"]
        out = str(self._git(*args))
        entries = out.split("\0")
        paths: list[str] = []
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if len(entry) < 4:
                continue
            paths.append(entry[3:])
            if entry[0] in "RC":  # a rename is followed by its source path
                index += 1
        return paths

    def changed_between(self, old: str, new: str) -> list[str] | None:
        """Files that differ between two commits (whole repository, one call; callers filter by folder);
        None when `old` is not a commit of this repository."""
        if not old:
            return None
        out = self._git("diff", "--name-only", "-z", "--no-renames", old, new, "--", check=False)
        if out is None:
            return None
        return [p for p in str(out).split("\0") if p]

    def knows(self, commit: str) -> bool:
        return bool(commit) and self._git("cat-file", "-e", f"{commit}^{{commit}}", check=False) is not None

    def materialise(self, commit: str, path: str, dest: Path) -> None:
        """Extract folder `path` as of `commit` into `dest` (git archive of the subtree, safe extraction)."""
        if not self.has_path(commit, path):
            raise DarseError(f"{path} does not exist at {commit[:12]}", "choose a revision where the service exists")
        data = self._git("archive", "--format=tar", f"{commit}:{path}", binary=True)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(bytes(data or b"")), mode="r:") as archive:
            archive.extractall(dest, filter="data")


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
