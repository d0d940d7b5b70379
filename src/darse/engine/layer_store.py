"""An image of the local engine read from the engine's own overlay2 layer store, without an export.

When darse runs as root on the engine's host, the engine already says where each layer lives: the
image's `GraphDriver.Data` names the overlay2 `diff` directory of its top layer (`UpperDir`) and of
every layer under it (`LowerDir`, top to bottom). Walking those directories costs a `lstat` per file;
the export (`docker save`) first makes the engine rebuild every layer's tar, seconds for a large image.

What is read, and how (the store holds whatever an image author put in a layer):

- Layer order: from the image's metadata, checked three ways: as many directories as `RootFS.Layers`
  has digests, and each directory is the one the engine's layer database names for that layer (the
  chain ID's `cache-id`). The config's bytes come from the engine's image database, checked against
  the image ID (its sha256): exactly the bytes the export would carry.
- Entries: yielded in the order the engine writes a layer's tar when it exports one it built (names
  sorted bytewise within each directory, a directory before its contents), with the tar's type flags,
  so the export's reader (`darse.images.inspect.layers`) indexes them unchanged. overlay2's whiteouts
  (character devices 0/0) come out as `.wh.NAME`, opaque directories (xattr `trusted.overlay.opaque`
  = `y`) as `DIR/.wh..wh..opq` after the directory, hard links (one inode, several names in one layer)
  as links to the first name, sockets not at all: as the engine's export writes them.
- Safety: every directory is opened relative to its parent's descriptor with `O_NOFOLLOW`; a symbolic
  link is only `lstat`ed and its text read; a file is read only when the listing said it is a regular
  file, and only after a path-only descriptor of it (`O_PATH | O_NOFOLLOW`, which opens nothing) was
  checked to be that same regular file. Devices, FIFOs and sockets are never opened.
- Layer digests are not recomputed: the engine checked every layer against its digest when it stored it.

Applies only to the local engine (the environment's own unix socket) running overlay2 as root (not
rootless, no user-namespace remapping), and only when the store's directories can be opened:
`StoreUnavailable` says why not, and the caller reads the export instead.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from darse.engine.api import NotFound
from darse.engine.local import LocalEngine, local_socket

MAX_CONFIG = 4 * 1024 * 1024  # an image config is kilobytes
MAX_LAYERS = 500  # overlay2 stacks at most 128
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CACHE_ID = re.compile(r"[0-9a-f]{64}")
_OPAQUE_XATTR = "trusted.overlay.opaque"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # the engine's metadata files
# Tar type flags, as the export writes them.
REG, LNK, SYM, CHR, BLK, DIR, FIFO = b"0", b"1", b"2", b"3", b"4", b"5", b"6"
_SPECIAL = {stat.S_IFCHR: CHR, stat.S_IFBLK: BLK, stat.S_IFIFO: FIFO}
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class StoreUnavailable(Exception):
    """The store cannot be read for this image (the export can): `reason` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreChanged(Exception):
    """The engine removed or replaced the image (or one of its layers) while it was being read."""


@dataclass(frozen=True)
class StoreImage:
    """Where an image's layers live in the store, and what the engine says of it."""

    reference: str
    image_id: str
    config_raw: bytes
    diff_ids: list[str]
    layer_dirs: list[str]  # the overlay2 `diff` directory of each layer, bottom to top
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    size: int = 0
    graph_data: dict[str, Any] = field(default_factory=dict)


