"""The fleet and one service as the dashboard shows them: plain data built from the library's answers.

`fleet(ctx)` is one `darse status` (one engine query per engine, the history, Git) plus what the status
does not say: each service's target, how many commits behind HEAD its deployed revision is and their
subjects, dirty deploys, and the lint and secrets verdicts. Those verdicts cost a whole-repository
lint, so a `FleetCache` keeps them for one state of the checkout (HEAD, the uncommitted files, the
secret files, the day) and computes them again only when that state changes; the commits between two
revisions never change, so they are kept too. `service_view(ctx, name)` adds what one service's page
shows: its README and newest CHANGELOG entry rendered, its Compose services, lint findings, missing
secret keys (names, never values), history and the masked diff `darse up` would apply.

Nothing here ever reads a secret value into a result: the secrets diff gives key names, the diff is
the library's masked one, the history holds no secret.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from darse import api
from darse.deploy.revisions import under
from darse.deploy.status import UNKNOWN, UNREACHABLE
from darse.errors import DarseError
from darse.model.service import project_name, real_for

if TYPE_CHECKING:
    from darse.config import Target
    from darse.deploy.context import DeployContext
    from darse.deploy.status import ServiceStatus, UnreachableTarget
    from darse.git import LoggedCommit
    from darse.model.service import Service

COMMITS_LIMIT = 1000  # commits read between a deployed revision and HEAD; more shows as "1000+ behind"
SUBJECTS_SHOWN = 20  # commit subjects listed per service (the count is exact up to COMMITS_LIMIT)
README_NAMES = ("README.md", "readme.md", "Readme.md", "README.markdown", "README")
MAX_MARKDOWN = 64 * 1024  # bytes of a README or CHANGELOG rendered; the rest is cut (a hostile one costs CPU)


# -- the fleet ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Lint and secrets verdicts of one service (the fleet's counts)."""

    lint_errors: int = 0
    lint_warnings: int = 0
    missing_keys: int = 0  # keys of the examples absent from the real secret files (names only)
    secrets_error: str = ""  # an example darse cannot read: the reason, never a value


@dataclass
class Verdicts:
    """The verdicts of one checkout state, by service name."""

    key: tuple[Any, ...]
    by_service: dict[str, Verdict]
    lint_error: str = ""  # the whole lint failed (a broken darse.toml): its one-line message
    computed_at: str = ""


@dataclass(frozen=True)
class BehindCommit:
    hash: str
    subject: str


@dataclass
class FleetRow:
    """One service of the fleet: `darse status`'s row plus target, commits behind and verdicts."""

    service: str
    project: str
    target: str
    target_kind: str  # local, context, host, swarm
    state: str
    deployed_revision: str
    head: str
    dirty_deploy: bool = False  # the last successful deployment ran with uncommitted changes
    uncommitted: list[str] = field(default_factory=list)  # files of the folder changed since HEAD
    behind: int | None = None  # commits since the deployed revision touching the folder; None: unknown
    behind_more: bool = False  # more commits than COMMITS_LIMIT were not read
    commits: list[BehindCommit] = field(default_factory=list)  # the newest SUBJECTS_SHOWN of them
    changed_files: list[str] = field(default_factory=list)
    config_drift: bool = False
    running: int = 0
    healthy: int = 0
    total: int = 0
    last_action: str = ""
    last_outcome: str = ""
    last_time: str = ""
    warnings: list[str] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)
    error: str = ""  # unreachable: why the service's target did not answer

    @property
    def containers_known(self) -> bool:
        return self.state != UNREACHABLE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deployed_revision"] = self.deployed_revision or None
        return data


@dataclass
class Fleet:
    head: str
    rows: list[FleetRow]
    error: str = ""  # Git or the history could not answer: rows show the repository without deployment state
    lint_error: str = ""
    verdicts_at: str = ""  # when the lint and secrets verdicts were computed
    unreachable: list[UnreachableTarget] = field(default_factory=list)  # targets that did not answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "error": self.error or None,
            "unreachable": [target.to_dict() for target in self.unreachable],
            "lint_error": self.lint_error or None,
            "verdicts_at": self.verdicts_at,
            "services": [row.to_dict() for row in self.rows],
        }


