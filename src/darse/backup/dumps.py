"""How each kind of database gives a consistent copy of itself, from inside its own container.

A dump runs in the database's container (`docker compose exec -T SERVICE ...`), so the client is the
server's own version (`pg_dump` refuses a newer server) and the credentials are the container's own
environment: darse never reads a password, it names variables the shell inside expands. Every command
writes the dump on standard output (it streams into restic) and exits non-zero when it fails.

`load_command` is the restore side: it reads such a dump on standard input inside a fresh container of
the same image (new volumes, the image's first start done), under the same rules.

The commands follow the environment variables of the official images (postgres, mariadb, mysql,
redis, mongo and the images built on them: postgis, timescaledb, percona, valkey, keydb).
"""

from __future__ import annotations

from dataclasses import dataclass

from darse.model.image import parse_image

# The last path component of an image → its kind (`postgis/postgis` → postgres).
_IMAGE_KINDS = {
    "postgres": "postgres",
    "postgis": "postgres",
    "timescaledb": "postgres",
    "timescaledb-ha": "postgres",
    "timescaledb-postgis": "postgres",
    "mariadb": "mariadb",
    "mysql": "mysql",
    "mysql-server": "mysql",
    "percona": "mysql",
    "percona-server": "mysql",
    "redis": "redis",
    "valkey": "redis",
    "keydb": "redis",
    "mongo": "mongodb",
    "mongodb-community-server": "mongodb",
    "mongodb-enterprise-server": "mongodb",
}


@dataclass(frozen=True)
class DumpKind:
    """What a kind of database dumps with, where its files live, and the name its dump takes in a snapshot."""

    kind: str
    tool: str  # shown in the plan
    data_dirs: tuple[str, ...]  # where the official image keeps its files (a volume there is dumped instead)
    suffix: str  # of the dump's file name in the snapshot: `db.sql`, `cache.rdb`, `mongo.archive`
    script: str  # run by `sh -c` inside the container; names variables, never holds a value
    user_keys: tuple[str, ...] = ()  # variables whose value is the user the dump connects as, first set wins
    default_user: str = ""


# PostgreSQL: the superuser of POSTGRES_USER (or its _FILE), else postgres, over the local socket;
# PGPASSWORD from POSTGRES_PASSWORD for images whose socket asks for one.
_POSTGRES_LOGIN = (
    'PGUSER="${POSTGRES_USER:-postgres}"; '
    '[ -z "${POSTGRES_USER_FILE:-}" ] || PGUSER="$(cat "$POSTGRES_USER_FILE")"; '
    "export PGUSER; "
    '[ -z "${POSTGRES_PASSWORD_FILE:-}" ] || POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"; '
    '[ -z "${POSTGRES_PASSWORD:-}" ] || export PGPASSWORD="$POSTGRES_PASSWORD"; '
)
_POSTGRES = _POSTGRES_LOGIN + "exec pg_dumpall"
# MariaDB and MySQL: root, whose password reaches the client through MYSQL_PWD (not its command line,
# which every user of the host sees in `ps`). One transaction: InnoDB tables are read as of one instant.
_MYSQL_PASSWORD = (
    'p="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"; '
    'f="${MARIADB_ROOT_PASSWORD_FILE:-${MYSQL_ROOT_PASSWORD_FILE:-}}"; '
    '[ -z "$f" ] || p="$(cat "$f")"; '
    '[ -z "$p" ] || export MYSQL_PWD="$p"; '
)
_DUMP_OPTIONS = "--user=root --all-databases --single-transaction --routines --events --triggers"
_MARIADB = (
    _MYSQL_PASSWORD + "d=mariadb-dump; command -v $d >/dev/null 2>&1 || d=mysqldump; "  # mysqldump before 10.5
    f"exec $d {_DUMP_OPTIONS}"
)
_MYSQL = _MYSQL_PASSWORD + f"exec mysqldump {_DUMP_OPTIONS}"
# Redis (and Valkey, KeyDB): BGSAVE writes a point-in-time RDB file beside the data; wait until it is
# done (at most an hour), check that it succeeded, then stream that file. REDIS_PASSWORD, when set,
# reaches redis-cli through REDISCLI_AUTH. Every LASTSAVE answer must be a number: redis-cli prints
# an error reply (a refused password, a server gone) like any other, and the wait would never end.
_REDIS = (
    "set -e; "
    '[ -z "${REDIS_PASSWORD:-}" ] || export REDISCLI_AUTH="$REDIS_PASSWORD"; '
    "c=redis-cli; command -v $c >/dev/null 2>&1 || c=valkey-cli; command -v $c >/dev/null 2>&1 || c=keydb-cli; "
    'last() { r="$($c LASTSAVE)"; case "$r" in ""|*[!0-9]*) echo "LASTSAVE failed: $r" >&2; return 1;; esac; '
    'echo "$r"; }; '
    'before="$(last)"; $c BGSAVE >/dev/null; n=0; '
    'while :; do now="$(last)"; '
    'if [ "$now" != "$before" ] && ! $c INFO persistence | grep -q "rdb_bgsave_in_progress:1"; then break; fi; '
    'n=$((n+1)); [ "$n" -le 3600 ] || exit 1; sleep 1; done; '
    '$c INFO persistence | grep -q "rdb_last_bgsave_status:ok"; '
    'dir="$($c CONFIG GET dir | sed -n 2p)"; file="$($c CONFIG GET dbfilename | sed -n 2p)"; '
    'exec cat -- "${dir:-/data}/${file:-dump.rdb}"'
)


