"""Files on disk, safely: written atomically (a reader sees the old content or the new one, never half
of it), and read only when they are regular files of a bounded size (a committed link to `/dev/zero`
or a FIFO must not make darse read forever)."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from darse.errors import DarseError


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write to a temporary file in the same folder, fsync, chmod, then rename over `path`."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class UnsafeFile(DarseError, OSError):
    """A file darse refuses to read: a link leaving its tree, a special file, or one over the size limit.
    An OSError too, so that code which skips an unreadable file skips this one the same way."""

    def __init__(self, path: Path, reason: str, hint: str) -> None:
        super().__init__(f"{path} is {reason}", hint)
        self.reason = reason  # without the path: for findings, which name the file already
        self.strerror = self.message  # what `except OSError` handlers quote


MAX_TEXT_BYTES = 4 * 1024 * 1024  # a Compose file, Dockerfile, CHANGELOG or env file larger than this is hostile


def tree_of(path: Path) -> Path:
    """The repository a file belongs to: the nearest folder above it holding darse.toml or .git (as
    `darse.model.repository.find_root` decides), else the file's own folder."""
    for folder in Path(os.path.abspath(path)).parents:
        if (folder / "darse.toml").exists() or (folder / ".git").exists():
            return folder
    return Path(os.path.abspath(path)).parent


def open_regular(path: Path, *, within: Path | None = None) -> BinaryIO:
    """Open `path` for reading only if it is a regular file (never a FIFO, device or socket, which could
    block or never end); a symbolic link is followed only to a regular file inside `within` (by
    default the repository holding the link: a committed link must not read the host's files)."""
    path = Path(path)
    target = path
    if path.is_symlink():
        real = Path(os.path.realpath(path))
        within = within if within is not None else tree_of(path)
        if not real.is_relative_to(os.path.realpath(within)):
            raise UnsafeFile(path, f"a link to {real}, outside the tree", "commit the file itself, not a link")
        target = real
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(path, "a link made while darse was reading it", "read it again") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeFile(path, "not a regular file", "darse reads only regular files")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bounded(path: Path, limit: int, *, within: Path | None = None) -> bytes:
    """The bytes of a regular file (see `open_regular`), refused past `limit` bytes."""
    with open_regular(path, within=within) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(path, f"larger than {limit} bytes", "darse does not read files that large here")
    return data


def read_text_file(path: Path, *, limit: int = MAX_TEXT_BYTES, errors: str = "strict") -> str:
    """A text file of the repository, UTF-8, read with `read_bounded`'s rules (UnsafeFile, OSError and
    UnicodeDecodeError propagate; a byte-order mark is not part of the text)."""
    return read_bounded(path, limit).decode("utf-8-sig", errors)
