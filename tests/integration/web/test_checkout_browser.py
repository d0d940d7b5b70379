"""The checkout in a real browser (Debian's chromium driven by Playwright): an operator follows the
header's link, reviews the commits to come and pulls them, the outcome arriving live; at a phone's
width the page needs no sideways scrolling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from darse.web.app import ServeSettings, create_app

from helpers.browser import browser_fixture, page_fixture, served  # noqa: F401  (fixtures)
from helpers.clones import COMPOSE, git, make_clones
from helpers.web import add_test_user


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    clones = make_clones(tmp_path)
    clones.push({"wiki/compose.yaml": COMPOSE + "    restart: always\n"}, "wiki: restart always")
    clones.push({"forum/compose.yaml": COMPOSE}, "forum: a new service with a rather long subject line to wrap")
    git(clones.host, "fetch", "-q")
    users = tmp_path / "users"
    password = add_test_user(users, "alice", "operator")
    app = create_app(ServeSettings(start=clones.host, users_file=users, secret_key="checkout-test-" + "k" * 32))
    with served(app) as url:
        yield url, password, clones


def test_an_operator_reviews_and_pulls_from_the_browser(page, dashboard) -> None:
    url, password, clones = dashboard
    target = git(clones.host, "rev-parse", "origin/main").strip()
    page.goto(url + "/checkout")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/checkout")

    assert page.get_by_role("link", name="Checkout").count() == 1
    assert page.get_by_role("row").filter(has_text="wiki: restart always").count() == 1
    page.get_by_role("link", name="Review and pull").click()
    page.get_by_role("button", name="Pull 2 commits into main").click()
    page.wait_for_url(re.compile(r"/checkout/actions/"))
    outcome = page.locator("[data-outcome]")
    outcome.wait_for()
    assert outcome.get_attribute("data-outcome") == "ok", outcome.inner_text()
    assert "fast-forwarded to origin/main" in outcome.inner_text()
    assert clones.head() == target

    page.get_by_role("link", name="Back to the checkout").click()
    assert "up to date with origin/main" in page.inner_text("main")
    assert "by alice (dashboard)" in page.inner_text("main")


def test_the_checkout_fits_a_phone(page, dashboard) -> None:
    url, password, _clones = dashboard
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(url + "/checkout")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/checkout")
    for path in ("/checkout", "/checkout/pull"):
        page.goto(url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
