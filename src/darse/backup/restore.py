"""`darse restore FOLDER [--snapshot ID]`: a folder's data put back as one backup of it held it.

A backup of a folder is a *run*: one restic snapshot per dump and per copied volume, all tagged with
the same `darse.run` (backup/run.py), and `darse.items` saying how many the run should hold (a run
with a failed item is incomplete: it is never chosen by default). A restore takes a whole run:

1. the folder's containers are stopped (under the project's lock: no deploy meanwhile);
2. a *safety backup* copies every named volume of the folder as files into restic (the databases'
   data volumes too: stopped, their files are consistent), tagged `darse.reason=safety`: the data as
   it was, named in any error that follows, restorable like any run;
3. each volume of the run is emptied and filled from its snapshot (darse.backup.load);
4. each dumped database gets its data volume(s) emptied and its container started: the image's first
   start initialises it with its own environment (users, passwords, database), then the dump loads;
5. every container of the folder is started and waited healthy; the history records the restore.

`darse rollback --with-data` uses `find_run`, `safety_backup` and `restore_run` the same way.
Compose targets only: a Swarm folder's volumes live on whichever node runs a task.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from darse.backup.load import fill_volume, load_dump
from darse.backup.plan import COPY, DUMP, FolderPlan, backup_plan
from darse.backup.run import open_restic, run_id
from darse.engine.backup import (
    empty_volume,
    start_containers,
    stop_containers,
    stream_volume,
    volume_mountpoint,
)
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import COMMIT_LABEL, PROJECT_LABEL, ContainerState, Engine
from darse.errors import DarseError
from darse.history import BACKUP, FAILED, RESTORE, SAFETY, SUCCESS, BackupRecord, History
from darse.model.repository import find_root, open_repository
from darse.restic import Restic, Snapshot
from darse.state import project_lock, state_dir

HEALTHY_TIMEOUT = 300.0  # seconds the folder's containers get to be running and healthy after a restore
Say = Callable[[str], None]
VOLUME_LABEL = "com.docker.compose.volume"


@dataclass
class BackupRun:
    """The snapshots of one backup of a folder (one `darse.run` tag), by item."""

    folder: str
    run: str
    snapshots: list[Snapshot]
    expected: int | None  # how many the run should hold (its `darse.items` tag); None: not said

    @property
    def time(self) -> datetime:
        return min(s.time for s in self.snapshots)

    @property
    def complete(self) -> bool:
        return self.expected is None or len(self.items) >= self.expected

    @property
    def items(self) -> dict[tuple[str, str], Snapshot]:
        """(kind, item) → its snapshot (the newest, were there two)."""
        found: dict[tuple[str, str], Snapshot] = {}
        for snapshot in sorted(self.snapshots, key=lambda s: s.time):
            found[(snapshot.tags.get("darse.kind", ""), snapshot.tags.get("darse.item", ""))] = snapshot
        return found

    def tag(self, key: str) -> str:
        values = {s.tags.get(key, "") for s in self.snapshots} - {""}
        return sorted(values)[0] if len(values) == 1 else ("mixed" if values else "")

    @property
    def images(self) -> dict[str, str]:
        prefix = "darse.image."
        return {k[len(prefix) :]: v for s in self.snapshots for k, v in s.tags.items() if k.startswith(prefix)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "run": self.run,
            "time": self.time.isoformat(),
            "commit": self.tag("darse.commit"),
            "reason": self.tag("darse.reason") or "backup",
            "version": self.tag("darse.version"),
            "images": self.images,
            "complete": self.complete,
            "expected": self.expected,
            "items": [
                {"kind": kind, "item": item, "snapshot": snapshot.short_id, "id": snapshot.id}
                for (kind, item), snapshot in sorted(self.items.items())
            ],
        }


def find_run(restic: Restic, folder: str, *, snapshot: str | None = None, run: str | None = None) -> BackupRun:
    """The run of `snapshot` (an id or a unique prefix of any of its snapshots), or the run `run`, or the
    newest complete run of the folder that is not a safety backup."""
    folder = folder.rstrip("/")
    listed: list[Snapshot] | None = None  # every snapshot, when a snapshot id was given (one restic call)
    if snapshot is not None:
        wanted = snapshot.strip().lower()
        if not wanted or any(c not in "0123456789abcdef" for c in wanted):
            raise DarseError(f"{snapshot[:80]!r} is not a snapshot id", "darse backup ls lists the snapshots")
        listed = restic.snapshots()
        matches = [s for s in listed if s.id.startswith(wanted)]
        if not matches:
            raise DarseError(f"no snapshot {wanted} in {restic.display}", f"darse backup ls {folder} lists them")
        if len(matches) > 1:
            raise DarseError(f"{wanted} names {len(matches)} snapshots", "give more of its id")
        (chosen,) = matches
        owner = chosen.tags.get("darse.service", "")
        if owner != folder:
            said = f"of folder {owner}" if owner else "not taken by darse"
            raise DarseError(f"snapshot {chosen.short_id} is {said}, not of {folder}", f"darse backup ls {folder}")
        if not chosen.tags.get("darse.run"):
            raise DarseError(f"snapshot {chosen.short_id} belongs to no darse run", "take a new backup: darse backup")
        run = chosen.tags["darse.run"]
    if listed is None:
        listed = restic.snapshots({"darse.service": folder})
    ours = [s for s in listed if s.tags.get("darse.service") == folder and s.tags.get("darse.run")]
    if not ours:
        raise DarseError(f"no snapshot of {folder} in {restic.display}", f"darse backup {folder} takes one")
    runs: dict[str, list[Snapshot]] = {}
    for found in ours:
        runs.setdefault(found.tags["darse.run"], []).append(found)
    if run is not None:
        if run not in runs:
            raise DarseError(f"no backup run {run[:80]} of {folder}", f"darse backup ls {folder} lists the runs")
        return _run(folder, run, runs[run])
    candidates = [_run(folder, name, snapshots) for name, snapshots in runs.items()]
    usable = [c for c in candidates if c.complete and c.tag("darse.reason") != SAFETY]
    if not usable:
        raise DarseError(
            f"no complete backup of {folder}: every run has a failed item",
            "darse backup ls shows them; --snapshot ID restores one anyway",
        )
    return max(usable, key=lambda c: c.time)


def _run(folder: str, name: str, snapshots: list[Snapshot]) -> BackupRun:
    counts = {s.tags.get("darse.items", "") for s in snapshots} - {""}
    expected = int(counts.pop()) if len(counts) == 1 and next(iter(counts)).isdigit() else None
    return BackupRun(folder, name, snapshots, expected)


# --- what a restore does, step by step ---------------------------------------------------------------


@dataclass
class ItemRestore:
    """One snapshot put back: a volume filled, or a dump loaded into its database."""

    kind: str  # "volume" or "dump"
    item: str  # the volume's key, or the Compose service of the database
    snapshot: str  # restic's short id
    volumes: list[str] = field(default_factory=list)  # engine names of the volumes replaced
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def _containers(engine: Engine, plan: FolderPlan) -> list[ContainerState]:
    return engine.containers(project=plan.project)


def _stop_all(engine: Engine, plan: FolderPlan, say: Say) -> list[ContainerState]:
    containers = _containers(engine, plan)
    running = [c.id for c in containers if c.running]
    if running:
        say(f"{plan.folder}: stopping {len(running)} container(s)")
        stop_containers(engine, running)
    return containers


def _image_for(plan: FolderPlan, containers: list[ContainerState], key: str) -> str:
    """An image the engine has for a helper container of volume `key`: a service mounting it, else any."""
    services = next((v.services for v in plan.volumes if v.key == key), ())
    for container in containers:
        if container.compose_service in services:
            return container.image_id
    if containers:
        return containers[0].image_id
    raise DarseError(f"{plan.folder} has no container on this engine", f"deploy it first: darse up {plan.folder}")


def safety_backup(engine: Engine, restic: Restic, plan: FolderPlan, history: History | None, say: Say) -> BackupRecord:
    """With the folder's containers stopped: every named volume of the folder (excluded ones aside)
    copied as files into restic, one run tagged `darse.reason=safety`; recorded in `history` (action
    BACKUP, reason SAFETY) when given. Raises when any volume could not be saved."""
    containers = _containers(engine, plan)
    if any(c.running for c in containers):
        raise DarseError(f"{plan.folder} is running: a safety backup copies stopped volumes", "stop it first")
    commits = {c.labels.get(COMMIT_LABEL, "") for c in containers} - {""}
    commit = sorted(commits)[0][:40] if len(commits) == 1 else ("mixed" if commits else "unknown")
    images = {c.compose_service: c.image_id.removeprefix("sha256:")[:64] for c in containers}
    volumes = [v for v in plan.volumes if v.action in (COPY, DUMP)]
    existing = [v for v in volumes if _volume_exists(engine, v.name)]
    tags = {
        "darse.service": plan.folder,
        "darse.run": run_id(),
        "darse.commit": commit,
        "darse.version": metadata.version("darse"),
        "darse.reason": SAFETY,
        "darse.items": str(len(existing)),
        **{f"darse.image.{service}": image for service, image in images.items()},
    }
    record = BackupRecord(
        project=plan.project,
        service=plan.folder,
        action=BACKUP,
        reason=SAFETY,
        revision=commit,
        images=images,
        darse_version=tags["darse.version"],
    )
    if history is not None:
        history.start_backup(record)
    try:
        for volume in existing:
            say(f"{plan.folder}: safety copy of volume {volume.name}")
            item_tags = {**tags, "darse.kind": "volume", "darse.item": volume.key}
            directory = volume_mountpoint(engine, volume.name)
            if directory is not None:
                saved = restic.backup_path(directory, item_tags)
            else:
                image = _image_for(plan, containers, volume.key)

                def produce(sink: IO[bytes], name: str = volume.name, image: str = image) -> None:
                    stream_volume(engine, name, sink.write, image=image)

                saved = restic.backup_stream(produce, f"{plan.project}.{volume.key}.tar", item_tags)
            record.snapshots.append({"kind": "volume", "item": volume.key, "snapshot": saved.snapshot_id})
    except DarseError as exc:
        if history is not None:
            history.finish_backup(record, FAILED, exc.message)
        raise DarseError(f"the safety backup of {plan.folder} failed: {exc.message}", exc.hint) from None
    record.message = f"run {tags['darse.run']}"
    if history is not None:
        history.finish_backup(record, SUCCESS, record.message)
    else:
        record.outcome = SUCCESS
    return record


def _volume_exists(engine: Engine, name: str) -> bool:
    try:
        engine.docker_api.inspect_volume(name)
    except Exception:
        return False
    return True


def _ensure_volume(engine: Engine, plan: FolderPlan, key: str, name: str, external: bool) -> None:
    """Create a volume the run holds that is gone (a `down -v`), labelled as Compose would label it."""
    if _volume_exists(engine, name):
        return
    labels = {} if external else {PROJECT_LABEL: plan.project, VOLUME_LABEL: key}
    try:
        engine.docker_api.create_volume(name, labels=labels)
    except Exception as exc:
        raise DarseError(f"cannot create the volume {name}: {type(exc).__name__}", "check the engine") from None


def restore_run(engine: Engine, restic: Restic, plan: FolderPlan, run: BackupRun, say: Say) -> list[ItemRestore]:
    """Put `run` back into the folder's volumes and databases, its containers stopped first (running
    ones are stopped here). Each volume of the run is emptied and filled; each dumped database gets its
    data volume(s) emptied, its container started (a fresh initialisation with its own environment),
    waited ready and the dump loaded. The database containers are left running; the caller starts the rest."""
    volumes = {v.key: v for v in plan.volumes}
    dumps = {d.service: d for d in plan.dumps}
    items = run.items
    for kind, item in items:  # every item must fit the folder as it is now, before anything changes
        if kind == "volume" and item not in volumes:
            raise DarseError(
                f"run {run.run} holds volume {item}, which {plan.compose_file or plan.folder} no longer mounts",
                "restore it by hand (restic restore), or deploy the commit the run was taken from",
            )
        if kind == "dump" and item not in dumps:
            raise DarseError(
                f"run {run.run} holds a dump of {item}, which is no database service of {plan.folder} now",
                "deploy the commit the run was taken from, then restore",
            )
        if kind not in ("volume", "dump"):
            raise DarseError(f"run {run.run} holds an item of unknown kind {kind!r}", "take a new backup")
    containers = _stop_all(engine, plan, say)
    done: list[ItemRestore] = []
    for (kind, item), snapshot in sorted(items.items()):
        if kind != "volume":
            continue
        volume = volumes[item]
        started = time.monotonic()
        say(f"{plan.folder}: volume {volume.name} from snapshot {snapshot.short_id}")
        _ensure_volume(engine, plan, volume.key, volume.name, volume.external)
        image = _image_for(plan, containers, volume.key)
        empty_volume(engine, volume.name, image=image)
        size = fill_volume(engine, restic, snapshot, volume.name, image=image)
        done.append(ItemRestore("volume", item, snapshot.short_id, [volume.name], size, time.monotonic() - started))
    for (kind, item), snapshot in sorted(items.items()):
        if kind != "dump":
            continue
        dump = dumps[item]
        started = time.monotonic()
        database = [c for c in containers if c.compose_service == item]
        if not database:
            raise DarseError(
                f"{plan.folder}: no container of {item} to load its dump into", f"darse up {plan.folder} first"
            )
        say(f"{plan.folder}: database {item} from snapshot {snapshot.short_id}")
        for name in dump.replaces:
            key = next((v.key for v in plan.volumes if v.name == name), name)
            _ensure_volume(engine, plan, key, name, volumes[key].external if key in volumes else False)
            empty_volume(engine, name, image=database[0].image_id)
        start_containers(engine, [database[0].id])
        size = load_dump(engine, restic, snapshot, database[0].id, dump.kind)
        done.append(ItemRestore("dump", item, snapshot.short_id, list(dump.replaces), size, time.monotonic() - started))
    return done


# --- darse restore --------------------------------------------------------------------------------------


@dataclass
class RestorePreview:
    """What `darse restore` would do, for its confirmation."""

    folder: str
    project: str
    run: BackupRun
    deployed_commit: str
    deployed_images: dict[str, str]
    volumes: list[dict[str, str]]  # each replaced: key, volume (engine name), snapshot
    dumps: list[dict[str, Any]]  # each loaded: service, kind, snapshot, volumes emptied
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "project": self.project,
            "run": self.run.to_dict(),
            "deployed": {"commit": self.deployed_commit, "images": self.deployed_images},
            "volumes": self.volumes,
            "dumps": self.dumps,
            "warnings": self.warnings,
        }


@dataclass
class RestoreReport:
    folder: str
    run: str
    safety_run: str
    safety_snapshots: list[dict[str, str]]
    items: list[ItemRestore]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "folder": self.folder,
            "ok": True,
            "run": self.run,
            "safety_run": self.safety_run,
            "safety_snapshots": self.safety_snapshots,
            "items": [item.to_dict() for item in self.items],
            "seconds": round(self.seconds, 3),
        }


def _folder(start: Path, folder: str) -> tuple[FolderPlan, Any]:
    """The folder's plan and the repository's configuration; one-line errors for what cannot be restored."""
    folder = folder.rstrip("/")
    (plan,) = backup_plan(start, [folder]).services
    if not plan.in_scope:
        raise DarseError(f"{folder}: {plan.note}", "darse restore covers services on Compose targets")
    return plan, open_repository(find_root(start)).config


def _connect(config: Any, folder: str) -> Engine:
    return connect(Endpoint.of(config.target_for(folder)))


def _preview(engine: Engine, plan: FolderPlan, run: BackupRun) -> RestorePreview:
    containers = _containers(engine, plan)
    commits = {c.labels.get(COMMIT_LABEL, "") for c in containers} - {""}
    volumes = {v.key: v for v in plan.volumes}
    dumps = {d.service: d for d in plan.dumps}
    preview = RestorePreview(
        folder=plan.folder,
        project=plan.project,
        run=run,
        deployed_commit=(sorted(commits)[0][:40] if len(commits) == 1 else ("mixed" if commits else "")),
        deployed_images={c.compose_service: c.image_id.removeprefix("sha256:")[:64] for c in containers},
        volumes=[],
        dumps=[],
    )
    for (kind, item), snapshot in sorted(run.items.items()):
        if kind == "volume":
            name = volumes[item].name if item in volumes else ""
            preview.volumes.append({"key": item, "volume": name, "snapshot": snapshot.short_id})
        elif kind == "dump":
            dump = dumps.get(item)
            preview.dumps.append(
                {
                    "service": item,
                    "kind": dump.kind if dump else "",
                    "snapshot": snapshot.short_id,
                    "volumes": list(dump.replaces) if dump else [],
                }
            )
    if not run.complete:
        preview.warnings.append(f"run {run.run} is incomplete: {len(run.items)} of {run.expected} items")
    if not containers:
        preview.warnings.append(f"{plan.folder} is not deployed on this engine: darse up {plan.folder} first")
    changed = sorted(s for s, i in run.images.items() if preview.deployed_images.get(s, i) != i)
    if changed:
        preview.warnings.append(f"images differ from the backup's for: {', '.join(changed)}")
    if preview.deployed_commit and run.tag("darse.commit") not in ("", preview.deployed_commit):
        preview.warnings.append("the deployed commit is not the backup's: the data may not fit the code")
    return preview


def preview_restore(start: Path, folder: str, *, snapshot: str | None = None) -> RestorePreview:
    """What a restore of `folder` would put back (the run, its time, commit and images against what is
    deployed now, each volume replaced, each dump loaded): nothing is changed."""
    plan, config = _folder(start, folder)
    restic = open_restic(start)
    run = find_run(restic, plan.folder, snapshot=snapshot)
    engine = _connect(config, plan.folder)
    try:
        return _preview(engine, plan, run)
    finally:
        engine.close()


def restore_backup(
    start: Path,
    folder: str,
    *,
    snapshot: str | None = None,
    say: Say | None = None,
    requested_by: str | None = None,
) -> RestoreReport:
    """Restore `folder` from a backup run (the one of `snapshot`, else the newest complete one): under
    the project's lock, its containers stopped, a safety backup taken, the run put back, every
    container started and waited healthy, the restore recorded in the history. A failure after the
    safety backup names the safety run that holds the data as it was."""
    say = say or (lambda _line: None)
    began = time.monotonic()
    plan, config = _folder(start, folder)
    restic = open_restic(start)
    restic.version()
    run = find_run(restic, plan.folder, snapshot=snapshot)
    root = find_root(start)
    state = state_dir(config, root)
    engine = _connect(config, plan.folder)
    try:
        with project_lock(state, plan.project):
            history = History(state, requested_by)
            try:
                return _restore(engine, restic, plan, run, history, say, began)
            finally:
                history.close()
    finally:
        engine.close()


def _restore(
    engine: Engine, restic: Restic, plan: FolderPlan, run: BackupRun, history: History, say: Say, began: float
) -> RestoreReport:
    containers = _containers(engine, plan)
    if not containers:
        raise DarseError(f"{plan.folder} is not deployed on this engine", f"darse up {plan.folder}, then restore")
    _stop_all(engine, plan, say)
    try:
        safety = safety_backup(engine, restic, plan, history, say)
    except DarseError:
        with contextlib.suppress(DarseError):
            start_containers(engine, [c.id for c in containers if c.running])  # nothing was changed
        raise
    safety_run = safety.message.removeprefix("run ")
    record = history.start_backup(
        BackupRecord(
            project=plan.project,
            service=plan.folder,
            action=RESTORE,
            revision=run.tag("darse.commit"),
            images=run.images,
            snapshots=[{"kind": k, "item": i, "snapshot": s.id} for (k, i), s in sorted(run.items.items())],
            darse_version=metadata.version("darse"),
        )
    )
    try:
        items = restore_run(engine, restic, plan, run, say)
        say(f"{plan.folder}: starting every container")
        start_containers(engine, [c.id for c in _containers(engine, plan)])
        _wait_healthy(engine, plan)
    except DarseError as exc:
        history.finish_backup(record, FAILED, exc.message)
        first = safety.snapshots[0]["snapshot"] if safety.snapshots else ""
        where = f"; the data as it was is in safety run {safety_run}" + (
            f" (darse restore {plan.folder} --snapshot {first})" if first else ""
        )
        raise DarseError(
            f"the restore of {plan.folder} failed: {exc.message}{where}",
            "the folder's containers may be stopped; " + exc.hint,
        ) from None
    history.finish_backup(record, SUCCESS, f"run {run.run}; safety run {safety_run}")
    return RestoreReport(plan.folder, run.run, safety_run, safety.snapshots, items, time.monotonic() - began)


def _wait_healthy(engine: Engine, plan: FolderPlan, timeout: float = HEALTHY_TIMEOUT) -> None:
    """Every container of the folder running, and healthy when it has a healthcheck, within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        containers = _containers(engine, plan)
        waiting = [c for c in containers if not c.healthy]
        if not waiting:
            return
        if (
            any(c.health == "unhealthy" or c.state in ("exited", "dead") for c in waiting)
            or time.monotonic() > deadline
        ):
            names = ", ".join(f"{c.compose_service} ({c.health or c.state})" for c in waiting)
            raise DarseError(f"after the restore, not healthy: {names}", "darse logs shows why")
        time.sleep(1.0)
