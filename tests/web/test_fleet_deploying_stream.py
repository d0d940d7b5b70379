"""The live fleet and an action in progress, over HTTP without Docker (the in-memory engine, uvicorn on
loopback, a viewer signed in): a row the stream sends as `deploying` is sent again once the project's
lock is free, though the engine says nothing then (the end of an action is no container event)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from darse.deploy.context import DeployContext
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL
from darse.state import project_lock
from darse.web.app import ServeSettings, create_app

from helpers.browser import served
from helpers.deploy_repo import Repo, make_repo
from helpers.web import add_test_user


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[httpx.Client, Repo]]:
    repo = make_repo(tmp_path, monkeypatch)
    ctx = DeployContext.open(repo.root, connect_engine=repo.fake.connect)
    repo.record(ctx, "pad", repo.head(), images={"web": {"config": "hw"}})
    labels = {COMMIT_LABEL: repo.head(), SERVICE_LABEL: "pad", SERVICE_HASH_LABEL: "hw"}
    repo.fake.add_container("pad-web-1", project="pad", service="web", labels=labels, health="healthy")
    users = tmp_path / "users"
    password = add_test_user(users, "vera", "viewer")
    app = create_app(ServeSettings(start=repo.root, users_file=users, secret_key="unit-" + "k" * 32))
    app.state.open_deployments = lambda folder: DeployContext.open(folder, connect_engine=repo.fake.connect)
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text).group(1)
        client.post("/sign-in", data={"csrf": token, "name": "vera", "password": password})
        yield client, repo


def _pad_rows(lines: Iterator[str]) -> Iterator[str]:
    """The `row` events about pad, each its data lines joined (an event ends at a blank line)."""
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[len("data:") :].lstrip(" "))
        elif line.startswith(": keep-alive"):  # idle for KEEPALIVE_SECONDS: nothing more would come
            raise AssertionError("the stream went idle with pad's row still deploying")
        elif not line and data:
            html, data = "\n".join(data), []
            if 'id="service-pad"' in html:
                yield html


def test_a_deploying_row_is_sent_again_when_the_lock_is_free(site) -> None:
    client, repo = site
    state = DeployContext.open(repo.root, connect_engine=repo.fake.connect).state
    with project_lock(state, "pad"):
        # Last-Event-ID: a reconnecting page gets every row at once, without waiting for an engine event
        answer_cm = client.stream("GET", "/fleet/events", headers={"Last-Event-ID": "live"})
        answer = answer_cm.__enter__()
        rows = _pad_rows(answer.iter_lines())
        first = next(rows)
        assert "state-deploying" in first
    try:
        later = next(rows)  # no engine event: the stream built the row again on its own
        while "state-deploying" in later:
            later = next(rows)
        assert '<span class="state state-in-sync">in sync</span>' in later
    finally:
        answer_cm.__exit__(None, None, None)
