"""`darse certs init`: the watcher's service folder, lint-clean, read back by `docker compose config` with the
socket and acme.json's folder mounted read-only; the same image steps as the dashboard's folder; refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from darse.scaffold.darse_image import COMPOSE_LOCK_NAME, LOCK_NAME

from helpers.cli import run_darse
from helpers.lint import lint_tree
from helpers.repo import snapshot
from helpers.serve_repo import serve_repository

REGISTRY = 'registry = "registry.example.org"\n'


def repository(root: Path, acme: str | None, registry: str = REGISTRY) -> Path:
    """The serve tests' repository (a service with a relative bind mount), with `[certs] acme` when given."""
    certs = f'\n[certs]\nacme = "{acme}"\nresolver = "letsencrypt"\n' if acme is not None else ""
    return serve_repository(root, 'proxy_network = "proxy"\ndomain = "example.org"\n' + registry + certs)


@pytest.fixture
def traefik(tmp_path: Path) -> Path:
    """Traefik's folder on this host, outside the checkout, holding acme.json."""
    folder = tmp_path / "traefik"
    folder.mkdir()
    (folder / "acme.json").write_text("{}\n")
    return folder


def compose_config(folder: Path) -> dict:
    proc = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_folder_lints_clean_and_compose_reads_the_watcher(tmp_path: Path, traefik: Path) -> None:
    root = repository(tmp_path / "repo", f"{traefik}/acme.json")
    result = run_darse("certs", "init", cwd=root)
    assert result.exit_code == 0, result.stderr
    assert "darse lint certs: clean" in result.stdout and "root on this host" in result.stdout
    assert lint_tree(root).findings == []  # the whole repository, the new folder included
    lint = run_darse("lint", "certs", cwd=root)
    assert lint.exit_code == 0, lint.stdout + lint.stderr
    folder = root / "certs"
    wheel = folder / "darse-0.1.0-py3-none-any.whl"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["compose.yaml", "Dockerfile", "README.md", "CHANGELOG.md", LOCK_NAME, COMPOSE_LOCK_NAME, wheel.name]
    )

    service = compose_config(folder)["services"]["certs"]
    checkout, acme_dir = str(root.resolve()), str(traefik.resolve())
    assert service["image"] == "registry.example.org/certs:0.1.0-1"
    assert "## 0.1.0-1" in (folder / "CHANGELOG.md").read_text()
    assert service["command"] == ["certs", "watch"]  # the image's entrypoint is darse
    assert service["init"] is True and service["restart"] == "unless-stopped"
    assert service["working_dir"] == checkout
    # no port, no Traefik, no network: the engine is reached through its socket
    assert "ports" not in service and "labels" not in service and "networks" not in service
    assert service["network_mode"] == "none"
    assert "healthcheck" not in service and "build" not in service
    mounts = {(v["source"], v["target"], v.get("read_only", False)) for v in service["volumes"] if v["type"] == "bind"}
    assert mounts == {
        ("/var/run/docker.sock", "/var/run/docker.sock", False),
        (checkout, checkout, True),
        (acme_dir, acme_dir, True),  # the folder, so that a rename-replace of acme.json is seen
    }
    assert service["environment"] == {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": checkout,
    }
    dockerfile = (folder / "Dockerfile").read_text()
    assert dockerfile.endswith('ENTRYPOINT ["/opt/darse/bin/darse"]\nCMD ["certs", "watch"]\n')
    assert "HEALTHCHECK" not in dockerfile.replace("# No HEALTHCHECK", "") and "EXPOSE" not in dockerfile
    readme = (folder / "README.md").read_text()
    assert "root on this host" in readme and "No health check" in readme and f"`{acme_dir}`" in readme


