"""The layering rule: only `darse/engine/` talks to Docker (docker-py or the `docker` executable), and
the paths of short commands never import docker-py when the local socket serves (its import alone is
~0.3 s, against a 15 % budget over plain `docker compose up`)."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import darse

SOURCE = Path(darse.__file__).parent
ENGINE = SOURCE / "engine"
DOCKER_EXECUTABLES = ("docker", "docker-compose")


def _modules_outside_engine() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        if not path.is_relative_to(ENGINE):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports_docker_py(tree: ast.Module) -> list[int]:
    """Lines of every `import docker...` / `from docker... import`, at any depth (functions included)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "docker" or name.startswith("docker.") for name in names):
            lines.append(node.lineno)
    return lines


def _runs_docker(tree: ast.Module) -> list[int]:
    """Lines of every argument list (list or tuple literal) that starts with the docker executable."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.List | ast.Tuple)
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value in DOCKER_EXECUTABLES
    ]


def test_only_the_engine_layer_imports_docker_py():
    offenders = [
        f"{path.relative_to(SOURCE)}:{line}"
        for path, tree in _modules_outside_engine()
        for line in _imports_docker_py(tree)
    ]
    assert offenders == [], "docker-py is imported outside darse/engine/"


def test_only_the_engine_layer_runs_the_docker_executable():
    offenders = [
        f"{path.relative_to(SOURCE)}:{line}" for path, tree in _modules_outside_engine() for line in _runs_docker(tree)
    ]
    assert offenders == [], "the docker CLI is run outside darse/engine/"


def test_the_checks_see_what_they_look_for():
    """The two detectors find an import in a function and an argument list, so a pass above means something."""
    tree = ast.parse("def f():\n    import docker.errors\n    run(['docker', 'compose', 'up'])\nfrom docker import x\n")
    assert (sorted(_imports_docker_py(tree)), _runs_docker(tree)) == ([2, 4], [3])
    assert _imports_docker_py(ast.parse("import dockerfile\nfrom darse.engine import docker\n")) == []


class _PingServer:
    """Plays the engine on a unix socket: `/_ping` answers OK, `/containers/json` an empty list."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            buffer = b""
            while True:
                try:
                    data = client.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    request, buffer = buffer.split(b"\r\n\r\n", 1)
                    target = request.split(b" ", 2)[1] if b" " in request else b"/"
                    body, kind = (
                        (b"OK", b"text/plain") if target.startswith(b"/_ping") else (b"[]", b"application/json")
                    )
                    client.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: "
                        + kind
                        + b"\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def local_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "docker.sock"
    server = _PingServer(path)
    yield path
    server.close()


def test_up_and_status_on_the_local_socket_never_import_docker_py(local_socket: Path):
    code = (
        "import sys, json\n"
        "import darse.deploy.up, darse.deploy.status, darse.cli.main\n"
        "from darse.engine.connect import connect\n"
        "engine = connect()\n"
        "found = [c.name for c in engine.containers()]\n"
        "engine.close()\n"
        "print(json.dumps({'containers': found, 'docker': 'docker' in sys.modules}))\n"
    )
    env = {**os.environ, "DOCKER_HOST": f"unix://{local_socket}", "PYTHONPATH": str(SOURCE.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"containers": [], "docker": False}
