"""`darse backup init`, `darse backup FOLDER... | --all` and `darse backup ls`: the plan carried out.

Each item of a folder's plan becomes one restic snapshot, tagged with the folder, the item, the
commit its containers were deployed from, their image IDs and darse's version (so that a snapshot
says which code produced its data):

- a database dump runs inside the database's own container and streams into restic through its
  standard input: no copy of the database on disk; a dump that fails or writes nothing leaves no
  snapshot (darse.restic) and fails the folder;
- a named volume on the local engine is read by restic from its own directory, so the next backup
  of it is incremental; otherwise (a remote engine) it streams as a tar through a never-started
  helper container, read-only.

Not built yet: restore, `--verify`, prune, the pre-deploy snapshot (docs/backup.md).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from darse.backup.plan import COPY, DumpPlan, FolderPlan, VolumePlan, backup_plan, password_file
from darse.engine.backup import (
    start_containers,
    stop_containers,
    stream_command,
    stream_volume,
    volume_mountpoint,
)
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import COMMIT_LABEL, ContainerState, Engine
from darse.errors import DarseError
from darse.model.repository import find_root, open_repository
from darse.restic import Restic, make_password_file

STALL = 600.0  # seconds a dump may write nothing before it is stopped
Say = Callable[[str], None]


@dataclass
class ItemBackup:
    """One snapshot taken (or the reason it was not)."""

    folder: str
    kind: str  # "dump" or "volume"
    name: str  # the Compose service dumped, or the volume's engine name
    snapshot: str = ""
    bytes_added: int = 0
    files_new: int = 0
    files_changed: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "kind": self.kind,
            "name": self.name,
            "ok": self.ok,
            "snapshot": self.snapshot or None,
            "bytes_added": self.bytes_added,
            "files_new": self.files_new,
            "files_changed": self.files_changed,
            "seconds": round(self.seconds, 3),
            "error": self.error or None,
        }


@dataclass
class BackupReport:
    repository: str  # masked
    items: list[ItemBackup] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # folders out of scope, and why

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "repository": self.repository,
            "ok": self.ok,
            "items": [item.to_dict() for item in self.items],
            "skipped": self.skipped,
        }


def open_restic(start: Path) -> Restic:
    """The restic repository darse.toml's `[backup]` names, with its password file."""
    repository = open_repository(find_root(start))
    settings = repository.config.backup
    if not settings.configured:
        raise DarseError(
            "darse.toml has no [backup] repository",
            'add [backup] with repository = "/srv/backups/restic" (or sftp:, s3:, rest:) and password_file',
        )
    return Restic(settings.repository, password_file(repository))


@dataclass
class InitReport:
    repository: str
    password_file: str
    created_password: bool
    initialised: bool  # False: the repository existed already

    def to_dict(self) -> dict[str, Any]:
        return {"schema": 1, **self.__dict__}


def init_backups(start: Path) -> InitReport:
    """Make the password file (mode 0600, never overwritten) and initialise the repository (an existing
    one is left as it is)."""
    restic = open_restic(start)
    restic.version()
    created = False
    if not restic.password_file.exists():
        restic.password_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_password_file(restic.password_file)
        created = True
    initialised = not restic.is_initialised()
    if initialised:
        restic.init()
    return InitReport(restic.display, str(restic.password_file), created, initialised)


def run_backups(
    start: Path, folders: Iterable[str] = (), *, every: bool = False, say: Say | None = None
) -> BackupReport:
    """Back up the folders named (or every folder with `every`), one snapshot per item of their plan."""
    wanted = [f.rstrip("/") for f in folders]
    if not wanted and not every:
        raise DarseError("name the service folders to back up", "darse backup FOLDER..., or --all")
    plan = backup_plan(start, wanted or None)
    restic = open_restic(start)
    restic.version()
    config = open_repository(find_root(start)).config
    report = BackupReport(restic.display)
    say = say or (lambda _line: None)
    for folder in plan.services:
        if not folder.in_scope:
            report.skipped.append(f"{folder.folder}: {folder.note}")
            continue
        if folder.errors:
            raise DarseError(f"{folder.folder}: {folder.errors[0]}", "darse backup plan shows the plan; fix darse.toml")
        engine = connect(Endpoint.of(config.target_for(folder.folder)))
        try:
            report.items += _back_up_folder(engine, restic, folder, say)
        finally:
            engine.close()
    return report


