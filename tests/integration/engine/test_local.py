"""The standard-library Engine API client (`darse.engine.local`) against the real engine: the same
answers as docker-py for the calls darse makes on the local socket, and the same one-line errors."""

from __future__ import annotations

import uuid

import docker
import pytest

from darse.engine import local
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.errors import DarseError

from helpers.engine import BASE_TAG


def test_answers_like_docker_py(engine, busybox):
    api = local.LocalEngine()
    try:
        assert api.ping()
        assert api.inspect_image(BASE_TAG)["Id"] == busybox.id
        with pytest.raises(local.NotFound) as missing:
            api.inspect_image(f"darse-test/absent-{uuid.uuid4().hex[:8]}:1")
        assert missing.value.status_code == 404 and "absent" in missing.value.explanation
        label = f"org.darse.test-local={uuid.uuid4().hex[:8]}"
        container = engine.containers.create(busybox.id, ["true"], labels={label.split("=")[0]: label.split("=")[1]})
        try:
            ours = api.containers(all=True, filters={"label": [label]})
            theirs = engine.api.containers(all=True, filters={"label": [label]})
            assert [c["Id"] for c in ours] == [c["Id"] for c in theirs] == [container.id]
            assert api.inspect_container(container.id)["Id"] == container.id
        finally:
            container.remove(force=True)
    finally:
        api.close()


def test_networks_created_once(engine):
    api = local.LocalEngine()
    name = f"darse-test-net-{uuid.uuid4().hex[:8]}"
    try:
        assert api.networks(names=[name]) == []
        api.create_network(name, driver="bridge")
        assert [n["Name"] for n in api.networks(names=[name])] == [name]
        with pytest.raises(local.APIError) as duplicate:
            api.create_network(name, driver="bridge", check_duplicate=True)
        assert duplicate.value.status_code == 409
    finally:
        engine.networks.get(name).remove()
        api.close()


def test_export_over_http_1_0_is_the_whole_tar(engine, busybox):
    """The export is asked for in HTTP/1.0 (no chunk framing): the body ends with the connection and
    holds every byte docker-py's chunked read gets."""
    pending = local.LocalEngine().start_export(BASE_TAG)
    response = pending.response()
    assert response.version == 10 and not response.chunked
    ours = response.read()
    pending.close()
    theirs = b"".join(engine.api.get_image(BASE_TAG))
    assert len(ours) == len(theirs) and ours[:512] == theirs[:512]


def test_engine_uses_the_socket_and_docker_py_on_demand(engine, busybox, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    ours = connect(Endpoint())
    try:
        assert isinstance(ours.api, local.LocalEngine)
        assert ours.image_id(BASE_TAG) == busybox.id
        assert ours.image_id("darse-test/absent:1") == ""
        assert isinstance(ours.client, docker.DockerClient) and ours.client.ping()  # swarm, logs
    finally:
        ours.close()


@pytest.mark.parametrize("host", ["unix:///nonexistent.sock", "tcp://127.0.0.1:1"])
def test_unreachable_engine_is_one_line(host, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", host)
    with pytest.raises(DarseError) as error:
        connect(Endpoint())
    assert "cannot reach the Docker engine at " + host in error.value.one_line()
    assert "\n" not in error.value.one_line()
    # starting the local daemon is the hint for the local socket only; a remote engine is to be reached
    assert ("systemctl start docker" in error.value.hint) == host.startswith("unix://")
    assert (f"docker -H {host} info" in error.value.hint) == host.startswith("tcp://")


def test_local_socket_only_for_the_local_endpoint(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert local.local_socket() == local.DEFAULT_SOCKET
    assert local.local_socket("unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.2:2376")
    assert local.local_socket() is None
    assert local.local_socket("ssh://admin@edge") is None
