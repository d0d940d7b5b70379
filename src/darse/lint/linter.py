"""Running every rule over a repository's services, then applying darse.toml and inline ignores."""

from __future__ import annotations

import bisect
import datetime as dt
import fnmatch
import os
import pickle
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from darse.config import LintSettings, RepoConfig
from darse.errors import DarseError, did_you_mean
from darse.lint import rules as _rules  # noqa: F401  (registers the rules)
from darse.lint.context import LintContext
from darse.lint.ignores import IGNORE_UNKNOWN, IgnoreIndex
from darse.lint.rule import RULES, Finding, Hit, Rule, Scope, Severity
from darse.lint.rules.parse import COMPOSE_SYNTAX, COMPOSE_VARIABLE, DOCKERFILE_SYNTAX
from darse.model.compose import ComposeFile
from darse.model.dockerfiles import Dockerfile, load_dockerfile
from darse.model.overrides import LINE_SHIFT, MergedCompose
from darse.model.repository import Repository
from darse.model.service import ComposeUnit, Service


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    services: int = 0  # service folders linted
    files: int = 0  # files actually read: Compose files (overrides included) and Dockerfiles
    images: int = 0  # image folders linted (Dockerfiles, no Compose file)
    read: list[Path] = field(default_factory=list)  # those files, in reading order (`darse lint -v`)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def fails(self, threshold: Severity) -> bool:
        return any(f.severity >= threshold for f in self.findings)


def resolve_rule(key: str) -> Rule:
    """A rule by ID (`DF001`) or name (`base-image-tag`), case-insensitive."""
    wanted = key.strip()
    for rule in RULES.values():
        if rule.id.lower() == wanted.lower() or rule.name == wanted.lower():
            return rule
    names = [n for rule in RULES.values() for n in (rule.id, rule.name)]
    hint = did_you_mean(wanted.upper() if wanted[:2].isalpha() and wanted[2:].isdigit() else wanted, names)
    raise DarseError(f"unknown rule {key!r}", hint or "`darse rules` lists every rule ID and name")


def validate_settings(settings: LintSettings) -> None:
    """Fail early (exit 2) on a rule in darse.toml that does not exist: a typo must not pass silently."""
    for key in [*settings.disable, *settings.severity]:
        resolve_rule(key)
    for override in settings.per_path:
        for key in [*override.disable, *override.severity]:
            resolve_rule(key)


class _Policy:
    """darse.toml's lint settings applied to one finding: enabled or not, and at which severity."""

    def __init__(self, settings: LintSettings) -> None:
        validate_settings(settings)
        self.disabled = {resolve_rule(k).id for k in settings.disable}
        self.severity = {resolve_rule(k).id: Severity.parse(v) for k, v in settings.severity.items()}
        self.per_path = [
            (
                override.paths,
                {resolve_rule(k).id for k in override.disable},
                {resolve_rule(k).id: Severity.parse(v) for k, v in override.severity.items()},
            )
            for override in settings.per_path
        ]

    def apply(self, rule: Rule, path: str) -> Severity | None:
        severity: Severity | None = None if rule.id in self.disabled else self.severity.get(rule.id, rule.severity)
        for patterns, disabled, severities in self.per_path:
            if any(fnmatch.fnmatch(path, p) for p in patterns):
                if rule.id in disabled:
                    severity = None
                elif rule.id in severities:
                    severity = severities[rule.id]
        return severity


PARALLEL_FROM = 64  # folders; below this, forking costs more than it saves


def _can_fork() -> bool:
    """Two cores, and nothing that a fork would break: no thread, and no Go runtime yet (BuildKit's
    parser, `dockerfile`, runs threads from its first load; a forked child of it deadlocks)."""
    import threading

    return (
        hasattr(os, "fork")
        and (os.cpu_count() or 1) >= 2
        and threading.active_count() == 1
        and "dockerfile" not in sys.modules
    )


