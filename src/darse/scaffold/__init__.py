"""`darse new`: a service folder that passes `darse lint`, written whole or not at all.

Files are written into a hidden temporary folder beside the target (hidden folders are not services),
which is then renamed into place in one step; `.gitignore` is fixed so the future real secret files
are ignored. Any failure removes the temporary folder and leaves the repository as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from darse.errors import DarseError
from darse.lint.linter import LintResult
from darse.model.compose import COMPOSE_NAMES
from darse.model.repository import Repository
from darse.scaffold import render
from darse.scaffold.options import NewOptions, validate
from darse.secrets.gitignore import apply_gitignore, plan_gitignore, undo_gitignore

__all__ = ["Created", "NewOptions", "NewReport", "create_service", "new_service", "planned_files", "validate"]


@dataclass
class Created:
    path: Path
    files: list[str] = field(default_factory=list)  # relative to the new folder
    gitignore_fixed: bool = False


def planned_files(options: NewOptions) -> dict[str, str]:
    """The new folder's files, by path relative to it."""
    files = {
        "compose.yaml": render.compose_yaml(options),
        "README.md": render.readme(options),
        render.app_secrets_path(options) + ".example": render.app_secrets_example(options),
    }
    if options.database is not None:
        files[render.db_secrets_path(options) + ".example"] = render.db_secrets_example(options)
    if options.dockerfile:
        files["Dockerfile"] = render.dockerfile(options)
        files["CHANGELOG.md"] = render.changelog(options)
    return files


def create_service(repository: Repository, parent: Path, options: NewOptions) -> Created:
    """Create `parent/NAME` for `options`; refuses an existing path and changes nothing on failure."""
    target = parent / options.name
    inside = _service_holding(parent, repository.root)
    if inside is not None:
        where = repository.relative(parent) or "."
        raise DarseError(
            f"{where} is inside the service {repository.relative(inside)}: services do not nest",
            "run darse new from the repository root, or from a folder that is not a service",
        )
    if target.exists() or target.is_symlink():
        raise DarseError(f"{repository.relative(target)} already exists; nothing was written", "choose another name")
    files = planned_files(options)
    reals = [target / render.app_secrets_path(options)]
    if options.database is not None:
        reals.append(target / render.db_secrets_path(options))
    fix = plan_gitignore(repository, reals)
    try:
        temp = Path(tempfile.mkdtemp(prefix=f".{options.name}.", suffix=".new", dir=parent))
    except OSError as exc:
        raise DarseError(
            f"cannot write in {repository.relative(parent) or '.'}: {exc.strerror}", "check the folder's permissions"
        ) from None
    try:
        _write_tree(temp, files)
        if fix is not None:
            apply_gitignore(repository, fix)
        try:
            if target.exists() or target.is_symlink():
                raise DarseError(f"{repository.relative(target)} appeared meanwhile; nothing was written", "retry")
            os.rename(temp, target)
        except BaseException:
            if fix is not None:
                undo_gitignore(fix)
            raise
    except OSError as exc:
        raise DarseError(
            f"cannot create {repository.relative(target)}: {exc.strerror}", "check the folder's permissions"
        ) from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return Created(target, sorted(files), fix is not None)


def _service_holding(folder: Path, root: Path) -> Path | None:
    """The service folder at or above `folder` (up to the root), if any: services do not nest."""
    for candidate in (folder, *folder.parents):
        if any((candidate / name).is_file() for name in COMPOSE_NAMES):
            return candidate
        if candidate == root:
            break
    return None


def _write_tree(temp: Path, files: dict[str, str]) -> None:
    """Write the files with the user's umask (a shared checkout may be group-writable), then give the
    folder the mode a plain mkdir would have (mkdtemp makes it 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    for relative, text in files.items():
        path = temp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    os.chmod(temp, 0o777 & ~umask)


@dataclass
class NewReport:
    """`darse new`'s result: the folder made, and what `darse lint` says of it (about the image chosen)."""

    name: str
    relative: str  # the new folder, relative to the repository root
    created: Created
    lint: LintResult

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": 1,
            "service": self.relative,
            "files": [f"{self.relative}/{f}" for f in self.created.files],
            "gitignore_fixed": self.created.gitignore_fixed,
            "lint_findings": len(self.lint.findings),
        }


def new_service(
    start: Path,
    name: str,
    image: str,
    *,
    web: int | None = None,
    host: str | None = None,
    database: str | None = None,
    dockerfile: bool = False,
    app_version: str | None = None,
    tls_domains: tuple[str, ...] | list[str] = (),
) -> NewReport:
    """Create the folder `start/NAME` in the repository around `start`, then lint it."""
    from darse.lint.linter import Linter
    from darse.model.repository import find_root, open_repository

    root = find_root(start)
    repository = open_repository(root)
    options = validate(
        name,
        image,
        web,
        host,
        database,
        dockerfile,
        repository.config,
        app_version=app_version,
        tls_domains=tls_domains,
    )
    created = create_service(repository, start, options)
    service_repo = open_repository(root, under=created.path)
    result = Linter(service_repo.config, service_repo).lint_services(service_repo.services)
    return NewReport(options.name, service_repo.relative(created.path), created, result)
