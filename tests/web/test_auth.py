"""Sign-in, sessions, roles, CSRF and rate limiting of the dashboard, through its real application."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from darse.dashboard.users import add_user, remove_user, set_role
from darse.web import auth
from darse.web.app import SESSION_COOKIE, ServeSettings, create_app

from helpers.lint import GOOD_SERVICE
from helpers.repo import git_init, write_tree
from helpers.web import form_token, session_of, sign_in

ALICE = "alice-passphrase-1"  # operator
BOB = "bob-passphrase-22"  # viewer


async def act(request: Request) -> PlainTextResponse:
    """A stand-in action: what every POST route of the dashboard does first."""
    user = auth.require(request, "operator")
    await auth.check_csrf(request)
    return PlainTextResponse(f"done by {user.name}")


async def page(request: Request):
    """Any page extending base.html (the form's template serves)."""
    return request.app.state.templates.TemplateResponse(request, "sign_in.html", {"name": "", "error": "", "next": ""})


async def look(request: Request) -> PlainTextResponse:
    user = auth.require(request, "viewer")
    return PlainTextResponse(f"hello {user.name} ({user.role})")


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "dashboard-users"
    add_user(path, "alice", ALICE, "operator", rounds=4)
    add_user(path, "bob", BOB, "viewer", rounds=4)
    return path


@pytest.fixture
def make_app(tmp_path: Path, users_file: Path) -> Callable[..., object]:
    repository = write_tree(tmp_path / "services", {"wiki/compose.yaml": GOOD_SERVICE})
    git_init(repository)

    def make(**options: object):
        settings = ServeSettings(start=repository, users_file=users_file, secret_key="test-key-" + "x" * 32, **options)
        app = create_app(settings)
        app.router.routes.append(Route("/test/act", act, methods=["POST"]))
        app.router.routes.append(Route("/test/look", look))
        app.router.routes.append(Route("/test/page", page))
        return app

    return make


@pytest.fixture
def app(make_app):
    return make_app()


def client_for(app, address: str = "127.0.0.1", base_url: str = "http://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, client=(address, 50000), follow_redirects=False)


# --- visitors without a session ---------------------------------------------------------------------------


def test_a_visitor_loading_a_page_is_sent_to_the_sign_in_form_and_back(app) -> None:
    client = client_for(app)
    assert client.get("/").headers["location"] == "/sign-in"
    answer = client.get("/services/wiki?tab=logs")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/services/wiki%3Ftab%3Dlogs"
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/services/wiki?tab=logs"' in page.text
    assert sign_in(client, "alice", ALICE, "/services/wiki?tab=logs").headers["location"] == "/services/wiki?tab=logs"


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"HX-Request": "true", "HX-Current-URL": "http://testserver/services/wiki"}),
        ("GET", {"Accept": "text/event-stream"}),
        ("POST", {}),
        ("DELETE", {}),
    ],
)
def test_htmx_streams_and_other_methods_get_401(app, method: str, headers: dict) -> None:
    answer = client_for(app).request(method, "/services/wiki", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"].startswith("/sign-in")
    if "HX-Current-URL" in headers:
        assert answer.headers["hx-redirect"] == "/sign-in?next=/services/wiki"


def test_static_files_and_the_form_need_no_session(app) -> None:
    client = client_for(app)
    assert client.get("/static/darse.css").status_code == 200
    assert client.get("/sign-in").status_code == 200


# --- signing in -------------------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_the_user_is_known(app) -> None:
    client = client_for(app)
    answer = sign_in(client, "alice", ALICE)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert client.get("/test/look").text == "hello alice (operator)"
    assert client.get("/").status_code == 200
    assert client.get("/sign-in").headers["location"] == "/"  # signed in already


@pytest.mark.parametrize(("name", "password"), [("alice", BOB), ("alice", ""), ("nobody", ALICE), ("", "")])
def test_a_wrong_password_or_name_is_refused_alike(app, name: str, password: str) -> None:
    client = client_for(app)
    answer = sign_in(client, name, password)
    assert answer.status_code == 401
    assert "Wrong user name or password." in answer.text
    assert client.get("/test/look").status_code == 303
    assert "user" not in session_of(client)


def test_a_sign_in_without_or_with_a_wrong_csrf_token_is_refused(app) -> None:
    client = client_for(app)
    form_token(client)
    for data in ({"name": "alice", "password": ALICE}, {"csrf": "forged", "name": "alice", "password": ALICE}):
        answer = client.post("/sign-in", data=data)
        assert answer.status_code == 403
        assert "user" not in session_of(client)
    fresh = client_for(app)  # no session at all: no token to match
    assert fresh.post("/sign-in", data={"csrf": "x", "name": "alice", "password": ALICE}).status_code == 403


def test_signing_in_renews_the_session(app) -> None:
    """No fixation: the token a visitor (or someone who planted the cookie) had is worthless after."""
    client = client_for(app)
    before = form_token(client)
    planted = client.cookies.get(SESSION_COOKIE)
    sign_in(client, "alice", ALICE)
    after = session_of(client)
    assert after["csrf"] != before and after["user"] == "alice"
    other = client_for(app)
    other.cookies.set(SESSION_COOKIE, planted)
    assert other.get("/").status_code == 303  # the pre-sign-in cookie did not become a session


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://evil.example", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/services/wiki\r\nSet-Cookie: x=1", "/"),
        ("/services/wiki", "/services/wiki"),
    ],
)
def test_next_only_goes_to_a_local_path(app, target: str, expected: str) -> None:
    client = client_for(app)
    assert sign_in(client, "alice", ALICE, target).headers["location"] == expected


