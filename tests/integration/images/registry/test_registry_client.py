"""RegistryClient against the real distribution registry, over HTTP and over HTTPS with a test CA."""

from __future__ import annotations

import json
import uuid

import docker
import pytest

from darse.errors import DarseError
from darse.images.registry.client import RegistryClient
from darse.images.registry.credentials import Credentials
from darse.model.image import ImageRef, parse_registry_image

from helpers.engine import build_image
from helpers.registry import RunningRegistry, registry  # noqa: F401  (fixture)


def client_for(reg: RunningRegistry, password: str | None = None, user: str | None = None) -> RegistryClient:
    creds = Credentials(user or reg.user, reg.password if password is None else password)
    return RegistryClient(reg.host, credentials=creds, ca_bundle=str(reg.ca) if reg.ca else None)


def push(engine: docker.DockerClient, reg: RunningRegistry, repository: str, tag: str, content: str) -> str:
    """Build a distinct tiny image, push it with the engine; returns the image ID."""
    image = build_image(
        engine, f"{reg.host}/{repository}:{tag}", f"FROM {'darse-test/busybox:base'}\nLABEL c={content}\n"
    )
    for line in engine.images.push(
        f"{reg.host}/{repository}",
        tag,
        auth_config={"username": reg.user, "password": reg.password},
        stream=True,
        decode=True,
    ):
        assert "error" not in line, line
    return image.id


@pytest.fixture(scope="module")
def pushed(engine, busybox, registry):  # noqa: F811
    repository = f"darse-test/client-{uuid.uuid4().hex[:8]}"
    ids = {tag: push(engine, registry, repository, tag, f"{repository}-{tag}") for tag in ("1.0", "1.1", "2.0")}
    yield repository, ids
    for tag in ids:
        engine.images.remove(f"{registry.host}/{repository}:{tag}", force=True)


def test_scheme_follows_the_registry(registry) -> None:  # noqa: F811
    with client_for(registry) as client:
        client.ping()
        assert client.scheme == registry.scheme


def test_tags_follow_pagination(registry, pushed) -> None:  # noqa: F811
    repository, ids = pushed
    with client_for(registry) as client:
        client.page_size = 1
        assert sorted(client.tags(repository)) == sorted(ids)
        assert repository in client.catalog()


def test_manifest_digest_matches_the_engine_and_config_is_the_image(engine, registry, pushed) -> None:  # noqa: F811
    repository, ids = pushed
    with client_for(registry) as client:
        manifest = client.get_manifest(repository, "1.1")
        assert manifest.media_type.endswith("manifest.v2+json")
        assert manifest.config_digest == ids["1.1"]
        repo_digests = engine.images.get(ids["1.1"]).attrs["RepoDigests"]
        assert f"{registry.host}/{repository}@{manifest.digest}" in repo_digests
        assert client.manifest_digest(repository, "1.1") == manifest.digest
        assert client.manifest_digest(repository, "9.9") is None
        by_digest = client.get_manifest(repository, manifest.digest)
        assert by_digest.raw == manifest.raw


def test_blob_is_streamed_and_verified(registry, pushed) -> None:  # noqa: F811
    repository, _ids = pushed
    with client_for(registry) as client:
        manifest = client.get_manifest(repository, "1.0")
        config = manifest.data["config"]
        with client.open_blob(repository, config["digest"], expected_size=config["size"]) as blob:
            data = json.loads(blob.read())
        assert data["config"]["Labels"]["c"] == f"{repository}-1.0"
        layer = manifest.data["layers"][0]
        with client.open_blob(repository, layer["digest"]) as blob:
            total = sum(len(chunk) for chunk in blob)
        assert total == layer["size"]