def test_the_image_steps_and_files_are_the_dashboards_byte_for_byte(
    tmp_path: Path, traefik: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker's build cache then builds the install steps once for both folders."""
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    root = repository(tmp_path / "repo", f"{traefik}/acme.json")
    assert run_darse("certs", "init", cwd=root).exit_code == 0
    assert run_darse("serve", "init", "--trusted-proxy", "10.0.0.1", cwd=root).exit_code == 0
    certs, serve = root / "certs", root / "darse"
    for name in (LOCK_NAME, COMPOSE_LOCK_NAME, "darse-0.1.0-py3-none-any.whl"):
        assert (certs / name).read_bytes() == (serve / name).read_bytes(), name

    def steps(folder: Path) -> list[str]:
        """The Dockerfile's instructions up to darse installed (comments name the folder, Docker skips them)."""
        text = (folder / "Dockerfile").read_text()
        head = text[: text.index("# `darse build` sets VERSION")]
        return [line for line in head.splitlines() if not line.startswith("#")]

    assert steps(certs) == steps(serve) and any(line.startswith("RUN python3 -m venv") for line in steps(certs))


def test_a_relative_acme_path_is_read_from_the_checkout(tmp_path: Path) -> None:
    root = repository(tmp_path / "repo", "../traefik/acme.json")  # beside the checkout
    result = run_darse("certs", "init", "--name", "watcher", "--json", cwd=root)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    acme_dir = str((tmp_path / "traefik").resolve())
    assert report["acme"] == f"{acme_dir}/acme.json" and report["acme_dir"] == acme_dir
    assert report["image"] == "registry.example.org/watcher:0.1.0-1" and report["lint_findings"] == 0
    assert report["service"] == "watcher" and "watcher/compose.yaml" in report["files"]
    volumes = compose_config(root / "watcher")["services"]["watcher"]["volumes"]
    assert {(v["source"], v.get("read_only", False)) for v in volumes if v["target"] == acme_dir} == {(acme_dir, True)}


def test_acme_json_in_the_checkout_itself_is_the_checkout_mount(tmp_path: Path) -> None:
    """One mount per target: Compose refuses two at the same path."""
    root = repository(tmp_path / "repo", "acme.json")
    assert run_darse("certs", "init", cwd=root).exit_code == 0
    volumes = compose_config(root / "certs")["services"]["certs"]["volumes"]
    checkout = str(root.resolve())
    assert [
        (v["source"], v["target"], v.get("read_only")) for v in volumes if v["source"] != "/var/run/docker.sock"
    ] == [(checkout, checkout, True)]
    assert lint_tree(root).findings == []


def test_an_existing_folder_is_refused_and_left_as_it_was(tmp_path: Path, traefik: Path) -> None:
    root = repository(tmp_path / "repo", f"{traefik}/acme.json")
    (root / "certs").mkdir()
    (root / "certs/notes.txt").write_text("mine\n")
    before = snapshot(root)
    result = run_darse("certs", "init", cwd=root)
    assert result.exit_code == 2
    assert "certs already exists; nothing was written" in result.stderr and "--name" in result.stderr
    assert snapshot(root) == before
    assert run_darse("certs", "init", "--name", "tls", cwd=root).exit_code == 0
    again = run_darse("certs", "init", "--name", "tls", cwd=root)
    assert again.exit_code == 2 and "tls already exists" in again.stderr
    assert not [p for p in root.iterdir() if p.name.startswith(".tls.")]  # no temporary folder left


@pytest.mark.parametrize(
    ("args", "acme", "registry", "message"),
    [
        ([], None, REGISTRY, "darse.toml names no acme.json"),
        ([], "ACME", "", "names no registry"),  # darse up would pull certs:TAG from Docker Hub
        ([], "/srv/my traefik/acme.json", REGISTRY, "acme.json path"),  # a space: the bind mount would break
        ([], "/", REGISTRY, "names a folder"),
        (["--name", "Bad/Name"], "ACME", REGISTRY, "is not a service name"),
        (["--name", "../outside"], "ACME", REGISTRY, "is not a service name"),
        (["--name", ""], "ACME", REGISTRY, "is not a service name"),
    ],
)
def test_bad_input_is_a_darse_error_and_writes_nothing(
    tmp_path: Path, traefik: Path, args: list[str], acme: str | None, registry: str, message: str
) -> None:
    root = repository(tmp_path / "repo", acme.replace("ACME", f"{traefik}/acme.json") if acme else acme, registry)
    before = snapshot(tmp_path)
    result = run_darse("certs", "init", *args, cwd=root)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert snapshot(tmp_path) == before
