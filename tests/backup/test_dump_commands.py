"""The dump commands of the plan, run for real by `sh` against stand-in database tools (scripts that
record their arguments and environment): the user and password come from the container's environment,
the password never on a command line (`ps` shows those to every user of the host), failures exit
non-zero. The real databases run them in the tests of `darse backup` itself."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from darse.backup.dumps import dump_command, kind_of_image

PASSWORD = "pa'ss w\"ord-$HOME-1"  # quotes, a space and a dollar: the shell must pass it through untouched


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def run(kind: str, tools: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        dump_command(kind),
        env={"PATH": f"{tools}:/usr/bin:/bin", "HOME": "/nonexistent", **env},
        capture_output=True,
        timeout=30,
        check=False,
    )


RECORD = 'for a in "$@"; do printf "%s\\n" "$a"; done > "$RECORD_ARGS"; env > "$RECORD_ENV"; echo DUMP-OUTPUT\n'


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def recorded(tmp_path: Path) -> dict[str, str]:
    return {"RECORD_ARGS": str(tmp_path / "args"), "RECORD_ENV": str(tmp_path / "env")}


def args_and_env(tmp_path: Path) -> tuple[list[str], str]:
    return (tmp_path / "args").read_text().splitlines(), (tmp_path / "env").read_text()


def test_postgres_dumps_as_the_image_superuser(tmp_path: Path, tools: Path) -> None:
    stub(tools, "pg_dumpall", RECORD)
    done = run("postgres", tools, POSTGRES_USER="wikijs", POSTGRES_PASSWORD=PASSWORD, **recorded(tmp_path))
    assert (done.returncode, done.stdout) == (0, b"DUMP-OUTPUT\n")
    args, env = args_and_env(tmp_path)
    assert args == [] and "PGUSER=wikijs\n" in env and f"PGPASSWORD={PASSWORD}\n" in env


def test_postgres_without_a_user_is_postgres_and_a_user_file_is_read(tmp_path: Path, tools: Path) -> None:
    stub(tools, "pg_dumpall", RECORD)
    run("postgres", tools, **recorded(tmp_path))
    assert "PGUSER=postgres\n" in args_and_env(tmp_path)[1] and "PGPASSWORD" not in args_and_env(tmp_path)[1]
    (tmp_path / "user").write_text("fromfile")
    run("postgres", tools, POSTGRES_USER_FILE=str(tmp_path / "user"), **recorded(tmp_path))
    assert "PGUSER=fromfile\n" in args_and_env(tmp_path)[1]


def test_a_failing_dump_fails_the_command(tools: Path) -> None:
    stub(tools, "pg_dumpall", "echo partial; exit 3\n")
    assert run("postgres", tools).returncode == 3


@pytest.mark.parametrize(
    ("kind", "tool"), [("mariadb", "mariadb-dump"), ("mariadb", "mysqldump"), ("mysql", "mysqldump")]
)
def test_mariadb_and_mysql_take_the_root_password_from_the_environment(
    tmp_path: Path, tools: Path, kind: str, tool: str
) -> None:
    stub(tools, tool, RECORD)  # a MariaDB older than 10.5 has only mysqldump
    done = run(kind, tools, MARIADB_ROOT_PASSWORD=PASSWORD, MYSQL_ROOT_PASSWORD=PASSWORD, **recorded(tmp_path))
    assert done.returncode == 0, done.stderr
    args, env = args_and_env(tmp_path)
    assert args == ["--user=root", "--all-databases", "--single-transaction", "--routines", "--events", "--triggers"]
    assert f"MYSQL_PWD={PASSWORD}\n" in env


def test_mariadb_reads_a_password_file(tmp_path: Path, tools: Path) -> None:
    stub(tools, "mariadb-dump", RECORD)
    (tmp_path / "pw").write_text(PASSWORD)
    run("mariadb", tools, MARIADB_ROOT_PASSWORD_FILE=str(tmp_path / "pw"), **recorded(tmp_path))
    assert f"MYSQL_PWD={PASSWORD}\n" in args_and_env(tmp_path)[1]


MONGODUMP = """\
for a in "$@"; do printf "%s\\n" "$a"; done > "$RECORD_ARGS"
for arg in "$@"; do case "$arg" in --config=*) cp "${arg#--config=}" "$RECORD_CONFIG";
  ls -l "${arg#--config=}" > "$RECORD_MODE";; esac; done
