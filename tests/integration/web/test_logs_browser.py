"""The logs page in a real browser (Debian's chromium driven by Playwright) on the real engine: a viewer
opens it, a line the container writes afterwards appears without a reload, the planted secret never
reaches the page, and the filter form narrows the stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from darse.masking import MASK
from darse.web.app import ServeSettings, create_app

from helpers.browser import browser_fixture, page_fixture, served  # noqa: F401  (fixtures)
from helpers.logs import SECRET, LogsService
from helpers.web import add_test_user

LIVE = 60_000  # ms: a shared machine; the test asserts what arrives, not how fast


@pytest.fixture
def dashboard(tmp_path: Path, engine: docker.DockerClient) -> Iterator[tuple[str, str, LogsService, object]]:
    service = LogsService(tmp_path / "repo", engine)
    try:
        service.up()
        service.running()
        users = tmp_path / "dashboard-users"
        password = add_test_user(users, "vera", "viewer")
        app = create_app(ServeSettings(start=service.root, users_file=users, secret_key="logs-ui-" + "k" * 32))
        with served(app) as url:
            yield url, password, service, app
    finally:
        service.close()


def test_the_logs_page_shows_new_lines_live_and_never_the_secret(page, dashboard) -> None:
    from playwright.sync_api import expect

    url, password, service, app = dashboard
    page.goto(f"{url}/services/{service.name}")
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Logs, live").click()
    page.wait_for_url(f"{url}/services/{service.name}/logs")
    lines = page.locator("ol.log-lines")
    expect(lines).to_contain_text(f"app starts with token {MASK}", timeout=LIVE)  # the past, masked
    page.evaluate("window.darseNoReload = true")  # gone if the page ever reloads

    marker = uuid.uuid4().hex
    service.write(f"written while the page is open {marker} {SECRET}")
    expect(lines).to_contain_text(f"written while the page is open {marker} {MASK}", timeout=LIVE)
    expect(lines.locator("li.log-line").last.locator(".log-source")).to_have_text(f"{service.name}-app-1")
    assert page.evaluate("window.darseNoReload") is True
    assert SECRET not in page.content()

    page.get_by_label("Only lines containing").fill(marker)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/services/{service.name}/logs?filter={marker}*")
    expect(lines).to_contain_text(marker, timeout=LIVE)
    other = uuid.uuid4().hex
    service.write(f"not matching {other}")
    service.write(f"matching {marker} again")
    expect(lines).to_contain_text(f"matching {marker} again", timeout=LIVE)
    assert other not in lines.inner_text() and "starts with token" not in lines.inner_text()
    page.goto("about:blank")  # the visitor leaves: the server closes the follower on its own time
    for _ in range(300):
        if not app.state.log_followers:
            break
        page.wait_for_timeout(100)
    assert not app.state.log_followers
