"""The backup `darse up` takes before a deploy that changes what runs on a service's data.

darse.toml's `[backup] before_deploy` says when: `always`, `on-image-change` (the default: a new image
is what migrates data) or `never`. Only a folder already deployed and holding data (a database dump or
a copied volume in its plan) is backed up. The backup is recorded with the deployment it comes before,
which is how `darse rollback --with-data` finds the data as it was before that deployment. When it
fails, the deployment does not happen (`darse up --no-backup` deploys without it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from darse.config import BackupSettings
from darse.engine.docker import ContainerState, Engine
from darse.errors import DarseError

ALWAYS, ON_IMAGE_CHANGE, NEVER = "always", "on-image-change", "never"
BACKED_UP_ACTIONS = ("up", "rollback")  # not an automatic rollback: the data then is the failed deploy's


def images_change(
    engine: Engine, existing: list[ContainerState], declared: dict[str, str], pin: dict[str, Any]
) -> bool:
    """Whether the deployment runs another image than a running container of the same Compose service
    (an image not found on the engine yet, or a service without an image name, counts as a change)."""
    for container in existing:
        name = container.compose_service
        pinned = pin.get(name)
        wanted = pinned.get("id", "") if isinstance(pinned, dict) else ""
        if not wanted:
            reference = declared.get(name, "")
            wanted = (engine.image_id(reference) or "") if reference else ""
        if not wanted or wanted != container.image_id:
            return True
    return False


def wants_backup(
    settings: BackupSettings,
    action: str,
    engine: Engine,
    existing: list[ContainerState],
    declared: dict[str, str],
    pin: dict[str, Any],
) -> bool:
    """Whether the policy asks for a backup before this deployment (its plan is looked at afterwards)."""
    if not settings.configured or settings.before_deploy == NEVER or action not in BACKED_UP_ACTIONS or not existing:
        return False
    return settings.before_deploy == ALWAYS or images_change(engine, existing, declared, pin)


def backup_before_deploy(
    root: Path, folder: str, deployment: int | None, requested_by: str | None, say: Callable[[str], None]
) -> str:
    """Back the folder's data up, recorded with the deployment it comes before. Returns "" when done (or
    when the folder holds no data), else why it failed, in one line."""
    from darse.backup.plan import COPY, backup_plan
    from darse.backup.run import run_backups
    from darse.history import PRE_DEPLOY

    plans = [p for p in backup_plan(root, [folder]).services if p.folder == folder]
    if not plans or not plans[0].in_scope or not (plans[0].dumps or any(v.action == COPY for v in plans[0].volumes)):
        return ""
    say("backing its data up before the deploy")
    try:
        report = run_backups(
            root, [folder], reason=PRE_DEPLOY, deployment=deployment, say=say, requested_by=requested_by
        )
    except DarseError as exc:
        return f"the backup before the deploy failed: {exc.message}"
    failed = [item for item in report.items if not item.ok]
    if failed:
        return f"the backup before the deploy failed: {failed[0].kind} {failed[0].name}: {failed[0].error}"
    return ""
