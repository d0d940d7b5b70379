"""`darse backup prune`: darse.toml's `keep` rules applied to the snapshots darse took, item by item.

Each item of each folder (a dump of one Compose service, one volume: the tags `darse.service`,
`darse.kind`, `darse.item`) is one group that the rules keep on its own: `keep = {last = 3}` keeps
three snapshots of every volume and every dump, never three snapshots in all. restic decides what its
rules keep (`restic forget --dry-run` per item); darse then keeps back, whatever the rules say:

- the snapshots of the newest successful pre-deploy backup of each project, and of the one taken
  before its current deployment: what `darse rollback --with-data` would restore;
- safety snapshots (taken just before a restore or a rollback replaced the data) younger than
  `SAFETY_DAYS` days: the way back from a restore that went wrong.

Only then are the rest forgotten, and the repository pruned once at the end (restic's `prune` takes
an exclusive lock and rewrites the index: once is enough). `dry_run` lists what would go and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from darse.backup.run import open_restic
from darse.errors import DarseError
from darse.history import BACKUP, PRE_DEPLOY, SAFETY, SUCCESS, BackupRecord, History
from darse.model.repository import find_root, open_repository
from darse.model.service import project_name
from darse.restic import Snapshot
from darse.state import state_dir

SAFETY_DAYS = 7  # a safety snapshot younger than this is never forgotten


@dataclass
class PrunedItem:
    """One item's snapshots: those the rules keep, those forgotten (or that would be, in a dry run), and
    those the rules would forget but darse keeps back (id → why). Ids are restic's short ids."""

    folder: str
    kind: str
    item: str
    kept: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    protected: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "kind": self.kind,
            "item": self.item,
            "kept": list(self.kept),
            "forgotten": list(self.forgotten),
            "protected": dict(self.protected),
        }


@dataclass
class PruneReport:
    repository: str  # masked
    keep: dict[str, int]
    dry_run: bool
    items: list[PrunedItem] = field(default_factory=list)
    pruned: bool = False  # restic prune ran (something was forgotten)

    @property
    def forgotten(self) -> int:
        return sum(len(item.forgotten) for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "repository": self.repository,
            "keep": dict(self.keep),
            "dry_run": self.dry_run,
            "forgotten": self.forgotten,
            "pruned": self.pruned,
            "items": [item.to_dict() for item in self.items],
        }


def prune_backups(
    start: Path, folders: Iterable[str] = (), *, dry_run: bool = False, now: datetime | None = None
) -> PruneReport:
    """Apply `keep` to the snapshots of the folders named (every folder's when none is), then prune."""
    repository = open_repository(find_root(start))
    settings = repository.config.backup
    keep = {rule: count for rule, count in settings.keep.items() if count}
    if not keep:
        raise DarseError(
            "darse.toml [backup] has no keep rules: prune would have nothing to go by",
            "add keep = { daily = 7, weekly = 4, monthly = 12 } to [backup]",
        )
    names = [service.name for service in repository.services]
    wanted = list(dict.fromkeys(f.rstrip("/") for f in folders))
    for name in wanted:
        if name not in names:
            raise DarseError(
                f"no service folder {name[:60]!r}", "name a service folder, relative to the repository root"
            )
    restic = open_restic(start)
    restic.version()
    found = [
        s
        for s in restic.snapshots()
        if s.tags.get("darse.service") and (not wanted or s.tags["darse.service"] in wanted)
    ]
    history = History(state_dir(repository.config, repository.root))
    try:
        projects = {project_name(s.tags["darse.service"]) for s in found}
        protected = protected_snapshots(history, projects, found, now or datetime.now(UTC))
    finally:
        history.close()
    report = PruneReport(restic.display, keep, dry_run)
    groups: dict[tuple[str, str, str], list[Snapshot]] = {}
    for snapshot in found:
        kind, item = snapshot.tags.get("darse.kind", ""), snapshot.tags.get("darse.item", "")
        if kind and item:  # a snapshot without them is not one darse can group: left alone
            groups.setdefault((snapshot.tags["darse.service"], kind, item), []).append(snapshot)
    going: list[str] = []
    for (folder, kind, item), snapshots in sorted(groups.items()):
        tags = {"darse.service": folder, "darse.kind": kind, "darse.item": item}
        would = set(restic.forget(keep, tags, prune=False, group_by="", dry_run=True))
        entry = PrunedItem(folder, kind, item)
        for snapshot in sorted(snapshots, key=lambda s: s.time, reverse=True):
            if snapshot.id not in would:
                entry.kept.append(snapshot.short_id)
            elif snapshot.id in protected:
                entry.protected[snapshot.short_id] = protected[snapshot.id]
            else:
                entry.forgotten.append(snapshot.short_id)
                going.append(snapshot.id)
        report.items.append(entry)
    if going and not dry_run:
        restic.forget_ids(going)
        restic.prune()
        report.pruned = True
    return report


def protected_snapshots(
    history: History, projects: Iterable[str], snapshots: list[Snapshot], now: datetime
) -> dict[str, str]:
    """The full ids among `snapshots` that prune must keep whatever the rules say, and why."""
    recent = now - timedelta(days=SAFETY_DAYS)
    out: dict[str, str] = {}

    def protect(record: BackupRecord | None, why: str) -> None:
        for taken in record.snapshots if record is not None else ():
            recorded = str(taken.get("snapshot", ""))
            for snapshot in snapshots:
                if len(recorded) >= 8 and snapshot.id.startswith(recorded):
                    out.setdefault(snapshot.id, why)

    for project in sorted(projects):
        records = history.backups(project)
        newest = next(
            (r for r in records if r.action == BACKUP and r.reason == PRE_DEPLOY and r.outcome == SUCCESS), None
        )
        protect(newest, "newest pre-deploy backup")
        current = history.last_success(project)
        if current is not None and current.id is not None:
            why = "pre-deploy backup of the current deployment"
            protect(history.pre_deploy_backup(current.id), why)
            for snapshot in snapshots:
                tags = snapshot.tags
                if (
                    project_name(tags.get("darse.service", "-")) == project
                    and tags.get("darse.reason") == PRE_DEPLOY
                    and tags.get("darse.deployment") == str(current.id)
                ):
                    out.setdefault(snapshot.id, why)
        for record in records:
            if record.reason == SAFETY and record.outcome == SUCCESS and _parse(record.started_at) >= recent:
                protect(record, f"safety backup younger than {SAFETY_DAYS} days")
    for snapshot in snapshots:  # by their tags too: a record may be missing (another host's history)
        if snapshot.tags.get("darse.reason") == SAFETY and snapshot.time >= recent:
            out.setdefault(snapshot.id, f"safety backup younger than {SAFETY_DAYS} days")
    return out


def _parse(stamp: str) -> datetime:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
