"""Where darse keeps per-host state (history database, rollback releases), and a per-project lock.

The default is per host, not per checkout, so admins sharing one checkout (the seed's practice) share one
history: `DARSE_STATE_DIR`, else darse.toml's `state_dir` (relative to the repository root), else
`/var/lib/darse` when it is writable (or can be created), else `$XDG_STATE_HOME/darse`
(`~/.local/state/darse`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from darse.config import RepoConfig
from darse.errors import DarseError

SYSTEM_STATE_DIR = Path("/var/lib/darse")
LOCK_PATIENCE = 1.0  # s a deployment waits for the lock: `is_locked` holds it for an instant, never longer


def state_dir(config: RepoConfig | None, root: Path | None) -> Path:
    """The state folder, created (mode 0700: the history names hosts' deployments) when missing."""
    env = os.environ.get("DARSE_STATE_DIR")
    if env:
        path = Path(env).expanduser()
    elif config is not None and config.state_dir:
        path = Path(config.state_dir).expanduser()
        if not path.is_absolute() and root is not None:
            path = root / path
    elif _usable(SYSTEM_STATE_DIR):
        path = SYSTEM_STATE_DIR
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(base) / "darse"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DarseError(
            f"cannot create the state folder {path}: {exc.strerror}", "set DARSE_STATE_DIR or state_dir in darse.toml"
        ) from None
    if not os.access(path, os.W_OK):
        raise DarseError(f"the state folder {path} is not writable", "set DARSE_STATE_DIR or state_dir in darse.toml")
    return path


def _usable(path: Path) -> bool:
    if path.is_dir():
        return os.access(path, os.W_OK)
    return os.access(path.parent, os.W_OK)


@contextlib.contextmanager
def project_lock(state: Path, project: str) -> Iterator[None]:
    """One deployment of a project at a time on this host (two admins typing `darse up` together)."""
    locks = state / "locks"
    locks.mkdir(mode=0o700, exist_ok=True)
    with open(locks / f"{project}.lock", "w") as handle:
        deadline = time.monotonic() + LOCK_PATIENCE
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DarseError(
                        f"another darse is deploying {project} on this host", "wait for it to finish, then retry"
                    ) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_locked(state: Path, project: str) -> bool:
    """Whether a darse holds the project's lock now (a deployment, rollback, restart or down is running
    on this host): `darse status` says `deploying` rather than judging containers mid-change. Asked by
    taking a shared lock without waiting and dropping it at once (a deployment starting at that instant
    waits for it: see `LOCK_PATIENCE`); a missing lock file means nobody ever held it."""
    try:
        fd = os.open(state / "locks" / f"{project}.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and with it the shared lock, when it was taken
    return False
