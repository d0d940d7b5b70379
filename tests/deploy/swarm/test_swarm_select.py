"""Which services go to a Swarm (for `darse up` and `darse stack`), and what `wiki/web` names: model only."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.deploy.context import DeployContext
from darse.deploy.swarm.commands import deploy_services
from darse.deploy.swarm.select import split_by_target, split_member, swarm_services
from darse.errors import DarseError
from darse.model.repository import open_repository

from helpers.repo import git_init, write_tree

COMPOSE = "services:\n  web:\n    image: busybox:1.36\n"


def _repo(root: Path, swarm_folders: list[str], compose_folders: list[str]) -> Path:
    toml = '[targets.cluster]\nkind = "swarm"\n' + "".join(
        f'[services."{name}"]\ntarget = "cluster"\n' for name in swarm_folders
    )
    files = {"darse.toml": toml}
    for name in swarm_folders + compose_folders:
        files[f"{name}/compose.yaml"] = COMPOSE
    write_tree(root, files)
    git_init(root)
    return root


def test_a_mixed_selection_splits_by_target_keeping_the_order(tmp_path: Path) -> None:
    ctx = DeployContext.open(_repo(tmp_path, ["s1", "s2"], ["c1", "c2"]))
    chosen = [ctx.service(n) for n in ("s2", "c1", "s1", "c2")]
    on_compose, on_swarm = split_by_target(ctx, chosen)
    assert [s.name for s in on_compose] == ["c1", "c2"]
    assert [s.name for s in on_swarm] == ["s2", "s1"]


def test_swarm_services_default_to_every_swarm_target(tmp_path: Path) -> None:
    repository = open_repository(_repo(tmp_path, ["s1", "s2"], ["c1"]))
    assert [s.name for s in swarm_services(repository, None)] == ["s1", "s2"]
    assert [s.name for s in swarm_services(repository, [], all_=True)] == ["s1", "s2"]
    assert [s.name for s in swarm_services(repository, ["c1"])] == ["c1"]  # named: checked when deployed


def test_no_swarm_target_at_all_is_one_line(tmp_path: Path) -> None:
    repository = open_repository(_repo(tmp_path, [], ["c1"]))
    with pytest.raises(DarseError, match="no service of this repository targets a Swarm"):
        swarm_services(repository, None)


def test_a_slash_names_a_stack_member_unless_it_is_a_folder(tmp_path: Path) -> None:
    repository = open_repository(_repo(tmp_path, ["wiki", "apps/pad"], []))
    assert [(s.name, m) for s, m in [split_member(repository, "wiki")]] == [("wiki", None)]
    folder, member = split_member(repository, "wiki/web")
    assert (folder.name, member) == ("wiki", "web")
    folder, member = split_member(repository, "apps/pad")
    assert (folder.name, member) == ("apps/pad", None)
    folder, member = split_member(repository, "apps/pad/db")
    assert (folder.name, member) == ("apps/pad", "db")
    with pytest.raises(DarseError):
        split_member(repository, "nosuch/web")


def test_every_swarm_target_is_checked_before_anything_happens(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    ctx = DeployContext.open(_repo(tmp_path / "repo", ["s1"], ["c1"]))
    with pytest.raises(DarseError, match="c1 targets local, which is not a Swarm"):
        deploy_services(ctx, [ctx.service("s1"), ctx.service("c1")])
    assert not (tmp_path / "state" / "history.sqlite3").exists()  # s1 was not deployed, nothing recorded
