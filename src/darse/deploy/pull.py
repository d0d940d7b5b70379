"""`darse pull`: the commits a fast-forward of the checkout to its upstream would bring, and doing it.

A host's checkout is what `darse up` deploys from, so taking new commits into it is an action of its
own: first the plan (`plan_pull`: the branch, its upstream, each commit to come with its author and
files, and which service folders those files belong to, read from the repository model), then, once a
person has seen it, `pull`: a fast-forward to exactly the commit the plan showed (`git merge --ff-only
HASH`, what `git pull --ff-only` does after its fetch), never a merge or a rebase, never over
uncommitted changes. Git's reflog records who pulled (`git reflog`: "darse pull by alice: Fast-forward");
the deployment history stays per service and records the deploys that follow.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.config import find_root
from darse.errors import DarseError
from darse.git import CannotPull, Git, IncomingCommit, Upstream, blocked, diverged
from darse.model.repository import Repository, open_repository
from darse.model.service import is_compose_name
from darse.progress import Event, Listener, ignore

COMMITS_SHOWN = 200  # commits listed in a plan; the count says how many more there are
PATHS_SHOWN = 50  # paths outside any service folder listed in a plan
REFLOG_PREFIX = "darse pull by "  # how Git's reflog names a move darse made (see `recent_pulls`)
NOT_A_CHECKOUT_HINT = "darse pull works in a Git clone of the services repository"


def _iso(seconds: float) -> str:
    """A time as the history writes them: ISO 8601 in UTC, to the second (`2026-11-22T14:07:14Z`)."""
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Commit:
    """One commit to come: who, when, what, and the service folders its files are in."""

    hash: str
    subject: str
    author: str
    time: int  # author time, seconds since the epoch
    files: tuple[str, ...]  # relative to the repository root (or to the Git top level when outside it)
    services: tuple[str, ...]

    @property
    def date(self) -> str:
        return _iso(self.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "subject": self.subject,
            "author": self.author,
            "date": self.date,
            "files": list(self.files),
            "services": list(self.services),
        }


@dataclass(frozen=True)
class Pulled:
    """An earlier pull recorded in Git's reflog."""

    time: int
    commit: str
    by: str

    @property
    def date(self) -> str:
        return _iso(self.time)


@dataclass
class PullPlan:
    """What `pull` would do: HEAD moves from `head` to `target` (the upstream's commit) taking `behind`
    commits, unless a refusal stands (diverged, uncommitted changes in the way)."""

    root: Path  # the repository's root (darse.toml's folder, else the Git top level)
    branch: str
    remote: str
    upstream: str  # origin/main
    head: str
    target: str
    ahead: int  # local commits the upstream has not
    behind: int  # commits to come
    commits: list[Commit] = field(default_factory=list)  # newest first, at most COMMITS_SHOWN
    services: list[str] = field(default_factory=list)  # service folders the commits change
    new_services: list[str] = field(default_factory=list)  # folders that become services
    images: list[str] = field(default_factory=list)  # image folders (Dockerfiles only) they change
    outside: list[str] = field(default_factory=list)  # paths in no folder: darse.toml, README.md, ...
    more_outside: int = 0
    blocking: list[str] = field(default_factory=list)  # uncommitted files the pull would overwrite
    model_problem: str = ""  # why the repository model could not be read (folders then unknown)
    fetched: bool = False  # the remote was asked just now
    last_fetch: float | None = None  # when the clone last fetched (epoch seconds)

    @property
    def diverged(self) -> bool:
        return self.ahead > 0 and self.behind > 0

    @property
    def refusals(self) -> list[DarseError]:
        """Why a pull would be refused now (each with its hint); empty when it can go."""
        refusals: list[DarseError] = []
        if self.diverged:
            refusals.append(diverged(Upstream(self.branch, self.remote, self.upstream)))
        if self.blocking:
            refusals.append(blocked(self.blocking))
        return refusals

    @property
    def ready(self) -> bool:
        return self.behind > 0 and not self.refusals

    @property
    def last_fetch_date(self) -> str:
        return "" if self.last_fetch is None else _iso(self.last_fetch)

    @property
    def more_commits(self) -> int:
        return max(0, self.behind - len(self.commits))

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "branch": self.branch,
            "remote": self.remote,
            "upstream": self.upstream,
            "head": self.head,
            "target": self.target,
            "ahead": self.ahead,
            "behind": self.behind,
            "ready": self.ready,
            "refusals": [refusal.one_line() for refusal in self.refusals],
            "commits": [commit.to_dict() for commit in self.commits],
            "more_commits": self.more_commits,
            "services": self.services,
            "new_services": self.new_services,
            "images": self.images,
            "outside": self.outside,
            "more_outside": self.more_outside,
            "blocking": self.blocking,
            "model_problem": self.model_problem or None,
            "fetched": self.fetched,
            "last_fetch": self.last_fetch_date or None,
        }


