"""darse's dump commands (darse.backup.dumps) against real databases: Debian's PostgreSQL 15, MariaDB
10.11 and Redis 7 in images configured like the official ones (tests/helpers/databases.py).

Each dump runs as darse runs it, `sh -c SCRIPT` inside the database's own container with nothing but
the container's environment, and writes the dump on standard output; `load_command` reads it back
into a FRESH container of the same image, and the rows must be the same (a checksum of an ordered
query, computed by the database, against the one computed here from what was written). The
password holds quotes, a space and a dollar: the shells on the way must pass it untouched.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import time
from collections.abc import Callable, Iterator

import docker
import pytest
from docker.models.containers import Container

from darse.backup.dumps import dump_command, load_command

from helpers.databases import exec_sh, mariadb_image, postgres_image, redis_image, running, wait_healthy

PASSWORD = "pa'ss w\"ord $HOME-`1`"
ROWS = 3000
PIECES = ["plain", "l'apostrophe", 'a "quote"', "back\\slash", "tab\there", "new\nline", "\\.", "été", "日本語",
          "🐘", "$HOME", "%s", ";", "--", "NULL", " ", ""]  # fmt: skip


def rows() -> list[tuple[int, str | None]]:
    """ROWS rows of varied text (quotes, backslashes, control characters, non-ASCII, a COPY end
    marker), one of them NULL; the same on every run."""
    pick = random.Random(16)
    return [(i, None if i == 7 else "".join(pick.choices(PIECES, k=pick.randint(0, 12)))) for i in range(1, ROWS + 1)]


def expected_checksum() -> str:
    text = "\n".join(f"{i}:{'<null>' if body is None else body}" for i, body in rows())
    return f"{ROWS} {hashlib.md5(text.encode()).hexdigest()}"


def dump(container: Container, kind: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return exec_sh(container, dump_command(kind), **env)


def load(container: Container, kind: str, data: bytes) -> None:
    done = exec_sh(container, load_command(kind), stdin=data)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]


LIST_PROCESSES = ["sh", "-c", 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done']


def caught_running(
    container: Container, kind: str, marker: str, release: Callable[[], object]
) -> tuple[str, subprocess.CompletedProcess[bytes]]:
    """The command lines of every process in the container while a dump of `kind` runs, held up by a
    lock that `release()` lets go once `marker` shows among them; then the finished dump."""
    proc = subprocess.Popen(
        ["docker", "exec", container.name, *dump_command(kind)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    listing = ""
    try:
        for _ in range(300):
            listing = container.exec_run(LIST_PROCESSES)[1].decode(errors="replace")
            if marker in listing:
                break
            time.sleep(0.1)
    finally:
        release()
        out, err = proc.communicate(timeout=120)
    assert marker in listing, f"the dump was never seen running:\n{listing}"
    return listing, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- PostgreSQL ------------------------------------------------------------------------------------

PG_ENV = {"POSTGRES_USER": "wiki user", "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "wiki"}
PSQL = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" wiki'


def pg_sql(body: str | None) -> str:
    return "NULL" if body is None else "'" + body.replace("'", "''") + "'"


def pg_write(container: Container) -> None:
    script = (
        "BEGIN;\nCREATE TABLE pages (id integer PRIMARY KEY, body text);\n"
        + "".join(f"INSERT INTO pages VALUES ({i}, {pg_sql(body)});\n" for i, body in rows())
        + "COMMIT;\n"
    )
    pg_query(container, script)


def pg_query(container: Container, query: str) -> str:
    done = exec_sh(container, ["sh", "-c", PSQL + " -At"], stdin=query.encode())
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode().strip()


def pg_checksum(container: Container) -> str:
    query = (
        "SELECT count(*) || ' ' || md5(string_agg(id || ':' || coalesce(body, '<null>'), E'\\n' ORDER BY id)) "
        "FROM pages"
    )
    return pg_query(container, query)


@pytest.fixture(scope="module")
def pg_image() -> str:
    return postgres_image()


def test_postgres_dump_loads_into_a_fresh_container(engine: docker.DockerClient, pg_image: str) -> None:
    with running(engine, pg_image, PG_ENV) as source:
        pg_write(source)
        assert pg_checksum(source) == expected_checksum()
        done = dump(source, "postgres")
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert b"CREATE TABLE public.pages" in done.stdout and PASSWORD.encode() not in done.stdout
        # the source is not fresh: its table is there already, and loading again must fail
        again = exec_sh(source, load_command("postgres"), stdin=done.stdout)
        assert again.returncode != 0 and b'relation "pages" already exists' in again.stderr
    with running(engine, pg_image, PG_ENV) as target:
        load(target, "postgres", done.stdout)
        assert pg_checksum(target) == expected_checksum()
        # the role keeps its password: a TCP login (password authentication) with it works
        code, out = target.exec_run(
            [
                "sh",
                "-c",
                'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -h 127.0.0.1 -U "$POSTGRES_USER" wiki -c "SELECT 1"',
            ]
        )
        assert (code, out.strip()) == (0, b"1")


@pytest.fixture(scope="module")
def pg_scram(engine: docker.DockerClient, pg_image: str) -> Iterator[Container]:
    """A PostgreSQL whose local socket asks for the password too (initdb's --auth-local), as some set-ups
    do; one for the two tests below (one database start, not two): either order holds, as only the
    second writes, and what the first asserts holds with or without its table."""
    with running(engine, pg_image, {**PG_ENV, "POSTGRES_INITDB_ARGS": "--auth-local=scram-sha-256"}) as source:
        yield source


def test_postgres_dump_with_a_wrong_password_fails(pg_scram: Container) -> None:
    source = pg_scram
    good = dump(source, "postgres")
    assert good.returncode == 0, good.stderr.decode(errors="replace")
    assert b"CREATE ROLE" in good.stdout
    bad = dump(source, "postgres", POSTGRES_PASSWORD="not the password")
    assert bad.returncode != 0
    assert b"password authentication failed" in bad.stderr


def test_postgres_password_is_on_no_command_line_during_a_dump(pg_scram: Container) -> None:
    source = pg_scram
    pg_write(source)
    # a transaction holding the table makes pg_dump wait for it: the dump is caught running
    locker = "BEGIN; LOCK TABLE pages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);"
    source.exec_run(["sh", "-c", f'{PSQL} -c "{locker}"'], detach=True)
    held = "SELECT count(*) FROM pg_locks WHERE relation = 'pages'::regclass AND mode = 'AccessExclusiveLock'"
    wait_for(lambda: pg_query(source, held) == "1")  # taken before the dump starts

    def release() -> None:
        pg_query(
            source,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
        )

    listing, done = caught_running(source, "postgres", "pg_dump ", release)
    assert "pg_dumpall" in listing and PASSWORD not in listing
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"COPY public.pages" in done.stdout


# --- MariaDB ---------------------------------------------------------------------------------------

MARIADB_ENV = {
    "MARIADB_ROOT_PASSWORD": PASSWORD,
    "MARIADB_DATABASE": "wiki",
    "MARIADB_USER": "wiki",
    "MARIADB_PASSWORD": PASSWORD,
}
AS_ROOT = 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb --user=root --default-character-set=utf8mb4 --binary-mode wiki'


def my_sql(body: str | None) -> str:
    return "NULL" if body is None else "'" + body.replace("\\", "\\\\").replace("'", "\\'") + "'"


def my_write(container: Container) -> None:
    script = "CREATE TABLE pages (id integer PRIMARY KEY, body text) DEFAULT CHARSET=utf8mb4;\n" + "".join(
        f"INSERT INTO pages VALUES ({i}, {my_sql(body)});\n" for i, body in rows()
    )
    done = exec_sh(container, ["sh", "-c", AS_ROOT], stdin=("BEGIN;\n" + script + "COMMIT;\n").encode())
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def my_checksum(container: Container) -> str:
    query = (
        "SET SESSION group_concat_max_len = 1073741824; "
        "SELECT CONCAT(COUNT(*), ' ', MD5(GROUP_CONCAT(CONCAT(id, ':', COALESCE(body, '<null>')) "
        "ORDER BY id SEPARATOR '\\n'))) FROM pages;"
    )
    done = exec_sh(container, ["sh", "-c", AS_ROOT + " --batch --skip-column-names"], stdin=query.encode())
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode().strip()


@pytest.fixture(scope="module")
def my_image() -> str:
    return mariadb_image()


def test_mariadb_dump_loads_into_a_fresh_container(engine: docker.DockerClient, my_image: str) -> None:
    with running(engine, my_image, MARIADB_ENV) as source:
        my_write(source)
        assert my_checksum(source) == expected_checksum()
        done = dump(source, "mariadb")
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert b"CREATE TABLE `pages`" in done.stdout and PASSWORD.encode() not in done.stdout
    with running(engine, my_image, MARIADB_ENV) as target:
        load(target, "mariadb", done.stdout)
        assert my_checksum(target) == expected_checksum()
        # the users came back with their passwords: the application's user logs in over TCP
        login = 'MYSQL_PWD="$MARIADB_PASSWORD" mariadb --protocol=tcp --host=127.0.0.1 --user=wiki wiki'
        check = exec_sh(
            target, ["sh", "-c", login + " --batch --skip-column-names"], stdin=b"SELECT COUNT(*) FROM pages;"
        )
        assert (check.returncode, check.stdout.strip()) == (0, str(ROWS).encode()), check.stderr


@pytest.fixture(scope="module")
def my_source(engine: docker.DockerClient, my_image: str) -> Iterator[Container]:
    """A MariaDB for the two tests below (one database start, not two): either order holds, as only the
    second writes, and what the first asserts holds with or without its table."""
    with running(engine, my_image, MARIADB_ENV) as source:
        yield source


def test_mariadb_dump_with_a_wrong_password_fails(my_source: Container) -> None:
    source = my_source
    bad = dump(source, "mariadb", MARIADB_ROOT_PASSWORD="not the password")
    assert bad.returncode != 0
    assert b"Access denied for user 'root'@'localhost'" in bad.stderr
    # the MYSQL_* names of the official image work the same
    aliased = dump(source, "mariadb", MARIADB_ROOT_PASSWORD="", MYSQL_ROOT_PASSWORD=PASSWORD)
    assert aliased.returncode == 0, aliased.stderr.decode(errors="replace")
    assert b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `wiki`" in aliased.stdout


def test_mariadb_password_is_on_no_command_line_during_a_dump(my_source: Container) -> None:
    source = my_source
    my_write(source)
    # a session holding the table for writing makes the dump wait for it: the dump is caught running
    source.exec_run(["sh", "-c", f'{AS_ROOT} -e "LOCK TABLES pages WRITE; SELECT SLEEP(60);"'], detach=True)
    wait_for(lambda: "SELECT SLEEP(60)" in my_processlist(source))

    def release() -> None:
        ids = [line.split("\t")[0] for line in my_processlist(source).splitlines() if "SLEEP(60)" in line]
        exec_sh(source, ["sh", "-c", AS_ROOT], stdin="".join(f"KILL {i};" for i in ids).encode())

    listing, done = caught_running(source, "mariadb", "mariadb-dump ", release)
    assert "--all-databases" in listing and PASSWORD not in listing
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"INSERT INTO `pages`" in done.stdout


def my_processlist(container: Container) -> str:
    query = b"SELECT id, info FROM information_schema.processlist WHERE info IS NOT NULL;"
    return exec_sh(container, ["sh", "-c", AS_ROOT + " --batch --skip-column-names"], stdin=query).stdout.decode()


def wait_for(condition: Callable[[], bool], tries: int = 300) -> None:
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("never happened")


# --- Redis -----------------------------------------------------------------------------------------

REDIS_ENV = {"REDIS_PASSWORD": PASSWORD}
REDIS_CLI = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli'
# SHA-1 of every key=value, keys in byte order (the server's collation is C: the image sets no locale)
REDIS_DIGEST = (
    "local ks = redis.call('KEYS', '*'); table.sort(ks); local parts = {}; "
    "for _, k in ipairs(ks) do parts[#parts + 1] = k .. '=' .. redis.call('GET', k) end; "
    "return #ks .. ' ' .. redis.sha1hex(table.concat(parts, '\\n'))"
)


def redis_items() -> list[tuple[str, str]]:
    return [(f"page:{i:05d}", body) for i, body in rows() if body is not None]


def resp(*words: str) -> bytes:
    """One command in the protocol redis-cli --pipe sends as it is."""
    encoded = [word.encode() for word in words]
    return f"*{len(encoded)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)


def redis_write(container: Container) -> None:
    stream = b"".join(resp("SET", key, value) for key, value in redis_items())
    done = exec_sh(container, ["sh", "-c", REDIS_CLI + " --pipe"], stdin=stream)
    assert done.returncode == 0 and b"errors: 0" in done.stdout, done.stdout + done.stderr


def redis_checksum(container: Container) -> str:
    done = exec_sh(container, ["sh", "-c", f'{REDIS_CLI} EVAL "{REDIS_DIGEST}" 0'])
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.decode().strip()


def redis_expected() -> str:
    text = "\n".join(f"{key}={value}" for key, value in redis_items())
    return f"{len(redis_items())} {hashlib.sha1(text.encode()).hexdigest()}"


def test_redis_dump_loads_into_a_fresh_container(engine: docker.DockerClient) -> None:
    image = redis_image()
    with running(engine, image, REDIS_ENV) as source:
        redis_write(source)
        assert redis_checksum(source) == redis_expected()
        done = dump(source, "redis")
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert done.stdout.startswith(b"REDIS")  # an RDB file
    with running(engine, image, REDIS_ENV) as target:
        redis_write_one = exec_sh(target, ["sh", "-c", REDIS_CLI + " SET only-in-target x"])
        assert redis_write_one.returncode == 0
        load(target, "redis", done.stdout)
        target.restart(timeout=30)  # the server loads the file at start: stopping it did not overwrite it
        wait_healthy(target)
        wait_for(lambda: exec_sh(target, ["sh", "-c", REDIS_CLI + " PING"]).stdout.strip() == b"PONG")
        assert redis_checksum(target) == redis_expected()


def test_redis_dump_with_a_wrong_password_fails(engine: docker.DockerClient) -> None:
    with running(engine, redis_image(), REDIS_ENV) as source:
        bad = dump(source, "redis", REDIS_PASSWORD="not the password")
        assert bad.returncode != 0 and bad.stdout == b""
        assert b"LASTSAVE failed" in bad.stderr  # at once, not after an hour of waiting for a save
