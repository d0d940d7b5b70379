"""The registry's htpasswd file: one `user:bcrypt-hash` per line.

bcrypt is the only scheme the distribution registry accepts, so it is the only one written. The file
is rewritten atomically with mode 0600; lines darse does not understand are kept as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import bcrypt

from darse.errors import DarseError
from darse.fsutil import write_atomic

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
MAX_FILE_BYTES = 4 * 1024 * 1024
# bcrypt cost. The registry checks the hash on every request (no sessions): cost 10 is ~80 ms of the
# registry's CPU per request on a small host; `htpasswd -B` defaults to 5 (~2 ms). `--cost` chooses.
ROUNDS = 10


def check_username(name: str) -> None:
    if not _USER.match(name):
        raise DarseError(
            f"not a valid user name: {name[:40]!r}", "use letters, digits, '.', '_', '@', '-' (at most 64)"
        )


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DarseError(f"{path} is over {MAX_FILE_BYTES} bytes", "that is not an htpasswd file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DarseError(f"cannot read {path}: {type(exc).__name__}", "check the file") from None


def read_users(path: Path) -> dict[str, str]:
    """User name → hash, in file order."""
    users: dict[str, str] = {}
    for line in _lines(path):
        name, sep, digest = line.partition(":")
        if sep and name and not line.startswith("#"):
            users[name] = digest
    return users


def list_users(path: Path) -> list[tuple[str, bool]]:
    """(name, usable) pairs: usable means a bcrypt hash, the only kind the registry checks."""
    return [(name, bool(_BCRYPT.match(digest))) for name, digest in read_users(path).items()]


def hash_password(password: str, cost: int = ROUNDS) -> str:
    raw = password.encode("utf-8")
    if not raw:
        raise DarseError("empty password refused", "type a password")
    if len(raw) > 72:
        raise DarseError("password longer than 72 bytes", "bcrypt ignores what follows byte 72; use a shorter one")
    if "\n" in password or "\r" in password:
        raise DarseError("password contains a line break", "type it on one line")
    if not 4 <= cost <= 14:
        raise DarseError(f"bcrypt cost {cost} out of range", "use 4 to 14 (default 10)")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=cost)).decode("ascii")


def add_user(path: Path, name: str, password: str, cost: int = ROUNDS) -> bool:
    """Add `name`, or change its password; True when the user already existed."""
    check_username(name)
    entry = f"{name}:{hash_password(password, cost)}"
    lines = _lines(path)
    existed = False
    for index, line in enumerate(lines):
        if line.partition(":")[0] == name and not line.startswith("#"):
            lines[index] = entry
            existed = True
    if not existed:
        lines.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "\n".join(lines) + "\n", mode=0o600)
    return existed


def remove_user(path: Path, name: str) -> None:
    check_username(name)
    lines = _lines(path)
    kept = [line for line in lines if line.startswith("#") or line.partition(":")[0] != name]
    if len(kept) == len(lines):
        raise DarseError(f"no user {name} in {path}", "list them with darse registry user list")
    write_atomic(path, "".join(line + "\n" for line in kept), mode=0o600)
