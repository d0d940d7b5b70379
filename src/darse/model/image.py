"""Image references (`registry/repo:tag@digest`) split the way Docker splits them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    registry: str  # "" for Docker Hub
    repository: str  # e.g. "library/postgres" is written "postgres"
    tag: str  # "" when absent
    digest: str  # "" when absent

    @property
    def name(self) -> str:
        """The last path component: `postgres` for `docker.io/bitnami/postgres:16`."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def pinned(self) -> bool:
        """A tag other than `latest`, or a digest."""
        return bool(self.digest) or (bool(self.tag) and self.tag != "latest")


def parse_image(reference: str) -> ImageRef:
    ref = reference.strip()
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    registry = ""
    first, slash, rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, ref = first, rest
    tag = ""
    last_slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > last_slash:
        ref, tag = ref[:colon], ref[colon + 1 :]
    repository = ref.lower()
    if repository.startswith("library/") and registry in ("", "docker.io"):
        repository = repository[len("library/") :]
    return ImageRef(registry, repository, tag, digest)
