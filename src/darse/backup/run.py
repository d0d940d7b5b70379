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

Around the items, the folder's `pre` commands run first and its `post` commands last, each inside its
Compose service's running container: a `pre` that fails fails the folder before any snapshot is taken
(the `post` commands still run once a `pre` succeeded, to undo it, like a `finally`).

Every backup of a folder is recorded in the host's history (darse.history: who, why, the deployed
commit, the images, the snapshots taken, the outcome with a masked one-line message), and each of its
snapshots carries the reason as the tag `darse.reason` (and `darse.deployment` before a deploy).

Not built yet: restore, `--verify` (docs/backup.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from darse.backup.plan import COPY, DumpPlan, FolderPlan, VolumePlan, backup_plan, password_file
from darse.config import BackupCommand
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
from darse.history import BACKUP, BY_HAND, FAILED, PRE_DEPLOY, SUCCESS, BackupRecord, History
from darse.masking import Masker, masker_for_compose
from darse.model.repository import find_root, open_repository
from darse.model.service import project_name
from darse.restic import Restic, Status, make_password_file
from darse.state import state_dir

STALL = 600.0  # seconds a dump (or a pre/post command) may write nothing before it is stopped
MAX_MESSAGE = 300  # characters of a failure kept in an item's error and the history's message
Say = Callable[[str], None]


@dataclass
class ItemBackup:
    """One snapshot taken (or the reason it was not)."""

    folder: str
    kind: str  # "dump" or "volume"; "pre"/"post" for a command (never a snapshot); "folder" for the whole
    name: str  # the Compose service dumped (or running the command), or the volume's engine name
    snapshot: str = ""
    bytes_added: int = 0
    files_new: int = 0
    files_changed: int = 0
    seconds: float = 0.0
    error: str = ""
    key: str = ""  # its snapshot's `darse.item` tag: the dumped service, or the volume's Compose key

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


# Called from restic's reading thread while an item is backed up: the item (not finished yet) and
# restic's latest status line (a stream's totals are 0: its size is unknown until it ends).
BackupProgress = Callable[[ItemBackup, Status], None]


@dataclass
class BackupReport:
    repository: str  # masked
    items: list[ItemBackup] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # folders out of scope, and why
    records: list[int] = field(default_factory=list)  # ids of the history's records (one per folder)

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
            "records": self.records,
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
    start: Path,
    folders: Iterable[str] = (),
    *,
    every: bool = False,
    say: Say | None = None,
    reason: str = BY_HAND,
    deployment: int | None = None,
    progress: BackupProgress | None = None,
    requested_by: str | None = None,
) -> BackupReport:
    """Back up the folders named (or every folder with `every`), one snapshot per item of their plan,
    and record each folder's backup in the host's history. `reason` (darse.history BY_HAND, PRE_DEPLOY,
    SAFETY) and `deployment` (the deployment record a pre-deploy backup comes before) go into the
    record and the snapshots' tags; `requested_by` names the user instead of the OS account."""
    wanted = [f.rstrip("/") for f in folders]
    if not wanted and not every:
        raise DarseError("name the service folders to back up", "darse backup FOLDER..., or --all")
    plan = backup_plan(start, wanted or None)
    restic = open_restic(start)
    restic.version()
    config = open_repository(find_root(start)).config
    report = BackupReport(restic.display)
    say = say or (lambda _line: None)
    history = History(state_dir(config, plan.root), requested_by)
    try:
        for folder in plan.services:
            if not folder.in_scope:
                report.skipped.append(f"{folder.folder}: {folder.note}")
                continue
            if folder.errors:
                raise DarseError(
                    f"{folder.folder}: {folder.errors[0]}", "darse backup plan shows the plan; fix darse.toml"
                )
            run = _FolderRun(restic, folder, say, progress, _masker(plan.root, folder), reason, deployment)
            record: BackupRecord | None = None
            ended = False  # False in `finally`: interrupted (Ctrl-C), recorded as failed
            try:
                engine = connect(Endpoint.of(config.target_for(folder.folder)))
                try:
                    run.prepare(engine)
                    record = history.start_backup(run.record())
                    run.back_up(engine)
                finally:
                    engine.close()
                ended = True
            except DarseError as exc:
                run.items.append(ItemBackup(folder.folder, "folder", folder.folder, error=run.masked(exc.message)))
                ended = True
            finally:
                if not ended:
                    run.items.append(ItemBackup(folder.folder, "folder", folder.folder, error="interrupted"))
                report.items += run.items
                if record is None:
                    record = history.start_backup(run.record())
                report.records.append(record.id or 0)
                _finish_record(history, record, run)
    finally:
        history.close()
    return report


