"""The dashboard in a real browser (Debian's chromium driven by Playwright) against the real engine:
sign in, see the fleet, deploy a service and watch the outcome arrive live, and what a viewer may not do.
No planted secret value appears in any page the browser was shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from darse.web import actions
from darse.web.app import ServeSettings, create_app

from helpers.browser import browser_fixture, page_fixture, served  # noqa: F401  (fixtures)
from helpers.deploy import SECRET, Stack, stack_fixture  # noqa: F401  (the `stack` fixture)
from helpers.web import add_test_user


@pytest.fixture
def dashboard(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The dashboard of the stack's checkout, served on a free port; its users file with alice (operator)
    and bob (viewer). The app runs in this process: it finds the stack's state folder as the CLI does."""
    monkeypatch.setenv("DARSE_STATE_DIR", str(stack.state))
    monkeypatch.setattr(actions, "DEPLOY_TIMEOUT", 20.0)  # a broken healthcheck fails in 20 s, not 120
    users = tmp_path / "dashboard-users"
    passwords = {name: add_test_user(users, name, role) for name, role in (("alice", "operator"), ("bob", "viewer"))}
    app = create_app(ServeSettings(start=stack.root, users_file=users, secret_key="browser-test-" + "k" * 32))
    with served(app) as url:
        yield url, passwords


def sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(url + "/")
    assert "/sign-in" in page.url  # nobody sees the fleet without signing in
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")


def test_an_operator_deploys_and_sees_the_outcome_live(page, dashboard, stack: Stack) -> None:
    url, passwords = dashboard
    shown: list[str] = []
    sign_in(page, url, "alice", passwords["alice"])
    row = page.get_by_role("row").filter(has_text=stack.name)
    assert "not deployed" in row.inner_text()
    shown.append(page.content())

    page.get_by_role("link", name=stack.name).first.click()
    page.get_by_role("link", name="Deploy at HEAD…").click()
    shown.append(page.content())
    page.get_by_role("button", name=re.compile(r"^Deploy ")).click()
    page.wait_for_url(re.compile(r"/actions/"))
    outcome = page.locator("[data-outcome]")
    outcome.wait_for(timeout=180_000)  # the live stream delivers it, no reload
    assert outcome.get_attribute("data-outcome") == "ok", outcome.inner_text()
    assert "healthy" in outcome.inner_text()
    assert page.locator(".events li").count() >= 1  # progress arrived before the outcome
    shown.append(page.content())

    page.goto(url + "/")
    assert "in sync" in page.get_by_role("row").filter(has_text=stack.name).inner_text()
    shown.append(page.content())
    page.goto(f"{url}/services/{stack.name}")
    assert "alice (dashboard)" in page.locator("table.history").inner_text()  # who asked, in the history
    shown.append(page.content())
    assert all(SECRET not in html for html in shown)


def test_a_viewer_reads_but_cannot_act(page, dashboard, stack: Stack) -> None:
    url, passwords = dashboard
    sign_in(page, url, "bob", passwords["bob"])
    page.goto(f"{url}/services/{stack.name}")
    assert page.get_by_role("link", name="Deploy at HEAD…").count() == 0
    token = page.locator('input[name="csrf"]').first.get_attribute("value")  # the sign-out form's
    for action in ("deploy", "restart", "down", "rollback"):
        answer = page.request.post(f"{url}/services/{stack.name}/{action}", form={"csrf": token})
        assert answer.status == 403, (action, answer.status)
    assert stack.containers() == {}  # nothing was started


def test_a_wrong_password_is_refused_in_the_browser(page, dashboard) -> None:
    url, _passwords = dashboard
    page.goto(url + "/sign-in")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong user name or password." in page.content()
    page.goto(url + "/")
    assert "/sign-in" in page.url


def _outcome(page) -> tuple[str, str]:
    """The action's outcome, delivered by its live stream (no reload): (ok|failed, its text)."""
    outcome = page.locator("[data-outcome]")
    outcome.wait_for(timeout=180_000)
    return outcome.get_attribute("data-outcome") or "", outcome.inner_text()


