"""One layer's file index: every entry's metadata (path, size, mode, type, link target, owner),
its whiteouts and opaque directories, read from a tar stream in one forward pass.

Whiteouts are recognised by NAME, as overlay2 and the OCI spec define them: any entry called
`.wh.NAME` deletes NAME from the lower layers and `.wh..wh..opq` makes its directory opaque, whatever
the entry's type (the engine may write them as regular files, character devices or hard links with
a leftover link name). Member names are untrusted: `..` and absolute paths are normalised or refused,
never used to touch the disk. Only metadata is kept, plus the bytes of a few small files the report
needs (`os-release`) and a flag for files that start like a private key.
"""

from __future__ import annotations

import posixpath
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import BinaryIO, Protocol

from darse.errors import DarseError
from darse.images.inspect.tarstream import Member, TarFormatError, TarReader


class MemberReader(Protocol):
    """The bytes of the member being indexed: what `TarReader` gives, and the layer store's walk."""

    def head(self, size: int) -> bytes: ...

    def data(self) -> BinaryIO: ...


WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

# Entry kinds, one character each (memory: one entry per file of the image).
FILE, DIR, SYMLINK, HARDLINK, CHAR, BLOCK, FIFO = "f", "d", "l", "h", "c", "b", "p"
_KINDS = {
    b"0": FILE,
    b"\x00": FILE,
    b"7": FILE,
    b"S": FILE,
    b"5": DIR,
    b"2": SYMLINK,
    b"1": HARDLINK,
    b"3": CHAR,
    b"4": BLOCK,
    b"6": FIFO,
}
_FILE_FLAGS = frozenset((b"0", b"\x00", b"7"))
# Files whose bytes the report reads (small; capped).
CAPTURE_PATHS = frozenset({"etc/os-release", "usr/lib/os-release"})
CAPTURE_LIMIT = 64 * 1024
SNIFF_LIMIT = 64 * 1024  # files up to this size have their first bytes checked for a private key
SNIFF_MIN = 100  # no PEM private key is shorter
_SNIFF_BYTES = 256
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KEY_NAMES = re.compile(r"(^id_(rsa|dsa|ecdsa|ed25519)$)|(\.(pem|key|p12|pfx|ppk)$)")


@dataclass(slots=True)
class Entry:
    """One member of a layer, by its normalised path (no leading slash)."""

    path: str
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    link: str = ""  # symlink target as written, or the hard link's normalised target path
    key_like: bool = False  # starts with a PEM private key header
    sparse: bool = False  # stored as a sparse member (never extracted)


@dataclass
class LayerIndex:
    """What one layer holds: entries by path (tar order), deletions, and the tar's own digest/size."""

    name: str  # the layer's name in its container (archive member or blob digest)
    entries: dict[str, Entry] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)  # paths this layer deletes from lower layers
    opaque: list[str] = field(default_factory=list)  # directories whose lower contents this layer hides
    captured: dict[str, bytes] = field(default_factory=dict)  # small files the report reads
    refused: list[str] = field(default_factory=list)  # member names outside the root (`..`), ignored
    diff_id: str = ""  # sha256 of the uncompressed tar, to compare with the config's rootfs.diff_ids
    tar_size: int | None = 0  # None: not read from a tar (the engine's layer store)
    compressed_size: int | None = None
    duplicate_bytes: int = 0  # bytes of members that a later member of the same path replaced
    hashed: bool = True  # diff_id computed from the bytes read (False: the engine's word, not recomputed)

    @property
    def content_bytes(self) -> int:
        """Bytes of file data stored in this layer (hard links store none)."""
        return self.duplicate_bytes + sum(map(_size, self.entries.values()))  # only files have a size


_size = attrgetter("size")


def normalise(name: str) -> str | None:
    """`./usr//bin/../lib/` -> `usr/lib`; the root -> ``; a path escaping the root -> None."""
    if "\x00" in name:
        return None
    fast = name.strip("/")
    if "//" not in fast and "/." not in fast and not fast.startswith("."):
        return fast  # nothing to normalise (the common case, checked cheaply)
    stripped = name.lstrip("/")
    path = posixpath.normpath(stripped) if stripped else "."
    if path == ".":
        return ""
    if path == ".." or path.startswith("../"):
        return None
    return path


