"""A real browser for the dashboard tests: Debian's chromium driven by Playwright (its own download is
not reachable here), and the application served by uvicorn in a thread on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` served over HTTP on 127.0.0.1 for the block; yields its base URL."""
    # as `darse serve` does: an event stream a page still holds open must not hold the shutdown
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive(), "the dashboard did not stop"


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Any]:
    """One chromium per test module (a new context per test keeps cookies apart). Not per session:
    Playwright's sync API keeps an event loop running in this thread while it lives, and later tests that
    call asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        print(f"chromium {chromium.version} driven by Playwright")  # which browser the run used
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(name="page")
def page_fixture(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(30_000)  # generous: the machine is shared; tests assert what, not how fast
    try:
        yield context.new_page()
    finally:
        context.close()