def test_a_failed_deploy_is_shown_rolled_back(page, dashboard, stack: Stack) -> None:
    url, passwords = dashboard
    assert stack.darse("up", stack.name).returncode == 0
    good = stack.containers()["web"].labels["org.darse.commit"]
    stack.write(greeting="broken", health_port=9)  # the healthcheck probes a port nothing listens on
    broken = stack.commit("broken healthcheck")
    sign_in(page, url, "alice", passwords["alice"])
    page.goto(f"{url}/services/{stack.name}/deploy")
    assert "broken healthcheck" in page.content()  # the commits the deploy brings, before confirming
    page.get_by_role("button", name=re.compile(r"^Deploy ")).click()
    outcome, text = _outcome(page)
    assert outcome == "failed"
    assert f"up of {broken[:12]} failed" in text and f"rolled back to {good[:12]}" in text
    assert stack.containers()["web"].labels["org.darse.commit"] == good  # the engine agrees
    page.goto(f"{url}/services/{stack.name}")
    history = page.locator("table.history").inner_text()
    assert "auto-rollback" in history and "failed" in history
    assert SECRET not in page.content()


def test_an_operator_rolls_back_from_the_history(page, dashboard, stack: Stack) -> None:
    url, passwords = dashboard
    assert stack.darse("up", stack.name).returncode == 0
    first = stack.containers()["web"].labels["org.darse.commit"]
    stack.write(greeting="second")
    stack.commit("second greeting")
    assert stack.darse("up", stack.name).returncode == 0
    sign_in(page, url, "alice", passwords["alice"])
    page.goto(f"{url}/services/{stack.name}")
    history = page.locator("table.history")
    history.get_by_role("row").filter(has_text=first[:12]).get_by_role("link", name="Roll back to this").click()
    assert first[:12] in page.content() and SECRET not in page.content()
    page.get_by_role("button", name=re.compile(r"^Roll back ")).click()
    outcome, text = _outcome(page)
    assert outcome == "ok", text
    assert f"rolled back to {first[:12]}" in text
    assert stack.containers()["web"].labels["org.darse.commit"] == first
    assert SECRET not in page.content()


def test_an_action_without_the_session_token_is_refused(page, dashboard, stack: Stack) -> None:
    """Signed in as an operator, a POST without the CSRF token, or with another session's, does nothing."""
    url, passwords = dashboard
    sign_in(page, url, "alice", passwords["alice"])
    for form in ({}, {"csrf": "a-token-from-another-session"}):
        for action in ("deploy", "down"):
            answer = page.request.post(f"{url}/services/{stack.name}/{action}", form=form)
            assert answer.status == 403, (action, form, answer.status)
    assert stack.containers() == {}


def test_repeated_wrong_passwords_lock_the_name_even_for_the_right_one(page, dashboard) -> None:
    url, passwords = dashboard
    for _ in range(5):
        page.goto(url + "/sign-in")
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill("not-the-password-at-all")
        page.get_by_role("button", name="Sign in").click()
        assert "Wrong user name or password." in page.content()
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(passwords["alice"])
    page.get_by_role("button", name="Sign in").click()
    assert "Too many failed sign-ins" in page.content()
    page.goto(url + "/")
    assert "/sign-in" in page.url  # still signed out


def test_the_keyboard_alone_signs_in_and_reaches_a_service(page, dashboard, stack: Stack) -> None:
    """No mouse: the form's focus starts on the name, Tab and Enter do the rest, links are reachable."""
    url, passwords = dashboard
    page.goto(url + "/")
    page.keyboard.type("alice")  # autofocus: the name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(passwords["alice"])
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/")
    for _ in range(40):  # Tab through the page until the service's link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == stack.name:
            break
    else:
        pytest.fail("the service's link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/services/{stack.name}")
    assert page.get_by_role("heading", level=1).inner_text().strip().startswith(stack.name)  # the one h1
