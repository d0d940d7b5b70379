"""The deploy commands as operations, whatever the target: up, rollback, down, restart, status, history, diff,
logs; and the plans the dashboard confirms before acting (what a deploy, rollback, down would change).

Each entry point takes service names, picks Compose or Swarm by the service's darse.toml target, and
returns a plain result whose `to_dict()` is the command's `--json` document; progress goes to a
`darse.progress` listener. Every check comes first, then the engine, one service at a time: a user's
mistake (unknown service, dirty tree, lint errors, missing secret, unreachable engine) raises a
DarseError before anything on the engine or in the history changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from darse.deploy.context import DeployContext
from darse.deploy.swarm.select import split_by_target
from darse.deploy.up import Outcome, Source, deploy
from darse.engine.compose import ComposeRunner
from darse.errors import DarseError
from darse.git import check_clean
from darse.history import SUCCESS, Deployment, ServiceHistory
from darse.masking import masker_for_compose
from darse.model.service import Service, project_name
from darse.progress import Event, Listener, ignore, reporter
from darse.state import project_lock

if TYPE_CHECKING:  # the modules of other commands load when those run: `up` imports only its own
    from darse.deploy.diff import ConfigDiff
    from darse.deploy.status import StatusReport
    from darse.deploy.swarm.stack import StackResult
    from darse.engine.docker import ContainerState


@dataclass
class DeployReport:
    """`darse up` and `darse rollback`: the Compose outcomes, then the Swarm stacks, in the order deployed."""

    outcomes: list[Outcome] = field(default_factory=list)
    stacks: list[StackResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes) and all(s.ok for s in self.stacks)

    def to_dict(self) -> list[dict[str, Any]]:
        """The `--json` document, a list: a Swarm entry starts with the keys of a Compose one, then the stack."""
        stacks = [
            {"service": s.service, "project": s.stack, "ok": s.ok, "target": "swarm", "stack": s.to_dict()}
            for s in self.stacks
        ]
        return [*(o.to_dict() for o in self.outcomes), *stacks]

    def summary_lines(self) -> list[str]:
        """What `darse up` prints: the Swarm stacks first (deployed as they come), then the Compose ones."""
        return [line for stack in self.stacks for line in stack.summary_lines()] + [
            line for outcome in self.outcomes for line in outcome.summary_lines()
        ]


def select(ctx: DeployContext, names: list[str], all_services: bool) -> list[Service]:
    if all_services and names:
        raise DarseError("give service names or --all, not both", "darse up --all deploys every service")
    if all_services:
        return list(ctx.repository.services)
    if not names:
        raise DarseError("no service given", "darse up SERVICE..., or darse up --all")
    chosen: dict[str, Service] = {}
    for name in names:
        service = ctx.service(name.removeprefix("./"))
        chosen.setdefault(service.name, service)
    return list(chosen.values())


def plan_up(ctx: DeployContext, service: Service, force: bool, allow_dirty: bool) -> Source:
    """Preflight of one service (reads only): tree clean, lint, secrets; the Source to deploy."""
    from darse.deploy import preflight  # lint and secrets: not loaded for `darse status` or `history`

    # Compose resolves the configuration on the other core while darse checks (it only reads)
    overrides = service.overrides_beside(service.deploy_file)
    mask = masker_for_compose(service.deploy_file, *overrides).text
    runner = ComposeRunner(ctx.project(service), ctx.endpoint_of(service), mask)
    pending = runner.start_config(service.deploy_file, overrides)
    try:
        revisions = ctx.revisions
        head = revisions.head
        changes = revisions.working_changes(revisions.service_path(service.name))
        dirty = check_clean(service.name, changes, allow_dirty, hint=preflight.DIRTY_HINT)
        preflight.check_secrets(ctx.repository, service)
        preflight.check_lint(ctx.repository, service, force)
    except BaseException:
        pending.cancel()
        raise
    return Source(service, ctx.project(service), service.deploy_file, head, dirty, pending=pending)


def up(
    ctx: DeployContext,
    names: list[str],
    *,
    all_services: bool = False,
    force: bool = False,
    allow_dirty: bool = False,
    timeout: float = 120,
    auto_rollback: bool = True,
    listener: Listener = ignore,
    backup_first: bool = True,
) -> DeployReport:
    """`darse up`: the services named (or all), Compose ones first, then those whose target is a Swarm.
    `backup_first`: the backup darse.toml's `before_deploy` asks for (Compose targets)."""
    chosen = select(ctx, names, all_services)
    on_compose, on_swarm = split_by_target(ctx, chosen)
    report = DeployReport()
    if on_compose:
        report.outcomes = up_compose(
            ctx,
            on_compose,
            force=force,
            allow_dirty=allow_dirty,
            timeout=timeout,
            auto_rollback=auto_rollback,
            listener=listener,
            backup_first=backup_first,
        )
    if on_swarm:
        from darse.deploy.swarm.commands import deploy_services

        report.stacks = deploy_services(
            ctx, on_swarm, force=force, allow_dirty=allow_dirty, timeout=timeout, listener=listener
        )
    return report


