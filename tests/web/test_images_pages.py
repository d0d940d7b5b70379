"""The image pages through Starlette's test client, signed in as a viewer through the real form, on a real
Git repository whose engine is the in-memory one (its export serves a real `docker save` archive, which
`darse inspect`'s real analysis reads)."""

from __future__ import annotations

import asyncio
import re
import threading

import httpx
import pytest
from starlette.testclient import TestClient

from darse.dashboard.images import ImageReports
from darse.deploy.context import DeployContext
from darse.web.app import ServeSettings, create_app

from helpers.deploy_repo import Repo, make_repo
from helpers.images import DB_ID, WEB_ID, ExportingEngine, FakeRegistry
from helpers.web import add_test_user, signed_in

PLANTED = "planted-Secret-Value-81c4e0"
REGISTRY_PASSWORD = "planted-registry-password-77"


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    repo = make_repo(tmp_path, monkeypatch)
    repo.fake = ExportingEngine()
    repo.fake.add_image("example/wiki:2.5", WEB_ID)
    repo.fake.add_image("example/postgres:16", DB_ID)
    repo.fake.add_image("other/unrelated:1", "sha256:" + "9" * 64)
    repo.fake.add_container("wiki-web-1", project="wiki", service="web", image="example/wiki:2.5", image_id=WEB_ID)
    repo.commit({"wiki/app.secrets.example": "DB_PASSWORD=\n", "wiki/.gitignore": "app.secrets\n"}, "secrets")
    (repo.root / "wiki" / "app.secrets").write_text(f"DB_PASSWORD={PLANTED}\n")
    return repo


@pytest.fixture
def app(repo: Repo):
    app = create_app(ServeSettings(start=repo.root, users_file=repo.root.parent / "users"))
    app.state.open_deployments = lambda folder: DeployContext.open(folder, connect_engine=repo.fake.connect)
    app.state.image_reports = ImageReports()
    yield app
    app.state.image_reports.close()


@pytest.fixture
def client(app, repo: Repo):
    with TestClient(app) as client:
        signed_in(client, repo.root.parent / "users", "carol", "viewer")
        yield client


def _ok(client: TestClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.text
    assert PLANTED not in answer.text and REGISTRY_PASSWORD not in answer.text
    return answer.text


def test_a_viewer_sees_the_images_of_a_service_from_its_page(client: TestClient) -> None:
    service = _ok(client, "/services/wiki")
    assert re.search(r'href="(http://testserver)?/services/wiki/images"', service)
    assert re.search(r'href="(http://testserver)?/registry"', service)  # the header's link
    page = _ok(client, "/services/wiki/images")
    assert "<code>example/wiki:2.5</code>" in page and "<code>example/postgres:16</code>" in page
    assert "web (wiki-web-1)" in page and "running" in page
    links = re.findall(r'href="(?:http://testserver)?(/services/wiki/images/sha256:[0-9a-f]+)"', page)
    assert sorted(links) == sorted(f"/services/wiki/images/{i}" for i in (WEB_ID, DB_ID))


def test_an_image_report_is_computed_then_filled_in(client: TestClient, app, repo: Repo) -> None:
    page = _ok(client, f"/services/wiki/images/{WEB_ID}")
    assert WEB_ID in page
    fragment_url = f"/services/wiki/images/{WEB_ID}/report"
    if "Computing the report" in page:  # the worker may already be done: then the page has it inline
        assert re.search(f'hx-get="(http://testserver)?{fragment_url}"', page) and 'hx-trigger="load' in page
    fragment = _ok(client, fragment_url)  # waits for the worker (bounded)
    assert "Computing the report" not in fragment
    for n in range(3):
        assert f"RUN step {n}" in fragment
    assert "Debian GNU/Linux 10 (buster)" in fragment and "end of life since" in fragment
    assert "/tmp/cache.bin" in fragment and "3.0 kB" in fragment  # wasted
    assert "setuid" in fragment and "/bin/tool" in fragment  # a finding
    assert "API_TOKEN=****" in fragment and "planted-token-value" not in fragment
    assert "RUN step 0" in _ok(client, f"/services/wiki/images/{WEB_ID}")  # now kept: inline
    assert app.state.image_reports.computed == 1 and repo.fake.exports == [WEB_ID]


def test_an_image_the_service_does_not_use_is_404_and_never_read(client: TestClient, app, repo: Repo) -> None:
    for path in (
        "/services/wiki/images/sha256:" + "9" * 64,  # on the engine, used by no service
        "/services/wiki/images/sha256:" + "9" * 64 + "/report",
        "/services/pad/images/" + DB_ID,  # used by another service
        "/services/wiki/images/other:1",
        "/services/wiki/images/%3Cscript%3E",
    ):
        page = _ok(client, path, status=404)
        assert "does not run or name that image" in page and "<script>" not in page
    for path in ("/services/nope/images/" + WEB_ID, "/services/nope/images", "/services/wiki/images/other/unrelated:1"):
        page = _ok(client, path, status=404)
        assert "No service named" in page and "Back to the fleet" in page
    assert app.state.image_reports.computed == 0 and repo.fake.exports == []


def test_the_registry_page_without_a_registry_says_how_to_set_one(client: TestClient) -> None:
    page = _ok(client, "/registry")
    assert "No registry is configured" in page and "darse.toml" in page


def test_the_registry_page_lists_repositories_and_tags_never_the_password(client: TestClient, app, repo) -> None:
    repo.commit({"darse.toml": 'registry = "registry.example.org"\n'}, "registry")
    app.state.open_registry = lambda host: FakeRegistry({"wiki": ["2.5"], "pad": []}, REGISTRY_PASSWORD)
    page = _ok(client, "/registry")
    assert "<code>registry.example.org</code>" in page and "signed in as ci-bot" in page
    assert "<code>wiki</code>" in page and "<code>2.5</code>" in page and "1.2 kB" in page
    assert "no tag" in page  # pad


def test_no_page_without_signing_in(app) -> None:
    with TestClient(app) as anonymous:
        for path in ("/registry", "/services/wiki/images", f"/services/wiki/images/{WEB_ID}/report"):
            answer = anonymous.get(path, follow_redirects=False)
            assert answer.status_code in (303, 307, 401), (path, answer.status_code)
            assert "example/wiki" not in answer.text
    assert app.state.image_reports.computed == 0


def test_visitors_asking_for_the_registry_together_share_one_read(app, repo) -> None:
    """A read of the registry is hundreds of requests: reloads by the dozen while one runs wait for it
    (on the event loop, no thread each) instead of starting their own."""
    repo.commit({"darse.toml": 'registry = "registry.example.org"\n'}, "registry")
    gate = threading.Event()
    opened: list[str] = []

    def open_registry(host: str) -> FakeRegistry:
        opened.append(host)
        gate.wait(30)  # a registry that answers slowly
        return FakeRegistry({"wiki": ["2.5"]}, REGISTRY_PASSWORD)

    app.state.open_registry = open_registry
    password = add_test_user(repo.root.parent / "users", "carol", "viewer")

    async def visit() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            form = await client.get("/sign-in")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            await client.post("/sign-in", data={"csrf": token, "name": "carol", "password": password})

            async def release() -> None:
                for _ in range(500):  # every visitor reaches the page first (each step is on this loop)
                    await asyncio.sleep(0)
                gate.set()

            *pages, _ = await asyncio.gather(*(client.get("/registry") for _ in range(5)), release())
            assert all("<code>wiki</code>" in page.text for page in pages)
            return [page.status_code for page in pages]

    assert asyncio.run(visit()) == [200] * 5
    assert opened == ["registry.example.org"]
