"""`darse backup init`, `darse backup FOLDER` and `darse backup ls` on the real engine with real restic: a
PostgreSQL (Debian's, tests/helpers/databases.py) dumped inside its own container into restic, its data
volume not copied as files, an application volume read from its directory (incremental the second
time); the dump from restic loads into a fresh database with the same rows; a database that is not
running fails its item and leaves no snapshot."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from darse.backup.dumps import load_command
from darse.model.service import project_name
from darse.restic import Restic

from helpers.cli import run_darse
from helpers.databases import WIKI_PSQL, exec_sh, postgres_image, running, wait_healthy, wiki_db_service
from helpers.repo import git_init, write_tree

PASSWORD = "db pa$$word 'quoted'"
COMPOSE = (
    "services:\n"
    + wiki_db_service("{image}", "{password}")
    + """\
  app:
    image: busybox:1.36
    command: ["sh", "-c", "echo page-one > /srv/one.txt; mkdir -p /srv/sub; echo two > /srv/sub/two.txt; sleep 3600"]
    volumes:
      - files:/srv
volumes:
  db-data:
  files:
"""
)
PSQL = WIKI_PSQL


@pytest.fixture
def deployed(tmp_path: Path, engine: docker.DockerClient, busybox):
    folder = f"wiki{uuid.uuid4().hex[:8]}"
    root = tmp_path / "repo"
    store = tmp_path / "backups"
    write_tree(
        root,
        {
            "darse.toml": f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/restic-password"\n',
            f"{folder}/compose.yaml": COMPOSE.format(image=postgres_image(), password=PASSWORD.replace("$", "$$")),
        },
    )
    git_init(root)
    project = project_name(folder)
    compose = ["docker", "compose", "-p", project, "--project-directory", str(root / folder)]
    up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    try:
        db = engine.containers.get(f"{project}-db-1")
        wait_healthy(db)
        script = (
            "CREATE TABLE pages (id int PRIMARY KEY, body text); "
            "INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(1, 2000) g;"
        )
        assert exec_sh(db, ("sh", "-c", f'{PSQL} -c "{script}"')).returncode == 0
        yield root, folder, store, db
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=False)


def _backup(root: Path, folder: str) -> tuple[int, dict]:
    result = run_darse("backup", folder, "--json", cwd=root)
    assert result.exit_code in (0, 1), result.stdout + (result.stderr or "")
    return result.exit_code, json.loads(result.stdout)


def test_backup_dumps_the_database_and_reads_volumes_incrementally(deployed, engine: docker.DockerClient) -> None:
    root, folder, store, _db = deployed
    init = run_darse("backup", "init", "--json", cwd=root)
    assert init.exit_code == 0, init.stdout
    assert json.loads(init.stdout)["initialised"] and (store / "restic-password").stat().st_mode & 0o777 == 0o600

    code, report = _backup(root, folder)
    assert code == 0, [item["error"] for item in report["items"]]
    by_kind = {(item["kind"], item["name"].rsplit("_", 1)[-1]): item for item in report["items"]}
    assert set(by_kind) == {("dump", "db"), ("volume", "files")}  # db-data is dumped, not copied
    assert PASSWORD not in json.dumps(report)

    restic = Restic(f"{store}/restic", store / "restic-password")
    dump_snapshot = by_kind[("dump", "db")]["snapshot"]
    buffer = io.BytesIO()
    restic.dump(dump_snapshot, _dump_name(restic, dump_snapshot), buffer.write)
    fresh_env = {"POSTGRES_USER": "wiki", "POSTGRES_PASSWORD": "x", "POSTGRES_DB": "wiki"}
    with running(engine, postgres_image(), fresh_env) as fresh:
        loaded = exec_sh(fresh, load_command("postgres"), stdin=buffer.getvalue())
        assert loaded.returncode == 0, loaded.stderr
        count = exec_sh(fresh, ("sh", "-c", f'{PSQL} -c "SELECT count(*), sum(id) FROM pages"'))
        assert count.stdout.strip() == b"2000|2001000"

    snapshots = {s.short_id: s for s in restic.snapshots({"darse.service": folder})}
    assert len(snapshots) == 2
    for snapshot in snapshots.values():
        assert snapshot.tags["darse.commit"] and snapshot.tags["darse.image.db"] and snapshot.tags["darse.version"]

    again_code, again = _backup(root, folder)  # the volume again: restic saw no new file
    assert again_code == 0
    (volume,) = [item for item in again["items"] if item["kind"] == "volume"]
    assert volume["files_new"] == 0 and volume["files_changed"] == 0

    listed = run_darse("backup", "ls", folder, "--json", cwd=root)
    assert listed.exit_code == 0
    assert {entry["kind"] for entry in json.loads(listed.stdout)} == {"dump", "volume"}
    assert len(json.loads(listed.stdout)) == 4


def test_a_database_that_is_not_running_fails_its_item_and_saves_nothing(deployed) -> None:
    root, folder, store, db = deployed
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    db.stop(timeout=5)
    code, report = _backup(root, folder)
    assert code == 1
    (dump,) = [item for item in report["items"] if item["kind"] == "dump"]
    assert not dump["ok"] and "not running" in dump["error"] and dump["snapshot"] is None
    restic = Restic(f"{store}/restic", store / "restic-password")
    assert [s.tags["darse.kind"] for s in restic.snapshots({"darse.service": folder})] == ["volume"]


def _dump_name(restic: Restic, snapshot: str) -> str:
    (found,) = [s for s in restic.snapshots() if s.short_id == snapshot or s.id.startswith(snapshot)]
    return found.paths[0]


def test_the_backup_command_needs_a_folder_or_all(tmp_path: Path) -> None:
    config = '[backup]\nrepository = "/nowhere"\npassword_file = "/nowhere/pw"\n'
    write_tree(tmp_path, {"darse.toml": config, "a/compose.yaml": "services:\n  a:\n    image: busybox:1.36\n"})
    git_init(tmp_path)
    result = run_darse("backup", cwd=tmp_path)
    assert result.exit_code in (0, 2)  # no arguments: the group's help
    result = run_darse("backup", "--json", cwd=tmp_path)
    assert result.exit_code == 2 and "--all" in (result.stderr or "")
