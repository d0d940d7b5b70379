"""The scaffolded registry service, really run by Compose: users, restart after a change, rm, gc.

`registry:2` cannot be pulled here, so the test builds a stand-in with the same software: Debian's
docker-registry binary (distribution 2.8) with the libc it links, `registry serve CONFIG` as the
entrypoint, like the official image.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from darse.images.registry.client import RegistryClient
from darse.images.registry.credentials import Credentials

from helpers.engine import build_image
from helpers.registry import CERTS_D, REGISTRY_BINARY, darse, free_port, make_ca_and_cert

STAND_IN = "darse-test/registry:2.8.3"
# Under bin/ in the context so that they get mode 0755 (the kernel execs the loader).
LIBS = {"bin/libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6", "bin/ld.so": "/lib64/ld-linux-x86-64.so.2"}


def stand_in_image(engine) -> str:
    files = {"bin/registry": Path(REGISTRY_BINARY).read_bytes()}
    files.update({name: Path(path).read_bytes() for name, path in LIBS.items()})
    dockerfile = (
        "FROM darse-test/busybox:base\n"
        "COPY bin/registry /bin/registry\n"
        "COPY bin/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6\n"
        "COPY bin/ld.so /lib64/ld-linux-x86-64.so.2\n"
        'ENTRYPOINT ["/bin/registry", "serve"]\n'
        'CMD ["/etc/docker/registry/config.yml"]\n'
    )
    build_image(engine, STAND_IN, dockerfile, files)
    return STAND_IN


def wait_for(url: str, verify: ssl.SSLContext, folder: Path, env: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, verify=verify, timeout=2).status_code == 401:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    logs = subprocess.run(["docker", "compose", "logs"], cwd=folder, env=env, capture_output=True, text=True)
    pytest.fail(f"the registry service did not answer: {logs.stdout[-1500:]}{logs.stderr[-500:]}", pytrace=False)


def test_scaffolded_registry_runs_users_restart_rm_gc(tmp_path, engine, busybox, project_name) -> None:
    repo = tmp_path / "services"
    repo.mkdir()
    (repo / "darse.toml").write_text('domain = "example.org"\n')
    port = free_port()
    init = darse("registry", "init", "registry", "--own-tls", "--port", str(port), "--json", cwd=repo)
    assert init.returncode == 0, init.stderr
    folder = repo / "registry"
    lint = darse("lint", str(folder), cwd=repo)
    assert lint.returncode == 0, lint.stdout
    ca, cert, key = make_ca_and_cert(tmp_path)
    (folder / "certs" / "registry.crt").write_bytes(cert.read_bytes())
    (folder / "certs" / "registry.key").write_bytes(key.read_bytes())
    compose = folder / "compose.yaml"
    volume = f"{project_name}_data"
    compose.write_text(
        compose.read_text()
        .replace("image: registry:2.8.3", f"image: {stand_in_image(engine)}")
        .replace("name: registry_data", f"name: {volume}")
    )
    env = {**os.environ, "COMPOSE_PROJECT_NAME": project_name}
    alice, bob = "pw-" + uuid.uuid4().hex, "pw-" + uuid.uuid4().hex
    added = darse("registry", "user", "add", "alice", "--password-stdin", cwd=folder, env=env, stdin=alice + "\n")
    assert added.returncode == 0 and "not running" in added.stdout
    assert (folder / "auth" / "htpasswd.secrets").stat().st_mode & 0o777 == 0o600
    host = f"127.0.0.1:{port}"
    trust = CERTS_D / host
    try:
        up = subprocess.run(["docker", "compose", "up", "-d"], cwd=folder, env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
        verify = ssl.create_default_context(cafile=str(ca))
        wait_for(f"https://{host}/v2/", verify, folder, env)
        with RegistryClient(host, credentials=Credentials("alice", alice), ca_bundle=str(ca)) as client:
            client.ping()
        added = darse(
            "registry",
            "user",
            "add",
            "bob",
            "--folder",
            str(folder),
            "--password-stdin",
            cwd=repo,
            env=env,
            stdin=bob + "\n",
        )
        assert added.returncode == 0, added.stderr
        assert "restarted the running registry service" in added.stdout
        wait_for(f"https://{host}/v2/", verify, folder, env)
        with RegistryClient(host, credentials=Credentials("bob", bob), ca_bundle=str(ca)) as client:
            client.ping()

        trust.mkdir(parents=True, exist_ok=True)
        (trust / "ca.crt").write_bytes(ca.read_bytes())
        tag = f"{host}/{project_name}/gc:1"
        build_image(engine, tag, f"FROM darse-test/busybox:base\nRUN echo {project_name} > /unique\n")
        engine.images.push(f"{host}/{project_name}/gc", "1", auth_config={"username": "bob", "password": bob})
        user_env = {**env, "DARSE_REGISTRY_USER": "bob", "DARSE_REGISTRY_PASSWORD": bob, "DARSE_REGISTRY_CA": str(ca)}
        rm = darse("registry", "rm", f"{project_name}/gc:1", "--registry", host, "--yes", cwd=repo, env=user_env)
        assert rm.returncode == 0, rm.stderr
        dry = darse("registry", "gc", "--dry-run", "--json", cwd=folder, env=env)
        assert dry.returncode == 0, dry.stderr
        gc = darse("registry", "gc", "--json", cwd=folder, env=env)
        assert gc.returncode == 0, gc.stderr
        assert '"blobs": 0' not in gc.stdout  # the deleted image's layer and config were freed
        again = darse("registry", "gc", "--json", cwd=folder, env=env)
        assert '"blobs": 0' in again.stdout
        listed = darse("registry", "user", "list", "--json", cwd=folder)
        assert '"alice"' in listed.stdout and '"bob"' in listed.stdout
        for text in (added.stdout, added.stderr, rm.stdout, rm.stderr, gc.stdout, listed.stdout):
            assert alice not in text and bob not in text
        logs = subprocess.run(["docker", "compose", "logs"], cwd=folder, env=env, capture_output=True, text=True)
        assert alice not in logs.stdout + logs.stderr and bob not in logs.stdout + logs.stderr
    finally:
        subprocess.run(
            ["docker", "compose", "down", "--volumes", "--timeout", "2"],
            cwd=folder,
            env=env,
            capture_output=True,
            check=False,
        )
        subprocess.run(["docker", "image", "rm", "-f", f"{host}/{project_name}/gc:1"], capture_output=True, check=False)
        if trust.exists():
            for child in trust.iterdir():
                child.unlink()
            trust.rmdir()
