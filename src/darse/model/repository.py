"""Finding the repository root, its `darse.toml`, and every service folder below it, in one walk."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from darse.config import RepoConfig, find_root, load_config
from darse.errors import DarseError
from darse.model.git import GitInfo
from darse.model.service import EXAMPLE_SUFFIX, SECRET_SUFFIX, Service, compose_units, is_compose_name, real_for

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
    services: list[Service] = field(default_factory=list)  # service folders (Compose files)
    images: list[Service] = field(default_factory=list)  # image folders (Dockerfiles, no Compose file)

    @property
    def folders(self) -> list[Service]:
        """Service and image folders, by path: everything `darse lint` reads."""
        return sorted([*self.services, *self.images], key=lambda s: s.path.as_posix())

    @cached_property
    def git(self) -> GitInfo:
        return GitInfo(self.root)

    @cached_property
    def _ignore_answers(self) -> dict[str, bool]:
        """Whether Git ignores each secret file the walk found (real files, and the real files of the
        examples), asked in one `git check-ignore` call, without reading any Compose file."""
        found = {self.relative(p) for f in self.folders for p in f.secret_paths}
        found |= {self.relative(real_for(p)) for f in self.folders for p in f.example_paths}
        candidates = sorted(c for c in found if not c.startswith("/"))
        ignored = self.git.ignored(candidates)
        return {c: c in ignored for c in candidates}

    def ignored_among(self, relatives: list[str]) -> set[str]:
        """Which of these paths (relative to the root) Git ignores. Paths the walk did not find (an
        env_file not created yet) are asked in one more call for the lot."""
        answers = self._ignore_answers
        missing = [r for r in dict.fromkeys(relatives) if r not in answers and not r.startswith("/")]
        if missing:
            ignored = self.git.ignored(missing)
            answers.update({m: m in ignored for m in missing})
        return {r for r in relatives if answers.get(r)}

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


def open_repository(root: Path, under: Path | None = None) -> Repository:
    """Read the configuration at `root` and discover the services in `under` (default: the root)."""
    root = root.resolve()
    if not root.is_dir():
        raise DarseError(f"{root} is not a folder", "give the path of a services repository")
    config = load_config(root)
    repo = Repository(root, config)
    under = (under or root).resolve()
    repo.services, repo.images = discover(root, under, config)
    if under == root:
        found = {s.name for s in repo.services}
        for name in config.compose_files:
            if name not in found:
                raise DarseError(
                    f"darse.toml names a Compose file for {name!r}, which is not a service folder here",
                    "fix the folder name under [services] in darse.toml, or remove the entry",
                )
    return repo


def discover_services(root: Path, under: Path, config: RepoConfig) -> list[Service]:
    """The service folders below `under` (image folders left out: `discover` gives both)."""
    return discover(root, under, config)[0]


def discover(root: Path, under: Path, config: RepoConfig) -> tuple[list[Service], list[Service]]:
    """Service folders and image folders below `under`, in one walk.

    A folder holding a Compose file is a service and owns its subfolders' Dockerfiles and secret files,
    except a subfolder holding Compose files of its own, which is a service in turn. A folder with a
    Dockerfile and no Compose file, outside any service, is an image folder.
    """
    services: list[Service] = []
    images: list[Service] = []
    skip = config.skip
    owners: dict[str, Service | None] = {}
    prefix = os.path.join(str(root), "")
    for folder, dirs, files in os.walk(under):
        # plain strings here: a Path per folder costs more than the walk itself on a large tree
        rel = folder[len(prefix) :].replace(os.sep, "/") if folder.startswith(prefix) else _rel(root, Path(folder))
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".") and not _skipped(_join(rel, d), skip)
        )
        owner = owners.pop(folder, None)
        chosen = config.compose_files.get(rel)
        names = [name for name in files if is_compose_name(name)]
        here = Path(folder) if names or chosen or owner is None else None
        if chosen is not None and chosen not in names:
            if chosen not in files:
                raise DarseError(
                    f"darse.toml names {rel or '.'}/{chosen} as the service's Compose file, and it does not exist",
                    "fix compose_file under [services] in darse.toml",
                )
            names.append(chosen)
        if here is not None and names:
            deploy_path, units = compose_units(here, names, chosen)
            owner = Service(
                name=rel or here.name,
                path=here,
                compose_path=units[0].path,
                registry=config.registry,
                units=units,
                override_paths=units[0].overrides,
                deploy_path=deploy_path,
            )
            _top_files(owner, here, files)
            services.append(owner)
        elif here is not None and owner is None and any(_is_dockerfile(name) for name in files):
            image = Service(
                name=rel or here.name, path=here, compose_path=here, registry=config.registry, is_image=True
            )
            _top_files(image, here, files)
            _collect_files(image, here, files)
            image.compose_path = image.dockerfile_paths[0]
            images.append(image)
            continue  # an image folder's subfolders are read on their own
        if owner is not None:
            _collect_files(owner, folder, files)
            for d in dirs:
                owners[os.path.join(folder, d)] = owner
    return services, images


def _top_files(service: Service, here: Path, files: list[str]) -> None:
    """README and CHANGELOG at the top of the folder."""
    lower = {name.lower(): name for name in files}
    service.has_readme = "readme.md" in lower
    if "changelog.md" in lower:
        service.changelog_path = here / lower["changelog.md"]


def _collect_files(service: Service, folder: Path | str, names: list[str]) -> None:
    """Record one folder's Dockerfiles, secret files and examples for the service that owns it."""
    for name in sorted(names):
        if _is_dockerfile(name):
            service.dockerfile_paths.append(Path(folder, name))
        elif name.endswith(SECRET_SUFFIX + EXAMPLE_SUFFIX):
            service.example_paths.append(Path(folder, name))
        elif name.endswith(SECRET_SUFFIX):
            service.secret_paths.append(Path(folder, name))


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


def repository_around(start: Path) -> Repository:
    """The repository holding `start` (the nearest folder with darse.toml, else the Git top level)."""
    return open_repository(find_root(start))
