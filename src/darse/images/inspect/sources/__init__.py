"""Where an image comes from: the local engine, a `docker save`/OCI archive, an OCI layout directory,
or a registry. `open_source` picks one from the argument the user gave."""

from __future__ import annotations

import re
from pathlib import Path

from darse.errors import DarseError
from darse.images.inspect.sources.base import ImageSource, LoadedImage

__all__ = ["KINDS", "ImageSource", "LoadedImage", "open_source"]
KINDS = ("auto", "engine", "archive", "oci", "registry")
_HOST = re.compile(r"^[^/]+[.:][^/]*/|^localhost/")


def has_registry_host(reference: str) -> bool:
    """`registry.example.org/wiki:2.5`, `127.0.0.1:5000/x` name a registry; `wiki:2.5` does not."""
    return bool(_HOST.match(reference))


def open_source(reference: str, kind: str = "auto", platform: str | None = None) -> ImageSource:
    if kind not in KINDS:
        raise DarseError(f"unknown source {kind!r}", f"use one of {', '.join(KINDS)}")
    for prefix, forced in (
        ("docker-archive:", "archive"),
        ("oci:", "oci"),
        ("docker://", "registry"),
        ("docker-daemon:", "engine"),
    ):
        if reference.startswith(prefix):
            reference, kind = reference[len(prefix) :], forced
    path = Path(reference)
    if kind in ("auto", "archive", "oci") and path.exists():
        if path.is_dir():
            from darse.images.inspect.sources.oci import OciLayoutSource

            return OciLayoutSource(path, platform)
        from darse.images.inspect.sources.archive import ArchiveSource

        return ArchiveSource(path, platform=platform)
    if kind in ("archive", "oci"):
        raise DarseError(f"{reference} does not exist", "give the path of a `docker save` archive or an OCI layout")
    if kind == "registry":
        from darse.images.inspect.sources.registry import RegistrySource

        return RegistrySource(reference, platform)
    from darse.images.inspect.sources.engine import EngineSource, connect, engine_has

    if kind == "engine":
        return EngineSource(reference, connect().api)  # the engine starts its export now
    try:
        engine = connect()
        present = not has_registry_host(reference) or engine_has(engine, reference)
    except DarseError:
        if has_registry_host(reference):
            from darse.images.inspect.sources.registry import RegistrySource

            return RegistrySource(reference, platform)
        raise
    if present:
        return EngineSource(reference, engine.api)
    from darse.images.inspect.sources.registry import RegistrySource

    return RegistrySource(reference, platform)
