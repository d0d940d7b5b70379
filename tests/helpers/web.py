"""The dashboard's sign-in, for tests: a real user in a users file and a client signed in through the
real form (RequireSignIn lets nothing else through)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from darse.dashboard.users import add_user
from darse.web.app import SESSION_COOKIE


def add_test_user(users_file: Path, name: str = "alice", role: str = "operator") -> str:
    """Add `name` with `role` (bcrypt cost 4: fast); returns the password."""
    password = f"{name}-test-passphrase"
    add_user(users_file, name, password, role, rounds=4)
    return password


def form_token(client: TestClient, path: str = "/sign-in") -> str:
    """The CSRF token of the sign-in form (a visitor's session gets one)."""
    page = client.get(path, follow_redirects=False)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str, next_path: str | None = None) -> Any:
    """POST the sign-in form as a browser would; the answer (303 on success)."""
    data = {"csrf": form_token(client), "name": name, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/sign-in", data=data, follow_redirects=False)


def session_of(client: TestClient) -> dict:
    """The client's session cookie, decoded (signed, not encrypted)."""
    raw = client.cookies.get(SESSION_COOKIE)
    assert raw, "no session cookie"
    return json.loads(base64.b64decode(raw.split(".")[0]))


def signed_in(client: TestClient, users_file: Path, name: str = "alice", role: str = "operator") -> str:
    """Add `name` to `users_file` and sign `client` in; returns the session's CSRF token."""
    answer = sign_in(client, name, add_test_user(users_file, name, role))
    assert answer.status_code == 303, answer.text
    return session_of(client)["csrf"]
