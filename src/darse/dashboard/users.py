"""The dashboard's users: a file of bcrypt hashes with a role each, managed by `darse serve user ...`.

One user a line, `name:role:bcrypt-hash` (`alice:operator:$2b$12$...`); lines starting with `#` and
blank lines are kept as they are. Roles: `viewer` reads everything (secret values, which nobody sees,
excepted), `operator` also acts. Whoever signs in as an operator controls the Docker engine, which is
root on the host: the file is written atomically with mode 0600, and a link or an oversized file is
refused rather than followed.

The dashboard reads this file on every request (through `UsersCache`, which re-reads it only when it
changed), so removing a user or changing a role or a password applies at once to open sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import bcrypt

from darse.errors import DarseError
from darse.fsutil import UnsafeFile, read_text_file, write_atomic
from darse.images.registry.htpasswd import check_username
from darse.images.registry.htpasswd import hash_password as bcrypt_hash

Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")  # each one can do what the ones before it can
MIN_PASSWORD_CHARS = 12
MAX_FILE_BYTES = 1024 * 1024  # ~10,000 users: anything larger is not a users file
# bcrypt cost: checked once per sign-in (sessions carry the user after that), so it can be high.
ROUNDS = 12
USERS_FILE_NAME = "dashboard-users"
SESSION_KEY_NAME = "dashboard-session-key"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")


@dataclass(frozen=True)
class User:
    """A user as the dashboard sees it: never the hash."""

    name: str
    role: Role

    def can(self, role: str) -> bool:
        """True when this user's role is `role` or above it (`operator` can do what a `viewer` can)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        return ROLES.index(self.role) >= ROLES.index(role)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role}


@dataclass(frozen=True)
class Account:
    """A line of the file: the user, its hash, and a short fingerprint of the hash (a session remembers
    it, so that a new password ends the sessions opened with the old one)."""

    user: User
    digest: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.digest.encode("ascii", "replace")).hexdigest()[:16]


@dataclass(frozen=True)
class UserChange:
    """What `add_user` or `remove_user` did (the `--json` of `darse serve user add|remove`)."""

    file: Path
    user: User
    action: Literal["added", "changed", "removed"]

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), **self.user.to_dict(), "action": self.action}


def check_name(name: str) -> None:
    """Refuse a name that could break the file or a page: letters, digits, `.`, `_`, `@`, `-` (the
    registry's htpasswd rule, so one name works for both)."""
    check_username(name)


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise DarseError(f"unknown role {role[:40]!r}", "use viewer (reads) or operator (reads and acts)")
    return role  # type: ignore[return-value]


def check_password(password: str) -> None:
    """At least 12 characters (the registry's bcrypt helper refuses the rest: over 72 bytes, which
    bcrypt would ignore, and line breaks)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise DarseError(
            f"password shorter than {MIN_PASSWORD_CHARS} characters",
            "whoever signs in controls the Docker engine: use a long one (a passphrase of several words)",
        )


def hash_password(password: str, rounds: int = ROUNDS) -> str:
    check_password(password)
    return bcrypt_hash(password, rounds)


# --- the file ---------------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    """The file's lines; [] when it does not exist. A link, a special or oversized file is refused."""
    path = Path(path)
    if path.is_symlink():
        raise DarseError(f"{path} is a symbolic link", "the users file must be a regular file; point --users at it")
    if not path.exists():
        return []
    try:
        return read_text_file(path, limit=MAX_FILE_BYTES).splitlines()
    except UnsafeFile as exc:
        raise DarseError(exc.message, "the users file must be a regular file written by darse serve user add") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DarseError(f"cannot read {path}: {type(exc).__name__}", "check the file and its permissions") from None


def _parse(line: str) -> Account | None:
    if not line.strip() or line.startswith("#"):
        return None
    name, _, rest = line.partition(":")
    role, _, digest = rest.partition(":")
    if not _NAME.match(name) or role not in ROLES or not _BCRYPT.match(digest):
        return None  # not ours: kept in the file, never a user
    return Account(User(name, role), digest)  # type: ignore[arg-type]


def read_accounts(path: Path) -> dict[str, Account]:
    """Name → account, in file order (a repeated name: the last line wins, as `add_user` never writes)."""
    accounts = {}
    for line in _read_lines(path):
        account = _parse(line)
        if account is not None:
            accounts[account.user.name] = account
    return accounts


def _write(path: Path, lines: list[str]) -> None:
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, "".join(line + "\n" for line in lines), mode=0o600)


def add_user(path: Path, name: str, password: str, role: str = "viewer", *, rounds: int = ROUNDS) -> UserChange:
    """Add `name` with `role`, or change its password and role; the file is rewritten atomically (0600)."""
    check_name(name)
    checked = check_role(role)
    entry = f"{name}:{checked}:{hash_password(password, rounds)}"
    lines = _read_lines(path)
    action: Literal["added", "changed"] = "added"
    kept = []
    for line in lines:
        if not line.startswith("#") and line.partition(":")[0] == name:
            if action == "added":
                kept.append(entry)
            action = "changed"
        else:
            kept.append(line)
    if action == "added":
        kept.append(entry)
    _write(path, kept)
    return UserChange(Path(path), User(name, checked), action)


