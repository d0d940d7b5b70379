"""The folder `darse serve init` writes, built and run for real: its Dockerfile builds on a Debian base made
from Debian's packages (tests/helpers/debian.py stands in for the pinned debian:bookworm slim), pip
installs the locked files checked against their hashes, and the container, started by Compose with the
socket, the checkout (owned by another user) and the state folder mounted, serves the fleet over HTTP.

One of the slowest tests: the image is built once per machine and source of darse (its tag is the hash
of the build context, tests/helpers/darse_image.py), then reused by tag.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from darse.scaffold.serve_folder import init_serve_folder

from helpers.darse_image import serve_image
from helpers.serve_repo import serve_repository
from helpers.web import add_test_user

OTHER_UID = 12345  # the checkout belongs to a user of the host, not to the container's root


def _docker(*args: str, timeout: float = 120, check: bool = True, cwd: Path | None = None):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc


def _write_repository(root: Path, network: str, registry: str) -> Path:
    return serve_repository(
        root, f'proxy_network = "{network}"\ndomain = "example.org"\nregistry = "{registry}"\n'
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A checkout with a service and the dashboard's folder, its state folder, and the darse image built."""
    tmp = tmp_path_factory.mktemp("serve-image")
    suffix = uuid.uuid4().hex[:10]
    network, registry = f"darse-test-proxy-{suffix}", f"darse-test-serve-{suffix}"
    root = _write_repository(tmp / "repo", network, registry)
    state = tmp / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DARSE_STATE_DIR", str(state))
        report = init_serve_folder(root, trusted_proxy="10.254.0.0/16")
    assert report.lint.findings == []
    folder = report.path
    tag = serve_image(folder, report.files)
    _docker("tag", tag, report.options.image)
    _docker("network", "create", network)
    try:
        yield {"root": root, "folder": folder, "state": state, "tag": tag, "report": report, "network": network}
    finally:
        _docker("network", "rm", network, check=False)
        _docker("rmi", report.options.image, check=False)  # the alias only: the built image stays for reuse


def test_the_image_runs_darse_git_and_docker_compose(fleet: dict) -> None:
    tag = fleet["tag"]
    assert _docker("run", "--rm", tag, "--version").stdout.strip() == "darse 0.1.0"
    compose = _docker("run", "--rm", "--entrypoint", "docker", tag, "compose", "version").stdout
    assert "Docker Compose version v2.40.3" in compose
    assert _docker("run", "--rm", "--entrypoint", "git", tag, "--version").stdout.startswith("git version 2.39")
    config = json.loads(_docker("image", "inspect", tag).stdout)[0]["Config"]
    assert config["Healthcheck"]["Test"][0] == "CMD" and "/sign-in" in config["Healthcheck"]["Test"][-1]
    assert config["Labels"]["org.opencontainers.image.version"] == "0.1.0-1"
    # the darse inside is the one that wrote the folder: the same wheel, installed from the lock
    listed = _docker("run", "--rm", "--entrypoint", "/opt/darse/bin/pip", tag, "list", "--format", "json").stdout
    versions = {item["name"].lower(): item["version"] for item in json.loads(listed)}
    assert versions["darse"] == "0.1.0" and versions["starlette"] == "1.10.0" and versions["uvicorn"] == "0.54.0"


def _cookies(answer: httpx.Response, jar: dict[str, str]) -> dict[str, str]:
    """The cookies an answer sets, kept by hand: they are Secure, and these requests are plain HTTP."""
    for header in answer.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def _header(jar: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}


def test_compose_runs_the_dashboard_with_the_socket_and_the_checkout_at_its_path(fleet: dict) -> None:
    root, folder, state = fleet["root"], fleet["folder"], fleet["state"]
    password = add_test_user(state / "dashboard-users", "alice", "operator")
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    project = f"darse-test-serve-{uuid.uuid4().hex[:8]}"
    subprocess.run(["chown", "-R", f"{OTHER_UID}:{OTHER_UID}", str(root)], check=True)
    try:
        _docker("compose", "-p", project, "up", "-d", cwd=folder, timeout=180)
        container = _docker("compose", "-p", project, "ps", "-q", "darse", cwd=folder).stdout.strip()
        address = _docker(
            "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container
        ).stdout.strip()
        base = f"http://{address}:8700"
        # Traefik passes the visitor's Host: the domain darse serve init wrote (--host-name)
        with httpx.Client(base_url=base, timeout=10, headers={"Host": "darse.example.org"}) as client:
            page = None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    page = client.get("/sign-in")
                    break
                except httpx.TransportError:
                    time.sleep(0.5)
            assert page is not None and page.status_code == 200, _docker("logs", container, check=False).stderr
            assert httpx.get(f"{base}/sign-in", timeout=10).status_code == 400  # another name: refused
            assert "Sign in" in page.text
            jar = _cookies(page, {})
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            signed = client.post(
                "/sign-in",
                data={"csrf": token.group(1), "name": "alice", "password": password},
                headers=_header(jar),
                follow_redirects=False,
            )
            assert signed.status_code == 303, signed.text
            assert "secure" in signed.headers["set-cookie"].lower()  # --secure-cookies, from compose.yaml
            fleet_page = client.get("/", headers=_header(_cookies(signed, jar)))
            assert fleet_page.status_code == 200
            assert "/services/web" in fleet_page.text  # read from the checkout mounted at its own path

        def inside(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
            return _docker("compose", "-p", project, "exec", "-T", *args, cwd=folder, check=check)

        # Git trusts the checkout of another user because compose.yaml names it safe; without that, not
        assert inside("darse", "git", "-C", str(root), "rev-parse", "HEAD").stdout.strip() == head
        refused = inside("-e", "GIT_CONFIG_COUNT=0", "darse", "git", "-C", str(root), "rev-parse", "HEAD", check=False)
        assert refused.returncode != 0 and "dubious ownership" in refused.stderr
        # a relative bind mount of another service resolves, inside, to the same host path as outside
        seen = json.loads(
            inside("darse", "docker", "compose", "-f", f"{root}/web/compose.yaml", "config", "--format", "json").stdout
        )
        sources = [v["source"] for v in seen["services"]["web"]["volumes"]]
        assert sources == [f"{root}/web/site"] and os.path.isfile(f"{root}/web/site/index.html")
        # the engine answers through the mounted socket
        assert inside("darse", "docker", "version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    finally:
        _docker("compose", "-p", project, "down", "-v", "--timeout", "5", cwd=folder, check=False, timeout=120)
        subprocess.run(["chown", "-R", "0:0", str(root)], check=False)
