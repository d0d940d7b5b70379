"""One folder of the repository: a service (Compose files) or an image folder (Dockerfiles only).

A service folder may hold several Compose files, and every one is read:

- the default, `compose.y[a]ml` or `docker-compose.y[a]ml`: what `docker compose up` (and `darse up`) uses;
- overrides, `NAME.override.y[a]ml`: merged onto `NAME.y[a]ml` (else onto the default) as Compose merges
  them, so an override is never judged alone;
- variants, `docker-compose-*.y[a]ml`, `compose.*.y[a]ml`, ...: alternatives, each linted on its own.

darse.toml's `[services."NAME"] compose_file` names the file a service deploys; a folder of variants and
no default deploys only once one is named.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from darse.errors import DarseError
from darse.model.changelog import ChangelogVersion, latest_version
from darse.model.compose import COMPOSE_NAMES, ComposeFile, env_files, load_compose
from darse.model.dockerfiles import Dockerfile, load_dockerfile
from darse.model.image import parse_image
from darse.model.overrides import load_merged
from darse.model.yamlnode import YNode

SECRET_SUFFIX = ".secrets"
EXAMPLE_SUFFIX = ".example"

# `compose.yaml`, `docker-compose-sqlite.yml`, `compose.prod.yaml`, `docker-compose.override.yml`, ...
_COMPOSE_NAME = re.compile(r"^(?:docker-)?compose(?:[.\-_].+)?\.ya?ml$")
_OVERRIDE_SUFFIXES = (".override.yml", ".override.yaml")
COMPOSE_PATTERNS = "compose.y[a]ml, docker-compose.y[a]ml, *.override.y[a]ml, docker-compose-*.y[a]ml, compose.*.y[a]ml"
SERVICE_HINT = (
    f"a service is a folder holding a Compose file ({COMPOSE_PATTERNS}); "
    "an image folder holds a Dockerfile and no Compose file"
)


def is_compose_name(name: str) -> bool:
    """A file name darse reads as a Compose file (default, override or variant)."""
    return _COMPOSE_NAME.match(name) is not None


def is_override_name(name: str) -> bool:
    return name.endswith(_OVERRIDE_SUFFIXES) and is_compose_name(name)


@dataclass(frozen=True)
class ComposeUnit:
    """One Compose configuration linted on its own: a file, and the overrides Compose merges onto it."""

    path: Path
    overrides: tuple[Path, ...] = ()


def compose_units(folder: Path, names: list[str], chosen: str | None = None) -> tuple[Path | None, list[ComposeUnit]]:
    """The file a folder deploys (None when only variants and none chosen) and every unit to lint.

    `names` are the folder's Compose file names; `chosen` is darse.toml's `compose_file`, if any.
    The deployed file comes first among the units; the others follow in name order.
    """
    present = set(names)
    default = chosen or next((name for name in COMPOSE_NAMES if name in present), None)
    bases = sorted(name for name in present if not is_override_name(name))
    overrides: dict[str, list[Path]] = {}
    alone: list[str] = []
    for name in sorted(present):
        if not is_override_name(name):
            continue
        stem = name[: name.rindex(".override.")]
        base = next((b for b in (f"{stem}.yml", f"{stem}.yaml") if b in present), default)
        if base is None:
            alone.append(name)  # nothing to merge onto: read on its own rather than not at all
        else:
            overrides.setdefault(base, []).append(folder / name)
    ordered = ([default] if default in present else []) + [b for b in bases if b != default] + alone
    units = [ComposeUnit(folder / name, tuple(overrides.get(name, ()))) for name in ordered]
    return (folder / default if default else None), units


@dataclass(frozen=True)
class HomeMadeImage:
    """A Dockerfile of the service and the Compose services that run the image it builds."""

    dockerfile: Path
    users: tuple[tuple[str, YNode], ...]  # (compose service name, its node)


@dataclass
class Service:
    """A service folder, or an image folder (`is_image`: Dockerfiles and no Compose file).

    `compose_path` is the Compose file rules read: the deployed file, else (a folder of variants only)
    the first variant; for an image folder, its first Dockerfile, where folder-level findings point.
    `view(unit)` gives the same folder reading another unit (a variant, the base with its overrides).
    """

    name: str  # path of the folder relative to the repository root, with "/"
    path: Path
    compose_path: Path
    dockerfile_paths: list[Path] = field(default_factory=list)
    secret_paths: list[Path] = field(default_factory=list)  # real `*.secrets` files present
    example_paths: list[Path] = field(default_factory=list)  # `*.secrets.example` files
    has_readme: bool = False
    changelog_path: Path | None = None
    registry: str = ""
    units: list[ComposeUnit] = field(default_factory=list)  # every Compose configuration of the folder
    override_paths: tuple[Path, ...] = ()  # merged onto compose_path in `compose`
    deploy_path: Path | None = None  # the file `darse up` deploys; None: variants only, none chosen
    is_image: bool = False

    @cached_property
    def compose(self) -> ComposeFile:
        if self.is_image:
            return ComposeFile(self.compose_path, None)
        if self.override_paths:
            return load_merged(self.compose_path, self.override_paths)
        return load_compose(self.compose_path)

    @property
    def compose_paths(self) -> list[Path]:
        """Every Compose file of the folder, overrides included."""
        return [path for unit in self.units for path in (unit.path, *unit.overrides)]

    @cached_property
    def views(self) -> list[Service]:
        """One view per Compose configuration of the folder (just this object for an image folder)."""
        return [self.view(unit) for unit in self.units] or [self]

    def view(self, unit: ComposeUnit) -> Service:
        """This folder reading `unit` (shares the file lists; its own parsed Compose file)."""
        if unit.path == self.compose_path and unit.overrides == self.override_paths:
            return self
        return dataclasses.replace(self, compose_path=unit.path, override_paths=unit.overrides)

    @property
    def deploy_file(self) -> Path:
        """The Compose file to deploy; a folder of variants with none chosen is a user error to fix."""
        if self.deploy_path is not None:
            return self.deploy_path
        choices = ", ".join(unit.path.name for unit in self.units) or "none"
        raise DarseError(
            f"service {self.name} has no default Compose file to deploy (it holds {choices})",
            f'name one in darse.toml: [services."{self.name}"] compose_file = "{self.units[0].path.name}"'
            if self.units
            else "add compose.yaml to the folder",
        )

    def overrides_beside(self, compose_path: Path) -> tuple[Path, ...]:
        """The override files Compose merges onto the deployed file (`compose.override.yaml`), found
        beside `compose_path`: the working tree's file, or the same file in a release of an old commit."""
        deployed = next((unit for unit in self.units if unit.path == self.deploy_path), None)
        if deployed is None:
            return ()
        return tuple(
            compose_path.parent / p.name for p in deployed.overrides if (compose_path.parent / p.name).is_file()
        )

    @cached_property
    def dockerfiles(self) -> list[Dockerfile]:
        return [load_dockerfile(path) for path in self.dockerfile_paths]

    @cached_property
    def changelog_version(self) -> ChangelogVersion | None:
        return latest_version(self.changelog_path) if self.changelog_path else None

    @cached_property
    def home_made_images(self) -> list[HomeMadeImage]:
        """Link each Dockerfile to the Compose services that build it or run the image it makes.

        A Compose service is linked when its `build:` points at the Dockerfile, or when its image's
        last path component is the Dockerfile's folder name (or the service's folder name for a
        Dockerfile at the top of it), or when its image lives in the repository's own registry and the
        service has a single Dockerfile.
        """
        services = self.compose.services()
        out = []
        for dockerfile in self.dockerfile_paths:
            users = tuple((name, node) for name, node in services if self._runs_image_of(dockerfile, node))
            out.append(HomeMadeImage(dockerfile, users))
        return out

    def _runs_image_of(self, dockerfile: Path, node: YNode) -> bool:
        build = node.get("build")
        if build is not None:
            return self._build_target(build) == dockerfile
        image = node.get("image")
        if image is None or not image.text():
            return False
        ref = parse_image(image.text() or "")
        names = {dockerfile.parent.name.lower()}
        if dockerfile.parent == self.path:
            names.add(self.path.name.lower())
        if ref.name in names:
            return True
        return bool(self.registry) and ref.registry == self.registry and len(self.dockerfile_paths) == 1

    def _build_target(self, build: YNode) -> Path | None:
        base = self.compose_path.parent
        if build.is_map:
            context = (build.get("context").text() if build.get("context") else ".") or "."
            name = (build.get("dockerfile").text() if build.get("dockerfile") else "Dockerfile") or "Dockerfile"
        else:
            context, name = build.text() or ".", "Dockerfile"
        if "://" in context or context.startswith("git@") or "\0" in context + name:
            return None  # a remote context, or a name no file system accepts
        return _normalise(base / context / name)

    @property
    def builds_images(self) -> bool:
        return bool(self.dockerfile_paths)

    @cached_property
    def secret_files(self) -> list[Path]:
        """Real secret files this service uses or holds: env_files with an example or a `.secrets` name,
        and every `*.secrets` file in the folder. They may or may not exist yet."""
        found: dict[Path, None] = {}
        for _name, node in self.compose.services():
            for ref in env_files(node):
                path = env_file_path(self.compose_path, ref.path)
                if path is not None and (path.name.endswith(SECRET_SUFFIX) or example_for(path).exists()):
                    found[path] = None
        for path in self.secret_paths:
            found[path] = None
        return list(found)