# MongoDB: one archive of every database. The root password goes through a config file readable by
# the container's user only (never on the command line), removed once the tool exits.
def _mongo(tool: str) -> str:
    return (
        'u="${MONGO_INITDB_ROOT_USERNAME:-}"; p="${MONGO_INITDB_ROOT_PASSWORD:-}"; '
        '[ -z "${MONGO_INITDB_ROOT_USERNAME_FILE:-}" ] || u="$(cat "$MONGO_INITDB_ROOT_USERNAME_FILE")"; '
        '[ -z "${MONGO_INITDB_ROOT_PASSWORD_FILE:-}" ] || p="$(cat "$MONGO_INITDB_ROOT_PASSWORD_FILE")"; '
        f'if [ -z "$u" ]; then exec {tool}; fi; '
        'umask 077; t="$(mktemp)"; '
        'printf "password: \'%s\'\\n" "$(printf %s "$p" | sed "s/\'/\'\'/g")" > "$t"; '
        f'{tool} --config="$t" --username="$u" --authenticationDatabase=admin; s=$?; '
        'rm -f -- "$t"; exit $s'
    )


_MONGODB = _mongo("mongodump --archive --quiet")

# --- The restore side: each kind's dump read back from standard input, in a container of the same
# image whose data is fresh (a new volume: the image's first start has made its users and database).
# Same rules as the dumps: the password comes from the container's environment, never a command line,
# and a failed load exits non-zero.

