"""A registry that lies (a small real HTTP server on loopback), and one that answers with Bearer tokens.

The real distribution registry never lies, so these cases need a server that does: huge manifests,
wrong digests, pagination leaving the host, blobs with other bytes; and a token service, to exercise
the Bearer challenge (the real registry is configured with htpasswd, i.e. Basic).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from darse.errors import DarseError
from darse.images.registry import client as registry_client
from darse.images.registry import transport as registry_transport
from darse.images.registry.auth import parse_challenge
from darse.images.registry.client import RegistryClient
from darse.images.registry.credentials import Credentials
from darse.images.registry.manifests import DOCKER_MANIFEST

GOOD = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {}, "layers": []}).encode()
GOOD_DIGEST = "sha256:" + hashlib.sha256(GOOD).hexdigest()
BLOB = b"the real bytes"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
TOKEN = "tok-" + "x" * 20
USER, PASSWORD = "carol", "pw-bearer-secret"


def _gzip_of_zeros(size: int) -> bytes:
    """gzip of `size` zero bytes, made a chunk at a time (zeros compress about 1000 to 1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, packer.flush()])


BOMB = gzip.compress(_gzip_of_zeros(512 * 1024 * 1024))  # `gzip, gzip`: about 2 KB on the wire, 512 MiB decoded


class Handler(BaseHTTPRequestHandler):
    token_requests: list[str] = []  # noqa: RUF012

    def log_message(self, *args) -> None:
        pass

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path
        host = self.headers["Host"]
        if path.startswith("/token"):
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self.send(401)
            type(self).token_requests.append(path)
            return self.send(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())
        if path.startswith("/v2/bearer/"):
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                challenge = f'Bearer realm="http://{host}/token",service="lies",scope="repository:bearer/app:pull"'
                return self.send(401, b"{}", {"WWW-Authenticate": challenge})
            return self.send(200, json.dumps({"tags": ["1.0"]}).encode())
        if path == "/v2/huge/manifests/1.0":
            return self.send(200, b"{" + b" " * (5 * 1024 * 1024) + b"}", {"Content-Type": DOCKER_MANIFEST})
        if path == "/v2/huge-unannounced/manifests/1.0":
            self.send_response(200)
            self.send_header("Content-Type", DOCKER_MANIFEST)
            self.end_headers()
            self.wfile.write(b"{" + b" " * (5 * 1024 * 1024) + b"}")
            self.close_connection = True
            return None
        if path == "/v2/wrongdigest/manifests/1.0":
            return self.send(
                200, GOOD, {"Content-Type": DOCKER_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64}
            )
        if path == f"/v2/swapped/manifests/{'sha256:' + '1' * 64}":
            return self.send(200, GOOD, {"Content-Type": DOCKER_MANIFEST})
        if path.startswith("/v2/escape/tags/list"):
            return self.send(200, b'{"tags":["a"]}', {"Link": '<https://evil.example/v2/x/tags/list?n=1>; rel="next"'})
        if path.startswith("/v2/loop/tags/list"):
            return self.send(200, b'{"tags":["a"]}', {"Link": '</v2/loop/tags/list?n=1>; rel="next"'})
        if path == f"/v2/blob/blobs/{BLOB_DIGEST}":
            return self.send(200, b"other bytes!!!")
        if path.startswith("/v2/notjson/tags/list"):
            return self.send(200, b"[1, 2")
        if path.startswith("/v2/bomb/tags/list"):
            return self.send(200, BOMB, {"Content-Encoding": "gzip, gzip"})
        if path.startswith("/v2/gzipped/tags/list"):
            return self.send(200, gzip.compress(b'{"tags":["1.0","2.0"]}'), {"Content-Encoding": "gzip"})
        if path.startswith("/v2/brotli/tags/list"):
            return self.send(200, b"xx", {"Content-Encoding": "br"})
        if path.startswith("/v2/endless/tags/list"):  # every page new, large, and pointing at another
            page = int(path.rpartition("last=")[2]) if "last=" in path else 0
            names = [f"t{page}-{i}-" + "x" * 100 for i in range(2000)]
            link = f'</v2/endless/tags/list?n=2000&last={page + 1}>; rel="next"'
            return self.send(200, json.dumps({"tags": names}).encode(), {"Link": link})
        if path.startswith("/v2/drip/tags/list"):  # a valid answer, one byte every 0.3 s
            body = b'{"tags":["' + b"a" * 200 + b'"]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return None
                time.sleep(0.3)
            return None
        if path.startswith("/v2/driphead/tags/list"):  # the status line itself, one byte every 0.3 s
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 200:
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return None
                time.sleep(0.3)
            self.close_connection = True
            return None
        return self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')


@pytest.fixture(scope="module")
def liar() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(host: str, creds: Credentials | None = None) -> RegistryClient:
    return RegistryClient(host, credentials=creds, scheme="http", timeout=10)


@pytest.mark.parametrize(
    ("repository", "reference", "message"),
    [
        ("huge", "1.0", "over the limit"),
        ("huge-unannounced", "1.0", "more than"),
        ("wrongdigest", "1.0", "differs from the announced"),
        ("swapped", "sha256:" + "1" * 64, "sent a manifest with digest"),
    ],
)
def test_lying_manifests_are_refused(liar, repository, reference, message) -> None:
    with client(liar) as c, pytest.raises(DarseError, match=message):
        c.get_manifest(repository, reference)


