"""A service's image report in a real browser (Debian's chromium driven by Playwright) against the real
engine: a viewer follows the links from the service's page, and the report htmx asks for arrives in the
page once the image has been read, without a reload."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from darse import api
from darse.dashboard.images import ImageReports
from darse.web.app import ServeSettings, create_app

from helpers.browser import browser_fixture, page_fixture, served  # noqa: F401  (fixtures)
from helpers.deploy import SECRET, Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.web import add_test_user


@pytest.fixture
def dashboard(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The stack deployed by the CLI, and its dashboard served on a free port with the viewer bob. Reading
    an image waits for the test's go (`release`): the page is seen computing, then filled in."""
    result = stack.darse("up", stack.name, "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    monkeypatch.setenv("DARSE_STATE_DIR", str(stack.state))
    users = tmp_path / "dashboard-users"
    password = add_test_user(users, "bob", "viewer")
    app = create_app(ServeSettings(start=stack.root, users_file=users, secret_key="images-test-" + "k" * 32))
    release = threading.Event()

    def inspect(image: str, **kw: Any) -> Any:
        release.wait(120)
        return api.inspect(image, **kw)

    app.state.image_reports = ImageReports(inspect)
    with served(app) as url:
        yield url, password, release
    release.set()
    app.state.image_reports.close()


def test_a_viewer_opens_the_report_of_a_service_image(page, dashboard, stack: Stack) -> None:
    url, password, release = dashboard
    shown: list[str] = []
    page.goto(f"{url}/services/{stack.name}")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/services/{stack.name}")

    page.get_by_role("link", name="Images and what is inside them").click()
    page.wait_for_url(re.compile(r"/images$"))
    shown.append(page.content())
    page.get_by_role("link", name=re.compile(r"^Inspect [0-9a-f]{12}$")).first.click()
    page.wait_for_url(re.compile(r"/images/sha256:[0-9a-f]{64}$"))
    assert "Computing the report" in page.locator("#image-report").inner_text()
    release.set()

    layers = page.locator("#image-report table.layers")
    layers.wait_for(timeout=180_000)  # filled in by htmx once the worker has read the image
    commands = layers.locator("code.command").all_inner_texts()
    assert any("busybox --install -s /bin" in command for command in commands), commands
    assert any(re.search(r"COPY .*/bin/busybox", command) for command in commands), commands
    assert "unknown (no /etc/os-release)" in page.locator("#image-report").inner_text()
    assert page.locator("[aria-busy=true]").count() == 0
    shown.append(page.content())
    assert all(SECRET not in html for html in shown)
