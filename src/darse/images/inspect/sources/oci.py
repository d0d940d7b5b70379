"""An OCI image layout directory (`index.json`, `oci-layout`, `blobs/sha256/...`): blobs are opened
directly, in manifest order, one at a time."""

from __future__ import annotations

import hashlib
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import UnsafeFile, open_regular, read_bounded
from darse.images.inspect.layers import LayerIndex
from darse.images.inspect.sources import manifest as oci
from darse.images.inspect.sources.archive import CountingReader, index_reader
from darse.images.inspect.sources.base import LoadedImage, Progress, Sink


class OciLayoutSource:
    kind = "oci"

    def __init__(self, root: Path, platform: str | None = None) -> None:
        self.root = root
        self.reference = str(root)
        self._platform = platform

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = oci.check_digest(digest).partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def _json_blob(self, digest: str, what: str) -> bytes:
        path = self._blob_path(digest)
        try:
            raw = read_bounded(path, 4 * 1024 * 1024, within=self.root)
        except UnsafeFile as exc:
            raise DarseError(f"{what} {digest}: {exc.message}", "the layout is corrupt or hostile") from None
        except OSError:
            raise DarseError(f"the OCI layout lacks {what} {digest}", "the layout is incomplete") from None
        if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            raise DarseError(f"{what} {digest} does not match its digest", "the layout is corrupt or was tampered with")
        return raw

    def _plan(self) -> tuple[str | None, bytes, list[str]]:
        try:
            document = oci.load_json(read_bounded(self.root / "index.json", 4 * 1024 * 1024), "index.json")
        except UnsafeFile as exc:
            raise DarseError(f"index.json: {exc.message}", "the layout is corrupt or hostile") from None
        except OSError:
            raise DarseError(f"{self.root} has no index.json", "is it an OCI image layout?") from None
        wanted = oci.parse_platform(self._platform)
        manifest_digest = None
        for _ in range(4):
            if oci.media_type(document) in oci.MANIFEST_TYPES:
                break
            manifest_digest = oci.check_digest(oci.choose(document, wanted).get("digest"))
            document = oci.load_json(self._json_blob(manifest_digest, "manifest"), "the manifest")
        config_digest, layers = oci.layer_digests(document)
        return manifest_digest, self._json_blob(config_digest, "config"), layers

    def total_bytes(self) -> int | None:
        _, _, layers = self._plan()
        return sum(self._blob_path(d).stat().st_size for d in layers if self._blob_path(d).is_file())

    def load(self, progress: Progress | None = None) -> LoadedImage:
        manifest_digest, config_raw, digests = self._plan()
        layers: dict[str, LayerIndex] = {}
        for digest in digests:
            if digest not in layers:
                layers[digest] = self._index(digest, progress)
        platform = str(oci.parse_platform(self._platform))
        return LoadedImage(
            self.kind, self.reference, config_raw, [layers[d] for d in digests], [], manifest_digest, platform
        )

    def _index(self, digest: str, progress: Progress | None, want=None, sink=None) -> LayerIndex:
        try:
            handle = open_regular(self._blob_path(digest), within=self.root)
        except UnsafeFile as exc:
            raise DarseError(f"layer {digest}: {exc.message}", "the layout is corrupt or hostile") from None
        except OSError:
            raise DarseError(f"the OCI layout lacks layer {digest}", "the layout is incomplete") from None
        with handle:
            return index_reader(CountingReader(handle, progress), digest, want, sink)  # type: ignore[arg-type]

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        found = []

        def capture(entry, handle) -> None:
            found.append(True)
            sink(entry, handle)

        self._index(layer.name, progress, lambda p: p == path, capture)
        return bool(found)
