"""The host's history in SQLite (WAL, versioned schema): every deployment attempt, its outcome, what it
ran; every backup, restore and restore check, the snapshots it took or read.

Never holds a secret: the resolved configuration is stored only as its hash and as a masked copy
(`darse.deploy.resolved.masked`) for `darse diff`.

Schema version 2 (`PRAGMA user_version`): table `deployments` (docs/deploy.md) and, since version 2,
table `backups` (docs/backup.md). Version 1 databases gain the second table when first opened.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from darse.errors import DarseError

SCHEMA_VERSION = 2
DB_NAME = "history.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    repository TEXT NOT NULL,
    action TEXT NOT NULL,
    revision TEXT NOT NULL,
    dirty INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    config_masked TEXT NOT NULL,
    images TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    user TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_project ON deployments (project, id);
"""

_SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS backups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    deployment INTEGER,
    revision TEXT NOT NULL,
    images TEXT NOT NULL,
    snapshots TEXT NOT NULL,
    darse_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    user TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backups_by_project ON backups (project, id);
CREATE INDEX IF NOT EXISTS backups_by_deployment ON backups (deployment);
"""

IN_PROGRESS, SUCCESS, FAILED, STOPPED = "in-progress", "success", "failed", "stopped"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def current_user() -> str:
    """Who ran it: the admin behind sudo when there is one."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


