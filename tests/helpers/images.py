"""Stand-ins for the image pages' unit tests: an in-memory engine whose export is a real `docker save`
archive (three layers: an os-release of an old Debian, a setuid file, a file added then removed), and a
registry client answering the listing calls from a dict."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from darse.errors import DarseError
from darse.images.registry.credentials import Credentials

from helpers.fake_engine import FakeEngineAPI
from helpers.inspect_tars import docker_save, layer_tar, member

WEB_ID = "sha256:" + "1" * 64
DB_ID = "sha256:" + "2" * 64
OS_RELEASE = b'ID=debian\nVERSION_ID="10"\nVERSION_CODENAME=buster\nPRETTY_NAME="Debian GNU/Linux 10 (buster)"\n'
LAYERS = [
    layer_tar(member("etc/os-release", OS_RELEASE), member("bin/tool", b"x" * 5000, mode=0o4755)),
    layer_tar(member("tmp/cache.bin", b"c" * 3000)),
    layer_tar(member("tmp/.wh.cache.bin")),
]
ARCHIVE = docker_save(LAYERS, Env=["PATH=/bin", "API_TOKEN=planted-token-value"])


class ExportingEngine(FakeEngineAPI):
    """The fake engine, whose export of a known image is ARCHIVE (what `GET /images/{id}/get` sends)."""

    def __init__(self) -> None:
        super().__init__()
        self.exports: list[str] = []

    def start_export(self, image: str) -> Any:
        engine = self

        class Export:
            def open(self) -> io.RawIOBase:
                engine.inspect_image(image)  # NotFound for an image the engine does not have
                engine.exports.append(image)
                return io.BytesIO(ARCHIVE)  # type: ignore[return-value]

            def close(self) -> None:
                pass

        return Export()


class FakeRegistry:
    """A client answering the listing calls from a dict; what `darse.api.list_registry` needs."""

    def __init__(self, repositories: dict[str, list[str]], password: str) -> None:
        self.credentials = Credentials("ci-bot", password)
        self.repositories = repositories

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def catalog(self) -> list[str]:
        return list(self.repositories)

    def tags(self, repository: str) -> list[str]:
        if repository == "broken":
            raise DarseError("broken: 500 from the registry", "")
        return self.repositories[repository]

    def get_manifest(self, repository: str, tag: str) -> Any:
        return SimpleNamespace(
            size=100, is_index=True, data={"manifests": [{"size": 1234}]}, digest="sha256:" + "d" * 64,
            media_type="application/vnd.oci.image.index.v1+json",
        )  # fmt: skip
