"""An image in the local engine, read from the Engine API's export (`GET /images/{name}/get`, what
`docker save` calls) as a stream: parsed as it arrives, never written whole to disk.

The engine prepares the whole export before its first byte (seconds for a large image), so the
request is sent as soon as the source is made, and darse imports and reads its configuration while
the engine works. Whichever client `darse.engine.connect` chose serves the export (the standard
library on the local socket, docker-py elsewhere), through `EngineAPI.start_export`.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from darse.engine.api import APIError, EngineAPI, ImageExport, NotFound
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.images.inspect.layers import LayerIndex
from darse.images.inspect.sources.archive import CountingReader, assemble, find_member, read_stream
from darse.images.inspect.sources.base import LoadedImage, Progress, Sink
from darse.images.inspect.streams import CHUNK

_UNREACHABLE = "start dockerd or set DOCKER_HOST"
TIMEOUT = 300  # s without a byte of the export: the engine prepares a large one for a while


def _no_engine(exc: BaseException) -> DarseError:
    return DarseError(f"the Docker engine does not answer ({str(exc)[:200] or type(exc).__name__})", _UNREACHABLE)


def _missing(reference: str) -> DarseError:
    return DarseError(
        f"no image {reference!r} in the local engine",
        "check `docker images`, or give an archive path or a registry reference",
    )


def connect() -> Engine:
    """The engine images are read from (the environment's), or the one-line 'cannot reach' error."""
    from darse.engine.connect import connect as connect_engine

    return connect_engine(timeout=TIMEOUT)


def engine_has(engine: Engine, name: str) -> bool:
    """Whether the engine knows the image; raises DarseError when it does not answer."""
    try:
        engine.api.inspect_image(name)
    except engine.errors.APIError as exc:
        if exc.status_code in (400, 404):
            return False
        raise DarseError(f"the engine cannot inspect {name!r} ({exc.explanation})", "check the image name") from None
    except OSError as exc:
        raise _no_engine(exc) from None
    return True


class EngineSource:
    kind = "engine"

    def __init__(self, name: str, engine: EngineAPI | None = None) -> None:
        """`engine`: the client to read from (`connect()`'s when None); the export is asked for now."""
        self.reference = name
        self._api: EngineAPI = engine if engine is not None else connect().api
        self._facts: dict[str, Any] | None = None
        self._pending: ImageExport | None = self._start_export()

    def _start_export(self) -> ImageExport | None:
        """Ask for the export now; a failure to connect is reported when the image is read."""
        try:
            return self._api.start_export(self.reference)
        except OSError:
            return None

    def _inspect(self) -> dict[str, Any]:
        """What the engine says of the image, asked once (the progress bar and the repo digest)."""
        if self._facts is None:
            try:
                self._facts = self._api.inspect_image(self.reference)
            except Exception:  # only for the progress bar and the repo digest: absent is fine
                self._facts = {}
        return self._facts

    def total_bytes(self) -> int | None:
        return int(self._inspect().get("Size") or 0) or None

    def _open(self, progress: Progress | None) -> BinaryIO:
        pending, self._pending = self._pending, None
        try:
            if pending is None:
                pending = self._api.start_export(self.reference)
            raw = pending.open()
        except NotFound:
            raise _missing(self.reference) from None
        except APIError as exc:
            raise DarseError(
                f"the engine cannot export {self.reference!r} ({exc.explanation})", "check the image name"
            ) from None
        except OSError as exc:
            raise _no_engine(exc) from None
        return io.BufferedReader(CountingReader(raw, progress), CHUNK)  # type: ignore[arg-type]

    def load(self, progress: Progress | None = None) -> LoadedImage:
        stream = self._open(progress)
        try:
            contents = read_stream(stream)
        finally:
            stream.close()
        image = assemble(contents, self.kind, self.reference, None)
        digests = self._inspect().get("RepoDigests") or []
        image.manifest_digest = str(digests[0]).rpartition("@")[2] if digests else None
        image.read = "export"
        return image

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        stream = self._open(progress)
        try:
            return find_member(stream, layer.name, path, sink)
        finally:
            stream.close()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None
        self._api.close()