@dataclass(frozen=True)
class PullResult:
    """A fast-forward done: the branch went from `old` to `new`, taking `commits` commits."""

    branch: str
    upstream: str
    old: str
    new: str
    commits: int
    services: list[str]
    new_services: list[str]
    requested_by: str

    def summary_lines(self) -> list[str]:
        lines = [
            f"✔ {self.branch}: fast-forwarded to {self.upstream} {self.new[:12]} "
            f"({self.commits} commit{'s' * (self.commits != 1)}, was {self.old[:12]})"
        ]
        touched = [*self.services, *(f"{name} (new)" for name in self.new_services)]
        if touched:
            lines.append(f"  services changed: {', '.join(touched)}; deploy them with darse up")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "upstream": self.upstream,
            "old": self.old,
            "new": self.new,
            "commits": self.commits,
            "services": self.services,
            "new_services": self.new_services,
            "requested_by": self.requested_by,
        }


def _git(start: Path) -> Git:
    """The checkout's Git, at the repository's root (found without reading darse.toml)."""
    git = Git(find_root(start), hint=NOT_A_CHECKOUT_HINT)
    if not git.is_work_tree:
        raise DarseError(f"{git.folder} is not in a Git work tree", NOT_A_CHECKOUT_HINT)
    return git


def _model(root: Path) -> tuple[Repository | None, str]:
    """The repository model, or why it cannot be read: a broken darse.toml must not keep the checkout
    from taking the commit that fixes it (paths are then shown without their folders)."""
    try:
        return open_repository(root), ""
    except DarseError as exc:
        return None, exc.one_line()


def plan_pull(start: Path, fetch: bool = True) -> PullPlan:
    """The plan of a pull of the checkout holding `start`; with `fetch`, the remote is asked first
    (otherwise the plan is as of the last fetch: cheap, no network)."""
    git = _git(start)
    upstream = git.upstream()
    if fetch:
        git.fetch(upstream.remote)
    head = git.head()
    target = git.resolve("@{upstream}")
    ahead, behind = git.ahead_behind(target)
    plan = PullPlan(
        root=git.folder,
        branch=upstream.branch,
        remote=upstream.remote,
        upstream=upstream.ref,
        head=head,
        target=target,
        ahead=ahead,
        behind=behind,
        fetched=fetch,
        last_fetch=git.last_fetch(),
    )
    if behind == 0:
        return plan
    repository, plan.model_problem = _model(git.folder)
    folders = _Folders(repository, git.prefix())
    changed = git.changed_between(head, target) or []
    folders.learn_new(changed)
    for path in changed:
        kind, name = folders.owner(path)
        if kind == "service":
            plan.services.append(name)
        elif kind == "new":
            plan.new_services.append(name)
        elif kind == "image":
            plan.images.append(name)
        else:
            plan.outside.append(name)
    plan.services, plan.new_services, plan.images = (
        sorted(set(x)) for x in (plan.services, plan.new_services, plan.images)
    )
    plan.outside, plan.more_outside = plan.outside[:PATHS_SHOWN], max(0, len(plan.outside) - PATHS_SHOWN)
    plan.commits = [_commit(c, folders) for c in git.incoming(target, COMMITS_SHOWN)]
    plan.blocking = git.blocking_changes(target)
    return plan


