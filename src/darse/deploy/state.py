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
from collections.abc import Iterator
from pathlib import Path

from darse.config import RepoConfig
from darse.errors import DarseError

SYSTEM_STATE_DIR = Path("/var/lib/darse")


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
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DarseError(
                f"another darse is deploying {project} on this host", "wait for it to finish, then retry"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