def index_layer(
    stream: BinaryIO,
    name: str,
    want: Callable[[str], bool] | None = None,
    sink: Callable[[Entry, BinaryIO], None] | None = None,
) -> LayerIndex:
    """Index one uncompressed layer tar read forward from `stream` (tarfile's stream mode: no seek).

    `want(path)`/`sink(entry, fileobj)` let one caller (extraction) receive a member's bytes as they
    pass; everyone else gets metadata only.
    """
    layer = LayerIndex(name)
    reader = TarReader(stream)
    try:
        for member in reader:
            _add(layer, reader, member, want, sink)
    except (TarFormatError, EOFError, zlib.error, OSError) as exc:
        raise DarseError(
            f"layer {name} is not a readable tar archive ({exc})", "the image is corrupt or truncated"
        ) from None
    return layer


def index_records(
    records: Iterable[tuple[str, bytes, int, int, int, int, int, str]], reader: MemberReader, name: str
) -> LayerIndex:
    """Index one layer from records that are not a tar stream: the engine's layer store walks its
    directories and yields, for each entry, what the export's tar member would say (`path, type flag,
    size, mode, uid, gid, mtime, link`, paths already clean and each once). Whiteouts, opaque markers
    and files whose first bytes the index reads go through the tar reader's own rules (`_add`); the
    rest, most entries, become entries directly."""
    layer = LayerIndex(name)
    entries = layer.entries
    for record in records:
        path, flag, size, mode, uid, gid, mtime, link = record
        if WHITEOUT in path or (flag in _FILE_FLAGS and (SNIFF_MIN <= size <= SNIFF_LIMIT or path in CAPTURE_PATHS)):
            _add(layer, reader, Member(path, flag, size, size, mode, uid, gid, mtime, link), None, None)  # type: ignore[arg-type]
        elif flag in _FILE_FLAGS:
            entries[path] = Entry(path, FILE, size, mode, uid, gid, mtime)
        else:
            kind = _KINDS.get(flag)
            if kind is not None:
                entries[path] = Entry(path, kind, 0, mode, uid, gid, mtime, link)
    return layer


def _add(layer: LayerIndex, reader: TarReader, member: Member, want, sink) -> None:
    path = normalise(member.name)
    if path is None:
        layer.refused.append(member.name[:200])
        return
    parent, _, base = path.rpartition("/")
    if base.startswith(WHITEOUT):
        if base == OPAQUE:
            layer.opaque.append(parent)
        elif not base.startswith(WHITEOUT + WHITEOUT):  # `.wh..wh.plnk` and friends: AUFS metadata
            target = normalise(posixpath.join(parent, base[len(WHITEOUT) :]))
            if target:  # `.wh.` alone or `.wh...` would name the parent or the root: refused
                if posixpath.dirname(target) == parent:
                    layer.whiteouts.append(target)
                else:
                    layer.refused.append(member.name[:200])
        return
    if not path:
        return  # the root directory itself
    kind = _KINDS.get(member.type)
    if kind is None:
        return  # unknown extension types are skipped
    link = ""
    if kind == SYMLINK:
        link = member.linkname
    elif kind == HARDLINK:
        link = normalise(member.linkname) or ""
    size = member.size if kind == FILE else 0
    entry = Entry(path, kind, size, member.mode, member.uid, member.gid, member.mtime, link)
    if kind == FILE and size:
        needs_capture = path in CAPTURE_PATHS and size <= CAPTURE_LIMIT
        wanted = want is not None and want(path)
        if needs_capture or wanted or SNIFF_MIN <= size <= SNIFF_LIMIT:
            entry.sparse = member.sparse
            if wanted and sink is not None:
                sink(entry, reader.data())
            elif needs_capture:
                data = reader.head(CAPTURE_LIMIT)
                layer.captured[path] = data
                entry.key_like = bool(_PRIVATE_KEY.search(data[:_SNIFF_BYTES]))
            else:
                entry.key_like = bool(_PRIVATE_KEY.search(reader.head(_SNIFF_BYTES)))
    old = layer.entries.pop(path, None)  # a later duplicate wins, and takes the later tar position
    if old is not None and old.kind == FILE:
        layer.duplicate_bytes += old.size  # the earlier copy is still stored in the tar: waste
    layer.entries[path] = entry


def looks_like_key_name(path: str) -> bool:
    return bool(_KEY_NAMES.search(path.rpartition("/")[2]))
