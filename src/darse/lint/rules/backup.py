"""Backups (docs/backup.md): once darse.toml configures `[backup]`, every named volume is either in a
backup or excluded on purpose. Without `[backup]` these rules say nothing."""

from __future__ import annotations

from collections.abc import Iterator

from darse.backup.plan import NOT_COVERED, FolderPlan, VolumePlan, fill_plan
from darse.errors import DarseError
from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, compose_service_rule
from darse.model.compose import ComposeFile, mounts
from darse.model.service import project_name
from darse.model.yamlnode import YNode


@compose_service_rule(
    "BK001",
    "volume-not-backed-up",
    "Named volume that no backup covers",
    Severity.WARNING,
    """Once darse.toml has a `[backup]` repository, `darse backup` takes every named volume of the
    services on Compose targets, and a database's dump instead of its live files. Two kinds of
    volumes escape it: those of services on a Swarm target (out of scope: a volume lives on whichever
    node runs the task), and the data volume of a recognised database whose dump darse.toml turns
    off (`dump = { kind = "none" }`) without `stop = true`: its files copied while it writes are no
    consistent backup. Back them up otherwise and list them in `exclude` of
    `[backup.services."FOLDER"]` (an excluded volume is the admin's decision), or let darse dump or
    stop the database. Without `[backup]`, nothing is reported.""",
)
def volume_not_backed_up(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    backup = ctx.config.backup
    if not backup.configured or ctx.service is None or not mounts(node):
        return
    try:
        project_name(ctx.service.name)
    except DarseError:
        return  # a folder name Compose cannot take: deploying it fails first
    volumes = {volume.key: volume for volume in _plan(compose, ctx).volumes}
    for mount in mounts(node):
        volume = volumes.get(mount.source) if mount.kind == "volume" else None
        if volume is None or volume.covered or name not in volume.services:
            continue
        yield Hit(_message(volume, ctx), mount.node.line, mount.node.column)
        volumes.pop(mount.source)  # once per volume and service


def _message(volume: VolumePlan, ctx: LintContext) -> str:
    exclude = f'exclude = ["{volume.key}"] in [backup.services."{ctx.service.name if ctx.service else ""}"]'
    if volume.action == NOT_COVERED:
        return (
            f"volume {volume.name} is in no backup: darse backup covers Compose targets, and {ctx.target.name} "
            f"is a Swarm; back it up otherwise and write {exclude}"
        )
    return (
        f"volume {volume.name} holds the live files of database service {volume.live_database}, whose dump "
        f"darse.toml turns off: set stop = true, let darse dump it, or write {exclude}"
    )


_cache: dict[int, tuple[ComposeFile, FolderPlan]] = {}


def _plan(compose: ComposeFile, ctx: LintContext) -> FolderPlan:
    """The plan of the Compose configuration being linted, made once for all its services."""
    cached = _cache.get(id(compose))
    if cached is not None and cached[0] is compose:
        return cached[1]
    assert ctx.service is not None
    target = ctx.target
    plan = FolderPlan(ctx.service.name, project_name(ctx.service.name), target.name, in_scope=not target.is_swarm)
    fill_plan(plan, compose, ctx.config.backup.for_folder(ctx.service.name))
    _cache.clear()
    _cache[id(compose)] = (compose, plan)
    return plan
