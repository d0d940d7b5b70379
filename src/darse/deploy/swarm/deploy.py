"""`up`, `rollback` and `down` of one service whose darse.toml target is a Swarm, recorded in the history.

The same preflight (clean tree, secrets, lint) and the same history as on Compose; in between, the
stack: `docker stack deploy`, convergence, the Swarm's own rollback of a failed update
(darse.deploy.swarm.stack). A failed update is recorded as failed even though the Swarm is healthy again on
the previous version: that is what happened to this deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from darse.deploy import preflight, resolved
from darse.deploy.context import DeployContext
from darse.deploy.rollback import choose, release_compose
from darse.deploy.swarm.replicas import replica_changes
from darse.deploy.swarm.stack import (
    StackResult,
    not_deployed,
    prepare_stack,
    remove_stack,
    run_stack,
    stack_name,
    stack_services,
)
from darse.engine.compose import ComposeRunner
from darse.engine.docker import COMMIT_LABEL, DIRTY_LABEL, HASH_LABEL, TIME_LABEL
from darse.engine.swarm import ServiceState
from darse.errors import DarseError
from darse.git import check_clean
from darse.history import FAILED, SUCCESS, Deployment, now
from darse.masking import masker_for_compose
from darse.model.service import Service
from darse.progress import Event, Listener, ignore, reporter
from darse.state import project_lock


def up_on_swarm(
    ctx: DeployContext,
    service: Service,
    *,
    force: bool = False,
    allow_dirty: bool = False,
    timeout: float = 300,
    listener: Listener = ignore,
) -> StackResult:
    """`darse up` (and `darse stack deploy`) of a Swarm-target service, recorded in the history."""
    with _task(ctx, service, listener) as say:
        say("checking")
        revisions = ctx.revisions
        changes = revisions.working_changes(revisions.service_path(service.name))
        dirty = check_clean(service.name, changes, allow_dirty, hint=preflight.DIRTY_HINT)
        preflight.check_secrets(ctx.repository, service)
        preflight.check_lint(ctx.repository, service, force)
        return _deploy(
            ctx, service, service.deploy_file, revisions.head, dirty, "up", timeout, say, check_placement=not force
        )


def rollback_on_swarm(
    ctx: DeployContext,
    service: Service,
    *,
    to: str | None = None,
    steps: int | None = None,
    timeout: float = 300,
    listener: Listener = ignore,
) -> StackResult:
    """The service folder as of an earlier revision (working tree untouched), deployed as the stack."""
    if to is not None and steps is not None:
        raise DarseError("give --to or --steps, not both", "--to REV names a commit; --steps N counts deployments")
    with _task(ctx, service, listener) as say:
        say("checking")
        commit, _recorded = choose(ctx, service, to, steps)
        compose_path = release_compose(ctx, service, commit)
        return _deploy(ctx, service, compose_path, commit, False, "rollback", timeout, say)


def down_on_swarm(ctx: DeployContext, service: Service, say: Callable[[str], None] = lambda _: None) -> str:
    """`docker stack rm`, recorded; named volumes stay (a Swarm never removes them with a stack). A stack
    not deployed is refused before anything is recorded."""
    project = ctx.project(service)
    with project_lock(ctx.state, project):
        if not stack_services(ctx.repository, service):
            raise not_deployed(service)
        last = ctx.history.last_success(project)
        record = ctx.history.start(
            Deployment(project, service.name, str(ctx.root), "down", last.revision if last else "", False, "")
        )
        say(f"docker stack rm {stack_name(service)} (volumes kept)")
        try:
            stack = remove_stack(ctx.repository, service)
        except BaseException as exc:
            ctx.history.finish(record, FAILED, _why(exc))
            raise
        ctx.history.finish(record, SUCCESS)
    return stack


def _deploy(
    ctx: DeployContext,
    service: Service,
    compose_path: Path,
    revision: str,
    dirty: bool,
    action: str,
    timeout: float,
    say: Callable[[str], None],
    check_placement: bool = False,
) -> StackResult:
    """`check_placement`: refuse tasks no node could run (`darse up` without --force; a rollback goes
    back to what ran, whatever the nodes are now)."""
    project = ctx.project(service)
    overrides = service.overrides_beside(compose_path)
    masker = masker_for_compose(compose_path, *overrides, service.compose_path)
    config = ComposeRunner(project, ctx.endpoint_of(service), masker.text).config(compose_path, overrides)
    service_dirs = (compose_path.parent,)
    digest = resolved.config_hash(config, service_dirs)
    labels = {COMMIT_LABEL: revision, DIRTY_LABEL: "true" if dirty else "false", TIME_LABEL: now(), HASH_LABEL: digest}
    prepared = prepare_stack(ctx.repository, service, config, labels, check_placement)  # reads only
    replicas = replica_changes(config, prepared.engine.services(prepared.stack))  # set by hand, undone now
    for change in replicas:
        say(change.line())
    with project_lock(ctx.state, project):
        record = ctx.history.start(
            Deployment(
                project=project,
                service=service.name,
                repository=str(ctx.root),
                action=action,
                revision=revision,
                dirty=dirty,
                config_hash=digest,
                config_masked=resolved.masked_text(config, service_dirs, masker),
                images={name: {"image": image} for name, image in prepared.made.images.items()},
            )
        )
        say("docker stack deploy")
        try:
            result = run_stack(prepared, timeout, replica_reporter(say), masker.text)
        except BaseException as exc:
            ctx.history.finish(record, FAILED, _why(exc))
            raise
        ctx.history.finish(record, SUCCESS if result.ok else FAILED, _summary(result))
    result.replica_changes = replicas
    return result


def replica_reporter(say: Callable[[str], None]) -> Callable[[list[ServiceState]], None]:
    """The Swarm's service states as progress details (`web 2/3, db 1/global`), a line only when they change:
    the states are polled every second or so, and a page or a log of the same line thirty times says nothing."""
    last: list[str] = []

    def report(states: list[ServiceState]) -> None:
        parts = [f"{s.short} {s.running}/{s.desired if s.desired is not None else 'global'}" for s in states]
        line = ", ".join(parts) if parts else "starting"
        if last != [line]:
            last[:] = [line]
            say(line)

    return report


@contextlib.contextmanager
def _task(ctx: DeployContext, service: Service, listener: Listener) -> Iterator[Callable[[str], None]]:
    """One progress task per service deployed (`deploying wiki to cluster`), ended however it ends."""
    task = f"deploying {service.name} to {ctx.target_of(service).name}"
    try:
        yield reporter(listener, task)
    finally:
        listener(Event(task, done=True))


def _summary(result: StackResult) -> str:
    failed = [o for o in result.convergence.services if not o.ok]
    if not failed:
        return ""
    first = failed[0]
    error = f": {first.errors[0]}" if first.errors else ""
    return f"{first.name} {first.state}{error}"[:300]


def _why(exc: BaseException) -> str:
    return exc.message if isinstance(exc, DarseError) else f"interrupted: {type(exc).__name__}"
