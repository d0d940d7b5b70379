"""OCI image indexes and manifests (and their Docker v2 twins): picking the platform, naming blobs."""

from __future__ import annotations

import json
import platform as host_platform
import re
from dataclasses import dataclass

from darse.errors import DarseError
from darse.images.registry.manifests import IMAGE_MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST, is_digest

MANIFEST_TYPES = IMAGE_MANIFEST_TYPES  # single-image manifests (not indexes), as the sources name them
MAX_LAYERS = 500  # overlay2 stacks at most 128 layers; a manifest listing more is not an image to read
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def parse_platform(text: str | None) -> Platform:
    """`linux/arm64/v8`, `linux/amd64`; None: the local engine's platform (this host's), else linux/amd64."""
    if not text:
        return Platform("linux", _ARCH.get(host_platform.machine().lower(), "amd64"))
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
        raise DarseError(f"--platform {text!r} is not os/arch[/variant]", "write it like linux/amd64 or linux/arm64/v8")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def check_digest(digest: object) -> str:
    if not is_digest(digest):
        raise DarseError(
            f"the image names a blob by an unsupported digest {str(digest)[:80]!r}", "only sha256 digests are supported"
        )
    return digest


def load_json(raw: bytes, what: str) -> dict:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DarseError(f"{what} is not valid JSON", "the image is corrupt or not an image") from None
    except RecursionError:
        raise DarseError(f"{what} is nested too deeply", "the image is corrupt or hostile") from None
    if not isinstance(data, dict):
        raise DarseError(f"{what} is not a JSON object", "the image is corrupt or not an image")
    return data


def media_type(document: dict, fallback: str = "") -> str:
    value = document.get("mediaType") or fallback
    if not value and "manifests" in document:
        return OCI_INDEX
    if not value and "layers" in document:
        return OCI_MANIFEST
    return str(value)


def choose(index: dict, wanted: Platform) -> dict:
    """The descriptor of the manifest for `wanted` in an index (attestations are skipped)."""
    listed = index.get("manifests")
    if not isinstance(listed, list):
        raise DarseError("the image index has no list of manifests", "the image is corrupt or not an image")
    manifests = [m for m in listed if isinstance(m, dict) and isinstance(m.get("platform") or {}, dict)]
    candidates = []
    for descriptor in manifests:
        plat = descriptor.get("platform") or {}
        annotations = descriptor.get("annotations")
        if isinstance(annotations, dict) and annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        if plat.get("os") in (None, "unknown") and len(manifests) == 1:
            return descriptor
        same = plat.get("os") == wanted.os and plat.get("architecture") == wanted.architecture
        if same and (not wanted.variant or plat.get("variant", "") in (wanted.variant, "")):
            candidates.append(descriptor)
    if candidates:
        return candidates[0]
    if len(manifests) == 1 and not manifests[0].get("platform"):
        return manifests[0]
    found = sorted({_describe(m.get("platform") or {}) for m in manifests})
    raise DarseError(
        f"the image has no manifest for {wanted}", f"choose one with --platform: {', '.join(found) or 'none'}"
    )


def _describe(plat: dict) -> str:
    return "/".join(str(plat[k]) for k in ("os", "architecture", "variant") if plat.get(k))


def layer_digests(manifest: dict) -> tuple[str, list[str]]:
    """(config digest, layer digests) of an image manifest."""
    config = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config, dict):
        raise DarseError("the image manifest has no config descriptor", "the image is corrupt or not an image")
    if not isinstance(layers, list) or not all(isinstance(d, dict) for d in layers):
        raise DarseError("the image manifest has no list of layer descriptors", "the image is corrupt or not an image")
    check_layer_count(len(layers))
    return check_digest(config.get("digest")), [check_digest(d.get("digest")) for d in layers]


def check_layer_count(count: int) -> None:
    if count > MAX_LAYERS:
        raise DarseError(
            f"the image lists {count} layers, more than {MAX_LAYERS}", "no engine can stack that many: refused"
        )
