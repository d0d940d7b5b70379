"""An image in the local engine, read from the Engine API's export (`GET /images/{name}/get`, what
`docker save` calls) as a stream of chunks: parsed as it arrives, never written whole to disk."""

from __future__ import annotations

import io
import itertools
from typing import BinaryIO

import docker
import docker.errors

from darse.errors import DarseError
from darse.inspect.layers import LayerIndex
from darse.inspect.sources.archive import CountingReader, assemble, find_member, read_stream
from darse.inspect.sources.base import LoadedImage, Progress, Sink
from darse.inspect.streams import CHUNK, IterStream


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        raise DarseError(
            f"the Docker engine does not answer ({str(exc)[:200]})", "start dockerd or set DOCKER_HOST"
        ) from None
    return client


def engine_has(client: docker.DockerClient, name: str) -> bool:
    try:
        client.api.inspect_image(name)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code in (400, 404):
            return False
        raise
    return True


class EngineSource:
    kind = "engine"

    def __init__(self, name: str, client: docker.DockerClient | None = None) -> None:
        self.reference = name
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    def total_bytes(self) -> int | None:
        try:
            return int(self.client.api.inspect_image(self.reference).get("Size") or 0) or None
        except docker.errors.DockerException:
            return None

    def _open(self, progress: Progress | None) -> BinaryIO:
        try:
            chunks = iter(self.client.api.get_image(self.reference, chunk_size=CHUNK))
            first = next(chunks, b"")  # docker-py checks the status on the first chunk, not before
        except docker.errors.NotFound:
            raise DarseError(
                f"no image {self.reference!r} in the local engine",
                "check `docker images`, or give an archive path or a registry reference",
            ) from None
        except docker.errors.APIError as exc:
            raise DarseError(
                f"the engine cannot export {self.reference!r} ({exc.explanation})", "check the image name"
            ) from None
        stream = IterStream(itertools.chain([first], chunks))
        return io.BufferedReader(CountingReader(stream, progress), CHUNK)  # type: ignore[arg-type]

    def load(self, progress: Progress | None = None) -> LoadedImage:
        stream = self._open(progress)
        try:
            contents = read_stream(stream)
        finally:
            stream.close()
        image = assemble(contents, self.kind, self.reference, None)
        image.manifest_digest = self._repo_digest()
        return image

    def _repo_digest(self) -> str | None:
        try:
            digests = self.client.api.inspect_image(self.reference).get("RepoDigests") or []
        except docker.errors.DockerException:
            return None
        return str(digests[0]).rpartition("@")[2] if digests else None

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        stream = self._open(progress)
        try:
            return find_member(stream, layer.name, path, sink)
        finally:
            stream.close()
