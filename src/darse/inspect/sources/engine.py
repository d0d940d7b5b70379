"""An image in the local engine, read from the Engine API's export (`GET /images/{name}/get`, what
`docker save` calls) as a stream: parsed as it arrives, never written whole to disk.

The engine prepares the whole export before its first byte (seconds for a large image), so the
request is sent as soon as the source is made, and darse imports and reads its configuration while
the engine works. On the local socket the standard library speaks to the engine
(`darse.engine.local`); other endpoints (TCP, TLS, SSH) go through docker-py.
"""

from __future__ import annotations

import http.client
import io
import itertools
from typing import Any, BinaryIO

from darse.engine import local
from darse.errors import DarseError
from darse.inspect.layers import LayerIndex
from darse.inspect.sources.archive import CountingReader, assemble, find_member, read_stream
from darse.inspect.sources.base import LoadedImage, Progress, Sink
from darse.inspect.streams import CHUNK, IterStream

_UNREACHABLE = "start dockerd or set DOCKER_HOST"


def _no_engine(exc: BaseException) -> DarseError:
    return DarseError(f"the Docker engine does not answer ({str(exc)[:200] or type(exc).__name__})", _UNREACHABLE)


def _missing(reference: str) -> DarseError:
    return DarseError(
        f"no image {reference!r} in the local engine",
        "check `docker images`, or give an archive path or a registry reference",
    )


def connect() -> Any:
    """docker-py's client, for an engine that is not on the local socket."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        raise _no_engine(exc) from None
    return client


def local_engine() -> local.LocalEngine | None:
    """The standard-library client when the engine is the local socket, else None."""
    path = local.local_socket()
    return local.LocalEngine(path, timeout=300) if path else None


def engine_has(engine: Any, name: str) -> bool:
    """Whether the engine (either client) knows the image; raises DarseError when it does not answer."""
    try:
        engine.inspect_image(name) if isinstance(engine, local.LocalEngine) else engine.api.inspect_image(name)
    except local.APIError as exc:
        if exc.status_code in (400, 404):
            return False
        raise DarseError(f"the engine cannot inspect {name!r} ({exc.explanation})", "check the image name") from None
    except OSError as exc:
        raise _no_engine(exc) from None
    except Exception as exc:  # docker-py's errors, imported only when docker-py is used
        if getattr(exc, "status_code", None) in (400, 404):
            return False
        raise
    return True


class _ExportBody(io.RawIOBase):
    """The export's HTTP body as a raw file. A broken transfer either raises here (an OSError the
    readers report as an unreadable archive) or ends the body early, which the tar reader and the
    manifest check catch. (Reading ahead in a thread was measured: no faster, the parse and the
    engine's streaming share this machine's two cores either way.)"""

    def __init__(self, pending: local.PendingStream, response: http.client.HTTPResponse) -> None:
        self._pending = pending
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        try:
            return self._response.readinto(target)
        except http.client.HTTPException as exc:
            raise OSError(f"the engine's export stopped early ({type(exc).__name__})") from None

    def close(self) -> None:
        if not self.closed:
            self._pending.close()
        super().close()


class EngineSource:
    kind = "engine"

    def __init__(self, name: str, client: Any = None, engine: local.LocalEngine | None = None) -> None:
        self.reference = name
        self._client = client
        self._local = engine if engine is not None else (local_engine() if client is None else None)
        self._pending: local.PendingStream | None = None
        self._facts: dict[str, Any] | None = None
        if self._local is not None:
            self._pending = self._start_export()

    def _start_export(self) -> local.PendingStream | None:
        """Ask for the export now; a failure to connect is reported when the image is read."""
        try:
            return self._local.start_export(self.reference)  # type: ignore[union-attr]
        except OSError:
            return None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    def _inspect(self) -> dict[str, Any]:
        """What the engine says of the image, asked once (the progress bar and the repo digest)."""
        if self._facts is None:
            try:
                if self._local is not None:
                    self._facts = self._local.inspect_image(self.reference)
                else:
                    self._facts = self.client.api.inspect_image(self.reference)
            except Exception:  # only for the progress bar and the repo digest: absent is fine
                self._facts = {}
        return self._facts

    def total_bytes(self) -> int | None:
        return int(self._inspect().get("Size") or 0) or None

    def _open(self, progress: Progress | None) -> BinaryIO:
        raw = self._open_local() if self._local is not None else self._open_docker_py()
        return io.BufferedReader(CountingReader(raw, progress), CHUNK)  # type: ignore[arg-type]

    def _open_local(self) -> _ExportBody:
        pending, self._pending = self._pending, None
        try:
            if pending is None:
                pending = self._local.start_export(self.reference)  # type: ignore[union-attr]
            response = pending.response()
        except local.NotFound:
            raise _missing(self.reference) from None
        except local.APIError as exc:
            raise DarseError(
                f"the engine cannot export {self.reference!r} ({exc.explanation})", "check the image name"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _no_engine(exc) from None
        return _ExportBody(pending, response)

    def _open_docker_py(self) -> IterStream:
        import docker.errors

        try:
            chunks = iter(self.client.api.get_image(self.reference, chunk_size=CHUNK))
            first = next(chunks, b"")  # docker-py checks the status on the first chunk, not before
        except docker.errors.NotFound:
            raise _missing(self.reference) from None
        except docker.errors.APIError as exc:
            raise DarseError(
                f"the engine cannot export {self.reference!r} ({exc.explanation})", "check the image name"
            ) from None
        return IterStream(itertools.chain([first], chunks))

    def load(self, progress: Progress | None = None) -> LoadedImage:
        stream = self._open(progress)
        try:
            contents = read_stream(stream)
        finally:
            stream.close()
        image = assemble(contents, self.kind, self.reference, None)
        digests = self._inspect().get("RepoDigests") or []
        image.manifest_digest = str(digests[0]).rpartition("@")[2] if digests else None
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
        if self._local is not None:
            self._local.close()
