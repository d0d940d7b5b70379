"""Repository rules: each service folder holds what the guide expects, and no secret reaches Git."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import MAX_TEXT_BYTES
from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, repository_rule
from darse.model.compose import env_files
from darse.model.image import parse_image
from darse.model.service import Service, env_file_path, example_for
from darse.model.yamlnode import YNode


@repository_rule(
    "RP001",
    "readme-missing",
    "Service folder without README.md",
    Severity.WARNING,
    """Each service folder has a README summing up its settings, volumes and how to deploy it: it
    is what an admin reads at 2 a.m. when the service is down.""",
)
def readme_missing(service: Service, ctx: LintContext) -> Iterator[Hit]:
    if not service.has_readme:
        what = "image folder" if service.is_image else "service"
        yield Hit(f"{what} {service.name} has no README.md", 1, 1, service.compose_path)


@repository_rule(
    "RP002",
    "changelog-missing",
    "Home-made image without CHANGELOG.md",
    Severity.WARNING,
    """A service that builds its own image records each version in CHANGELOG.md; the newest entry
    is the image's tag, so anyone can tell which Dockerfile made which image.""",
)
def changelog_missing(service: Service, ctx: LintContext) -> Iterator[Hit]:
    if service.builds_images and service.changelog_path is None:
        yield Hit(f"service {service.name} builds an image but has no CHANGELOG.md", 1, 1, service.dockerfile_paths[0])


def _strip_v(version: str) -> str:
    return version[1:] if version[:1] in ("v", "V") else version


@repository_rule(
    "RP003",
    "changelog-tag",
    "Image tag differs from the CHANGELOG version",
    Severity.ERROR,
    """The Compose file must deploy the version the CHANGELOG announces last: a bumped CHANGELOG
    with an old tag deploys the old image, an old CHANGELOG with a new tag deploys an undocumented
    one.""",
)
def changelog_tag(service: Service, ctx: LintContext) -> Iterator[Hit]:
    if service.changelog_path is None or not service.builds_images:
        return
    latest = service.changelog_version
    if latest is None and _refusal(service.changelog_path, ctx) is not None:
        return  # not read at all: RP009 says why
    if latest is None:
        yield Hit("CHANGELOG.md names no version (expected a heading such as ## 1.2.0)", 1, 1, service.changelog_path)
        return
    for image in service.home_made_images:
        for name, node in image.users:
            image_node = node.get("image")
            if image_node is None or not image_node.text():
                continue
            tag = parse_image(image_node.text() or "").tag
            if tag and _strip_v(tag) != _strip_v(latest.version):
                yield Hit(
                    f"service {name} deploys tag {tag} but CHANGELOG.md's latest version is {latest.version}",
                    image_node.line,
                    image_node.column,
                    service.compose_path,
                )


@repository_rule(
    "RP004",
    "env-file-missing",
    "env_file with neither real file nor example",
    Severity.ERROR,
    """Every env_file needs at least its committed example (`NAME.secrets.example`), from which
    `darse secrets init` makes the real file on the host; with neither, nobody can deploy it.""",
)
def env_file_missing(service: Service, ctx: LintContext) -> Iterator[Hit]:
    base = service.compose_path.parent
    for name, node in service.compose.services():
        for ref in env_files(node):
            path = base / ref.path
            if ref.required and not path.exists() and not example_for(path).exists():
                yield Hit(
                    f"env_file {ref.path} of service {name} has neither a real file nor {path.name}.example",
                    ref.node.line,
                    ref.node.column,
                    service.compose_path,
                )


@repository_rule(
    "RP005",
    "secret-without-example",
    "Real secret file without its example",
    Severity.WARNING,
    """A real `*.secrets` file lives only on its host; without its committed `.example`, the next
    admin does not know which settings to provide.""",
)
def secret_without_example(service: Service, ctx: LintContext) -> Iterator[Hit]:
    for path in service.secret_paths:
        if not example_for(path).exists():
            yield Hit(f"{path.name} has no {path.name}.example committed next to it", 1, 1, path)


@repository_rule(
    "RP006",
    "secret-tracked",
    "Real secret file tracked by Git",
    Severity.ERROR,
    """The repository is public: a real secret file in Git is a leaked secret. Remove it from the
    index (`git rm --cached`), rotate its values, and make sure `.gitignore` covers it.""",
)
def secret_tracked(service: Service, ctx: LintContext) -> Iterator[Hit]:
    repo = ctx.repository
    if repo is None:
        return
    tracked = repo.git.tracked
    for path in service.secret_files:
        if repo.relative(path) in tracked:
            yield Hit(f"{path.name} is tracked by Git: its secrets are published", 1, 1, path)