def up_compose(
    ctx: DeployContext,
    services: list[Service],
    *,
    force: bool = False,
    allow_dirty: bool = False,
    timeout: float = 120,
    auto_rollback: bool = True,
    listener: Listener = ignore,
    backup_first: bool = True,
) -> list[Outcome]:
    """Every service's preflight and engine first, then each deployed under its project's lock."""
    sources: list[Source] = []
    try:
        for service in services:
            sources.append(plan_up(ctx, service, force, allow_dirty))
            _ = ctx.engine_for(service)  # reachable, or one line and exit 2 before anything changes
    except BaseException:
        for source in sources:
            source.pending.cancel()
        raise
    outcomes = []
    for source in sources:
        task = f"deploying {source.service.name}"
        with project_lock(ctx.state, source.project), task_events(listener, task):
            say = reporter(listener, task)
            outcomes.append(
                deploy(ctx, source, timeout, auto_rollback=auto_rollback, progress=say, backup_first=backup_first)
            )
    return outcomes


def rollback(
    ctx: DeployContext,
    name: str,
    *,
    to: str | None = None,
    steps: int | None = None,
    timeout: float = 120,
    listener: Listener = ignore,
) -> DeployReport:
    """`darse rollback`: the service as of an earlier revision, on Compose or as its Swarm stack."""
    service = ctx.service(name)
    if ctx.target_of(service).is_swarm:
        from darse.deploy.swarm.deploy import rollback_on_swarm

        stack = rollback_on_swarm(ctx, service, to=to, steps=steps, timeout=timeout, listener=listener)
        return DeployReport(stacks=[stack])
    return DeployReport([rollback_compose(ctx, service, to=to, steps=steps, timeout=timeout, listener=listener)])


def rollback_compose(
    ctx: DeployContext,
    service: Service,
    *,
    to: str | None = None,
    steps: int | None = None,
    timeout: float = 120,
    auto_rollback: bool = True,
    listener: Listener = ignore,
) -> Outcome:
    if to is not None and steps is not None:
        raise DarseError("give --to or --steps, not both", "--to REV names a commit; --steps N counts deployments")
    _ = ctx.engine_for(service)
    from darse.deploy.rollback import choose, source_for

    commit, recorded = choose(ctx, service, to, steps)
    task = f"rolling back {service.name}"
    with project_lock(ctx.state, ctx.project(service)), task_events(listener, task):
        source = source_for(ctx, service, recorded, commit=commit)
        preflight_release(service, source)
        return deploy(ctx, source, timeout, auto_rollback=auto_rollback, progress=reporter(listener, task))


def preflight_release(service: Service, source: Source) -> None:
    """The release's env_files exist (copied from this host's secrets), else one line, nothing deployed."""
    from darse.model.compose import env_files, load_compose
    from darse.model.service import env_file_path

    for _name, node in load_compose(source.compose_path).services():
        for ref in env_files(node):
            path = env_file_path(source.compose_path, ref.path)
            if ref.required and (path is None or not path.is_file()):
                raise DarseError(
                    f"{service.name}: missing secret file {ref.path} needed by revision {source.revision[:12]}",
                    f"darse secrets init {service.name}",
                )


@dataclass
class DownResult:
    service: str
    project: str  # the Compose project, or the stack on a Swarm
    removed_volumes: bool
    ok: bool
    output: str  # what `docker compose down` printed (empty on a Swarm)
    on_swarm: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "project": self.project,
            "ok": self.ok,
            "volumes_removed": self.removed_volumes,
        }


