"""The history database's backup records (schema 2): a version 1 database gains the table and keeps its
deployments; records round-trip; `pre_deploy_backup` finds only a successful pre-deploy backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from darse.errors import DarseError
from darse.history import (
    BACKUP,
    FAILED,
    PRE_DEPLOY,
    RESTORE,
    SCHEMA_VERSION,
    SUCCESS,
    BackupRecord,
    Deployment,
    History,
)


def _deployment(history: History) -> Deployment:
    record = history.start(Deployment("p", "svc", "/repo", "up", "a" * 40, False, "h"))
    history.finish(record, SUCCESS)
    return record


def test_a_version_1_database_gains_the_backups_table_and_keeps_its_deployments(tmp_path: Path):
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.executescript(
        "CREATE TABLE deployments (id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, service TEXT NOT NULL,"
        " repository TEXT NOT NULL, action TEXT NOT NULL, revision TEXT NOT NULL, dirty INTEGER NOT NULL,"
        " config_hash TEXT NOT NULL, config_masked TEXT NOT NULL, images TEXT NOT NULL, started_at TEXT NOT NULL,"
        " ended_at TEXT, outcome TEXT NOT NULL, message TEXT NOT NULL, user TEXT NOT NULL);"
        "INSERT INTO deployments VALUES (NULL, 'p', 'svc', '/r', 'up', 'abc', 0, 'h', '{}', '{}', 't', 't',"
        " 'success', '', 'alice');"
        "PRAGMA user_version = 1;"
    )
    db.close()
    history = History(tmp_path)
    assert [d.revision for d in history.list("p")] == ["abc"]
    assert history.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert history.backups("p") == []


def test_backup_records_round_trip_and_the_pre_deploy_one_is_found_by_its_deployment(tmp_path: Path):
    history = History(tmp_path, requested_by="bob")
    deployment = _deployment(history)
    failed = history.start_backup(BackupRecord("p", "svc", BACKUP, PRE_DEPLOY, deployment=deployment.id))
    history.finish_backup(failed, FAILED, "the dump of db exited with 1")
    assert history.pre_deploy_backup(deployment.id) is None
    record = history.start_backup(
        BackupRecord("p", "svc", BACKUP, PRE_DEPLOY, deployment=deployment.id, images={"db": "sha256:1"})
    )
    record.snapshots.append({"kind": "dump", "item": "db", "snapshot": "f" * 64})
    history.finish_backup(record, SUCCESS)
    history.finish_backup(history.start_backup(BackupRecord("p", "svc", RESTORE)), SUCCESS)
    found = history.pre_deploy_backup(deployment.id)
    assert found is not None and found.id == record.id
    assert found.snapshots == [{"kind": "dump", "item": "db", "snapshot": "f" * 64}]
    assert (found.images, found.user, found.outcome) == ({"db": "sha256:1"}, "bob", SUCCESS)
    assert [r.action for r in history.backups("p")] == [RESTORE, BACKUP, BACKUP]
    assert history.backups("other") == []


def test_a_database_newer_than_darse_is_refused(tmp_path: Path):
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(DarseError, match="newer"):
        History(tmp_path)
