"""`darse serve` and `darse serve user add|role|remove|list`, run in-process."""

from __future__ import annotations

import json
import stat
import types
from pathlib import Path

import pytest

from darse.dashboard.users import User, list_users, verify

from helpers.cli import run_darse

PASSWORD = "a long enough passphrase"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty state folder (DARSE_STATE_DIR), so the default users file is a fresh one; tmp_path holds a
    service, as the checkout darse serve is started in does."""
    (tmp_path / "wiki").mkdir()
    (tmp_path / "wiki" / "compose.yaml").write_text("services:\n  wiki:\n    image: example/wiki:1.0\n")
    folder = tmp_path / "state"
    monkeypatch.setenv("DARSE_STATE_DIR", str(folder))
    return folder


def test_user_add_reads_the_password_from_stdin_into_the_default_file(tmp_path: Path, state: Path) -> None:
    result = run_darse(
        "serve", "user", "add", "alice", "--role", "operator", "--password-stdin", cwd=tmp_path, input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    path = state / "dashboard-users"
    assert f"added alice (operator) in {path}" in result.stdout
    assert PASSWORD not in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert verify(path, "alice", PASSWORD) == User("alice", "operator")


def test_user_add_then_list_role_and_remove_with_a_users_file(tmp_path: Path, state: Path) -> None:
    path = tmp_path / "custom-users"
    for name in ("alice", "bob"):
        result = run_darse("serve", "user", "add", name, "--users", str(path), cwd=tmp_path, input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
    listing = run_darse("serve", "user", "list", "--users", str(path), "--json", cwd=tmp_path)
    assert json.loads(listing.stdout) == [{"name": "alice", "role": "viewer"}, {"name": "bob", "role": "viewer"}]
    result = run_darse("serve", "user", "role", "bob", "operator", "--users", str(path), "--json", cwd=tmp_path)
    assert json.loads(result.stdout) == {"file": str(path), "name": "bob", "role": "operator", "action": "changed"}
    result = run_darse("serve", "--users", str(path), "user", "remove", "alice", cwd=tmp_path)  # the group's option
    assert result.exit_code == 0 and f"removed alice from {path}" in result.stdout
    text = run_darse("serve", "user", "list", "--users", str(path), cwd=tmp_path).stdout
    assert text.split() == ["bob", "operator"]
    assert not (state / "dashboard-users").exists()


def test_user_add_again_changes_the_password(tmp_path: Path) -> None:
    path = tmp_path / "users"
    run_darse("serve", "user", "add", "alice", "--users", str(path), cwd=tmp_path, input=PASSWORD + "\n")
    result = run_darse(
        "serve", "user", "add", "alice", "--users", str(path), "--json", cwd=tmp_path, input="another passphrase\n"
    )
    assert json.loads(result.stdout)["action"] == "changed"
    assert verify(path, "alice", "another passphrase") is not None and verify(path, "alice", PASSWORD) is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["bad:name"], PASSWORD, "not a valid user name"),
        (["alice", "--role", "admin"], PASSWORD, "unknown role 'admin'"),
        (["alice"], "short\n", "shorter than 12 characters"),
        (["alice"], "", "no password on stdin"),
    ],
)
def test_user_add_mistakes_are_one_line_errors(tmp_path: Path, args: list[str], stdin: str, message: str) -> None:
    path = tmp_path / "users"
    result = run_darse("serve", "user", "add", *args, "--users", str(path), cwd=tmp_path, input=stdin)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not path.exists()


def test_the_password_is_never_an_argument(tmp_path: Path) -> None:
    result = run_darse("serve", "user", "add", "alice", PASSWORD, "--users", str(tmp_path / "u"), cwd=tmp_path)
    assert result.exit_code == 2
    assert not (tmp_path / "u").exists()


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_the_prompt_asks_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from darse.cli import serve

    answers = iter([PASSWORD, PASSWORD, PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(serve, "sys", types.SimpleNamespace(stdin=_Terminal()))
    monkeypatch.setattr(serve.getpass, "getpass", lambda prompt: next(answers))
    path = tmp_path / "users"
    assert run_darse("serve", "user", "add", "alice", "--users", str(path), cwd=tmp_path).exit_code == 0
    assert verify(path, "alice", PASSWORD) is not None
    result = run_darse("serve", "user", "add", "bob", "--users", str(path), cwd=tmp_path)
    assert result.exit_code == 2 and "the two passwords differ" in result.stderr
    assert [user.name for user in list_users(path)] == ["alice"]


def test_remove_and_role_of_an_unknown_user_fail(tmp_path: Path) -> None:
    path = tmp_path / "users"
    for args in (["remove", "nobody"], ["role", "nobody", "viewer"]):
        result = run_darse("serve", "user", *args, "--users", str(path), cwd=tmp_path)
        assert result.exit_code == 2 and "no user nobody" in result.stderr


def test_list_without_users(tmp_path: Path, state: Path) -> None:
    result = run_darse("serve", "user", "list", cwd=tmp_path)
    assert result.exit_code == 0 and "no users in" in result.stdout


def test_serve_refuses_to_start_without_a_user(tmp_path: Path, state: Path, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started"))
    result = run_darse("serve", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no dashboard user in" in result.stderr and "darse serve user add NAME" in result.stderr


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, dict]]:
    import uvicorn

    calls: list[tuple[object, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


def test_serve_starts_uvicorn_on_loopback_with_a_kept_session_key(tmp_path: Path, state: Path, started) -> None:
    run_darse("serve", "user", "add", "alice", cwd=tmp_path, input=PASSWORD + "\n")
    result = run_darse("serve", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    (app, options) = started[0]
    assert options["host"] == "127.0.0.1" and options["port"] == 8700
    assert options["proxy_headers"] is False  # no X-Forwarded-* believed by default
    settings = app.state.settings
    key_file = state / "dashboard-session-key"
    assert settings.secret_key == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings.users_file == state / "dashboard-users" and settings.start == tmp_path
    assert "warning" not in result.stderr
    run_darse("serve", "--port", "9000", cwd=tmp_path)
    assert started[1][0].state.settings.secret_key == settings.secret_key  # sessions survive a restart
    assert started[1][1]["port"] == 9000


def test_serve_warns_on_a_public_address_without_secure_cookies(tmp_path: Path, state: Path, started) -> None:
    run_darse("serve", "user", "add", "alice", cwd=tmp_path, input=PASSWORD + "\n")
    result = run_darse("serve", "--host", "0.0.0.0", "--host-name", "dash.example.org", cwd=tmp_path)
    assert result.exit_code == 0 and "without --secure-cookies" in result.stderr
    result = run_darse(
        "serve",
        *("--host", "0.0.0.0", "--host-name", "dash.example.org", "--secure-cookies"),
        *("--trusted-proxy", "172.18.0.1/16, ::1"),
        cwd=tmp_path,
    )
    assert result.exit_code == 0 and "warning" not in result.stderr
    app, options = started[1]
    assert app.state.settings.secure_cookies and app.state.settings.trusted_proxy == "172.18.0.1/16, ::1"
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "172.18.0.0/16,::1/128"


def test_serve_answers_only_the_names_it_is_reached_by(tmp_path: Path, state: Path, started) -> None:
    """A page elsewhere rebinding its own name to this address sends its name as Host: refused."""
    run_darse("serve", "user", "add", "alice", cwd=tmp_path, input=PASSWORD + "\n")
    assert run_darse("serve", cwd=tmp_path).exit_code == 0
    assert set(started[0][0].state.settings.allowed_hosts) == {"127.0.0.1", "localhost", "::1"}
    result = run_darse("serve", "--host", "0.0.0.0", cwd=tmp_path)  # every address, but which names?
    assert result.exit_code == 2 and "--host-name" in result.stderr and len(started) == 1
    run_darse("serve", "--host", "127.0.0.2", "--host-name", "Dash.Example.org", cwd=tmp_path)
    assert {"127.0.0.2", "Dash.Example.org"} <= set(started[1][0].state.settings.allowed_hosts)
    run_darse("serve", "--host", "0.0.0.0", "--host-name", "*", cwd=tmp_path)
    assert started[2][0].state.settings.allowed_hosts == ()  # asked for: any name


def test_serve_says_in_one_line_when_it_cannot_listen_or_has_no_checkout(
    tmp_path: Path, state: Path, started
) -> None:
    import socket

    run_darse("serve", "user", "add", "alice", cwd=tmp_path, input=PASSWORD + "\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_darse("serve", "--port", str(port), cwd=tmp_path)
    assert busy.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr and "--port" in busy.stderr
    elsewhere = run_darse("serve", "--host", "192.0.2.1", "--host-name", "x.example.org", cwd=tmp_path)
    assert elsewhere.exit_code == 2 and "cannot listen on 192.0.2.1" in elsewhere.stderr  # not this machine's
    outside = tmp_path.parent / f"{tmp_path.name}-not-a-checkout"
    outside.mkdir()
    nowhere = run_darse("serve", "--users", str(state / "dashboard-users"), cwd=outside)
    assert nowhere.exit_code == 2 and "no service" in nowhere.stderr and "Traceback" not in nowhere.stderr
    assert started == []


def test_serve_refuses_a_trusted_proxy_that_is_no_address(tmp_path: Path, state: Path, started) -> None:
    run_darse("serve", "user", "add", "alice", cwd=tmp_path, input=PASSWORD + "\n")
    result = run_darse("serve", "--trusted-proxy", "traefik", cwd=tmp_path)
    assert result.exit_code == 2 and "not an address or network" in result.stderr
    assert started == []


def test_the_json_of_the_user_commands_is_held_to_golden_files(tmp_path: Path) -> None:
    from helpers.golden import check

    path = tmp_path / "users"
    options = ("--users", str(path), "--json")
    replacements = {str(tmp_path): "<TMP>"}
    add = run_darse("serve", "user", "add", "alice", "--role", "operator", *options, cwd=tmp_path, input=PASSWORD)
    check("serve-user-add", add.stdout, replacements)
    check("serve-user-role", run_darse("serve", "user", "role", "alice", "viewer", *options, cwd=tmp_path).stdout,
          replacements)  # fmt: skip
    check("serve-user-list", run_darse("serve", "user", "list", *options, cwd=tmp_path).stdout, replacements)
    check("serve-user-remove", run_darse("serve", "user", "remove", "alice", *options, cwd=tmp_path).stdout,
          replacements)  # fmt: skip
