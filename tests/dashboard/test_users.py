"""The dashboard's users file: one `name:role:bcrypt-hash` a line, 0600, never followed through a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import bcrypt
import pytest

from darse.dashboard import users
from darse.dashboard.users import User, UsersCache, add_user, list_users, remove_user, verify
from darse.errors import DarseError

PASSWORD = "correct horse battery"


def test_added_users_are_listed_with_their_roles_and_verified(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dashboard-users"
    assert add_user(path, "alice", PASSWORD, "operator", rounds=4).action == "added"
    add_user(path, "bob", "another long passphrase", rounds=4)
    assert list_users(path) == [User("alice", "operator"), User("bob", "viewer")]
    assert verify(path, "alice", PASSWORD) == User("alice", "operator")
    assert verify(path, "alice", PASSWORD + "x") is None
    assert verify(path, "bob", PASSWORD) is None
    assert verify(path, "nobody", PASSWORD) is None


def test_the_file_is_0600_and_holds_bcrypt_hashes_not_passwords(tmp_path: Path) -> None:
    path = tmp_path / "users"
    add_user(path, "alice", PASSWORD, "operator", rounds=4)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PASSWORD not in text
    name, role, digest = text.strip().split(":", 2)
    assert (name, role) == ("alice", "operator")
    assert bcrypt.checkpw(PASSWORD.encode(), digest.encode())


def test_adding_again_changes_password_and_role_in_place_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# the admins\n")
    add_user(path, "alice", PASSWORD, "viewer", rounds=4)
    add_user(path, "bob", PASSWORD, "viewer", rounds=4)
    change = add_user(path, "alice", "a brand new passphrase", "operator", rounds=4)
    assert change.action == "changed"
    assert change.to_dict() == {"file": str(path), "name": "alice", "role": "operator", "action": "changed"}
    lines = path.read_text().splitlines()
    assert lines[0] == "# the admins" and [line.split(":")[0] for line in lines] == ["# the admins", "alice", "bob"]
    assert verify(path, "alice", PASSWORD) is None
    assert verify(path, "alice", "a brand new passphrase") == User("alice", "operator")


def test_remove_user(tmp_path: Path) -> None:
    path = tmp_path / "users"
    add_user(path, "alice", PASSWORD, "operator", rounds=4)
    add_user(path, "bob", PASSWORD, rounds=4)
    assert remove_user(path, "alice").to_dict()["action"] == "removed"
    assert list_users(path) == [User("bob", "viewer")]
    assert verify(path, "alice", PASSWORD) is None
    with pytest.raises(DarseError, match="no user alice") as caught:
        remove_user(path, "alice")
    assert "darse serve user list" in caught.value.hint


@pytest.mark.parametrize("name", ["", "-x", "a:b", "a b", "ali\nce", "é", "x" * 65, "../etc"])
def test_bad_names_are_one_line_errors_with_a_hint(tmp_path: Path, name: str) -> None:
    with pytest.raises(DarseError) as caught:
        add_user(tmp_path / "users", name, PASSWORD, rounds=4)
    assert "\n" not in caught.value.one_line() and caught.value.hint
    assert not (tmp_path / "users").exists()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "shorter than 12"),
        ("elevenchars", "shorter than 12"),
        ("x" * 73, "72 bytes"),
        ("twelve chars\nx", "line"),
    ],
)
def test_weak_or_unusable_passwords_are_refused(tmp_path: Path, password: str, message: str) -> None:
    with pytest.raises(DarseError, match=message):
        add_user(tmp_path / "users", "alice", password, rounds=4)
    assert not (tmp_path / "users").exists()


def test_an_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DarseError, match="unknown role 'admin'"):
        add_user(tmp_path / "users", "alice", PASSWORD, "admin", rounds=4)


def test_roles_are_ordered() -> None:
    assert User("a", "operator").can("viewer") and User("a", "operator").can("operator")
    assert User("a", "viewer").can("viewer") and not User("a", "viewer").can("operator")
    with pytest.raises(ValueError):
        User("a", "viewer").can("root")


def test_a_symlinked_users_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    add_user(real, "alice", PASSWORD, rounds=4)
    link = tmp_path / "users"
    link.symlink_to(real)
    with pytest.raises(DarseError, match="symbolic link"):
        list_users(link)
    with pytest.raises(DarseError, match="symbolic link"):
        add_user(link, "bob", PASSWORD, rounds=4)
    assert link.is_symlink()


def test_an_oversized_or_special_users_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_text("#" * (users.MAX_FILE_BYTES + 10))
    with pytest.raises(DarseError, match="larger than"):
        list_users(big)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DarseError, match="not a regular file"):
        list_users(fifo)


def test_lines_darse_does_not_understand_are_no_users_and_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("mallory:root:$2b$04$abc\nplain:viewer:secret\n")
    add_user(path, "alice", PASSWORD, rounds=4)
    assert list_users(path) == [User("alice", "viewer")]
    assert verify(path, "plain", "secret") is None
    assert path.read_text().startswith("mallory:root:$2b$04$abc\nplain:viewer:secret\n")


def test_a_missing_file_has_no_users(tmp_path: Path) -> None:
    assert list_users(tmp_path / "none") == []
    assert verify(tmp_path / "none", "alice", PASSWORD) is None


def test_an_unknown_name_costs_a_bcrypt_check_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant work: no early return that would tell by its speed which names exist."""
    path = tmp_path / "users"
    add_user(path, "alice", PASSWORD, rounds=4)
    checked = []
    real = bcrypt.checkpw
    monkeypatch.setattr(users.bcrypt, "checkpw", lambda pw, digest: checked.append(digest[:7]) or real(pw, digest))
    assert verify(path, "nobody", PASSWORD) is None
    assert verify(path, "alice", "wrong password!") is None
    assert checked == [b"$2b$04$", b"$2b$04$"]  # the dummy hash has the file's cost


