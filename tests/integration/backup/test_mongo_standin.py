"""darse's side of MongoDB backups on the real engine, against stand-in tools (tests/helpers/mongo.py: no
real MongoDB exists here): the plan kinds the image as mongodb and dumps its data volume instead of
copying it, the backup's snapshot holds the archive `mongodump --archive` wrote (logged in with the
root credentials of the container's environment, passed as the real tools take them), the archive
loads back with darse's restore command, and a mongodump that fails part-way leaves no snapshot."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from pathlib import Path

import docker
import pytest

from darse.backup.dumps import load_command
from darse.model.service import project_name
from darse.restic import Restic

from helpers.cli import run_darse
from helpers.databases import exec_sh
from helpers.mongo import ARCHIVE_HEADER, mongo_image
from helpers.repo import git_init, write_tree

PASSWORD = "it's a m0ngo pa$$word"
COMPOSE = """\
services:
  db:
    image: {image}
    env_file: db.secrets
    environment:
      MONGO_INITDB_ROOT_USERNAME: root
    volumes:
      - db-data:/data/db
volumes:
  db-data:
"""


@pytest.fixture
def deployed(tmp_path: Path, engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch):
    folder = f"chat{uuid.uuid4().hex[:8]}"
    root, store = tmp_path / "repo", tmp_path / "backups"
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    write_tree(
        root,
        {
            "darse.toml": f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/pw"\n',
            f"{folder}/compose.yaml": COMPOSE.format(image=mongo_image()),
            f"{folder}/db.secrets": f"MONGO_INITDB_ROOT_PASSWORD={PASSWORD}\n",
            ".gitignore": "*.secrets\n",
        },
    )
    git_init(root)
    project = project_name(folder)
    compose = ["docker", "compose", "-p", project, "--project-directory", str(root / folder)]
    up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    try:
        db = engine.containers.get(f"{project}-db-1")
        assert db.exec_run(["sh", "-c", "echo 'hello from chat' > /data/db/collection-messages.wt"]).exit_code == 0
        assert run_darse("backup", "init", cwd=root).exit_code == 0
        yield root, folder, Restic(f"{store}/restic", store / "pw"), db
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=False)


def _dumps(restic: Restic, folder: str) -> list:
    return restic.snapshots({"darse.service": folder, "darse.kind": "dump"})


def test_the_mongodb_archive_is_dumped_logged_in_and_loads_back(deployed, engine: docker.DockerClient) -> None:
    root, folder, restic, _db = deployed
    plan = json.loads(run_darse("backup", "plan", folder, "--json", cwd=root).stdout)
    (service,) = plan["services"]
    assert [(d["service"], d["kind"], d["user"]) for d in service["dumps"]] == [("db", "mongodb", "root")]
    assert [v["action"] for v in service["volumes"]] == ["dump"]

    result = run_darse("backup", folder, "--json", cwd=root)
    assert result.exit_code == 0, result.stdout + (result.stderr or "")
    (item,) = json.loads(result.stdout)["items"]
    assert item["kind"] == "dump" and item["ok"]

    (snapshot,) = _dumps(restic, folder)
    archive = io.BytesIO()
    restic.dump(snapshot.id, snapshot.paths[0], archive.write)
    data = archive.getvalue()
    assert data.startswith(ARCHIVE_HEADER)
    with tarfile.open(fileobj=io.BytesIO(data[len(ARCHIVE_HEADER) :])) as tar:
        stored = tar.extractfile("./collection-messages.wt")
        assert stored is not None and stored.read() == b"hello from chat\n"

    env = {"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": PASSWORD}
    fresh = engine.containers.run(
        mongo_image(), name=f"darse-test-mongo-{uuid.uuid4().hex[:8]}", environment=env, detach=True
    )
    try:
        refused = exec_sh(fresh, ("mongodump", "--archive"))  # the stand-in insists on the credentials
        assert refused.returncode == 1 and b"Authentication failed" in refused.stderr
        loaded = exec_sh(fresh, load_command("mongodb"), stdin=data)
        assert loaded.returncode == 0, loaded.stderr
        assert exec_sh(fresh, ("cat", "/data/db/collection-messages.wt")).stdout == b"hello from chat\n"
    finally:
        fresh.remove(force=True, v=True)


def test_a_failing_mongodump_leaves_no_snapshot(deployed) -> None:
    root, folder, restic, db = deployed
    assert db.exec_run(["touch", "/data/db/FAIL_DUMP"]).exit_code == 0
    result = run_darse("backup", folder, "--json", cwd=root)
    assert result.exit_code == 1
    (item,) = json.loads(result.stdout)["items"]
    assert not item["ok"] and "exited with 2" in item["error"] and item["snapshot"] is None
    assert _dumps(restic, folder) == []
    assert restic.snapshots() == []
