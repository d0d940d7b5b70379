"""What Git knows about the repository: tracked files and ignore rules, one subprocess per question."""

from __future__ import annotations

import subprocess
from functools import cached_property
from pathlib import Path


class GitInfo:
    """Git facts for the folder `root` (any folder inside a work tree); paths are relative to `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cached_property
    def is_repository(self) -> bool:
        return self._git("rev-parse", "--is-inside-work-tree") == "true\n"

    @cached_property
    def tracked(self) -> frozenset[str]:
        if not self.is_repository:
            return frozenset()
        out = self._git("ls-files", "-z", "--cached", "--", ".")
        return frozenset(filter(None, (out or "").split("\0")))

    def ignored(self, paths: list[str]) -> set[str]:
        """The subset of `paths` (relative to root) that .gitignore rules ignore, tracked or not."""
        if not paths or not self.is_repository:
            return set()
        out = self._git("check-ignore", "--no-index", "-z", "--stdin", stdin="\0".join(paths) + "\0")
        return set(filter(None, (out or "").split("\0")))

    def head(self) -> str:
        """The commit checked out (full hash), or "" outside a repository or before the first commit."""
        out = self._git("rev-parse", "--verify", "-q", "HEAD") if self.is_repository else None
        return (out or "").strip()

    def dirty(self, path: str = ".") -> bool:
        """Whether tracked or untracked (not ignored) files under `path` differ from HEAD."""
        out = self._git("status", "--porcelain", "--untracked-files=normal", "--", path) if self.is_repository else None
        return bool((out or "").strip())

    def _git(self, *args: str, stdin: str | None = None) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.root), *args],
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        # check-ignore exits 1 when nothing is ignored; that is an answer, not a failure
        return proc.stdout if proc.returncode in (0, 1) else None
