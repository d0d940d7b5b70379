"""The fleet page follows the engine live, in a real browser (Debian's chromium driven by Playwright)
against the real engine: the page is open, the service is deployed from the command line and its row
turns "in sync" without a reload; a container stopped by hand turns it "degraded". The page is never
reloaded (a marker set in the page's JavaScript survives), and no planted secret value reaches it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from darse.web.app import ServeSettings, create_app

from helpers.browser import browser_fixture, page_fixture, served  # noqa: F401  (fixtures)
from helpers.deploy import SECRET, Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.web import add_test_user

LIVE = 90_000  # ms: a deploy and its health checks on a shared machine; the test asserts what, not how fast


@pytest.fixture
def dashboard(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DARSE_STATE_DIR", str(stack.state))
    users = tmp_path / "dashboard-users"
    password = add_test_user(users, "vera", "viewer")  # following the fleet is a viewer's right
    app = create_app(ServeSettings(start=stack.root, users_file=users, secret_key="live-test-" + "k" * 32))
    with served(app) as url:
        yield url, password, app


def test_the_fleet_row_follows_a_deploy_and_a_stop_live(page, dashboard, stack: Stack) -> None:
    url, password, app = dashboard
    page.goto(url + "/")
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    from playwright.sync_api import expect

    row = page.locator(f"tr#service-{stack.name}")
    expect(row).to_contain_text("not deployed")
    page.evaluate("window.darseNoReload = true")  # gone if the page ever reloads
    expect(page.locator("table.fleet")).to_have_attribute("sse-connect", "/fleet/events")
    for _ in range(300):  # the page connected and the watcher subscribed to the engine: no event missed
        watcher = getattr(app.state, "fleet_watcher", None)
        if watcher is not None and watcher.subscriptions:
            break
        page.wait_for_timeout(100)
    assert app.state.fleet_watcher.subscriptions == 1

    try:
        deployed = stack.darse("up", stack.name, "--timeout", "60")
        assert deployed.returncode == 0, deployed.stderr
        expect(row).to_contain_text("in sync", timeout=LIVE)
        expect(row).to_contain_text("2/2 running, 2 healthy", timeout=LIVE)
        assert page.evaluate("window.darseNoReload") is True

        subprocess.run(
            ["docker", "compose", "--project-name", stack.name, "stop", "--timeout", "5", "db"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        expect(row).to_contain_text("degraded", timeout=LIVE)
        expect(row).to_contain_text("1/2 running", timeout=LIVE)
        assert page.evaluate("window.darseNoReload") is True
        assert SECRET not in page.content()
        assert app.state.fleet_watcher.running  # one watcher for the process, following the engine
    finally:
        page.goto("about:blank")  # the visitor leaves: the stream ends, the server can stop
    watcher = app.state.fleet_watcher
    page.wait_for_timeout(100)
    for _ in range(300):  # the server sees the disconnection on its own time
        if not watcher.running:
            break
        page.wait_for_timeout(100)
    assert not watcher.running  # the last visitor gone: the engine subscription is closed


def test_the_live_stream_is_for_signed_in_visitors_only(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    app = create_app(ServeSettings(start=tmp_path, users_file=tmp_path / "users", secret_key="k" * 40))
    with TestClient(app) as client:
        answer = client.get("/fleet/events", follow_redirects=False)
    assert answer.status_code in (302, 303, 307) and "/sign-in" in answer.headers["location"]
    assert getattr(app.state, "fleet_watcher", None) is None  # nobody signed in: the engine was not asked
