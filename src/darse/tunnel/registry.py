"""The host's open tunnels: one small JSON file per tunnel in `<state>/tunnels/`, written by the darse
process that holds it (in the foreground or in the background) and removed when it ends.

A file whose process is gone (killed, or the machine rebooted) is dropped when read: `darse tunnel ls`
never shows a tunnel that no longer exists. Removing a file is also how `darse tunnel stop` asks a process
holding several tunnels to close one of them (`darse.tunnel.run.keep_alive` watches its files).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from darse.fsutil import UnsafeFile, read_bounded, write_atomic

FOLDER = "tunnels"
MAX_ENTRY = 16 * 1024  # bytes of one entry: a longer file is not darse's


@dataclass(frozen=True)
class TunnelEntry:
    name: str
    folder: str
    service: str
    target: str
    local: str  # ADDR:PORT darse listens on
    remote: str  # the container's IP:port, on the target's host
    pid: int
    started: str  # ISO 8601, UTC
    background: bool = False
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def folder(state: Path) -> Path:
    path = state / FOLDER
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def entry_path(state: Path, name: str) -> Path:
    return folder(state) / f"{quote(name, safe='')}.json"


def write_entry(state: Path, entry: TunnelEntry) -> None:
    write_atomic(entry_path(state, entry.name), json.dumps(entry.to_dict()) + "\n", mode=0o600)


def remove_entry(state: Path, name: str, pid: int | None = None) -> None:
    """Remove `name`'s entry (only when it is `pid`'s, when given: another process may hold the name now)."""
    path = entry_path(state, name)
    if pid is not None:
        entry = _read(path)
        if entry is None or entry.pid != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def own_entry(state: Path, name: str) -> TunnelEntry | None:
    """The entry of `name` as written, for the process holding it (no check that a darse holds it)."""
    return _read(entry_path(state, name))


def entry(state: Path, name: str) -> TunnelEntry | None:
    """The live entry of `name`, or None (a dead one is removed)."""
    path = entry_path(state, name)
    found = _read(path)
    if found is not None and not process_alive(found.pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return found


def entries(state: Path) -> list[TunnelEntry]:
    """Every open tunnel of this host, by name; entries of processes that are gone are removed."""
    out = []
    for path in sorted(folder(state).glob("*.json")):
        found = _read(path)
        if found is None or not process_alive(found.pid):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        out.append(found)
    return sorted(out, key=lambda e: e.name)


def _read(path: Path) -> TunnelEntry | None:
    try:
        data = json.loads(read_bounded(path, MAX_ENTRY))
        return TunnelEntry(**{key: data[key] for key in TunnelEntry.__dataclass_fields__ if key in data})
    except (OSError, UnsafeFile, ValueError, TypeError):
        return None


def process_alive(pid: int) -> bool:
    """Whether `pid` runs and is a darse (after a reboot the number may belong to anything else)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read(64 * 1024)
        with open(f"/proc/{pid}/stat", "rb") as handle:
            zombie = handle.read(4096).rsplit(b")", 1)[-1].split()[:1] == [b"Z"]
    except OSError:
        return True  # no /proc: trust the signal
    return b"darse" in command and not zombie
