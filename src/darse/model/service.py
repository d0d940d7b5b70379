"""One service of the repository: a folder holding a Compose file, and what lies beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from darse.model.changelog import ChangelogVersion, latest_version
from darse.model.compose import ComposeFile, env_files, load_compose
from darse.model.dockerfiles import Dockerfile, load_dockerfile
from darse.model.image import parse_image
from darse.model.yamlnode import YNode

SECRET_SUFFIX = ".secrets"
EXAMPLE_SUFFIX = ".example"


@dataclass(frozen=True)
class HomeMadeImage:
    """A Dockerfile of the service and the Compose services that run the image it builds."""

    dockerfile: Path
    users: tuple[tuple[str, YNode], ...]  # (compose service name, its node)


@dataclass
class Service:
    name: str  # path of the folder relative to the repository root, with "/"
    path: Path
    compose_path: Path
    dockerfile_paths: list[Path] = field(default_factory=list)
    secret_paths: list[Path] = field(default_factory=list)  # real `*.secrets` files present
    example_paths: list[Path] = field(default_factory=list)  # `*.secrets.example` files
    has_readme: bool = False
    changelog_path: Path | None = None
    registry: str = ""

    @cached_property
    def compose(self) -> ComposeFile:
        return load_compose(self.compose_path)

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
