"""The read-only pages through Starlette's test client, on a real Git repository whose deployment state
comes from the in-memory engine (`app.state.open_deployments`).

Signing in is the auth part's, tested there: these tests remove the sign-in middleware from the app they
build and stand in for `require` (recording the role each page asks for), so they read the pages as a
viewer whatever the state of the auth module. One test checks, once the real auth is in, that a
visitor without a session gets no page at all.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from darse.deploy.context import DeployContext
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL
from darse.errors import DarseError
from darse.state import project_lock
from darse.web import auth
from darse.web.app import ServeSettings, create_app

from helpers.deploy_repo import Repo, make_repo

PLANTED = "planted-Secret-Value-5d2a7b"
WIKI = """\
services:
  web:
    image: example/wiki:latest
    restart: unless-stopped
    init: true
    env_file: app.secrets
  db:
    image: example/postgres:16
    restart: unless-stopped
    init: true
"""
README = """\
# Wiki <em>title</em>

Read [the manual](https://docs.example.org/).

## Operations

<script>alert("readme")</script>
<img src=x onerror="alert(2)">
"""


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    repo = make_repo(tmp_path, monkeypatch)
    repo.commit(
        {
            "wiki/compose.yaml": WIKI,
            "wiki/app.secrets.example": "DB_PASSWORD= # @generate\nADMIN_TOKEN= # @generate\n",
            "wiki/.gitignore": "app.secrets\n",
            "wiki/README.md": README,
            "apps/blog/compose.yaml": "services:\n  web:\n    image: example/blog:1.0\n    init: true\n",
        },
        "wiki: secrets and README; apps/blog",
    )
    secrets = repo.root / "wiki" / "app.secrets"
    secrets.write_text(f"DB_PASSWORD={PLANTED}\n", encoding="utf-8")  # ADMIN_TOKEN missing
    secrets.chmod(0o600)
    return repo


@pytest.fixture
def roles(monkeypatch) -> list[str]:
    """The roles pages asked `require` for, standing in for the signed-in viewer."""
    asked: list[str] = []
    monkeypatch.setattr(auth, "require", lambda request, role: asked.append(role))
    return asked


def _app(repo: Repo, start=None):
    app = create_app(ServeSettings(start=start or repo.root, users_file=repo.root.parent / "users"))
    app.state.open_deployments = lambda folder: DeployContext.open(folder, connect_engine=repo.fake.connect)
    return app


@pytest.fixture
def client(repo, roles) -> TestClient:
    app = _app(repo)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not auth.RequireSignIn]
    return TestClient(app)


def _deploy(repo: Repo, project: str) -> str:
    """A successful deployment of `project` at HEAD: the history row and a labelled, healthy container."""
    ctx = DeployContext.open(repo.root, connect_engine=repo.fake.connect)
    revision = repo.head()
    repo.record(ctx, project, revision, images={"web": {"config": "hw"}})
    repo.fake.add_container(
        f"{project}-web-1",
        project=project,
        service="web",
        labels={COMMIT_LABEL: revision, SERVICE_LABEL: project, SERVICE_HASH_LABEL: "hw"},
        health="healthy",
    )
    return revision


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="(/services/[^"]*)">([^<]*)</a>', html)


def test_the_fleet_lists_every_service_with_a_link(client, roles):
    page = client.get("/")
    assert page.status_code == 200
    assert _links(page.text) == [
        ("/services/apps/blog", "apps/blog"),
        ("/services/pad", "pad"),
        ("/services/wiki", "wiki"),
    ]
    assert roles == ["viewer"]
    for href, _name in _links(page.text):
        assert client.get(href).status_code == 200
    assert roles.count("viewer") == 4


def test_the_fleet_shows_state_in_words_commits_behind_and_counts(client, repo):
    _deploy(repo, "wiki")
    repo.commit({"wiki/notes.md": "one\n"}, "wiki: first note")
    repo.commit({"wiki/notes.md": "two\n"}, "wiki: second note")
    page = client.get("/").text
    row = page[page.index('id="service-wiki"') :].split("</tr>")[0]
    assert '<span class="state state-drift">drift</span>' in row
    assert "2 commits behind" in row
    assert row.index("wiki: second note") < row.index("wiki: first note")
    assert "1/1 running, 1 healthy" in row
    assert re.search(r"\d+ errors?</span>", row)  # example/wiki:latest is not pinned
    assert "1 missing key</span>" in row
    pad = page[page.index('id="service-pad"') :].split("</tr>")[0]
    assert '<span class="state state-not-deployed">not deployed</span>' in pad


def test_the_verdicts_are_computed_once_for_the_process(client):
    client.get("/")
    client.get("/")
    client.get("/services/wiki")
    assert client.app.state.fleet_cache.computed == 1


def test_a_service_page_renders_the_readme_and_escapes_its_html(client, repo, roles):
    _deploy(repo, "wiki")
    page = client.get("/services/wiki")
    assert page.status_code == 200 and roles == ["viewer"]
    html = page.text
    assert "<h3>Wiki &lt;em&gt;title&lt;/em&gt;</h3>" in html and html.count("<h1") == 1
    assert "<h4>Operations</h4>" in html
    assert '<a href="https://docs.example.org/">the manual</a>' in html
    assert '<script>alert("readme")' not in html and "&lt;script&gt;alert" in html
    assert "<img" not in html and "<em>" not in html
    for heading in ("Summary", "README", "Compose services", "Lint findings", "Secret keys missing"):
        assert f">{heading}</h2>" in html
    assert "Deployment history</h2>" in html
    assert "<code>wiki/compose.yaml:3</code>" in html  # the unpinned image, file:line
    assert "<code>ADMIN_TOKEN</code>" in html and "DB_PASSWORD</code>" not in html.split("Secret keys missing")[1][:600]
    history = html[html.index('id="history"') :]
    assert "<code>" + repo.head()[:12] + "</code>" in history and "success" in history
    assert '<pre class="diff"' in html and "DB_PASSWORD: &#39;****&#39;" in html


def test_a_planted_secret_value_appears_in_no_page(client, repo):
    _deploy(repo, "wiki")  # so that the page shows the diff `darse up` would apply
    (repo.root / "wiki" / "README.md").write_text(README + "\nThe password is in app.secrets.\n")
    urls = ["/", "/services/wiki", "/services/pad", "/services/apps/blog", "/services/nope", "/static/darse.css"]
    for url in urls:
        page = client.get(url)
        assert PLANTED not in page.text, url


def test_an_unknown_service_is_a_404_page(client, repo):
    page = client.get("/services/wik")
    assert page.status_code == 404
    assert "No service named “wik”" in page.text and "did you mean wiki?" in page.text
    assert str(repo.root) not in page.text  # where the checkout lives on the server is not a visitor's business
    assert client.get("/services/").status_code == 404


def test_a_reader_refused_by_require_gets_no_page(repo, monkeypatch):
    def refuse(request, role):
        raise HTTPException(403)

    monkeypatch.setattr(auth, "require", refuse)
    app = _app(repo)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not auth.RequireSignIn]
    client = TestClient(app)
    for url in ("/", "/services/wiki", "/services/nope"):
        page = client.get(url)
        assert page.status_code == 403 and "wiki" not in page.text, url


def test_a_checkout_without_services_says_why(repo, client, roles, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    client.app.state.settings = ServeSettings(start=empty, users_file=tmp_path / "users")
    page = client.get("/")
    assert page.status_code == 503 and "no service found" in page.text


def test_without_a_session_no_page_is_shown(repo):
    client = TestClient(_app(repo), follow_redirects=False)
    for url in ("/", "/services/wiki"):
        page = client.get(url)
        assert page.status_code in (302, 303, 307, 401, 403), url
        assert "/services/wiki" not in page.text and "example/wiki" not in page.text


def test_hints_show_their_commands_as_code_and_nothing_else_as_markup() -> None:
    from darse.web.app import code_spans

    shown = str(code_spans("run `darse secrets init wiki` then <b>reload</b> `a<script>`"))
    assert shown == (
        "run <code>darse secrets init wiki</code> then &lt;b&gt;reload&lt;/b&gt; <code>a&lt;script&gt;</code>"
    )
def _row(page: str, project: str) -> str:
    return page[page.index(f'id="service-{project}"') :].split("</tr>")[0]


def test_one_unreachable_target_is_said_once_and_the_other_rows_stay_exact(repo, roles):
    """pad and apps/blog on a target that does not answer: their rows only say so; wiki is whole."""
    _deploy(repo, "wiki")
    toml = '[targets.ghost]\nhost = "tcp://ghost.invalid:2375"\n'
    toml += '[services."pad"]\ntarget = "ghost"\n[services."apps/blog"]\ntarget = "ghost"\n'
    repo.commit({"darse.toml": toml}, "pad and blog on ghost")

    def connect(endpoint):
        if endpoint.docker_host:
            raise DarseError("cannot reach the Docker engine at tcp://ghost.invalid:2375 (TimeoutError)", "start it")
        return repo.fake.connect(endpoint)

    app = _app(repo)
    app.state.open_deployments = lambda folder: DeployContext.open(folder, connect_engine=connect)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not auth.RequireSignIn]
    client = TestClient(app)
    page = client.get("/").text
    assert page.count("did not answer") == 1 and "Target <strong>ghost</strong>" in page
    assert "apps/blog, pad" in page and "Deployment state is not shown" not in page
    wiki = _row(page, "wiki")
    assert '<span class="state state-in-sync">in sync</span>' in wiki
    assert "1/1 running, 1 healthy" in wiki
    assert '<span class="state state-unreachable">unreachable</span>' in _row(page, "pad")
    assert "not known" in _row(page, "pad")
    wiki_page = client.get("/services/wiki").text
    assert "Deployment state is not shown" not in wiki_page and "1/1 running, 1 healthy" in wiki_page
    pad_page = client.get("/services/pad").text
    assert "ghost.invalid" in pad_page and "Deployment state is not shown" in pad_page


def test_a_service_brought_down_and_one_deploying_say_so(client, repo):
    _deploy(repo, "wiki")
    ctx = DeployContext.open(repo.root, connect_engine=repo.fake.connect)
    repo.fake.containers_by_id.clear()
    repo.record(ctx, "wiki", repo.head(), action="down", config_hash="")
    page = client.get("/").text
    wiki = _row(page, "wiki")
    assert '<span class="state state-down">down</span>' in wiki and "brought down; was" in wiki
    _deploy(repo, "pad")
    repo.fake.add_container("pad-db-1", project="pad", service="db", labels={SERVICE_HASH_LABEL: "new"})
    with project_lock(ctx.state, "pad"):
        pad = _row(client.get("/").text, "pad")
    assert '<span class="state state-deploying">deploying</span>' in pad and "changed by hand" not in pad
    pad = _row(client.get("/").text, "pad")
    assert '<span class="state state-drift">drift</span>' in pad and "changed by hand" in pad
