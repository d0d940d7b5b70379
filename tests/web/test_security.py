"""What every answer of the dashboard carries, and what a request may weigh (from an attack review:
framing from a sibling subdomain, a huge anonymous upload, a flood unlocking a locked name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from darse.web.app import ServeSettings, create_app
from darse.web.auth import FailureLimiter
from darse.web.security import MAX_BODY

from helpers.lint import GOOD_SERVICE
from helpers.repo import git_init, write_tree
from helpers.web import signed_in


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    repository = write_tree(tmp_path / "services", {"wiki/compose.yaml": GOOD_SERVICE})
    git_init(repository)
    settings = ServeSettings(start=repository, users_file=tmp_path / "users", secret_key="s" * 40)
    return TestClient(create_app(settings), follow_redirects=False)


@pytest.mark.parametrize("path", ["/sign-in", "/", "/static/darse.css", "/services/nothing-here"])
def test_no_answer_may_be_framed_and_pages_are_not_cached(client: TestClient, tmp_path: Path, path: str) -> None:
    signed_in(client, tmp_path / "users")
    answer = client.get(path)
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert (answer.headers.get("cache-control") == "no-store") is (not path.startswith("/static/"))


def test_an_anonymous_huge_body_is_refused_before_it_is_read(client: TestClient) -> None:
    big = b"x" * (MAX_BODY + 1)
    answer = client.post("/sign-in", files={"upload": ("big.bin", big)})
    assert answer.status_code == 413
    form = {"content-type": "application/x-www-form-urlencoded"}
    chunked = client.post("/sign-in", content=iter([b"a=" + b"a" * 40_000, b"b" * 40_000]), headers=form)
    assert chunked.status_code == 413


def test_a_small_form_still_signs_in(client: TestClient, tmp_path: Path) -> None:
    signed_in(client, tmp_path / "users")  # the limits leave a real sign-in alone
    assert client.get("/").status_code == 200


def test_a_flood_of_other_names_does_not_unlock_a_locked_one() -> None:
    limiter = FailureLimiter(limit=5, window=600, max_keys=100)
    for _ in range(5):
        limiter.fail("name:alice", now=1.0)
    assert limiter.retry_after("name:alice", now=2.0) > 0
    for index in range(1000):
        limiter.fail(f"address:2001:db8::{index:x}", now=3.0)
    assert limiter.retry_after("name:alice", now=4.0) > 0


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8700", 303),
        ("localhost", 303),
        ("[::1]:8700", 303),
        ("DASH.example.org", 303),
        ("rebound.attacker.example:8700", 400),
        ("dash.example.org.attacker.example", 400),
        ("", 400),
    ],
)
def test_only_the_served_names_are_answered(tmp_path: Path, host: str, status: int) -> None:
    """DNS rebinding: a page on another site that points its own name at this address is refused before
    the sign-in form (or anything else) is reached; the names the dashboard serves pass."""
    repository = write_tree(tmp_path / "services", {"wiki/compose.yaml": GOOD_SERVICE})
    settings = ServeSettings(
        start=repository,
        users_file=tmp_path / "users",
        secret_key="s" * 40,
        allowed_hosts=("127.0.0.1", "localhost", "::1", "dash.example.org"),
    )
    client = TestClient(create_app(settings), follow_redirects=False)
    answer = client.get("/", headers={"host": host})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert "--host-name" in answer.text and "sign-in" not in answer.headers.get("location", "")
