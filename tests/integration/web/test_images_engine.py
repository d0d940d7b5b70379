"""The image pages on the real engine and a real registry: a service deployed with `darse up` from a
real Git repository, its image (busybox, FROM scratch) read by `darse inspect`'s real engine export,
and a repository pushed by the engine to a real distribution registry with htpasswd logins. A viewer
signs in through the real form; no planted secret nor the registry's password reaches a page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import docker
import pytest
from starlette.testclient import TestClient

from darse.web.app import ServeSettings, create_app

from helpers.deploy import DB_IMAGE, SECRET, WEB_IMAGE, Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.engine import build_image
from helpers.registry import RunningRegistry, new_users, start_registry, stop_registry
from helpers.web import signed_in

TIMEOUT = "60"


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[RunningRegistry]:
    """One registry over HTTP on loopback, with two users (the engine pushes as the first)."""
    running = start_registry(tmp_path_factory.mktemp("images-registry"), "http", new_users())
    yield running
    stop_registry(running)


def _up(stack: Stack) -> None:
    result = stack.darse("up", stack.name, "--timeout", TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def viewer(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A client signed in as the viewer carol, its app, and every text it was answered (to look for secrets)."""
    monkeypatch.setenv("DARSE_STATE_DIR", str(stack.state))
    users = stack.root.parent / "dashboard-users"
    app = create_app(ServeSettings(start=stack.root, users_file=users))
    seen: list[str] = []
    with TestClient(app) as client:
        signed_in(client, users, "carol", "viewer")
        original = client.get

        def get(path: str, **kw):
            answer = original(path, **kw)
            seen.append(answer.text)
            return answer

        client.get = get  # type: ignore[method-assign]
        yield SimpleNamespace(client=client, app=app, seen=seen)
    reports = getattr(app.state, "image_reports", None)
    if reports is not None:
        reports.close()
    assert not [text[:200] for text in seen if SECRET in text], "a secret value reached a page"


def test_a_service_image_shows_its_layers_and_the_commands_that_made_them(
    stack: Stack, viewer, engine: docker.DockerClient
) -> None:
    client = viewer.client
    _up(stack)
    web_id = engine.images.get(WEB_IMAGE).id
    page = client.get(f"/services/{stack.name}/images")
    assert page.status_code == 200, page.text
    main = page.text.split("<main", 1)[1]
    # web and db run two tags of one busybox image: one row, both names, both users
    assert f"<code>{WEB_IMAGE}</code>" in main and f"<code>{DB_IMAGE}</code>" in main, main
    assert f"web ({stack.name}-web-1)" in main and f"db ({stack.name}-db-1)" in main
    links = set(re.findall(r'href="[^"]*(/services/[^"]+/images/sha256:[0-9a-f]{64})"', page.text))
    assert links == {f"/services/{stack.name}/images/{web_id}"}  # web and db run the same busybox image

    report = client.get(f"/services/{stack.name}/images/{web_id}/report")  # waits for the worker (bounded)
    assert report.status_code == 200, report.text
    text = report.text
    assert "Computing the report" not in text and 'class="problem"' not in text, text[:2000]
    assert re.search(r"COPY [^<]*/bin/busybox", text), text  # the layers and their commands
    assert "busybox --install -s /bin" in text
    assert "unknown (no /etc/os-release)" in text  # FROM scratch: no base OS
    layers = re.findall(r'<th scope="row" data-label="Layer">(\d+)', text)
    assert len(layers) == len(engine.images.get(WEB_IMAGE).attrs["RootFS"]["Layers"]) >= 2

    assert viewer.app.state.image_reports.computed == 1

    # an image the engine has but no service uses is refused, not read
    other = build_image(engine, f"darse-test/images-other:{stack.name}", f"FROM {WEB_IMAGE}\nLABEL x={stack.name}\n")
    try:
        for path in (f"/services/{stack.name}/images/{other.id}", f"/services/{stack.name}/images/{other.id}/report"):
            assert client.get(path).status_code == 404
        assert viewer.app.state.image_reports.computed == 1
    finally:
        engine.images.remove(other.id, force=True)


def test_the_registry_page_lists_a_pushed_repository_and_tag(
    stack: Stack, viewer, engine: docker.DockerClient, registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, seen = viewer.client, viewer.seen
    repository = f"darse-test/images-{uuid.uuid4().hex[:8]}"
    reference = f"{registry.host}/{repository}"
    engine.images.get(WEB_IMAGE).tag(reference, "1.0")
    try:
        auth = {"username": registry.user, "password": registry.password}
        for line in engine.images.push(reference, "1.0", auth_config=auth, stream=True, decode=True):
            assert "error" not in line, line
        page = client.get("/registry")
        assert "No registry is configured" in page.text  # not yet in darse.toml

        with (stack.root / "darse.toml").open("a") as toml:
            toml.write(f'registry = "{registry.host}"\n')
        monkeypatch.setenv("DARSE_REGISTRY_USER", registry.user)
        monkeypatch.setenv("DARSE_REGISTRY_PASSWORD", registry.password)
        page = client.get("/registry")
        assert page.status_code == 200, page.text
        assert f"signed in as {registry.user}" in page.text
        assert f"<code>{repository}</code>" in page.text and "<code>1.0</code>" in page.text
        digest = engine.images.get(reference + ":1.0").attrs["RepoDigests"]
        assert any(d.rpartition("@")[2] in page.text for d in digest)

        monkeypatch.setenv("DARSE_REGISTRY_PASSWORD", "a-wrong-password")
        page = client.get("/registry")
        assert page.status_code == 200 and 'class="problem"' in page.text  # refused: said, not a traceback
        assert all(registry.password not in text and "a-wrong-password" not in text for text in seen)
    finally:
        engine.images.remove(f"{reference}:1.0", force=False)
