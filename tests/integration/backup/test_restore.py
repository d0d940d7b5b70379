"""`darse restore` end to end on the real engine with real restic: a PostgreSQL (Debian's) and an
application volume deployed with Compose from a Git repository; `darse backup` taken while a client keeps
inserting rows (two per transaction); the data destroyed (`down -v`, then a fresh `up`); `darse restore
--yes` brings back every row committed before the backup started, no half of a transaction, and the
volume's files with their owners, modes and links; a safety backup of the data as it was is taken first
and recorded. Then the choices a user gets wrong: another folder's snapshot, --json without --yes,
no confirmation."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from darse.history import BACKUP, RESTORE, SAFETY, SUCCESS, History
from darse.model.service import project_name
from darse.restic import Restic

from helpers.cli import run_darse
from helpers.databases import WIKI_PSQL, exec_sh, mariadb_image, postgres_image, wait_healthy, wiki_db_service
from helpers.engine import BASE_TAG
from helpers.repo import git_init, write_tree

PASSWORD = "db pa$$word 'quoted'"
COMPOSE = (
    "services:\n"
    + wiki_db_service("{image}", "{password}")
    + """\
  app:
    image: busybox:1.36
    command: ["sleep", "3600"]
    stop_grace_period: 1s  # sleep as PID 1 ignores SIGTERM: killed after 1 s, not darse's default 30 s
    volumes:
      - files:/srv
volumes:
  db-data:
  files:
"""
)
PSQL = WIKI_PSQL
POPULATE = (
    "mkdir -p /srv/sub && printf hello > /srv/a.txt && chmod 640 /srv/a.txt && chown 1234:5678 /srv/a.txt "
    "&& yes data | head -c 100000 > /srv/sub/big.bin && chmod 700 /srv/sub && ln -s ../a.txt /srv/sub/link"
)
LISTING = "cd /srv && find . -exec stat -c '%n|%F|%u:%g|%a|%s|%N' {} + | sort"


MARIADB_COMPOSE = """\
services:
  db:
    image: {image}
    environment:
      MARIADB_ROOT_PASSWORD: "{password}"
      MARIADB_DATABASE: wiki
    volumes:
      - db-data:/var/lib/mysql
volumes:
  db-data:
