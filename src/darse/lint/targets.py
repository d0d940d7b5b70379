"""Turning `darse lint [PATH|SERVICE...]` arguments into a repository and the services to lint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darse.errors import DarseError, did_you_mean
from darse.model.compose import COMPOSE_NAMES
from darse.model.dockerfiles import DOCKERFILE_GLOBS
from darse.model.repository import Repository, find_root, open_repository
from darse.model.service import Service

_NO_SERVICE_HINT = "a service is a folder holding compose.yaml (or docker-compose.yml); run darse in the repository"


@dataclass
class LintTargets:
    repository: Repository
    services: list[Service] = field(default_factory=list)
    loose_dockerfiles: list[Path] = field(default_factory=list)  # Dockerfiles outside any service


def _service_folder(path: Path, root: Path) -> Path | None:
    """The nearest folder at or above `path` (not above `root`) holding a Compose file."""
    for folder in (path, *path.parents):
        if any((folder / name).is_file() for name in COMPOSE_NAMES):
            return folder
        if folder == root:
            break
    return None


def _is_dockerfile(path: Path) -> bool:
    return any(path.match(pattern) for pattern in DOCKERFILE_GLOBS)


def resolve_targets(targets: list[str], cwd: Path) -> LintTargets:
    if not targets:
        root = find_root(cwd)
        repository = open_repository(root)
        if not repository.services:
            raise DarseError(f"no service found in {root}", _NO_SERVICE_HINT)
        return LintTargets(repository, list(repository.services))
    first = (cwd / targets[0]).resolve()
    base = first if first.is_dir() else first.parent if first.exists() else cwd
    root = find_root(base)
    # the whole tree under the root is discovered once; targets then pick from it
    repository = open_repository(root)
    by_path = {service.path: service for service in repository.services}
    chosen: dict[Path, Service] = {}
    loose: list[Path] = []
    for target in targets:
        path = (cwd / target).resolve()
        if path.exists():
            folder = _service_folder(path if path.is_dir() else path.parent, root)
            if folder is not None and folder in by_path:
                chosen.setdefault(folder, by_path[folder])
            elif path.is_dir():
                inside = [s for s in repository.services if s.path == path or path in s.path.parents]
                if not inside and path != root and not (path.is_relative_to(root)):
                    inside = open_repository(path).services
                for service in inside:
                    chosen.setdefault(service.path, service)
            elif _is_dockerfile(path):
                loose.append(path)
            else:  # darse.toml, .gitignore, ...: a repository-wide file concerns every service
                for service in repository.services:
                    chosen.setdefault(service.path, service)
            continue
        try:
            service = repository.service(target)
        except DarseError:
            raise DarseError(
                f"{target!r} is neither a file, a folder nor a service of {root}",
                did_you_mean(target, [n for s in repository.services for n in (s.name, s.path.name)])
                or "give a path, or a service name from `darse status`",
            ) from None
        chosen.setdefault(service.path, service)
    return LintTargets(repository, list(chosen.values()), loose)
