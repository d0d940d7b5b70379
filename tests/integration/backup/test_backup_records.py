"""`darse backup` on the real engine with real restic, around the items: the folder's `pre` and `post`
commands run inside its running container (pre before the copy, post after it, post even when a later
pre fails), the history records every backup (reason, deployment, commit, images, restic's full ids,
outcome, a masked message), snapshots carry `darse.reason`, and restic's progress reaches the caller."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from darse.backup.run import run_backups
from darse.history import BACKUP, BY_HAND, FAILED, PRE_DEPLOY, SUCCESS, History
from darse.model.service import project_name
from darse.restic import Restic

from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

TOKEN = "tok-3f9a7c1e55-secret"  # in the folder's secrets file: never shown
COMPOSE = """\
services:
  app:
    image: busybox:1.36
    env_file: app.secrets
    command: ["sh", "-c", "echo page > /srv/page.txt; sleep 3600"]
    volumes:
      - files:/srv
volumes:
  files:
"""
CONFIG = """\
[backup]
repository = "{store}/restic"
password_file = "{store}/restic-password"

[backup.services."{folder}"]
pre = [
  {{ service = "app", command = ["sh", "-c", "echo on > /srv/maintenance"] }},
  {{ service = "app", command = ["sh", "-c", "[ ! -e /srv/fail-pre ] || {{ echo refused $APP_TOKEN >&2; exit 3; }}"] }},
]
post = {{ service = "app", command = ["rm", "-f", "/srv/maintenance"] }}
"""


@pytest.fixture
def deployed(tmp_path: Path, engine: docker.DockerClient, busybox, monkeypatch: pytest.MonkeyPatch):
    folder = f"notes{uuid.uuid4().hex[:8]}"
    root = tmp_path / "repo"
    store = tmp_path / "backups"
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    write_tree(
        root,
        {
            "darse.toml": CONFIG.format(store=store, folder=folder),
            f"{folder}/compose.yaml": COMPOSE,
            f"{folder}/app.secrets": f"APP_TOKEN={TOKEN}\n",
            ".gitignore": "*.secrets\n",
        },
    )
    git_init(root)
    project = project_name(folder)
    compose = ["docker", "compose", "-p", project, "--project-directory", str(root / folder)]
    up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    try:
        app = engine.containers.get(f"{project}-app-1")
        assert run_darse("backup", "init", cwd=root).exit_code == 0
        yield root, folder, Restic(f"{store}/restic", store / "restic-password"), app, tmp_path / "state"
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=False)


def _exists(app, path: str) -> bool:
    return app.exec_run(["test", "-e", path]).exit_code == 0


def test_pre_and_post_run_around_the_copy_and_the_backup_is_recorded(deployed, tmp_path: Path) -> None:
    root, folder, restic, app, state = deployed
    seen: list[tuple[str, int]] = []
    report = run_backups(
        root,
        [folder],
        reason=PRE_DEPLOY,
        deployment=42,
        progress=lambda item, status: seen.append((item.kind, status.bytes_done)),
    )
    assert report.ok, [item.error for item in report.items]
    assert [item.kind for item in report.items] == ["pre", "pre", "volume", "post"]
    assert not _exists(app, "/srv/maintenance")  # post ran after the copy
    assert "volume" in {kind for kind, _ in seen}  # restic's status lines reached the caller

    (snapshot,) = restic.snapshots({"darse.service": folder})
    assert snapshot.tags["darse.reason"] == PRE_DEPLOY and snapshot.tags["darse.deployment"] == "42"
    restic.restore(snapshot.id, tmp_path / "restored")
    restored = {p.name for p in (tmp_path / "restored").rglob("*")}
    assert {"page.txt", "maintenance"} <= restored  # pre ran before the copy

    history = History(state)
    (record,) = history.backups(project_name(folder))
    assert (record.action, record.reason, record.deployment, record.outcome) == (BACKUP, PRE_DEPLOY, 42, SUCCESS)
    assert record.revision == snapshot.tags["darse.commit"] and set(record.images) == {"app"}
    assert record.snapshots == [{"kind": "volume", "item": "files", "snapshot": snapshot.id}]
    assert snapshot.tags["darse.item"] == "files"
    assert re.fullmatch(r"[0-9a-f]{64}", snapshot.id) and record.darse_version
    assert history.pre_deploy_backup(42) is not None and history.pre_deploy_backup(41) is None
    history.close()


def test_a_failing_pre_takes_no_snapshot_runs_post_and_masks_its_words(deployed) -> None:
    root, folder, restic, app, _state = deployed
    assert app.exec_run(["touch", "/srv/fail-pre"]).exit_code == 0
    result = run_darse("backup", folder, "--json", cwd=root)
    assert result.exit_code == 1, result.stdout + (result.stderr or "")
    assert TOKEN not in result.stdout
    report = json.loads(result.stdout)
    assert [(item["kind"], item["ok"]) for item in report["items"]] == [("pre", True), ("pre", False), ("post", True)]
    assert "exited with 3" in report["items"][1]["error"] and "refused ****" in report["items"][1]["error"]
    assert not _exists(app, "/srv/maintenance")  # post undid the first pre
    assert restic.snapshots({"darse.service": folder}) == []

    history = run_darse("backup", "history", folder, "--json", cwd=root)
    assert history.exit_code == 0 and TOKEN not in history.stdout
    (record,) = json.loads(history.stdout)
    assert record["outcome"] == FAILED and record["reason"] == BY_HAND and record["snapshots"] == []
    assert "refused ****" in record["message"] and "\n" not in record["message"]
    shown = run_darse("backup", "history", folder, cwd=root)
    assert shown.exit_code == 0 and "failed" in shown.stdout and TOKEN not in shown.stdout

    assert app.exec_run(["rm", "/srv/fail-pre"]).exit_code == 0
    assert run_darse("backup", folder, cwd=root).exit_code == 0
    listed = run_darse("backup", "ls", folder, cwd=root)
    assert listed.exit_code == 0 and BY_HAND in listed.stdout
    (newest, _older) = json.loads(run_darse("backup", "history", folder, "--json", cwd=root).stdout)
    assert newest["outcome"] == SUCCESS and len(newest["snapshots"]) == 1