def locate(api: object, reference: str) -> StoreImage:
    """The image's layer directories and config from the store; `StoreUnavailable` when it cannot be
    read here, `NotFound` when the engine has no such image."""
    if not isinstance(api, LocalEngine) or local_socket() != api.path:
        raise StoreUnavailable("the engine is not this host's own (its layers are read through its export)")
    info = api.call("GET", "/info") or {}
    facts = api.inspect_image(reference)
    driver = (facts.get("GraphDriver") or {}).get("Name")
    if driver != "overlay2":
        raise StoreUnavailable(f"the engine stores images with {driver or 'an unknown driver'}, not overlay2")
    options = " ".join(str(o) for o in info.get("SecurityOptions") or [])
    if "name=rootless" in options:
        raise StoreUnavailable("the engine is rootless")
    if "name=userns" in options:
        raise StoreUnavailable("the engine remaps user namespaces (file owners differ from the image's)")
    root = str(info.get("DockerRootDir") or "")
    data = (facts.get("GraphDriver") or {}).get("Data") or {}
    upper = str(data.get("UpperDir") or "")
    lowers = [p for p in str(data.get("LowerDir") or "").split(":") if p]
    dirs = [*reversed(lowers), upper] if upper else []
    diff_ids = [str(d) for d in (facts.get("RootFS") or {}).get("Layers") or []]
    if not diff_ids or len(diff_ids) > MAX_LAYERS or not all(_DIGEST.fullmatch(d) for d in diff_ids):
        raise StoreUnavailable("the engine lists no usable layer digests for the image")
    if len(dirs) != len(diff_ids):
        raise StoreUnavailable(f"the engine names {len(dirs)} layer directories for {len(diff_ids)} layers")
    if not root.startswith("/"):
        raise StoreUnavailable("the engine does not say where its data root is")
    _check_layer_dirs(root, diff_ids, dirs)
    image_id = str(facts.get("Id") or "")
    if not _DIGEST.fullmatch(image_id):
        raise StoreUnavailable("the engine gives no image ID")
    config = _read_small(os.path.join(root, "image", "overlay2", "imagedb", "content", "sha256"), image_id[7:])
    if "sha256:" + hashlib.sha256(config).hexdigest() != image_id:
        raise StoreUnavailable("the image's config in the store does not match its ID")
    return StoreImage(
        reference=reference,
        image_id=image_id,
        config_raw=config,
        diff_ids=diff_ids,
        layer_dirs=dirs,
        repo_tags=[str(t) for t in facts.get("RepoTags") or []],
        repo_digests=[str(d) for d in facts.get("RepoDigests") or []],
        size=int(facts.get("Size") or 0),
        graph_data=dict(data),
    )


def _check_layer_dirs(root: str, diff_ids: list[str], dirs: list[str]) -> None:
    """Each directory is `ROOT/overlay2/<cache-id>/diff` with the cache ID the layer database gives the
    layer's chain ID, and can be opened: the order of the metadata is the order of the digests."""
    layerdb = os.path.join(root, "image", "overlay2", "layerdb", "sha256")
    chain = ""
    for number, (digest, path) in enumerate(zip(diff_ids, dirs, strict=True)):
        chain = digest if not chain else "sha256:" + hashlib.sha256(f"{chain} {digest}".encode()).hexdigest()
        cache_id = _read_small(os.path.join(layerdb, chain[7:]), "cache-id").decode("ascii", "replace").strip()
        if not _CACHE_ID.fullmatch(cache_id) or path != os.path.join(root, "overlay2", cache_id, "diff"):
            raise StoreUnavailable(f"layer {number}'s directory is not the one the engine's layer database names")
        try:
            os.close(os.open(path, _DIR_FLAGS))
        except PermissionError:
            raise StoreUnavailable(f"no permission to read {path} (run as root)") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot open layer {number}'s directory ({exc.strerror})") from None


