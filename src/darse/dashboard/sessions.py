"""Sessions signed out before their cookie expired.

A session is a signed cookie: the server keeps nothing, so a copy of it (a shared computer's profile,
a proxy's log, malware) would stay valid until its idle expiry even after "Sign out". Each session has
a random id; signing out writes that id, with the time its cookie would have expired, to a file beside
the users file (0600, rewritten atomically, read again only when it changed), and a session whose id is
there is refused. The file survives a restart, as the session key does. Expired ids are dropped when
the file is written, so it stays as long as the sign-outs of one idle period.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import UnsafeFile, read_text_file, write_atomic

SIGNED_OUT_NAME = "dashboard-signed-out"
MAX_FILE_BYTES = 8 * 1024 * 1024  # ~100,000 sign-outs within one idle period
_LINE = re.compile(r"^([A-Za-z0-9_-]{16,64}) ([0-9]{1,12})$")


def signed_out_file(users_file: Path) -> Path:
    return Path(users_file).parent / SIGNED_OUT_NAME


class SignedOutSessions:
    """The signed-out session ids of one dashboard (thread-safe: sign-outs run on the event loop,
    lookups too, but tests and several workers may share one instance)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._until: dict[str, int] = {}

    def _load(self) -> dict[str, int]:
        """Session id → the time its cookie expires; reread only when the file changed."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            self._key, self._until = None, {}
            return self._until
        key = (info.st_ino, info.st_size, info.st_mtime_ns)
        if key == self._key:
            return self._until
        try:
            text = read_text_file(self.path, limit=MAX_FILE_BYTES)
        except (UnsafeFile, OSError, UnicodeDecodeError) as exc:
            raise DarseError(
                f"cannot read {self.path}: {type(exc).__name__}",
                "it must be a regular file written by darse serve; remove it to forget the sign-outs",
            ) from None
        until = {}
        for line in text.splitlines():
            found = _LINE.match(line)
            if found:
                until[found.group(1)] = int(found.group(2))
        self._key, self._until = key, until
        return until

    def __contains__(self, session_id: object) -> bool:
        with self._lock:
            return isinstance(session_id, str) and session_id in self._load()

    def add(self, session_id: str, expires: float) -> None:
        """Refuse `session_id` from now until `expires` (seconds since the epoch)."""
        if not _LINE.match(f"{session_id} 0"):
            return  # not an id this dashboard made: nothing to refuse
        now = time.time()
        with self._lock:
            kept = {sid: until for sid, until in self._load().items() if until > now}
            kept[session_id] = int(expires) + 1
            text = "".join(f"{sid} {until}\n" for sid, until in kept.items())
            if len(text) > MAX_FILE_BYTES:  # unreadable past this: every session would be refused, for good
                raise DarseError(
                    f"{self.path} is full: this sign-out is not recorded",
                    "the ids of sessions expire with their idle time; the file shrinks on a later sign-out",
                )
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(self.path, text, mode=0o600)
            self._key = None  # read back on the next lookup (another process may write too)
