"""Versioned, labelled builds of a service's home-made images (`darse build`).

Each Dockerfile of the service becomes `<registry>/<name>:<version>`, the version being the newest
CHANGELOG entry (the value lint's RP003 checks against the Compose `image:` tag). The OCI labels
record the version, the Git commit, the source and the commit's time — not the wall clock — so the
same commit always labels the same, wherever and whenever it is rebuilt. The engine's classic
builder does the work through the Engine API (`darse.engine.images`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from darse.engine import images
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.git import Git
from darse.model.image import parse_image
from darse.model.service import Service
from darse.model.yamlnode import YNode

VERSION_ARG = "VERSION"
LABEL_VERSION = "org.opencontainers.image.version"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_CREATED = "org.opencontainers.image.created"
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ImagePlan:
    """One image to build and push: where its Dockerfile is and what it will be called."""

    service: str
    dockerfile: Path
    context: Path
    repository: str  # e.g. "pad", without the registry
    registry: str
    version: str
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None

    @property
    def tag(self) -> str:
        return f"{self.registry}/{self.repository}:{self.version}"

    def identity(self) -> dict[str, str]:
        """The fields every `--json` result about this image starts with (build and push alike)."""
        return {"service": self.service, "image": self.repository, "tag": self.tag, "version": self.version}


GIT_HINT = "darse build labels images with their commit"
DIRTY_HINT = "commit them (the image is labelled with the commit), or pass --allow-dirty"  # for darse.git.check_clean


@dataclass(frozen=True)
class GitFacts:
    revision: str
    created: str  # the commit's time, UTC, RFC 3339
    source: str
    dirty: list[str]


@dataclass
class BuildResult:
    plan: ImagePlan
    image_id: str
    size: int
    duration: float
    labels: dict[str, str]

    def as_json(self) -> dict:
        return {
            **self.plan.identity(),
            "id": self.image_id,
            "size": self.size,
            "duration": round(self.duration, 3),
            "labels": self.labels,
            "dockerfile": str(self.plan.dockerfile),
        }


def _strip_v(version: str) -> str:
    return version[1:] if version[:1] in ("v", "V") else version


def plan_service(service: Service, registry: str) -> list[ImagePlan]:
    """The images `service` makes, tagged with its CHANGELOG version; refuses any inconsistency."""
    if not registry:
        raise DarseError("no registry configured", 'set registry = "registry.example.org" in darse.toml')
    if not service.builds_images:
        raise DarseError(
            f"service {service.name} builds no image (no Dockerfile)", "darse build is for home-made images"
        )
    if service.changelog_path is None:
        raise DarseError(f"service {service.name} has no CHANGELOG.md", "its newest entry is the image version")
    latest = service.changelog_version
    if latest is None:
        raise DarseError(f"{service.changelog_path}: names no version", "add a heading such as ## 1.2.0")
    version = latest.version
    if version == "latest":
        raise DarseError("the version cannot be 'latest'", "a version names one image forever")
    plans = []
    for home_made in service.home_made_images:
        repository = None
        build_args: dict[str, str] = {}
        target = None
        context = home_made.dockerfile.parent
        for name, node in home_made.users:
            image = node.get("image")
            if image is not None and image.text():
                ref = parse_image(image.text() or "")
                if ref.tag and _strip_v(ref.tag) != _strip_v(version):
                    raise DarseError(
                        f"service {name} deploys tag {ref.tag} but CHANGELOG.md's latest version is {version}",
                        f"make them agree in {service.compose_path.name} and CHANGELOG.md (lint rule RP003)",
                    )
                repository = repository or ref.repository
            build = node.get("build")
            if build is not None and build.is_map:
                context_node = build.get("context")
                if context_node is not None and context_node.text():
                    context = Path(service.compose_path.parent / (context_node.text() or "."))
                build_args.update(_args(build.get("args")))
                target = (build.get("target").text() if build.get("target") else None) or None
            elif build is not None and build.text():
                context = Path(service.compose_path.parent / (build.text() or "."))
        if repository is None:
            folder = home_made.dockerfile.parent
            repository = (service.path.name if folder == service.path else folder.name).lower()
        if not _NAME.match(repository):
            raise DarseError(f"not a valid image name: {repository!r}", "use lowercase letters, digits, '.', '_', '-'")
        plans.append(
            ImagePlan(
                service.name, home_made.dockerfile, context.resolve(), repository, registry, version, build_args, target
            )
        )
    return plans


def _args(node: YNode | None) -> dict[str, str]:
    if node is None:
        return {}
    out = {}
    if node.is_map:
        for key, value in node.items():
            out[key] = value.text() or "" if value is not None else ""
    else:
        for item in node.children():
            text = item.text() or ""
            if "=" in text:
                key, _, value = text.partition("=")
                out[key] = value
    return out


def git_facts(folder: Path) -> GitFacts:
    """The commit checked out in `folder`'s work tree, its time, its remote, and the dirty paths under `folder`."""
    git = Git(folder, hint=GIT_HINT)
    revision = git.head()
    created = datetime.fromtimestamp(git.commit_time(revision), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return GitFacts(revision, created, git.origin_url(), git.working_changes(git.prefix()))


def labels_for(plan: ImagePlan, facts: GitFacts) -> dict[str, str]:
    labels = {LABEL_VERSION: plan.version, LABEL_REVISION: facts.revision, LABEL_CREATED: facts.created}
    if facts.source:
        labels[LABEL_SOURCE] = facts.source
    return labels


Progress = Callable[[str], None]


def build_image(
    engine: Engine, plan: ImagePlan, labels: dict[str, str], *, no_cache: bool, progress: Progress
) -> BuildResult:
    """Build one image with the engine's classic builder, streaming its steps to `progress`."""
    started = time.monotonic()
    try:
        dockerfile = plan.dockerfile.relative_to(plan.context).as_posix()
    except ValueError:
        dockerfile = str(plan.dockerfile)
    image = images.build_image(
        engine,
        context=plan.context,
        dockerfile=dockerfile,
        tag=plan.tag,
        build_args={**plan.build_args, VERSION_ARG: plan.version},
        labels=labels,
        no_cache=no_cache,
        target=plan.target,
        on_line=progress,
    )
    return BuildResult(plan, image["Id"], int(image.get("Size") or 0), time.monotonic() - started, labels)