def down(ctx: DeployContext, name: str, volumes: bool = False, listener: Listener = ignore) -> DownResult:
    """`darse down`: the service's containers (or stack) removed; named volumes stay unless `volumes`,
    which a Swarm target refuses (its volumes live on every node). Nothing to remove (never deployed, or
    down already) is a DarseError, and nothing is recorded: a down that did nothing is not a success."""
    service = ctx.service(name)
    task = f"stopping {service.name}"
    if not ctx.target_of(service).is_swarm:
        with task_events(listener, task):
            return down_compose(ctx, service, volumes, reporter(listener, task))
    if volumes:
        raise DarseError("--volumes is not supported on a Swarm target", "remove the volumes on each node by hand")
    from darse.deploy.swarm.deploy import down_on_swarm

    with task_events(listener, task):
        stack = down_on_swarm(ctx, service, reporter(listener, task))
    return DownResult(service.name, stack, removed_volumes=False, ok=True, output="", on_swarm=True)


def down_compose(
    ctx: DeployContext, service: Service, volumes: bool = False, say: Callable[[str], None] = lambda _: None
) -> DownResult:
    """Stop and remove the service's containers and networks; named volumes stay unless `volumes`."""
    project = ctx.project(service)
    engine = ctx.engine_for(service)
    with project_lock(ctx.state, project):
        if not engine.containers(project=project):
            raise DarseError(
                f"nothing to bring down: no container of {service.name} runs",
                f"`darse status` shows what runs; `darse up {service.name}` deploys it",
            )
        last = ctx.history.last_success(project)
        record = ctx.history.start(
            Deployment(
                project=project,
                service=service.name,
                repository=str(ctx.root),
                action="down --volumes" if volumes else "down",
                revision=last.revision if last else "",
                dirty=False,
                config_hash="",
            )
        )
        say(f"docker compose down ({'volumes removed' if volumes else 'volumes kept'})")
        mask = masker_for_compose(service.compose_path).text
        result = ComposeRunner(project, ctx.endpoint_of(service), mask).down(volumes=volumes)
        ctx.history.finish(record, SUCCESS if result.ok else "failed", "" if result.ok else result.output[-300:])
    return DownResult(service.name, project, volumes, result.ok, result.output)


# --- what an action would change, before it is confirmed (the dashboard asks first) ---------------------

PLAN_COMMITS = 50  # the newest commits a deploy plan lists


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    def to_dict(self) -> dict[str, str]:
        return {"sha": self.sha, "subject": self.subject}


@dataclass
class DeployPlan:
    """What `darse up SERVICE` would do now: the masked configuration diff, the commits since the deployed
    one that touch the service, and what its preflight would refuse (empty: it would go ahead)."""

    service: str
    deployed_revision: str  # empty when nothing was deployed
    head: str
    diff: ConfigDiff
    commits: list[Commit]
    more_commits: bool  # more than PLAN_COMMITS
    refusals: list[str]  # one line each, as the CLI would print them
    resolved: bool = True  # false: Compose cannot resolve the configuration (a refusal says why), no diff
    replicas: list[str] = field(default_factory=list)  # on a Swarm: replica counts set by hand the deploy resets

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "deployed_revision": self.deployed_revision or None,
            "head": self.head,
            "resolved": self.resolved,
            "diff": self.diff.diff,
            "commits": [c.to_dict() for c in self.commits],
            "more_commits": self.more_commits,
            "refusals": self.refusals,
            "replicas": self.replicas,
        }


def plan_deploy(ctx: DeployContext, name: str) -> DeployPlan:
    """Reads only: `darse diff`, the service's commits since its deployed revision, the preflight verdict."""
    from darse.deploy import preflight
    from darse.deploy.diff import ConfigDiff, config_diff

    service = ctx.service(name)
    refusals: list[str] = []
    try:
        changes = ctx.revisions.working_changes(ctx.revisions.service_path(service.name))
        check_clean(service.name, changes, False, hint=preflight.DIRTY_HINT)
    except DarseError as exc:
        refusals.append(exc.one_line())
    for check in (preflight.check_secrets, lambda repo, svc: preflight.check_lint(repo, svc, False)):
        try:
            check(ctx.repository, service)
        except DarseError as exc:
            refusals.append(exc.one_line())
    resolved = True
    try:
        diff = config_diff(ctx, service)
    except DarseError:
        if not refusals:  # Compose refuses the file for a reason the preflight does not know: the page's error
            raise
        last = ctx.history.last_success(ctx.project(service))  # a missing secret file: the refusal says so
        diff, resolved = ConfigDiff(service.name, last.revision if last else "", ctx.revisions.head, ""), False
    commits, more = _commits_since(ctx, service, diff.deployed_revision, diff.head)
    plan = DeployPlan(service.name, diff.deployed_revision, diff.head, diff, commits, more, refusals, resolved)
    if resolved and ctx.target_of(service).is_swarm:
        from darse.deploy.swarm.replicas import planned_replica_changes

        plan.replicas = [change.line() for change in planned_replica_changes(ctx, service)]
    return plan