def _back_up_folder(engine: Engine, restic: Restic, folder: FolderPlan, say: Say) -> list[ItemBackup]:
    containers = [c for c in engine.containers(project=folder.project)]
    if not containers:
        return [ItemBackup(folder.folder, "folder", folder.folder, error="not deployed: nothing to back up")]
    tags = _tags(folder, containers)
    items: list[ItemBackup] = []
    for dump in folder.dumps:
        say(f"{folder.folder}: dump of {dump.service} ({dump.kind})")
        items.append(_dump(engine, restic, folder, dump, containers, tags))
    stopped: list[str] = []
    try:
        if folder.stop:
            stopped = [c.id for c in containers if c.running]
            say(f"{folder.folder}: stopping {len(stopped)} container(s) for the copy")
            stop_containers(engine, stopped)
        for volume in folder.volumes:
            if volume.action == COPY:
                say(f"{folder.folder}: volume {volume.name}")
                items.append(_volume(engine, restic, folder, volume, containers, tags))
    finally:
        if stopped:
            start_containers(engine, stopped)
    return items


def run_id() -> str:
    """What every snapshot of one backup of a folder shares (tag `darse.run`): a restore takes them together."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def _tags(folder: FolderPlan, containers: list[ContainerState]) -> dict[str, str]:
    commits = {c.labels.get(COMMIT_LABEL, "") for c in containers} - {""}
    tags = {
        "darse.service": folder.folder,
        "darse.run": run_id(),
        "darse.commit": sorted(commits)[0][:40] if len(commits) == 1 else ("mixed" if commits else "unknown"),
        "darse.version": metadata.version("darse"),
        # how many snapshots the run should hold: a restore knows a run with a failed item is incomplete
        "darse.items": str(len(folder.dumps) + sum(volume.action == COPY for volume in folder.volumes)),
    }
    for container in containers:
        tags[f"darse.image.{container.compose_service}"] = container.image_id.removeprefix("sha256:")[:64]
    return tags


def _dump(
    engine: Engine,
    restic: Restic,
    folder: FolderPlan,
    dump: DumpPlan,
    containers: list[ContainerState],
    tags: dict[str, str],
) -> ItemBackup:
    item = ItemBackup(folder.folder, "dump", dump.service)
    running = [c for c in containers if c.compose_service == dump.service and c.running]
    if not running:
        item.error = f"{dump.service} is not running: its dump runs inside it"
        return item
    started = time.monotonic()

    def produce(sink: IO[bytes]) -> None:
        result = stream_command(engine, running[0].id, dump.command, sink.write, stall=STALL)
        if not result.ok:
            raise DarseError(
                f"the dump of {dump.service} exited with {result.exit_code}: {result.last_error_line()}",
                "nothing was saved; run darse backup plan to see the command",
            )
        if result.written == 0:
            raise DarseError(f"the dump of {dump.service} wrote nothing", "nothing was saved")

    try:
        saved = restic.backup_stream(
            produce, f"{folder.project}.{dump.file}", {**tags, "darse.kind": "dump", "darse.item": dump.service}
        )
    except DarseError as exc:
        item.error = exc.message
        return item
    item.snapshot, item.bytes_added, item.seconds = saved.snapshot_id, saved.bytes_added, time.monotonic() - started
    return item


def _volume(
    engine: Engine,
    restic: Restic,
    folder: FolderPlan,
    volume: VolumePlan,
    containers: list[ContainerState],
    tags: dict[str, str],
) -> ItemBackup:
    item = ItemBackup(folder.folder, "volume", volume.name)
    item_tags = {**tags, "darse.kind": "volume", "darse.item": volume.key}
    started = time.monotonic()
    try:
        directory = volume_mountpoint(engine, volume.name)
        if directory is not None:
            saved = restic.backup_path(directory, item_tags)
        else:
            image = containers[0].image_id

            def produce(sink: IO[bytes]) -> None:
                stream_volume(engine, volume.name, sink.write, image=image)

            saved = restic.backup_stream(produce, f"{folder.project}.{volume.key}.tar", item_tags)
    except DarseError as exc:
        item.error = exc.message
        return item
    item.snapshot, item.bytes_added = saved.snapshot_id, saved.bytes_added
    item.files_new, item.files_changed = saved.files_new, saved.files_changed
    item.seconds = time.monotonic() - started
    return item


def list_backups(start: Path, folder: str | None = None) -> list[dict[str, Any]]:
    """The snapshots darse took (of one folder, or all), newest first, as `darse backup ls` shows them."""
    restic = open_restic(start)
    tags = {"darse.service": folder.rstrip("/")} if folder else None
    found = [s for s in restic.snapshots(tags) if "darse.service" in s.tags]
    with contextlib.suppress(Exception):
        found.sort(key=lambda s: s.time, reverse=True)
    return [
        {
            "id": s.short_id,
            "time": s.time.isoformat(),
            "service": s.tags.get("darse.service", ""),
            "kind": s.tags.get("darse.kind", ""),
            "item": s.tags.get("darse.item", ""),
            "commit": s.tags.get("darse.commit", ""),
            "run": s.tags.get("darse.run", ""),
            "paths": list(s.paths),
        }
        for s in found
    ]
