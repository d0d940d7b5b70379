"""Real database images for the backup tests: Debian's PostgreSQL 15, MariaDB 10.11 and Redis 7.

Nothing can be pulled from Docker Hub here, so the official `postgres`, `mariadb` and `redis` images
are stood in for by Debian's packages on the Debian base (tests/helpers/debian.py), each with a small
entrypoint that reads the same environment variables as the official image: darse's dump commands
(darse.backup.dumps) rely on them, so the images must honour them the same way. Each image is built
once per machine and reused by tag; a label holds the hash of its build context, so a changed
Dockerfile or entrypoint builds it again. A file lock keeps parallel runs from building one twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
from docker.models.containers import Container

from helpers.debian import debian_base

POSTGRES_IMAGE = "darse-test/postgres:15"
MARIADB_IMAGE = "darse-test/mariadb:10.11"
REDIS_IMAGE = "darse-test/redis:7"
BUILD_TIMEOUT = 900  # seconds: Debian's packages from a busy mirror
CONTEXT_LABEL = "darse-test.context"
HEALTHY_TIMEOUT = 120  # seconds: a first start initialises the database (a few seconds when idle)

# Services must not start while dpkg installs them (a build has no init): policy-rc.d says so.
_NO_SERVICES = "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d"
_APT = "apt-get install -y -qq --no-install-recommends"
_CLEAN = "rm -f /usr/sbin/policy-rc.d && apt-get clean && rm -rf /var/lib/apt/lists/*"

# --- PostgreSQL ------------------------------------------------------------------------------------
# As the official image: POSTGRES_USER (default postgres) is the superuser initdb makes, with
# POSTGRES_PASSWORD; POSTGRES_DB (default: the user's name) is created; PGDATA is where the cluster
# lives; POSTGRES_INITDB_ARGS and POSTGRES_HOST_AUTH_METHOD (default scram-sha-256 for TCP) as there;
# the local socket trusts its users unless POSTGRES_INITDB_ARGS says otherwise (initdb's default).
_POSTGRES_DOCKERFILE = f"""\
FROM {{base}}
RUN {_NO_SERVICES} && apt-get update -qq \\
 && {_APT} postgresql-common \\
 && sed -ri 's/#(create_main_cluster) .*$/\\1 = false/' /etc/postgresql-common/createcluster.conf \\
 && {_APT} postgresql-15 \\
 && {_CLEAN} \\
 && mkdir -p /var/run/postgresql && chown postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["postgres", "-c", "listen_addresses=*"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=1s --timeout=5s --retries=120 \\
  CMD pg_isready -q -h 127.0.0.1 -d postgres -U "${{POSTGRES_USER:-postgres}}"
"""

_POSTGRES_ENTRYPOINT = r"""#!/bin/bash
# Initialises the cluster on first start as the official postgres image does, then runs the server.
set -euo pipefail
for var in POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB; do
  file="${var}_FILE"
  if [ -n "${!file:-}" ]; then export "$var"="$(< "${!file}")"; fi
done
export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "error: POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  # the password goes through a pipe, never a command line
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "${POSTGRES_PASSWORD:-}")' \
    "${POSTGRES_INITDB_ARGS:-}"
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  # a server on the socket only, so that nothing connects (and no healthcheck passes) before it is ready
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start
  export PGPASSWORD="${PGPASSWORD:-${POSTGRES_PASSWORD:-}}"
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -X -q -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --no-password --dbname=postgres \
      --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db";'
  fi
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec "$@"
"""

# --- MariaDB ---------------------------------------------------------------------------------------
# As the official image: root has MARIADB_ROOT_PASSWORD (password authentication only, on localhost
# and MARIADB_ROOT_HOST, default %); MARIADB_DATABASE is created and MARIADB_USER/MARIADB_PASSWORD
# get all of it; MYSQL_* are aliases, and *_FILE variants read a file.
_MARIADB_DOCKERFILE = f"""\
FROM {{base}}
RUN {_NO_SERVICES} && apt-get update -qq \\
 && {_APT} mariadb-server mariadb-client \\
 && {_CLEAN} \\
 && rm -rf /var/lib/mysql && mkdir -p /var/lib/mysql /run/mysqld \\
 && chown mysql:mysql /var/lib/mysql /run/mysqld && chmod 1777 /run/mysqld
