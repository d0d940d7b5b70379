"""What a registry holds, tag by tag, fetched concurrently through a bounded pool of requests."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from darse.errors import DarseError
from darse.images.registry.client import RegistryClient

MAX_CONFIG_BYTES = 8 * 1024 * 1024
CREATED_LABEL = "org.opencontainers.image.created"


@dataclass(frozen=True)
class TagRow:
    repository: str
    tag: str
    digest: str
    media_type: str
    size: int
    created: str  # the OCI label (the commit time for darse builds), else the config's own date

    def to_dict(self) -> dict:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "media_type": self.media_type,
            "size": self.size,
            "created": self.created,
        }


def _created(client: RegistryClient, repository: str, digest: str | None, size: int | None) -> str:
    if not digest:
        return ""
    limit = min(size, MAX_CONFIG_BYTES) if isinstance(size, int) and size >= 0 else MAX_CONFIG_BYTES
    with client.open_blob(repository, digest, limit=limit) as blob:
        try:
            config = json.loads(blob.read())
        except ValueError:
            return ""
    if not isinstance(config, dict):
        return ""
    labels = (config.get("config") or {}).get("Labels") if isinstance(config.get("config"), dict) else None
    if isinstance(labels, dict) and isinstance(labels.get(CREATED_LABEL), str):
        return labels[CREATED_LABEL][:40]
    created = config.get("created")
    return created[:40] if isinstance(created, str) else ""


def _row(client: RegistryClient, repository: str, tag: str) -> TagRow:
    manifest = client.get_manifest(repository, tag)
    size = manifest.size
    created = ""
    if manifest.is_index:
        entries = manifest.data.get("manifests") or []
        size = sum(e.get("size", 0) for e in entries if isinstance(e, dict) and isinstance(e.get("size"), int))
    else:
        config = manifest.data.get("config") if isinstance(manifest.data.get("config"), dict) else {}
        created = _created(client, repository, manifest.config_digest, config.get("size"))
    return TagRow(repository, tag, manifest.digest, manifest.media_type, size, created)


def list_images(client: RegistryClient, repositories: list[str] | None = None, *, workers: int = 8) -> list[TagRow]:
    """Every (repository, tag) with digest, size and creation time; sorted by repository then tag."""
    names = repositories if repositories is not None else client.catalog()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        tag_lists = list(pool.map(client.tags, names))
        pairs = [(name, tag) for name, tags in zip(names, tag_lists, strict=True) for tag in sorted(tags)]
        rows = list(pool.map(lambda pair: _row(client, *pair), pairs))
    return sorted(rows, key=lambda r: (r.repository, r.tag))


def tags_sharing(client: RegistryClient, repository: str, digest: str, *, workers: int = 8) -> list[str]:
    """The tags of `repository` that point at `digest` (deleting it removes all of them)."""
    tags = client.tags(repository)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = list(pool.map(lambda t: client.manifest_digest(repository, t), tags))
    shared = sorted(t for t, d in zip(tags, digests, strict=True) if d == digest)
    if not shared:
        raise DarseError(f"no tag of {repository} points at {digest}", "it may have been deleted meanwhile")
    return shared
