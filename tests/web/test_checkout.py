"""The dashboard's checkout page, its fetch and its pull, signed in through the real form, over a real
clone of a bare origin (no engine: a pull only moves Git)."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from darse.dashboard.fleet import FleetCache
from darse.deploy.context import DeployContext
from darse.web.app import ServeSettings, create_app
from darse.web.streams import Action

from helpers.clones import COMPOSE, Clones, git, make_clones
from helpers.web import signed_in


@pytest.fixture
def clones(tmp_path: Path) -> Clones:
    clones = make_clones(tmp_path)
    clones.push({"wiki/compose.yaml": COMPOSE + "    restart: always\n"}, "wiki: restart <always>")
    clones.push({"forum/compose.yaml": COMPOSE, "darse.toml": "# c\n"}, "forum: a new service")
    git(clones.host, "fetch", "-q")
    return clones


@pytest.fixture
def app(clones: Clones, tmp_path: Path):
    return create_app(ServeSettings(start=clones.host, users_file=tmp_path / "users"))


def _client(app, tmp_path: Path, name: str, role: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    client.__enter__()
    return client, signed_in(client, tmp_path / "users", name, role)


@pytest.fixture
def operator(app, tmp_path: Path):
    client, token = _client(app, tmp_path, "alice", "operator")
    yield client, token
    client.__exit__(None, None, None)


@pytest.fixture
def viewer(app, tmp_path: Path):
    client, token = _client(app, tmp_path, "victor", "viewer")
    yield client, token
    client.__exit__(None, None, None)


def _finished(action: Action) -> None:
    async def follow() -> None:
        async for _message in action.channel.follow(0, keepalive=30):
            pass

    asyncio.run(follow())


def test_a_viewer_sees_the_commits_to_come_and_the_services_they_touch(viewer, clones: Clones) -> None:
    client, _token = viewer
    page = client.get("/checkout")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'href="http://testserver/checkout" class="nav">Checkout</a>' in html  # the header's link
    assert "2 commits on origin/main" in html
    assert "wiki: restart &lt;always&gt;" in html and "<always>" not in html  # escaped
    assert 'href="/services/wiki"' in html and "forum (new)" in html and "<code>darse.toml</code>" in html
    assert "Ada Admin" in html and "Last fetch" in html
    assert "Review and pull" not in html and "Fetch from origin" not in html
    assert "Only an operator can pull" in html


def test_a_viewer_cannot_fetch_or_pull(viewer, clones: Clones) -> None:
    client, token = viewer
    before = clones.head()
    target = git(clones.host, "rev-parse", "origin/main").strip()
    assert client.post("/checkout/pull", data={"csrf": token, "target": target}).status_code == 403
    assert client.post("/checkout/fetch", data={"csrf": token}).status_code == 403
    assert clones.head() == before


def test_a_post_without_the_csrf_token_is_refused(operator, clones: Clones) -> None:
    client, _token = operator
    before = clones.head()
    target = git(clones.host, "rev-parse", "origin/main").strip()
    assert client.post("/checkout/pull", data={"target": target}).status_code == 403
    assert client.post("/checkout/pull", data={"target": target, "csrf": "forged"}).status_code == 403
    assert client.post("/checkout/fetch", data={}).status_code == 403
    assert clones.head() == before


def test_an_operator_confirms_then_the_pull_moves_head_live(operator, app, clones: Clones, caplog) -> None:
    caplog.set_level(logging.INFO, logger="darse.web.checkout")
    client, token = operator
    confirm = client.get("/checkout/pull")
    assert confirm.status_code == 200 and "Pull 2 commits into main" in confirm.text
    target = re.search(r'name="target" value="([0-9a-f]+)"', confirm.text).group(1)
    confirm_head = clones.head()
    assert target == git(clones.host, "rev-parse", "origin/main").strip()

    started = client.post("/checkout/pull", data={"csrf": token, "target": target}, follow_redirects=False)

    assert started.status_code == 303, started.text
    action_id = started.headers["location"].rsplit("/", 1)[1]
    action = app.state.actions.get(action_id)
    _finished(action)
    assert action.outcome == "ok" and clones.head() == target
    assert f"alice (dashboard) pulled main: {confirm_head[:12]}..{target[:12]}" in caplog.text
    progress = client.get(started.headers["location"])
    assert 'data-outcome="ok"' in progress.text and "fast-forwarded to origin/main" in progress.text
    events = client.get(f"/checkout/actions/{action_id}/events")
    assert "event: done" in events.text and "fast-forwarding main" in events.text
    page = client.get("/checkout")
    assert "main is up to date with origin/main" in page.text
    assert "by alice (dashboard)" in page.text  # the recent pulls, from Git's reflog


def test_a_pull_of_a_commit_other_than_the_one_shown_is_refused(operator, clones: Clones) -> None:
    client, token = operator
    shown = git(clones.host, "rev-parse", "origin/main").strip()
    clones.push({"blog/x.txt": "x\n"}, "blog: x")
    assert client.post("/checkout/fetch", data={"csrf": token}, follow_redirects=False).status_code == 303
    before = clones.head()
    refused = client.post("/checkout/pull", data={"csrf": token, "target": shown})
    assert refused.status_code == 409 and "the upstream changed since that page was shown" in refused.text
    assert "blog: x" in refused.text and clones.head() == before
    assert client.post("/checkout/pull", data={"csrf": token, "target": "HEAD"}).status_code == 400


def test_fetch_brings_new_commits_to_the_page(operator, clones: Clones) -> None:
    client, token = operator
    clones.push({"blog/x.txt": "x\n"}, "blog: later")
    assert "blog: later" not in client.get("/checkout").text  # the page itself does not fetch
    answer = client.post("/checkout/fetch", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 303
    page = client.get("/checkout")
    assert "blog: later" in page.text and "3 commits on origin/main" in page.text


def test_a_failed_fetch_is_shown_without_the_remote_s_credentials(operator, clones: Clones) -> None:
    client, token = operator
    git(clones.host, "remote", "set-url", "origin", "https://bot:hunter2-token@127.0.0.1:9/x.git")
    answer = client.post("/checkout/fetch", data={"csrf": token})
    assert answer.status_code == 502 and "could not fetch from origin" in answer.text
    assert "hunter2" not in answer.text and "bot:" not in answer.text


def test_changes_in_the_way_are_shown_and_refused(operator, clones: Clones) -> None:
    client, token = operator
    (clones.host / "wiki/compose.yaml").write_text(COMPOSE + "    # local\n")
    page = client.get("/checkout")
    assert "uncommitted changes to files the pull changes: wiki/compose.yaml" in page.text
    assert "Review and pull" not in page.text
    target = git(clones.host, "rev-parse", "origin/main").strip()
    before = clones.head()
    refused = client.post("/checkout/pull", data={"csrf": token, "target": target})
    assert refused.status_code == 409 and "git stash" in refused.text and clones.head() == before


def test_no_upstream_is_explained_on_the_page(viewer, clones: Clones) -> None:
    client, _token = viewer
    git(clones.host, "branch", "--unset-upstream")
    page = client.get("/checkout")
    assert page.status_code == 200
    assert "the branch main has no upstream to pull from" in page.text and "--set-upstream-to" in page.text


def test_after_a_pull_the_fleet_s_verdicts_are_computed_again(operator, clones: Clones) -> None:
    """FleetCache keys its lint and secrets verdicts by HEAD (among others): a pull makes them stale."""
    cache = FleetCache(compute=lambda ctx, key: SimpleNamespace(key=key))
    cache.verdicts(DeployContext.open(clones.host))
    cache.verdicts(DeployContext.open(clones.host))
    assert cache.computed == 1
    client, token = operator
    target = git(clones.host, "rev-parse", "origin/main").strip()
    started = client.post("/checkout/pull", data={"csrf": token, "target": target}, follow_redirects=False)
    _finished(client.app.state.actions.get(started.headers["location"].rsplit("/", 1)[1]))
    assert clones.head() == target
    cache.verdicts(DeployContext.open(clones.host))
    assert cache.computed == 2
