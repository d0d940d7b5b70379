"""`darse rollback --with-data`: an earlier deployment brought back together with its data.

A deployment that migrated data (a new database version, an application's schema change) cannot be
undone by its code alone: the old code would meet data it does not know. `darse up` backs the data up
before such a deployment (deploy/predeploy.py, recorded with the deployment it precedes); this rollback
restores that backup: the data as it was just before the first deployment it undoes.

In order, under the project's lock: the containers stopped, a safety backup of every named volume as it
is now (nothing is lost: `darse restore --snapshot` brings it back), the earlier revision's containers
created (not started: no old code runs on new data), the backup restored into their volumes (dumps
loaded into the databases), then the earlier revision deployed as `darse rollback` deploys it.

Refused (one line, nothing changed) when no backup precedes the deployments it would undo, or when one
of them changed images without a backup before it (the data of the backup would then not be the
data the earlier revision ran on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from darse.backup.plan import FolderPlan, backup_plan
from darse.deploy import resolved
from darse.deploy.commands import preflight_release, task_events
from darse.deploy.context import DeployContext
from darse.deploy.predeploy import BACKED_UP_ACTIONS
from darse.deploy.rollback import choose, source_for
from darse.deploy.up import Outcome, deploy
from darse.engine.compose import ComposeRunner
from darse.errors import DarseError
from darse.history import FAILED, RESTORE, SUCCESS, WITH_ROLLBACK, BackupRecord, Deployment, History
from darse.model.service import Service
from darse.progress import Listener, ignore, reporter
from darse.state import project_lock


@dataclass
class DataRollbackPlan:
    """What `rollback --with-data` would do, for the confirmation (reads only)."""

    service: str
    project: str
    target: Deployment  # the deployment brought back
    undone: list[Deployment]  # the deployments after it, oldest first
    backup: BackupRecord  # the data restored: the backup taken before the first deployment undone

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "project": self.project,
            "target": self.target.to_dict(),
            "undone": [d.to_dict() for d in self.undone],
            "backup": self.backup.to_dict(),
        }


@dataclass
class DataRollback:
    plan: DataRollbackPlan
    safety: BackupRecord | None = None
    restored: list[Any] = field(default_factory=list)  # darse.backup.restore.ItemRestore
    outcome: Outcome | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.outcome.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "plan": self.plan.to_dict(),
            "safety": self.safety.to_dict() if self.safety else None,
            "restored": [item.to_dict() for item in self.restored],
            "outcome": self.outcome.to_dict() if self.outcome else None,
        }

    def summary_lines(self) -> list[str]:
        lines = []
        if self.safety is not None:
            lines.append(f"✔ {self.plan.service}: the data as it was kept in backup #{self.safety.id}")
        lines += [f"✔ {self.plan.service}: restored {item.kind} {item.item}" for item in self.restored]
        if self.outcome is not None:
            lines += self.outcome.summary_lines()
        return lines


def _image_ids(deployment: Deployment) -> dict[str, str]:
    return {name: str(facts.get("id", "")) for name, facts in deployment.images.items() if isinstance(facts, dict)}


def backup_to_restore(history: History, project: str, target: Deployment) -> tuple[BackupRecord, list[Deployment]]:
    """The backup taken before the first deployment after `target` that changed the data's code, and the
    deployments after `target`; a one-line DarseError when there is none to trust."""
    undone = sorted(
        (d for d in history.list(project) if d.id is not None and target.id is not None and d.id > target.id),
        key=lambda d: d.id or 0,
    )
    running = _image_ids(target)
    for deployment in undone:
        if deployment.action not in BACKED_UP_ACTIONS or deployment.id is None:
            continue
        found = history.pre_deploy_backup(deployment.id)
        if found is not None:
            return found, undone
        if deployment.images and _image_ids(deployment) != running:
            raise DarseError(
                f"deployment #{deployment.id} ({deployment.revision[:12]}) changed images without a backup before "
                "it: no backup holds the data the earlier revision ran on",
                "roll back without --with-data, or choose a backup yourself: darse backup ls, darse restore",
            )
    raise DarseError(
        "no backup was taken before the deployments this rollback would undo: --with-data has nothing to restore",
        "roll back without --with-data (the data stays as it is), or restore a backup: darse restore FOLDER",
    )


def plan_rollback_with_data(
    ctx: DeployContext, name: str, *, to: str | None = None, steps: int | None = None
) -> DataRollbackPlan:
    """Reads only: the deployment brought back and the backup its data comes from (or the refusal)."""
    service = ctx.service(name)
    if ctx.target_of(service).is_swarm:
        raise DarseError(f"{service.name} runs on a Swarm: --with-data is for Compose targets", "roll back without it")
    if not ctx.repository.config.backup.configured:
        raise DarseError("darse.toml has no [backup] repository: there is no backup to restore", "see docs/backup.md")
    _commit, recorded = choose(ctx, service, to, steps)
    if recorded is None:
        raise DarseError(
            f"{service.name}: that revision was never deployed here, so no data goes with it",
            "choose a deployment from darse history, or roll back without --with-data",
        )
    project = ctx.project(service)
    backup, undone = backup_to_restore(ctx.history, project, recorded)
    if not backup.snapshots:
        raise DarseError(f"backup #{backup.id} holds no snapshot", "roll back without --with-data")
    return DataRollbackPlan(service.name, project, recorded, undone, backup)


def rollback_with_data(
    ctx: DeployContext,
    name: str,
    *,
    to: str | None = None,
    steps: int | None = None,
    timeout: float = 120,
    listener: Listener = ignore,
) -> DataRollback:
    """Carry out the plan (the caller has had it confirmed)."""
    from darse.backup.restore import find_run, restore_run, safety_backup
    from darse.backup.run import open_restic
    from darse.engine.backup import start_containers, stop_containers

    plan = plan_rollback_with_data(ctx, name, to=to, steps=steps)
    service = ctx.service(name)
    engine = ctx.engine_for(service)
    restic = open_restic(ctx.root)
    folder = _folder_plan(ctx, service)
    task = f"rolling back {service.name} with its data"
    result = DataRollback(plan)
    with project_lock(ctx.state, plan.project), task_events(listener, task):
        say = reporter(listener, task)
        run = find_run(restic, service.name, snapshot=plan.backup.snapshots[0]["snapshot"])
        source = source_for(ctx, service, plan.target)
        preflight_release(service, source)
        running = [c.id for c in engine.containers(project=plan.project) if c.running]
        say(f"stopping {len(running)} container(s)")
        stop_containers(engine, running)
        say("backing the data up as it is now")
        result.safety = safety_backup(engine, restic, folder, ctx.history, say)
        kept = _kept_in(result.safety)
        say(f"creating the containers of {source.revision[:12]}")
        runner = ComposeRunner(plan.project, ctx.endpoint_of(service), source.masker.text)
        config = runner.config(source.compose_path, source.overrides)
        resolved.rebind_unversioned(config, source.service_dir, service.path)
        resolved.pin_images(config, source.pin, engine.image_id)
        created = runner.create(config, source.service_dir)
        if not created.ok:
            still = {c.id for c in engine.containers(project=plan.project)}
            start_containers(engine, [i for i in running if i in still])  # nothing was replaced: as before
            last = (created.output.strip().splitlines() or ["no output"])[-1][:300]
            raise DarseError(f"{service.name}: docker compose create failed: {last}", "nothing was restored")
        record = ctx.history.start_backup(
            BackupRecord(
                plan.project,
                service.name,
                RESTORE,
                WITH_ROLLBACK,
                deployment=plan.target.id,
                revision=plan.backup.revision,
                images=plan.backup.images,
                snapshots=list(plan.backup.snapshots),
                darse_version=plan.backup.darse_version,
            )
        )
        try:
            say(f"restoring the backup #{plan.backup.id}")
            result.restored = restore_run(engine, restic, folder, run, say)
        except BaseException as exc:
            message = exc.message if isinstance(exc, DarseError) else f"interrupted: {type(exc).__name__}"
            ctx.history.finish_backup(record, FAILED, message)
            if isinstance(exc, DarseError):
                raise DarseError(f"{service.name}: {exc.message}", kept) from None
            raise
        ctx.history.finish_backup(record, SUCCESS)
        result.outcome = deploy(ctx, source, timeout, auto_rollback=False, progress=say, backup_first=False)
    return result


def _kept_in(safety: BackupRecord) -> str:
    ids = ", ".join(s["snapshot"][:8] for s in safety.snapshots) or "none"
    return f"the data as it was before is in backup #{safety.id} (snapshots {ids}): darse restore --snapshot ID"


def _folder_plan(ctx: DeployContext, service: Service) -> FolderPlan:
    plans = [p for p in backup_plan(ctx.root, [service.name]).services if p.folder == service.name]
    if not plans or not plans[0].in_scope:
        raise DarseError(f"{service.name} has nothing darse backs up", "roll back without --with-data")
    return plans[0]
