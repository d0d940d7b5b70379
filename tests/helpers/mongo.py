"""A MongoDB stand-in image for the backup tests: MongoDB has no Debian package, and nothing can be pulled
from Docker Hub here, so darse's side of MongoDB backups is tested against small shell tools instead.

`darse-test/mongo:standin` (its name ends in `mongo`, so darse.backup.dumps kinds it as mongodb) is the
Debian base with one script installed as `mongod`, `mongodump` and `mongorestore`:

- `mongod` keeps the container running with its "database" as plain files in /data/db;
- `mongodump --archive` writes a recognisable archive to standard output (`ARCHIVE_HEADER`, then a tar
  of /data/db); `mongorestore --archive [--drop]` reads one back into /data/db;
- like the official image's server once `MONGO_INITDB_ROOT_USERNAME` is set, both refuse to run unless
  given `--username` equal to it and a `--config` file whose `password: '...'` (YAML single quotes,
  `''` for a quote) is `MONGO_INITDB_ROOT_PASSWORD`: darse's commands must pass the credentials the way
  the real tools take them;
- a file /data/db/FAIL_DUMP makes `mongodump` fail after writing part of its archive.

Built once per machine and reused by tag, like the database images (tests/helpers/databases.py).
"""

from __future__ import annotations

from helpers.databases import _image

MONGO_IMAGE = "darse-test/mongo:standin"
ARCHIVE_HEADER = b"darse-test mongo stand-in archive v1\n"

_DOCKERFILE = """\
FROM {base}
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
RUN for tool in mongod mongodump mongorestore; do ln -s entrypoint.sh /usr/local/bin/$tool; done \\
 && mkdir -p /data/db /data/configdb
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["mongod"]
"""

_TOOLS = r"""#!/bin/sh
# mongod, mongodump and mongorestore stand-ins (see tests/helpers/mongo.py)
set -eu
HEADER="darse-test mongo stand-in archive v1"

login() {
  [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ] || return 0
  user=""; config=""; password=""
  for arg in "$@"; do
    case "$arg" in --username=*) user="${arg#--username=}";; --config=*) config="${arg#--config=}";; esac
  done
  [ -z "$config" ] || password="$(sed -n "s/^password: '\(.*\)'\$/\1/p" "$config" | sed "s/''/'/g")"
  if [ "$user" != "$MONGO_INITDB_ROOT_USERNAME" ] || [ "$password" != "${MONGO_INITDB_ROOT_PASSWORD:-}" ]; then
    echo "Failed: server returned error on SASL authentication step: Authentication failed." >&2
    exit 1
  fi
}

archive() {
  for arg in "$@"; do [ "$arg" = --archive ] && return 0; done
  echo "Failed: this stand-in only speaks --archive" >&2
  exit 2
}

case "$(basename "$0")" in
  mongod)
    mkdir -p /data/db
    [ -e /data/db/WiredTiger ] || echo "WiredTiger stand-in" > /data/db/WiredTiger
    exec sleep infinity
    ;;
  mongodump)
    archive "$@"; login "$@"
    printf '%s\n' "$HEADER"
    if [ -e /data/db/FAIL_DUMP ]; then echo "Failed: dump broke off" >&2; exit 2; fi
    exec tar -C /data/db -cf - .
    ;;
  mongorestore)
    archive "$@"; login "$@"
    IFS= read -r line
    if [ "$line" != "$HEADER" ]; then echo "Failed: not an archive" >&2; exit 3; fi
    for arg in "$@"; do [ "$arg" = --drop ] && find /data/db -mindepth 1 -delete; done
    exec tar -C /data/db -xf -
    ;;
  *)
    exec "$@"
    ;;
esac
"""


def mongo_image() -> str:
    """The stand-in MongoDB image, built now if this machine has none yet."""
    return _image(MONGO_IMAGE, _DOCKERFILE, _TOOLS)
