"""restic, the one module that runs it: one bounded child process, and the operations darse's backups need.

Every other module asks `Restic(repository, password_file)` to back up, list, restore, dump or forget
instead of running `restic` itself, so that the environment, argument lists, time bounds, the masking
of credentials and the wording of failures are decided here once.

- The password never reaches a command line nor a message: restic reads it from the file named by
  `RESTIC_PASSWORD_FILE` in its environment, and the repository comes through `RESTIC_REPOSITORY`
  (an S3 or REST URL may hold `user:password@`: every message shows it masked as `***@`).
- Failures are `ResticError`s (a `DarseError`: one line, restic's own reason, masked, and a hint).
- Questions (`snapshots`, `init`, `forget`, ...) are killed after `timeout` seconds; streaming work
  (`backup_path`, `backup_stream`, `dump`) has no total bound, since a large volume takes as long as it
  takes, but is killed after `stall` seconds without progress (no byte written into restic, no byte
  read out of it, no change in restic's own status lines). `restore` prints nothing while it works in
  restic 0.14, so it has a long total bound of its own (`restore_timeout`).
- Output is read in bounded pieces: lines of at most `MAX_LINE` bytes, at most `MAX_OUTPUT` bytes for
  one answer, the last `MAX_ERROR_LINES` lines of restic's standard error.
- restic is stopped with SIGINT, on which it removes its lock and saves nothing; only if it does not
  exit within `GRACE` seconds is it killed, and the stale lock it leaves removed (`restic unlock`).

restic 0.14 (Debian bookworm's) is the oldest supported: it has no `--stdin-from-command`, so
`backup_stream` stops restic before the end of its input when the producer fails (see there).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from darse.errors import DarseError

MINIMUM_VERSION = (0, 14, 0)
TIMEOUT = 300.0  # seconds for one question: a remote repository that does not answer must not hang darse
PRUNE_TIMEOUT = 3600.0  # seconds for `prune`, which rewrites the index and may repack a large repository
RESTORE_TIMEOUT = 6 * 3600.0  # seconds for one restore (restic 0.14 reports no progress while restoring)
STALL = 600.0  # seconds without progress after which streaming work is killed
GRACE = 30.0  # seconds restic gets to clean up (remove its lock) after SIGINT before it is killed
MAX_LINE = 1 << 20  # bytes kept of one line of restic's output; the rest of a longer line is dropped
MAX_OUTPUT = 64 << 20  # bytes of one answer (`snapshots --json` is a single line holding every snapshot)
MAX_ERROR_LINES = 20  # last lines of restic's standard error kept to explain a failure
CHUNK = 64 * 1024  # bytes per read of a dump
INSTALL_HINT = "install restic 0.14 or newer (Debian: apt-get install restic)"
CHECK_HINT = "check the repository with restic check (same RESTIC_REPOSITORY and password file)"

# `scheme://user:password@host` → `scheme://***@host`, wherever a URL appears in a message
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s]+@")
_VERSION = re.compile(r"\brestic (\d+)\.(\d+)\.(\d+)")
_ID = re.compile(r"[0-9a-f]{4,64}")
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_TAG_VALUE = re.compile(r"[^,\s]{0,256}")  # restic splits --tag on commas
_FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KEEP_RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
# variables of the caller's environment that would override the repository or password darse gives
_OVERRIDING = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY_FILE")


class ResticError(DarseError):
    """restic could not do what was asked: missing, too old, too slow, or a command it refused."""


class ResticMissing(ResticError):
    """No restic program to run, or one older than 0.14."""


class ResticTimeout(ResticError):
    """restic ran past its time bound (or made no progress for too long) and was stopped."""


class ResticFailed(ResticError):
    """restic ran and refused (an unknown snapshot, a network error, a damaged repository, ...)."""


class WrongPassword(ResticError):
    """The password file does not open the repository (or is missing)."""


class NoRepository(ResticError):
    """There is no restic repository at the address given."""


class RepositoryExists(ResticError):
    """`init` on a repository that exists already."""


class RepositoryLocked(ResticError):
    """Another restic holds a lock that this command cannot share."""


class StreamFailed(ResticError):
    """A stream backup's producer wrote nothing: no snapshot was saved."""