# PostgreSQL: psql runs pg_dumpall's script. On a fresh cluster the script's `CREATE ROLE` of the role
# psql connects as and its `CREATE DATABASE` of POSTGRES_DB fail with "already exists" (pg_dumpall
# writes them so by design, its ALTER ROLE then sets the role as it was): those two errors are
# expected; any other error (a table that already exists: the cluster was not fresh) fails the load.
_POSTGRES_LOAD = (
    _POSTGRES_LOGIN
    + 'db="${POSTGRES_DB:-$PGUSER}"; [ -z "${POSTGRES_DB_FILE:-}" ] || db="$(cat "$POSTGRES_DB_FILE")"; '
    'export PGOPTIONS="-c lc_messages=C"; '  # the server's errors in English, for the check below
    'e="$(mktemp)"; LC_ALL=C psql -X -q -v ON_ERROR_STOP=0 --dbname=postgres -f - >/dev/null 2>"$e"; s=$?; '
    'cat -- "$e" >&2; '
    'if [ "$s" -eq 0 ] && grep -E ": (ERROR|FATAL|PANIC|error|fatal): " -- "$e" '
    '| grep -v -F -e "ERROR:  role \\"$PGUSER\\" already exists" -e "ERROR:  database \\"$db\\" already exists" '
    ">/dev/null; then s=1; fi; "
    'rm -f -- "$e"; exit $s'
)
# MariaDB and MySQL: the client as root stops at the first error. The dump holds the `mysql` schema
# (users and grants): FLUSH PRIVILEGES makes them the server's at once.
_MYSQL_LOAD_OPTIONS = "--user=root --binary-mode"
_MARIADB_LOAD = (
    _MYSQL_PASSWORD + "c=mariadb; command -v $c >/dev/null 2>&1 || c=mysql; "
    f"{{ cat; printf '\\nFLUSH PRIVILEGES;\\n'; }} | $c {_MYSQL_LOAD_OPTIONS}"
)
_MYSQL_LOAD = _MYSQL_PASSWORD + f"{{ cat; printf '\\nFLUSH PRIVILEGES;\\n'; }} | mysql {_MYSQL_LOAD_OPTIONS}"
# Redis: a running server cannot take an RDB file in. The file replaces the one the server loads at
# start, and save points are switched off so that stopping it does not overwrite the file with what it
# holds now: the container must be restarted (`docker restart`) for the data to be the dump's. Refused
# when append-only is on (the server would load its AOF instead).
_REDIS_LOAD = (
    "set -e; "
    '[ -z "${REDIS_PASSWORD:-}" ] || export REDISCLI_AUTH="$REDIS_PASSWORD"; '
    "c=redis-cli; command -v $c >/dev/null 2>&1 || c=valkey-cli; command -v $c >/dev/null 2>&1 || c=keydb-cli; "
    'if [ "$($c CONFIG GET appendonly | sed -n 2p)" != no ]; then '
    'echo "appendonly is on: the server would load its AOF, not the RDB file" >&2; exit 1; fi; '
    'dir="$($c CONFIG GET dir | sed -n 2p)"; file="$($c CONFIG GET dbfilename | sed -n 2p)"; '
    'path="${dir:-/data}/${file:-dump.rdb}"; '
    'cat > "$path.restoring"; [ -s "$path.restoring" ]; mv -f -- "$path.restoring" "$path"; '
    '$c CONFIG SET save "" >/dev/null'
)
_LOADS = {
    "postgres": _POSTGRES_LOAD,
    "mariadb": _MARIADB_LOAD,
    "mysql": _MYSQL_LOAD,
    "redis": _REDIS_LOAD,
    "mongodb": _mongo("mongorestore --archive --drop --quiet"),  # not tried against a real MongoDB
}

KINDS: dict[str, DumpKind] = {
    "postgres": DumpKind(
        "postgres",
        "pg_dumpall",
        ("/var/lib/postgresql/data", "/var/lib/postgresql"),
        "sql",
        _POSTGRES,
        ("POSTGRES_USER",),
        "postgres",
    ),
    "mariadb": DumpKind(
        "mariadb", "mariadb-dump --all-databases --single-transaction", ("/var/lib/mysql",), "sql", _MARIADB, (), "root"
    ),
    "mysql": DumpKind(
        "mysql", "mysqldump --all-databases --single-transaction", ("/var/lib/mysql",), "sql", _MYSQL, (), "root"
    ),
    "redis": DumpKind("redis", "BGSAVE, then the RDB file", ("/data",), "rdb", _REDIS),
    "mongodb": DumpKind(
        "mongodb",
        "mongodump --archive",
        ("/data/db", "/data/configdb"),
        "archive",
        _MONGODB,
        ("MONGO_INITDB_ROOT_USERNAME",),
    ),
}


def kind_of_image(image: str) -> str:
    """The kind of database an image runs ("" when darse does not recognise it)."""
    return _IMAGE_KINDS.get(parse_image(image).name, "") if image else ""


def dump_command(kind: str) -> tuple[str, ...]:
    """The argument list run inside the database's container; it writes the dump on standard output."""
    return ("sh", "-c", KINDS[kind].script)


def load_command(kind: str) -> tuple[str, ...]:
    """The argument list run inside a fresh container of the database's image: it reads a dump of
    `dump_command` on standard input and loads it (redis: then restart the container)."""
    return ("sh", "-c", _LOADS[kind])


def data_dirs(kind: str, environment: dict[str, str]) -> tuple[str, ...]:
    """Where the database keeps its files: the image's default places, and PGDATA when it is set."""
    extra = (environment["PGDATA"],) if kind == "postgres" and environment.get("PGDATA") else ()
    return (*extra, *KINDS[kind].data_dirs)


def holds_data_of(target: str, dirs: tuple[str, ...]) -> bool:
    """A mount at `target` holds the database's files: it is a data folder, above one, or inside one."""
    if not target.startswith("/"):
        return False  # no target, or one Compose refuses anyway
    target = target.rstrip("/") or "/"
    return any(target == d or d.startswith(target.rstrip("/") + "/") or target.startswith(d + "/") for d in dirs)
