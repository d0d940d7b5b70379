"""A remote image `HOST[:PORT]/REPO[:TAG][@DIGEST]` read through the Registry HTTP API v2, without an
engine: the manifest (or the index, then the manifest of the chosen platform), the config blob, then
each layer blob streamed through gunzip into the layer indexer. The registry client (darse.images.registry)
checks every manifest's and blob's digest; this module checks the uncompressed layers against the
config's diff_ids like every other source.

Credentials come from DARSE_REGISTRY_USER / DARSE_REGISTRY_PASSWORD, a private CA from DARSE_REGISTRY_CA.
"""

from __future__ import annotations

import os

from darse.errors import DarseError
from darse.images.inspect.layers import LayerIndex
from darse.images.inspect.sources import manifest as oci
from darse.images.inspect.sources.archive import CountingReader, index_reader
from darse.images.inspect.sources.base import LoadedImage, Progress, Sink
from darse.images.registry.client import RegistryClient
from darse.images.registry.credentials import Credentials
from darse.model.image import parse_registry_image

MAX_CONFIG = 4 * 1024 * 1024


def _credentials() -> Credentials | None:
    user = os.environ.get("DARSE_REGISTRY_USER", "")
    if not user:
        return None
    return Credentials(user, os.environ.get("DARSE_REGISTRY_PASSWORD", ""))


class RegistrySource:
    kind = "registry"

    def __init__(self, reference: str, platform: str | None = None) -> None:
        self.reference = reference
        self.ref = parse_registry_image(reference)
        self.platform = oci.parse_platform(platform)
        self._plan: tuple[str, dict, list[tuple[str, int | None]]] | None = None

    def _client(self) -> RegistryClient:
        return RegistryClient(
            self.ref.registry, credentials=_credentials(), ca_bundle=os.environ.get("DARSE_REGISTRY_CA")
        )

    def _resolve(self, client: RegistryClient) -> tuple[str, dict, list[tuple[str, int | None]]]:
        """(manifest digest, manifest, [(layer digest, size)]) for the chosen platform."""
        if self._plan is None:
            manifest = client.get_manifest(self.ref.repository, self.ref.reference)
            for _ in range(4):
                if not manifest.is_index:
                    break
                descriptor = oci.choose(manifest.data, self.platform)
                manifest = client.get_manifest(self.ref.repository, oci.check_digest(descriptor.get("digest")))
            if manifest.is_index:
                raise DarseError(f"{self.reference}: indexes nest too deep", "the registry is broken or lying")
            oci.layer_digests(manifest.data)  # the descriptors' shapes, digests and count, checked
            sized = [(oci.check_digest(d.get("digest")), _size(d)) for d in manifest.data["layers"]]
            self._plan = (manifest.digest, manifest.data, sized)
        return self._plan

    def total_bytes(self) -> int | None:
        return None

    def load(self, progress: Progress | None = None) -> LoadedImage:
        with self._client() as client:
            digest, manifest, layers = self._resolve(client)
            config = manifest["config"]
            config_digest = oci.check_digest(config.get("digest"))
            with client.open_blob(
                self.ref.repository, config_digest, expected_size=_size(config), limit=MAX_CONFIG
            ) as blob:
                config_raw = blob.read()
                blob.read()  # to the end: the client verifies the digest there
            indexed: dict[str, LayerIndex] = {}
            for layer_digest, size in layers:
                if layer_digest not in indexed:
                    indexed[layer_digest] = self._index(client, layer_digest, size, progress)
        return LoadedImage(
            self.kind, self.reference, config_raw, [indexed[d] for d, _ in layers], [], digest, str(self.platform)
        )

    def _index(
        self, client: RegistryClient, digest: str, size: int | None, progress, want=None, sink=None
    ) -> LayerIndex:
        with client.open_blob(self.ref.repository, digest, expected_size=size) as blob:
            return index_reader(CountingReader(blob, progress), digest, want, sink)  # type: ignore[arg-type]

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        found: list[bool] = []

        def capture(entry, handle) -> None:
            found.append(True)
            sink(entry, handle)

        with self._client() as client:
            _, _, layers = self._resolve(client)
            size = dict(layers).get(layer.name)
            self._index(client, layer.name, size, progress, lambda p: p == path, capture)
        return bool(found)


def _size(descriptor: object) -> int | None:
    value = descriptor.get("size") if isinstance(descriptor, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
