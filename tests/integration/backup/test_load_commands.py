"""The restore side of the dumps (`load_command`) for the kinds with no real server here: MongoDB has
no Debian package, so stand-in tools (scripts that record their arguments, environment and standard
input) check darse's side, as tests/backup/test_dump_commands.py does for the dumps. PostgreSQL,
MariaDB and Redis load into real servers in test_dumps_real.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from darse.backup.dumps import load_command

PASSWORD = "pa'ss w\"ord-$HOME-1"

# records its arguments, its environment, the config file it is given and its standard input
TOOL = """\
for a in "$@"; do printf "%s\\n" "$a"; done > "$STATE/args"
env > "$STATE/env"
for arg in "$@"; do case "$arg" in --config=*) cp "${arg#--config=}" "$STATE/config";
  ls -l "${arg#--config=}" > "$STATE/mode";; esac; done
cat > "$STATE/stdin"; exit "${TOOL_EXIT:-0}"
"""


def run(kind: str, tool: str, state: Path, data: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    tools = state / "bin"
    tools.mkdir(exist_ok=True)
    (tools / tool).write_text("#!/bin/sh\n" + TOOL)
    (tools / tool).chmod(0o755)
    return subprocess.run(
        load_command(kind),
        input=data,
        env={"PATH": f"{tools}:/usr/bin:/bin", "HOME": "/nonexistent", "STATE": str(state), **env},
        capture_output=True,
        timeout=30,
        check=False,
    )


def test_mongodb_restores_with_the_password_in_a_private_file_removed_afterwards(tmp_path: Path) -> None:
    env = {"MONGO_INITDB_ROOT_USERNAME": "chat", "MONGO_INITDB_ROOT_PASSWORD": PASSWORD}
    done = run("mongodb", "mongorestore", tmp_path, b"ARCHIVE\x00bytes", **env)
    assert done.returncode == 0, done.stderr
    args = (tmp_path / "args").read_text()
    assert PASSWORD not in args and "--username=chat" in args and "--archive" in args and "--drop" in args
    assert (tmp_path / "stdin").read_bytes() == b"ARCHIVE\x00bytes"
    assert (tmp_path / "config").read_text() == "password: '{}'\n".format(PASSWORD.replace("'", "''"))
    assert (tmp_path / "mode").read_text().startswith("-rw-------")
    config = next(a.removeprefix("--config=") for a in args.splitlines() if a.startswith("--config="))
    assert not os.path.exists(config)
    assert run("mongodb", "mongorestore", tmp_path, b"x", TOOL_EXIT="3", **env).returncode == 3


def test_mongodb_restores_without_authentication(tmp_path: Path) -> None:
    assert run("mongodb", "mongorestore", tmp_path, b"ARCHIVE").returncode == 0
    assert (tmp_path / "args").read_text().splitlines() == ["--archive", "--drop", "--quiet"]


def test_mysql_loads_as_root_with_the_password_in_the_environment(tmp_path: Path) -> None:
    done = run("mysql", "mysql", tmp_path, b"CREATE TABLE t (id int);\n", MYSQL_ROOT_PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "args").read_text().splitlines() == ["--user=root", "--binary-mode"]
    assert f"MYSQL_PWD={PASSWORD}\n" in (tmp_path / "env").read_text()
    assert (tmp_path / "stdin").read_bytes() == b"CREATE TABLE t (id int);\n\nFLUSH PRIVILEGES;\n"
    assert run("mysql", "mysql", tmp_path, b"x", TOOL_EXIT="1").returncode == 1
