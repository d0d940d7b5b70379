"""The engine's side of backups: a command's output streamed out of a container, a volume's content
streamed out (or back in) as a tar, a local volume's own directory, containers stopped and started.

Everything streams chunk by chunk (at most `CHUNK` bytes at a time) into the caller's `write`: a dump or
a volume can be gigabytes, and none is ever held in memory whole.

- A dump runs inside the database's own container (`docker exec`, not a TTY, so its standard output
  and standard error come apart): standard output is the dump, passed on as it comes; of standard
  error only the last `STDERR_TAIL` bytes are kept, to explain a failure. An exit status other than 0
  is in the result, for the caller to fail the backup; no message ever quotes standard output.
- The engine does not stop an exec'd process when its client hangs up (measured on 20.10: a `yes`
  kept running). When darse stops reading early (the command stalled, or `write` raised), it ends
  the command too: every exec carries an environment variable with a token of its own, and a second
  exec sends SIGTERM to the processes of the container whose environment holds it (children inherit
  it): the innermost first, so that a script's cleanup still runs, the rest a moment later. That
  second exec needs `sh`, `tr`, `grep`, `sleep` and `kill` in the container, as every database image
  has; without them the command is left to end by itself.
- A volume's content comes through a helper container that is *created, never started* (no process,
  no network, so any image the engine has will do: the caller passes one, the service's own image for
  example), with the volume mounted read-only at /data, and the engine's archive endpoint. The engine
  resolves every path inside the helper's own root: a symlink in the volume is a symlink entry of the
  tar, never the host's file it points to. The helper is removed afterwards, on error too.
- On the local engine, a volume of the `local` driver is a directory of this machine:
  `volume_mountpoint` gives it, so that restic reads it directly (and its next backup is incremental).

Errors are `BackupEngineError`s: one line from the engine's explanation, never a traceback or data.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import socket
import stat
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from darse.engine.docker import Engine, stop_timeout
from darse.errors import DarseError

CHUNK = 64 * 1024  # bytes handed to `write` at most at a time
STDERR_TAIL = 4096  # bytes of a command's standard error kept to explain its failure
HELPER_LABEL = "org.darse.backup-helper"  # marks the helper containers (never started) for cleanup
HELPER_MOUNT = "/data"  # where a helper container mounts the volume
STOP_TIMEOUT = 30  # seconds a container without a stop grace period of its own gets to stop before it is killed
GRACE_KILL = 2  # seconds a stopped command's script gets to clean up before the rest of it is ended
EXIT_WAIT = 10.0  # seconds to wait for the engine to record an exit code once the output has ended
TOKEN_VARIABLE = "DARSE_BACKUP_EXEC"  # in the environment of every command darse runs, to end it early
ENGINE_HINT = "is the engine reachable and the service running? darse status shows it"

# Ends the command carrying TOKEN_VARIABLE=$1 in its environment (it and its children: they inherit it).
# First SIGTERM to the leaves only (pg_dump, not the `sh -c` around it), so that a script's own cleanup
# after them still runs (a temporary credentials file removed); after GRACE_KILL seconds, SIGTERM to
# whatever still carries the token (a loop starting new children).
_KILL_SCRIPT = """
token="$0=$1"
holders() {
  for d in /proc/[0-9]*; do
    tr '\\000' '\\n' < "$d/environ" 2>/dev/null | grep -qx "$token" && echo "${d#/proc/}"
  done
}
found=$(holders)
parents=""
for p in $found; do
  while read -r key value; do [ "$key" = PPid: ] && parents="$parents $value"; done < "/proc/$p/status" 2>/dev/null
done
for p in $found; do
  case " $parents " in *" $p "*) ;; *) kill -TERM "$p" 2>/dev/null;; esac
