"""The logs page's stream over HTTP without Docker: the in-memory engine behind the application
(`app.state.open_deployments`), uvicorn on loopback, a viewer signed in through the form. The filter and
the tail of the query reach the follower, a reconnecting page gets no past lines again, the planted
secret is masked, and leaving the page closes the engine's log stream."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest

from darse.deploy.context import DeployContext
from darse.masking import MASK
from darse.web import logs, pages
from darse.web.app import ServeSettings, create_app

from helpers.browser import served
from helpers.deploy_repo import Repo, make_repo
from helpers.fake_logs import LoggingEngine, wait_for
from helpers.web import add_test_user, session_of

PLANTED = "planted-Log-Secret-77c1"
COMPOSE = "services:\n  web:\n    image: example/wiki:2.5\n    init: true\n    env_file: app.secrets\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[httpx.Client, LoggingEngine, str]]:
    repo: Repo = make_repo(tmp_path, monkeypatch)
    fake = repo.fake = LoggingEngine()
    repo.commit({"wiki/compose.yaml": COMPOSE, "wiki/app.secrets.example": "TOKEN=\n", ".gitignore": "*.secrets\n"})
    (repo.root / "wiki" / "app.secrets").write_text(f"TOKEN={PLANTED}\n")
    container = fake.add_container("wiki-web-1", project="wiki", service="web")
    users = tmp_path / "users"
    password = add_test_user(users, "vera", "viewer")
    app = create_app(ServeSettings(start=repo.root, users_file=users, secret_key="unit-" + "k" * 32))
    app.state.open_deployments = lambda folder: DeployContext.open(folder, connect_engine=fake.connect)
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text).group(1)
        client.post("/sign-in", data={"csrf": token, "name": "vera", "password": password})
        yield client, fake, container.id


def data_of(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line.startswith("data: "):
            yield line[len("data: ") :]


def test_the_query_reaches_the_follower_and_lines_come_masked_and_filtered(site) -> None:
    client, fake, container = site
    with client.stream("GET", "/services/wiki/logs/events", params={"filter": "ERROR", "tail": "7"}) as answer:
        wait_for(lambda: container in fake.logs_by_container)
        log = fake.logs_by_container[container][0]
        assert log.tail == 7
        log.line("all fine")
        log.line(f"an error with {PLANTED}")
        data = data_of(answer.iter_lines())  # held: dropping it would close the connection
        first = next(data)
    assert f"an error with {MASK}" in first and "all fine" not in first and PLANTED not in first
    assert '<span class="log-source">wiki-web-1</span>' in first
    wait_for(lambda: log.closed)  # the visitor left: the engine's stream is closed


def test_a_reconnecting_page_gets_only_new_lines(site) -> None:
    client, fake, container = site
    with client.stream("GET", "/services/wiki/logs/events", headers={"Last-Event-ID": "live"}) as answer:
        assert answer.status_code == 200
        wait_for(lambda: container in fake.logs_by_container)
    assert fake.logs_by_container[container][0].tail == 0


def test_a_bad_tail_in_the_stream_is_said_not_raised(site) -> None:
    client, fake, _container = site
    with client.stream("GET", "/services/wiki/logs/events", params={"tail": "-3"}) as answer:
        said = list(data_of(answer.iter_lines()))
    assert "the tail must be a number of lines" in said[0] and not fake.logs_by_container


HOSTILE = "evil\revent: lines\rdata: <b>pwned</b>\r"  # a folder name: CR ends a line of Server-Sent Events


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """The site, with a hostile service folder, and an opener of the checkout that waits for `gate`
    (as a slow engine connection would): the window in which a visitor leaves or others arrive."""
    repo: Repo = make_repo(tmp_path, monkeypatch)
    fake = repo.fake = LoggingEngine()
    repo.commit({"wiki/compose.yaml": COMPOSE, f"{HOSTILE}/compose.yaml": COMPOSE})
    container = fake.add_container("wiki-web-1", project="wiki", service="web")
    users = tmp_path / "users"
    password = add_test_user(users, "vera", "viewer")
    app = create_app(ServeSettings(start=repo.root, users_file=users, secret_key="unit-" + "k" * 32))
    gate = threading.Event()
    gate.set()
    opened: list[int] = []

    def open_deployments(folder: Path) -> DeployContext:
        opened.append(1)
        gate.wait(30)
        return DeployContext.open(folder, connect_engine=fake.connect)

    app.state.open_deployments = open_deployments
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text).group(1)
        client.post("/sign-in", data={"csrf": token, "name": "vera", "password": password})
        yield SimpleNamespace(app=app, client=client, fake=fake, container=container.id, gate=gate, opened=opened)
        gate.set()


def test_a_service_folder_named_with_carriage_returns_writes_no_event_of_its_own(gated) -> None:
    received = ""
    with gated.client.stream("GET", f"/services/{quote(HOSTILE)}/logs/events") as answer:
        for text in answer.iter_text():
            received += text
            if "waiting for one to start" in received:
                break
    lines = re.split(r"\r\n|\r|\n", received)  # how an EventSource splits them
    assert lines[0].startswith(": logs of evil")
    assert not [line for line in lines if line.startswith("data:") and "<b>pwned</b>" in line]


def test_an_unknown_service_in_the_stream_is_said_without_the_checkout_path(gated) -> None:
    text = gated.client.get("/services/nope/logs/events").text
    assert "no such service" in text and str(gated.app.state.settings.start) not in text


def test_streams_started_together_cannot_pass_the_limit(gated, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_STREAMS", 2)
    monkeypatch.setattr(logs, "KEEPALIVE_SECONDS", 0.2)  # the two that hold a place see `stop` soon
    gated.gate.clear()
    refused: list[str] = []
    stop = threading.Event()

    def open_one() -> None:
        with gated.client.stream("GET", "/services/wiki/logs/events") as answer:
            for text in answer.iter_text():
                if "logs pages are open already" in text:
                    refused.append(text)
                    return
                if stop.is_set():
                    return

    threads = [threading.Thread(target=open_one, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(refused) == 2)  # two hold the places while their followers start
    finally:
        stop.set()
        gated.gate.set()
        for thread in threads:
            thread.join(30)
    assert len(gated.opened) == 2


def test_a_stream_ends_once_its_session_is_signed_out_elsewhere(gated, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the cookie signed out (or the user removed) must not go on reading the logs on a page
    already open: the stream checks the session as it goes."""
    monkeypatch.setattr(logs, "KEEPALIVE_SECONDS", 0.2)
    client = gated.client
    with client.stream("GET", "/services/wiki/logs/events") as answer:
        lines = answer.iter_lines()  # held: dropping it would close the connection
        assert next(lines).startswith(": logs of wiki")
        with httpx.Client(base_url=str(client.base_url), cookies=client.cookies, timeout=30) as other:
            assert other.post("/sign-out", data={"csrf": session_of(other)["csrf"]}).status_code == 303
        seen = []
        for line in lines:
            seen.append(line)
            if line == "event: done" or len(seen) > 300:  # keep-alives come five times a second
                break
    assert seen[-1] == "event: done"


def test_the_fleet_stream_ends_once_its_session_is_signed_out_elsewhere(gated, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fleet's stream (the same site as the logs': a served app on the in-memory engine) checks its session too."""
    monkeypatch.setattr(pages, "KEEPALIVE_SECONDS", 0.2)
    client = gated.client
    with client.stream("GET", "/fleet/events") as answer:
        lines = answer.iter_lines()  # held: dropping it would close the connection
        assert next(lines) == ": following the fleet"
        with httpx.Client(base_url=str(client.base_url), cookies=client.cookies, timeout=30) as other:
            assert other.post("/sign-out", data={"csrf": session_of(other)["csrf"]}).status_code == 303
        seen = [line for _, line in zip(range(300), lines, strict=False)]  # ends early once refused
    assert len(seen) < 300