def _commits_since(ctx: DeployContext, service: Service, deployed: str, head: str) -> tuple[list[Commit], bool]:
    """The commits between the deployed revision and HEAD touching the service's folder, newest first
    (the newest few when nothing was deployed or the deployed commit is not in this repository)."""
    span = [f"{deployed}..{head}"] if deployed and ctx.revisions.knows(deployed) else [head]
    out = ctx.revisions.git.text(
        "-c",
        "core.quotePath=false",
        "log",
        "--format=%H%x1f%s",
        f"--max-count={PLAN_COMMITS + 1}",
        *span,
        "--",
        ctx.revisions.service_path(service.name) or ".",
    )
    commits = [Commit(*line.split("\x1f", 1)) for line in out.splitlines() if "\x1f" in line]
    return commits[:PLAN_COMMITS], len(commits) > PLAN_COMMITS


@dataclass
class RollbackPlan:
    """Where `darse rollback` would take a service: the target revision and the deployment recorded of
    it (its time and user), and the earlier successful deployments one could choose instead."""

    service: str
    current: str  # the revision of the last successful deployment, empty when none
    target: str  # empty when no target was asked for (then `choices` lists them)
    target_subject: str
    recorded: Deployment | None
    choices: list[Deployment]  # earlier successful deployments, newest first, one per configuration
    on_swarm: bool = False
    targets: list[str] = field(default_factory=list)  # every revision of the history a rollback accepts

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "current": self.current or None,
            "target": self.target or None,
            "target_subject": self.target_subject,
            "recorded": self.recorded.to_dict() if self.recorded else None,
            "choices": [d.to_dict() for d in self.choices],
            "on_swarm": self.on_swarm,
            "targets": self.targets,
        }


def plan_rollback(ctx: DeployContext, name: str, *, to: str | None = None, steps: int | None = None) -> RollbackPlan:
    """Reads only: the revision `rollback(ctx, name, to=..., steps=...)` would deploy (raises its
    DarseError when there is none); with neither `to` nor `steps`, only the choices."""
    from darse.deploy.rollback import choose, deployed_now, is_deployed_now, refuse_current, rollback_targets

    service = ctx.service(name)
    project = project_name(service.name)
    successes = ctx.history.successes(project)
    now = deployed_now(ctx, project)
    current = now.revision if now else ""
    distinct: list[Deployment] = []  # as `rollback --steps` counts them: a run of one configuration once
    for deployment in successes:
        if deployment.action not in ("restart", "scale") and (
            not distinct or distinct[-1].config_hash != deployment.config_hash
        ):
            distinct.append(deployment)
    choices = [d for d in (distinct[1:] if now else distinct) if not is_deployed_now(d.revision, now)]
    targets = rollback_targets(successes, now)
    on_swarm = ctx.target_of(service).is_swarm
    if to is None and steps is None:
        return RollbackPlan(service.name, current, "", "", None, choices, on_swarm, targets)
    if on_swarm:
        if to is None:
            raise DarseError(f"{service.name}: a Swarm rollback is to a revision", "choose one with --to")
        commit = ctx.revisions.resolve(to)
        refuse_current(service, commit, now)
        recorded = next((d for d in successes if d.revision == commit), None)
    else:
        commit, recorded = choose(ctx, service, to, steps)
    subject = ctx.revisions.git.text("log", "-1", "--format=%s", commit).strip()
    return RollbackPlan(service.name, current, commit, subject, recorded, choices, on_swarm, targets)


@dataclass
class StopPlan:
    """What `darse down` (or a restart) of a service touches: its project's containers and its volumes
    (kept by both)."""

    service: str
    project: str
    containers: list[ContainerState]
    on_swarm: bool = False
    members: list[str] = field(default_factory=list)  # on a Swarm: the stack's services (none: not deployed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "project": self.project,
            "on_swarm": self.on_swarm,
            "members": self.members,
            "containers": [
                {"name": c.name, "service": c.compose_service, "state": c.state, "health": c.health, "image": c.image}
                for c in self.containers
            ],
        }