class FleetCache:
    """What the dashboard keeps for the life of its process: the lint and secrets verdicts of the last
    checkout state seen, and the commits between pairs of revisions (immutable). Thread-safe: pages are
    served from a thread pool, and a verdict is computed once however many pages ask at the same time."""

    MAX_RANGES = 512

    def __init__(self, compute: Callable[[DeployContext, tuple[Any, ...]], Verdicts] | None = None) -> None:
        self._lock = threading.Lock()
        self._verdicts: Verdicts | None = None
        self._ranges: dict[tuple[str, str], list[LoggedCommit] | None] = {}
        self._compute = compute or compute_verdicts
        self.computed = 0  # how many times the verdicts were computed (the tests' and benchmarks' probe)

    def verdicts(self, ctx: DeployContext, working: list[str] | None = None) -> Verdicts:
        """The verdicts of the checkout as it is now (`working`: its uncommitted files, when known)."""
        key = checkout_key(ctx, working)
        with self._lock:
            if self._verdicts is None or self._verdicts.key != key:
                self._verdicts = self._compute(ctx, key)
                self.computed += 1
            return self._verdicts

    def commits(self, ctx: DeployContext, old: str, new: str) -> list[LoggedCommit] | None:
        with self._lock:
            if (old, new) in self._ranges:
                return self._ranges[(old, new)]
        found = ctx.revisions.git.commits_between(old, new, COMMITS_LIMIT)
        with self._lock:
            if len(self._ranges) >= self.MAX_RANGES:
                self._ranges.clear()
            self._ranges[(old, new)] = found
        return found


def checkout_key(ctx: DeployContext, working: list[str] | None = None) -> tuple[Any, ...]:
    """What the verdicts depend on, cheaply: HEAD, each uncommitted file with its size and time, each
    real secret file's (Git ignores them, so `git status` does not see `darse secrets init`), the day
    (lint rules compare dates). At most one `git status`, a few `lstat`s, no file parsed."""
    head = _head(ctx)
    if working is None:
        working = _working(ctx)
    top = _top_level(ctx) if head else ctx.root
    dirty = tuple(sorted((path, _stamp(top / path)) for path in working))
    secrets = tuple(sorted({str(p): _stamp(p) for s in ctx.repository.services for p in _secret_paths(s)}.items()))
    return head, dirty, secrets, dt.date.today().isoformat()


def _top_level(ctx: DeployContext) -> Path:
    """The Git top level (the repository root is `prefix` below it)."""
    root = ctx.root
    for _part in Path(ctx.revisions.prefix.strip("/")).parts:
        root = root.parent
    return root


def _secret_paths(service: Service) -> list[Path]:
    """The real secret files the walk found and those its examples name, without reading Compose files
    (an env_file of another name has no example, so no key of it is ever counted missing)."""
    return [*service.secret_paths, *(real_for(example) for example in service.example_paths)]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def compute_verdicts(ctx: DeployContext, key: tuple[Any, ...]) -> Verdicts:
    """One lint of the whole repository, one secrets diff per service (key names only)."""
    errors: dict[str, int] = {}
    warnings: dict[str, int] = {}
    lint_error = ""
    try:
        report = api.lint(None, ctx.root)
        for finding in report.result.findings:
            label = finding.severity.label
            if label == "error":
                errors[finding.service] = errors.get(finding.service, 0) + 1
            elif label == "warning":
                warnings[finding.service] = warnings.get(finding.service, 0) + 1
    except DarseError as exc:
        lint_error = exc.message
    from darse.secrets.check import diff_service  # the library function behind api.diff_secrets, on one model

    by_service = {}
    for service in ctx.repository.services:
        missing, problem = 0, ""
        try:
            missing = sum(len(d.missing) for d in diff_service(ctx.repository, service))
        except DarseError as exc:
            problem = exc.message
        by_service[service.name] = Verdict(errors.get(service.name, 0), warnings.get(service.name, 0), missing, problem)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Verdicts(key, by_service, lint_error, now)