class Linter:
    def __init__(self, config: RepoConfig, repository: Repository | None, today: dt.date | None = None) -> None:
        self.config = config
        self.repository = repository
        self.policy = _Policy(config.lint)
        self.ignores = IgnoreIndex()
        self.today = today or dt.date.today()
        self.by_scope: dict[Scope, list[Rule]] = {}
        for rule in RULES.values():
            self.by_scope.setdefault(rule.scope, []).append(rule)

    def lint_services(self, services: Iterable[Service], only: dict[Path, set[Path]] | None = None) -> LintResult:
        """Lint service and image folders; `only[folder]`, when given, restricts a folder to the files
        named on the command line (its repository rules still run)."""
        result = LintResult()
        folders = list(services)
        for service in folders:
            if service.is_image:
                result.images += 1
            else:
                result.services += 1
        for findings, read in self._lint_each(folders, only or {}):
            result.findings.extend(dict.fromkeys(findings))  # one finding per place, across variants
            result.read.extend(read)
        result.read = list(dict.fromkeys(result.read))  # a base read again under a fragment counts once
        result.files = len(result.read)
        result.findings.sort(key=lambda f: (f.path, f.line, f.column, f.rule))
        return result

    def _lint_each(
        self, folders: list[Service], only: dict[Path, set[Path]]
    ) -> list[tuple[list[Finding], list[Path]]]:
        """(findings, files read) of each folder, in order. Folders are independent: from
        PARALLEL_FROM folders on, a forked copy of this process lints the second half while this one
        lints the first (a 2-core machine lints 500 folders in about half the time)."""

        def lint(chunk: list[Service]) -> list[tuple[list[Finding], list[Path]]]:
            out = []
            for service in chunk:
                read: list[Path] = []
                out.append((self.lint_folder(service, only.get(service.path), read), read))
            return out

        if len(folders) < PARALLEL_FROM or not _can_fork():
            return lint(folders)
        half = len(folders) // 2
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: lint the second half, send it back pickled, exit without cleanup
            status = 1
            try:
                os.close(reader)
                with os.fdopen(writer, "wb") as pipe:
                    pipe.write(pickle.dumps(lint(folders[half:]), protocol=pickle.HIGHEST_PROTOCOL))
                status = 0
            finally:
                os._exit(status)
        os.close(writer)
        first = lint(folders[:half])
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        second = pickle.loads(data) if status == 0 and data else lint(folders[half:])  # the child failed: redo
        return first + second

    def lint_folder(
        self, service: Service, only: set[Path] | None = None, read: list[Path] | None = None
    ) -> list[Finding]:
        """Every Compose configuration of the folder (each variant on its own, each base merged with its
        overrides), its Dockerfiles, and the repository rules for each configuration."""
        read = [] if read is None else read
        views = [_as_overlay(service, view) for view in service.views]
        dockerfiles = service.dockerfile_paths
        if only is not None:
            views = [v for v in views if v.compose_path in only or not only.isdisjoint(v.override_paths)]
            dockerfiles = [path for path in dockerfiles if path in only]
        findings: list[Finding] = []
        about_folder: set[tuple[str, str]] = set()
        for view in views or [service]:
            anchor = self._shown(view.compose_path)
            for finding in self.lint_service(view, dockerfiles=False, compose=bool(views)):
                # a repository rule's finding about the folder (no README, ...) is anchored at 1:1 of
                # the configuration's file: report it once, not once per variant
                at_top = finding.line == 1 and finding.column == 1 and finding.path == anchor
                if at_top and RULES[finding.rule].scope is Scope.REPOSITORY:
                    if (finding.rule, finding.message) in about_folder:
                        continue
                    about_folder.add((finding.rule, finding.message))
                findings.append(finding)
            if views and not view.is_image:
                read.extend((view.compose_path, *view.override_paths))
        ctx = LintContext(self.config, self.repository, service, self.today)
        loaded = {d.path: d for d in service.dockerfiles} if dockerfiles == service.dockerfile_paths else {}
        for path in dockerfiles:
            findings.extend(self.lint_dockerfile(loaded.get(path) or load_dockerfile(path), ctx))
            read.append(path)
        return findings

    def lint_service(self, service: Service, dockerfiles: bool = True, compose: bool = True) -> Iterator[Finding]:
        """One configuration of a service: its Compose file (with overrides), Dockerfiles, repository rules."""
        ctx = LintContext(self.config, self.repository, service, self.today)
        if compose and not service.is_image:
            yield from self._lint_compose(service, ctx)
        if dockerfiles:
            for dockerfile in service.dockerfiles:
                yield from self.lint_dockerfile(dockerfile, ctx)
        for rule in self.by_scope.get(Scope.REPOSITORY, []):
            for hit in rule.check(service, ctx):
                yield from self._emit(rule, self._locate(hit, service.compose), service.compose_path, service)

    def _lint_compose(self, service: Service, ctx: LintContext) -> Iterator[Finding]:
        compose = service.compose
        for problem in compose.problems:
            rule = COMPOSE_SYNTAX if problem.fatal or "not set" not in problem.message else COMPOSE_VARIABLE
            hit = self._locate(Hit(problem.message, problem.line, problem.column), compose)
            yield from self._emit(rule, hit, compose.path, service)
        if compose.readable:
            for rule in self.by_scope.get(Scope.COMPOSE_FILE, []):
                for hit in rule.check(compose, ctx):
                    yield from self._emit(rule, self._locate(hit, compose), compose.path, service)
            for name, node in compose.services():
                for rule in self.by_scope.get(Scope.COMPOSE_SERVICE, []):
                    for hit in rule.check(name, node, compose, ctx):
                        yield from self._emit(rule, self._locate(hit, compose), compose.path, service)
        for path in (compose.path, *service.override_paths):
            yield from self._unknown_ignores(path, None, service)

    @staticmethod
    def _locate(hit: Hit, compose: ComposeFile) -> Hit:
        """A hit on a value an override file wrote points at that file (darse.model.overrides)."""
        if hit.line < LINE_SHIFT or not isinstance(compose, MergedCompose):
            return hit
        path, line = compose.locate(hit.line)
        return Hit(hit.message, line, hit.column, path)

    def lint_dockerfile(self, dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Finding]:
        for problem in dockerfile.problems:
            hit = Hit(problem.message, problem.line, problem.column)
            yield from self._emit(DOCKERFILE_SYNTAX, hit, dockerfile.path, ctx.service)
        yield from self._unknown_ignores(dockerfile.path, dockerfile.lines, ctx.service)
        if dockerfile.problems:
            return
        starts = [i.line for i in dockerfile.instructions]
        for rule in self.by_scope.get(Scope.DOCKERFILE, []):
            for hit in rule.check(dockerfile, ctx):
                index = bisect.bisect_right(starts, hit.line) - 1
                anchor = starts[index] if index >= 0 else hit.line
                yield from self._emit(rule, hit, dockerfile.path, ctx.service, anchor)

    def lint_file(self, path: Path) -> LintResult:
        """A Dockerfile outside any service folder: only the Dockerfile rules that need no service."""
        ctx = LintContext(self.config, self.repository, None, self.today)
        findings = sorted(self.lint_dockerfile(load_dockerfile(path), ctx), key=lambda f: (f.line, f.column, f.rule))
        return LintResult(findings, 0, 1, read=[path])

    def _shown(self, path: Path) -> str:
        return self.repository.relative(path) if self.repository else path.as_posix()

    def _unknown_ignores(self, path: Path, lines: list[str] | None, service: Service | None) -> Iterator[Finding]:
        """Ignore comments that name no rule (RP008), reported in the file that holds them."""
        for hit in self.ignores.unknown_rules(path, lines):
            yield from self._emit(IGNORE_UNKNOWN, hit, path, service)

    def _emit(
        self, rule: Rule, hit: Hit, default_path: Path, service: Service | None, anchor: int | None = None
    ) -> Iterator[Finding]:
        path = hit.path or default_path
        shown = self._shown(path)
        severity = self.policy.apply(rule, shown)
        if severity is None:
            return
        lines = (hit.line,) if anchor is None or anchor == hit.line else (hit.line, anchor)
        if self.ignores.ignored(path, lines, rule.id, rule.name):
            return
        yield Finding(
            rule.id, rule.name, severity, hit.message, shown, hit.line, hit.column, service.name if service else ""
        )


def _as_overlay(service: Service, view: Service) -> Service:
    """A variant none of whose services names an image or a build context (`docker-compose.nvidia.yml`
    adding GPU settings) is a fragment written for `-f compose.yaml -f fragment`, not a stack of its
    own: it is linted merged onto the deployed file, as Compose would read it."""
    if service.deploy_path is None or view.compose_path == service.deploy_path or view.override_paths:
        return view
    compose = view.compose
    services = compose.services() if compose.readable else []
    if not services or any(node.get("image") is not None or node.get("build") is not None for _, node in services):
        return view
    base = next((unit for unit in service.units if unit.path == service.deploy_path), None)
    overrides = base.overrides if base is not None else ()
    return service.view(ComposeUnit(service.deploy_path, (*overrides, view.compose_path)))
