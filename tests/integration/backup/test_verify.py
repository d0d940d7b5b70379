"""`darse restore FOLDER --verify` on the real engine with real restic and a real PostgreSQL (Debian's,
tests/helpers/databases.py): a good backup restores into a throwaway copy and passes the check of
darse.toml (the rows counted); a backup whose dump is garbage, or cut short, fails and says at which
step; nothing of the copy is left on the engine; production is never touched (its containers keep
running, its data and published port stay as they were, its container name is not taken)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse import api
from darse.backup.throwaway import folder_prefix, throwaway_config
from darse.engine.connect import connect
from darse.engine.throwaway import VERIFY_LABEL, ThrowawayProject, leftovers
from darse.errors import DarseError
from darse.history import FAILED, STOPPED, SUCCESS, VERIFY, History
from darse.model.service import project_name
from darse.restic import Restic, Snapshot

from helpers.cli import run_darse
from helpers.databases import WIKI_PSQL, exec_sh, postgres_image, wait_healthy, wiki_db_service
from helpers.engine import ensure_busybox, free_port
from helpers.repo import git_init, write_tree

PASSWORD = "verify pa$$word 'quoted'"
ROWS = 1500
PSQL = WIKI_PSQL
COMPOSE = (
    "services:\n"
    + wiki_db_service("{image}", "{password}", '    ports: ["127.0.0.1:{port}:5432"]')
    + """\
  app:
    image: busybox:1.36
    container_name: {container}
    command: ["sh", "-c", "sleep 3600"]
    labels:
      traefik.enable: "true"
      traefik.http.routers.wiki.rule: Host(`wiki.example.org`)
    volumes:
      - files:/srv
volumes:
  db-data:
  files:
"""
)
CHECK = f'test "$({PSQL} -c "SELECT count(*) FROM pages")" -eq {ROWS}'


class Deployed:
    """Production: the folder deployed with Compose, backed up once with `darse backup`."""

    def __init__(self, root: Path, folder: str, store: Path, db, app, port: int) -> None:
        self.root, self.folder, self.store, self.db, self.app, self.port = root, folder, store, db, app, port
        self.restic = Restic(f"{store}/restic", store / "restic-password")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, engine: docker.DockerClient) -> Iterator[Deployed]:
    ensure_busybox(engine, "busybox:1.36")
    tmp = tmp_path_factory.mktemp("verify")
    folder = f"wiki{uuid.uuid4().hex[:8]}"
    root, store, port = tmp / "repo", tmp / "backups", free_port()
    check = json.dumps(["sh", "-c", CHECK])
    write_tree(
        root,
        {
            "darse.toml": (
                f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/restic-password"\n'
                f'[backup.services."{folder}"]\ncheck = {{ service = "db", command = {check} }}\n'
            ),
            f"{folder}/compose.yaml": COMPOSE.format(
                image=postgres_image(), password=PASSWORD.replace("$", "$$"), port=port, container=f"{folder}-app"
            ),
        },
    )
    git_init(root)
    project = project_name(folder)
    compose = ["docker", "compose", "-p", project, "--project-directory", str(root / folder)]
    state = tmp / "state"
    previous = os.environ.get("DARSE_STATE_DIR")
    os.environ["DARSE_STATE_DIR"] = str(state)
    up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    try:
        db = engine.containers.get(f"{project}-db-1")
        app = engine.containers.get(f"{folder}-app")
        wait_healthy(db)
        script = (
            "CREATE TABLE pages (id int PRIMARY KEY, body text); "
            f"INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(1, {ROWS}) g;"
        )
        assert exec_sh(db, ("sh", "-c", f'{PSQL} -c "{script}"')).returncode == 0
        assert exec_sh(app, ("sh", "-c", "echo page-one > /srv/one.txt")).returncode == 0
        assert run_darse("backup", "init", cwd=root).exit_code == 0
        backup = run_darse("backup", folder, "--json", cwd=root)
        assert backup.exit_code == 0, backup.stdout
        yield Deployed(root, folder, store, db, app, port)
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=False)
        if previous is None:
            os.environ.pop("DARSE_STATE_DIR", None)
        else:
            os.environ["DARSE_STATE_DIR"] = previous


def production(deployed: Deployed) -> dict[str, object]:
    """What a verify must leave as it is: the containers (same ids, same start), the rows, the volume's file."""
    deployed.db.reload()
    deployed.app.reload()
    rows = exec_sh(deployed.db, ("sh", "-c", f'{PSQL} -c "SELECT count(*), sum(id) FROM pages"')).stdout
    files = exec_sh(deployed.app, ("cat", "/srv/one.txt")).stdout
    return {
        "db": (deployed.db.id, deployed.db.status, deployed.db.attrs["State"]["StartedAt"]),
        "app": (deployed.app.id, deployed.app.status, deployed.app.attrs["State"]["StartedAt"]),
        "rows": rows,
        "files": files,
    }