def plan_down(ctx: DeployContext, name: str) -> StopPlan:
    """Reads only: the containers a `down` or `restart` of the service would stop."""
    service = ctx.service(name)
    if ctx.target_of(service).is_swarm:
        from darse.deploy.swarm.stack import stack_services

        members = [state.short for state in stack_services(ctx.repository, service)]
        return StopPlan(service.name, project_name(service.name), [], on_swarm=True, members=members)
    project = ctx.project(service)
    containers = sorted(ctx.engine_for(service).containers(project=project), key=lambda c: c.name)
    return StopPlan(service.name, project, containers)


@dataclass
class RestartResult:
    service: str
    project: str
    ok: bool
    output: str  # what `docker compose restart` printed, masked
    containers: list[ContainerState] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "project": self.project,
            "ok": self.ok,
            "containers": [{"name": c.name, "state": c.state, "health": c.health} for c in self.containers],
        }


def restart(ctx: DeployContext, name: str, *, timeout: float = 120, listener: Listener = ignore) -> RestartResult:
    """`docker compose restart` of the service's project, under the project's lock like a deploy, and
    recorded as a `restart` of the deployed revision (same configuration, images: a restart changes
    neither, so `rollback --steps` and `diff` see the same last deployment). Compose targets only."""
    service = ctx.service(name)
    if ctx.target_of(service).is_swarm:
        raise DarseError(f"{service.name}: restart is for Compose targets", f"darse stack deploy {service.name}")
    project = ctx.project(service)
    engine = ctx.engine_for(service)
    task = f"restarting {service.name}"
    with project_lock(ctx.state, project), task_events(listener, task):
        if not engine.containers(project=project):
            raise DarseError(f"{service.name}: no container to restart", f"darse up {service.name}")
        record = ctx.history.start_in_place(project, service.name, str(ctx.root), "restart")
        listener(Event(task, "docker compose restart"))
        mask = masker_for_compose(service.compose_path).text
        result = ComposeRunner(project, ctx.endpoint_of(service), mask).run(["restart"], timeout=timeout)
        ctx.history.finish(record, SUCCESS if result.ok else "failed", "" if result.ok else result.output[-300:])
        containers = sorted(engine.containers(project=project), key=lambda c: c.name)
    return RestartResult(service.name, project, result.ok, result.output, containers)


def status(ctx: DeployContext) -> StatusReport:
    """`darse status`: every service's deployed commit, drift, containers and last deployment; the
    targets that did not answer in `unreachable` (their services' rows say `unreachable`)."""
    from darse.deploy.status import report

    return report(ctx)


def history(ctx: DeployContext, name: str, limit: int | None = 20) -> ServiceHistory:
    """`darse history`: the newest `limit` records of the service's project (shared projects included)."""
    service = ctx.service(name)
    project = project_name(service.name)  # not ctx.project: the record of a project two folders share is shown
    return ServiceHistory(service.name, project, ctx.history.list(project, limit))


def diff(ctx: DeployContext, name: str) -> ConfigDiff:
    """`darse diff`: the deployed configuration against the working tree's, secrets masked."""
    from darse.deploy.diff import config_diff

    return config_diff(ctx, ctx.service(name))


def logs(
    ctx: DeployContext,
    name: str,
    follow: bool = False,
    tail: int | None = None,
    write: Callable[[str], None] = print,
) -> int:
    """`darse logs`: `docker compose logs` of the service's project, straight to the terminal; on a Swarm
    target, every task's lines through the manager, whatever its node, each rendered to `write`. The
    exit code."""
    service = ctx.service(name)
    target = ctx.target_of(service)
    if target.is_swarm:
        from darse.deploy.swarm.logs import print_stack_logs
        from darse.deploy.swarm.stack import stack_name

        return print_stack_logs(target, stack_name(service), follow, tail, write)
    _ = ctx.engine_for(service)
    return ComposeRunner(ctx.project(service), ctx.endpoint_of(service)).logs(follow, tail)


@contextlib.contextmanager
def task_events(listener: Listener, task: str) -> Iterator[None]:
    """The task's last event (`done`), however it ends."""
    try:
        yield
    finally:
        listener(Event(task, done=True))