ENV LANG=C.UTF-8
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["mariadbd", "--bind-address=0.0.0.0"]
HEALTHCHECK --interval=1s --timeout=5s --retries=120 \\
  CMD MYSQL_PWD="${{MARIADB_ROOT_PASSWORD:-${{MYSQL_ROOT_PASSWORD:-}}}}" \\
    mariadb-admin --protocol=tcp --host=127.0.0.1 --user=root --connect-timeout=2 ping
"""

_MARIADB_ENTRYPOINT = r"""#!/bin/bash
# Initialises the data directory on first start as the official mariadb image does, then runs the server.
set -euo pipefail
for name in ROOT_PASSWORD ROOT_HOST DATABASE USER PASSWORD ALLOW_EMPTY_ROOT_PASSWORD; do
  m="MARIADB_$name"; y="MYSQL_$name"; mf="${m}_FILE"; yf="${y}_FILE"
  if [ -n "${!mf:-}" ]; then value="$(< "${!mf}")"
  elif [ -n "${!yf:-}" ]; then value="$(< "${!yf}")"
  else value="${!m:-${!y:-}}"; fi
  export "$m"="$value"
done
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

if [ "$(id -u)" = 0 ]; then
  find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

literal() { local s="${1//\\/\\\\}"; printf "'%s'" "${s//\'/\\\'}"; }  # an SQL string literal
ident() { printf '`%s`' "${1//\`/\`\`}"; }                             # an SQL identifier

if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ]; then
    echo "error: MARIADB_ROOT_PASSWORD is not set (or set MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)" >&2
    exit 1
  fi
  mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal --skip-test-db \
    --skip-log-bin --rpm >/dev/null
  # a server on the socket only, so that nothing connects (and no healthcheck passes) before it is ready
  mariadbd --datadir="$DATADIR" --skip-networking --socket="$SOCKET" --skip-log-bin &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket="$SOCKET" --user=root ping >/dev/null 2>&1 && break; sleep 0.5; done
  root="$(literal "$MARIADB_ROOT_PASSWORD")"
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
    echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');"
    echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($root);"
    host="${MARIADB_ROOT_HOST:-%}"
    if [ "$host" != localhost ]; then
      echo "CREATE USER 'root'@$(literal "$host") IDENTIFIED BY $root;"
      echo "GRANT ALL ON *.* TO 'root'@$(literal "$host") WITH GRANT OPTION;"
    fi
    if [ -n "$MARIADB_DATABASE" ]; then echo "CREATE DATABASE IF NOT EXISTS $(ident "$MARIADB_DATABASE");"; fi
    if [ -n "$MARIADB_USER" ]; then
      echo "CREATE USER $(literal "$MARIADB_USER")@'%' IDENTIFIED BY $(literal "$MARIADB_PASSWORD");"
      if [ -n "$MARIADB_DATABASE" ]; then
        echo "GRANT ALL ON $(ident "$MARIADB_DATABASE").* TO $(literal "$MARIADB_USER")@'%';"
      fi
    fi
  } | mariadb --socket="$SOCKET" --user=root --binary-mode  # SQL on standard input: no secret in `ps`
  kill "$pid"
  wait "$pid" || true
fi
exec "$@"
"""

# --- Redis -----------------------------------------------------------------------------------------
# As the official image: the server runs in /data, where its RDB file goes. REDIS_PASSWORD, when set,
# becomes `requirepass` through a config file readable by the redis user only (not the command line).
_REDIS_DOCKERFILE = f"""\
FROM {{base}}
RUN {_NO_SERVICES} && apt-get update -qq \\
 && {_APT} redis-server redis-tools \\
 && {_CLEAN} \\
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["redis-server"]
HEALTHCHECK --interval=1s --timeout=5s --retries=120 \\
  CMD REDISCLI_AUTH="${{REDIS_PASSWORD:-}}" redis-cli ping | grep -q PONG
"""

_REDIS_ENTRYPOINT = r"""#!/bin/bash
# Runs redis-server in /data as the redis user; REDIS_PASSWORD (when set) through a private config file.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
  find /data \! -user redis -exec chown redis:redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "${1:-}" = redis-server ]; then
  shift
  conf=/tmp/redis.conf
  ( umask 077; printf 'bind 0.0.0.0\nprotected-mode no\ndir /data\n' > "$conf" )
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    p="${REDIS_PASSWORD//\\/\\\\}"; printf 'requirepass "%s"\n' "${p//\"/\\\"}" >> "$conf"
  fi
  set -- redis-server "$conf" "$@"