def test_the_session_cookie_is_httponly_samesite_strict(app) -> None:
    client = client_for(app)
    cookie = sign_in(client, "alice", ALICE).headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert "max-age=43200" in cookie  # 12 idle hours


def test_secure_cookies_add_the_secure_flag(make_app) -> None:
    client = client_for(make_app(secure_cookies=True), base_url="https://testserver")
    cookie = sign_in(client, "alice", ALICE).headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/test/look").text == "hello alice (operator)"


# --- roles and CSRF on actions ------------------------------------------------------------------------------


def test_a_viewer_gets_403_from_an_operator_action(app) -> None:
    client = client_for(app)
    sign_in(client, "bob", BOB)
    token = session_of(client)["csrf"]
    answer = client.post("/test/act", headers={"X-CSRF-Token": token})
    assert answer.status_code == 403 and "operator" in answer.text
    assert client.get("/test/look").text == "hello bob (viewer)"


def test_an_action_without_or_with_a_wrong_csrf_token_is_refused(app) -> None:
    client = client_for(app)
    sign_in(client, "alice", ALICE)
    token = session_of(client)["csrf"]
    assert client.post("/test/act").status_code == 403
    assert client.post("/test/act", headers={"X-CSRF-Token": "x" + token}).status_code == 403
    assert client.post("/test/act", data={"csrf": token[:-1]}).status_code == 403
    assert client.post("/test/act", headers={"X-CSRF-Token": token}).text == "done by alice"
    assert client.post("/test/act", data={"csrf": token}).text == "done by alice"