def target_kind(target: Target) -> str:
    """How the dashboard names where a target is: a Swarm, a Docker context, a DOCKER_HOST, or local."""
    if target.is_swarm:
        return "swarm"
    if target.context:
        return "context"
    if target.host:
        return "host"
    return "local"


def fleet(ctx: DeployContext, cache: FleetCache | None = None) -> Fleet:
    """Every service of the repository with its deployment state and verdicts. Without a `cache`, the
    verdicts are computed for this call alone (the dashboard passes the one it keeps)."""
    cache = cache or FleetCache()
    working = _working(ctx)
    summary = _deployments(ctx, cache, working)
    verdicts = cache.verdicts(ctx, working)
    for row in summary.rows:
        row.verdict = verdicts.by_service.get(row.service, Verdict())
    summary.lint_error, summary.verdicts_at = verdicts.lint_error, verdicts.computed_at
    return summary


def fleet_rows(ctx: DeployContext, projects: set[str] | frozenset[str], cache: FleetCache | None = None) -> Fleet:
    """The rows of the services of `projects` alone (Compose project names), with their verdicts: what
    the live fleet sends when the engine says those projects changed. Still one `darse status` (one
    engine query per engine, which the status needs for every row anyway); the other rows are not built."""
    cache = cache or FleetCache()
    working = _working(ctx)
    summary = _deployments(ctx, cache, working, projects)
    verdicts = cache.verdicts(ctx, working)
    for row in summary.rows:
        row.verdict = verdicts.by_service.get(row.service, Verdict())
    summary.lint_error, summary.verdicts_at = verdicts.lint_error, verdicts.computed_at
    return summary


def _deployments(
    ctx: DeployContext, cache: FleetCache, working: list[str], projects: set[str] | frozenset[str] | None = None
) -> Fleet:
    """The rows without verdicts: one `darse status`, the last successes, the commits behind (cached);
    only those of `projects` when given."""
    error = ""
    unreachable: list[UnreachableTarget] = []
    try:
        report = api.status(ctx)  # a target that does not answer is in `unreachable`, the others exact
        statuses: dict[str, ServiceStatus] | None = {row.service: row for row in report.rows}
        unreachable = report.unreachable
    except DarseError as exc:  # the folder is not a Git work tree, the history cannot be read
        error = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        statuses = None
    head = _head(ctx)
    succeeded = _last_successes(ctx)
    working = working if statuses is not None else []
    rows = [
        _row(ctx, cache, service, statuses.get(service.name) if statuses else None, head, succeeded, working)
        for service in ctx.repository.services
        if projects is None or project_name(service.name) in projects
    ]
    return Fleet(head, rows, error, unreachable=unreachable)


def _row(
    ctx: DeployContext,
    cache: FleetCache,
    service: Service,
    status: ServiceStatus | None,
    head: str,
    succeeded: dict[str, Any],
    working: list[str],
) -> FleetRow:
    target = ctx.target_of(service)
    project = project_name(service.name)
    row = FleetRow(service.name, project, target.name, target_kind(target), UNKNOWN, "", head)
    if status is None:
        return row
    row.state, row.deployed_revision = status.state, status.deployed_revision
    row.changed_files, row.config_drift = status.changed_files, status.config_drift
    row.running, row.healthy, row.total = status.running, status.healthy, status.total
    row.last_action, row.last_outcome, row.last_time = status.last_action, status.last_outcome, status.last_time
    row.warnings, row.error = status.warnings, status.error
    recorded = succeeded.get(project)
    row.dirty_deploy = bool(recorded and recorded.dirty and recorded.revision == status.deployed_revision)
    folder = ctx.revisions.service_path(service.name)
    row.uncommitted = [path for path in working if under(path, folder)]
    if status.deployed_revision and head:
        commits = cache.commits(ctx, status.deployed_revision, head)
        if commits is not None:
            touching = [c for c in commits if any(under(path, folder) for path in c.files)]
            row.behind = len(touching)
            row.behind_more = len(commits) >= COMMITS_LIMIT
            row.commits = [BehindCommit(c.hash, c.subject) for c in touching[:SUBJECTS_SHOWN]]
    return row


