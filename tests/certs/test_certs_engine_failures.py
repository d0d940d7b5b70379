"""An engine that answers its ping and then fails every other call (a daemon shutting down, a proxy in
front of it cutting): `darse certs sync` and `status` report the consumer failed or unknown in one
line, with no traceback, on a Compose target and on a Swarm one. The engine is a small HTTP server on
a Unix socket, reached through darse's own client and docker-py as a real engine is."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from helpers.certs import TestCA, acme_v2, write_acme
from helpers.certs_repo import ldap_compose
from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

ANSWERS = {
    "/_ping": (200, "OK"),
    "/version": (200, {"ApiVersion": "1.41", "Version": "20.10.0", "MinAPIVersion": "1.12"}),
    "/info": (200, {"Swarm": {"LocalNodeState": "active", "ControlAvailable": True}}),
}


class _Failing(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        path = path.split("/", 2)[-1] if path.startswith("/v1.") else path.lstrip("/")
        status, body = ANSWERS.get(f"/{path}", (500, {"message": "the daemon is shutting down"}))
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def failing_engine(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "engine.sock"
    server = _Server(str(path), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()




def _repo(root: Path, host: str, kind: str) -> Path:
    toml = f'target = "there"\n[certs]\nacme = "acme.json"\n[targets.there]\nkind = "{kind}"\nhost = "{host}"\n'
    write_tree(root, {"darse.toml": toml, "ldap/compose.yaml": ldap_compose()})
    git_init(root)
    write_acme(root / "acme.json", acme_v2({"le": [TestCA().issue("ldap.example.org")]}))
    return root


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("compose", "cannot list the containers of ldap/ldap"),
        ("swarm", "cannot read service ldap_ldap from the Swarm"),
    ],
)
def test_an_engine_failing_after_its_ping_is_one_line_per_consumer(
    tmp_path: Path, failing_engine: str, kind: str, said: str
) -> None:
    root = _repo(tmp_path / "repo", failing_engine, kind)
    result = run_darse("certs", "sync", "--json", cwd=root)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    (consumer,) = json.loads(result.stdout)["consumers"]
    assert consumer["outcome"] == "failed"
    assert consumer["detail"].startswith(said) and "the daemon is shutting down" in consumer["detail"]
    status = run_darse("certs", "status", "--json", "--no-probe", cwd=root)
    assert status.exception is None or isinstance(status.exception, SystemExit), repr(status.exception)
    (seen,) = json.loads(status.stdout)["consumers"]
    assert seen["verdict"] == "unknown" and seen["detail"].startswith(said)