echo ARCHIVE; exit "${MONGO_EXIT:-0}"
"""


def test_mongodb_passes_the_password_in_a_private_file_removed_afterwards(tmp_path: Path, tools: Path) -> None:
    stub(tools, "mongodump", MONGODUMP)
    env = {"RECORD_CONFIG": str(tmp_path / "config"), "RECORD_MODE": str(tmp_path / "mode"), **recorded(tmp_path)}
    done = run("mongodb", tools, MONGO_INITDB_ROOT_USERNAME="chat", MONGO_INITDB_ROOT_PASSWORD=PASSWORD, **env)
    assert (done.returncode, done.stdout) == (0, b"ARCHIVE\n")
    args = (tmp_path / "args").read_text()
    assert PASSWORD not in args and "--username=chat" in args and "--archive" in args
    assert (tmp_path / "config").read_text() == "password: '{}'\n".format(PASSWORD.replace("'", "''"))
    assert (tmp_path / "mode").read_text().startswith("-rw-------")
    config = next(a.removeprefix("--config=") for a in args.splitlines() if a.startswith("--config="))
    assert not os.path.exists(config)
    assert run("mongodb", tools, MONGO_INITDB_ROOT_USERNAME="chat", MONGO_EXIT="4", **env).returncode == 4


def test_mongodb_without_authentication(tmp_path: Path, tools: Path) -> None:
    stub(tools, "mongodump", MONGODUMP)
    assert run("mongodb", tools, **recorded(tmp_path)).returncode == 0
    assert (tmp_path / "args").read_text().splitlines() == ["--archive", "--quiet"]


# A stand-in redis-cli: LASTSAVE moves on once BGSAVE ran; INFO tells the save's status.
REDIS_CLI = """\
state="$STATE"
case "$1" in
  LASTSAVE) cat "$state/lastsave";;
  BGSAVE) echo 1700000001 > "$state/lastsave"; echo "Background saving started";;
  INFO) printf 'rdb_bgsave_in_progress:0\\r\\nrdb_last_bgsave_status:%s\\r\\n' "$SAVE_STATUS";;
  CONFIG) case "$3" in dir) printf 'dir\\n%s\\n' "$state";; dbfilename) printf 'dbfilename\\ndump.rdb\\n';; esac;;
esac
"""


def test_redis_saves_then_streams_the_rdb_file(tmp_path: Path, tools: Path) -> None:
    stub(tools, "redis-cli", REDIS_CLI)
    (tmp_path / "lastsave").write_text("1700000000\n")
    (tmp_path / "dump.rdb").write_bytes(b"REDIS0011\x00binary")
    done = run("redis", tools, STATE=str(tmp_path), SAVE_STATUS="ok")
    assert (done.returncode, done.stdout) == (0, b"REDIS0011\x00binary")


def test_a_failed_redis_save_streams_nothing(tmp_path: Path, tools: Path) -> None:
    stub(tools, "redis-cli", REDIS_CLI)
    (tmp_path / "lastsave").write_text("1700000000\n")
    (tmp_path / "dump.rdb").write_bytes(b"REDIS0011 old")
    done = run("redis", tools, STATE=str(tmp_path), SAVE_STATUS="err")
    assert done.returncode != 0 and done.stdout == b""


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("postgres:16.4-alpine", "postgres"),
        ("postgis/postgis:16-3.4", "postgres"),
        ("timescale/timescaledb:2.15.0-pg16", "postgres"),
        ("mariadb:11.4", "mariadb"),
        ("docker.io/library/mysql:8.4", "mysql"),
        ("percona/percona-server:8.0", "mysql"),
        ("redis:7.2-alpine", "redis"),
        ("valkey/valkey:8", "redis"),
        ("eqalpha/keydb:latest", "redis"),
        ("mongo:7.0", "mongodb"),
        ("requarks/wiki:2.5", ""),
        ("example/postgres-exporter:1", ""),
        ("", ""),
    ],
)
def test_kind_of_image(image: str, kind: str) -> None:
    assert kind_of_image(image) == kind
