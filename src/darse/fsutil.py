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


class UnsafeFile(DarseError):
    """A file darse refuses to read: a link leaving its tree, a special file, or one over the size limit."""


def open_regular(path: Path, *, within: Path | None = None) -> BinaryIO:
    """Open `path` for reading only if it is a regular file (never a FIFO, device or socket, which could
    block or never end); a symbolic link is followed only to a regular file inside `within`."""
    path = Path(path)
    target = path
    if path.is_symlink():
        real = Path(os.path.realpath(path))
        if within is None or not real.is_relative_to(os.path.realpath(within)):
            raise UnsafeFile(f"{path} is a link to {real}, outside the tree", "commit the file itself, not a link")
        target = real
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(f"{path} changed into a link while being read", "read it again") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeFile(f"{path} is not a regular file", "darse reads only regular files")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bounded(path: Path, limit: int, *, within: Path | None = None) -> bytes:
    """The bytes of a regular file (see `open_regular`), refused past `limit` bytes."""
    with open_regular(path, within=within) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"{path} is larger than {limit} bytes", "darse does not read files that large here")
    return data