def _commit(commit: IncomingCommit, folders: _Folders) -> Commit:
    owners = {folders.owner(path) for path in commit.files}
    services = sorted(name for kind, name in owners if kind in ("service", "new"))
    files = tuple(folders.shown(path) for path in commit.files)
    return Commit(commit.hash, commit.subject, commit.author, commit.time, files, tuple(services))


class _Folders:
    """Which folder of the repository model a changed path (from the Git top level) belongs to: the
    deepest service or image folder holding it, a folder the commits make a service (a Compose file
    arrives where there was none), or none of them."""

    def __init__(self, repository: Repository | None, prefix: str) -> None:
        self.prefix = prefix  # the repository root's path below the Git top level ("" or "sub/")
        self.folders: dict[str, tuple[str, str]] = {}  # folder ("" for the root) → (kind, name)
        if repository is not None:
            self.folders.update({_folder(repository, s.path): ("service", s.name) for s in repository.services})
            self.folders.update({_folder(repository, i.path): ("image", i.name) for i in repository.images})

    def learn_new(self, paths: list[str]) -> None:
        for path in paths:
            relative = self._relative(path)
            if relative is not None and is_compose_name(posixpath.basename(relative)):
                folder = posixpath.dirname(relative)
                if self.folders.get(folder, ("",))[0] != "service":
                    self.folders[folder] = ("new", folder or ".")

    def _relative(self, path: str) -> str | None:
        return path[len(self.prefix) :] if path.startswith(self.prefix) else None

    def shown(self, path: str) -> str:
        return self._relative(path) or path

    def owner(self, path: str) -> tuple[str, str]:
        """("service" | "image" | "new", its name) or ("outside", the path as shown)."""
        relative = self._relative(path)
        if relative is None:
            return "outside", path
        folder = posixpath.dirname(relative)
        while True:
            found = self.folders.get(folder)
            if found is not None:
                return found
            if not folder:
                return "outside", relative
            folder = posixpath.dirname(folder)


def _folder(repository: Repository, path: Path) -> str:
    """A folder relative to the root, "" for the root itself (`relative` says ".")."""
    relative = repository.relative(path)
    return "" if relative == "." else relative


def pull(start: Path, plan: PullPlan, requested_by: str = "", listener: Listener = ignore) -> PullResult:
    """Fast-forward the checkout to `plan.target`, as planned: refused when HEAD moved since the plan,
    when the branch diverged, or when uncommitted changes are in the way (each a `DarseError`)."""
    from darse.history import current_user

    who = requested_by or current_user()
    task = f"pulling {plan.upstream}"
    git = _git(start)
    listener(Event(task, f"checking {plan.branch} against {plan.upstream} {plan.target[:12]}"))
    try:
        if git.branch() != plan.branch or git.head() != plan.head:
            raise CannotPull(
                f"the checkout moved since the plan was made (now at {git.head()[:12]} on {git.branch()})",
                "look at the plan again (darse pull --dry-run), then pull",
            )
        if plan.behind == 0:
            raise CannotPull(f"{plan.branch} is up to date with {plan.upstream}", "nothing to pull")
        listener(Event(task, f"fast-forwarding {plan.branch} to {plan.target[:12]} ({plan.behind} commits)"))
        git.fast_forward(plan.target, reflog=f"{REFLOG_PREFIX}{_one_line(who)}")
    finally:
        listener(Event(task, done=True))
    return PullResult(
        branch=plan.branch,
        upstream=plan.upstream,
        old=plan.head,
        new=plan.target,
        commits=plan.behind,
        services=plan.services,
        new_services=plan.new_services,
        requested_by=who,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def recent_pulls(start: Path, limit: int = 5) -> list[Pulled]:
    """The latest pulls darse made in this checkout, newest first, as Git's reflog recorded them."""
    git = _git(start)
    try:
        branch = git.branch()
    except CannotPull:
        return []
    pulls = []
    for move in git.moves(branch):
        if move.message.startswith(REFLOG_PREFIX):
            who = move.message[len(REFLOG_PREFIX) :].rsplit(": ", 1)[0]
            pulls.append(Pulled(move.time, move.commit, who))
            if len(pulls) >= limit:
                break
    return pulls