class IncompleteBackup(ResticError):
    """restic saved a snapshot but could not read some of the files (its exit status 3)."""

    def __init__(self, message: str, hint: str, snapshot_id: str) -> None:
        super().__init__(message, hint)
        self.snapshot_id = snapshot_id


@dataclass(frozen=True)
class Snapshot:
    """One snapshot as `restic snapshots --json` lists it; tags `key=value` read back into a dict."""

    id: str
    short_id: str
    time: datetime
    paths: tuple[str, ...]
    tags: dict[str, str] = field(hash=False)
    hostname: str
    parent: str = ""


@dataclass(frozen=True)
class Backup:
    """What restic's summary says of one backup."""

    snapshot_id: str  # as the summary gives it (restic 0.14: the short id, a prefix restic accepts everywhere)
    files_new: int
    files_changed: int
    files_unmodified: int
    bytes_added: int  # new data stored in the repository (after deduplication, before compression)
    bytes_processed: int  # data read from the source
    seconds: float


@dataclass(frozen=True)
class Status:
    """One of restic's progress lines during a backup (totals are 0 while unknown, as for a stream)."""

    percent: float  # 0 to 100
    bytes_done: int
    total_bytes: int
    files_done: int
    total_files: int


Progress = Callable[[Status], None]


def mask(text: str, repository: str = "", hidden: Sequence[str] = ()) -> str:
    """`text` with the credentials of any URL (`scheme://user:pw@` → `scheme://***@`), the repository as
    given (in case restic printed it in another form) and every string of `hidden` cut out."""
    if repository:
        masked = _CREDENTIALS.sub(r"\1***@", repository)
        if masked != repository:
            text = text.replace(repository, masked)
    text = _CREDENTIALS.sub(r"\1***@", text)
    for secret in hidden:
        if secret:
            text = text.replace(secret, "***")
    return text