def _masker(root: Path, folder: FolderPlan) -> Masker:
    """The secrets of the folder (its env files, `*.secrets`, literal passwords), hidden in what its
    commands say before any of it reaches an error, the terminal or the history."""
    compose = root / folder.folder / folder.compose_file
    try:
        return masker_for_compose(compose)
    except DarseError:
        return Masker()


def _finish_record(history: History, record: BackupRecord, run: _FolderRun) -> None:
    """The record completed: what the folder's containers ran, the snapshots taken (restic's full ids),
    the outcome and the first failure, masked and on one line."""
    taken = [item for item in run.items if item.snapshot]
    full = run.full_ids()
    record.snapshots = [
        {"kind": item.kind, "item": item.key or item.name, "snapshot": full.get(item.snapshot, item.snapshot)}
        for item in taken
    ]
    failures = [f"{item.kind} {item.name}: {item.error}" for item in run.items if not item.ok]
    message = " ".join(failures[0].split())[:MAX_MESSAGE] if failures else f"{len(taken)} snapshot(s)"
    history.finish_backup(record, FAILED if failures else SUCCESS, message)


class _FolderRun:
    """One backup of one folder: pre commands, dumps, volumes (the folder's services stopped around
    them when `stop`), post commands; the items done so far and the tags its snapshots share."""

    def __init__(
        self,
        restic: Restic,
        folder: FolderPlan,
        say: Say,
        progress: BackupProgress | None,
        masker: Masker,
        reason: str,
        deployment: int | None,
    ) -> None:
        self.restic = restic
        self.folder = folder
        self.say = say
        self.progress = progress
        self.masker = masker
        self.reason = reason
        self.deployment = deployment
        self.items: list[ItemBackup] = []
        self.tags: dict[str, str] = {}
        self.containers: list[ContainerState] = []

    def masked(self, text: str) -> str:
        return self.masker.text(text)

    def prepare(self, engine: Engine) -> None:
        """The folder's containers, and the tags its snapshots share (the commit, images, reason)."""
        self.containers = [c for c in engine.containers(project=self.folder.project)]
        if self.reason == PRE_DEPLOY:
            self.folder = deployed_part(self.folder, self.containers)
        if self.containers:
            self.tags = _tags(self.folder, self.containers)
            self.tags["darse.reason"] = self.reason
            if self.deployment is not None:
                self.tags["darse.deployment"] = str(self.deployment)

    def record(self) -> BackupRecord:
        """The history's record of this backup as it starts: what the folder's containers run."""
        images = {k.removeprefix("darse.image."): v for k, v in self.tags.items() if k.startswith("darse.image.")}
        return BackupRecord(
            project=self.folder.project,
            service=self.folder.folder,
            action=BACKUP,
            reason=self.reason,
            deployment=self.deployment,
            revision=self.tags.get("darse.commit", ""),
            images=images,
            darse_version=metadata.version("darse"),
        )

    def back_up(self, engine: Engine) -> None:
        folder, containers = self.folder, self.containers
        if not containers:
            self.items.append(
                ItemBackup(folder.folder, "folder", folder.folder, error="not deployed: nothing to back up")
            )
            return
        succeeded = 0
        try:
            for command in folder.pre:
                item = self._command(engine, "pre", command, containers)
                if not item.ok:
                    return  # no snapshot: the state the pre commands prepare was not reached
                succeeded += 1
            self._items(engine, containers)
        finally:
            if succeeded or not folder.pre:
                for command in folder.post:
                    self._command(engine, "post", command, containers)

    def _items(self, engine: Engine, containers: list[ContainerState]) -> None:
        folder, say = self.folder, self.say
        for dump in folder.dumps:
            say(f"{folder.folder}: dump of {dump.service} ({dump.kind})")
            item = ItemBackup(folder.folder, "dump", dump.service, key=dump.service)
            self.items.append(
                _dump(engine, self.restic, folder, dump, containers, self.tags, item, self._listener(item))
            )
            item.error = self.masked(item.error)
        stopped: list[str] = []
        try:
            if folder.stop:
                stopped = [c.id for c in containers if c.running]
                say(f"{folder.folder}: stopping {len(stopped)} container(s) for the copy")
                stop_containers(engine, stopped)
            for volume in folder.volumes:
                if volume.action == COPY:
                    say(f"{folder.folder}: volume {volume.name}")
                    item = ItemBackup(folder.folder, "volume", volume.name, key=volume.key)
                    listener = self._listener(item)
                    self.items.append(
                        _volume(engine, self.restic, folder, volume, containers, self.tags, item, listener)
                    )
                    item.error = self.masked(item.error)
        finally:
            if stopped:
                start_containers(engine, stopped)

    def _listener(self, item: ItemBackup) -> Callable[[Status], None] | None:
        progress = self.progress
        if progress is None:
            return None
        return lambda status: progress(item, status)

    def _command(
        self, engine: Engine, when: str, command: BackupCommand, containers: list[ContainerState]
    ) -> ItemBackup:
        """Run a pre or post command in its service's running container. Its output is not kept: only
        the end of its standard error, masked, to explain a failure."""
        item = ItemBackup(self.folder.folder, when, command.service)
        self.items.append(item)
        running = [c for c in containers if c.compose_service == command.service and c.running]
        if not running:
            item.error = f"{command.service} is not running: the {when} command runs inside it"
            return item
        self.say(f"{self.folder.folder}: {when} command in {command.service}")
        started = time.monotonic()
        try:
            result = stream_command(engine, running[0].id, command.command, lambda _piece: None, stall=STALL)
        except DarseError as exc:
            item.error = self.masked(exc.message)[:MAX_MESSAGE]
        else:
            if not result.ok:
                said = self.masked(result.last_error_line())
                item.error = f"the {when} command exited with {result.exit_code}" + (f": {said}" if said else "")
        item.seconds = time.monotonic() - started
        return item

    def full_ids(self) -> dict[str, str]:
        """restic 0.14's summary names a snapshot by its short id: the full ids of this run's snapshots."""
        if not any(item.snapshot for item in self.items) or "darse.run" not in self.tags:
            return {}
        try:
            found = self.restic.snapshots({"darse.run": self.tags["darse.run"]})
        except DarseError:
            return {}
        return {
            item.snapshot: snapshot.id
            for item in self.items
            for snapshot in found
            if item.snapshot and snapshot.id.startswith(item.snapshot)
        }


