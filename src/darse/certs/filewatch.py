"""Changes of one file (Traefik's acme.json), for `darse certs watch`.

The file's parent folder is watched, not the file: Traefik may rewrite acme.json in place, a tool may
replace it by a rename, an admin may delete and restore it, and a watch on the file itself would go blind
after the first rename. Linux's inotify (through ctypes on libc, no dependency) reports changes at once;
where it is unavailable (not Linux, no libc symbol, out of instances or watches, the folder missing) the
file's `os.stat` is compared every `poll_interval` instead. If the folder itself is deleted or moved
away, the watch falls back to polling its path rather than going blind.

A change is only a hint: the caller reads the file again (acme.read_acme checks it) after `settle`, so
that a burst of rewrites gives one read, and a file rewritten forever still gets read after `longest`.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import select
import struct
import sys
import time
from pathlib import Path
from types import TracebackType

INOTIFY = "inotify"
POLLING = "polling"

READ_SIZE = 64 * 1024  # bytes per read of the inotify descriptor: ~250 events of the longest name

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = (
    IN_CLOSE_WRITE
    | IN_MODIFY
    | IN_MOVED_TO
    | IN_MOVED_FROM
    | IN_CREATE
    | IN_DELETE
    | IN_ATTRIB
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)
FOLDER_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT  # the watch no longer sees the path
EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then `len` bytes of name

StatState = tuple[int, ...] | tuple[str, int] | None


class _Inotify:
    """One inotify descriptor watching one folder; raises OSError when the system cannot provide it."""

    def __init__(self, folder: Path) -> None:
        libc = _libc()
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"inotify_init1: {os.strerror(error)}")
        try:
            wd = libc.inotify_add_watch(self.fd, os.fsencode(folder), WATCH_MASK | IN_ONLYDIR)
            if wd < 0:
                error = ctypes.get_errno()
                raise OSError(error, f"inotify_add_watch: {os.strerror(error)}")
        except BaseException:
            os.close(self.fd)
            raise
        self.wd = wd
        self._poller = select.poll()  # not select.select: a long-lived process may hold fds past 1024
        self._poller.register(self.fd, select.POLLIN)

    def ready(self, timeout: float | None) -> bool:
        """Whether events wait, after at most `timeout` seconds (None: for ever)."""
        return bool(self._poller.poll(None if timeout is None else math.ceil(timeout * 1000)))

    def read(self) -> list[tuple[int, int, bytes]]:
        """The events waiting (wd, mask, name), or none; at most READ_SIZE bytes are read at a time."""
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return []
        return parse_events(data)

    def close(self) -> None:
        os.close(self.fd)  # removes the watch too


def _libc() -> ctypes.CDLL:
    """libc's inotify functions, typed; OSError when this system has none (not Linux, an old libc)."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, f"no inotify on {sys.platform}")
    libc = ctypes.CDLL(None, use_errno=True)  # the running process's libc, without searching for it
    try:
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_init1.restype = ctypes.c_int
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_add_watch.restype = ctypes.c_int
    except AttributeError as e:
        raise OSError(errno.ENOSYS, "this libc has no inotify functions") from e
    return libc


def parse_events(data: bytes) -> list[tuple[int, int, bytes]]:
    """The `struct inotify_event` records in one read: (wd, mask, name without its NUL padding).
    A record cut short (which the kernel never sends) ends the list rather than being guessed at."""
    events = []
    offset = 0
    while offset + EVENT.size <= len(data):
        wd, mask, _cookie, length = EVENT.unpack_from(data, offset)
        offset += EVENT.size
        if offset + length > len(data):
            break
        name = data[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        events.append((wd, mask, name))
    return events


class FileWatch:
    """Changes of one file, watched through its parent folder (so a rename-replace, a delete and a
    re-create are seen).

    `kind` says how: "inotify", or "polling" when inotify is unavailable (`fallback_reason` says why).
    In polling mode a rewrite that keeps the size, within the file system's timestamp granularity (a few
    milliseconds), can go unseen until the next change; Traefik's rewrites are far apart."""

    def __init__(self, path: Path, *, poll_interval: float = 0.5, force_polling: bool = False) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.path = Path(path)
        self.poll_interval = poll_interval
        self.kind = POLLING
        self.fallback_reason: str | None = "polling was asked for" if force_polling else None
        self._inotify: _Inotify | None = None
        self._state: StatState = None
        if not force_polling:
            try:
                self._inotify = _Inotify(self.path.parent)
                self.kind = INOTIFY
            except OSError as e:
                self.fallback_reason = e.strerror or str(e)
        if self._inotify is None:
            self._state = self._stat()

    def wait(self, timeout: float | None) -> bool:
        """True when the file changed (content written, replaced by rename, created, deleted, attributes)
        since the watch began or the last call; False when `timeout` seconds passed without (None: wait
        for ever)."""
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if self._inotify is not None:
                changed = self._wait_inotify(self._inotify, remaining)
            else:
                changed = self._poll_once()
                if not changed and remaining != 0.0:
                    time.sleep(self.poll_interval if remaining is None else min(self.poll_interval, remaining))
                    continue
            if changed:
                return True
            if remaining == 0.0:
                return False

    def settle(self, quiet: float, longest: float) -> None:
        """After a change: return once no change was seen for `quiet` seconds, or after `longest` seconds
        in all (a file rewritten for ever still gets read). In polling mode, a `quiet` shorter than
        `poll_interval` is a single look."""
        end = time.monotonic() + longest
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0 or not self.wait(min(quiet, remaining)):
                return

    def close(self) -> None:
        """Releases the inotify descriptor; the watch may be closed twice."""
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def __enter__(self) -> FileWatch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _wait_inotify(self, inotify: _Inotify, timeout: float | None) -> bool:
        """One wait of at most `timeout` seconds for events, then the events read: True when one is about
        the file (or the queue overflowed, or the folder went away, which switches to polling)."""
        if not inotify.ready(timeout):
            return False
        try:
            events = inotify.read()
        except OSError as e:  # the descriptor failed: an unseen change is possible, so say changed
            self._fall_back(f"reading inotify events failed: {e.strerror or e}")
            return True
        names = self._names()
        changed = False
        for wd, mask, name in events:
            if mask & IN_Q_OVERFLOW:
                changed = True
            elif wd == inotify.wd and mask & FOLDER_GONE:
                self._fall_back("the folder was deleted or moved away")
                return True
            elif wd == inotify.wd and name in names:
                changed = True
        return changed

    def _names(self) -> set[bytes]:
        """The names in the folder whose events count: the file's, and its target's when it is a link to
        a file beside it (a rewrite of the target changes what the path reads)."""
        names = {os.fsencode(self.path.name)}
        try:
            target = Path(os.readlink(self.path))
        except OSError:
            return names
        if not target.is_absolute():
            target = self.path.parent / target
        if target.parent == self.path.parent:
            names.add(os.fsencode(target.name))
        return names

    def _fall_back(self, reason: str) -> None:
        """From now on, poll the path: the inotify watch cannot see it any more."""
        self.close()
        self.kind = POLLING
        self.fallback_reason = reason
        self._state = self._stat()

    def _poll_once(self) -> bool:
        state = self._stat()
        if state == self._state:
            return False
        self._state = state
        return True

    def _stat(self) -> StatState:
        """What the path looks like now: the file's identity, size, times and owner (a link is followed),
        None when it is missing, or the error that stat met (a folder made unreadable is a state too)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as e:
            return ("error", e.errno or 0)
        return (
            st.st_ino,
            st.st_dev,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_mode,
            st.st_uid,
            st.st_gid,
        )
