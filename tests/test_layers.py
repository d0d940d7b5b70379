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


# --- imports only go down ---------------------------------------------------------------------------
# Each package of darse in its layer, lowest first (docs/architecture.md draws them). A module imports
# from its own layer or a lower one; `if TYPE_CHECKING:` imports (annotations only) do not count.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"darse", "errors", "fsutil", "progress"}),
    ("outside systems", {"engine", "git", "restic", "ssh"}),
    ("model", {"config", "model", "secretlike", "masking", "history", "state"}),
    ("library", {"api", "lint", "secrets", "scaffold", "deploy", "images", "dashboard", "certs", "backup"}),
    ("interfaces", {"cli", "web", "__main__"}),
]
RANK = {package: rank for rank, (_name, packages) in enumerate(LAYERS) for package in packages}


def _package(module: str) -> str:
    """`darse.deploy.up` → `deploy`; `darse` → `darse` (the package itself: its version)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _darse_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of every import of darse, at any depth, except under `if TYPE_CHECKING:`."""
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "darse")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "darse":
            yield node.lineno, node.module or ""


def _all_modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        name = ".".join(("darse", *path.relative_to(SOURCE).with_suffix("").parts)).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(encoding="utf-8"), str(path))


def test_every_package_has_a_layer():
    packages = {_package(name) for name, _tree in _all_modules()}
    assert packages - set(RANK) == set(), "a new package of darse needs its place in LAYERS (and the docs)"


def test_imports_only_go_down():
    upward = [
        f"{name}:{line} imports {module} ({LAYERS[RANK[_package(module)]][0]})"
        for name, tree in _all_modules()
        for line, module in _darse_imports(tree)
        if RANK.get(_package(module), -1) > RANK[_package(name)]
    ]
    assert upward == [], "imports must only go down the layers of docs/architecture.md"


def test_no_module_imports_an_interface():
    offenders = [
        f"{name}:{line}"
        for name, tree in _all_modules()
        for line, module in _darse_imports(tree)
        if _package(module) in {"cli", "web"} and _package(name) not in {"cli", "web", "__main__"}
    ]
    assert offenders == []


def test_packages_of_the_library_import_each_other_without_cycles():
    graph: dict[str, set[str]] = {}
    for name, tree in _all_modules():
        graph.setdefault(_package(name), set()).update(
            _package(module) for _line, module in _darse_imports(tree) if _package(module) != _package(name)
        )
    cycles = []

    def visit(package: str, path: list[str]) -> None:
        for imported in sorted(graph.get(package, ())):
            if imported in path:
                cycles.append(" → ".join([*path[path.index(imported) :], imported]))
            elif len(path) < len(graph):
                visit(imported, [*path, imported])

    for package in sorted(graph):
        visit(package, [package])
    assert cycles == [], "packages import each other in a cycle"


def test_the_layer_checks_see_what_they_look_for():
    """An upward import inside a function is found; one under TYPE_CHECKING is not."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from darse.config import Target\n"
        "def f():\n    from darse.deploy.up import deploy\n"
    )
    assert list(_darse_imports(tree)) == [(5, "darse.deploy.up")]
    assert RANK[_package("darse.deploy.up")] > RANK[_package("darse.engine.compose")]
