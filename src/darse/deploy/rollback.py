"""Bringing back an earlier state of a service without touching the working tree.

The service folder as of the revision is extracted with `git archive` into
`STATE_DIR/releases/PROJECT/COMMIT/` (kept, not temporary: containers bind-mount its config files and
must find them after a reboot); the host's current secret files and `.env` are copied in (they are not
versioned); image references are pinned to the digests (or local image IDs) recorded when that revision
was deployed; then it deploys like `up`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from darse.deploy.context import DeployContext
from darse.deploy.up import Source
from darse.errors import DarseError
from darse.fsutil import write_atomic
from darse.history import Deployment
from darse.model.compose import COMPOSE_NAMES, env_files, load_compose
from darse.model.service import Service, env_file_path

# The records that put a revision in place; a restart or a scale repeats the revision deployed before it.
DEPLOYING_ACTIONS = ("up", "rollback", "auto-rollback")


def deployed_now(ctx: DeployContext, project: str) -> Deployment | None:
    """The record of what runs now: the newest successful one, or None when a `down` came after it."""
    last = ctx.history.last_settled(project)
    return None if last is None or last.action.startswith("down") else last


def is_deployed_now(revision: str, now: Deployment | None) -> bool:
    """A rollback to this revision would change nothing (a dirty deployment of it is not the commit)."""
    return now is not None and now.revision == revision and not now.dirty


def refuse_current(service: Service, commit: str, now: Deployment | None) -> None:
    """`rollback --to` the revision deployed now redeploys the same thing: refused, one line."""
    if is_deployed_now(commit, now):
        raise DarseError(
            f"{service.name}: {commit[:12]} is the revision deployed now; there is nothing to roll back to",
            f"choose an earlier deployment (`darse history {service.name}`)",
        )


def rollback_targets(successes: list[Deployment], now: Deployment | None) -> list[str]:
    """The revisions `rollback --to` accepts from the history, newest first: those of successful deploys
    (not restarts or scales), except the one deployed now."""
    targets: dict[str, None] = {}
    for deployment in successes:
        revision = deployment.revision
        if deployment.action in DEPLOYING_ACTIONS and revision and not is_deployed_now(revision, now):
            targets.setdefault(revision, None)
    return list(targets)


def choose(ctx: DeployContext, service: Service, to: str | None, steps: int | None) -> tuple[str, Deployment | None]:
    """The revision to go back to, and the recorded deployment of it (for its image digests) if any.

    `--steps N` walks back over successful deployments, counting a run of consecutive deployments of the
    same configuration (same hash) once, so `--steps 1` always changes something."""
    project = ctx.project(service)
    if to is not None:
        commit = ctx.revisions.resolve(to)
        refuse_current(service, commit, deployed_now(ctx, project))
        recorded = next((d for d in ctx.history.successes(project) if d.revision == commit), None)
        return commit, recorded
    wanted = 1 if steps is None else steps
    if wanted < 1:
        raise DarseError("--steps must be 1 or more", "--steps 1 is the deployment before the current one")
    distinct: list[Deployment] = []
    for deployment in ctx.history.successes(project):
        if not distinct or distinct[-1].config_hash != deployment.config_hash:
            distinct.append(deployment)
    if len(distinct) <= wanted:
        raise DarseError(
            f"{service.name}: only {max(0, len(distinct) - 1)} earlier deployment(s) recorded",
            f"see `darse history {service.name}`, or give a revision with --to",
        )
    chosen = distinct[wanted]
    if not ctx.revisions.knows(chosen.revision):
        raise DarseError(
            f"the commit {chosen.revision[:12]} of that deployment is not in this repository", "git fetch, then retry"
        )
    return chosen.revision, chosen


def materialise(ctx: DeployContext, service: Service, commit: str) -> Path:
    """The service folder as of `commit`, with this host's secrets, under the state folder."""
    project = ctx.project(service)
    releases = ctx.state / "releases" / project
    release = releases / commit[:12]
    if not release.is_dir():
        releases.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=releases))
        try:
            ctx.revisions.materialise(commit, ctx.revisions.service_path(service.name), staging)
            os.replace(staging, release)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _copy_secrets(service, release)
    return release


def _copy_secrets(service: Service, release: Path) -> None:
    """The host's real secret files and `.env`, from the working tree into the release (mode 0600)."""
    wanted: dict[Path, None] = dict.fromkeys(p for p in service.secret_files if p.is_file())
    env = service.path / ".env"
    if env.is_file():
        wanted[env] = None
    compose_path = _compose_file(release)
    if compose_path is not None:  # env_files the old revision names, at the same place in the tree
        for _name, node in load_compose(compose_path).services():
            for ref in env_files(node):
                target = env_file_path(compose_path, ref.path)
                if target is not None and target.is_relative_to(release):
                    source = service.path / target.relative_to(release)
                    if source.is_file():
                        wanted[source] = None
    for source in wanted:
        if not source.is_relative_to(service.path):
            continue
        target = release / source.relative_to(service.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, source.read_bytes(), mode=0o600)


def _compose_file(folder: Path) -> Path | None:
    return next((folder / n for n in COMPOSE_NAMES if (folder / n).is_file()), None)


def release_compose(ctx: DeployContext, service: Service, revision: str) -> Path:
    """The Compose file of the service's folder as of `revision`, materialised with this host's secrets."""
    name = service.deploy_file.name  # a folder of variants says which one to deploy first
    release = materialise(ctx, service, revision)
    chosen = release / name
    compose_path = chosen if chosen.is_file() or name not in COMPOSE_NAMES else _compose_file(release)
    if compose_path is None or not compose_path.is_file():
        raise DarseError(f"{service.name} has no Compose file at {revision[:12]}", "choose another revision")
    return compose_path


def source_for(
    ctx: DeployContext, service: Service, deployment: Deployment | None, commit: str = "", action: str = "rollback"
) -> Source:
    """A deployable Source for an earlier revision (a recorded deployment, or a bare commit)."""
    revision = deployment.revision if deployment is not None else commit
    compose_path = release_compose(ctx, service, revision)
    return Source(
        service=service,
        project=ctx.project(service),
        compose_path=compose_path,
        revision=revision,
        dirty=False,
        action=action,
        pin=deployment.images if deployment is not None else {},
        extra_dirs=(service.path,),
    )
