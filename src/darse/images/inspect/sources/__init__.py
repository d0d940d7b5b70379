"""Where an image comes from: the local engine, a `docker save`/OCI archive, an OCI layout directory,
or a registry. `open_source` picks one from the argument the user gave."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from darse.errors import DarseError
from darse.images.inspect.sources.base import ImageSource, LoadedImage

if TYPE_CHECKING:
    from darse.engine.docker import Engine

__all__ = ["KINDS", "READS", "ImageSource", "LoadedImage", "open_source"]
KINDS = ("auto", "engine", "archive", "oci", "registry")
READS = ("auto", "store", "export")  # how an image of the local engine is read
_HOST = re.compile(r"^[^/]+[.:][^/]*/|^localhost/")


def has_registry_host(reference: str) -> bool:
    """`registry.example.org/wiki:2.5`, `127.0.0.1:5000/x` name a registry; `wiki:2.5` does not."""
    return bool(_HOST.match(reference))


def open_source(reference: str, kind: str = "auto", platform: str | None = None, read: str = "auto") -> ImageSource:
    """`read`: `store` or `export` force how an engine's image is read (and the engine as the source);
    `auto` reads the layer store when it can, else the export."""
    if kind not in KINDS:
        raise DarseError(f"unknown source {kind!r}", f"use one of {', '.join(KINDS)}")
    if read not in READS:
        raise DarseError(f"unknown --read {read!r}", f"use one of {', '.join(READS)}")
    if read != "auto":
        if kind not in ("auto", "engine") or reference.startswith(("docker-archive:", "oci:", "docker://")):
            raise DarseError(f"--read {read} reads an image of the local engine", "leave --read out for this source")
        kind = "engine"
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
    from darse.images.inspect.sources.engine import connect, engine_has

    if kind == "engine":
        return engine_source(reference, connect(), read)
    try:
        engine = connect()
        present = not has_registry_host(reference) or engine_has(engine, reference)
    except DarseError:
        if has_registry_host(reference):
            from darse.images.inspect.sources.registry import RegistrySource

            return RegistrySource(reference, platform)
        raise
    if present:
        return engine_source(reference, engine, read)
    from darse.images.inspect.sources.registry import RegistrySource

    return RegistrySource(reference, platform)


def engine_source(reference: str, engine: Engine, read: str = "auto") -> ImageSource:
    """The engine's layer store when it can serve (`read` auto or store), else the export, which the
    engine starts preparing now. A forced store that cannot serve is a one-line error saying why."""
    from darse.images.inspect.sources.engine import EngineSource

    if read != "export":
        from darse.images.inspect.sources.store import StoreSource, StoreUnavailable

        try:
            return StoreSource(reference, engine.api)  # type: ignore[arg-type]
        except StoreUnavailable as exc:
            if read == "store":
                raise DarseError(
                    f"cannot read {reference!r} from the engine's layer store: {exc.reason}",
                    "use --read export (the engine's export, as `docker save` reads it)",
                ) from None
    return EngineSource(reference, engine.api)
