"""The throwaway form of a folder's Compose configuration (`darse restore --verify`), on public Compose
files of tests/corpus resolved by the real `docker compose config` (no engine involved): whatever the
file, the copy publishes no port, takes no container name, carries no Traefik label, joins only
internal networks of its own project, and mounts only fresh volumes of its own project; and the
result is a configuration Compose accepts as it is."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from darse.backup.throwaway import INTERNAL_NETWORK, folder_prefix, throwaway_config, throwaway_name
from darse.engine.compose import ComposeRunner
from darse.engine.throwaway import VERIFY_LABEL
from darse.errors import DarseError

CORPUS = Path(__file__).parents[1] / "corpus" / "compose"
FILES = [
    "traefik__traefik__examples_acme_docker-compose.yaml",
    "louislam__uptime-kuma__docker_traefik_docker-compose.yaml",
    "lukasnellen__dc-traefik__docker-compose.yaml",
    "docker-mailserver__docker-mailserver__compose.yaml",
    "stefanprodan__dockprom__docker-compose.yaml",
    "docker__awesome-compose__nginx-golang-mysql_docker-compose.yaml",
    "gh640__traefik-examples__https-with-self-signed-cert_docker-compose.yaml",
    "dani-garcia__vaultwarden__docker-compose.yaml",
    "pi-hole__docker-pi-hole__docker-compose.yml.example.yaml",
]


def resolve(folder: Path, project: str) -> dict[str, Any]:
    return ComposeRunner(project).config(folder / "compose.yaml")


def corpus_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "svc"
    folder.mkdir()
    shutil.copy(CORPUS / name, folder / "compose.yaml")
    (folder / "mailserver.env").write_text("POSTMASTER_ADDRESS=postmaster@example.org\n")
    return folder


def compose_accepts(config: dict[str, Any], folder: Path, project: str) -> dict[str, Any]:
    """The throwaway document read back by Compose itself (as the engine calls will read it)."""
    done = subprocess.run(
        [
            "docker",
            "compose",
            "-p",
            project,
            "--project-directory",
            str(folder),
            "-f",
            "-",
            "config",
            "--format",
            "json",
        ],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", FILES)
def test_a_throwaway_copy_can_neither_collide_with_production_nor_reach_it(tmp_path: Path, name: str) -> None:
    folder = corpus_folder(tmp_path, name)
    project = throwaway_name("svc")
    original = resolve(folder, project)
    kept = copy.deepcopy(original)
    built = {key: "sha256:" + "c" * 64 for key, service in original["services"].items() if not service.get("image")}
    out = throwaway_config(original, project, images=built)
    assert original == kept  # the input is not changed

    again = compose_accepts(out, folder, project)
    assert again["name"] == project and set(again["services"]) == set(original["services"])
    for name_, service in again["services"].items():
        assert "container_name" not in service and "ports" not in service and "build" not in service, name_
        assert service["restart"] == "no"
        labels = service.get("labels") or {}
        assert labels[VERIFY_LABEL] == project
        assert not [key for key in labels if key.lower().startswith("traefik.")]
        assert service.get("network_mode") in (None, "none") or service["network_mode"].startswith("service:")
        for mount in service.get("volumes") or []:
            if mount["type"] == "bind":
                assert mount.get("read_only") is True, mount
            if mount["type"] == "volume" and mount.get("source"):
                assert mount["source"] in again["volumes"]
    for network in (again.get("networks") or {}).values():
        assert network["internal"] is True and not network.get("external")
        assert network["name"].startswith(project + "_") and not (network.get("ipam") or {}).get("config")
        assert network["labels"][VERIFY_LABEL] == project
    for volume in (again.get("volumes") or {}).values():
        assert volume["name"].startswith(project + "_") and not volume.get("external")
        assert not volume.get("driver_opts") and volume.get("driver") in (None, "local")


def test_external_networks_become_one_internal_network_and_external_volumes_fresh_ones(tmp_path: Path) -> None:
    folder = tmp_path / "wiki"
    folder.mkdir()
    (folder / "wiki.env").write_text("DB_PASSWORD=s3cret-value\n")
    (folder / "db.secrets").write_text("s3cret-file\n")
    (folder / "compose.yaml").write_text(
        """\