@dataclass
class Deployment:
    project: str
    service: str
    repository: str
    action: str  # up, rollback, auto-rollback, down
    revision: str
    dirty: bool
    config_hash: str
    config_masked: str = "{}"
    images: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=now)
    ended_at: str | None = None
    outcome: str = IN_PROGRESS
    message: str = ""
    user: str = field(default_factory=current_user)
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form (docs/deploy.md): everything but the masked configuration."""
        data = asdict(self)
        data.pop("config_masked")
        return data


BACKUP, RESTORE, VERIFY = "backup", "restore", "verify"  # BackupRecord.action
# BackupRecord.reason: asked for by hand, taken before a deploy (`darse up`), the data as it was before
# a restore or `rollback --with-data` replaced it, or (a restore) part of `rollback --with-data`.
BY_HAND, PRE_DEPLOY, SAFETY, WITH_ROLLBACK = "by-hand", "pre-deploy", "safety", "rollback"


@dataclass
class BackupRecord:
    """A backup, restore or restore check of one service folder. `snapshots` lists what it took or read:
    `{"kind": "dump"|"volume", "item": ..., "snapshot": restic's full id}`. `deployment`: for a
    pre-deploy backup, the deployment record it came before (what `rollback --with-data` looks for)."""

    project: str
    service: str
    action: str
    reason: str = BY_HAND
    deployment: int | None = None
    revision: str = ""
    images: dict[str, Any] = field(default_factory=dict)
    snapshots: list[dict[str, str]] = field(default_factory=list)
    darse_version: str = ""
    started_at: str = field(default_factory=now)
    ended_at: str | None = None
    outcome: str = IN_PROGRESS
    message: str = ""
    user: str = field(default_factory=current_user)
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ServiceHistory:
    """`darse history`: the records of a service's Compose project, newest first (a project two folders
    share shows the records of both)."""

    service: str
    project: str
    records: list[Deployment]

    def to_dict(self) -> list[dict[str, Any]]:
        """The `--json` document: a list of records."""
        return [record.to_dict() for record in self.records]


class History:
    """`requested_by`, when given, is the user every record started here names instead of the OS user
    running darse (the dashboard's signed-in user: the server runs as one account for everyone)."""

    def __init__(self, state: Path, requested_by: str | None = None) -> None:
        self.path = state / DB_NAME
        self.requested_by = requested_by
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise DarseError(f"cannot open the history {self.path}: {exc}", "check the state folder") from None
        os.chmod(self.path, 0o600)

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DarseError(
                f"the history {self.path} has schema {version}, newer than this darse knows ({SCHEMA_VERSION})",
                "upgrade darse",
            )
        if version < SCHEMA_VERSION:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, (_SCHEMA + _SCHEMA_2).split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def start(self, deployment: Deployment) -> Deployment:
        if self.requested_by:
            deployment.user = self.requested_by
        row = asdict(deployment)
        row.pop("id")
        row["images"] = json.dumps(row["images"], sort_keys=True)
        row["dirty"] = int(row["dirty"])
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        cursor = self.db.execute(f"INSERT INTO deployments ({columns}) VALUES ({marks})", row)
        deployment.id = cursor.lastrowid
        return deployment

    def start_in_place(self, project: str, service: str, repository: str, action: str) -> Deployment:
        """Start the record of an action that changes nothing deployed (restart, scale): it carries the
        last successful deployment's revision, configuration and images, so that drift, `diff` and
        `rollback --steps` read past it as if it were that deployment."""
        last = self.last_success(project)
        return self.start(
            Deployment(
                project=project,
                service=service,
                repository=repository,
                action=action,
                revision=last.revision if last else "",
                dirty=last.dirty if last else False,
                config_hash=last.config_hash if last else "",
                config_masked=last.config_masked if last else "{}",
                images=dict(last.images) if last else {},
            )
        )

    def finish(self, deployment: Deployment, outcome: str, message: str = "") -> None:
        deployment.outcome, deployment.message, deployment.ended_at = outcome, message, now()
        self.db.execute(
            "UPDATE deployments SET outcome = ?, message = ?, ended_at = ?, images = ? WHERE id = ?",
            (outcome, message, deployment.ended_at, json.dumps(deployment.images, sort_keys=True), deployment.id),
        )

    def list(self, project: str, limit: int | None = None) -> list[Deployment]:
        """Newest first."""
        sql = "SELECT * FROM deployments WHERE project = ? ORDER BY id DESC"
        params: tuple[Any, ...] = (project,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (project, limit)
        return [self._row(r) for r in self._query(sql, params)]

    def last_success(self, project: str) -> Deployment | None:
        rows = self._query(
            "SELECT * FROM deployments WHERE project = ? AND outcome = ? AND action NOT LIKE 'down%' "
            "ORDER BY id DESC LIMIT 1",
            (project, SUCCESS),
        )
        return self._row(rows[0]) if rows else None

    def last_settled(self, project: str) -> Deployment | None:
        """The newest successful record, a `down` included: what the project is now (nothing after a down)."""
        rows = self._query(
            "SELECT * FROM deployments WHERE project = ? AND outcome = ? ORDER BY id DESC LIMIT 1", (project, SUCCESS)
        )
        return self._row(rows[0]) if rows else None

    def successes(self, project: str) -> list[Deployment]:
        rows = self._query(
            "SELECT * FROM deployments WHERE project = ? AND outcome = ? AND action NOT LIKE 'down%' ORDER BY id DESC",
            (project, SUCCESS),
        )
        return [self._row(r) for r in rows]

    def latest_by_project(self) -> dict[str, Deployment]:
        """The newest record of every project, in one query (for `darse status`)."""
        rows = self._query(
            "SELECT * FROM deployments WHERE id IN (SELECT MAX(id) FROM deployments GROUP BY project)", ()
        )
        return {row["project"]: self._row(row) for row in rows}

    def last_success_by_project(self) -> dict[str, Deployment]:
        rows = self._query(
            "SELECT * FROM deployments WHERE id IN (SELECT MAX(id) FROM deployments "
            "WHERE outcome = ? AND action NOT LIKE 'down%' GROUP BY project)",
            (SUCCESS,),
        )
        return {row["project"]: self._row(row) for row in rows}

    def start_backup(self, record: BackupRecord) -> BackupRecord:
        if self.requested_by:
            record.user = self.requested_by
        row = asdict(record)
        row.pop("id")
        row["images"] = json.dumps(row["images"], sort_keys=True)
        row["snapshots"] = json.dumps(row["snapshots"])
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        record.id = self.db.execute(f"INSERT INTO backups ({columns}) VALUES ({marks})", row).lastrowid
        return record

    def finish_backup(self, record: BackupRecord, outcome: str, message: str = "") -> None:
        record.outcome, record.message, record.ended_at = outcome, message, now()
        self.db.execute(
            "UPDATE backups SET outcome = ?, message = ?, ended_at = ?, snapshots = ? WHERE id = ?",
            (outcome, message, record.ended_at, json.dumps(record.snapshots), record.id),
        )

    def backups(self, project: str, limit: int | None = None) -> list[BackupRecord]:
        """The backup, restore and check records of a project, newest first."""
        sql = "SELECT * FROM backups WHERE project = ? ORDER BY id DESC"
        params: tuple[Any, ...] = (project,)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (project, limit)
        return [self._backup_row(r) for r in self._query(sql, params)]

    def pre_deploy_backup(self, deployment: int) -> BackupRecord | None:
        """The successful backup taken just before a deployment, if one was."""
        rows = self._query(
            "SELECT * FROM backups WHERE deployment = ? AND reason = ? AND action = ? AND outcome = ? "
            "ORDER BY id DESC LIMIT 1",
            (deployment, PRE_DEPLOY, BACKUP, SUCCESS),
        )
        return self._backup_row(rows[0]) if rows else None

    @staticmethod
    def _backup_row(row: sqlite3.Row) -> BackupRecord:
        data = dict(row)
        for key, empty in (("images", {}), ("snapshots", [])):
            try:
                data[key] = json.loads(data[key])
            except ValueError:
                data[key] = empty
        return BackupRecord(**data)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        return self.db.execute(sql, params).fetchall()

    @staticmethod
    def _row(row: sqlite3.Row) -> Deployment:
        data = dict(row)
        data["dirty"] = bool(data["dirty"])
        try:
            data["images"] = json.loads(data["images"])
        except ValueError:
            data["images"] = {}
        return Deployment(**data)

    def close(self) -> None:
        self.db.close()
