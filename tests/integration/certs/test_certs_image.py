"""The folder `darse certs init` writes, built and run for real: its image is built from Docker's cache of the
dashboard's (the same install steps and files; tests/helpers/darse_image.py), and Compose runs its container
with the socket, the checkout and acme.json's folder mounted read-only: `darse certs watch` in it hands a
certificate to a consumer deployed on the engine, and the renewed one after Traefik replaces acme.json by
a rename. An idle container of the same service (`compose run`) is looked into for the mounts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse.model.service import project_name
from darse.scaffold.certs_folder import init_certs_folder
from darse.scaffold.serve_folder import init_serve_folder

from helpers.certs import TestCA, acme_v2, write_acme
from helpers.certs_repo import BUSYBOX_COMMAND, CONSUMER, consumer_labels
from helpers.darse_image import image_like, serve_image
from helpers.engine import ensure_busybox
from helpers.repo import write_tree
from helpers.serve_repo import serve_repository

DOMAIN = "ldap.example.org"


def _docker(*args: str, cwd: Path | None = None, check: bool = True, timeout: float = 120):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def watcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A checkout with the watcher's folder, Traefik's folder beside it, and the watcher running idle."""
    tmp = tmp_path_factory.mktemp("certs-image")
    suffix = uuid.uuid4().hex[:10]
    traefik = tmp / "traefik"
    traefik.mkdir()
    (traefik / "acme.json").write_text('{"letsencrypt": {"Certificates": []}}\n')
    registry = f"darse-test-certs-{suffix}"
    root = serve_repository(
        tmp / "repo",
        f'proxy_network = "proxy"\ndomain = "example.org"\nregistry = "{registry}"\n'
        f'\n[certs]\nacme = "{traefik}/acme.json"\n',
    )
    # the dashboard's folder beside it: its image is built (or found by tag) first, the watcher's from its cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DARSE_STATE_DIR", str(tmp / "state"))
        dashboard = init_serve_folder(root, trusted_proxy="10.254.0.0/16")
    # a consumer of the certificate for DOMAIN (busybox; its certificate folder a named volume), deployed
    consumer = f"ldap{suffix[:8]}"
    client = docker.from_env()
    image = ensure_busybox(client).tags[0]
    client.close()
    write_tree(
        root,
        {
            f"{consumer}/compose.yaml": CONSUMER.format(
                image=image, labels=consumer_labels(DOMAIN), command=BUSYBOX_COMMAND
            )
        },
    )
    consumer_compose = ["compose", "-p", project_name(consumer), "--project-directory", str(root / consumer)]
    report = init_certs_folder(root)
    assert report.lint.findings == []
    tag = image_like(report.path, report.files, "darse-test/certs", like=serve_image(dashboard.path, dashboard.files))
    _docker("tag", tag, report.options.image)
    project, name = f"darse-test-certs-{suffix}", f"darse-test-certs-{suffix}-idle"
    folder = report.path
    try:
        _docker(*consumer_compose, "up", "-d")
        # the service as compose.yaml declares it, but idle: `darse certs watch` is not what is checked here
        _docker(
            "compose", "-p", project, "run", "-d", "--name", name, "--entrypoint", "sleep", "certs", "600", cwd=folder
        )
        yield {
            "root": root,
            "folder": folder,
            "traefik": traefik,
            "tag": tag,
            "project": project,
            "name": name,
            "consumer": consumer_compose,
            "consumer_name": consumer,
        }
    finally:
        _docker(*consumer_compose, "down", "-v", "-t", "0", check=False)
        _docker("rm", "-f", name, check=False)
        _docker("compose", "-p", project, "down", "--timeout", "5", cwd=folder, check=False)
        _docker("rmi", report.options.image, check=False)  # the alias only: the built image stays for reuse