def deployed_part(folder: FolderPlan, containers: list[ContainerState]) -> FolderPlan:
    """The plan without what the deployment about to run adds: before a deploy, the plan (read from the
    checkout) may name a database or a volume of a Compose service that has no container yet, whose
    data does not exist. A service with a container, even stopped, stays (its dump then fails)."""
    present = {c.compose_service for c in containers}
    return dataclasses.replace(
        folder,
        dumps=[d for d in folder.dumps if d.service in present],
        volumes=[v for v in folder.volumes if not v.services or set(v.services) & present],
    )


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
    item: ItemBackup,
    progress: Callable[[Status], None] | None = None,
) -> ItemBackup:
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
            produce,
            f"{folder.project}.{dump.file}",
            {**tags, "darse.kind": "dump", "darse.item": dump.service},
            progress=progress,
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
    item: ItemBackup,
    progress: Callable[[Status], None] | None = None,
) -> ItemBackup:
    item_tags = {**tags, "darse.kind": "volume", "darse.item": volume.key}
    started = time.monotonic()
    try:
        directory = volume_mountpoint(engine, volume.name)
        if directory is not None:
            saved = restic.backup_path(directory, item_tags, progress=progress)
        else:
            image = containers[0].image_id

            def produce(sink: IO[bytes]) -> None:
                stream_volume(engine, volume.name, sink.write, image=image)

            saved = restic.backup_stream(produce, f"{folder.project}.{volume.key}.tar", item_tags, progress=progress)
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
            "reason": s.tags.get("darse.reason", ""),
            "run": s.tags.get("darse.run", ""),
            "paths": list(s.paths),
        }
        for s in found
    ]


def backup_history(start: Path, folder: str, limit: int | None = 50) -> list[dict[str, Any]]:
    """The history's records of a folder's backups, restores and restore checks, newest first."""
    repository = open_repository(find_root(start))
    name = folder.rstrip("/")
    service = next((s for s in repository.services if s.name == name), None)
    if service is None:
        raise DarseError(f"no service folder {name[:60]!r}", "name a service folder, relative to the repository root")
    history = History(state_dir(repository.config, repository.root))
    try:
        return [record.to_dict() for record in history.backups(project_name(name), limit)]
    finally:
        history.close()
