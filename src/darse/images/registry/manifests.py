"""Manifests and indexes (OCI and their Docker v2 twins): media types, digests, and a manifest as fetched.

Shared by the registry client (what to accept, what it received) and by `darse inspect`'s sources
(which read the same documents out of `docker save` archives and OCI layouts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeGuard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# Every type darse reads, in the order the `Accept` header lists them: without that header a 2.8
# registry converts the manifest to schema 1 and answers another digest.
ACCEPTED_TYPES: tuple[str, ...] = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
INDEX_TYPES: frozenset[str] = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_TYPES: frozenset[str] = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def is_digest(value: object) -> TypeGuard[str]:
    """A `sha256:` digest with 64 lowercase hex digits (the only kind darse accepts)."""
    return isinstance(value, str) and bool(DIGEST.match(value))


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry sent it: `digest` is the sha256 of `raw`, checked."""

    media_type: str
    digest: str
    raw: bytes
    data: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def config_digest(self) -> str | None:
        """The image's config blob digest (the engine's image ID) for a single-image manifest."""
        config = self.data.get("config")
        digest = config.get("digest") if isinstance(config, dict) else None
        return digest if is_digest(digest) else None

    @property
    def size(self) -> int:
        """Manifest, config and layers together: what the image costs in the registry (0 for an index)."""
        total = len(self.raw)
        for part in [self.data.get("config"), *(self.data.get("layers") or [])]:
            if isinstance(part, dict) and isinstance(part.get("size"), int) and part["size"] >= 0:
                total += part["size"]
        return total