def env_file_path(compose_path: Path, name: str) -> Path | None:
    """Where an env_file entry points, resolved; None for a name no file system accepts (a NUL byte)."""
    return None if "\0" in name else _normalise(compose_path.parent / name)


def _normalise(path: Path) -> Path:
    """`a/./b/../c` → `a/c` without touching the disk: paths here are built from the absolute,
    already resolved service folder, and `Path.resolve()` costs several system calls per path."""
    return Path(os.path.normpath(path))


def example_for(real: Path) -> Path:
    return real.with_name(real.name + EXAMPLE_SUFFIX)


def real_for(example: Path) -> Path:
    return example.with_name(example.name[: -len(EXAMPLE_SUFFIX)])


# A service's Compose project is its folder path relative to the repository root, lowercased, with every
# character Compose refuses turned into `-` (`wiki` → `wiki`, `web/blog` → `web-blog`). For a top-level
# folder this is exactly the name `cd wiki && docker compose up -d` would give, so a stack started by
# hand the seed's way is the same project darse manages.
_INVALID = re.compile(r"[^a-z0-9_-]+")


def project_name(service_name: str) -> str:
    """The stable Compose project name of a service (see above)."""
    name = _INVALID.sub("-", service_name.lower()).strip("-_")
    if not name:
        raise DarseError(f"cannot derive a Compose project name from {service_name!r}", "rename the service folder")
    return name
