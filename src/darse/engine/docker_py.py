"""docker-py's low-level client, for engines off the local socket (TCP, TLS, SSH) and for the calls
the standard-library client does not make (build, push, tag, Swarm).

`DockerPyAPI` is docker-py's `APIClient` plus the one call of `darse.engine.api.EngineAPI` it shapes
differently: the image export, which docker-py gives as an iterator of chunks whose HTTP status is
checked on the first chunk. Imported only when such an engine or call is used (docker-py's import
costs ~0.3 s).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import docker.utils

from darse.engine.api import APIError, NotFound, event_objects, log_params

CHUNK = 1 << 20
errors = docker.errors  # what `Engine` catches from this client: its APIError and NotFound


class DockerPyAPI(docker.APIClient):
    """docker-py's APIClient satisfying `EngineAPI` (it has every other call already)."""

    def start_export(self, image: str) -> _ChunkExport:
        return _ChunkExport(self, image)

    def start_events(self, *, filters: dict[str, Any] | None = None) -> _Events:
        """docker-py's event stream, its bytes split into objects by darse (bounded lines, as locally)."""
        try:
            return _Events(self.events(filters=filters, decode=False))
        except docker.errors.APIError as exc:
            raise _translated(exc) from None

    def start_logs(self, container: str, *, tail: int | str = "all", since: float | None = None) -> _LogChunks:
        return self._follow(self._url("/containers/{0}/logs", container), log_params(tail, since))

    def start_service_logs(self, service: str, *, tail: int | str = "all", follow: bool = True) -> _LogChunks:
        params = {**log_params(tail, follow=follow), "details": "1"}
        return self._follow(self._url("/services/{0}/logs", service), params)

    def _follow(self, url: str, params: dict[str, str]) -> _LogChunks:
        """The answer's raw bytes, chunk by chunk as the engine flushes them (frames taken apart by darse)."""
        try:
            response = self._get(url, params=params, stream=True)
            self._raise_for_status(response)
        except docker.errors.APIError as exc:
            raise _translated(exc) from None
        return _LogChunks(response)


def api_for(base_url: str | None, timeout: float, use_ssh_client: bool = False) -> DockerPyAPI:
    """A client on `base_url`, or on the environment's engine (DOCKER_HOST, DOCKER_TLS_VERIFY,
    DOCKER_CERT_PATH as the docker CLI reads them) when it is None."""
    if base_url is None:
        return DockerPyAPI(timeout=timeout, **docker.utils.kwargs_from_env())
    return DockerPyAPI(base_url=base_url, timeout=timeout, use_ssh_client=use_ssh_client)


def high_level(api: docker.APIClient) -> docker.DockerClient:
    """docker-py's DockerClient on the same connection (`DockerClient` holds nothing but its `api`)."""
    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = api
    return client


class _ChunkExport:
    """An export through docker-py: the request is sent now, its status read with the first chunk."""

    def __init__(self, api: docker.APIClient, image: str) -> None:
        self._chunks: Iterator[bytes] | None = None
        self._body: _Chunks | None = None
        self._error: BaseException | None = None
        try:
            self._chunks = iter(api.get_image(image, chunk_size=CHUNK))
        except docker.errors.APIError as exc:
            self._error = _translated(exc)

    def open(self) -> io.RawIOBase:
        if self._error is not None:
            raise self._error
        assert self._chunks is not None
        try:
            first = next(self._chunks, b"")
        except docker.errors.APIError as exc:
            raise _translated(exc) from None
        except docker.errors.DockerException as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from None
        self._body = _Chunks(first, self._chunks)
        return self._body

    def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _translated(exc: docker.errors.APIError) -> APIError:
    status = exc.status_code or 500
    kind = NotFound if status == 404 else APIError
    return kind(status, str(exc.explanation or exc)[:300])


class _Chunks(io.RawIOBase):
    """A read-only raw file over an iterator of byte chunks."""

    def __init__(self, first: bytes, rest: Iterator[bytes]) -> None:
        self._rest: Iterator[bytes] = rest
        self._buffer = memoryview(first)

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                chunk = next(self._rest, None)
            except docker.errors.DockerException as exc:
                raise OSError(f"the engine's export stopped early ({type(exc).__name__})") from None
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class _Events:
    """docker-py's `CancellableStream` of raw bytes as a `darse.engine.api.EventStream`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                yield chunk if isinstance(chunk, bytes) else str(chunk).encode()
        except (docker.errors.DockerException, OSError, ValueError):  # closed under us, or the engine went away
            return

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return event_objects(self._chunks())

    def close(self) -> None:
        self._stream.close()


class _LogChunks:
    """A followed log's bytes through docker-py (a `darse.engine.api.LogStream`): each chunk of the
    HTTP answer as it arrives; `close()` from any thread ends a blocked read (docker-py's own way)."""

    def __init__(self, response: Any) -> None:
        from docker.types.daemon import CancellableStream

        self._response = response
        self._stream = CancellableStream(self._read(), response)

    def _read(self) -> Iterator[bytes]:
        yield from self._response.raw.stream(CHUNK, decode_content=False)

    def __iter__(self) -> Iterator[bytes]:
        try:
            # not `yield from` (which closes the inner stream when a reader stops early): `next` by hand
            while (chunk := next(self._stream, None)) is not None:
                yield chunk
        except (docker.errors.DockerException, OSError, ValueError, AttributeError):  # closed, or the engine went away
            return
        except Exception as exc:  # urllib3's own errors when the connection breaks
            if type(exc).__module__.startswith("urllib3"):
                return
            raise

    def close(self) -> None:
        self._stream.close()