@repository_rule(
    "RP007",
    "secret-not-ignored",
    "Real secret file not ignored by Git",
    Severity.ERROR,
    """A real secret file that `.gitignore` does not cover is one `git add .` away from being
    published. `darse secrets init` fixes `.gitignore`; `*.secrets` is the usual pattern.""",
)
def secret_not_ignored(service: Service, ctx: LintContext) -> Iterator[Hit]:
    repo = ctx.repository
    if repo is None or not repo.git.is_repository:
        return
    ignored = repo.ignored_among([repo.relative(path) for path in service.secret_files])
    tracked = repo.git.tracked
    named = _env_file_nodes(service)
    for path in service.secret_files:
        relative = repo.relative(path)
        if relative in ignored or relative in tracked:
            continue
        message = f"{path.name} is not ignored by .gitignore"
        if path.exists() or path not in named:
            yield Hit(message, 1, 1, path)
        else:  # not created yet: point at the env_file entry that will make it
            yield Hit(message, named[path].line, named[path].column, service.compose_path)


def _env_file_nodes(service: Service) -> dict[Path, YNode]:
    """The YAML node naming each env_file, by the path `Service.secret_files` knows it by; first one wins."""
    nodes: dict[Path, YNode] = {}
    for _name, node in service.compose.services():
        for ref in env_files(node):
            path = env_file_path(service.compose_path, ref.path)
            if path is not None:
                nodes.setdefault(path, ref.node)
    return nodes


@repository_rule(
    "RP009",
    "unsafe-file",
    "A file darse reads is a link out of the repository, a special file, or huge",
    Severity.ERROR,
    """A cloned repository is untrusted input: a committed CHANGELOG.md, .env, env file or example
    secret file that is a link to `/dev/zero`, to a FIFO or to a file outside the repository would
    make every tool that reads it hang, exhaust memory or read the host's own files. darse does not
    read such files and reports them (Compose files and Dockerfiles: DC000 and DF000). Commit the
    file itself; real secret files (`*.secrets`) stay on the host and may be links.""",
)
def unsafe_file(service: Service, ctx: LintContext) -> Iterator[Hit]:
    for path in _committed_inputs(service):
        reason = _refusal(path, ctx)
        if reason is not None:
            yield Hit(f"{path.name} is not read: it is {reason}", 1, 1, path)


def _refusal(path: Path, ctx: LintContext) -> str | None:
    """Why darse refuses to read a committed file (a link out, a special file, too large), or None."""
    from darse.fsutil import UnsafeFile, open_regular

    if not path.is_symlink() and not path.exists():
        return None
    try:
        with open_regular(path, within=ctx.repository.root if ctx.repository else None) as handle:
            size = os.fstat(handle.fileno()).st_size
    except UnsafeFile as exc:
        return exc.reason
    except OSError:
        return None
    return f"larger than {MAX_TEXT_BYTES} bytes" if size > MAX_TEXT_BYTES else None


def _committed_inputs(service: Service) -> list[Path]:
    """The files of a folder darse reads besides Compose files and Dockerfiles, committed ones only."""
    found: dict[Path, None] = {}
    if service.changelog_path is not None:
        found[service.changelog_path] = None
    found[service.path / ".env"] = None
    for example in service.example_paths:
        found[example] = None
    if not service.is_image:
        for _name, node in service.compose.services():
            for ref in env_files(node):
                path = env_file_path(service.compose_path, ref.path)
                if path is not None and not path.name.endswith(".secrets"):
                    found[path] = None
    return list(found)


@repository_rule(
    "RP010",
    "project-collision",
    "Two service folders map to one Compose project",
    Severity.ERROR,
    """A service's Compose project is its folder path with `/` turned into `-` (`web/blog` is
    `web-blog`), so `web/blog` and `web-blog` are one project: `docker compose up --remove-orphans`
    of either removes the other's containers. `darse up` refuses both; rename one folder.""",
)
def project_collision(service: Service, ctx: LintContext) -> Iterator[Hit]:
    if ctx.repository is None or service.is_image:
        return
    from darse.model.service import project_name

    try:
        project = project_name(service.name)
    except DarseError:
        return
    others = [name for name in _folders_by_project(ctx.repository).get(project, []) if name != service.name]
    if others:
        yield Hit(
            f"folders {service.name} and {', '.join(others)} both map to the Compose project {project}; rename one",
            1,
            1,
            service.compose_path,
        )


_PROJECTS: list[tuple[object, dict[str, list[str]]]] = []  # the last repository's map (one lint run)


def _folders_by_project(repository: object) -> dict[str, list[str]]:
    """Compose project -> service folders, computed once per repository rather than once per folder."""
    if _PROJECTS and _PROJECTS[0][0] is repository:
        return _PROJECTS[0][1]
    from darse.model.service import project_name

    found: dict[str, list[str]] = {}
    for other in repository.services:  # type: ignore[attr-defined]
        try:
            found.setdefault(project_name(other.name), []).append(other.name)
        except DarseError:
            continue
    _PROJECTS[:] = [(repository, found)]
    return found