services:
  app:
    image: example/wiki:2
    build: .
    container_name: wiki
    env_file: wiki.env
    ports: ["8080:80", "127.0.0.1:9090:90"]
    labels: [traefik.enable=true, "traefik.http.routers.wiki.rule=Host(`wiki.example.org`)", keep=yes]
    networks:
      proxy: {ipv4_address: 172.30.0.9}
      back: {aliases: [web]}
    volumes: [files:/srv, shared:/shared, ./conf:/conf]
    restart: unless-stopped
    logging: {driver: syslog}
    secrets: [db]
  db:
    image: example/db:1
    network_mode: host
    volumes: [{type: volume, source: data, target: /data, volume: {nocopy: false}}]
networks:
  proxy: {external: true, name: traefik_proxy}
  back: {ipam: {config: [{subnet: 10.99.0.0/24}]}, driver_opts: {com.docker.network.bridge.name: br-prod}}
volumes:
  files: {name: wiki-files}
  shared: {external: true, name: nfs-share}
  data: {driver_opts: {type: none, o: bind, device: /srv/production}}
secrets:
  db: {file: ./db.secrets}
"""
    )
    project = throwaway_name("wiki")
    out = throwaway_config(
        resolve(folder, project), project, images={"app": "sha256:" + "a" * 64}, nocopy={"files", "data"}
    )
    app, db = out["services"]["app"], out["services"]["db"]
    assert app["image"] == "sha256:" + "a" * 64 and db["image"] == "example/db:1"
    assert "logging" not in app and app["labels"] == {"keep": "yes", VERIFY_LABEL: project}
    assert app["networks"] == {INTERNAL_NETWORK: None, "back": {"aliases": ["web"]}}
    assert db["networks"] == {"default": None} and "network_mode" not in db
    assert set(out["networks"]) == {INTERNAL_NETWORK, "back", "default"}
    assert all(n == {"internal": True, "labels": {VERIFY_LABEL: project}} for n in out["networks"].values())
    assert out["volumes"] == {key: {"labels": {VERIFY_LABEL: project}} for key in ("files", "shared", "data")}
    mounts = {m["source"]: m for m in app["volumes"]}
    assert mounts["files"]["volume"] == {"nocopy": True} and "volume" not in mounts["shared"]
    assert mounts[str(folder / "conf")]["read_only"] is True
    assert db["volumes"][0]["volume"] == {"nocopy": True}
    # the env file's values and the secret's file are still what the service gets, from absolute paths
    assert app["environment"]["DB_PASSWORD"] == "s3cret-value"
    assert out["secrets"]["db"]["file"] == str(folder / "db.secrets")

    again = compose_accepts(out, folder, project)
    assert again["volumes"]["files"]["name"] == f"{project}_files"
    assert again["volumes"]["shared"]["name"] == f"{project}_shared"
    assert again["networks"][INTERNAL_NETWORK]["name"] == f"{project}_{INTERNAL_NETWORK}"


def test_a_built_service_without_an_image_is_refused_in_one_line() -> None:
    config = {"services": {"app": {"build": {"context": "/srv/app"}}}}
    with pytest.raises(DarseError) as caught:
        throwaway_config(config, throwaway_name("app"))
    assert "app" in caught.value.message and "\n" not in caught.value.message
    assert throwaway_config(config, throwaway_name("app"), images={"app": "sha256:" + "b" * 64})


def test_only_throwaway_project_names_are_accepted() -> None:
    with pytest.raises(DarseError):
        throwaway_config({"services": {}}, "wiki")
    name = throwaway_name("Web/Blog")
    assert name.startswith(folder_prefix("Web/Blog")) and folder_prefix("Web/Blog") == "darse-verify-web-blog-"
    assert len(name) == len(folder_prefix("Web/Blog")) + 6 and name != throwaway_name("Web/Blog")