def port_answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def assert_nothing_left(deployed: Deployed, engine: docker.DockerClient) -> None:
    darse_engine = connect()
    try:
        assert not leftovers(darse_engine, folder_prefix(deployed.folder))
    finally:
        darse_engine.close()
    prefix = folder_prefix(deployed.folder)
    assert not [c.name for c in engine.containers.list(all=True) if c.name.startswith(prefix)]
    assert not [v.name for v in engine.volumes.list() if v.name.startswith(prefix)]
    assert not [n.name for n in engine.networks.list() if n.name.startswith(prefix)]
    assert not engine.containers.list(all=True, filters={"label": VERIFY_LABEL + "=" + prefix})


def test_a_good_backup_restores_into_a_throwaway_copy_and_passes_its_check(
    deployed: Deployed, engine: docker.DockerClient
) -> None:
    before = production(deployed)
    result = run_darse("restore", deployed.folder, "--verify", "--json", cwd=deployed.root)
    report = json.loads(result.stdout)  # one document: the progress lines went elsewhere
    assert result.exit_code == 0 and report["ok"], report
    assert [step["step"] for step in report["steps"]] == ["create", "volumes", "dumps", "health", "check", "cleanup"]
    assert report["checked"] and report["project"].startswith(folder_prefix(deployed.folder))
    assert "files" in report["steps"][1]["detail"] and "db" in report["steps"][2]["detail"]
    assert report["failed_step"] is None and report["leftovers"] == {}

    assert production(deployed) == before
    assert port_answers(deployed.port)
    assert_nothing_left(deployed, engine)
    assert PASSWORD not in result.stdout + (result.stderr or "")

    history = History(Path(os.environ["DARSE_STATE_DIR"]))
    try:
        (record,) = [r for r in history.backups(project_name(deployed.folder)) if r.id == report["history_record"]]
    finally:
        history.close()
    assert record.action == VERIFY and record.outcome == SUCCESS
    assert {s["kind"] for s in record.snapshots} == {"dump", "volume"}


def corrupt_run(deployed: Deployed, dump: bytes) -> str:
    """A backup run whose dump of db is `dump`, tagged as darse tags one (its volume's snapshot reused)."""
    listed = deployed.restic.snapshots({"darse.service": deployed.folder})
    good = max(listed, key=lambda s: s.time)
    run = f"corrupt-{uuid.uuid4().hex[:6]}"
    tags = {key: value for key, value in good.tags.items() if key not in ("darse.kind", "darse.item")}
    tags["darse.run"] = run
    saved = deployed.restic.backup_stream(
        lambda sink: sink.write(dump),
        f"{project_name(deployed.folder)}.db.sql",
        {**tags, "darse.kind": "dump", "darse.item": "db"},
    )
    (volume,) = [
        s for s in listed if s.tags["darse.run"] == good.tags["darse.run"] and s.tags["darse.kind"] == "volume"
    ]
    copy = deployed.restic.backup_path(
        Path(volume.paths[0]), {**tags, "darse.kind": "volume", "darse.item": volume.tags["darse.item"]}
    )
    assert copy.snapshot_id
    return saved.snapshot_id


def first_dump(deployed: Deployed) -> Snapshot:
    """The dump of the backup the fixture took (later tests add corrupt runs, newer)."""
    listed = deployed.restic.snapshots({"darse.service": deployed.folder, "darse.kind": "dump"})
    return min(listed, key=lambda s: s.time)


def good_dump(deployed: Deployed) -> bytes:
    first = first_dump(deployed)
    buffer = io.BytesIO()
    deployed.restic.dump(first.id, first.paths[0], buffer.write)
    return buffer.getvalue()


