"""`darse up` backs a service's data up before a deploy that changes its images (darse.toml's
`before_deploy`), on the real engine with Debian's PostgreSQL and real restic: none for a first deploy
or an unchanged one, one recorded with the deployment it precedes for a new image, and a failing backup
stops the deploy (one line, exit 2, nothing changed) unless `--no-backup`."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from darse.history import BACKUP, FAILED, PRE_DEPLOY, SUCCESS, History
from darse.model.service import project_name
from darse.restic import Restic

from helpers.cli import run_darse
from helpers.databases import postgres_image, wiki_db_service
from helpers.repo import git_init, write_tree

COMPOSE = (
    "services:\n"
    + wiki_db_service("{image}", "not-a-real-one")
    + """\
volumes:
  db-data:
"""
)
NEXT_IMAGE = "darse-test/next/postgres:predeploy"  # a name darse knows as PostgreSQL


@pytest.fixture(scope="module")
def next_image(engine: docker.DockerClient) -> str:
    """The same PostgreSQL under another image ID: what a new version of the image is to darse."""
    dockerfile = f"FROM {postgres_image()}\nLABEL org.darse.test=next\n"
    done = subprocess.run(
        ["docker", "build", "-q", "-t", NEXT_IMAGE, "-"], input=dockerfile, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return NEXT_IMAGE


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: docker.DockerClient):
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    folder = f"wiki{uuid.uuid4().hex[:8]}"
    root, store = tmp_path / "repo", tmp_path / "backups"
    write_tree(
        root,
        {
            "darse.toml": f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/restic-password"\n',
            f"{folder}/compose.yaml": COMPOSE.format(image=postgres_image()),
        },
    )
    git_init(root)
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    try:
        yield root, folder, store
    finally:
        project = project_name(folder)
        subprocess.run(
            ["docker", "compose", "-p", project, "down", "-v", "-t", "0"], capture_output=True, check=False, cwd=root
        )


def _set_image(root: Path, folder: str, image: str) -> None:
    (root / folder / "compose.yaml").write_text(COMPOSE.format(image=image))
    who = ["-c", "user.name=darse tests", "-c", "user.email=tests@darse.invalid"]
    subprocess.run(["git", *who, "commit", "-qam", f"image {image}"], cwd=root, check=True, capture_output=True)


def _up(root: Path, folder: str, *extra: str):
    return run_darse("up", folder, "--force", "--json", *extra, cwd=root)


def test_a_deploy_that_changes_the_image_is_preceded_by_a_recorded_backup(repo, next_image: str, tmp_path: Path):
    root, folder, store = repo
    project = project_name(folder)
    first = _up(root, folder)
    assert first.exit_code == 0, first.stdout + (first.stderr or "")
    history = History(tmp_path / "state")
    assert history.backups(project) == []  # nothing was deployed before: no data to keep

    _set_image(root, folder, next_image)
    second = _up(root, folder)
    assert second.exit_code == 0, second.stdout + (second.stderr or "")
    deployment = json.loads(second.stdout)[0]["deployment"]
    record = history.pre_deploy_backup(deployment["id"])
    assert record is not None and (record.action, record.reason, record.outcome) == (BACKUP, PRE_DEPLOY, SUCCESS)
    assert [s["kind"] for s in record.snapshots] == ["dump"]
    restic = Restic(f"{store}/restic", store / "restic-password")
    taken = {s.id for s in restic.snapshots({"darse.service": folder})}
    assert {s["snapshot"] for s in record.snapshots} <= taken

    again = _up(root, folder)  # nothing changes: no backup
    assert again.exit_code == 0
    assert len(history.backups(project)) == 1


def test_a_failing_backup_stops_the_deploy_unless_no_backup(repo, next_image: str, tmp_path: Path):
    root, folder, _store = repo
    project = project_name(folder)
    assert _up(root, folder).exit_code == 0
    history = History(tmp_path / "state")
    deployed = history.last_success(project)
    # the dump of a database that is not running fails: the deploy must not go on without its backup
    subprocess.run(["docker", "stop", "-t", "1", f"{project}-db-1"], capture_output=True, check=True)
    _set_image(root, folder, next_image)

    stopped = _up(root, folder)
    assert stopped.exit_code == 2
    error = (stopped.stderr or "").strip()
    assert len(error.splitlines()) == 1 and "backup" in error and "--no-backup" in error
    latest = history.list(project, limit=1)[0]
    assert latest.outcome == FAILED and "backup" in latest.message
    assert history.last_success(project).id == deployed.id  # nothing was deployed
    assert [r.outcome for r in history.backups(project)] == [FAILED]

    forced = _up(root, folder, "--no-backup")
    assert forced.exit_code == 0, forced.stdout + (forced.stderr or "")
    assert len(history.backups(project)) == 1  # no second attempt
