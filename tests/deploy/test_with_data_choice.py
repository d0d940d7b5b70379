"""Which backup `rollback --with-data` restores, from a real history database: the one taken before the
first deployment after the target, and a refusal when a deployment changed images with none before it."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.deploy.with_data import backup_to_restore
from darse.errors import DarseError
from darse.history import BACKUP, FAILED, PRE_DEPLOY, SAFETY, SUCCESS, BackupRecord, Deployment, History


def _deploy(history: History, image: str, action: str = "up", outcome: str = SUCCESS) -> Deployment:
    record = history.start(Deployment("p", "svc", "/repo", action, image * 8, False, image))
    record.images = {"db": {"image": f"db:{image}", "id": f"sha256:{image}"}}
    history.finish(record, outcome)
    return record


def _backup(history: History, before: Deployment, outcome: str = SUCCESS, reason: str = PRE_DEPLOY) -> BackupRecord:
    record = history.start_backup(BackupRecord("p", "svc", BACKUP, reason, deployment=before.id))
    record.snapshots = [{"kind": "dump", "item": "db", "snapshot": "a" * 64}]
    history.finish_backup(record, outcome)
    return record


def test_the_backup_before_the_first_deployment_undone_is_restored(tmp_path: Path):
    history = History(tmp_path)
    target = _deploy(history, "v1")
    upgrade = _deploy(history, "v2")
    first = _backup(history, upgrade)
    later = _deploy(history, "v3")
    _backup(history, later)
    found, undone = backup_to_restore(history, "p", target)
    assert found.id == first.id
    assert [d.id for d in undone] == [upgrade.id, later.id]


def test_a_deployment_with_the_same_images_needs_no_backup_before_it(tmp_path: Path):
    history = History(tmp_path)
    target = _deploy(history, "v1")
    _deploy(history, "v1")  # a configuration change on the same image: the data's format did not change
    upgrade = _deploy(history, "v2")
    wanted = _backup(history, upgrade)
    assert backup_to_restore(history, "p", target)[0].id == wanted.id


@pytest.mark.parametrize("spoiler", ["failed backup", "safety backup", "none"])
def test_an_image_change_without_a_good_pre_deploy_backup_is_refused(tmp_path: Path, spoiler: str):
    history = History(tmp_path)
    target = _deploy(history, "v1")
    upgrade = _deploy(history, "v2")
    if spoiler == "failed backup":
        _backup(history, upgrade, outcome=FAILED)
    elif spoiler == "safety backup":
        _backup(history, upgrade, reason=SAFETY)
    later = _deploy(history, "v3")
    _backup(history, later)  # too late: v2 had migrated the data already
    with pytest.raises(DarseError, match="changed images without a backup"):
        backup_to_restore(history, "p", target)


def test_nothing_after_the_target_is_refused(tmp_path: Path):
    history = History(tmp_path)
    target = _deploy(history, "v1")
    with pytest.raises(DarseError, match="no backup was taken"):
        backup_to_restore(history, "p", target)
