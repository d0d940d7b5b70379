"""The deploy commands as operations: every check first, then the engine, one service at a time.

A user's mistake (unknown service, dirty tree, lint errors, missing secret, unreachable engine) raises a
DarseError before anything on the engine or in the history changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from darse.deploy import preflight
from darse.deploy.context import DeployContext
from darse.deploy.history import SUCCESS, Deployment
from darse.deploy.rollback import choose, source_for
from darse.deploy.state import project_lock
from darse.deploy.up import Outcome, Progress, Source, deploy
from darse.engine.compose import ComposeRunner
from darse.errors import DarseError
from darse.git import check_clean
from darse.masking import masker_for_compose
from darse.model.service import Service


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
    # Compose resolves the configuration on the other core while darse checks (it only reads)
    overrides = service.overrides_beside(service.deploy_file)
    mask = masker_for_compose(service.deploy_file, *overrides).text
    runner = ComposeRunner(ctx.project(service), ctx.compose_target(service), mask)
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
    services: list[Service],
    *,
    force: bool = False,
    allow_dirty: bool = False,
    timeout: float = 120,
    auto_rollback: bool = True,
    progress: Progress | None = None,
) -> list[Outcome]:
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
        with project_lock(ctx.state, source.project):
            outcomes.append(deploy(ctx, source, timeout, auto_rollback=auto_rollback, progress=progress))
    return outcomes


def rollback(
    ctx: DeployContext,
    service: Service,
    *,
    to: str | None = None,
    steps: int | None = None,
    timeout: float = 120,
    auto_rollback: bool = True,
    progress: Progress | None = None,
) -> Outcome:
    if to is not None and steps is not None:
        raise DarseError("give --to or --steps, not both", "--to REV names a commit; --steps N counts deployments")
    _ = ctx.engine_for(service)
    commit, recorded = choose(ctx, service, to, steps)
    with project_lock(ctx.state, ctx.project(service)):
        source = source_for(ctx, service, recorded, commit=commit)
        preflight_release(service, source)
        return deploy(ctx, source, timeout, auto_rollback=auto_rollback, progress=progress)


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
    project: str
    removed_volumes: bool
    ok: bool
    output: str


def down(ctx: DeployContext, service: Service, volumes: bool = False) -> DownResult:
    """Stop and remove the service's containers and networks; named volumes stay unless `volumes`."""
    project = ctx.project(service)
    _ = ctx.engine_for(service)
    with project_lock(ctx.state, project):
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
        mask = masker_for_compose(service.compose_path).text
        result = ComposeRunner(project, ctx.compose_target(service), mask).down(volumes=volumes)
        ctx.history.finish(record, SUCCESS if result.ok else "failed", "" if result.ok else result.output[-300:])
    return DownResult(service.name, project, volumes, result.ok, result.output)