def _inside(watcher: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _docker("exec", watcher["name"], *args, check=check)


def test_the_image_is_the_dashboards_with_the_watcher_as_its_command(watcher: dict) -> None:
    config = json.loads(_docker("image", "inspect", watcher["tag"]).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["/opt/darse/bin/darse"] and config["Cmd"] == ["certs", "watch"]
    assert config.get("Healthcheck") is None and not config.get("ExposedPorts")
    assert config["Labels"]["org.opencontainers.image.title"] == "certs"
    # `compose run SERVICE ARGS` runs the image's darse with ARGS, as compose.yaml runs `certs watch`
    help_text = _docker(
        "compose", "-p", watcher["project"], "run", "--rm", "-T", "certs", "certs", "--help", cwd=watcher["folder"]
    ).stdout
    assert "Traefik's certificates" in help_text


def test_the_container_reaches_the_engine_and_nothing_else(watcher: dict) -> None:
    assert _inside(watcher, "docker", "version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    mode = _docker("inspect", "-f", "{{.HostConfig.NetworkMode}} {{.HostConfig.Init}}", watcher["name"]).stdout
    assert mode.split() == ["none", "true"]
    interfaces = sorted(_inside(watcher, "ls", "/sys/class/net").stdout.split())
    assert interfaces == ["lo"]


def test_acme_jsons_folder_is_read_only_and_a_rename_over_the_file_is_seen(watcher: dict) -> None:
    traefik: Path = watcher["traefik"]
    acme = f"{traefik.resolve()}/acme.json"
    assert _inside(watcher, "cat", acme).stdout == '{"letsencrypt": {"Certificates": []}}\n'
    refused = _inside(watcher, "touch", f"{traefik.resolve()}/written-by-the-watcher", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    refused = _inside(watcher, "touch", f"{watcher['root'].resolve()}/written-by-the-watcher", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr  # the checkout too
    # Traefik (or an editor) replaces the file by a rename: a new inode, seen through the mounted folder
    (traefik / "acme.json.new").write_text('{"letsencrypt": {"Certificates": null}}\n')
    os.rename(traefik / "acme.json.new", traefik / "acme.json")
    assert _inside(watcher, "cat", acme).stdout == '{"letsencrypt": {"Certificates": null}}\n'


def test_darse_reads_the_checkout_at_its_own_path(watcher: dict) -> None:
    root = str(watcher["root"].resolve())
    head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert _inside(watcher, "git", "-C", root, "rev-parse", "HEAD").stdout.strip() == head
    assert _inside(watcher, "pwd").stdout.strip() == root  # working_dir: darse finds darse.toml from here


def _logs_until(watcher: dict, text: str, deadline: float) -> str:
    """The service's logs once they hold `text`, or as they are at `deadline` (monotonic seconds)."""
    logs = ""
    while time.monotonic() < deadline:
        logs = _docker("compose", "-p", watcher["project"], "logs", "--no-color", "certs", cwd=watcher["folder"]).stdout
        if text in logs:
            break
        time.sleep(0.5)
    return logs


def _served(watcher: dict) -> str:
    """The certificate file the consumer holds."""
    return _docker(*watcher["consumer"], "exec", "-T", "ldap", "cat", "/etc/ldap/tls/cert.pem", check=False).stdout


def test_compose_up_runs_the_watcher_which_hands_the_certificate_and_its_renewal(watcher: dict) -> None:
    """The container as compose.yaml starts it: the watcher reads darse.toml from the checkout, watches
    acme.json through inotify on the mounted folder, writes the consumer's files through the socket,
    and sees Traefik's rename over acme.json."""
    traefik: Path = watcher["traefik"]
    acme = f"{traefik.resolve()}/acme.json"
    ca = TestCA()
    first, renewed = ca.issue(DOMAIN), ca.issue(DOMAIN)
    write_acme(traefik / "acme.json", acme_v2({"letsencrypt": [first]}))
    _docker("compose", "-p", watcher["project"], "up", "-d", cwd=watcher["folder"])
    installed = f"{watcher['consumer_name']}/ldap ({DOMAIN}): installed {first.fingerprint[:16]}"
    logs = _logs_until(watcher, installed, time.monotonic() + 90)
    assert f"watching {acme} (inotify)" in logs and installed in logs, logs
    assert _served(watcher) == first.leaf_pem.decode()
    # Traefik renews: a new acme.json renamed over the old one
    write_acme(traefik / "acme.json.new", acme_v2({"letsencrypt": [renewed]}))
    os.rename(traefik / "acme.json.new", traefik / "acme.json")
    installed = f"{watcher['consumer_name']}/ldap ({DOMAIN}): installed {renewed.fingerprint[:16]}"
    logs = _logs_until(watcher, installed, time.monotonic() + 90)
    assert "acme.json changed" in logs and installed in logs, logs
    assert _served(watcher) == renewed.leaf_pem.decode()
    assert "sync failed" not in logs and "Traceback" not in logs, logs
