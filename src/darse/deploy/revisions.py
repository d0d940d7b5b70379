"""The Git questions deploys ask (HEAD, working changes, what changed since a commit, a folder as of a
commit), answered by the Git module for the repository root, with the answers a deploy reuses cached.

Paths handed in and out are relative to the Git top level (`service_path` turns a service name into
one). The working tree is only ever read: a past revision is materialised with `git archive` elsewhere.
"""

from __future__ import annotations

import io
import tarfile
from functools import cached_property
from pathlib import Path

from darse.errors import DarseError
from darse.git import Git

DEPLOY_HINT = "darse deploys committed services: git init"


class Revisions:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.git = Git(root, hint=DEPLOY_HINT)

    @cached_property
    def prefix(self) -> str:
        """The root's path inside the Git work tree (`""` at the top, else `sub/dir/`)."""
        return self.git.prefix()

    def service_path(self, service_name: str) -> str:
        return f"{self.prefix}{service_name}".strip("/")

    @cached_property
    def head(self) -> str:
        return self.git.head()

    def resolve(self, rev: str) -> str:
        return self.git.resolve(rev)

    def has_path(self, commit: str, path: str) -> bool:
        return self.git.has_path(commit, path)

    def working_changes(self, path: str = "") -> list[str]:
        """Tracked files modified and untracked files not ignored (secret files are ignored), under `path`."""
        return self.git.working_changes(path)

    def changed_between(self, old: str, new: str) -> list[str] | None:
        """Files that differ between two commits (whole repository; callers filter by folder);
        None when `old` is not a commit of this repository."""
        return self.git.changed_between(old, new)

    def knows(self, commit: str) -> bool:
        return self.git.knows(commit)

    def materialise(self, commit: str, path: str, dest: Path) -> None:
        """Extract folder `path` as of `commit` into `dest` (git archive of the subtree, safe extraction)."""
        if not self.has_path(commit, path):
            raise DarseError(f"{path} does not exist at {commit[:12]}", "choose a revision where the service exists")
        data = self.git.archive(commit, path)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            archive.extractall(dest, filter="data")


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