done
sleep GRACE
for p in $(holders); do kill -TERM "$p" 2>/dev/null; done
true
"""
_KILL_SCRIPT_FILLED = _KILL_SCRIPT.replace("GRACE", str(GRACE_KILL))


class BackupEngineError(DarseError):
    """The engine refused or broke off a dump, a volume's stream or a container's stop or start."""


@dataclass(frozen=True)
class CommandResult:
    """How a command run in a container ended: its exit code, the bytes of standard output passed on,
    and the end of its standard error (the command's own words, never its standard output)."""

    exit_code: int
    written: int
    stderr_tail: bytes

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def last_error_line(self, limit: int = 200) -> str:
        """The last non-empty line of standard error, cut to `limit` characters ("" when there is none)."""
        lines = [line.strip() for line in self.stderr_tail.decode("utf-8", "replace").splitlines()]
        said = [line for line in lines if line]
        return said[-1][:limit] if said else ""


# --- commands ------------------------------------------------------------------------------------------


def stream_command(
    engine: Engine,
    container_id: str,
    command: Sequence[str],
    write: Callable[[bytes], None],
    *,
    stall: float,
) -> CommandResult:
    """Run `command` in the running container and pass its standard output to `write` as it comes.

    A command that writes nothing (to either stream) for `stall` seconds is stopped: BackupEngineError.
    If `write` raises, reading stops, the command is ended and the exception goes on unchanged. A
    command exiting non-zero is *not* an error here: the result says so and the caller decides."""
    import docker.errors

    api = engine.docker_api
    token = secrets.token_hex(16)
    name = command[0] if command else "?"
    where = f"container {container_id[:12]}"
    try:
        exec_id = api.exec_create(
            container_id,
            list(command),
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            environment=[f"{TOKEN_VARIABLE}={token}"],
        )["Id"]
        # No `Upgrade` header: the engine then answers 200 and streams until the end, so the body is
        # read through the HTTP response's own buffer (with `Upgrade`, bytes read along with the 101
        # answer's headers could be lost to a raw socket read).
        response = api._post_json(
            api._url("/exec/{0}/start", exec_id), data={"Tty": False, "Detach": False}, stream=True
        )
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        raise _engine_error(f"cannot run {name!r} in {where}", exc) from None
    except Exception as exc:  # the connection broke
        raise BackupEngineError(f"cannot run {name!r} in {where}: {type(exc).__name__}", ENGINE_HINT) from None

    sock = api._get_raw_response_socket(response)
    _no_socket_timeout(sock)  # the watchdog bounds the silence instead, on every transport
    watchdog = _Watchdog(stall, lambda: _hang_up(sock))
    watchdog.start()
    tail = b""
    written = 0
    try:
        for stream, piece in _frames(response.raw):
            watchdog.touch()  # standard error counts: a dump reporting progress there is alive
            if stream == 1:
                with watchdog.paused():  # a slow `write` (restic busy) is not a stalled command
                    write(piece)
                written += len(piece)
            elif stream == 2:
                tail = (tail + piece)[-STDERR_TAIL:]
    except BaseException as exc:
        watchdog.stop()
        _hang_up(sock)
        _end_command(api, container_id, token)
        if watchdog.fired:
            raise _stalled(name, where, stall) from None
        if isinstance(exc, _BrokenStream):
            raise BackupEngineError(f"the output of {name!r} in {where} broke off: {exc}", ENGINE_HINT) from None
        raise
    finally:
        watchdog.stop()
        with contextlib.suppress(Exception):
            response.close()
    if watchdog.fired:  # the hang-up looked like a clean end of the stream
        _end_command(api, container_id, token)
        raise _stalled(name, where, stall)
    return CommandResult(_exit_code(api, exec_id, name, where), written, tail)


def feed_command(
    engine: Engine,
    container_id: str,
    argv: Sequence[str],
    read: Callable[[int], bytes],
    *,
    stall: float,
) -> CommandResult:
    """Run `argv` in the running container with what `read(n)` gives as its standard input, until `read`
    returns b"" (then the input is closed: the command sees its end). The mirror of `stream_command`:
    the input passes through in chunks (never held whole); standard output is read and dropped (a load
    prints what it loads), standard error's tail is kept for the caller's error message.

    A command that neither takes input nor writes anything for `stall` seconds is stopped:
    BackupEngineError (so is a command that exits 0 before reading all its input: nothing tells that
    it loaded it). If `read` raises, the command is ended and the exception goes on unchanged. A
    command exiting non-zero is *not* an error here: the result says so and the caller decides."""
    import docker.errors

    api = engine.docker_api
    token = secrets.token_hex(16)
    name = argv[0] if argv else "?"
    where = f"container {container_id[:12]}"
    try:
        exec_id = api.exec_create(
            container_id,
            list(argv),
            stdout=True,
            stderr=True,
            stdin=True,
            tty=False,
            environment=[f"{TOKEN_VARIABLE}={token}"],
        )["Id"]
        # The connection is hijacked (101 Switching Protocols): darse writes the command's input on it and
        # reads its multiplexed output from the same connection's buffered reader, where bytes that came
        # with the answer's headers already are.
        response = api._post_json(
            api._url("/exec/{0}/start", exec_id),
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            data={"Tty": False, "Detach": False},
            stream=True,
        )
        api._raise_for_status(response)
        sock = api._get_raw_response_socket(response)
        output = response.raw._fp.fp
    except docker.errors.APIError as exc:
        raise _engine_error(f"cannot run {name!r} in {where}", exc) from None
    except Exception as exc:  # the connection broke
        raise BackupEngineError(f"cannot run {name!r} in {where}: {type(exc).__name__}", ENGINE_HINT) from None

    _no_socket_timeout(sock)
    watchdog = _Watchdog(stall, lambda: _hang_up(sock))
    watchdog.start()
    reader = _OutputReader(output, watchdog, lambda: _hang_up(sock))
    reader.start()
    written = 0
    cut_short = False  # the command stopped reading before the end of the input
    try:
        while True:
            with watchdog.paused():  # a slow source (restic reading a remote repository) is not a stalled command
                chunk = read(CHUNK)
            if not chunk:
                break
            try:
                _send(sock, chunk)
            except OSError:
                if watchdog.fired:
                    raise
                cut_short = True  # it exited (or closed its input): its exit code says how
                break
            written += len(chunk)
            watchdog.touch()
        if not cut_short and not _close_input(sock, reader):
            reader.join()
    except BaseException:
        watchdog.stop()
        _hang_up(sock)
        reader.join(5)
        _end_command(api, container_id, token)
        if watchdog.fired:
            raise _stalled(name, where, stall) from None
        raise
    finally:
        watchdog.stop()
        with contextlib.suppress(Exception):
            response.close()
    if watchdog.fired:
        _end_command(api, container_id, token)
        raise _stalled(name, where, stall)
    if reader.broken:
        _end_command(api, container_id, token)
        raise BackupEngineError(f"the connection to {name!r} in {where} broke off: {reader.broken}", ENGINE_HINT)
    wait = EXIT_WAIT if not reader.is_alive() else stall  # TLS: the answer was not read to its end
    result = CommandResult(_exit_code(api, exec_id, name, where, wait), written, reader.tail)
    if cut_short and result.ok:
        raise BackupEngineError(
            f"{name!r} in {where} exited before reading all of its input ({written} bytes taken)",
            "a load must read the whole dump: check the command",
        )
    return result


class _OutputReader(threading.Thread):
    """Reads a fed command's multiplexed output to its end: standard error's tail kept, standard output
    dropped, every piece counted as the command's progress."""

    def __init__(self, output: Any, watchdog: _Watchdog, hang_up: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.output = output
        self.watchdog = watchdog
        self.hang_up = hang_up  # the command's output ended: it exited, so the input is no longer read
        self.tail = b""
        self.broken = ""
        self.quiet = False  # the connection is being closed on purpose: a break is no error

    def run(self) -> None:
        try:
            for stream, piece in _frames(self.output):
                self.watchdog.touch()
                if stream == 2:
                    self.tail = (self.tail + piece)[-STDERR_TAIL:]
        except _BrokenStream as exc:
            if not self.watchdog.fired and not self.quiet:
                self.broken = str(exc)
            return
        if not self.quiet:
            self.hang_up()  # a write still blocked on the connection returns (the engine would keep it open)


def _send(sock: Any, data: bytes) -> None:
    """Write on a hijacked connection: a socket (local, TCP, TLS), or docker-py's ssh client."""
    inner = getattr(sock, "_sock", sock)
    inner.sendall(data)


def _close_input(sock: Any, reader: _OutputReader) -> bool:
    """Close the writing half of the connection: the engine closes the command's standard input. False
    when the output can still be read to its end; True for TLS, whose close_notify ends the connection
    for Python (the engine still runs the command: its exit code is waited for instead)."""
    proc = getattr(sock, "proc", None)
    if proc is not None and proc.stdin is not None:  # docker-py's ssh client: ssh passes the end on
        with contextlib.suppress(OSError):
            proc.stdin.close()
        return False
    inner = getattr(sock, "_sock", sock)
    if hasattr(inner, "unwrap"):
        reader.quiet = True
        with contextlib.suppress(Exception):
            inner.unwrap()
        return True
    with contextlib.suppress(OSError):
        inner.shutdown(socket.SHUT_WR)
    return False


class _BrokenStream(Exception):
    """The multiplexed stream ended in the middle of a frame, or the connection broke."""


def _frames(raw: Any) -> Iterator[tuple[int, bytes]]:
    """The engine's multiplexed stream as (1 for stdout or 2 for stderr, at most CHUNK bytes).

    Blocks of what has arrived (`read1`) are taken apart here, consecutive pieces of one stream joined:
    the engine's frames are often a few KiB, and one read and one `write` per block keep up with it."""
    header = b""  # the part of a frame header read so far
    stream, left = 0, 0  # the current frame's stream and its bytes still to come
    while True:
        try:
            block = raw.read1(CHUNK)
        except Exception as exc:  # urllib3's and the socket's errors alike: the connection is gone
            raise _BrokenStream(type(exc).__name__) from None
        if not block:
            if header or left:
                raise _BrokenStream("the stream ended inside a frame")
            return
        view, at = memoryview(block), 0
        pending: list[memoryview] = []
        while at < len(view):
            if left == 0:
                need = 8 - len(header)
                header += bytes(view[at : at + need])
                at += min(need, len(view) - at)
                if len(header) < 8:
                    break
                kind, left = struct.unpack(">BxxxL", header)
                header = b""
                if pending and kind != stream:
                    yield stream, b"".join(pending)
                    pending = []
                stream = kind
                continue
            take = min(left, len(view) - at)
            pending.append(view[at : at + take])
            at += take
            left -= take
        if pending:
            yield stream, b"".join(pending)


def _exit_code(api: Any, exec_id: str, name: str, where: str, wait: float = EXIT_WAIT) -> int:
    """The command's exit code; the engine records it a moment after the output ends."""
    deadline = time.monotonic() + wait
    while True:
        try:
            info = api.exec_inspect(exec_id)
        except Exception as exc:
            raise _engine_error(f"cannot read how {name!r} ended in {where}", exc) from None
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > deadline:
            raise BackupEngineError(
                f"{name!r} in {where} closed its output but did not exit within {wait:g} s", ENGINE_HINT
            )
        time.sleep(0.05)


def _stalled(name: str, where: str, stall: float) -> BackupEngineError:
    return BackupEngineError(
        f"{name!r} in {where} wrote nothing for {stall:g} s: stopped",
        "is the database answering? a lock held elsewhere can stall a dump; raise the stall bound if it is just slow",
    )


def _end_command(api: Any, container_id: str, token: str) -> None:
    """SIGTERM to the processes of the command carrying `token` (best effort: see the module's docstring)."""
    with contextlib.suppress(Exception):
        exec_id = api.exec_create(
            container_id, ["sh", "-c", _KILL_SCRIPT_FILLED, TOKEN_VARIABLE, token], stdout=False, stderr=False
        )["Id"]
        api.exec_start(exec_id, detach=True)


def _no_socket_timeout(sock: Any) -> None:
    for candidate in (sock, getattr(sock, "_sock", None)):
        if candidate is not None and hasattr(candidate, "settimeout"):
            with contextlib.suppress(Exception):
                candidate.settimeout(None)


def _hang_up(sock: Any) -> None:
    """End the connection now, from any thread: a read blocked on it returns."""
    inner = getattr(sock, "_sock", sock)
    try:
        inner.shutdown(socket.SHUT_RDWR)
    except Exception:
        with contextlib.suppress(Exception):
            sock.close()  # docker-py's ssh client: terminates its ssh process


class _Watchdog(threading.Thread):
    """Calls `hang_up` once the stream has been silent for `stall` seconds (not counting paused time)."""

    def __init__(self, stall: float, hang_up: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.stall = stall
        self.hang_up = hang_up
        self.fired = False
        self._last = time.monotonic()
        self._paused = False
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self._delay()):
            if not self._paused and time.monotonic() - self._last >= self.stall:
                self.fired = True
                self.hang_up()
                return

    def _delay(self) -> float:
        return self.stall if self._paused else max(0.01, self._last + self.stall - time.monotonic())

    def touch(self) -> None:
        self._last = time.monotonic()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._paused = True
        try:
            yield
        finally:
            self._last = time.monotonic()
            self._paused = False

    def stop(self) -> None:
        self._done.set()


# --- volumes -------------------------------------------------------------------------------------------


def stream_volume(engine: Engine, volume_name: str, write: Callable[[bytes], None], *, image: str) -> int:
    """The whole content of the named volume as a tar stream (names `./...`, the volume's root first)
    passed to `write`; returns the bytes written. `image` is any image the engine has (the service's
    own): the helper container made from it is never started."""
    api = engine.docker_api
    _existing_volume(api, volume_name)
    helper = _create_helper(api, volume_name, image, read_only=True)
    total = 0
    try:
        with contextlib.closing(_archive(api, helper, f"{HELPER_MOUNT}/.", volume_name)) as chunks:
            for chunk in chunks:
                write(chunk)  # if it raises, the closing ends the engine's transfer at once
                total += len(chunk)
    finally:
        _remove_helper(api, helper)
    return total


def restore_volume(engine: Engine, volume_name: str, read: Callable[[int], bytes] | IO[bytes], *, image: str) -> None:
    """Put a tar stream (as `stream_volume` gives it) into the named volume, which must exist and be
    empty: the caller creates a new volume (with the labels Compose would give it) or empties one; this
    refuses to mix a snapshot into data already there. Owners, modes and links are kept as the tar says;
    the engine extracts inside the helper's own root, so a hostile name (`../..`) cannot reach the host.
    If `read` raises, its exception goes on unchanged; the volume then holds part of the tar, and the
    caller removes it."""
    source = _Source(read.read if hasattr(read, "read") else read)  # type: ignore[union-attr]
    api = engine.docker_api
    _existing_volume(api, volume_name)
    helper = _create_helper(api, volume_name, image, read_only=False)
    try:
        if not _is_empty(api, helper, volume_name):
            raise BackupEngineError(
                f"the volume {volume_name} is not empty: nothing restored into it",
                "restore into a new volume (or remove this one first, after a backup of it)",
            )
        first = source.read(CHUNK)
        if not first:
            raise BackupEngineError(
                f"nothing to restore into the volume {volume_name}: the stream was empty",
                "check the snapshot: darse backup ls lists what it holds",
            )
        root = _root_entry(first)
        try:
            api.put_archive(helper, HELPER_MOUNT, source.chunks(first))
            if root is not None:  # the engine skips the archive's `.`: the volume's root is given its owner, mode, time
                api.put_archive(helper, "/", _root_archive(root))
        except Exception as exc:
            if source.failure is not None:
                raise source.failure from None
            raise _engine_error(f"cannot restore into the volume {volume_name}", exc) from None
    finally:
        _remove_helper(api, helper)


def empty_volume(engine: Engine, volume_name: str, *, image: str, timeout: float = 3600.0) -> None:
    """Remove everything the named volume holds, keeping the volume itself (the containers that mount it
    stay as they are; they must be stopped). Links are removed, never followed. On the local engine the
    volume's own directory is emptied from here; otherwise a helper container from `image` (started
    this time, as root, without network) runs `rm -rf` of every entry (globs, which follow no link):
    the image needs `sh` and `rm`."""
    api = engine.docker_api
    _existing_volume(api, volume_name)
    directory = volume_mountpoint(engine, volume_name)
    if directory is not None and os.access(directory, os.W_OK):
        _empty_directory(directory, volume_name)
        return
    helper = _create_helper(
        api, volume_name, image, read_only=False, command=["sh", "-c", f"cd {HELPER_MOUNT} && rm -rf -- * .[!.]* ..?*"]
    )
    try:
        try:
            api.start(helper)
            status = api.wait(helper, timeout=timeout)
        except Exception as exc:
            raise _engine_error(
                f"cannot empty the volume {volume_name} with a helper of {image[:80]} (it needs `sh` and `rm`)",
                exc,
            ) from None
        code = int((status or {}).get("StatusCode", -1))
        if code != 0:
            said = ""
            with contextlib.suppress(Exception):
                said = api.logs(helper, stdout=False, stderr=True, tail=1).decode("utf-8", "replace").strip()[:200]
            raise BackupEngineError(
                f"emptying the volume {volume_name} failed (rm exited with {code}){': ' + said if said else ''}",
                "the volume may be half emptied: check it (docker volume inspect) before restoring into it",
            )
    finally:
        _remove_helper(api, helper)


def _empty_directory(directory: Path, volume_name: str) -> None:
    """Remove what `directory` holds without following links (shutil.rmtree never does)."""
    import shutil

    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
    except OSError as exc:
        raise BackupEngineError(
            f"cannot empty the volume {volume_name}: {exc.strerror or type(exc).__name__}",
            "darse needs to write the engine's volume folders (run it as root, or through the engine)",
        ) from None


def _root_entry(first: bytes) -> tarfile.TarInfo | None:
    """The archive's first header when it is the root folder (`./`, as `stream_volume` gives it)."""
    try:
        header = tarfile.TarInfo.frombuf(first[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except (tarfile.TarError, ValueError):
        return None
    return header if header.isdir() and header.name.strip("/") in ("", ".") else None


def _root_archive(root: tarfile.TarInfo) -> bytes:
    """A tar of the one folder HELPER_MOUNT (the volume's root, seen from the helper's `/`) as `root` was."""
    entry = tarfile.TarInfo(HELPER_MOUNT.strip("/"))
    entry.type = tarfile.DIRTYPE
    entry.mode, entry.uid, entry.gid, entry.mtime = root.mode, root.uid, root.gid, root.mtime
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(entry)
    return buffer.getvalue()


class _Source:
    """The caller's tar stream in chunks for the upload, remembering the caller's own failure (the HTTP
    client would report it as its own)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self.read = read
        self.failure: BaseException | None = None

    def chunks(self, first: bytes) -> Iterator[bytes]:
        yield first
        while True:
            try:
                chunk = self.read(CHUNK)
            except BaseException as exc:
                self.failure = exc
                raise
            if not chunk:
                return
            yield chunk


def _is_empty(api: Any, helper: str, volume_name: str) -> bool:
    """Whether the volume holds nothing but its root: only the archive's first two entries are read."""
    with contextlib.closing(_TarReader(_archive(api, helper, f"{HELPER_MOUNT}/.", volume_name))) as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r|") as archive:
                for member in archive:
                    if member.name not in (".", "./"):
                        return False
        except tarfile.TarError:
            raise BackupEngineError(
                f"the engine's listing of the volume {volume_name} is not a tar", ENGINE_HINT
            ) from None
    return True


class _TarReader:
    """A file-like `read` over an iterator of chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def _archive(api: Any, container_id: str, path: str, volume_name: str) -> Iterator[bytes]:
    """The engine's tar of `path` in the container, chunk by chunk; the connection is closed when the
    caller stops early (the generator's close)."""
    try:
        # `identity`: the engine would otherwise gzip the tar, costing both ends CPU for a stream restic
        # chunks and compresses itself; the bytes passed on are then the tar exactly, in bounded chunks
        response = api._get(
            api._url("/containers/{0}/archive", container_id),
            params={"path": path},
            headers={"Accept-Encoding": "identity"},
            stream=True,
        )
        api._raise_for_status(response)
    except Exception as exc:
        raise _engine_error(f"cannot read the volume {volume_name}", exc) from None
    try:
        try:
            yield from response.raw.stream(CHUNK, decode_content=False)
        except GeneratorExit:
            raise
        except Exception as exc:  # the connection broke, or stayed silent past the engine's timeout
            raise BackupEngineError(
                f"the engine's stream of the volume {volume_name} broke off ({type(exc).__name__})", ENGINE_HINT
            ) from None
    finally:
        with contextlib.suppress(Exception):
            response.close()


def _existing_volume(api: Any, volume_name: str) -> dict[str, Any]:
    """The volume's inspect document; a missing volume is an error (mounting it would create it)."""
    import docker.errors

    try:
        return api.inspect_volume(volume_name)
    except docker.errors.NotFound:
        raise BackupEngineError(
            f"there is no volume named {volume_name} on this engine", "darse backup plan lists the volumes it expects"
        ) from None
    except Exception as exc:
        raise _engine_error(f"cannot inspect the volume {volume_name}", exc) from None


def _create_helper(
    api: Any, volume_name: str, image: str, *, read_only: bool, command: Sequence[str] | None = None
) -> str:
    """A helper container mounting the volume at HELPER_MOUNT; without `command` it is never started
    (only a way into the volume), with one it runs that as root."""
    from docker.types import Mount

    host_config = api.create_host_config(
        mounts=[Mount(HELPER_MOUNT, volume_name, type="volume", read_only=read_only)], network_mode="none"
    )
    try:
        created = api.create_container(
            image,
            command=list(command or ["darse-backup-helper"]),
            user="0" if command else None,
            entrypoint=[],
            host_config=host_config,
            labels={HELPER_LABEL: volume_name},
            network_disabled=True,
        )
    except Exception as exc:
        raise _engine_error(f"cannot create the helper container for the volume {volume_name}", exc) from None
    return created["Id"]


def _remove_helper(api: Any, helper: str) -> None:
    with contextlib.suppress(Exception):
        api.remove_container(helper, v=True, force=True)  # v: the anonymous volumes its image declares


def volume_mountpoint(engine: Engine, volume_name: str) -> Path | None:
    """The volume's own directory when this process can read it: the engine is on this machine's socket,
    the volume is a plain `local` one (no options: an NFS or bind volume is mounted only while in use),
    and its mountpoint is a real, readable directory reached through no symlink. None otherwise (and for
    a missing volume): the caller then uses `stream_volume`. (An engine in a VM behind a local socket,
    as Docker Desktop's, reports paths inside the VM: they do not exist here, so None.)"""
    if not engine.url.startswith("unix://"):
        return None
    try:
        info = engine.api.inspect_volume(volume_name)  # the local socket's own client: no docker-py to load
    except Exception:
        return None
    if info.get("Driver") != "local" or info.get("Options"):
        return None
    raw = str(info.get("Mountpoint") or "")
    if not raw or not os.path.isabs(raw) or os.path.realpath(raw) != os.path.normpath(raw):
        return None
    try:
        status = os.lstat(raw)
    except OSError:
        return None
    if not stat.S_ISDIR(status.st_mode) or not os.access(raw, os.R_OK | os.X_OK):
        return None
    return Path(raw)


# --- containers ----------------------------------------------------------------------------------------
# The containers of a Compose project: `Engine.containers(project=...)` (stopped ones too).


def stop_containers(engine: Engine, ids: Sequence[str], timeout: int = STOP_TIMEOUT) -> None:
    """Stop each container: the engine kills one still running after its own stop grace period, or after
    `timeout` seconds when it has none."""
    api = engine.docker_api
    for container_id in ids:
        try:
            api.stop(container_id, timeout=stop_timeout(api, container_id, timeout))
        except Exception as exc:
            raise _engine_error(f"cannot stop container {container_id[:12]}", exc) from None


def start_containers(engine: Engine, ids: Sequence[str]) -> None:
    """Start each container again (one already running is left as it is)."""
    api = engine.docker_api
    for container_id in ids:
        try:
            api.start(container_id)
        except Exception as exc:
            raise _engine_error(f"cannot start container {container_id[:12]}", exc) from None


def _engine_error(what: str, exc: Exception) -> BackupEngineError:
    """One line from the engine's explanation (it never holds a dump's or a file's content)."""
    explanation = str(getattr(exc, "explanation", None) or exc).strip()
    first = explanation.splitlines()[0][:300] if explanation else type(exc).__name__
    return BackupEngineError(f"{what}: {first}", ENGINE_HINT)