def _head(ctx: DeployContext) -> str:
    try:
        return ctx.revisions.head
    except DarseError:
        return ""


def _working(ctx: DeployContext) -> list[str]:
    try:
        return ctx.revisions.working_changes()
    except DarseError:
        return []


def _last_successes(ctx: DeployContext) -> dict[str, Any]:
    try:
        return ctx.history.last_success_by_project()
    except DarseError:
        return {}


# -- one service ----------------------------------------------------------------------------------


@dataclass
class ComposeServiceView:
    """One service of the Compose file as written (the model's reading), with the digest last deployed."""

    name: str
    image: str
    digests: list[str] = field(default_factory=list)  # from the last successful deployment's record
    build: bool = False
    ports: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


@dataclass
class MissingKeys:
    path: str  # the real secret file, relative to the repository root
    exists: bool
    keys: list[str]  # names only


@dataclass
class ChangelogEntry:
    version: str
    html: str  # rendered like the README (no raw HTML)


@dataclass
class ServiceView:
    name: str
    row: FleetRow
    readme_html: str = ""
    changelog: ChangelogEntry | None = None
    compose: list[ComposeServiceView] = field(default_factory=list)
    compose_problems: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # lint findings (`path`, `line`, ...)
    lint_error: str = ""
    missing_keys: list[MissingKeys] = field(default_factory=list)
    secrets_error: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    history_error: str = ""
    diff: str | None = None  # what `darse up` would apply, masked; None when never deployed
    diff_error: str = ""
    error: str = ""  # the fleet's error (Git or the history), or why this service's target did not answer

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["row"] = self.row.to_dict()
        return data


def service_view(ctx: DeployContext, name: str, cache: FleetCache | None = None) -> ServiceView:
    """Everything the service's page shows. An unknown `name` is a DarseError (the page's 404)."""
    service = ctx.service(name)
    summary = _deployments(ctx, cache or FleetCache(), _working(ctx))
    row = next(r for r in summary.rows if r.service == service.name)
    view = ServiceView(service.name, row, error=summary.error or row.error)
    view.readme_html = _readme(service)
    view.changelog = _changelog(service)
    project = project_name(service.name)
    recorded = _last_successes(ctx).get(project)
    view.compose, view.compose_problems = _compose(service, recorded.images if recorded else {})
    try:
        view.findings = [f.to_dict() for f in api.lint([service.name], ctx.root).result.findings]
    except DarseError as exc:
        view.lint_error = exc.message
    try:
        report = api.diff_secrets(service.name, ctx.root)
        view.missing_keys = [MissingKeys(d.path, d.exists, list(d.missing)) for d in report.files if d.missing]
    except DarseError as exc:
        view.secrets_error = exc.message
    try:
        view.history = api.history(ctx, service.name).to_dict()
    except DarseError as exc:
        view.history_error = exc.message
    severities = [f["severity"] for f in view.findings]
    missing = sum(len(m.keys) for m in view.missing_keys)
    row.verdict = Verdict(severities.count("error"), severities.count("warning"), missing, view.secrets_error)
    if recorded is not None:
        try:
            view.diff = api.diff(ctx, service.name).diff
        except DarseError as exc:  # Compose refused the file, or is missing; its message is masked
            view.diff_error = exc.message
    return view