def test_delete_by_digest_removes_every_tag_on_it(engine, registry, busybox) -> None:  # noqa: F811
    repository = f"darse-test/delete-{uuid.uuid4().hex[:8]}"
    push(engine, registry, repository, "1.0", repository)
    engine.images.get(f"{registry.host}/{repository}:1.0").tag(f"{registry.host}/{repository}", "also")
    engine.images.push(
        f"{registry.host}/{repository}", "also", auth_config={"username": registry.user, "password": registry.password}
    )
    try:
        with client_for(registry) as client:
            digest = client.manifest_digest(repository, "1.0")
            assert digest and client.manifest_digest(repository, "also") == digest
            client.delete_manifest(repository, digest)
            assert client.manifest_digest(repository, "1.0") is None
            assert client.manifest_digest(repository, "also") is None
            with pytest.raises(DarseError, match="not found"):
                client.get_manifest(repository, "1.0")
    finally:
        for tag in ("1.0", "also"):
            engine.images.remove(f"{registry.host}/{repository}:{tag}", force=True)


def test_wrong_password_is_one_line_without_the_password(registry) -> None:  # noqa: F811
    wrong = "wrong-" + uuid.uuid4().hex
    with client_for(registry, password=wrong) as client, pytest.raises(DarseError) as caught:
        client.catalog()
    text = caught.value.one_line()
    assert text.startswith(f"authentication failed for {registry.user} at {registry.host}")
    assert "\n" not in text and wrong not in text and wrong not in repr(caught.value)
    assert caught.value.__cause__ is None


def test_no_credentials_says_authentication_is_required(registry) -> None:  # noqa: F811
    ca = str(registry.ca) if registry.ca else None
    with RegistryClient(registry.host, ca_bundle=ca) as client, pytest.raises(DarseError, match="requires auth"):
        client.ping()


def test_tls_failures_are_one_line(registry) -> None:  # noqa: F811
    """HTTPS registry without its CA: certificate not trusted; HTTP registry asked for HTTPS: no TLS there."""
    creds = Credentials(registry.user, registry.password)
    with (
        RegistryClient(registry.host, credentials=creds, scheme="https") as client,
        pytest.raises(DarseError, match="TLS failure") as caught,
    ):
        client.ping()
    expected = "certificate" if registry.scheme == "https" else "does the port speak HTTPS"
    assert expected in caught.value.one_line()
    assert registry.password not in caught.value.one_line()


def test_passwords_never_reach_the_registry_log_or_reprs(registry) -> None:  # noqa: F811
    creds = Credentials(registry.user, registry.password)
    assert registry.password not in repr(creds) and registry.password not in str(creds)
    with client_for(registry) as client:
        client.ping()
        assert registry.password not in repr(client)
    assert registry.password not in registry.log_text()


def test_unreachable_host_is_one_line() -> None:
    with RegistryClient("127.0.0.1:9", timeout=2) as client, pytest.raises(DarseError, match="cannot reach"):
        client.ping()


def test_plain_http_refused_off_loopback() -> None:
    with pytest.raises(DarseError, match="plain HTTP refused"):
        RegistryClient("registry.example.org", scheme="http")
    with pytest.raises(DarseError, match="plain HTTP refused"):
        RegistryClient("http://10.0.0.5:5000")


def test_parse_registry_image() -> None:
    ref = parse_registry_image("127.0.0.1:5000/team/app:1.2@sha256:" + "a" * 64)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "127.0.0.1:5000",
        "team/app",
        "1.2",
        "sha256:" + "a" * 64,
    )
    assert parse_registry_image("registry.example.org/app").reference == "latest"
    assert parse_registry_image("docker://Registry.Example.org/x:y") == ImageRef("registry.example.org", "x", "y", "")
    for bad, message in (
        ("app:1.0", "names no registry host"),
        ("registry.example.org/App", "not a valid repository name"),
        ("r.example.org/a:b c", "not an image reference"),
        ("r.example.org/a@sha256:12", "not a sha256 digest"),
        ("r.example.org/a:-x", "not a valid tag"),
    ):
        with pytest.raises(DarseError, match=message):
            parse_registry_image(bad)
