"""The library calls behind `darse registry`: their results' JSON and the checks done before any network."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.errors import DarseError
from darse.images.registry import commands


def test_user_add_change_remove_and_list_through_a_file(tmp_path: Path) -> None:
    location = commands.locate_htpasswd(None, tmp_path / "auth" / "htpasswd")
    assert location.service_folder is None
    added = commands.add_user(location, "alice", "a-long-password", cost=4)
    assert added.to_dict() == {"user": "alice", "file": str(location.file), "changed": False, "added": True}
    changed = commands.add_user(location, "alice", "another-password", cost=4)
    assert changed.to_dict()["changed"] is True and "restarted" not in changed.to_dict()
    assert [u.to_dict() for u in commands.list_users(location)] == [{"user": "alice", "bcrypt": True}]
    removed = commands.remove_user(location, "alice")
    assert removed.to_dict() == {"user": "alice", "file": str(location.file), "removed": True}
    assert commands.list_users(location) == []
    with pytest.raises(DarseError, match="no user alice"):
        commands.remove_user(location, "alice")


def test_results_carry_the_restart_only_when_attempted(tmp_path: Path) -> None:
    restarted = commands.UserAdded("bob", tmp_path / "h", existed=True, restarted=False)
    assert restarted.to_dict() == {"user": "bob", "file": str(tmp_path / "h"), "changed": True, "added": False,
                                   "restarted": False}  # fmt: skip
    assert commands.UserRemoved("bob", tmp_path / "h", restarted=True).to_dict()["restarted"] is True
    gc = commands.GarbageCollected(tmp_path, dry_run=True, blobs=3)
    assert gc.to_dict() == {"folder": str(tmp_path), "dry_run": True, "blobs": 3}
    removal = commands.Removal("pad", "sha256:" + "a" * 64, ["1.0", "latest"])
    assert removal.names == "pad:1.0, pad:latest"
    assert removal.to_dict() == {"repository": "pad", "digest": "sha256:" + "a" * 64, "tags": ["1.0", "latest"]}


def test_rm_takes_repository_colon_tag() -> None:
    assert commands.split_tag_reference("team/pad:2.0.3") == ("team/pad", "2.0.3")
    for bad in ("pad", ":1.0", "registry:5000/pad"):
        with pytest.raises(DarseError, match="not REPOSITORY:TAG"):
            commands.split_tag_reference(bad)


def test_init_writes_the_service_folder_named_after_the_host(tmp_path: Path) -> None:
    written = commands.init_registry(tmp_path / "reg", host="registry.example.org", start=tmp_path)
    data = written.to_dict()
    assert data["host"] == "registry.example.org"
    assert str(tmp_path / "reg" / "compose.yaml") in data["files"]
    with pytest.raises(DarseError, match="not empty"):
        commands.init_registry(tmp_path / "reg", host="registry.example.org", start=tmp_path)
