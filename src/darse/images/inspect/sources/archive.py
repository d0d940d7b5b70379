"""A `docker save` stream (legacy `<id>/layer.tar` or the OCI-flavoured one of Docker 25+) or an OCI
image layout packed in a tar, read in ONE forward pass whatever the member order: layers that come
before `manifest.json`/`index.json` are indexed as they pass and their indexes (metadata, not bytes)
wait until the manifest says in which order they stack. The same reader serves the engine's export
stream and an archive file on disk."""

from __future__ import annotations

import hashlib
import io
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from darse.errors import DarseError
from darse.images.inspect.layers import LayerIndex, index_layer, normalise
from darse.images.inspect.sources import manifest as oci
from darse.images.inspect.sources.base import LoadedImage, Progress, Sink
from darse.images.inspect.streams import LayerReader
from darse.images.inspect.tarstream import TarFormatError, TarReader

SMALL = 4 * 1024 * 1024  # JSON documents (manifests, configs) are read whole up to this size
MAX_DOCUMENTS_BYTES = 64 * 1024 * 1024  # all of them together (an archive of 500 4 MiB members is hostile)


class CountingReader(io.RawIOBase):
    """Reports bytes read to a progress callback."""

    def __init__(self, raw: BinaryIO, progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        if hasattr(self._raw, "readinto"):
            count = self._raw.readinto(target) or 0
        else:  # registry blob streams only read()
            data = self._raw.read(len(target))
            count = len(data)
            target[:count] = data
        if count and self._progress:
            self._progress(count)
        return count

    def close(self) -> None:
        if not self.closed and hasattr(self._raw, "close"):
            self._raw.close()
        super().close()


@dataclass
class SaveContents:
    documents: dict[str, bytes] = field(default_factory=dict)  # small JSON-ish members, by name
    layers: dict[str, LayerIndex] = field(default_factory=dict)  # indexed layer members, by name
    aliases: dict[str, str] = field(default_factory=dict)  # symlinked members (docker save dedup)


def _is_document(name: str, size: int) -> bool:
    if size > SMALL:
        return False
    return name.endswith(".json") or name in ("oci-layout", "repositories") or name.startswith("blobs/")


_FILE_TYPES = (b"0", b"\x00", b"7")


def read_stream(stream: BinaryIO) -> SaveContents:
    contents = SaveContents()
    reader = TarReader(stream)
    kept = 0
    try:
        for member in reader:
            name = normalise(member.name)
            if not name:
                continue
            if member.type in (b"1", b"2"):  # docker save links duplicate layers to their first copy
                link = (
                    member.linkname if member.type == b"1" else posixpath.join(posixpath.dirname(name), member.linkname)
                )
                resolved = normalise(link)
                if resolved:
                    contents.aliases[name] = resolved
                continue
            if member.type not in _FILE_TYPES:
                continue
            handle: BinaryIO = reader.data()
            if _is_document(name, member.size):
                data = handle.read(SMALL)
                if data[:1] in (b"{", b"[") or not name.startswith("blobs/") or not data:
                    kept += len(data)
                    if kept > MAX_DOCUMENTS_BYTES:
                        raise DarseError(
                            f"the image archive holds more than {MAX_DOCUMENTS_BYTES} bytes of JSON documents",
                            "an image needs a few kilobytes of them: the archive is hostile or not an image",
                        )
                    contents.documents[name] = data
                    continue
                handle = io.BytesIO(data)  # a small layer blob
            if name.endswith((".json", "/json", "/VERSION")):
                continue
            contents.layers[name] = index_reader(handle, name)
    except (TarFormatError, OSError) as exc:
        raise DarseError(
            f"the image archive is not a readable tar ({exc})", "is it a `docker save` or OCI archive?"
        ) from None
    return contents


def index_reader(handle: BinaryIO, name: str, want=None, sink=None) -> LayerIndex:
    reader = LayerReader(handle)
    layer = index_layer(io.BufferedReader(reader, 1 << 20), name, want, sink)
    reader.drain()
    layer.diff_id = reader.diff_id
    layer.tar_size = reader.size
    if reader.compressed != reader.size:
        layer.compressed_size = reader.compressed
    return layer


def assemble(contents: SaveContents, source: str, reference: str, platform: str | None) -> LoadedImage:
    """Order the indexed layers as the manifest says (docker's manifest.json first, else OCI index.json)."""
    docs = contents.documents
    if "manifest.json" in docs:
        entries = _json_list(docs["manifest.json"])
        entry = _pick(entries, reference)
        config_name = _resolve(contents, str(entry.get("Config", "")))
        listed = entry.get("Layers") or []
        if not isinstance(listed, list):
            raise DarseError("manifest.json: Layers is not a list", "the archive is corrupt")
        oci.check_layer_count(len(listed))
        layer_names = [_resolve(contents, str(n)) for n in listed]
        config_raw = _document(contents, config_name)
        layers = [_layer(contents, n) for n in layer_names]
        tags = _tags(entry)
        return LoadedImage(source, reference, config_raw, layers, tags)
    if "index.json" in docs:
        wanted = oci.parse_platform(platform)
        document = oci.load_json(docs["index.json"], "index.json")
        manifest_digest = None
        for _ in range(4):  # index -> (nested index) -> manifest
            kind = oci.media_type(document)
            if kind in oci.MANIFEST_TYPES:
                break
            descriptor = oci.choose(document, wanted)
            manifest_digest = oci.check_digest(descriptor.get("digest"))
            document = oci.load_json(_blob(contents, manifest_digest), f"manifest {manifest_digest}")
        config_digest, digests = oci.layer_digests(document)
        config_raw = _blob(contents, config_digest)
        layers = [_layer(contents, _blob_name(d)) for d in digests]
        return LoadedImage(source, reference, config_raw, layers, [], manifest_digest, str(wanted))
    raise DarseError("the archive has neither manifest.json nor index.json", "is it a `docker save` or OCI archive?")


def _json_list(raw: bytes) -> list[dict]:
    import json

    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DarseError("manifest.json is not valid JSON", "the archive is corrupt") from None
    except RecursionError:
        raise DarseError("manifest.json is nested too deeply", "the archive is corrupt or hostile") from None
    if not isinstance(data, list) or not data or not all(isinstance(e, dict) for e in data):
        raise DarseError("manifest.json lists no image", "the archive is corrupt")
    return data


def _tags(entry: dict) -> list[str]:
    tags = entry.get("RepoTags") or []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _pick(entries: list[dict], reference: str) -> dict:
    if len(entries) == 1:
        return entries[0]
    for entry in entries:
        if reference in _tags(entry):
            return entry
    tags = [t for e in entries for t in _tags(e)]
    raise DarseError("the archive holds several images", f"name one of them after the path: {', '.join(tags[:5])}")


def _resolve(contents: SaveContents, name: str) -> str:
    name = normalise(name) or ""
    for _ in range(10):
        if name not in contents.aliases:
            return name
        name = contents.aliases[name]
    return name


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _blob(contents: SaveContents, digest: str) -> bytes:
    raw = _document(contents, _resolve(contents, _blob_name(digest)))
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise DarseError(f"blob {digest} does not match its digest", "the archive is corrupt or was tampered with")
    return raw


def _document(contents: SaveContents, name: str) -> bytes:
    if name not in contents.documents:
        raise DarseError(f"the archive lacks {name or 'its config'}", "the archive is truncated or corrupt")
    return contents.documents[name]


def _layer(contents: SaveContents, name: str) -> LayerIndex:
    if name in contents.layers:
        return contents.layers[name]
    if name in contents.documents:  # a small layer read as a document
        layer = index_reader(io.BytesIO(contents.documents[name]), name)
        contents.layers[name] = layer
        return layer
    raise DarseError(f"the archive lacks layer {name}", "the archive is truncated or corrupt")


def find_member(stream: BinaryIO, wanted: str, path: str, sink: Sink) -> bool:
    """Second pass for extraction: stream the archive again, open only the layer named `wanted`."""
    found = False

    def want(candidate: str) -> bool:
        return candidate == path

    def capture(entry, handle) -> None:
        nonlocal found
        found = True
        sink(entry, handle)

    reader = TarReader(stream)
    try:
        for member in reader:
            if normalise(member.name) == wanted and member.type in _FILE_TYPES:
                index_reader(reader.data(), wanted, want, capture)
                return found
    except (TarFormatError, OSError) as exc:
        raise DarseError(f"the image archive is not a readable tar ({exc})", "is it the same image?") from None
    return found


class ArchiveSource:
    """A `docker save` archive or an OCI layout tar on disk (plain or gzip-compressed)."""

    kind = "archive"

    def __init__(self, path: Path, name: str = "", platform: str | None = None) -> None:
        self.path = path
        self.reference = name or str(path)
        self._name = name
        self._platform = platform

    def total_bytes(self) -> int | None:
        return self.path.stat().st_size

    def _open(self, progress: Progress | None) -> BinaryIO:
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise DarseError(f"cannot read {self.path}: {exc.strerror}", "check the path") from None
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        counted = CountingReader(raw, progress)
        if not gzipped:
            return io.BufferedReader(counted, 1 << 20)
        return io.BufferedReader(LayerReader(counted, hashed=False), 1 << 20)  # type: ignore[arg-type]

    def load(self, progress: Progress | None = None) -> LoadedImage:
        with self._open(progress) as stream:
            contents = read_stream(stream)
        return assemble(contents, self.kind, self._name or str(self.path), self._platform)

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        with self._open(progress) as stream:
            return find_member(stream, layer.name, path, sink)
