"""File-like adapters that let one pass over an image's bytes do everything: read a docker-py chunk
iterator as a file, decompress a gzip layer on the fly, and hash/count the uncompressed bytes so a
layer can be checked against its `diff_id` without ever holding it in memory or on disk."""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from darse.errors import DarseError

CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class IterStream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the Engine API's `GET /images/{name}/get`)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class LayerReader(io.RawIOBase):
    """The uncompressed bytes of one layer: gunzips when the raw stream starts with the gzip magic,
    and hashes and counts what it hands out (the layer's diff_id and tar size)."""

    def __init__(self, raw: BinaryIO, hashed: bool = True) -> None:
        self._raw = raw
        self._hashed = hashed
        self._hasher = None
        self._pending_hashes: list = []
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.compressed = 0
        self._pending = memoryview(b"")
        self._pos = 0
        head = self._read_raw(4)
        if head.startswith(_ZSTD_MAGIC):
            raise DarseError(
                "a layer is compressed with zstd, which this Python cannot read",
                "use a gzip or uncompressed image, or Python 3.14+",
            )
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16) if head.startswith(_GZIP_MAGIC) else None
        self._eof = False
        self._raw_pending = head if self._inflate else b""
        if self._inflate is None and head:
            self._take(head)

    def _read_raw(self, size: int) -> bytes:
        data = self._raw.read(size)
        self.compressed += len(data)
        return data

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        """Next chunk into `_pending`, hashed and counted once. Inflation is capped per call
        (`max_length`), so a gzip bomb costs time, never memory."""
        while not self._eof:
            if self._inflate is None:
                data = self._read_raw(CHUNK)
                if not data:
                    self._eof = True
                    return
                self._take(data)
                return
            source = self._inflate.unconsumed_tail or self._raw_pending or self._read_raw(CHUNK)
            self._raw_pending = b""
            if not source:
                self._eof = True
                out = self._inflate.flush()
            else:
                out = self._inflate.decompress(source, 4 * CHUNK)
                if self._inflate.eof and self._inflate.unused_data:  # concatenated gzip members
                    self._raw_pending = self._inflate.unused_data
                    self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
            if out:
                self._take(out)
                return

    def _take(self, out: bytes) -> None:
        self._pending = memoryview(out)
        self._pos = 0
        if self._hashed:
            self._hash_later(out)
        self.size += len(out)

    def readinto(self, target) -> int:  # type: ignore[override]
        if self._pos >= len(self._pending):
            self._fill()
        size = min(len(target), len(self._pending) - self._pos)
        if size <= 0:
            return 0
        target[:size] = self._pending[self._pos : self._pos + size]
        self._pos += size
        return size

    def _hash_later(self, data: bytes) -> None:
        """sha256 in a worker thread: hashlib releases the GIL on large updates, so hashing runs on the
        other core while this thread parses. At most 8 chunks wait (bounded memory), in order."""
        if self._hasher is None:
            from concurrent.futures import ThreadPoolExecutor

            self._hasher = ThreadPoolExecutor(1, thread_name_prefix="darse-inspect-sha256")
        self._pending_hashes.append(self._hasher.submit(self.sha256.update, data))
        if len(self._pending_hashes) > 8:
            self._pending_hashes.pop(0).result()

    def _hashes_done(self) -> None:
        for future in self._pending_hashes:
            future.result()
        self._pending_hashes.clear()
        if self._hasher is not None:
            self._hasher.shutdown()
            self._hasher = None

    def drain(self) -> None:
        """Read to the end, so the hash and size cover the whole layer (tar padding included)."""
        buffer = bytearray(CHUNK)
        while self.readinto(buffer):
            pass

    @property
    def diff_id(self) -> str:
        self._hashes_done()
        return "sha256:" + self.sha256.hexdigest()


def buffered(raw: io.RawIOBase, size: int = CHUNK) -> io.BufferedReader:
    return io.BufferedReader(raw, buffer_size=size)
