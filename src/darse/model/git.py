"""What the model asks Git about the repository: is it one, which files it tracks, which it ignores.

A read of any folder, Git or not: a failure of Git is "no answer" (not a repository, nothing tracked,
nothing ignored). One subprocess per question, each asked at most once per `GitInfo` for the first two:
`darse lint` asks them on every run.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from darse.git import Git


class GitInfo:
    """Git facts for the folder `root` (any folder inside a work tree); paths are relative to `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._git = Git(root)

    @cached_property
    def is_repository(self) -> bool:
        return self._git.is_work_tree

    @cached_property
    def tracked(self) -> frozenset[str]:
        return self._git.tracked_files() if self.is_repository else frozenset()

    def ignored(self, paths: list[str]) -> set[str]:
        """The subset of `paths` (relative to root) that .gitignore rules ignore, tracked or not."""
        if not paths or not self.is_repository:
            return set()
        return self._git.ignored(paths)