"""
MARIADB = 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -uroot -N -B wiki'


def psql(db, sql: str) -> subprocess.CompletedProcess[bytes]:
    return exec_sh(db, ("sh", "-c", f'{PSQL} -F "|" -c "{sql}"'))


def mariadb(db, sql: str) -> subprocess.CompletedProcess[bytes]:
    done = exec_sh(db, ("sh", "-c", f'{MARIADB} -e "{sql}"'))
    done.stdout = done.stdout.replace(b"\t", b"|")
    return done


class Writer(threading.Thread):
    """A client inserting rows while the backup runs: each transaction writes `n` and `n + 100000`; the
    numbers whose transaction committed (the client returned 0) are recorded, in order."""

    def __init__(self, db, run_sql: Callable[[object, str], subprocess.CompletedProcess[bytes]]) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.run_sql = run_sql
        self.committed: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 10000
        while not self.stop.is_set():
            n += 1
            sql = f"BEGIN; INSERT INTO pages VALUES ({n}, 'page {n}'); "
            sql += f"INSERT INTO pages VALUES ({n + 100000}, 'twin'); COMMIT;"
            if self.run_sql(self.db, sql).returncode == 0:
                self.committed.append(n)


@pytest.fixture
def deploy(tmp_path: Path, engine: docker.DockerClient, busybox, monkeypatch):
    """`deploy(compose_text)` → (root, folder, store, project, compose command, up): a folder deployed with
    Compose from a Git repository whose darse.toml has [backup]; taken down (volumes too) afterwards."""
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    downs: list[list[str]] = []

    def make(text: str):
        folder = f"wiki{uuid.uuid4().hex[:8]}"
        root = tmp_path / "repo"
        store = tmp_path / "backups"
        write_tree(
            root,
            {
                "darse.toml": f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/restic-password"\n',
                f"{folder}/compose.yaml": text,
            },
        )
        git_init(root)
        project = project_name(folder)
        compose = ["docker", "compose", "-p", project, "--project-directory", str(root / folder)]
        downs.append(compose)

        def up() -> None:
            done = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
            wait_healthy(engine.containers.get(f"{project}-db-1"))

        up()
        return root, folder, store, project, compose, up

    yield make
    for compose in downs:
        subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=False)


@pytest.fixture
def deployed(deploy):
    return deploy(COMPOSE.format(image=postgres_image(), password=PASSWORD.replace("$", "$$")))


def backup_under_writes(root: Path, folder: str, writer: Writer) -> tuple[list[int], list[int]]:
    """`darse backup FOLDER` while `writer` inserts: (committed before the backup started, committed in all)."""
    writer.start()
    while len(writer.committed) < 5:  # the client is writing
        threading.Event().wait(0.05)
    before = list(writer.committed)
    backed = run_darse("backup", folder, "--json", cwd=root)
    writer.stop.set()
    writer.join()
    assert backed.exit_code == 0, backed.stdout
    assert len(writer.committed) > len(before)  # it kept writing during the backup
    return before, list(writer.committed)


def check_rows(restored: dict[int, str], before: list[int], after: list[int]) -> None:
    """Every row of the start and every transaction committed before the backup started are there;
    every later row is one that committed, whole (both of its rows), as written."""
    assert all(restored[i] == f"page {i}" for i in range(1, 2001))
    assert all(i in restored for i in before)
    for n in (i for i in restored if 10000 < i < 100000):
        assert n in after and restored[n] == f"page {n}" and restored[n + 100000] == "twin"
    assert all(i - 100000 in restored for i in restored if i > 100000)


def listing(engine: docker.DockerClient, project: str) -> str:
    return engine.containers.get(f"{project}-app-1").exec_run(["sh", "-c", LISTING]).output.decode()


def rows(db, run_sql=psql) -> dict[int, str]:
    done = run_sql(db, "SELECT id, body FROM pages ORDER BY id")
    assert done.returncode == 0, done.stderr
    return {int(i): body for i, body in (line.split("|", 1) for line in done.stdout.decode().splitlines())}


def test_a_backup_taken_under_writes_comes_back_row_by_row(deployed, engine: docker.DockerClient) -> None:
    root, folder, store, project, compose, up = deployed
    db = engine.containers.get(f"{project}-db-1")
    app = engine.containers.get(f"{project}-app-1")
    assert app.exec_run(["sh", "-c", POPULATE]).exit_code == 0
    files = listing(engine, project)
    assert "1234:5678|640" in files and "-> '../a.txt'" in files
    script = "CREATE TABLE pages (id int PRIMARY KEY, body text); "
    script += "INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(1, 2000) g;"
    assert exec_sh(db, ("sh", "-c", f'{PSQL} -c "{script}"')).returncode == 0
    assert run_darse("backup", "init", cwd=root).exit_code == 0

    before, after = backup_under_writes(root, folder, Writer(db, psql))

    subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=True)  # the data destroyed
    up()
    assert listing(engine, project).strip() == ".|directory|0:0|755|4096|."

    refused = run_darse("restore", folder, cwd=root)
    assert refused.exit_code == 2 and "needs confirmation" in refused.stderr
    done = run_darse("restore", folder, "--yes", "--json", cwd=root)
    assert done.exit_code == 0, done.stdout + (done.stderr or "")
    report = json.loads(done.stdout)
    assert report["ok"] and {i["kind"] for i in report["items"]} == {"dump", "volume"}
    assert PASSWORD not in done.stdout

    db = engine.containers.get(f"{project}-db-1")
    check_rows(rows(db), before, after)
    assert listing(engine, project) == files

    restic = Restic(f"{store}/restic", store / "restic-password")
    safety = [s for s in restic.snapshots({"darse.service": folder}) if s.tags.get("darse.reason") == SAFETY]
    assert {s.tags["darse.run"] for s in safety} == {report["safety_run"]} and len(safety) == 2
    history = History(root.parent / "state")
    records = history.backups(project)
    history.close()
    assert [(r.action, r.reason, r.outcome) for r in records[:2]] == [
        (RESTORE, "by-hand", SUCCESS),
        (BACKUP, SAFETY, SUCCESS),
    ]
    # restoring the safety run itself: test_a_failed_restore_names_the_safety_run_that_puts_the_data_back


def test_wrong_choices_are_one_line_errors(tmp_path: Path, engine, busybox, monkeypatch) -> None:
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    store = tmp_path / "backups"
    compose = "services:\n  app:\n    image: busybox:1.36\n    volumes:\n      - data:/srv\nvolumes:\n  data:\n"
    write_tree(
        tmp_path / "repo",
        {
            "darse.toml": f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/pw"\n',
            "one/compose.yaml": compose,
            "two/compose.yaml": compose,
        },
    )
    root = tmp_path / "repo"
    git_init(root)
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    none = run_darse("restore", "one", "--yes", cwd=root)
    assert none.exit_code == 2 and "no snapshot of one" in none.stderr
    json_only = run_darse("restore", "one", "--json", cwd=root)
    assert json_only.exit_code == 2 and "--json needs --yes" in json_only.stderr
    restic = Restic(f"{store}/restic", store / "pw")
    taken = restic.backup_path(root / "two", {"darse.service": "two", "darse.run": "r1", "darse.kind": "volume"})
    other = run_darse("restore", "one", "--snapshot", taken.snapshot_id, "--yes", cwd=root)
    assert other.exit_code == 2 and "of folder two, not of one" in other.stderr
    unknown = run_darse("restore", "one", "--snapshot", "abcdef12", "--yes", cwd=root)
    assert unknown.exit_code == 2 and "no snapshot abcdef12" in unknown.stderr
    assert BASE_TAG  # the busybox image exists for the folders' Compose files


def test_a_mariadb_backup_taken_under_writes_comes_back_row_by_row(deploy, engine: docker.DockerClient) -> None:
    root, folder, _store, project, compose, up = deploy(
        MARIADB_COMPOSE.format(image=mariadb_image(), password=PASSWORD.replace("$", "$$"))
    )
    db = engine.containers.get(f"{project}-db-1")
    script = "CREATE TABLE pages (id int PRIMARY KEY, body text) ENGINE=InnoDB; "
    script += "INSERT INTO pages SELECT seq, CONCAT('page ', seq) FROM seq_1_to_2000;"
    created = mariadb(db, script)
    assert created.returncode == 0, created.stderr
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    before, after = backup_under_writes(root, folder, Writer(db, mariadb))

    subprocess.run([*compose, "down", "-v", "-t", "0"], capture_output=True, check=True)
    up()
    assert mariadb(engine.containers.get(f"{project}-db-1"), "SELECT 1 FROM pages").returncode != 0

    done = run_darse("restore", folder, "--yes", cwd=root)
    assert done.exit_code == 0, done.stdout + (done.stderr or "")
    assert "load      db (mariadb)" in done.stdout and "restored " + folder in done.stdout
    check_rows(rows(engine.containers.get(f"{project}-db-1"), mariadb), before, after)


def test_a_failed_restore_names_the_safety_run_that_puts_the_data_back(deployed, engine) -> None:
    root, folder, store, project, _compose, _up = deployed
    db = engine.containers.get(f"{project}-db-1")
    assert (
        psql(db, "CREATE TABLE pages (id int PRIMARY KEY, body text); INSERT INTO pages VALUES (1, 'kept')").returncode
        == 0
    )
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    restic = Restic(f"{store}/restic", store / "restic-password")
    tags = {
        "darse.service": folder,
        "darse.run": "broken-run",
        "darse.items": "1",
        "darse.kind": "dump",
        "darse.item": "db",
    }
    bad = restic.backup_stream(lambda sink: sink.write(b"THIS IS NOT SQL;\n"), f"{project}.db.sql", tags)

    failed = run_darse("restore", folder, "--snapshot", bad.snapshot_id, "--yes", "--json", cwd=root)
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert not report["ok"] and "safety run" in report["error"] and "syntax error" in report["error"]
    safety_id = report["error"].rsplit("--snapshot ", 1)[1].rstrip(")")
    history = History(root.parent / "state")
    assert [(r.action, r.outcome) for r in history.backups(project)[:2]] == [(RESTORE, "failed"), (BACKUP, SUCCESS)]
    history.close()

    back = run_darse("restore", folder, "--snapshot", safety_id, "--yes", "--json", cwd=root)
    assert back.exit_code == 0, back.stdout
    assert rows(engine.containers.get(f"{project}-db-1")) == {1: "kept"}