@functools.lru_cache(maxsize=128)
def render_markdown(text: str) -> str:
    """CommonMark to HTML with raw HTML escaped (never passed through); links kept, except the schemes
    markdown-it refuses (javascript:, vbscript:, file:, most data:). Cached by text: a page view renders a
    README once per content, not once per visitor (some texts cost markdown-it seconds). Headings go two
    levels down (`#` becomes `<h3>`): the page has its own `<h1>` and `<h2>` sections, and a screen reader's
    outline must not show the README's title as a second page title."""
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False})
    tokens = markdown.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
    return markdown.renderer.render(tokens, markdown.options, {})


def _read(path: Path) -> str | None:
    """At most MAX_MARKDOWN bytes of a regular file of the repository (a link out of it is not read)."""
    from darse.fsutil import open_regular

    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_MARKDOWN)
    except OSError:  # absent, unreadable, a link or a special file (UnsafeFile)
        return None
    return data.decode("utf-8-sig", "replace")


def _readme(service: Service) -> str:
    for name in README_NAMES:
        path = service.path / name
        if path.is_file():
            text = _read(path)
            return render_markdown(text) if text is not None else ""
    return ""


def _changelog(service: Service) -> ChangelogEntry | None:
    """The newest entry: from the first heading naming a version to the next heading of its level or above."""
    if service.changelog_path is None or service.changelog_version is None:
        return None
    text = _read(service.changelog_path)
    if text is None:
        return None
    found = service.changelog_version
    lines = text.splitlines()
    start = found.line - 1
    level = _heading_level(lines[start]) if start < len(lines) else 1
    end = start + 1
    while end < len(lines):
        other = _heading_level(lines[end])
        if other and other <= level:
            break
        end += 1
    return ChangelogEntry(found.version, render_markdown("\n".join(lines[start:end])))


def _heading_level(line: str) -> int:
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("#"):
        return 0
    hashes = len(stripped) - len(stripped.lstrip("#"))
    rest = stripped[hashes:]
    return hashes if hashes <= 6 and (not rest or rest[0] in " \t") else 0


def _own_digests(image: str, digests: list[Any]) -> list[str]:
    """The deployed image's digests in its own repository: the engine lists the image's digests in every
    repository it was ever pushed to or pulled from, which say nothing about this service."""
    from darse.model.image import parse_image

    if not image:
        return []
    own = parse_image(image).full_name
    return [str(d) for d in digests if parse_image(str(d)).full_name == own]


def _compose(service: Service, images: dict[str, Any]) -> tuple[list[ComposeServiceView], list[str]]:
    from darse.model.compose import mounts, networks, ports

    compose = service.compose
    problems = [f"{service.compose_path.name}:{p.line}: {p.message}" for p in compose.problems if p.fatal]
    out = []
    for name, node in compose.services():
        image = node.get("image")
        record = images.get(name) if isinstance(images, dict) else None
        digests = list(record.get("digests") or []) if isinstance(record, dict) else []
        out.append(
            ComposeServiceView(
                name=name,
                image=(image.text() or "") if image is not None else "",
                digests=_own_digests((image.text() or "") if image is not None else "", digests),
                build=node.get("build") is not None,
                ports=[_port(p) for p in ports(node)],
                networks=sorted(networks(node)),
                volumes=[_mount(m) for m in mounts(node)],
            )
        )
    return out, problems


def _port(node: Any) -> str:
    if not node.is_map:
        return node.text() or ""
    published = node.get("published")
    target = node.get("target")
    protocol = node.get("protocol")
    text = f"{published.text() if published is not None else ''}:{target.text() if target is not None else ''}"
    return f"{text}/{protocol.text()}" if protocol is not None and protocol.text() else text


def _mount(mount: Any) -> str:
    """The short syntax as written (`./conf:/etc/conf:ro`), the long one summed up, then the kind."""
    if not mount.node.is_map and mount.node.text():
        return f"{mount.node.text()} ({mount.kind})"
    if mount.kind == "anonymous":
        return f"{mount.target} (anonymous)"
    return f"{mount.source}:{mount.target} ({mount.kind})"