def test_a_garbage_dump_fails_the_verify_at_its_load(deployed: Deployed, engine: docker.DockerClient) -> None:
    before = production(deployed)
    snapshot = corrupt_run(deployed, b"this is no dump at all;\nDROP NOTHING;\n" * 20)
    result = run_darse("restore", deployed.folder, "--verify", "--snapshot", snapshot, cwd=deployed.root)
    assert result.exit_code == 1, result.stdout
    assert "did not pass the verify: step dumps" in result.stdout and "✓ cleanup" in result.stdout
    assert PASSWORD not in result.stdout + (result.stderr or "")

    assert production(deployed) == before
    assert port_answers(deployed.port)
    assert_nothing_left(deployed, engine)
    history = History(Path(os.environ["DARSE_STATE_DIR"]))
    try:
        record = history.backups(project_name(deployed.folder), limit=1)[0]
    finally:
        history.close()
    assert record.action == VERIFY and record.outcome == FAILED and record.message.startswith("dumps: ")
    assert snapshot in {s["snapshot"][: len(snapshot)] for s in record.snapshots}


def test_a_dump_cut_short_fails_the_verify(deployed: Deployed, engine: docker.DockerClient) -> None:
    dump = good_dump(deployed)
    start = dump.index(b"COPY public.pages")
    snapshot = corrupt_run(deployed, dump[: start + 200])  # the table made, its rows cut off after a few
    report = api.verify_backup(deployed.root, deployed.folder, snapshot=snapshot)
    assert not report.ok and report.failed_step in ("dumps", "check"), report.to_dict()
    if report.failed_step == "check":  # the partial load passed, the rows counted did not
        assert report.checked and "exited with 1" in report.steps[-2].detail
    assert_nothing_left(deployed, engine)


def test_an_unknown_snapshot_is_a_one_line_error(deployed: Deployed) -> None:
    result = run_darse("backup", "ls", deployed.folder, cwd=deployed.root)
    assert result.exit_code == 0
    with pytest.raises(DarseError) as caught:
        api.verify_backup(deployed.root, deployed.folder, snapshot="deadbeef")
    assert "deadbeef" in caught.value.message and "\n" not in caught.value.message


def test_a_failing_check_fails_the_verify_and_its_output_is_masked(
    deployed: Deployed, engine: docker.DockerClient
) -> None:
    config = deployed.root / "darse.toml"
    before = config.read_text()
    check = json.dumps(["sh", "-c", 'echo "rows: 0, password $POSTGRES_PASSWORD"; exit 3'])
    config.write_text(
        before.replace(before[before.index("check = ") :], f'check = {{ service = "db", command = {check} }}\n')
    )
    try:
        report = api.verify_backup(deployed.root, deployed.folder, snapshot=first_dump(deployed).id)
    finally:
        config.write_text(before)
    assert not report.ok and report.failed_step == "check" and report.checked
    assert "exited with 3" in report.steps[-2].detail
    assert "rows: 0, password " in report.check_output and PASSWORD not in json.dumps(report.to_dict())
    assert_nothing_left(deployed, engine)


def test_an_interrupted_verify_removes_what_it_made_and_what_an_earlier_one_left(
    deployed: Deployed, engine: docker.DockerClient
) -> None:
    left = ThrowawayProject(
        folder_prefix(deployed.folder) + "abcdef",
        {"name": "x", "services": {"app": {"image": "busybox:1.36", "labels": {}}}},
        deployed.root,
    )
    left.config = throwaway_config(left.config, left.project)
    assert left.create().ok  # a verify killed outright (SIGKILL) left this

    def say(line: str) -> None:
        if "healthy" in line:
            raise KeyboardInterrupt  # Ctrl-C while the copy starts

    with pytest.raises(KeyboardInterrupt):
        api.verify_backup(deployed.root, deployed.folder, snapshot=first_dump(deployed).id, say=say)
    assert_nothing_left(deployed, engine)
    history = History(Path(os.environ["DARSE_STATE_DIR"]))
    try:
        newest = history.backups(project_name(deployed.folder), limit=1)[0]
    finally:
        history.close()
    assert newest.action == VERIFY and newest.outcome == STOPPED
