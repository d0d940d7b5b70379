"""`darse rollback --with-data` undoes an upgrade that broke the database, on the real engine with
Debian's PostgreSQL and real restic: the upgrade (a new image and a migration that rewrites and deletes
rows) is preceded by darse up's backup; the rollback brings back the earlier image AND the rows as they
were, keeps the broken data in a safety backup, and refuses when no backup precedes what it undoes."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from darse.history import BACKUP, SAFETY, SUCCESS, History
from darse.model.service import project_name

from helpers.cli import run_darse
from helpers.databases import WIKI_PSQL, exec_sh, postgres_image, wait_healthy, wiki_db_service
from helpers.repo import git_init, write_tree

NEXT_IMAGE = "darse-test/next/postgres:with-data"  # a name darse knows as PostgreSQL
APP_IMAGE = "darse-test/next/app:with-data"  # the application: the same image, with psql, under another name
DB = wiki_db_service("{image}", "not-a-real-one")
MIGRATION = """\
  migrate:
    image: {app}
    environment:
      PGPASSWORD: "not-a-real-one"
    entrypoint: ["sh", "-c"]
    command:
      - >-
        until psql -h db -U wiki wiki -c 'select 1' >/dev/null 2>&1; do sleep 0.3; done;
        psql -h db -U wiki wiki -v ON_ERROR_STOP=1
        -c "UPDATE pages SET body = 'migrated'; DELETE FROM pages WHERE id > 100;"
        && touch /tmp/migrated; exec sleep 3600
    depends_on: [db]
    stop_grace_period: 1s  # sleep as PID 1 ignores the stop signal: killed after 1 s, not 30 s
    healthcheck:  # the application is healthy once it has migrated the data
      test: ["CMD", "test", "-e", "/tmp/migrated"]
      interval: 1s
      retries: 60
"""
PSQL = WIKI_PSQL


def _compose(image: str, migrate: bool) -> str:
    services = DB.format(image=image) + (MIGRATION.format(app=APP_IMAGE) if migrate else "")
    return f"services:\n{services}volumes:\n  db-data:\n"


def _commit(root: Path, message: str) -> None:
    who = ["-c", "user.name=darse tests", "-c", "user.email=tests@darse.invalid"]
    subprocess.run(["git", *who, "commit", "-qam", message], cwd=root, check=True, capture_output=True)


def _rows(engine: docker.DockerClient, project: str) -> list[str]:
    db = engine.containers.get(f"{project}-db-1")
    wait_healthy(db)
    done = exec_sh(db, ("sh", "-c", f"{PSQL} -c \"SELECT id || ':' || body FROM pages ORDER BY id\""))
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().split()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: docker.DockerClient):
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    build = subprocess.run(
        ["docker", "build", "-q", "-t", NEXT_IMAGE, "-t", APP_IMAGE, "-"],
        input=f"FROM {postgres_image()}\nLABEL org.darse.test=with-data\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    folder = f"wiki{uuid.uuid4().hex[:8]}"
    root, store = tmp_path / "repo", tmp_path / "backups"
    write_tree(
        root,
        {
            "darse.toml": f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/restic-password"\n',
            f"{folder}/compose.yaml": _compose(postgres_image(), migrate=False),
        },
    )
    git_init(root)
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    try:
        yield root, folder
    finally:
        subprocess.run(
            ["docker", "compose", "-p", project_name(folder), "down", "-v", "-t", "0"], capture_output=True, check=False
        )


def _up(root: Path, folder: str):
    result = run_darse("up", folder, "--force", "--json", cwd=root)
    assert result.exit_code == 0, result.stdout + (result.stderr or "")
    return result


def test_rollback_with_data_undoes_a_migration_that_broke_the_rows(repo, engine: docker.DockerClient, tmp_path: Path):
    root, folder = repo
    project = project_name(folder)
    _up(root, folder)
    db = engine.containers.get(f"{project}-db-1")
    script = (
        "CREATE TABLE pages (id int PRIMARY KEY, body text); "
        "INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(1, 500) g;"
    )
    assert exec_sh(db, ("sh", "-c", f'{PSQL} -c "{script}"')).returncode == 0
    before = _rows(engine, project)
    first_image = db.image.id

    # the upgrade: a new image, and a migration that rewrites every row and deletes most
    (root / folder / "compose.yaml").write_text(_compose(NEXT_IMAGE, migrate=True))
    _commit(root, "upgrade")
    _up(root, folder)
    migrate = engine.containers.get(f"{project}-migrate-1")
    for _ in range(100):
        if exec_sh(migrate, ("test", "-e", "/tmp/migrated")).returncode == 0:
            break
        subprocess.run(["sleep", "0.3"], check=True)
    broken = _rows(engine, project)
    assert len(broken) == 100 and all(row.endswith("migrated") for row in broken)

    result = run_darse("rollback", folder, "--with-data", "--yes", "--json", cwd=root)
    assert result.exit_code == 0, result.stdout + (result.stderr or "")
    report = json.loads(result.stdout)
    assert report["ok"] and report["safety"]["reason"] == SAFETY

    assert _rows(engine, project) == before  # every row as it was before the upgrade
    assert engine.containers.get(f"{project}-db-1").image.id == first_image
    left = engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    assert [c.name for c in left] == [f"{project}-db-1"]  # the migration's container is gone
    history = History(tmp_path / "state")
    safety = [r for r in history.backups(project) if r.reason == SAFETY]
    assert len(safety) == 1 and safety[0].action == BACKUP and safety[0].outcome == SUCCESS and safety[0].snapshots
    assert history.list(project, limit=1)[0].action == "rollback"


def test_with_data_is_refused_when_no_backup_precedes_the_deployments_undone(repo, engine: docker.DockerClient):
    root, folder = repo
    project = project_name(folder)
    _up(root, folder)
    (root / folder / "compose.yaml").write_text(_compose(NEXT_IMAGE, migrate=False))
    _commit(root, "upgrade without a backup")
    assert run_darse("up", folder, "--force", "--no-backup", cwd=root).exit_code == 0
    db_before = engine.containers.get(f"{project}-db-1").id

    refused = run_darse("rollback", folder, "--with-data", "--yes", cwd=root)
    assert refused.exit_code == 2
    assert "without a backup" in (refused.stderr or "") and len((refused.stderr or "").strip().splitlines()) == 1
    assert engine.containers.get(f"{project}-db-1").id == db_before  # nothing was touched