fi
exec "$@"
"""


def _label_of(tag: str) -> str | None:
    """The context hash the image `tag` was built from (None: no such image)."""
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{ index .Config.Labels "{CONTEXT_LABEL}" }}}}', tag],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _image(tag: str, dockerfile: str, entrypoint: str) -> str:
    """`tag`, built from `dockerfile` (on the Debian base) and `entrypoint` unless it already is."""
    base = debian_base()
    digest = hashlib.sha256(f"{base}\n{dockerfile}\n{entrypoint}".encode()).hexdigest()[:16]
    if _label_of(tag) == digest:
        return tag
    lock_path = Path(tempfile.gettempdir()) / f"darse-test-{tag.replace('/', '-').replace(':', '-')}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it: wait, then look again
        if _label_of(tag) != digest:
            with tempfile.TemporaryDirectory(prefix="darse-test-db-") as temp:
                context = Path(temp)
                (context / "Dockerfile").write_text(
                    dockerfile.replace("{base}", base) + f'LABEL {CONTEXT_LABEL}="{digest}"\n'
                )
                (context / "entrypoint.sh").write_text(entrypoint)
                (context / "entrypoint.sh").chmod(0o755)
                build = subprocess.run(
                    ["docker", "build", "--network", "host", "-t", tag, str(context)],
                    capture_output=True,
                    text=True,
                    timeout=BUILD_TIMEOUT,
                    check=False,
                )
            assert build.returncode == 0, f"building {tag}: {build.stdout[-3000:]}{build.stderr[-3000:]}"
    return tag


def postgres_image() -> str:
    """Debian's PostgreSQL 15, configured like the official `postgres:15` image."""
    return _image(POSTGRES_IMAGE, _POSTGRES_DOCKERFILE, _POSTGRES_ENTRYPOINT)


def mariadb_image() -> str:
    """Debian's MariaDB 10.11, configured like the official `mariadb:10.11` image."""
    return _image(MARIADB_IMAGE, _MARIADB_DOCKERFILE, _MARIADB_ENTRYPOINT)


def redis_image() -> str:
    """Debian's Redis 7, configured like the official `redis:7` image (plus REDIS_PASSWORD)."""
    return _image(REDIS_IMAGE, _REDIS_DOCKERFILE, _REDIS_ENTRYPOINT)


@contextlib.contextmanager
def running(engine: docker.DockerClient, image: str, environment: dict[str, str]) -> Iterator[Container]:
    """A container of `image` with `environment`, under a unique name, once healthy; removed after."""
    name = f"darse-test-db-{uuid.uuid4().hex[:10]}"
    container = engine.containers.run(image, name=name, environment=environment, detach=True)
    try:
        wait_healthy(container)
        yield container
    finally:
        container.remove(force=True, v=True)


def wait_healthy(container: Container, timeout: float = HEALTHY_TIMEOUT) -> None:
    """Wait until the engine reports the container healthy; fail with its log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            return
        if container.status in ("exited", "dead"):
            break
        time.sleep(0.3)
    logs = container.logs(tail=30).decode(errors="replace")
    raise AssertionError(f"{container.name} is not healthy ({container.status}):\n{logs}")


def exec_sh(
    container: Container, command: tuple[str, ...] | list[str], stdin: bytes = b"", timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """`docker exec -i` of `command` in the container, as `docker compose exec -T` runs a dump: the
    container's user and environment (plus `env`: the values of `-e`, seen by the host's `ps`)."""
    options = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    return subprocess.run(
        ["docker", "exec", "-i", *options, container.name, *command],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


WIKI_PSQL = "psql -X -q -At -v ON_ERROR_STOP=1 -U wiki wiki"  # run inside the database's container


def wiki_db_service(image: str, password: str, *extra: str) -> str:
    """The Compose lines of a service `db`: PostgreSQL with user and database `wiki`, its data in the volume
    `db-data` (which the caller's file declares); `extra` lines are added to the service as they are."""
    lines = [
        "  db:",
        f"    image: {image}",
        "    environment:",
        "      POSTGRES_USER: wiki",
        f'      POSTGRES_PASSWORD: "{password}"',
        "      POSTGRES_DB: wiki",
        "    volumes:",
        "      - db-data:/var/lib/postgresql/data",
        *extra,
    ]
    return "\n".join(lines) + "\n"
