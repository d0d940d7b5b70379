"""The engine's export read over the local socket when the engine misbehaves: a body cut short (the
HTTP/1.0 answer has no framing, so the tar itself must show it), an error status, no engine at all,
and a reader that stops early while the engine is still sending. A small server on a unix socket
plays the engine: a real engine cannot be made to cut an export short on demand."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from darse.engine.local import LocalEngine
from darse.errors import DarseError
from darse.images.inspect.sources.engine import EngineSource

from helpers.inspect_tars import docker_save, layer_tar, member

LAYER = layer_tar(member("etc/hostname", b"box\n"), member("bin/tool", b"x" * 70_000))
ARCHIVE = docker_save([LAYER])
DIGEST = "sha256:" + "a" * 64
INSPECT = (
    b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
    + json.dumps({"RepoDigests": [f"app@{DIGEST}"]}).encode()
)


class FakeEngine:
    """Answers every request on a unix socket with `head` then `body`, sent in `pieces` (pausing
    `pause` s between them), then closes the connection as an HTTP/1.0 server does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head = b"HTTP/1.0 200 OK\r\nContent-Type: application/x-tar\r\n\r\n"
        self.body = ARCHIVE
        self.pieces = 1
        self.pause = 0.0
        self.sent_all = threading.Event()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            request = client.recv(65536)
            try:
                if b"/get " not in request.split(b"\r\n", 1)[0]:  # inspect: what the engine says of app:1
                    client.sendall(INSPECT)
                    return
                client.sendall(self.head)
                step = max(1, len(self.body) // self.pieces)
                for start in range(0, len(self.body), step):
                    client.sendall(self.body[start : start + step])
                    time.sleep(self.pause)
                self.sent_all.set()
            except OSError:
                return

    def source(self, reference: str = "app:1") -> EngineSource:
        return EngineSource(reference, engine=LocalEngine(str(self.path), timeout=10))

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeEngine]:
    server = FakeEngine(tmp_path / "docker.sock")
    yield server
    server.close()


def test_a_whole_export_reads(fake):
    image = fake.source().load()
    assert [sorted(layer.entries) for layer in image.layers] == [["bin/tool", "etc/hostname"]]
    assert image.manifest_digest == DIGEST


# inside the layer's first header, inside its data, and on the member boundary before manifest.json
@pytest.mark.parametrize("cut", [100, len(ARCHIVE) // 3, ARCHIVE.index(b"manifest.json\x00")])
def test_a_body_cut_short_is_an_error_not_a_smaller_image(fake, cut):
    fake.body = ARCHIVE[:cut]
    with pytest.raises(DarseError) as error:
        fake.source().load()
    assert "\n" not in error.value.one_line()


def test_error_status_and_missing_image(fake):
    fake.head = b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
    fake.body = b'{"message":"reference does not exist"}'
    with pytest.raises(DarseError, match="no image 'app:1' in the local engine"):
        fake.source().load()
    fake.head = b"HTTP/1.0 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n"
    fake.body = b'{"message":"layer verification failed"}'
    with pytest.raises(DarseError, match="cannot export 'app:1' \\(layer verification failed\\)"):
        fake.source().load()


def test_no_engine_on_the_socket(tmp_path):
    source = EngineSource("app:1", engine=LocalEngine(str(tmp_path / "absent.sock")))
    with pytest.raises(DarseError, match="the Docker engine does not answer"):
        source.load()


def test_stopping_early_does_not_wait_for_the_engine(fake):
    """A reader that stops (extraction found its file, or an error) closes the stream at once, even
    while the engine is still sending."""
    fake.body = ARCHIVE * 400  # ~ 40 MB, sent slowly
    fake.pieces, fake.pause = 400, 0.05
    stream = fake.source()._open(None)
    assert len(stream.read(4096)) == 4096
    started = time.perf_counter()
    stream.close()
    assert not fake.sent_all.is_set()
    assert time.perf_counter() - started < 5  # a bound on a hang, not a timing budget
