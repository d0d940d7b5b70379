"""The real Docker engine for integration tests, and the images they run.

Nothing can be pulled on these machines, so every image a test runs is built here from the static
busybox binary (Debian's busybox-static, installed by `.ci/run`): a `FROM scratch` image holding
`/bin/busybox` and its applet links, tagged under whatever name a test needs (`busybox:1.36`, or a
stand-in `postgres:16-alpine` that runs busybox's httpd). Without an engine these tests fail loudly:
`bash .ci/run` installs and starts one.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

BUSYBOX_BINARY = Path("/bin/busybox")
REGISTRY_BINARY = Path("/usr/bin/docker-registry")
BASE_TAG = "darse-test/busybox:base"


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """A docker-py client on the local engine; fails (never skips) when the engine does not answer."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}); `bash .ci/run` installs and starts one", pytrace=False)
    yield client
    client.close()


def _context_tar(files: dict[str, bytes | str], modes: dict[str, int] | None = None) -> io.BytesIO:
    """A build context as an in-memory tar: `{"Dockerfile": "...", "bin/busybox": b"..."}`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o755 if name.startswith("bin/") else 0o644)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_image(client: docker.DockerClient, tag: str, dockerfile: str, files: dict[str, bytes | str] | None = None):
    """Build `dockerfile` (with extra context `files`) as `tag` with the classic builder; returns the Image."""
    context = _context_tar({"Dockerfile": dockerfile, **(files or {})})
    image, _logs = client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True)
    return image


def ensure_busybox(client: docker.DockerClient, *tags: str):
    """The busybox base image, built once per engine, tagged under each of `tags` too."""
    try:
        image = client.images.get(BASE_TAG)
    except docker.errors.ImageNotFound:
        if not BUSYBOX_BINARY.is_file():
            pytest.fail(f"{BUSYBOX_BINARY} is missing; `bash .ci/run` installs busybox-static", pytrace=False)
        dockerfile = (
            "FROM scratch\n"
            "COPY bin/busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            'CMD ["/bin/sh"]\n'
        )
        image = build_image(client, BASE_TAG, dockerfile, {"bin/busybox": BUSYBOX_BINARY.read_bytes()})
    for tag in tags:
        image.tag(*tag.rsplit(":", 1)) if ":" in tag.rsplit("/", 1)[-1] else image.tag(tag)
    return image


@pytest.fixture(scope="session")
def busybox(engine: docker.DockerClient):
    """The base image, also tagged `busybox:1.36` for Compose files that name it."""
    return ensure_busybox(engine, "busybox:1.36")


@pytest.fixture
def project_name() -> str:
    """A Compose project name no other test (or concurrent run) uses."""
    return f"darsetest{uuid.uuid4().hex[:10]}"


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        pytest.fail("the docker CLI is missing; `bash .ci/run` installs it", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def start_registry(folder: Path, extra_config: str = "") -> Iterator[str]:
    """A real distribution registry (2.8, the software inside registry:2) on 127.0.0.1 over HTTP, with
    deletion enabled and storage in `folder`; yields its `host:port`. `extra_config` adds YAML (auth, tls)."""
    if not REGISTRY_BINARY.is_file():
        pytest.fail(f"{REGISTRY_BINARY} is missing; `bash .ci/run` installs docker-registry", pytrace=False)
    port = free_port()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + extra_config
    )
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen([str(REGISTRY_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # 401 with auth configured: it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the registry did not start: {(folder / 'registry.log').read_text()[-500:]}")
                time.sleep(0.1)
        yield host
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
