"""The logs page and its event stream over HTTP (uvicorn, a real HTTP client) on the real engine: a viewer
opens the page, follows the stream, sees a line written after it connected with the planted secret
masked, and leaving closes the follower. Bad input gets a page that says why, never a traceback."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from darse.masking import MASK
from darse.web import logs as web_logs
from darse.web.app import ServeSettings, create_app

from helpers.browser import served
from helpers.logs import SECRET, LogsService
from helpers.web import add_test_user

WAIT = 60.0


@pytest.fixture
def service(tmp_path: Path, engine: docker.DockerClient) -> Iterator[LogsService]:
    logs = LogsService(tmp_path / "repo", engine)
    try:
        logs.up()
        logs.running()
        yield logs
    finally:
        logs.close()


@pytest.fixture
def dashboard(service: LogsService, tmp_path: Path):
    users = tmp_path / "dashboard-users"
    password = add_test_user(users, "vera", "viewer")  # reading logs is a viewer's right
    app = create_app(ServeSettings(start=service.root, users_file=users, secret_key="logs-test-" + "k" * 32))
    with served(app) as url, httpx.Client(base_url=url, timeout=WAIT) as client:
        page = client.get("/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        signed = client.post("/sign-in", data={"csrf": token, "name": "vera", "password": password})
        assert signed.status_code in (200, 303), signed.text
        yield client, app


def events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of a Server-Sent Events stream."""
    name, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])


def test_a_viewer_follows_the_logs_live_with_the_secret_masked(dashboard, service: LogsService) -> None:
    client, app = dashboard
    page = client.get(f"/services/{service.name}/logs", params={"tail": "5"})
    assert page.status_code == 200
    stream_url = re.search(r'sse-connect="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert stream_url == f"/services/{service.name}/logs/events?filter=&tail=5"
    assert SECRET not in page.text

    marker = uuid.uuid4().hex
    received = ""
    with client.stream("GET", stream_url) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + WAIT
        stream = events(answer.iter_lines())  # held: a dropped generator would close the connection at once
        for name, data in stream:
            assert name == "lines", (name, data)
            received += data
            if "starts with token" in received and marker not in received:
                service.write(f"written after the page opened {marker} {SECRET}")  # once the stream follows
            if marker in received:
                break
            assert time.monotonic() < deadline, received
        assert len(app.state.log_followers) == 1  # still connected: the page's follower runs
    assert f"written after the page opened {marker} {MASK}" in received
    assert f'<span class="log-source">{service.name}-app-1</span>' in received
    assert SECRET not in received
    deadline = time.monotonic() + WAIT
    while app.state.log_followers:  # the visitor left: the server sees it on its own time
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not app.state.log_followers


def test_bad_input_and_unknown_services_get_pages_that_say_why(
    dashboard, service: LogsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = dashboard
    bad_tail = client.get(f"/services/{service.name}/logs", params={"tail": "lots"})
    assert bad_tail.status_code == 400 and "the tail must be a number of lines" in bad_tail.text
    assert "sse-connect" not in bad_tail.text
    long_filter = client.get(f"/services/{service.name}/logs", params={"filter": "x" * 500})
    assert long_filter.status_code == 400 and "at most 200 characters" in long_filter.text
    unknown = client.get("/services/no-such-service/logs")
    assert unknown.status_code == 404 and "No service named" in unknown.text
    with client.stream("GET", "/services/no-such-service/logs/events") as answer:
        got = list(events(answer.iter_lines()))
    assert [name for name, _ in got] == ["lines", "done"] and "log-note" in got[0][1]
    monkeypatch.setattr(web_logs, "MAX_STREAMS", 0)  # as if that many pages were open
    with client.stream("GET", f"/services/{service.name}/logs/events") as answer:
        got = list(events(answer.iter_lines()))
    assert [name for name, _ in got] == ["lines", "done"] and "logs pages are open already" in got[0][1]
    assert not getattr(app.state, "log_followers", set())  # no follower was started
    linked = client.get(f"/services/{service.name}")
    assert f'/services/{service.name}/logs">Logs, live</a>' in linked.text


def test_signed_out_visitors_get_no_logs(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    app = create_app(ServeSettings(start=tmp_path, users_file=tmp_path / "users", secret_key="k" * 40))
    with TestClient(app) as client:
        page = client.get("/services/wiki/logs", follow_redirects=False)
        stream = client.get("/services/wiki/logs/events", follow_redirects=False)
    assert page.status_code in (302, 303, 307) and "/sign-in" in page.headers["location"]
    assert stream.status_code in (302, 303, 307, 401)
    assert getattr(app.state, "log_followers", None) is None  # nobody signed in: the engine was not asked
