"""Image references (`registry/repo:tag@digest`) split the way Docker splits them, and what a tag promises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from darse.errors import DarseError


class TagKind(Enum):
    """How much a tag pins: the lint rules report the first three, accept the others."""

    LATEST = "latest"  # no tag, or `latest`
    CHANNEL = "channel"  # `alpine`, `stable`, `lts`, `edge`, `main`, `latest-alpine`: moves with every release
    MAJOR = "major"  # `3`, `16-alpine`, `20-bookworm-slim`: moves with every minor release
    VERSION = "version"  # `11.4`, `v2.11`, `16.4-alpine`, a date, a commit, a distribution's codename
    DIGEST = "digest"  # `@sha256:...`: never moves

    @property
    def moves(self) -> bool:
        return self in (TagKind.LATEST, TagKind.CHANNEL, TagKind.MAJOR)


# Words that name a release channel rather than a release: a tag made only of them (and of variant
# words) follows the channel. Registries' own conventions (Docker Hub official images, GitHub's ghcr).
CHANNEL_WORDS = frozenset(
    {
        "latest", "stable", "lts", "edge", "main", "master", "dev", "develop", "development", "nightly",
        "mainline", "beta", "alpha", "canary", "testing", "unstable", "current", "rolling", "next", "release",
        "preview", "insider", "experimental", "head", "trunk", "snapshot", "unraid", "production", "prod",
    }
)  # fmt: skip
# Variant words: they choose a flavour of whatever release the rest of the tag names.
VARIANT_WORDS = frozenset(
    {
        "alpine", "slim", "full", "minimal", "debian", "ubuntu", "fpm", "apache", "cli", "jre", "jdk",
        "community", "enterprise", "rootless", "distroless", "nonroot", "amd64", "arm64", "armhf", "arm",
        "musl", "glibc", "perl", "otel", "ce", "ee", "oss", "bin", "static", "runtime", "devel", "base",
    }
)  # fmt: skip
# Distribution images: for them, a codename tag (`debian:bookworm-slim`) names a release.
DISTRIBUTIONS = frozenset({"debian", "ubuntu", "buildpack-deps"})
# Debian and Ubuntu codenames: a tag made of a codename alone follows that distribution release only.
CODENAMES = frozenset(
    {
        "buster", "bullseye", "bookworm", "trixie", "forky", "sid", "stretch", "jessie",
        "bionic", "focal", "jammy", "noble", "oracular", "plucky", "questing", "xenial",
    }
)  # fmt: skip
# The distribution registry's grammar for a repository path and a tag; a digest is sha256 only.
REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
SHA256_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_LEADING_VERSION = re.compile(r"^v?(\d+)((?:\.\d+)+)?")
_DATE = re.compile(r"(?:19|20)\d{2}(?:[-._]?\d{2}){1,2}")  # 20241111, 2024-11-11, 2024.11
_HEX = re.compile(r"^(?:sha-)?[0-9a-f]{7,64}$")
_DOTTED = re.compile(r"\d+\.\d+")
# `alpine3.20`, `ubuntu22.04`: a version of the base the image is built on, not of the image itself
_BASE_VERSION = re.compile(r"^(?:alpine|ubuntu|debian|windowsservercore|nanoserver|bookworm|bullseye)v?[\d.]+$")


def classify_tag(tag: str, image_name: str = "", digest: str = "") -> TagKind:
    """What a tag pins, from its shape alone (lint stays offline): see `TagKind`."""
    if digest:
        return TagKind.DIGEST
    lowered = tag.lower()
    if lowered in ("", "latest"):
        return TagKind.LATEST
    words = [w for w in re.split(r"[-_+]", lowered) if w]
    own = [w for w in words if not _BASE_VERSION.match(w)]
    if _DATE.search(lowered) or _HEX.match(lowered) or any(_DOTTED.search(w) for w in own):
        return TagKind.VERSION
    if any(w in CHANNEL_WORDS for w in words):
        return TagKind.CHANNEL
    leading = _LEADING_VERSION.match(words[0]) if words else None
    if leading:
        return TagKind.MAJOR  # one number alone: `3`, `16-alpine`, `v2`
    bare = [w for w in own if w not in VARIANT_WORDS]
    if not bare:
        return TagKind.CHANNEL  # `alpine`, `slim`: the latest release in that flavour
    if all(w in CODENAMES for w in bare) and image_name not in DISTRIBUTIONS:
        return TagKind.CHANNEL  # `node:bookworm-slim`: the newest node on bookworm
    return TagKind.VERSION


def moving_tag_phrase(ref: ImageRef) -> str:
    """Why a latest or channel tag moves, for a finding's message: `is tagged latest`, `has no tag`."""
    kind = ref.tag_kind
    if kind is TagKind.LATEST:
        return "is tagged latest" if ref.tag else "has no tag"
    return f"is tagged {ref.tag}, a channel that moves with every release"


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
    def full_name(self) -> str:
        """`lscr.io/linuxserver/mariadb`, `linuxserver/mariadb`, `postgres`: Docker Hub without a registry."""
        registry = "" if self.registry in ("docker.io", "index.docker.io", "registry-1.docker.io") else self.registry
        return f"{registry}/{self.repository}" if registry else self.repository

    @property
    def pinned(self) -> bool:
        """A tag other than `latest`, or a digest."""
        return bool(self.digest) or (bool(self.tag) and self.tag != "latest")

    @property
    def tag_kind(self) -> TagKind:
        return classify_tag(self.tag, self.name, self.digest)

    @property
    def reference(self) -> str:
        """What to ask a registry for: the digest when pinned, else the tag (default `latest`)."""
        return self.digest or self.tag or "latest"


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


def parse_registry_image(text: str) -> ImageRef:
    """`registry.example.org/team/app:1.2@sha256:...` read strictly, for talking to that registry: the
    host is required (no Docker Hub default), and repository, tag and digest must be valid names."""
    ref = text.strip()
    if not ref or len(ref) > 1024 or any(c.isspace() for c in ref):
        raise DarseError(f"not an image reference: {text[:80]!r}", "write HOST[:PORT]/REPOSITORY[:TAG][@DIGEST]")
    ref = re.sub(r"^(?:https?|docker)://", "", ref)
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not SHA256_DIGEST.match(digest):
            raise DarseError(f"not a sha256 digest: {digest[:80]!r}", "a digest is sha256: and 64 hex digits")
    host, slash, rest = ref.partition("/")
    if not slash or not ("." in host or ":" in host or host == "localhost"):
        raise DarseError(
            f"{text!r} names no registry host", "write the registry first, e.g. registry.example.org/app:1.0"
        )
    tag = ""
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not TAG_NAME.match(tag):
            raise DarseError(f"not a valid tag: {tag[:80]!r}", "tags are letters, digits, '_', '.', '-'")
    if not REPOSITORY_NAME.match(rest):
        raise DarseError(f"not a valid repository name: {rest[:80]!r}", "lowercase letters, digits, '.', '_', '-', '/'")
    return ImageRef(host.lower(), rest, tag, digest)