def _read_small(folder: str, name: str) -> bytes:
    """A small regular file of the engine's metadata, never through a link."""
    try:
        fd = os.open(os.path.join(folder, name), _FILE_FLAGS)
    except PermissionError:
        raise StoreUnavailable(f"no permission to read the engine's metadata under {folder} (run as root)") from None
    except OSError as exc:
        raise StoreUnavailable(f"cannot read the engine's metadata {name} ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreUnavailable(f"the engine's metadata {name} is not a regular file")
        data = os.read(fd, MAX_CONFIG + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG:
        raise StoreUnavailable(f"the engine's metadata {name} is over {MAX_CONFIG} bytes")
    return data


def check_unchanged(api: LocalEngine, image: StoreImage) -> None:
    """`StoreChanged` when the engine no longer has the image as it was located (removed, or its name
    now points at another image): what was just read may be a mix of two images."""
    try:
        facts = api.inspect_image(image.reference)
    except NotFound:
        raise StoreChanged(f"the engine removed {image.reference!r} while it was read") from None
    if facts.get("Id") != image.image_id:
        raise StoreChanged(f"{image.reference!r} names another image since it was read")
    if ((facts.get("GraphDriver") or {}).get("Data") or {}) != image.graph_data:
        raise StoreChanged(f"the engine moved the layers of {image.reference!r} while they were read")


# One entry of a layer as the export's tar member for it would say:
# (path from the layer's root without a leading slash, tar type flag, size of a regular file, mode,
# uid, gid, mtime, link text or a hard link's first name). mtime is 0: the index does not keep it.
Record = tuple[str, bytes, int, int, int, int, int, str]


class LayerWalk:
    """Iterate a layer directory's entries (`Record`s, in the export's order); while a regular file
    is current, `head(n)` reads its first bytes and `data()` opens it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.files = 0  # bytes of the regular files listed, counted as the walk ends (for a progress bar)
        self._fd = -1  # the directory holding the current entry
        self._current: tuple[str, os.stat_result] | None = None  # the current regular file, as listed

    def __iter__(self) -> Iterator[Record]:
        try:
            root = os.open(self.path, _DIR_FLAGS)
        except FileNotFoundError:
            raise StoreChanged(f"layer directory {self.path} vanished while it was read") from None
        try:
            if _opaque(root):
                yield (OPAQUE_MARKER, REG, 0, 0o600, 0, 0, 0, "")
            yield from self._directory(root)
        finally:
            os.close(root)

    def _directory(self, root: int) -> Iterator[Record]:
        """Depth first, each directory's names sorted bytewise (Go's filepath.Walk, which the engine
        uses), holding one descriptor per directory level."""
        seen: dict[tuple[int, int], str] = {}  # (device, inode) of a file with several names -> first name
        stack: list[tuple[int, str, Iterator[tuple[str, os.stat_result]]]] = [(root, "", iter(_listing(root)))]
        files = 0
        try:
            while stack:
                fd, prefix, pending = stack[-1]
                self._fd = fd
                for name, info in pending:
                    mode = info.st_mode
                    kind = mode & 0o170000
                    path = prefix + name
                    if kind == stat.S_IFREG:  # most entries: kept short
                        if info.st_nlink > 1:
                            key = (info.st_dev, info.st_ino)
                            first = seen.get(key)
                            if first is not None:
                                yield (path, LNK, 0, mode, info.st_uid, info.st_gid, 0, first)
                                continue
                            seen[key] = path
                        size = info.st_size
                        files += size
                        self._current = (name, info)
                        yield (path, REG, size, mode, info.st_uid, info.st_gid, 0, "")
                        continue
                    self._current = None
                    if kind == stat.S_IFDIR:
                        child = _open_dir(fd, name, info)
                        stack.append((child, path + "/", iter(_listing(child))))
                        yield (path, DIR, 0, mode, info.st_uid, info.st_gid, 0, "")
                        if _opaque(child):
                            yield (path + "/" + OPAQUE_MARKER, REG, 0, 0o600, 0, 0, 0, "")
                        break  # into the directory; this one's iterator goes on after it
                    elif kind == stat.S_IFLNK:
                        link = os.readlink(name, dir_fd=fd)
                        yield (path, SYM, 0, mode, info.st_uid, info.st_gid, 0, link)
                    elif kind == stat.S_IFCHR and info.st_rdev == 0:  # an overlay2 whiteout
                        yield (prefix + WHITEOUT_PREFIX + name, REG, 0, 0o600, 0, 0, 0, "")
                    elif kind in _SPECIAL:
                        yield (path, _SPECIAL[kind], 0, mode, info.st_uid, info.st_gid, 0, "")
                    # sockets: the engine's export skips them too
                else:
                    stack.pop()
                    if fd != root:
                        os.close(fd)
        finally:
            for fd, _prefix, _pending in stack:
                if fd != root:
                    os.close(fd)
            self._fd, self._current = -1, None
            self.files += files

    def _open_current(self) -> int:
        """The current member's descriptor, checked to be the regular file the listing showed."""
        if self._current is None:
            raise ValueError("no regular file is current")
        name, listed = self._current
        try:
            return _open_regular(self._fd, name, listed)
        except FileNotFoundError:
            raise StoreChanged(f"a file of layer {self.path} vanished while it was read") from None
        except OSError:
            raise StoreChanged(f"a file of layer {self.path} changed while it was read") from None

    def head(self, size: int) -> bytes:
        """Up to `size` first bytes of the current regular file."""
        fd = self._open_current()
        try:
            return os.read(fd, size)
        finally:
            os.close(fd)

    def data(self) -> BinaryIO:
        """The current regular file, open for reading (the caller reads at most its listed size)."""
        return os.fdopen(self._open_current(), "rb")


def _listing(fd: int) -> list[tuple[str, os.stat_result]]:
    """A directory's names with their `lstat`, sorted bytewise as Go sorts them (names listed, sorted,
    then each `lstat`ed relative to the directory: cheaper than `os.scandir`'s entries)."""
    try:
        names = os.listdir(fd)
        try:
            "".join(names).encode()
        except UnicodeEncodeError:  # names that are not UTF-8 (surrogate escapes): sorted by their bytes
            names.sort(key=os.fsencode)
        else:  # UTF-8 keeps the order of code points: the same order as the bytes, sorted faster
            names.sort()
        return [(name, os.lstat(name, dir_fd=fd)) for name in names]
    except FileNotFoundError:
        raise StoreChanged("a layer directory vanished while it was read") from None


def _open_dir(parent: int, name: str, listed: os.stat_result) -> int:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        raise StoreChanged("a layer directory vanished while it was read") from None
    except OSError as exc:
        if exc.errno == errno.EMFILE:
            raise StoreUnavailable("the layer nests directories deeper than this process may open") from None
        raise
    info = os.fstat(fd)
    if info.st_ino != listed.st_ino or info.st_dev != listed.st_dev:
        os.close(fd)
        raise StoreChanged("a layer directory changed while it was read")
    return fd


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, _OPAQUE_XATTR) == b"y"
    except OSError:
        return False  # ENODATA: not opaque (ENOTSUP: a file system without xattrs has no opaque dirs)


def open_file(layer_dir: str, path: str) -> BinaryIO:
    """The regular file `path` (no leading slash) of a layer, opened one component at a time from the
    layer's directory with `O_NOFOLLOW`: a link anywhere on the way, a device or a FIFO is refused
    (`OSError`), never followed, and a special file is never opened."""
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts):
        raise OSError(errno.EINVAL, "not a clean path")
    fd = os.open(layer_dir, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        target = _open_regular(fd, parts[-1])
    finally:
        os.close(fd)
    return os.fdopen(target, "rb")


def _open_regular(directory: int, name: str, listed: os.stat_result | None = None) -> int:
    """`name` in `directory` opened for reading only once known to be a regular file (the one `listed`,
    when given): first as a path only (`O_PATH`, which opens nothing: no device driver, no FIFO),
    checked with `fstat`, then reopened through that very descriptor. A link, a device or a FIFO is
    `OSError`, never opened for reading, whatever replaced what in between."""
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if listed is not None and (info.st_ino, info.st_dev) != (listed.st_ino, listed.st_dev):
            raise OSError(errno.ESTALE, "not the file listed")
        return os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(handle)
