"""Deployment history in SQLite (WAL, versioned schema): every attempt, its outcome, what it ran.

Never holds a secret: the resolved configuration is stored only as its hash and as a masked copy
(`darse.deploy.resolved.masked`) for `darse diff`.

Schema version 1 (`PRAGMA user_version`), one table `deployments`, documented in docs/deploy.md.
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

SCHEMA_VERSION = 1
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
        if version < 1:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, _SCHEMA.split(";")):
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
