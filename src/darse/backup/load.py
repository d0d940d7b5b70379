"""Snapshots put back: a volume's files into an empty volume, a database dump into a running database.

Both read restic's side through `darse.restic` and write the engine's side through `darse.engine.backup`,
streaming: nothing is held in memory whole, nothing is copied to disk on the way.

- A volume snapshot is either a *path* snapshot (restic read the volume's own directory on the local
  engine: backup/run.py) or a *tar stream* snapshot (`/{project}.{key}.tar`, a volume streamed through
  a remote engine). A path snapshot restored on the local engine goes straight into the volume's own
  directory with `restic restore` (owners, modes, links, hard links and special files exactly as
  restic keeps them); otherwise restic's tar of it (`restic dump`) is put into the volume through the
  engine. Either way the volume must be empty: a snapshot is never mixed into data already there.
- A dump is loaded by the kind's own load command (darse.backup.dumps.load_command) run inside the
  database's container, once the database accepts connections; the dump file streams from
  `restic dump` into the command's standard input. Redis takes its RDB file only at start: the
  container is restarted after the load and waited for again.

Errors are one line; none quotes a dump's content or a password (a failed load shows only the last
error line of the load command, which names statements, not values).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from darse.backup.dumps import load_command
from darse.engine.backup import (
    BackupEngineError,
    feed_command,
    restore_volume,
    stream_command,
    volume_mountpoint,
)
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.restic import Restic, Snapshot

STALL = 600.0  # seconds a load may neither take input nor say anything (a long CREATE INDEX) before it is stopped
PROBE_STALL = 20.0  # seconds one readiness probe may take
PROBE_EVERY = 0.5  # seconds between two readiness probes
READY_HINT = "is the database starting? its logs (docker logs) say why it is not ready"

# Whether the database in the container accepts connections, run inside it (exit 0: ready). Each asks
# over TCP on the loopback: the images' first start runs a temporary server on the socket only, which
# must not receive the load (it is stopped a moment later). No password is needed to ask.
_READY = {
    "postgres": 'pg_isready -q -h 127.0.0.1 -d postgres -U "${POSTGRES_USER:-postgres}"',
    "mariadb": (
        "c=mariadb-admin; command -v $c >/dev/null 2>&1 || c=mysqladmin; "
        "$c --protocol=tcp --host=127.0.0.1 --user=root --connect-timeout=2 ping >/dev/null 2>&1"
    ),
    "mysql": "mysqladmin --protocol=tcp --host=127.0.0.1 --user=root --connect-timeout=2 ping >/dev/null 2>&1",
    "redis": (
        '[ -z "${REDIS_PASSWORD:-}" ] || export REDISCLI_AUTH="$REDIS_PASSWORD"; '
        "c=redis-cli; command -v $c >/dev/null 2>&1 || c=valkey-cli; command -v $c >/dev/null 2>&1 || c=keydb-cli; "
        "$c -h 127.0.0.1 ping 2>/dev/null | grep -q PONG"
    ),
    "mongodb": (  # not tried against a real MongoDB (no Debian package to test with)
        "c=mongosh; command -v $c >/dev/null 2>&1 || c=mongo; "
        "$c --quiet --host 127.0.0.1 --eval 'db.adminCommand({ping: 1}).ok' >/dev/null 2>&1"
    ),
}


class LoadError(DarseError):
    """A snapshot could not be put back into a volume or a database."""


def ready_command(kind: str) -> tuple[str, ...]:
    """The command (run inside the database's container) that exits 0 once the database takes connections."""
    return ("sh", "-c", _READY[kind])


def is_tar_stream(snapshot: Snapshot) -> bool:
    """A volume snapshot streamed as a tar (`/{project}.{key}.tar`), rather than restic reading its folder."""
    return len(snapshot.paths) == 1 and snapshot.paths[0].count("/") == 1 and snapshot.paths[0].endswith(".tar")


# --- volumes -------------------------------------------------------------------------------------------


def fill_volume(engine: Engine, restic: Restic, snapshot: Snapshot, volume_name: str, *, image: str) -> int:
    """Put a volume snapshot into the existing, empty volume `volume_name`; returns the bytes of file
    content restored. `image` (the service's own) makes the engine's helper container when one is needed."""
    if len(snapshot.paths) != 1:
        raise LoadError(
            f"snapshot {snapshot.short_id} holds {len(snapshot.paths)} paths: it is not a volume darse backed up",
            "darse backup ls lists darse's snapshots",
        )
    path = snapshot.paths[0]
    if not path.startswith("/") or ".." in path.split("/"):
        raise LoadError(f"snapshot {snapshot.short_id} names the path {path[:100]!r}", "darse backup ls lists its own")
    if is_tar_stream(snapshot):
        return _pipe(lambda out: restic.dump(snapshot.id, path, out.write), _volume_sink(engine, volume_name, image))
    directory = volume_mountpoint(engine, volume_name)
    if directory is not None and os.access(directory, os.W_OK):
        return _restore_into(restic, snapshot, directory, volume_name)
    prefix = path.strip("/")

    def produce(out: IO[bytes]) -> None:  # restic's tar of the folder, renamed to the volume's root
        _pipe(lambda raw: restic.dump(snapshot.id, path, raw.write), lambda raw: _rename_tar(raw, out, prefix))

    return _pipe(produce, _volume_sink(engine, volume_name, image))


def _volume_sink(engine: Engine, volume_name: str, image: str) -> Callable[[IO[bytes]], int]:
    def consume(source: IO[bytes]) -> int:
        counted = _Counted(source)
        restore_volume(engine, volume_name, counted.read, image=image)
        return counted.total

    return consume


def _restore_into(restic: Restic, snapshot: Snapshot, directory: Path, volume_name: str) -> int:
    """`restic restore` into a folder inside the empty volume, then its content moved up into the volume
    (same filesystem: renames) and the volume's root given the owner, mode and times it had."""
    if any(directory.iterdir()):
        raise LoadError(
            f"the volume {volume_name} is not empty: nothing restored into it",
            "restore into an empty volume (darse restore empties it after a safety backup)",
        )
    staging = directory / f".darse-restore-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o700)
    try:
        restic.restore(snapshot.id, staging)
        restored = staging / snapshot.paths[0].lstrip("/")
        if not restored.is_dir() or restored.is_symlink():
            raise LoadError(
                f"snapshot {snapshot.short_id} does not hold the folder {snapshot.paths[0]}", "darse backup ls lists it"
            )
        total = _file_bytes(restored)
        for entry in os.scandir(restored):
            os.rename(entry.path, directory / entry.name)
        status = os.lstat(restored)
        os.chown(directory, status.st_uid, status.st_gid)
        os.chmod(directory, status.st_mode & 0o7777)
        os.utime(directory, ns=(status.st_atime_ns, status.st_mtime_ns))
    except OSError as exc:
        raise LoadError(
            f"cannot restore into the volume {volume_name}: {exc.strerror or type(exc).__name__}",
            "darse needs to write the engine's volume folders (run it as root)",
        ) from None
    finally:
        _remove_tree(staging)
    return total


def _file_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                status = os.lstat(os.path.join(root, name))
                total += status.st_size if stat.S_ISREG(status.st_mode) else 0
    return total


def _remove_tree(path: Path) -> None:
    import shutil

    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def _rename_tar(raw: IO[bytes], out: IO[bytes], prefix: str) -> int:
    """Copy restic's tar of the folder `prefix` (names `prefix/...`) to `out` with names `./...`; entries
    outside it are dropped. Streamed member by member (tarfile's stream modes): memory stays bounded."""
    count = 0
    with (
        tarfile.open(fileobj=raw, mode="r|") as source,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as target,
    ):
        for member in source:
            name = member.name.strip("/")
            if name == prefix:
                member.name = "."
            elif name.startswith(prefix + "/"):
                member.name = "./" + name[len(prefix) + 1 :]
            else:
                continue
            target.addfile(member, source.extractfile(member) if member.isreg() else None)
            count += 1
    return count


class _Counted:
    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.total = 0

    def read(self, size: int) -> bytes:
        data = self.source.read(size)
        self.total += len(data)
        return data


def _pipe(produce: Callable[[IO[bytes]], Any], consume: Callable[[IO[bytes]], int]) -> int:
    """Run `produce(writer)` in a thread and `consume(reader)` here, joined by an OS pipe (bounded by its
    buffer). A failure of either ends the other: the producer's failure reaches the consumer as the
    exception of its next read (never as a clean end of the stream), and is raised first."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    writer = os.fdopen(write_fd, "wb")
    failure: list[BaseException] = []

    def run() -> None:
        try:
            produce(writer)
        except BaseException as exc:  # handed to the consumer's side
            failure.append(exc)
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    thread = threading.Thread(target=run, daemon=True)
    source = _Guarded(reader, thread, failure)
    thread.start()
    try:
        result = consume(source)  # type: ignore[arg-type]
    except BaseException:
        reader.close()  # the producer's next write fails: it stops
        thread.join()
        if failure and not isinstance(failure[0], BrokenPipeError | ValueError):
            raise failure[0] from None
        raise
    source.drain()
    reader.close()
    thread.join()
    if failure:
        raise failure[0]
    return result


class _Guarded:
    """The pipe's reading end: at its end, the producer's failure (if any) is raised instead of b""."""

    def __init__(self, raw: IO[bytes], thread: threading.Thread, failure: list[BaseException]) -> None:
        self.raw = raw
        self.thread = thread
        self.failure = failure

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if not data:
            self.thread.join()
            if self.failure:
                raise self.failure[0]
        return data

    def drain(self) -> None:
        """The consumer is done: what is left (a tar's padding) is read, so the producer can finish."""
        while self.raw.read(1 << 16):
            pass


# --- databases -----------------------------------------------------------------------------------------


def wait_ready(engine: Engine, container_id: str, kind: str, *, timeout: float = 120.0) -> None:
    """Wait until the database in the running container accepts connections (its kind's probe, run
    inside it, exits 0); a LoadError when it stops or is not ready within `timeout` seconds."""
    api = engine.docker_api
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = (api.inspect_container(container_id).get("State") or {}).get("Status", "")
        except Exception as exc:
            raise LoadError(f"cannot inspect container {container_id[:12]}: {type(exc).__name__}", READY_HINT) from None
        if state != "running":
            raise LoadError(f"container {container_id[:12]} is {state or 'gone'}: its database cannot load", READY_HINT)
        with contextlib.suppress(BackupEngineError):
            probe = stream_command(engine, container_id, ready_command(kind), _discard, stall=PROBE_STALL)
            if probe.ok:
                return
        if time.monotonic() >= deadline:
            raise LoadError(
                f"the {kind} database in container {container_id[:12]} accepted no connection within {timeout:g} s",
                READY_HINT,
            )
        time.sleep(PROBE_EVERY)


def _discard(_data: bytes) -> None:
    pass


def load_dump(
    engine: Engine,
    restic: Restic,
    snapshot: Snapshot,
    container_id: str,
    kind: str,
    *,
    ready_timeout: float = 120.0,
    stall: float = STALL,
) -> int:
    """Load a dump snapshot (one file, as backup/run.py saves it) into the database of the running
    container, which must be fresh (its data volume new: the image's first start made its users); returns
    the bytes loaded. Redis: the container is restarted afterwards, its data then being the dump's."""
    if kind not in _READY:
        raise LoadError(f"darse cannot load a dump of kind {kind!r}", f"kinds: {', '.join(_READY)}")
    if len(snapshot.paths) != 1:
        raise LoadError(f"snapshot {snapshot.short_id} is not one dump file", "darse backup ls lists darse's snapshots")
    wait_ready(engine, container_id, kind, timeout=ready_timeout)
    filename = snapshot.paths[0]
    results = []

    def consume(source: IO[bytes]) -> int:
        result = feed_command(engine, container_id, load_command(kind), source.read, stall=stall)
        results.append(result)
        return result.written

    written = _pipe(lambda out: restic.dump(snapshot.id, filename, out.write), consume)
    (result,) = results
    if not result.ok:
        raise LoadError(
            f"loading {filename.lstrip('/')} into container {container_id[:12]} failed (exit {result.exit_code})"
            + (f": {line}" if (line := _error_line(result.stderr_tail)) else ""),
            "the database may hold part of the dump; its data volume is to be emptied before another try",
        )
    if kind == "redis":
        try:
            engine.docker_api.restart(container_id, timeout=30)
        except Exception as exc:
            raise LoadError(f"cannot restart container {container_id[:12]}: {type(exc).__name__}", READY_HINT) from None
        wait_ready(engine, container_id, kind, timeout=ready_timeout)
    return written


def _error_line(tail: bytes) -> str:
    """The last line of a load's standard error that reports an error (never a statement's text: psql's
    `LINE 1: ...` context lines are skipped), cut to 200 characters."""
    lines = [line.strip() for line in tail.decode("utf-8", "replace").splitlines()]
    said = [line for line in lines if line and not line.startswith(("LINE ", "DETAIL:", "CONTEXT:", "HINT:"))]
    errors = [line for line in said if "error" in line.lower()]
    return (errors or said or [""])[-1][:200]