def test_pagination_must_stay_on_the_registry_and_not_loop(liar) -> None:
    with client(liar) as c:
        with pytest.raises(DarseError, match="leaves the registry"):
            c.tags("escape")
        with pytest.raises(DarseError, match="loops"):
            c.tags("loop")
        with pytest.raises(DarseError, match="invalid JSON"):
            c.tags("notjson")


def test_blob_with_other_bytes_fails_at_the_end(liar) -> None:
    wrong = pytest.raises(DarseError, match="blob content has digest")
    with client(liar) as c, c.open_blob("blob", BLOB_DIGEST) as blob, wrong:
        blob.read()
    with client(liar) as c, pytest.raises(DarseError, match="over the limit of 3"):  # noqa: SIM117
        with c.open_blob("blob", BLOB_DIGEST, expected_size=3):
            pass


def test_bearer_challenge_gets_a_token_per_scope_and_caches_it(liar) -> None:
    Handler.token_requests.clear()
    with client(liar, Credentials(USER, PASSWORD)) as c:
        assert c.tags("bearer/app") == ["1.0"]
        assert c.tags("bearer/app") == ["1.0"]
    assert len(Handler.token_requests) == 1
    assert "scope=repository%3Abearer%2Fapp%3Apull" in Handler.token_requests[0]
    with client(liar, Credentials(USER, "wrong")) as c, pytest.raises(DarseError) as caught:
        c.tags("bearer/app")
    assert caught.value.one_line().startswith(f"authentication failed for {USER} at {liar}")


def test_challenge_parsing() -> None:
    kind, params = parse_challenge('Bearer realm="https://a/token",service="r",scope="repository:x:pull,push"')
    assert kind == "bearer" and params == {
        "realm": "https://a/token",
        "service": "r",
        "scope": "repository:x:pull,push",
    }
    assert parse_challenge('Basic realm="darse \\"quoted\\""') == ("basic", {"realm": 'darse "quoted"'})
    assert parse_challenge("") == ("", {})


def test_compressed_answers_are_bounded_by_what_they_decode_to(liar) -> None:
    """Two gzip layers of 2 KB decode to 512 MiB: refused at the JSON limit (16 MiB), never in memory."""
    assert len(BOMB) < 4096
    tracemalloc.start()
    try:
        with client(liar) as c, pytest.raises(DarseError, match="decodes to more than"):
            c.tags("bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024
    with client(liar) as c:
        assert c.tags("gzipped") == ["1.0", "2.0"]  # an honest gzip answer still reads
        with pytest.raises(DarseError, match="encoding darse does not read"):
            c.tags("brotli")


def test_endless_pagination_stops_at_the_listing_limit(liar, monkeypatch) -> None:
    monkeypatch.setattr(registry_client, "MAX_LISTING_BYTES", 4 * 1024 * 1024)  # pages of ~0.2 MiB
    with client(liar) as c, pytest.raises(DarseError, match="listing passes"):
        c.tags("endless")
    monkeypatch.setattr(registry_client, "MAX_LISTING_BYTES", 1024 * 1024 * 1024)
    monkeypatch.setattr(registry_client, "MAX_LISTING_NAMES", 10_000)
    with client(liar) as c, pytest.raises(DarseError, match="more than 10000 names"):
        c.tags("endless")


@pytest.mark.parametrize("repository", ["drip", "driphead"])
def test_a_server_dripping_bytes_hits_the_request_deadline(liar, monkeypatch, repository) -> None:
    """Each byte comes well within the socket timeout (10 s here); only a deadline on the whole
    request ends it (the body takes 60 s to arrive, the deadline is 2 s)."""
    monkeypatch.setattr(registry_client, "REQUEST_SECONDS", 2.0)
    started = time.monotonic()
    with client(liar) as c, pytest.raises(DarseError, match="in time"):
        c.tags(repository)
    assert time.monotonic() - started < 8


@pytest.mark.parametrize(
    ("host", "answers", "loopback"),
    [
        ("127.0.0.1:5000", None, True),
        ("[::1]:5000", None, True),
        ("localhost:5000", ["127.0.0.1", "::1"], True),
        ("registry.localhost", ["127.0.0.1"], True),
        ("registry.localhost", ["192.0.2.10"], False),  # a resolver that does not keep *.localhost local
        ("registry.localhost", ["127.0.0.1", "192.0.2.10"], False),
        ("registry.localhost", OSError("no such name"), False),
        ("registry.example.org", ["127.0.0.1"], False),  # only the localhost names are resolved at all
        ("10.0.0.5:5000", None, False),
    ],
)
def test_plain_http_only_where_every_address_is_loopback(monkeypatch, host, answers, loopback) -> None:
    def resolve(name, *args, **kwargs):
        if isinstance(answers, Exception):
            raise answers
        return [(0, 0, 0, "", (address, 0)) for address in answers or []]

    monkeypatch.setattr(registry_transport.socket, "getaddrinfo", resolve)
    assert registry_transport.is_loopback(host) is loopback
    if not loopback:
        with pytest.raises(DarseError, match="plain HTTP refused"):
            RegistryClient(host, scheme="http")
