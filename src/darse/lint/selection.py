"""Turning `darse lint [PATH|SERVICE...]` arguments into a repository and the folders to lint.

The tree is discovered once; each argument then picks from it with dictionary look-ups, so naming every
folder costs no more than linting the whole tree. A file named is the file linted (with its folder's
repository rules); a path or name that selects nothing is an error, never a pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from darse.errors import DarseError, did_you_mean
from darse.model.dockerfiles import DOCKERFILE_GLOBS
from darse.model.repository import Repository, find_root, open_repository
from darse.model.service import SERVICE_HINT, Service

_NO_SERVICE_HINT = f"{SERVICE_HINT}; run darse in the repository"
# Files that concern every folder: a change to them lints the whole repository.
_REPOSITORY_FILES = {"darse.toml", ".gitignore"}


@dataclass
class LintSelection:
    repository: Repository
    services: list[Service] = field(default_factory=list)  # service and image folders
    loose_dockerfiles: list[Path] = field(default_factory=list)  # Dockerfiles outside any folder darse reads
    only: dict[Path, set[Path]] = field(default_factory=dict)  # folder -> the files named in it (None: all)


def _is_dockerfile(path: Path) -> bool:
    return any(path.match(pattern) for pattern in DOCKERFILE_GLOBS)


def _absolute(cwd: Path, argument: str) -> Path:
    """`argument` from the (resolved) `cwd`, normalised without a system call; `Path.resolve()` costs
    several per path, and discovery already gives folders by their resolved paths."""
    return Path(os.path.normpath(cwd / argument))


def resolve_selection(arguments: list[str], cwd: Path, changed: bool = False) -> LintSelection:
    """`changed`: the arguments are files pre-commit saw change; those belonging to no folder are ignored."""
    if not arguments:
        root = find_root(cwd)
        repository = open_repository(root)
        if not repository.folders:
            raise DarseError(f"no service or image folder found in {root}", _NO_SERVICE_HINT)
        return LintSelection(repository, repository.folders)
    cwd = cwd.resolve()
    first = _absolute(cwd, arguments[0])
    base = first if first.is_dir() else first.parent if first.exists() else cwd
    root = find_root(base)
    real_root = root.resolve()
    repository = open_repository(root)
    folders = repository.folders
    by_path = {folder.path: folder for folder in folders}
    folder_texts = [str(folder.path) for folder in folders]  # string prefixes: cheap for many folders named
    chosen: dict[Path, Service] = {}
    only: dict[Path, set[Path] | None] = {}  # None: the whole folder
    loose: list[Path] = []

    def take(folder: Service, file: Path | None = None) -> None:
        chosen.setdefault(folder.path, folder)
        files = only.get(folder.path, set())
        if file is None:
            only[folder.path] = None
        elif files is not None:
            only[folder.path] = files | {file}

    for argument in arguments:
        path = _absolute(cwd, argument)
        if path not in by_path and path.exists() and path.resolve() != path:
            path = path.resolve()  # a symbolic link on the way
        if not path.exists():
            _by_name(repository, argument, root, take)
            continue
        if path.is_dir():
            if path in by_path:
                take(by_path[path])
                continue
            prefix = os.path.join(str(path), "")
            inside = [f for f, text in zip(folders, folder_texts, strict=True) if text.startswith(prefix)]
            if not inside and not path.is_relative_to(real_root):
                outside = open_repository(path)
                inside = outside.folders
            if not inside:
                if changed:
                    continue
                raise DarseError(f"{argument} holds no service or image folder", _NO_SERVICE_HINT)
            for folder in inside:
                take(folder)
            continue
        owner = _owner(path, by_path, real_root)
        if owner is not None and (path in owner.compose_paths or path in owner.dockerfile_paths):
            take(owner, path)
        elif owner is not None and path.suffix in (".yml", ".yaml") and not changed:
            raise DarseError(
                f"{argument} is not a Compose file darse reads",
                f"{SERVICE_HINT}; another name can be given in darse.toml: "
                f'[services."{owner.name}"] compose_file = "{path.name}"',
            )
        elif owner is not None:  # README, CHANGELOG, .env, secret files...: the folder they belong to
            take(owner)
        elif path.name in _REPOSITORY_FILES or path == real_root / "README.md":
            for folder in folders:
                take(folder)
        elif _is_dockerfile(path):
            loose.append(path)
        elif not changed:
            raise DarseError(
                f"{argument} belongs to no service or image folder of {root}",
                f"{SERVICE_HINT}; name a folder, one of its files, or a service",
            )
    named = {key: files for key, files in only.items() if files is not None}
    return LintSelection(repository, list(chosen.values()), loose, named)


def _owner(path: Path, by_path: dict[Path, Service], root: Path) -> Service | None:
    """The service or image folder a file belongs to: the nearest one above it (a service owns its
    subfolders; an image folder only its own files)."""
    for folder in path.parents:
        found = by_path.get(folder)
        if found is not None:
            if found.is_image and folder != path.parent:
                return None
            return found
        if folder == root:
            break
    return None


def _by_name(repository: Repository, argument: str, root: Path, take: Callable[[Service], None]) -> None:
    name = argument.rstrip("/")
    for folder in repository.folders:
        if folder.name == name or folder.path.name == name:
            take(folder)
            return
    raise DarseError(
        f"{argument!r} is neither a file, a folder nor a service of {root}",
        did_you_mean(argument, [n for s in repository.folders for n in (s.name, s.path.name)])
        or "give a path, or a service name from `darse status`",
    )