def test_sign_out_needs_the_token_and_ends_the_session(app) -> None:
    client = client_for(app)
    sign_in(client, "alice", ALICE)
    assert client.post("/sign-out").status_code == 403
    assert client.get("/test/look").status_code == 200
    token = session_of(client)["csrf"]
    answer = client.post("/sign-out", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    assert client.get("/test/look").status_code == 303


def test_a_copy_of_the_cookie_is_refused_after_sign_out_even_after_a_restart(make_app, users_file: Path) -> None:
    """The cookie is signed, not stored: without the recorded sign-out, a copy taken before (a shared
    computer, a proxy log) would stay valid until its idle expiry."""
    client = client_for(make_app())
    sign_in(client, "alice", ALICE)
    stolen = client.cookies.get(SESSION_COOKIE)
    other = client_for(make_app())  # another session of alice, elsewhere: not signed out by this one
    sign_in(other, "alice", ALICE)
    client.post("/sign-out", data={"csrf": session_of(client)["csrf"]})
    for app in (client.app, make_app()):  # this process, and a restarted one with the same key
        thief = client_for(app)
        thief.cookies.set(SESSION_COOKIE, stolen)
        assert thief.get("/test/look").status_code == 303
        assert thief.post("/test/act", headers={"X-CSRF-Token": "x"}).status_code == 401
    assert other.get("/test/look").text == "hello alice (operator)"
    record = (users_file.parent / "dashboard-signed-out").stat()
    assert record.st_mode & 0o777 == 0o600


def test_a_session_without_an_id_is_not_accepted(make_app, users_file: Path) -> None:
    """A cookie signed with the right key but made before sessions had ids (or forged from a leaked key
    without one) cannot be signed out, so it is refused."""
    client = client_for(make_app())
    sign_in(client, "alice", ALICE)
    session = session_of(client)

    def signed(content: dict) -> str:
        return TimestampSigner("test-key-" + "x" * 32).sign(base64.b64encode(json.dumps(content).encode())).decode()

    client.cookies.set(SESSION_COOKIE, signed(session))
    assert client.get("/test/look").status_code == 200  # the same content, signed again, is accepted
    client.cookies.set(SESSION_COOKIE, signed({k: v for k, v in session.items() if k != "sid"}))
    assert client.get("/test/look").status_code == 303


def test_the_form_is_labelled_and_offers_no_sign_out_to_a_visitor(app) -> None:
    form = client_for(app).get("/sign-in").text
    assert '<label for="sign-in-name">' in form and '<label for="sign-in-password">' in form
    assert 'autocomplete="current-password"' in form and "Sign out" not in form


def test_a_signed_in_page_offers_sign_out_with_the_session_token(app) -> None:
    client = client_for(app)
    sign_in(client, "bob", BOB)
    page = client.get("/test/page").text
    token = session_of(client)["csrf"]
    assert "bob (viewer)" in page and "Sign out" in page
    assert f'name="csrf" value="{token}"' in page and f'"X-CSRF-Token": "{token}"' in page


# --- the users file decides, on every request ---------------------------------------------------------------


def test_a_removed_user_is_signed_out_at_once(app, users_file: Path) -> None:
    client = client_for(app)
    sign_in(client, "bob", BOB)
    assert client.get("/test/look").status_code == 200
    remove_user(users_file, "bob")
    answer = client.get("/test/look")
    assert answer.status_code == 303
    assert f"{SESSION_COOKIE}=null" in answer.headers["set-cookie"]  # the cookie is deleted
    assert client.post("/test/act", headers={"X-CSRF-Token": "anything"}).status_code == 401


def test_a_role_change_applies_at_once(app, users_file: Path) -> None:
    client = client_for(app)
    sign_in(client, "bob", BOB)
    token = session_of(client)["csrf"]
    assert client.post("/test/act", headers={"X-CSRF-Token": token}).status_code == 403
    set_role(users_file, "bob", "operator")
    assert client.post("/test/act", headers={"X-CSRF-Token": token}).text == "done by bob"
    set_role(users_file, "bob", "viewer")
    assert client.post("/test/act", headers={"X-CSRF-Token": token}).status_code == 403


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(app, users_file: Path) -> None:
    client = client_for(app)
    sign_in(client, "bob", BOB)
    add_user(users_file, "bob", "a brand new passphrase", "viewer", rounds=4)
    assert client.get("/test/look").status_code == 303


def test_an_unreadable_users_file_signs_everyone_out(app, users_file: Path, tmp_path: Path) -> None:
    client = client_for(app)
    sign_in(client, "bob", BOB)
    users_file.rename(tmp_path / "moved")
    users_file.symlink_to(tmp_path / "moved")
    assert client.get("/test/look").status_code == 303
    assert sign_in(client_for(app), "bob", BOB).status_code == 401


# --- rate limiting ---------------------------------------------------------------------------------------


def test_repeated_failures_are_rate_limited_even_for_the_right_password(app) -> None:
    client = client_for(app)
    for _ in range(auth.FAILURES_ALLOWED):
        assert sign_in(client, "alice", "wrong password here").status_code == 401
    answer = sign_in(client, "alice", ALICE)
    assert answer.status_code == 429
    assert 0 < int(answer.headers["retry-after"]) <= auth.FAILURE_WINDOW
    assert "Too many failed sign-ins" in answer.text
    assert "user" not in session_of(client)


def test_failures_count_per_name_across_addresses(app) -> None:
    for index in range(auth.FAILURES_ALLOWED):
        assert sign_in(client_for(app, f"127.0.0.{10 + index}"), "alice", "wrong password here").status_code == 401
    assert sign_in(client_for(app, "127.0.0.99"), "alice", ALICE).status_code == 429
    assert sign_in(client_for(app, "127.0.0.99"), "bob", BOB).status_code == 303  # another name: not limited


def test_failures_count_per_address_across_names(app) -> None:
    client = client_for(app, "127.0.0.20")
    for index in range(auth.FAILURES_ALLOWED):
        assert sign_in(client, f"guess{index}", "wrong password here").status_code == 401
    assert sign_in(client, "bob", BOB).status_code == 429
    assert sign_in(client_for(app, "127.0.0.21"), "bob", BOB).status_code == 303


def test_a_success_does_not_count_as_a_failure(app) -> None:
    client = client_for(app)
    for _ in range(auth.FAILURES_ALLOWED * 2):
        assert sign_in(client_for(app), "alice", ALICE).status_code == 303
    assert sign_in(client, "alice", ALICE).status_code == 303


def test_forwarded_for_is_believed_only_from_the_trusted_proxy(make_app) -> None:
    app = make_app(trusted_proxy="127.0.0.9")
    spoofer = client_for(app, "127.0.0.3")
    for index in range(auth.FAILURES_ALLOWED):  # a direct client changing its header each time
        headers = {"X-Forwarded-For": f"192.0.2.{index}"}
        data = {"csrf": form_token(spoofer), "name": f"n{index}", "password": "wrong password here"}
        assert spoofer.post("/sign-in", data=data, headers=headers).status_code == 401
    data = {"csrf": form_token(spoofer), "name": "bob", "password": BOB}
    assert spoofer.post("/sign-in", data=data, headers={"X-Forwarded-For": "192.0.2.200"}).status_code == 429
    proxy = client_for(app, "127.0.0.9")  # through the proxy, one client is limited, not the proxy
    for index in range(auth.FAILURES_ALLOWED):
        data = {"csrf": form_token(proxy), "name": f"m{index}", "password": "wrong password here"}
        proxy.post("/sign-in", data=data, headers={"X-Forwarded-For": "203.0.113.7, 192.0.2.50"})
    data = {"csrf": form_token(proxy), "name": "bob", "password": BOB}
    assert proxy.post("/sign-in", data=data, headers={"X-Forwarded-For": "192.0.2.50"}).status_code == 429
    assert proxy.post("/sign-in", data=data, headers={"X-Forwarded-For": "192.0.2.51"}).status_code == 303


def test_an_untrusted_proxy_is_named_in_the_log_once(app, caplog: pytest.LogCaptureFixture) -> None:
    """Behind a proxy that is not trusted, every visitor is one address for the limits: the admin is told."""
    client = client_for(app, address="172.18.0.9")
    with caplog.at_level(logging.WARNING, logger="darse.web.auth"):
        for _ in range(2):
            client.post(
                "/sign-in",
                data={"csrf": form_token(client), "name": "alice", "password": "wrong"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        sign_in(client_for(app, address="172.18.0.10"), "bob", "wrong")  # no header: no proxy, no warning
    warnings = [r.getMessage() for r in caplog.records if "not trusted" in r.getMessage()]
    assert len(warnings) == 1 and "--trusted-proxy 172.18.0.9" in warnings[0]


def test_client_address_rules() -> None:
    proxies = auth.trusted_networks("127.0.0.9, 10.99.0.0/16")

    def scope(peer: str, *forwarded: str) -> dict:
        headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
        return {"type": "http", "client": (peer, 1), "headers": headers}

    assert auth.client_address(scope("127.0.0.3", "192.0.2.1"), proxies) == "127.0.0.3"
    assert auth.client_address(scope("127.0.0.9", "192.0.2.1"), proxies) == "192.0.2.1"
    assert auth.client_address(scope("127.0.0.9", "198.51.100.1, 192.0.2.1, 10.99.3.4"), proxies) == "192.0.2.1"
    assert auth.client_address(scope("127.0.0.9", "192.0.2.1", "192.0.2.2"), proxies) == "192.0.2.2"
    assert auth.client_address(scope("127.0.0.9", "not-an-ip"), proxies) == "127.0.0.9"
    assert auth.client_address(scope("127.0.0.9"), proxies) == "127.0.0.9"
    assert auth.client_address(scope("127.0.0.9", "192.0.2.1"), []) == "127.0.0.9"


def test_a_bad_trusted_proxy_is_a_one_line_error() -> None:
    from darse.errors import DarseError

    with pytest.raises(DarseError, match="not an address or network"):
        auth.trusted_networks("proxy.example")


def test_the_limiter_window_slides() -> None:
    limiter = auth.FailureLimiter(limit=2, window=10.0, max_keys=3)
    limiter.fail("a", now=0.0)
    stamp = limiter.fail("a", now=1.0)
    assert limiter.retry_after("a", now=2.0) == pytest.approx(8.0)
    assert limiter.retry_after("a", now=10.5) == 0.0
    limiter.forgive("a", stamp)
    assert limiter.retry_after("a", now=2.0) == 0.0
    for key in "bcde":
        limiter.fail(key, now=3.0)
    assert len(limiter._failures) == 3  # bounded: the oldest keys go


# --- no password anywhere --------------------------------------------------------------------------------------


def test_the_password_never_appears_in_a_page_a_header_a_cookie_or_a_log(app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(app)
    seen: list[str] = []
    for password in (ALICE + "-wrong", ALICE):
        answer = sign_in(client, "alice", password)
        seen += [answer.text, str(answer.headers), json.dumps(session_of(client))]
    for _ in range(auth.FAILURES_ALLOWED):
        answer = sign_in(client_for(app), "alice", BOB)
        seen += [answer.text, str(answer.headers)]
    seen += [client.get("/").text, client.get("/test/look").text]
    for password in (ALICE, BOB):
        assert all(password not in text for text in seen)
        assert password not in caplog.text
    assert "sign-in failed for 'alice'" in caplog.text and "alice signed in" in caplog.text
    # a password typed into the name field is not a user's name: it never reaches the log
    sign_in(client_for(app, address="10.9.9.9"), "Tr0ub4dor&3-typed-in-the-name-field", "x")
    assert "Tr0ub4dor" not in caplog.text and "sign-in failed for an unknown name from 10.9.9.9" in caplog.text
