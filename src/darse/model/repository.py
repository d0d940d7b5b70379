"""Finding the repository root, its `darse.toml`, and every service folder below it, in one walk."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from darse.config import CONFIG_NAME, RepoConfig, load_config
from darse.errors import DarseError
from darse.model.compose import COMPOSE_NAMES
from darse.model.git import GitInfo
from darse.model.service import EXAMPLE_SUFFIX, SECRET_SUFFIX, Service

_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv"}


def _is_dockerfile(name: str) -> bool:
    lower = name.lower()
    return (
        lower == "dockerfile"
        or lower == "containerfile"
        or (lower.startswith("dockerfile.") and not lower.endswith((".md", ".dockerignore")))
        or lower.endswith(".dockerfile")
    )


@dataclass
class Repository:
    root: Path
    config: RepoConfig
    services: list[Service] = field(default_factory=list)

    @cached_property
    def git(self) -> GitInfo:
        return GitInfo(self.root)

    @cached_property
    def ignored_secret_files(self) -> set[str]:
        """Which secret files of all services Git ignores, asked in one `git check-ignore` call."""
        candidates = [self.relative(p) for s in self.services for p in s.secret_files]
        return self.git.ignored([c for c in candidates if not c.startswith("/")])

    def relative(self, path: Path) -> str:
        """A path as shown to users and in reports: relative to the root, with `/`."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name or service.path.name == name:
                return service
        from darse.errors import did_you_mean

        names = [n for s in self.services for n in (s.name, s.path.name)]
        known = ", ".join(s.name for s in self.services[:8]) or "none"
        hint = did_you_mean(name, names) or f"services here: {known}"
        raise DarseError(f"no service named {name!r} in {self.root}", hint)


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding darse.toml, else the Git top level, else `start`."""
    start = start.resolve()
    git_top = None
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
        if git_top is None and (folder / ".git").exists():
            git_top = folder
    return git_top or start


def open_repository(root: Path, under: Path | None = None) -> Repository:
    """Read the configuration at `root` and discover the services in `under` (default: the root)."""
    root = root.resolve()
    if not root.is_dir():
        raise DarseError(f"{root} is not a folder", "give the path of a services repository")
    config = load_config(root)
    repo = Repository(root, config)
    repo.services = discover_services(root, (under or root).resolve(), config)
    return repo


def discover_services(root: Path, under: Path, config: RepoConfig) -> list[Service]:
    services: list[Service] = []
    skip = config.skip
    for folder, dirs, files in os.walk(under):
        here = Path(folder)
        rel = _rel(root, here)
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".") and not _skipped(_join(rel, d), skip)
        )
        compose_name = next((name for name in COMPOSE_NAMES if name in files), None)
        if compose_name is None:
            continue
        service = Service(
            name=rel or here.name,
            path=here,
            compose_path=here / compose_name,
            registry=config.registry,
        )
        _collect_files(service, here, dirs, files)
        services.append(service)
        dirs[:] = []  # a service's subfolders belong to it
    return services


def _collect_files(service: Service, here: Path, dirs: list[str], files: list[str]) -> None:
    """Record the service's Dockerfiles, secret files, README and CHANGELOG (subfolders included)."""
    lower = {name.lower(): name for name in files}
    service.has_readme = "readme.md" in lower
    if "changelog.md" in lower:
        service.changelog_path = here / lower["changelog.md"]
    stack = [(here, files, dirs)]
    while stack:
        folder, names, subdirs = stack.pop()
        for name in sorted(names):
            if _is_dockerfile(name):
                service.dockerfile_paths.append(folder / name)
            elif name.endswith(SECRET_SUFFIX + EXAMPLE_SUFFIX):
                service.example_paths.append(folder / name)
            elif name.endswith(SECRET_SUFFIX):
                service.secret_paths.append(folder / name)
        for sub in subdirs:
            if sub in _SKIP_DIRS or sub.startswith("."):
                continue
            path = folder / sub
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            stack.append((path, [e.name for e in entries if e.is_file()], [e.name for e in entries if e.is_dir()]))


def _rel(root: Path, folder: Path) -> str:
    try:
        rel = folder.relative_to(root).as_posix()
    except ValueError:
        return folder.name
    return "" if rel == "." else rel


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _skipped(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, pattern.rstrip("/")) for pattern in patterns)