def make_password_file(path: Path) -> None:
    """Create a password file for a new repository: a random password, mode 0600, never overwriting a
    file that exists (losing a repository's password loses all its snapshots)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise ResticError(
            f"{path} exists already: darse never overwrites a password file",
            "keep it (it opens the repository), or name another password file",
        ) from None
    except OSError as exc:
        raise ResticError(f"cannot create {path}: {exc.strerror or exc}", "check the folder's permissions") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secrets.token_urlsafe(32) + "\n").encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def _tag_arguments(tags: Mapping[str, str]) -> list[str]:
    """`--tag=key=value` for each tag, after checking restic reads it back as written."""
    for key, value in tags.items():
        if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(value):
            raise ResticError(
                f"the tag {key}={value} cannot be a restic tag",
                "keys are letters, digits, _ . - ; values have no comma, space or control character",
            )
    return [f"--tag={key}={value}" for key, value in tags.items()]


def _tag_filter(tags: Mapping[str, str] | None) -> list[str]:
    """One `--tag=a=1,b=2`: snapshots holding all of these tags (restic ANDs within one --tag)."""
    if not tags:
        return []
    _tag_arguments(tags)
    return ["--tag=" + ",".join(f"{key}={value}" for key, value in tags.items())]


def _check_id(snapshot_id: str, *, latest: bool = False) -> str:
    if (latest and snapshot_id == "latest") or _ID.fullmatch(snapshot_id):
        return snapshot_id
    raise ResticError(f"{snapshot_id!r} is not a snapshot id", "give an id as listed by darse backup ls")


def _parse_tags(raw: list[str] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in raw or []:
        key, _, value = tag.partition("=")
        tags[key] = value
    return tags


def _parse_time(text: str) -> datetime:
    """restic's RFC 3339 time (nanoseconds, `Z` or an offset) as an aware datetime."""
    match = re.fullmatch(r"(.*?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise ValueError(text)
    base, fraction, zone = match.groups()
    fraction = (fraction or ".0")[:7]  # Python keeps microseconds
    return datetime.fromisoformat(base + fraction + ("+00:00" if zone == "Z" else zone))


def parse_snapshot(entry: Mapping[str, Any]) -> Snapshot:
    """One entry of `restic snapshots --json` (or of `forget --json`)."""
    return Snapshot(
        id=str(entry["id"]),
        short_id=str(entry.get("short_id") or str(entry["id"])[:8]),
        time=_parse_time(str(entry["time"])),
        paths=tuple(str(p) for p in entry.get("paths") or ()),
        tags=_parse_tags(entry.get("tags")),
        hostname=str(entry.get("hostname", "")),
        parent=str(entry.get("parent", "")),
    )


def _int(message: Mapping[str, Any], key: str) -> int:
    value = message.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def _status(message: Mapping[str, Any]) -> Status:
    percent = message.get("percent_done", 0)
    return Status(
        percent=float(percent) * 100 if isinstance(percent, int | float) else 0.0,
        bytes_done=_int(message, "bytes_done"),
        total_bytes=_int(message, "total_bytes"),
        files_done=_int(message, "files_done"),
        total_files=_int(message, "total_files"),
    )


def _summary(message: Mapping[str, Any]) -> Backup:
    duration = message.get("total_duration", 0)
    return Backup(
        snapshot_id=str(message.get("snapshot_id", "")),
        files_new=_int(message, "files_new"),
        files_changed=_int(message, "files_changed"),
        files_unmodified=_int(message, "files_unmodified"),
        bytes_added=_int(message, "data_added"),
        bytes_processed=_int(message, "total_bytes_processed"),
        seconds=float(duration) if isinstance(duration, int | float) else 0.0,
    )


def _lines(pipe: IO[bytes]) -> Iterator[str]:
    """Lines of a pipe, each at most MAX_LINE bytes (the rest of a longer line is read and dropped)."""
    while True:
        raw = pipe.readline(MAX_LINE)
        if not raw:
            return
        if not raw.endswith(b"\n") and len(raw) == MAX_LINE:
            while (rest := pipe.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


class _Child:
    """One running restic: the last lines of its standard error kept, and a watchdog that stops it
    after `timeout` seconds in all or `stall` seconds without `progressed()` being called."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        *,
        stdin: bool,
        timeout: float | None,
        stall: float | None,
    ) -> None:
        self.command = command
        self.timeout = timeout
        self.stall = stall
        self.errors: deque[str] = deque(maxlen=MAX_ERROR_LINES)
        self.expired = False  # the watchdog stopped it
        self.interrupted = False  # stopped by darse (watchdog or `stop`), not on its own
        self.killed = False  # SIGKILLed: its lock is left behind
        self._stop_lock = threading.Lock()
        self._finished = threading.Event()
        self.started = self.last_progress = time.monotonic()
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # no terminal to prompt on; a hard kill reaches what restic started
        )
        self._threads = [
            threading.Thread(target=self._read_errors, daemon=True),
            threading.Thread(target=self._watch, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in _lines(self.proc.stderr):
            line = _ANSI.sub("", line).strip()
            if line:
                self.errors.append(line)

    def _watch(self) -> None:
        while not self._finished.wait(0.2):
            now = time.monotonic()
            if (self.timeout is not None and now - self.started > self.timeout) or (
                self.stall is not None and now - self.last_progress > self.stall
            ):
                self.expired = True
                self.stop()
                return

    def stop(self) -> bool:
        """Stop restic if it still runs: SIGINT (it removes its lock and saves nothing), then after
        GRACE seconds SIGKILL to its process group. True when it had to be killed."""
        with self._stop_lock:
            if self.proc.poll() is not None:
                return False
            self.interrupted = True
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(GRACE)
                return False
            except subprocess.TimeoutExpired:
                pass
            except OSError:
                return False
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait()
            self.killed = True
            return True

    def finish(self) -> int:
        """Wait for restic's exit (the watchdog still bounds it) and for its standard error to be read."""
        status = self.proc.wait()
        self._finished.set()
        for thread in self._threads:
            thread.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return status


class _Sink(io.RawIOBase):
    """restic's standard input as the producer of a stream backup sees it: counts bytes, marks progress."""

    def __init__(self, pipe: IO[bytes], child: _Child) -> None:
        super().__init__()
        self._pipe = pipe
        self._child = child
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if size:
            self._pipe.write(data)
            self.written += size
            self._child.progressed()
        return size

    def flush(self) -> None:
        self._pipe.flush()


class Restic:
    """One restic repository (a local folder or any URL restic takes) and the file holding its password.

    `cache_dir` points restic's cache somewhere else than its default (~/.cache/restic); `timeout`
    bounds questions, `stall` streaming work (see the module's docstring)."""

    def __init__(
        self,
        repository: str,
        password_file: Path,
        *,
        binary: str = "restic",
        timeout: float = TIMEOUT,
        stall: float = STALL,
        cache_dir: Path | None = None,
    ) -> None:
        if not repository.strip():
            raise ResticError("no restic repository given", "name one in [backup] of darse.toml")
        self.repository = repository
        self.password_file = Path(password_file)
        self.binary = binary
        self.timeout = timeout
        self.stall = stall
        self.cache_dir = cache_dir
        self._version: tuple[int, int, int] | None = None

    @property
    def display(self) -> str:
        """The repository as messages show it: without credentials."""
        return re.sub(r"[\x00-\x1f\x7f]", "?", mask(self.repository))  # one line, whatever the configuration says

    def __repr__(self) -> str:
        return f"Restic({self.display!r})"

    # --- running restic ----------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _OVERRIDING}
        env["RESTIC_REPOSITORY"] = self.repository
        env["RESTIC_PASSWORD_FILE"] = str(self.password_file)
        env.setdefault("RESTIC_PROGRESS_FPS", "2")  # --json status lines: 60 a second by default
        if self.cache_dir is not None:
            env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def _start(
        self, args: list[str], *, stdin: bool = False, timeout: float | None = None, stall: float | None = None
    ) -> _Child:
        try:
            return _Child([self.binary, *args], self._environment(), stdin=stdin, timeout=timeout, stall=stall)
        except OSError as exc:
            raise ResticMissing(f"cannot run {self.binary}: {exc.strerror or exc}", INSTALL_HINT) from None

    def _hidden(self) -> list[str]:
        """Strings no message may hold: the password itself (restic never prints it; belt and braces)."""
        try:
            with open(self.password_file, "rb") as handle:
                password = handle.read(4096).decode("utf-8", "replace").strip()
        except OSError:
            return []
        return [password] if len(password) >= 8 else []

    def _mask(self, text: str) -> str:
        return mask(text, self.repository, self._hidden())

    def _run(
        self, *args: str, timeout: float | None = None, ok: tuple[int, ...] = (0,), limit: int = MAX_OUTPUT
    ) -> bytes:
        """Run a question and return its output (at most `limit` bytes) or raise its failure."""
        child = self._start(list(args), timeout=self.timeout if timeout is None else timeout)
        assert child.proc.stdout is not None
        out = bytearray()
        while chunk := child.proc.stdout.read(CHUNK):
            out += chunk
            if len(out) > limit:
                self._stopped(child)
                raise ResticFailed(f"restic {args[0]} on {self.display} answered more than {limit} bytes", CHECK_HINT)
        status = self._finish(child)
        self._raise_if_failed(child, status, ok)
        return bytes(out)

    def _stopped(self, child: _Child) -> None:
        child.stop()
        self._finish(child)

    def _finish(self, child: _Child) -> int:
        """Wait for `child`'s end; if it had to be killed, remove the stale lock it left behind."""
        status = child.finish()
        if child.killed and child.command[1] != "unlock":
            child.killed = False  # once
            self.unlock()
        return status

    def _raise_if_failed(self, child: _Child, status: int, ok: tuple[int, ...] = (0,), what: str = "") -> None:
        if child.expired:
            if child.stall is not None:
                raise ResticTimeout(
                    f"restic {what or child.command[1]} made no progress for {child.stall:g} s on {self.display}",
                    "check that the repository answers (network, disk) and try again",
                )
            raise ResticTimeout(
                f"restic {what or child.command[1]} took longer than {child.timeout:g} s on {self.display}",
                "check that the repository answers (network, disk) and try again",
            )
        if status not in ok:
            raise self._failure(child, status, what)

    def _failure(self, child: _Child, status: int, what: str = "") -> ResticError:
        """The error for a failed restic: its reason (one line, masked) and what to do about it."""
        lines = [self._mask(line) for line in child.errors]
        reason = _reason(lines)
        lowered = " ".join(lines).lower()
        command = what or child.command[1]
        where = self.display
        if "wrong password or no key found" in lowered:
            return WrongPassword(
                f"the password in {self.password_file} does not open the restic repository {where}",
                "use the password file made for this repository (darse backup init made it)",
            )
        if "resolving password failed" in lowered:
            return WrongPassword(
                f"cannot read the restic password file {self.password_file}",
                "create it with darse backup init, or fix password_file in [backup] of darse.toml",
            )
        if "config file already exists" in lowered:
            return RepositoryExists(f"a restic repository exists already at {where}", "use it, or name another one")
        if "unable to open config file" in lowered:
            if any(word in lowered for word in ("no such file", "does not exist", "404", "nosuchkey", "not found")):
                return NoRepository(f"no restic repository at {where}", "initialise it with darse backup init")
            return ResticFailed(
                f"cannot reach the restic repository {where}: {reason}",
                "check the repository's address and that it answers",
            )
        if "already locked" in lowered:
            return RepositoryLocked(
                f"the restic repository {where} is locked by another restic: {reason}",
                "wait for it to end; if none runs, remove the stale lock with restic unlock",
            )
        return ResticFailed(f"restic {command} failed on {where}: {reason or f'exit status {status}'}", CHECK_HINT)

    # --- questions -----------------------------------------------------------------------------------

    def version(self) -> tuple[int, int, int]:
        """restic's version; a `ResticMissing` when there is none or it is older than 0.14."""
        if self._version is None:
            out = self._run("version", timeout=min(self.timeout, 60.0), limit=4096).decode("utf-8", "replace")
            match = _VERSION.search(out)
            if not match:
                raise ResticMissing(f"{self.binary} does not say which restic it is", INSTALL_HINT)
            found = (int(match[1]), int(match[2]), int(match[3]))
            if found < MINIMUM_VERSION:
                raise ResticMissing(f"restic {'.'.join(map(str, found))} is too old: darse needs 0.14", INSTALL_HINT)
            self._version = found
        return self._version

    def is_initialised(self) -> bool:
        """Whether a repository exists at the address (one the password does not open exists too)."""
        try:
            self._run("cat", "config", limit=64 * 1024)
        except NoRepository:
            return False
        except WrongPassword as exc:
            if "cannot read" in exc.message:
                raise
            return True
        return True

    def init(self) -> None:
        """Create the repository; a `RepositoryExists` when there is one already (never overwritten)."""
        if self.is_initialised():
            raise RepositoryExists(
                f"a restic repository exists already at {self.display}",
                "darse uses it as it is; to start afresh, name another repository in [backup]",
            )
        self._run("init")

    def snapshots(self, tags: Mapping[str, str] | None = None, host: str | None = None) -> list[Snapshot]:
        """The snapshots holding all of `tags` (and made on `host`), oldest first."""
        args = ["snapshots", "--json", *_tag_filter(tags)]
        if host:
            args.append(f"--host={host}")
        try:
            entries = json.loads(self._run(*args) or b"[]")
            return [parse_snapshot(entry) for entry in entries or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ResticFailed(
                f"restic snapshots answered what darse cannot read: {self.display}", CHECK_HINT
            ) from None

    def unlock(self) -> None:
        """Remove stale locks only (those of a restic that no longer runs): never another's live lock."""
        with contextlib.suppress(ResticError):  # a failed clean-up shows in the next command meeting the lock
            self._run("unlock", timeout=min(self.timeout, 120.0))

    # --- backups -----------------------------------------------------------------------------------

    def backup_path(
        self,
        path: Path,
        tags: Mapping[str, str],
        host: str | None = None,
        progress: Progress | None = None,
        excludes: Sequence[str] = (),
    ) -> Backup:
        """Back a folder (or file) up. restic reuses the latest snapshot of the same host and path as the
        parent, so an unchanged file is not read again: the second backup is incremental."""
        path = Path(os.path.abspath(path))
        if not path.exists():
            raise ResticError(f"{path} does not exist: nothing to back up", "check the path")
        args = ["backup", "--json", *_tag_arguments(tags)]
        if host:
            args.append(f"--host={host}")
        args += [f"--exclude={pattern}" for pattern in excludes]
        child = self._start([*args, "--", str(path)], stall=self.stall)
        state = _BackupOutput(child, progress, self._mask)
        try:
            state.read()  # in this thread: nothing is written to restic
        except BaseException:
            self._stopped(child)
            raise
        status = self._finish(child)
        return self._backup_result(child, status, state, f"backup of {path}")

    def backup_stream(
        self,
        write: Callable[[IO[bytes]], None],
        filename: str,
        tags: Mapping[str, str],
        host: str | None = None,
        progress: Progress | None = None,
    ) -> Backup:
        """Back up what `write` writes (a database dump) as the file `/filename` of a new snapshot, with
        no copy on disk. If `write` raises, or writes nothing, restic saves nothing: it is stopped while
        its input is still open (so it never sees the end of a partial stream), then the repository is
        checked for a snapshot of this stream made since it started and any such snapshot is forgotten.
        The producer's own exception is re-raised, unless restic failed first (then restic's error).
        `progress` is called from the thread that reads restic's output while the producer writes; a
        concurrent stream backup of the same file with the same tags would count as this one's."""
        if not _FILENAME.fullmatch(filename):
            raise ResticError(
                f"{filename!r} cannot name a stream in a snapshot", "use letters, digits, _ . - (no slash)"
            )
        args = ["backup", "--json", "--stdin", f"--stdin-filename={filename}", *_tag_arguments(tags)]
        if host:
            args.append(f"--host={host}")
        started = datetime.now(UTC)
        child = self._start(args, stdin=True, stall=self.stall)
        state = _BackupOutput(child, progress, self._mask)
        reader = threading.Thread(target=state.read, daemon=True)
        reader.start()
        assert child.proc.stdin is not None
        sink = _Sink(child.proc.stdin, child)
        try:
            write(sink)
            if sink.written == 0:
                raise StreamFailed(
                    f"the stream {filename} was empty: no snapshot saved",
                    "check the command that produces it (a dump that wrote nothing failed)",
                )
            sink.flush()
        except BaseException as exc:
            died_first = self._abandon(child, reader, state, tags, filename, host, started, exc)
            if child.expired:  # the producer's broken pipe came from the watchdog stopping restic
                self._raise_if_failed(child, -1, what=f"backup of {filename}")
            if died_first:
                status = self._finish(child)
                raise self._failure(child, status, f"backup of {filename}") from exc
            raise
        with contextlib.suppress(OSError):  # restic ended early: its status and message say why
            child.proc.stdin.close()  # the end of the stream: restic saves the snapshot
        reader.join()
        status = self._finish(child)
        return self._backup_result(child, status, state, f"backup of {filename}")

    def _abandon(
        self,
        child: _Child,
        reader: threading.Thread,
        state: _BackupOutput,
        tags: Mapping[str, str],
        filename: str,
        host: str | None,
        started: datetime,
        exc: BaseException,
    ) -> bool:
        """Stop a stream backup whose producer failed so that nothing is saved; True when restic had
        already failed on its own (its error explains the producer's broken pipe)."""
        if isinstance(exc, BrokenPipeError) or isinstance(exc.__cause__ or exc.__context__, BrokenPipeError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(5)  # restic closed its input: it is exiting
        status = child.proc.poll()
        died_first = status is not None and status != 0 and not child.interrupted
        child.stop()  # before its input is closed: restic never reads the end of a partial stream
        assert child.proc.stdin is not None
        with contextlib.suppress(OSError):
            child.proc.stdin.close()
        reader.join(GRACE)
        self._finish(child)
        if not died_first:  # a restic that failed before the end of its input saved nothing
            self._forget_partial(state, tags, filename, host, started)
        return died_first

    def _forget_partial(
        self, state: _BackupOutput, tags: Mapping[str, str], filename: str, host: str | None, started: datetime
    ) -> None:
        """Forget any snapshot an abandoned stream backup may still have saved (restic finished first)."""
        found = [
            snapshot.id
            for snapshot in self.snapshots(tags, host)
            if snapshot.time >= started and snapshot.paths == (f"/{filename}",)
        ]
        if state.summary is not None and state.summary.snapshot_id:
            found.append(state.summary.snapshot_id)
        if found:
            self.forget_ids(sorted(set(found)))

    def _backup_result(self, child: _Child, status: int, state: _BackupOutput, what: str) -> Backup:
        self._raise_if_failed(child, status, ok=(0, 3), what=what)
        if state.summary is None or not state.summary.snapshot_id:
            raise ResticFailed(f"restic {what} on {self.display} ended without naming its snapshot", CHECK_HINT)
        if status == 3:
            raise IncompleteBackup(
                f"restic saved snapshot {state.summary.snapshot_id} of {what} without some files: {state.last_error}",
                "check the files' permissions (restic runs as darse's user) and back up again",
                state.summary.snapshot_id,
            )
        return state.summary

    # --- reading back ------------------------------------------------------------------------------

    def dump(self, snapshot_id: str, filename: str, write: Callable[[bytes], None]) -> int:
        """Stream one file of a snapshot (`/name.sql` of a stream backup) to `write`, piece by piece
        (memory stays bounded); returns the number of bytes. If `write` raises, restic is stopped."""
        child = self._start(["dump", "--", _check_id(snapshot_id, latest=True), filename], stall=self.stall)
        assert child.proc.stdout is not None
        size = 0
        try:
            while chunk := child.proc.stdout.read1(CHUNK):
                child.progressed()
                write(chunk)
                size += len(chunk)
        except BaseException:
            self._stopped(child)
            raise
        status = self._finish(child)
        self._raise_if_failed(child, status, what=f"dump of {filename}")
        return size

    def restore(
        self,
        snapshot_id: str,
        target: Path,
        include: str | None = None,
        timeout: float = RESTORE_TIMEOUT,
    ) -> None:
        """Restore a snapshot (or only the paths matching `include`) under `target`: a snapshot of
        /a/b lands in target/a/b, with its files' modes and times (and owners, as root)."""
        args = ["restore", f"--target={os.path.abspath(target)}"]
        if include is not None:
            args.append(f"--include={include}")
        self._run(*args, "--", _check_id(snapshot_id, latest=True), timeout=timeout, limit=1 << 20)

    def forget(
        self,
        keep: Mapping[str, int],
        tags: Mapping[str, str] | None = None,
        prune: bool = True,
        host: str | None = None,
        group_by: str = "host,paths",
        dry_run: bool = False,
    ) -> list[str]:
        """Forget the snapshots (holding all of `tags`) that no `keep` rule keeps ({"last": 3, "daily":
        7, ...}, per group of snapshots of the same host and paths; `group_by=""`: all in one group),
        then prune their data unless `prune` is false. Returns the ids forgotten (with `dry_run`: the
        ids restic would forget, and nothing is changed)."""
        unknown = set(keep) - set(KEEP_RULES)
        if unknown or not keep or any(type(n) is not int or n < 0 for n in keep.values()):
            raise ResticError(
                f"keep rules must be whole numbers for {', '.join(KEEP_RULES)}: got {dict(keep)}",
                "for example keep = {last = 3, daily = 7}",
            )
        if not any(keep.values()):
            raise ResticError("keep rules that keep nothing would forget every snapshot", "keep at least one")
        args = ["forget", "--json", f"--group-by={group_by}", *_tag_filter(tags)]
        args += [f"--keep-{rule}={count}" for rule, count in keep.items() if count]
        if host:
            args.append(f"--host={host}")
        if dry_run:
            args.append("--dry-run")
        try:
            groups = json.loads(self._run(*args) or b"[]") or []
            removed = [str(entry["id"]) for group in groups for entry in group.get("remove") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ResticFailed(f"restic forget answered what darse cannot read on {self.display}", CHECK_HINT) from None
        if prune and removed and not dry_run:
            self.prune()
        return removed

    def forget_ids(self, ids: Sequence[str], prune: bool = False) -> None:
        """Forget these snapshots (an id restic does not know is ignored)."""
        if not ids:
            return
        self._run("forget", "--", *[_check_id(i) for i in ids])
        if prune:
            self.prune()

    def prune(self) -> None:
        """Remove the data no snapshot uses any more (an exclusive lock while it runs)."""
        self._run("prune", timeout=max(self.timeout, PRUNE_TIMEOUT), limit=1 << 20)


class _BackupOutput:
    """The JSON lines of `restic backup --json`, read as they come: status lines to the progress
    callback (and to the watchdog as progress), the summary, and the last error restic reported."""

    def __init__(self, child: _Child, progress: Progress | None, mask_text: Callable[[str], str]) -> None:
        self.child = child
        self.progress = progress
        self.mask = mask_text
        self.summary: Backup | None = None
        self.last_error = ""
        self._seen: tuple[int, int] = (-1, -1)

    def read(self) -> None:
        assert self.child.proc.stdout is not None
        for line in _lines(self.child.proc.stdout):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("message_type")
            if kind == "status":
                status = _status(message)
                if (status.bytes_done, status.files_done) != self._seen:
                    self._seen = (status.bytes_done, status.files_done)
                    self.child.progressed()
                if self.progress is not None:
                    try:
                        self.progress(status)
                    except Exception:
                        self.progress = None  # a listener that failed (a closed page) must not fail the backup
            elif kind == "summary":
                self.summary = _summary(message)
                self.child.progressed()
            elif kind == "error":
                item = str(message.get("item", ""))
                error = message.get("error")
                detail = error.get("Op", "") if isinstance(error, dict) else str(error)
                self.last_error = self.mask(f"{item}: {detail} ({message.get('during', '')})"[:500])


def _reason(lines: list[str]) -> str:
    """The line of restic's standard error that says why: its `Fatal:` line, else the first line that
    reads like an error, else the last line."""
    for line in lines:
        if "Fatal:" in line:
            return line.replace("Fatal: ", "")[:500]
    for line in lines:
        if re.search(r"(?i)unable to|error|failed|invalid|cannot|denied|refused", line):
            return line[:500]
    return lines[-1][:500] if lines else ""
