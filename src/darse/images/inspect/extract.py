"""`--extract PATH [--layer N] -o FILE` and `--ls [PATH]`.

Safe against hostile archives by construction: the archive's member names are never used to build a
path on disk. The only file written is the one `-o` names, created as a fresh temporary file next to
it (O_EXCL, mode 0600), filled with at most the member's declared size (checked against the free space
first, and against `max_bytes`), then renamed over the target. Links are never followed out of the
image (a hard link resolves inside its own layer; a symlink is reported, not followed), and devices,
FIFOs and directories are refused.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from darse.errors import DarseError
from darse.images.inspect.analysis import Analysis
from darse.images.inspect.layers import DIR, FILE, HARDLINK, SYMLINK, WHITEOUT, Entry, normalise
from darse.images.inspect.sources.base import ImageSource

DEFAULT_MAX_BYTES = 4 * 1024**3
DISK_RESERVE = 64 * 1024 * 1024
_COPY = 1 << 20


@dataclass(frozen=True)
class Extracted:
    path: str
    layer: int
    size: int
    output: Path


def _image_path(path: str) -> str:
    clean = normalise(path)
    if not clean:
        raise DarseError(f"{path!r} is not a file path inside the image", "give an absolute path like /etc/os-release")
    return clean


def choose(analysis: Analysis, path: str, layer: int | None) -> tuple[int, Entry]:
    """The version of `path` to extract: in `layer`, else the visible one, else the latest layer holding it."""
    layers = analysis.image.layers
    if layer is not None:
        if not 0 <= layer < len(layers):
            raise DarseError(f"--layer {layer} does not exist", f"the image has layers 0 to {len(layers) - 1}")
        entry = layers[layer].entries.get(path)
        if entry is None:
            holders = [str(n) for n, item in enumerate(layers) if path in item.entries]
            raise DarseError(f"/{path} is not in layer {layer}", f"layers holding it: {', '.join(holders) or 'none'}")
        return layer, entry
    node = analysis.tree.lookup(path)
    if node is not None and node.entry is not None:
        return node.layer, node.entry
    for number in range(len(layers) - 1, -1, -1):
        if path in layers[number].entries:
            return number, layers[number].entries[path]
    raise DarseError(f"/{path} is in no layer of the image", "list a layer with --layer N --ls /")


def extract(
    source: ImageSource,
    analysis: Analysis,
    path: str,
    layer: int | None,
    output: Path,
    force: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Extracted:
    clean = _image_path(path)
    number, entry = choose(analysis, clean, layer)
    if entry.kind == HARDLINK:  # the bytes live under the link's target, in the same layer
        target = analysis.image.layers[number].entries.get(entry.link)
        if target is None or target.kind != FILE:
            raise DarseError(
                f"/{clean} is a hard link to /{entry.link}, which layer {number} does not hold",
                "extract the target instead",
            )
        entry = target
    if entry.kind == SYMLINK:
        raise DarseError(
            f"/{clean} is a symbolic link to {entry.link} in layer {number}", "extract the link's target instead"
        )
    if entry.kind != FILE:
        kind = "a directory" if entry.kind == DIR else "a device or FIFO"
        raise DarseError(f"/{clean} is {kind} in layer {number}", "only regular files can be extracted; use --ls")
    if entry.sparse:
        raise DarseError(
            f"/{clean} is stored as a sparse member in layer {number}", "sparse members are never extracted"
        )
    if entry.size > max_bytes:
        raise DarseError(
            f"/{clean} is {entry.size} bytes, over the {max_bytes}-byte extraction limit",
            "raise --max-bytes if you trust it",
        )
    output = Path(output)
    if output.is_dir() or (output.exists() and not output.is_file()):
        raise DarseError(f"{output} is not a regular file path", "give a file name to -o")
    if output.exists() and not force:
        raise DarseError(f"{output} already exists", "choose another -o or add --force")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise DarseError(f"{folder} is not a directory", "create it first")
    if shutil.disk_usage(folder).free < entry.size + DISK_RESERVE:
        raise DarseError(
            f"not enough free space in {folder} for {entry.size} bytes", "free some space or choose another -o"
        )
    fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=folder)
    written = 0

    def sink(member: Entry, handle: BinaryIO) -> None:
        nonlocal written
        written = 0  # a later member of the same path wins, as in the index
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(os.dup(fd), "wb") as out:
            while written < entry.size:
                chunk = handle.read(min(_COPY, entry.size - written))
                if not chunk:
                    break
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())

    try:
        found = source.read_member(analysis.image.layers[number], entry.path, sink)
        if not found or written != entry.size:
            raise DarseError(
                f"/{entry.path} could not be read back from layer {number}", "the image changed since it was indexed"
            )
        os.fchmod(fd, stat.S_IMODE(entry.mode) & 0o755 | 0o600)  # never setuid/setgid/world-writable
        os.close(fd)
        fd = -1
        os.replace(temp, output)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        Path(temp).unlink(missing_ok=True)
        raise
    return Extracted("/" + entry.path, number, written, output)


def listing(analysis: Analysis, layer: int | None, under: str | None) -> list[dict]:
    """A layer's entries (with its whiteouts and opaque dirs), or the final filesystem's, under `under`."""
    prefix = normalise(under or "/")
    if prefix is None:
        raise DarseError(f"{under!r} is not a path inside the image", "give an absolute path like /etc")

    def inside(path: str) -> bool:
        return not prefix or path == prefix or path.startswith(prefix + "/")

    rows: list[dict] = []
    if layer is None:
        for path, node in analysis.tree.walk():
            if inside(path) and node.entry is not None:
                rows.append(_row(node.entry, node.layer))
        return sorted(rows, key=lambda r: r["path"])
    layers = analysis.image.layers
    if not 0 <= layer < len(layers):
        raise DarseError(f"--layer {layer} does not exist", f"the image has layers 0 to {len(layers) - 1}")
    item = layers[layer]
    rows = [_row(entry, layer) for path, entry in item.entries.items() if inside(path)]
    for path in item.whiteouts:
        if inside(path):
            rows.append({"path": "/" + path, "type": "whiteout", "size": 0, "mode": "", "layer": layer, "link": ""})
    for path in item.opaque:
        if inside(path) or not path:
            rows.append(
                {
                    "path": "/" + posixpath.join(path, WHITEOUT + WHITEOUT + ".opq"),
                    "type": "opaque",
                    "size": 0,
                    "mode": "",
                    "layer": layer,
                    "link": "",
                }
            )
    return sorted(rows, key=lambda r: r["path"])


_TYPE_NAMES = {"f": "file", "d": "dir", "l": "symlink", "h": "hardlink", "c": "char", "b": "block", "p": "fifo"}


def _row(entry: Entry, layer: int) -> dict:
    return {
        "path": "/" + entry.path,
        "type": _TYPE_NAMES.get(entry.kind, entry.kind),
        "size": entry.size,
        "mode": stat.filemode(entry.mode & 0o7777 | _IFMT.get(entry.kind, stat.S_IFREG)),
        "uid": entry.uid,
        "gid": entry.gid,
        "layer": layer,
        "link": entry.link,
    }


_IFMT = {
    "f": stat.S_IFREG,
    "h": stat.S_IFREG,
    "d": stat.S_IFDIR,
    "l": stat.S_IFLNK,
    "c": stat.S_IFCHR,
    "b": stat.S_IFBLK,
    "p": stat.S_IFIFO,
}