def test_the_cache_sees_every_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "users"
    cache = UsersCache(path)
    assert cache.get("alice") is None
    add_user(path, "alice", PASSWORD, "viewer", rounds=4)
    first = cache.get("alice")
    assert first is not None and first.user.role == "viewer"
    assert cache.accounts() is cache.accounts()  # unchanged file: not parsed again
    add_user(path, "alice", PASSWORD, "operator", rounds=4)
    second = cache.get("alice")
    assert second is not None and second.user.role == "operator" and second.fingerprint != first.fingerprint
    remove_user(path, "alice")
    assert cache.get("alice") is None
    path.unlink()
    assert cache.accounts() == {}


def test_the_default_file_is_in_the_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    assert users.default_users_file(tmp_path) == tmp_path / "state" / "dashboard-users"


def test_the_default_file_follows_state_dir_of_darse_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DARSE_STATE_DIR", raising=False)
    (tmp_path / "darse.toml").write_text('state_dir = ".state"\n')
    (tmp_path / "svc").mkdir()
    assert users.default_users_file(tmp_path / "svc") == tmp_path / ".state" / "dashboard-users"


def test_the_session_key_is_made_once_0600_and_kept(tmp_path: Path) -> None:
    users_file = tmp_path / "state" / "dashboard-users"
    key = users.session_key(users_file)
    path = tmp_path / "state" / users.SESSION_KEY_NAME
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert users.session_key(users_file) == key
    assert [p.name for p in path.parent.iterdir()] == [users.SESSION_KEY_NAME]  # no temporary file left


def test_a_symlinked_session_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("k" * 64)
    (tmp_path / users.SESSION_KEY_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DarseError, match="symbolic link"):
        users.session_key(tmp_path / "dashboard-users")


def test_set_role_keeps_the_password(tmp_path: Path) -> None:
    path = tmp_path / "users"
    add_user(path, "alice", PASSWORD, "viewer", rounds=4)
    before = UsersCache(path).get("alice")
    assert users.set_role(path, "alice", "operator").user == User("alice", "operator")
    after = UsersCache(path).get("alice")
    assert after is not None and before is not None and after.fingerprint == before.fingerprint
    assert verify(path, "alice", PASSWORD) == User("alice", "operator")
    with pytest.raises(DarseError, match="no user bob"):
        users.set_role(path, "bob", "operator")
    with pytest.raises(DarseError, match="unknown role"):
        users.set_role(path, "alice", "root")