def set_role(path: Path, name: str, role: str) -> UserChange:
    """Give `name` another role, password unchanged: open sessions get it at their next request."""
    check_name(name)
    checked = check_role(role)
    lines = _read_lines(path)
    found = False
    for index, line in enumerate(lines):
        account = None if line.startswith("#") else _parse(line)
        if account is not None and account.user.name == name:
            lines[index] = f"{name}:{checked}:{account.digest}"
            found = True
    if not found:
        raise DarseError(f"no user {name} in {path}", "list them with darse serve user list")
    _write(path, lines)
    return UserChange(Path(path), User(name, checked), "changed")


def remove_user(path: Path, name: str) -> UserChange:
    """Remove `name`: its open sessions end at their next request."""
    check_name(name)
    lines = _read_lines(path)
    accounts = read_accounts(path)
    kept = [line for line in lines if line.startswith("#") or line.partition(":")[0] != name]
    if len(kept) == len(lines):
        raise DarseError(f"no user {name} in {path}", "list them with darse serve user list")
    _write(path, kept)
    role = accounts[name].user.role if name in accounts else "viewer"
    return UserChange(Path(path), User(name, role), "removed")


def list_users(path: Path) -> list[User]:
    """The users, in file order (names and roles; hashes never leave this module)."""
    return [account.user for account in read_accounts(path).values()]


_DUMMY: dict[int, bytes] = {}


def _dummy_hash(rounds: int) -> bytes:
    """A hash of a random password at the cost of the file's hashes: checked for an unknown name, so
    that the time of an answer does not tell which names exist."""
    if rounds not in _DUMMY:
        _DUMMY[rounds] = bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt(rounds=rounds))
    return _DUMMY[rounds]


def _rounds_of(digest: str) -> int:
    return int(digest[4:6])


def check_account(accounts: dict[str, Account], name: str, password: str) -> Account | None:
    """The account when `password` is `name`'s; None otherwise, after the same bcrypt work either way."""
    raw = password.encode("utf-8")[:72]
    account = accounts.get(name)
    if account is None:
        rounds = max((_rounds_of(a.digest) for a in accounts.values()), default=ROUNDS)
        bcrypt.checkpw(raw, _dummy_hash(rounds))
        return None
    try:
        ok = bcrypt.checkpw(raw, account.digest.encode("ascii"))
    except ValueError:  # a hash bcrypt cannot read
        return None
    return account if ok else None


def verify(path: Path, name: str, password: str) -> User | None:
    """The user when `password` is `name`'s password in the file at `path`, else None (unknown names
    cost the same bcrypt work as known ones)."""
    account = check_account(read_accounts(path), name, password)
    return account.user if account else None


class UsersCache:
    """The users file as the dashboard reads it on every request: parsed again only when the file
    changed (its inode, size or modification time: `write_atomic` replaces the inode)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: tuple[int, int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def accounts(self) -> dict[str, Account]:
        """Name → account; {} when the file is missing (nobody can sign in). A DarseError propagates
        when it is a link or unreadable: the caller decides (the dashboard signs everyone out)."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            self._key, self._accounts = None, {}
            return {}
        key = (info.st_ino, info.st_size, info.st_mtime_ns)
        if key != self._key:
            self._accounts = read_accounts(self.path)
            self._key = key
        return self._accounts

    def get(self, name: str) -> Account | None:
        return self.accounts().get(name)


# --- where the files are ------------------------------------------------------------------------------


def default_users_file(start: Path) -> Path:
    """`<state dir>/dashboard-users`: the state folder of the repository around `start` (DARSE_STATE_DIR,
    darse.toml's `state_dir`, /var/lib/darse or ~/.local/state/darse, as for the deployment history)."""
    from darse.config import load_config
    from darse.model.repository import find_root
    from darse.state import state_dir

    root = find_root(Path(start))
    return state_dir(load_config(root), root) / USERS_FILE_NAME


def session_key(users_file: Path) -> str:
    """The key signing session cookies, from a 0600 file beside the users file (created once, so that
    sessions survive a restart; deleting the file signs everyone out at the next start)."""
    path = Path(users_file).parent / SESSION_KEY_NAME
    if not os.path.lexists(path):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process made one meanwhile: use it
                os.link(temp, path)  # atomic, and never over an existing key
        finally:
            temp.unlink(missing_ok=True)
    if path.is_symlink():
        raise DarseError(f"{path} is a symbolic link", "remove it: darse makes a new key there")
    try:
        key = read_text_file(path, limit=4096).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DarseError(f"cannot read {path}: {type(exc).__name__}", "remove it: darse makes a new one") from None
    if len(key) < 32:
        raise DarseError(f"{path} holds no usable key", "remove it: darse makes a new key there")
    return key
